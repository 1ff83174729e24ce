//! Docker healthchecks. There is no daemon, so the container's monitor runs the probes: it
//! asks [`Checker`] how long it may sleep, and calls [`Checker::tick`] when it wakes.
//!
//! Each probe runs in a runner process forked from the monitor, which starts the test
//! command in the container as `exec` does, keeps the first 4096 bytes of its output, waits
//! for it and writes the outcome to a pipe that the monitor polls. So the monitor never
//! blocks on a probe, and it kills the runner and the probe when the timeout passes or the
//! container goes. Results land in the record's `State.Health` in Docker's shape.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

pub use berth_image::spec::HealthConfig;

use crate::container::{self, Container, Status};
use crate::engine::Engine;
use crate::error::{EngineError, Result};

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";
/// What `ps --filter health=` calls a container without a healthcheck.
pub const NONE: &str = "none";

/// Docker's defaults for fields left at zero.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// Output kept per probe, and results kept in the log (Docker's numbers).
const MAX_OUTPUT: usize = 4096;
const MAX_LOG: usize = 5;
/// Docker's `MinimumDuration` for the durations of a healthcheck.
const MIN_DURATION_NS: i64 = 1_000_000;

/// `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthResult>,
}

/// One probe's outcome, as in `State.Health.Log`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// The daemon's checks of a healthcheck from the API or the flags.
pub fn validate(h: Option<&HealthConfig>) -> Result<()> {
    let Some(h) = h else { return Ok(()) };
    for (name, v) in [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
        ("StartInterval", h.start_interval),
    ] {
        if v != 0 && v < MIN_DURATION_NS {
            return Err(EngineError::Invalid(format!(
                "{name} in Healthcheck cannot be less than {}",
                go_duration(MIN_DURATION_NS)
            )));
        }
    }
    if h.retries < 0 {
        return Err(EngineError::Invalid(
            "Retries in Healthcheck cannot be negative".into(),
        ));
    }
    Ok(())
}

/// Docker's merge of a container's healthcheck over its image's: field by field, what the
/// user left empty or zero comes from the image.
pub fn merge(user: Option<HealthConfig>, image: Option<HealthConfig>) -> Option<HealthConfig> {
    let Some(mut u) = user else { return image };
    if let Some(i) = image {
        if u.test.is_empty() {
            u.test = i.test;
        }
        for (mine, theirs) in [
            (&mut u.interval, i.interval),
            (&mut u.timeout, i.timeout),
            (&mut u.start_period, i.start_period),
            (&mut u.start_interval, i.start_interval),
            (&mut u.retries, i.retries),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
    }
    Some(u)
}

/// The command a healthcheck runs; None when it has none (`NONE`, empty, unknown type).
fn probe_command(h: &HealthConfig) -> Option<Vec<String>> {
    let (kind, rest) = h.test.split_first()?;
    let cmd: Vec<String> = match kind.as_str() {
        "CMD" => rest.to_vec(),
        "CMD-SHELL" => ["/bin/sh", "-c"]
            .iter()
            .map(|s| s.to_string())
            .chain(rest.iter().cloned())
            .collect(),
        _ => return None,
    };
    (!cmd.is_empty()).then_some(cmd)
}

/// The health status `ps` shows and filters on: `none` without a healthcheck.
pub fn status_of(c: &Container) -> &str {
    match &c.state.health {
        Some(h)
            if c.config
                .healthcheck
                .as_ref()
                .and_then(probe_command)
                .is_some() =>
        {
            &h.status
        }
        _ => NONE,
    }
}

/// Why [`parse_go_duration`] refused a duration: Go's `time.ParseDuration` messages, with
/// the value quoted as Go quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration {}", go_quote(.0))]
    Invalid(String),
    #[error("time: missing unit in duration {}", go_quote(.0))]
    MissingUnit(String),
    #[error("time: unknown unit {} in duration {}", go_quote(.unit), go_quote(.value))]
    UnknownUnit { unit: String, value: String },
}

/// The `time` package's own `quote`: `"` and `\` escaped, control and non-ASCII bytes as
/// `\xNN`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() && c >= ' ' {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        } else {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        }
    }
    out.push('"');
    out
}

/// Go's `time.ParseDuration`, in nanoseconds, with its messages: the same integer
/// arithmetic (fractions truncated towards zero, never rounded), the same overflow checks
/// (anything past ±2^63 ns is an invalid duration, `-2562047h47m16.854775808s` is the
/// least), the same units (`ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`).
pub fn parse_go_duration(s: &str) -> std::result::Result<i64, DurationError> {
    const LIMIT: u64 = 1 << 63;
    let invalid = || DurationError::Invalid(s.to_string());
    let mut rest = s.as_bytes();
    let mut neg = false;
    if let Some((&c, r)) = rest.split_first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            rest = r;
        }
    }
    if rest == b"0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while let Some(&first) = rest.first() {
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        // [0-9]*, overflow past 2^63 an error.
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &rest[..digits] {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
        }
        let pre = digits > 0;
        rest = &rest[digits..];
        // (\.[0-9]*)?, where digits past what a u64 holds only stop adding precision.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(r) = rest.strip_prefix(b".") {
            let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &r[..digits] {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = digits > 0;
            rest = &r[digits..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = rest
            .iter()
            .take_while(|&&c| !(c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(s.to_string()));
        }
        // The unit ends before an ASCII byte, so on a char boundary of `s`.
        let unit = String::from_utf8_lossy(&rest[..unit_len]).into_owned();
        rest = &rest[unit_len..];
        let mult: u64 = match unit.as_str() {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit,
                    value: s.to_string(),
                })
            }
        };
        if v > LIMIT / mult {
            return Err(invalid());
        }
        v *= mult;
        if f > 0 {
            // As Go: float64 keeps fractions of hours nanosecond-accurate, and the
            // conversion truncates (at most 3.6e12, no overflow).
            v += (f as f64 * (mult as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // d <= 2^63: -2^63 is the least duration.
        return Ok((d as i64).wrapping_neg());
    }
    i64::try_from(d).map_err(|_| invalid())
}

/// Go's `Duration.String()`: `300ms`, `1.5s`, `1m30s`, `1h0m0s`.
pub fn go_duration(ns: i64) -> String {
    fn frac(v: u64, unit: u64, digits: usize) -> String {
        let (int, f) = (v / unit, v % unit);
        if f == 0 {
            return int.to_string();
        }
        let f = format!("{f:0digits$}");
        format!("{int}.{}", f.trim_end_matches('0'))
    }
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 1_000, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000, 6));
    }
    let (h, m) = (u / 3_600_000_000_000, (u / 60_000_000_000) % 60);
    let s = frac(u % 60_000_000_000, 1_000_000_000, 9);
    match (h, m) {
        (0, 0) => format!("{sign}{s}s"),
        (0, m) => format!("{sign}{m}m{s}s"),
        (h, m) => format!("{sign}{h}h{m}m{s}s"),
    }
}

fn or_default(ns: i64, d: Duration) -> Duration {
    if ns > 0 {
        Duration::from_nanos(ns as u64)
    } else {
        d
    }
}

/// A probe on its way: the runner process and the pipe it reports on.
struct Probe {
    runner: Pid,
    report: OwnedFd,
    got: Vec<u8>,
    start: String,
    began: Instant,
    deadline: Instant,
}

/// A running container's healthcheck, owned by its monitor.
pub struct Checker {
    id: String,
    cmd: Vec<String>,
    interval: Duration,
    timeout: Duration,
    start_period: Duration,
    start_interval: Duration,
    retries: i64,
    started: Instant,
    status: String,
    next: Instant,
    probe: Option<Probe>,
    /// Probes whose runner was killed: ours to reap once they die.
    strays: Vec<Pid>,
}

impl Checker {
    /// For a container that just started: None without a healthcheck. With one, the
    /// record's health goes back to `starting` (the log stays, as in Docker).
    pub fn start(engine: &mut Engine, c: &Container) -> Result<Option<Checker>> {
        let Some(h) = c.config.healthcheck.as_ref() else {
            return Ok(None);
        };
        let Some(cmd) = probe_command(h) else {
            return Ok(None);
        };
        container::update(&mut engine.store, &c.id, |r| {
            let s = r.state.health.get_or_insert_with(HealthState::default);
            s.status = STARTING.into();
            s.failing_streak = 0;
        })?;
        let now = Instant::now();
        let mut k = Checker {
            id: c.id.clone(),
            cmd,
            interval: or_default(h.interval, DEFAULT_INTERVAL),
            timeout: or_default(h.timeout, DEFAULT_TIMEOUT),
            start_period: or_default(h.start_period, Duration::ZERO),
            start_interval: or_default(h.start_interval, DEFAULT_START_INTERVAL),
            retries: if h.retries > 0 {
                h.retries
            } else {
                DEFAULT_RETRIES
            },
            started: now,
            status: STARTING.into(),
            next: now,
            probe: None,
            strays: Vec::new(),
        };
        k.next = now + k.wait();
        Ok(Some(k))
    }

    /// Docker's wait before the next probe: the start interval while starting within the
    /// start period, but never past the period's end.
    fn wait(&self) -> Duration {
        let elapsed = self.started.elapsed();
        if elapsed >= self.start_period {
            return self.interval;
        }
        let left = self.start_period - elapsed;
        if left < self.interval {
            return left;
        }
        if self.status == STARTING {
            self.start_interval
        } else {
            self.interval
        }
    }

    /// The pipe to poll while a probe runs.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.probe.as_ref().map(|p| p.report.as_fd())
    }

    /// How long the monitor may sleep before [`Checker::tick`] has work.
    pub fn timeout(&self) -> nix::poll::PollTimeout {
        let until = self.probe.as_ref().map_or(self.next, |p| p.deadline);
        let left = until.saturating_duration_since(Instant::now());
        // Rounded up: waking a little early would only spin.
        let ms = left.as_nanos().div_ceil(1_000_000);
        nix::poll::PollTimeout::try_from(ms.min(i32::MAX as u128) as i32)
            .unwrap_or(nix::poll::PollTimeout::MAX)
    }

    /// Collects a finished probe, kills one past its timeout, starts one that is due.
    /// Failures to record are left for the next probe: the container matters more.
    pub fn tick(&mut self, engine: &mut Engine) {
        self.strays.retain(|p| {
            !matches!(
                waitpid(*p, Some(WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_)
            )
        });
        if let Some(p) = self.probe.as_mut() {
            let eof = drain(p);
            if eof {
                let p = self.probe.take().expect("probe present");
                let status = loop {
                    match waitpid(p.runner, None) {
                        Err(nix::errno::Errno::EINTR) => {}
                        Ok(WaitStatus::Exited(_, c)) => break Some(c),
                        _ => break None,
                    }
                };
                let (code, output) = parse_report(&p.got, status);
                self.record(engine, p.start, p.began, code, output);
            } else if Instant::now() >= p.deadline {
                let p = self.probe.take().expect("probe present");
                self.kill(&p);
                let output = match parse_report(&p.got, None).1 {
                    out if out.is_empty() => String::new(),
                    out => format!(": {out}"),
                };
                let msg = format!(
                    "Health check exceeded timeout ({}){output}",
                    go_duration(self.timeout.as_nanos() as i64)
                );
                self.record(engine, p.start.clone(), p.began, -1, msg);
            }
        }
        if self.probe.is_none() && Instant::now() >= self.next {
            self.launch(engine);
        }
    }

    /// Kills the runner and the probe it started (which then becomes ours to reap).
    fn kill(&mut self, p: &Probe) {
        let _ = kill(p.runner, Signal::SIGKILL);
        let _ = waitpid(p.runner, None);
        if let Some(pid) = probe_pid(&p.got) {
            let _ = kill(pid, Signal::SIGKILL);
            self.strays.push(pid);
        }
    }

    fn launch(&mut self, engine: &mut Engine) {
        let c = match container::find(&engine.store, &self.id) {
            Ok(c) => c,
            Err(_) => {
                self.next = Instant::now() + self.wait();
                return;
            }
        };
        // Docker runs no probes while paused, nor once a stop is on its way.
        if c.state.status != Status::Running || c.state.stopping {
            self.next = Instant::now() + self.wait();
            return;
        }
        let start = berth_image::timefmt::now();
        let began = Instant::now();
        match spawn_runner(engine, &c, &self.cmd) {
            Ok((runner, report)) => {
                self.probe = Some(Probe {
                    runner,
                    report,
                    got: Vec::new(),
                    start,
                    began,
                    deadline: began + self.timeout,
                });
            }
            Err(e) => self.record(engine, start, began, -1, e.to_string()),
        }
    }

    /// Docker's `handleProbeResult`: the log, the streak and the status.
    fn record(
        &mut self,
        engine: &mut Engine,
        start: String,
        began: Instant,
        code: i64,
        output: String,
    ) {
        let result = HealthResult {
            start,
            end: berth_image::timefmt::now(),
            exit_code: code,
            output,
        };
        let retries = self.retries;
        let in_start_period = began.duration_since(self.started) < self.start_period;
        let mut status = self.status.clone();
        let _ = container::update(&mut engine.store, &self.id, |r| {
            let h = r.state.health.get_or_insert_with(HealthState::default);
            if h.log.len() >= MAX_LOG {
                h.log.drain(..=h.log.len() - MAX_LOG);
            }
            h.log.push(result);
            if code == 0 {
                h.failing_streak = 0;
                h.status = HEALTHY.into();
            } else if !(h.status == STARTING && in_start_period) {
                h.failing_streak += 1;
                if h.failing_streak >= retries {
                    h.status = UNHEALTHY.into();
                }
            }
            status = h.status.clone();
        });
        self.status = status;
        self.next = Instant::now() + self.wait();
    }
}

impl Drop for Checker {
    /// The container is gone: its probe with it, unrecorded, as in Docker.
    fn drop(&mut self) {
        if let Some(p) = self.probe.take() {
            self.kill(&p);
        }
    }
}

/// Reads what the runner wrote so far; true at its end.
fn drain(p: &mut Probe) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match nix::unistd::read(&p.report, &mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                // The runner writes a few bytes more than the output it keeps.
                if p.got.len() < MAX_OUTPUT + 64 {
                    p.got.extend_from_slice(&buf[..n]);
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => return false,
            Err(_) => return true,
        }
    }
}

/// The runner's report: `P<pid>\n` once the probe started, then its output as it comes
/// (a byte more than is kept, to tell when there was more), the probe's status being the
/// runner's exit status; or `E<error>` when the probe could not be started.
fn probe_pid(got: &[u8]) -> Option<Pid> {
    let line = got.strip_prefix(b"P")?;
    let end = line.iter().position(|&b| b == b'\n')?;
    std::str::from_utf8(&line[..end])
        .ok()?
        .parse()
        .ok()
        .map(Pid::from_raw)
}

/// The exit code and output in a report; `status` is the runner's exit status, if it exited.
fn parse_report(got: &[u8], status: Option<i32>) -> (i64, String) {
    if let Some(e) = got.strip_prefix(b"E") {
        return (-1, String::from_utf8_lossy(e).into_owned());
    }
    let out = got
        .strip_prefix(b"P")
        .and_then(|l| l.iter().position(|&b| b == b'\n').map(|i| &l[i + 1..]))
        .unwrap_or_default();
    let mut text = String::from_utf8_lossy(&out[..out.len().min(MAX_OUTPUT)]).into_owned();
    if out.len() > MAX_OUTPUT {
        text.push_str("...");
    }
    (status.map_or(-1, i64::from), text)
}

/// Forks the runner; returns its pid and the (non-blocking) read end of its report.
fn spawn_runner(engine: &Engine, c: &Container, cmd: &[String]) -> Result<(Pid, OwnedFd)> {
    let pipe =
        |flags| nix::unistd::pipe2(flags).map_err(|e| EngineError::Monitor(format!("pipe: {e}")));
    let (r, w) = pipe(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
    // The runner's end blocks: it writes its whole report once.
    // SAFETY: F_SETFL on a descriptor we own.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETFL, 0) };
    // SAFETY: the monitor is single-threaded (no thread is ever started in it), so the
    // child may run ordinary code; it leaves with _exit, never returning into ours.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(r);
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runner(engine, c, cmd, w);
            }))
            .map_or(1, |_| 0);
            // SAFETY: _exit ends the forked child without running the monitor's exit code.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok((child, r)),
        Err(e) => Err(EngineError::Monitor(format!("fork: {e}"))),
    }
}

/// In the forked runner: starts the probe with its stdout and stderr on one pipe, keeps the
/// first [`MAX_OUTPUT`] bytes, waits for it and reports to the monitor on `report`.
fn runner(engine: &Engine, c: &Container, cmd: &[String], report: OwnedFd) {
    let mut report = std::fs::File::from(report);
    // What the monitor ignores (SIGPIPE, SIGINT...) the probe must not inherit ignored.
    for s in [
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGPIPE,
        Signal::SIGQUIT,
        Signal::SIGTSTP,
    ] {
        // SAFETY: SIG_DFL installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigDfl) };
    }
    let started = (|| -> Result<(i32, OwnedFd)> {
        let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::Monitor(format!("pipe: {e}")))?;
        let null = std::fs::File::open("/dev/null").map_err(EngineError::io("/dev/null"))?;
        // SAFETY: dup2 onto this process's own stdio, which the probe inherits.
        unsafe {
            libc::dup2(null.as_raw_fd(), 0);
            libc::dup2(out_w.as_raw_fd(), 1);
            libc::dup2(out_w.as_raw_fd(), 2);
        }
        let pid = engine.exec_in(
            c,
            &crate::exec::ExecOptions {
                cmd: cmd.to_vec(),
                ..Default::default()
            },
        );
        let pid = pid.map(|(p, _)| p);
        // Only the probe may hold the write end, so that its exit ends our read.
        // SAFETY: as above.
        unsafe {
            libc::dup2(null.as_raw_fd(), 1);
            libc::dup2(null.as_raw_fd(), 2);
        }
        drop(out_w);
        Ok((pid?, out_r))
    })();
    let (pid, out) = match started {
        Ok(x) => x,
        Err(e) => {
            let _ = write!(report, "E{e}");
            return;
        }
    };
    let _ = writeln!(report, "P{pid}");
    // Passed on as it comes, so that a probe killed at its timeout still shows its output.
    let mut left = MAX_OUTPUT + 1;
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(&out, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let keep = n.min(left);
                if keep > 0 && report.write_all(&buf[..keep]).is_err() {
                    break;
                }
                left -= keep;
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    let code = loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break 255,
        }
    };
    drop(report);
    // SAFETY: _exit ends the forked child without running the monitor's exit code.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_and_print_as_go_does() {
        assert_eq!(parse_go_duration("1s"), Ok(1_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("-2s"), Ok(-2_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        let err = |s: &str| parse_go_duration(s).unwrap_err().to_string();
        assert_eq!(err("10"), "time: missing unit in duration \"10\"");
        assert_eq!(err("1x"), "time: unknown unit \"x\" in duration \"1x\"");
        assert_eq!(err("abc"), "time: invalid duration \"abc\"");
        assert_eq!(
            err("1é"),
            "time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\""
        );
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(300_000_000), "300ms");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(30_000_000_000), "30s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(1_000_000), "1ms");
        assert_eq!(go_duration(1_500), "1.5µs");
    }

    #[test]
    fn merge_takes_what_the_user_left_out_from_the_image() {
        let image = HealthConfig {
            test: vec!["CMD".into(), "true".into()],
            interval: 5,
            retries: 7,
            ..Default::default()
        };
        let user = HealthConfig {
            interval: 9,
            ..Default::default()
        };
        let m = merge(Some(user), Some(image.clone())).unwrap();
        assert_eq!((m.test, m.interval, m.retries), (image.test.clone(), 9, 7));
        assert_eq!(merge(None, Some(image.clone())), Some(image));
    }

    #[test]
    fn image_healthchecks_read_as_docker_writes_them() {
        let h: HealthConfig =
            serde_json::from_str(r#"{"Test":null,"Interval":5,"StartInterval":7}"#).unwrap();
        assert_eq!((h.test.len(), h.interval, h.start_interval), (0, 5, 7));
        assert_eq!(probe_command(&h), None);
        let none = HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&none).unwrap(),
            r#"{"Test":["NONE"]}"#
        );
        assert_eq!(probe_command(&none), None);
        let cmd = HealthConfig {
            test: vec!["CMD".into(), "true".into()],
            ..Default::default()
        };
        assert_eq!(probe_command(&cmd), Some(vec!["true".to_string()]));
        assert!(validate(Some(&HealthConfig {
            retries: -1,
            ..Default::default()
        }))
        .is_err());
    }

    #[test]
    fn reports_parse() {
        assert_eq!(parse_report(b"P12\nhello", Some(3)), (3, "hello".into()));
        assert_eq!(parse_report(b"P12\nhello", None), (-1, "hello".into()));
        assert_eq!(parse_report(b"Eno such", Some(0)), (-1, "no such".into()));
        let long = [b"P1\n".as_slice(), &[b'a'; MAX_OUTPUT + 1]].concat();
        let (_, out) = parse_report(&long, Some(0));
        assert!(out.ends_with("a...") && out.len() == MAX_OUTPUT + 3);
        assert_eq!(probe_pid(b"P12\n"), Some(Pid::from_raw(12)));
        assert_eq!(probe_pid(b"P12"), None);
    }
}
