//! `berth-runc`: a runc-compatible command line over `berth-runtime`.
//!
//! Parses arguments, calls the library, prints. Errors go to stderr in runc's logrus text
//! form (and to `--log` as JSON when asked), with exit status 1; `run` and `exec` exit with
//! the container process's own status.

mod args;
mod cli;
mod output;

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let cli = match cli::parse_cli(&argv) {
        Ok(cli::Parsed::Run(cli)) => cli,
        Ok(cli::Parsed::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            output::Log::new(None, String::new()).error(&e);
            return ExitCode::from(1);
        }
    };
    let log = output::Log::new(cli.log.clone(), cli.log_format.clone());
    if cli.enters_container() {
        // CVE-2019-5736: processes in the container must never reach a writable handle to
        // this binary; run from a read-only view of it before forking into one.
        if let Err(e) = berth_sys::exe::reexec_protected() {
            log.error(&format!("protecting our own binary: {e}"));
            return ExitCode::from(1);
        }
    }
    let verb = cli.verb;
    match cli::dispatch(cli) {
        Ok(code) => ExitCode::from(code as u8),
        // runc's conventions: exec failures exit 255, create/run failures name the verb.
        Err(e) if verb == "exec" => {
            log.error(&format!("exec failed: {}", render(&e)));
            ExitCode::from(255)
        }
        Err(e) if matches!(verb, "create" | "run") => {
            log.error(&format!("berth-runc {verb} failed: {}", render(&e)));
            ExitCode::from(1)
        }
        Err(e) => {
            log.error(&render(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, each cause added only if the text so far doesn't already say
/// it (our error types put their source in their own message).
fn render(e: &anyhow::Error) -> String {
    let mut s = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
    }
    s
}
