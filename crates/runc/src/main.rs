//! `berth-runc`: a runc-compatible command line over `berth-runtime`.
//!
//! Parses arguments, calls the library, prints. Errors go to stderr in runc's logrus text
//! form (and to `--log` as JSON when asked), with exit status 1; `run` and `exec` exit with
//! the container process's own status.

mod cli;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let log = output::Log::new(args.log.clone(), args.log_format.clone());
    match cli::dispatch(args) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            log.error(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}
