//! `attach`, and the terminal side of `run -t` and `start -a` for a `-t` container: our
//! stdio bridged to the container's through its monitor's attach socket.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use berth_engine::attach::{self, Ended};
use berth_engine::{Attach, Engine, Started, Status};

use crate::args::{self, flag, opt};
use crate::{Failure, Globals, Result};

fn stdin_is_tty() -> bool {
    nix::unistd::isatty(std::io::stdin().as_fd()).unwrap_or(false)
}

/// The detach keys from `--detach-keys`, or docker's ctrl-p,ctrl-q.
fn detach_keys(spec: Option<&str>) -> Result<Vec<u8>> {
    match spec {
        Some(s) => attach::parse_detach_keys(s).map_err(|e| Failure::new(125, e.to_string())),
        None => Ok(attach::DEFAULT_DETACH_KEYS.to_vec()),
    }
}

/// For `run` and `start`: how to attach to a `-t` container we are about to start; the
/// returned socket is ours to bridge once it runs.
pub fn prepare(interactive: bool) -> Result<(Attach, Option<UnixStream>)> {
    if interactive && !stdin_is_tty() {
        return Err(Failure::new(1, "the input device is not a TTY"));
    }
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| Failure::new(125, format!("attach socket pair: {e}")))?;
    Ok((
        Attach {
            client: Some(OwnedFd::from(theirs)),
            winsize: attach::winsize(0).or_else(|| attach::winsize(1)),
            ..Default::default()
        },
        Some(ours),
    ))
}

/// Bridges our terminal to a started `-t` container until it exits (its status) or we
/// detach (0, as docker's `run` does).
pub fn bridge_started(
    sock: UnixStream,
    started: Started,
    interactive: bool,
    keys: Option<&str>,
) -> Result<i32> {
    let keys = detach_keys(keys)?;
    let stdin = std::io::stdin();
    let raw = interactive
        .then(|| attach::RawMode::enter(stdin.as_fd()))
        .flatten();
    let ended = attach::bridge(
        sock,
        interactive.then(|| stdin.as_fd()),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        true,
        interactive.then_some(keys.as_slice()),
    );
    drop(raw);
    match ended.map_err(|e| Failure::new(125, e.to_string()))? {
        Ended::Detached => Ok(0),
        Ended::Closed => started.wait().map_err(|e| Failure::new(125, e.to_string())),
    }
}

/// `berth attach [--no-stdin] [--detach-keys K] [--sig-proxy] CONTAINER`.
pub fn attach_cmd(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[
            flag("no-stdin", None),
            opt("detach-keys", None),
            flag("sig-proxy", None),
        ],
        argv,
        true,
    )
    .map_err(|e| Failure::usage("attach", e))?;
    if m.args.len() != 1 {
        return Err(Failure::usage(
            "attach",
            "\"berth attach\" requires exactly 1 argument.",
        ));
    }
    let keys = detach_keys(m.get("detach-keys"))?;
    let mut engine = Engine::open(&g.root).map_err(|e| Failure::new(125, e.to_string()))?;
    let c = engine
        .refresh(&m.args[0])
        .map_err(|e| Failure::new(1, e.to_string()).daemon())?;
    match c.state.status {
        Status::Running | Status::Restarting => {}
        Status::Paused => {
            return Err(Failure::new(
                1,
                "You cannot attach to a paused container, unpause it first",
            ))
        }
        _ => {
            return Err(Failure::new(
                1,
                "You cannot attach to a stopped container, start it first",
            ))
        }
    }
    let sock = attach::connect(&engine.container_dir(&c.id))
        .map_err(|e| Failure::new(1, e.to_string()))?;
    let with_stdin = c.config.open_stdin && !m.on("no-stdin");
    let tty = c.config.tty;
    if tty && with_stdin && !stdin_is_tty() {
        return Err(Failure::new(1, "the input device is not a TTY"));
    }
    let stdin = std::io::stdin();
    let raw = (tty && with_stdin)
        .then(|| attach::RawMode::enter(stdin.as_fd()))
        .flatten();
    let ended = attach::bridge(
        sock,
        with_stdin.then(|| stdin.as_fd()),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        tty,
        (tty && with_stdin).then_some(keys.as_slice()),
    );
    drop(raw);
    match ended.map_err(|e| Failure::new(125, e.to_string()))? {
        Ended::Detached => {
            let mut f = Failure::new(1, "read escape sequence");
            f.raw = true;
            Err(f)
        }
        Ended::Closed => {
            let code = engine
                .wait(&c.id, None)
                .ok()
                .flatten()
                .map_or(0, |c| c.state.exit_code);
            std::process::exit(code);
        }
    }
}
