//! The per-container monitor: a small process of its own (`berth __monitor ROOT ID`), in its
//! own session, that outlives the command that started it. It mounts the rootfs, creates and
//! starts the container through the runtime library, owns the container's stdout and
//! stderr (writing Docker's json-file log and copying to an attached client), reaps the
//! container as a child subreaper, records the exit code, and removes an `--rm` container.
//!
//! It tells its starter how things went on fd 3, one line at a time: `started PID`, then
//! `exit CODE`, or `error STATUS MESSAGE` when the container could not be started.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::attach::{self, Hub};
use crate::container;
use crate::engine::Engine;
use crate::error::{EngineError, Kind, Result};
use crate::logs::JsonLog;

/// The fd the starter reads reports from.
pub const REPORT_FD: RawFd = 3;

/// Where a starter that bridges a terminal itself passes its end of the attach socket.
pub const CLIENT_FD: RawFd = 4;

/// Where a monitor started ahead of its container ([`crate::engine::spawn_monitor`]) waits
/// for the word that the record exists.
pub const GO_FD: RawFd = 5;

/// Blocks until the starter says go; false when it went away (or failed to create the
/// container) instead.
fn wait_for_go() -> bool {
    if std::env::var_os("BERTH_GO").is_none() {
        return true;
    }
    if !is_open(GO_FD) {
        return false;
    }
    // SAFETY: the starter put the pipe's read end at GO_FD for us alone; owning it closes
    // it once read, so the container never inherits it.
    let mut f = unsafe { std::fs::File::from_raw_fd(GO_FD) };
    let mut b = [0u8; 1];
    loop {
        match std::io::Read::read(&mut f, &mut b) {
            Ok(n) => return n == 1,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn report(line: &str) {
    // SAFETY: fd 3 is the report pipe the starter set up (or nothing, and write fails).
    let f = unsafe { std::fs::File::from_raw_fd(REPORT_FD) };
    let mut f = std::mem::ManuallyDrop::new(f);
    let _ = writeln!(f, "{line}");
}

fn dup_cloexec(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a possibly-closed fd either fails or returns a new fd we own.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    // SAFETY: n is a fresh descriptor we own when non-negative.
    (n >= 0).then(|| unsafe { OwnedFd::from_raw_fd(n) })
}

fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// The monitor's main; returns the process exit status.
pub fn run(root: &Path, id: &str) -> i32 {
    // Signals meant for the terminal the starter ran in are not ours.
    for s in [
        nix::sys::signal::SIGINT,
        nix::sys::signal::SIGHUP,
        nix::sys::signal::SIGPIPE,
        nix::sys::signal::SIGQUIT,
        nix::sys::signal::SIGTSTP,
    ] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigIgn) };
    }
    // Nobody reads our stderr: what goes wrong is kept beside the container's log.
    let note = root.join("containers").join(id).join("monitor.log");
    std::panic::set_hook(Box::new(move |info| {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&note)
            .and_then(|mut f| writeln!(f, "{} panic: {info}", berth_image::timefmt::now()));
    }));
    let mut engine = match Engine::open(root) {
        Ok(e) => e,
        Err(e) => {
            report(&format!("error 125 {}", e.to_string().replace('\n', " ")));
            return 1;
        }
    };
    if !wait_for_go() {
        return 0;
    }
    match monitor(&mut engine, id) {
        Ok(code) => {
            report(&format!("exit {code}"));
            // The starter is free to go: the rest is ours alone.
            engine.finish_deferred();
            engine.store.db.checkpoint();
            0
        }
        Err(e) => {
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(root.join("containers").join(id).join("monitor.log"))
                .and_then(|mut f| writeln!(f, "{} {e}", berth_image::timefmt::now()));
            let status = match e.kind() {
                Kind::Command(s) => s,
                _ => 125,
            };
            report(&format!(
                "error {status} {}",
                e.to_string().replace('\n', " ")
            ));
            engine.finish_deferred();
            1
        }
    }
}

fn monitor(engine: &mut Engine, id: &str) -> Result<i32> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| EngineError::Monitor(format!("PR_SET_CHILD_SUBREAPER: {e}")))?;
    // On record before anything is mounted or created, so that a monitor killed while
    // starting the container leaves a record that says so: the next command sees it dead
    // and releases what it held (`Engine::refresh`). Refused if another live monitor is
    // already starting it (two `start`s at once). Found by the crash tests.
    let me = std::process::id() as i32;
    let me_start = berth_sys::proc::start_time(me).map_or(0, |(s, _)| s);
    let mut other = None;
    let c = container::update(&mut engine.store, id, |r| match r.state.monitor {
        Some((pid, start)) if pid != me && berth_sys::proc::alive(pid, start) => other = Some(pid),
        _ => r.state.monitor = Some((me, me_start)),
    })?;
    if let Some(pid) = other {
        return Err(EngineError::Conflict(format!(
            "container {} is being started by monitor {pid}",
            c.short_id()
        )));
    }
    // What the starter gave us as 0, 1 and 2 is the attached client's; keep copies, then let
    // the container write into pipes that we read.
    let attached_in =
        (c.config.open_stdin && std::env::var_os("BERTH_STDIN").is_some() && is_open(0))
            .then(|| dup_cloexec(0))
            .flatten();
    let mut out_w = dup_cloexec(1).map(std::fs::File::from);
    let mut err_w = dup_cloexec(2).map(std::fs::File::from);
    let devnull = std::fs::File::open("/dev/null").map_err(EngineError::io("/dev/null"))?;
    let mut log = JsonLog::with_rotation(
        &engine.log_path(&c.id),
        c.host_config.log_max_size.max(0) as u64,
        c.host_config.log_max_file.max(1),
    )?;
    // A foreground `run -t` hands us its end of a socket pair as fd 4: the first client.
    let first_client = std::env::var_os("BERTH_CLIENT_FD")
        .is_some_and(|_| is_open(CLIENT_FD))
        .then(|| dup_cloexec(CLIENT_FD))
        .flatten();
    let dir = engine.container_dir(&c.id);
    let mut hub = Hub::open(&dir, first_client);
    let winsize = std::env::var("BERTH_TTY_SIZE").ok().and_then(|v| {
        let (r, c) = v.split_once(':')?;
        Some((r.parse().ok()?, c.parse().ok()?))
    });
    let mut first = true;
    let mut backoff = std::time::Duration::from_millis(100);
    let result = loop {
        let c = container::find(&engine.store, id)?;
        let started = start_once(engine, &c, attached_in.as_ref(), &devnull, winsize);
        let (streams, pid) = match started {
            Ok(x) => x,
            Err(e) if first => {
                hub.close(&dir);
                let _ = engine.finish(&c, None);
                return Err(e);
            }
            Err(e) => {
                // A restart that fails ends the container, with the error on record.
                let msg = e.to_string();
                let _ = container::update(&mut engine.store, &c.id, |r| r.state.error = msg);
                break engine.finish(&c, Some(128));
            }
        };
        // A record that cannot be written costs the healthcheck, not the started container.
        let mut health = crate::health::Checker::start(engine, &c).unwrap_or_default();
        if first {
            report(&format!("started {pid}"));
            first = false;
        } else if container::find(&engine.store, id)?.state.stopping {
            // Stopped while this restart was on its way up.
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
        let began = std::time::Instant::now();
        pump(
            streams,
            &mut hub,
            &mut log,
            &mut out_w,
            &mut err_w,
            &mut health,
            engine,
        )?;
        // Before the container is reaped: a probe still running is dropped, not waited for.
        drop(health);
        let code = wait_for(pid);
        let c = container::find(&engine.store, id)?;
        if !should_restart(&c, code) {
            break engine.finish(&c, Some(code));
        }
        engine.prepare_restart(&c, code)?;
        // Docker's back-off: doubling from 100 ms, reset after a run of 10 s or more.
        if began.elapsed() >= std::time::Duration::from_secs(10) {
            backoff = std::time::Duration::from_millis(100);
        }
        // Sleep out the back-off, but leave at once when stopped meanwhile.
        let until = std::time::Instant::now() + backoff;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(60));
        loop {
            let c = container::find(&engine.store, id)?;
            if c.state.stopping {
                hub.close(&dir);
                return engine.finish(&c, Some(code));
            }
            let now = std::time::Instant::now();
            if now >= until {
                break;
            }
            std::thread::sleep((until - now).min(std::time::Duration::from_millis(50)));
        }
    };
    hub.close(&dir);
    result
}

/// How long a container runs before its monitor sheds what starting it left resident.
const SHED_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the restart policy brings the container back after it exited with `code`.
fn should_restart(c: &container::Container, code: i32) -> bool {
    if c.state.stopping {
        return false;
    }
    let policy = c.host_config.restart.as_str();
    match policy.split_once(':').map_or(policy, |(p, _)| p) {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            let max: u32 = policy
                .split_once(':')
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or(0);
            code != 0 && (max == 0 || c.state.restart_count < max)
        }
        _ => false,
    }
}

/// Where a started container's stdio are, from the monitor's side.
struct Streams {
    /// stdout, or the pty master of a `-t` container (both its output and its input).
    out: OwnedFd,
    err: Option<OwnedFd>,
    /// Where attached clients' input goes: the write end of the container's stdin pipe
    /// (`-i` with nobody attached at start), or a dup of the pty master.
    stdin: Option<std::fs::File>,
    tty: bool,
}

/// Starts the container with its stdout and stderr on fresh pipes (and stdin on the
/// client's, when attached with -i; or on a pipe we keep for later attaches, with -i
/// alone), or on a pty with -t; returns our ends and the pid.
fn start_once(
    engine: &mut Engine,
    c: &container::Container,
    stdin: Option<&OwnedFd>,
    devnull: &std::fs::File,
    winsize: Option<(u16, u16)>,
) -> Result<(Streams, i32)> {
    let pipe = || {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::Monitor(format!("pipe: {e}")))
    };
    if c.config.tty {
        let (pid, master) = engine.start_in_monitor(c, winsize)?;
        let master =
            master.ok_or_else(|| EngineError::Monitor("the runtime gave no pty master".into()))?;
        let input = master
            .try_clone()
            .map_err(|e| EngineError::Monitor(format!("dup: {e}")))?;
        return Ok((
            Streams {
                out: master,
                err: None,
                stdin: Some(std::fs::File::from(input)),
                tty: true,
            },
            pid,
        ));
    }
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let mut keep_stdin = None;
    let mut stdin_r = None;
    if stdin.is_none() && c.config.open_stdin {
        let (r, w) = pipe()?;
        stdin_r = Some(r);
        keep_stdin = Some(std::fs::File::from(w));
    }
    let stdin_fd = stdin
        .map(|f| f.as_raw_fd())
        .or(stdin_r.as_ref().map(|f| f.as_raw_fd()))
        .unwrap_or(devnull.as_raw_fd());
    // SAFETY: dup2 onto 0/1/2 replaces our own stdio, which the container will inherit.
    unsafe {
        libc::dup2(stdin_fd, 0);
        libc::dup2(out_w.as_raw_fd(), 1);
        libc::dup2(err_w.as_raw_fd(), 2);
    }
    drop(out_w);
    drop(err_w);
    drop(stdin_r);
    let started = engine.start_in_monitor(c, None);
    // Only the container holds the pipes' write ends (and the client's stdin) now.
    // SAFETY: as above.
    unsafe {
        libc::dup2(devnull.as_raw_fd(), 0);
        libc::dup2(devnull.as_raw_fd(), 1);
        libc::dup2(devnull.as_raw_fd(), 2);
    }
    let (pid, _) = started?;
    Ok((
        Streams {
            out: out_r,
            err: Some(err_r),
            stdin: keep_stdin,
            tty: false,
        },
        pid,
    ))
}

/// Copies the container's output into the log, to the client that started it and to
/// attached clients, and clients' input to the container, until the output ends (every
/// writer is gone).
fn pump(
    streams: Streams,
    hub: &mut Hub,
    log: &mut JsonLog,
    out_w: &mut Option<std::fs::File>,
    err_w: &mut Option<std::fs::File>,
    health: &mut Option<crate::health::Checker>,
    engine: &mut Engine,
) -> Result<()> {
    let Streams {
        out,
        err,
        mut stdin,
        tty,
    } = streams;
    let mut open = [Some(out), err];
    let mut buf = vec![0u8; 32 << 10];
    // A container that is still running after this long has us mostly waiting: what
    // starting it took (the runtime's code, SQLite's cache) need not stay resident in each of
    // possibly hundreds of monitors. Not sooner: a short-lived container's monitor would
    // only fault it all back in to record the exit, with its `run` waiting.
    let mut shed_at = Some(std::time::Instant::now() + SHED_AFTER);
    while open.iter().any(Option::is_some) {
        let mut fds: Vec<PollFd<'_>> = Vec::new();
        // What each poll entry is: 0 and 1 the streams, 2 the listener, 3+i client i.
        let mut which = Vec::new();
        for (i, f) in open.iter().enumerate() {
            if let Some(f) = f {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        if let Some(l) = hub.listener_fd() {
            fds.push(PollFd::new(l, PollFlags::POLLIN));
            which.push(2);
        }
        for (i, c) in hub.clients.iter().enumerate() {
            fds.push(PollFd::new(c.sock.as_fd(), PollFlags::POLLIN));
            which.push(3 + i);
        }
        // The healthcheck's pipe goes last, where the zip below leaves it out.
        if let Some(fd) = health.as_ref().and_then(|h| h.fd()) {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        let mut wake = health.as_ref().map_or(PollTimeout::NONE, |h| h.timeout());
        if let Some(at) = shed_at {
            let left = at.saturating_duration_since(std::time::Instant::now());
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX);
            if wake == PollTimeout::NONE || ms < wake {
                wake = ms;
            }
        }
        match nix::poll::poll(&mut fds, wake) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(EngineError::Monitor(format!("poll: {e}"))),
        }
        if shed_at.is_some_and(|at| std::time::Instant::now() >= at) {
            shed_at = None;
            engine.store.db.release_memory();
            berth_sys::memory::release_clean_pages();
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&which)
            .filter(|(p, _)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, i)| *i)
            .collect();
        drop(fds);
        if let Some(h) = health.as_mut() {
            h.tick(engine);
        }
        // Clients are handled last and from the highest index, so that dropping one
        // doesn't shift the others still to be read.
        for &i in ready.iter().rev() {
            match i {
                0 | 1 => {
                    let n = match open[i].as_ref().map(|f| nix::unistd::read(f, &mut buf)) {
                        Some(Ok(n)) => n,
                        Some(Err(nix::errno::Errno::EINTR)) => continue,
                        // EIO: the pty's last slave went away.
                        _ => 0,
                    };
                    if n == 0 {
                        open[i] = None;
                        continue;
                    }
                    let (stream, kind) = if i == 0 {
                        ("stdout", attach::STDOUT)
                    } else {
                        ("stderr", attach::STDERR)
                    };
                    log.write(stream, &buf[..n]);
                    hub.broadcast(kind, &buf[..n]);
                    let sink = if i == 0 { &mut *out_w } else { &mut *err_w };
                    if let Some(w) = sink {
                        if w.write_all(&buf[..n]).is_err() {
                            // The client went away; the container goes on, logged.
                            *sink = None;
                        }
                    }
                }
                2 => hub.accept(),
                _ => {
                    let Some(reqs) = hub.read_client(i - 3, &mut buf) else {
                        continue;
                    };
                    for r in reqs {
                        match r {
                            attach::Request::Stdin(data) => {
                                if let Some(w) = &mut stdin {
                                    if w.write_all(&data).is_err() {
                                        stdin = None;
                                    }
                                }
                            }
                            attach::Request::Resize(rows, cols) if tty => {
                                if let Some(m) = &open[0] {
                                    let _ = berth_sys::pty::set_winsize(m.as_fd(), rows, cols);
                                }
                            }
                            attach::Request::Resize(..) => {}
                        }
                    }
                }
            }
        }
    }
    log.flush();
    hub.close_clients();
    Ok(())
}

/// Waits for `pid`, reaping other children on the way; returns docker's exit code for it.
fn wait_for(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return code,
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => return 128 + sig as i32,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            // No child left: the container's init was reaped elsewhere, its status lost.
            Err(_) => return 255,
        }
    }
}

/// For `berth` itself: the status it should exit with after a foreground `run`, from the
/// starter's side of the report pipe.
pub fn status_of(line: &str) -> Option<i32> {
    line.strip_prefix("exit ")?.trim().parse().ok()
}
