//! Argument parsing and dispatch, one function per runc subcommand.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_runtime::create::{Console, CreateOptions};
use berth_runtime::Container;
use oci_spec::runtime::{LinuxResources, Process};

use crate::args::{flag, opt, parse, usage, Flag, Matches};

const GLOBAL: &[Flag] = &[
    opt(
        "root",
        None,
        "root directory for container state (default /run/berth-runc)",
    ),
    opt("log", None, "also write errors to this file"),
    opt("log-format", None, "log format for --log: text or json"),
    flag("debug", None, "accepted for compatibility"),
    flag(
        "systemd-cgroup",
        None,
        "manage cgroups with systemd (not supported yet)",
    ),
    opt("rootless", None, "accepted for compatibility"),
    opt("criu", None, "accepted for compatibility"),
    flag("help", Some('h'), "show help"),
    flag("version", Some('v'), "print the version"),
];

const CREATE: &[Flag] = &[
    opt(
        "bundle",
        Some('b'),
        "path to the bundle directory (default .)",
    ),
    opt(
        "console-socket",
        None,
        "unix socket that receives the pty master",
    ),
    opt("pid-file", None, "write the container's pid here"),
    flag(
        "no-pivot",
        None,
        "move the rootfs with MS_MOVE and chroot instead of pivot_root",
    ),
    flag("no-new-keyring", None, "accepted for compatibility"),
    opt(
        "preserve-fds",
        None,
        "pass this many extra fds (from 3) to the container",
    ),
];

const RUN: &[Flag] = &[
    flag("detach", Some('d'), "return once the container has started"),
    flag("keep", None, "keep the container's state after it exits"),
];

const EXEC: &[Flag] = &[
    opt(
        "console-socket",
        None,
        "unix socket that receives the pty master",
    ),
    opt("cwd", None, "working directory inside the container"),
    opt("env", Some('e'), "add an environment variable (repeatable)"),
    flag("tty", Some('t'), "allocate a pseudo-terminal"),
    opt("user", Some('u'), "UID[:GID] to run as"),
    opt(
        "additional-gids",
        Some('g'),
        "an additional group (repeatable)",
    ),
    opt("process", Some('p'), "path to a process.json"),
    flag("detach", Some('d'), "do not wait for the process"),
    opt("pid-file", None, "write the process's pid here"),
    opt(
        "process-label",
        None,
        "accepted for compatibility (SELinux)",
    ),
    opt("apparmor", None, "accepted for compatibility"),
    flag("no-new-privs", None, "set no_new_privs"),
    opt("cap", Some('c'), "add a capability (repeatable)"),
    opt(
        "preserve-fds",
        None,
        "pass this many extra fds (from 3) to the process",
    ),
];

const UPDATE: &[Flag] = &[
    opt(
        "resources",
        Some('r'),
        "a JSON file of linux.resources, or - for stdin",
    ),
    opt("blkio-weight", None, "block IO weight (10-1000)"),
    opt("cpu-period", None, "CPU CFS period in microseconds"),
    opt("cpu-quota", None, "CPU CFS quota in microseconds"),
    opt("cpu-shares", None, "CPU shares"),
    opt("cpu-rt-period", None, "realtime period in microseconds"),
    opt("cpu-rt-runtime", None, "realtime runtime in microseconds"),
    opt("cpuset-cpus", None, "CPUs to use"),
    opt("cpuset-mems", None, "memory nodes to use"),
    opt("memory", None, "memory limit (e.g. 64M)"),
    opt("memory-reservation", None, "memory soft limit"),
    opt("memory-swap", None, "memory plus swap limit"),
    opt("pids-limit", None, "maximum number of pids"),
];

const EVENTS: &[Flag] = &[
    flag("stats", None, "print one stats event and exit"),
    opt("interval", None, "time between stats events (default 5s)"),
];
const KILL: &[Flag] = &[flag(
    "all",
    Some('a'),
    "signal every process in the container",
)];
const DELETE: &[Flag] = &[flag(
    "force",
    Some('f'),
    "kill the container if it is still running",
)];
const PS: &[Flag] = &[opt("format", Some('f'), "table or json")];
const LIST: &[Flag] = &[
    flag("quiet", Some('q'), "print only ids"),
    opt("format", Some('f'), "table or json"),
];
const SPEC: &[Flag] = &[
    opt(
        "bundle",
        Some('b'),
        "where to write config.json (default .)",
    ),
    flag("rootless", None, "accepted for compatibility"),
];

/// One verb: its flags, how many positionals, whether it takes trailing args, and its help.
struct Verb {
    name: &'static str,
    flags: &'static [&'static [Flag]],
    positionals: usize,
    required: usize,
    trailing: bool,
    synopsis: &'static str,
    about: &'static str,
}

const fn verb(
    name: &'static str,
    flags: &'static [&'static [Flag]],
    (positionals, required, trailing): (usize, usize, bool),
    synopsis: &'static str,
    about: &'static str,
) -> Verb {
    Verb {
        name,
        flags,
        positionals,
        required,
        trailing,
        synopsis,
        about,
    }
}

const ID: (usize, usize, bool) = (1, 1, false);

const VERBS: &[Verb] = &[
    verb(
        "create",
        &[CREATE, GLOBAL],
        ID,
        "[options] <id>",
        "create a container",
    ),
    verb("start", &[GLOBAL], ID, "<id>", "start a created container"),
    verb(
        "run",
        &[CREATE, RUN, GLOBAL],
        ID,
        "[options] <id>",
        "create and start a container",
    ),
    verb(
        "state",
        &[GLOBAL],
        ID,
        "<id>",
        "print a container's state as JSON",
    ),
    verb(
        "kill",
        &[KILL, GLOBAL],
        (2, 1, false),
        "[options] <id> [signal]",
        "send a signal (default SIGTERM)",
    ),
    verb(
        "delete",
        &[DELETE, GLOBAL],
        ID,
        "[options] <id>",
        "delete a container",
    ),
    verb(
        "exec",
        &[EXEC, GLOBAL],
        (1, 1, true),
        "[options] <id> <command> [args...]",
        "run a process in a running container",
    ),
    verb(
        "ps",
        &[PS, GLOBAL],
        (1, 1, true),
        "[options] <id> [ps options]",
        "list the processes of a container",
    ),
    verb(
        "pause",
        &[GLOBAL],
        ID,
        "<id>",
        "freeze every process of a container",
    ),
    verb("resume", &[GLOBAL], ID, "<id>", "thaw a paused container"),
    verb(
        "events",
        &[EVENTS, GLOBAL],
        ID,
        "[options] <id>",
        "print stats and OOM events as JSON lines",
    ),
    verb(
        "update",
        &[UPDATE, GLOBAL],
        ID,
        "[options] <id>",
        "change a container's resource limits",
    ),
    verb(
        "list",
        &[LIST, GLOBAL],
        (0, 0, false),
        "[options]",
        "list containers",
    ),
    verb(
        "spec",
        &[SPEC, GLOBAL],
        (0, 0, false),
        "[options]",
        "write a default config.json",
    ),
    verb(
        "features",
        &[GLOBAL],
        (0, 0, false),
        "",
        "print what this runtime supports, as JSON",
    ),
];

/// A parsed command line.
pub struct Cli {
    pub verb: &'static str,
    pub m: Matches,
    pub root: PathBuf,
    pub log: Option<PathBuf>,
    pub log_format: String,
}

/// What to do: run a verb, or print text and exit 0 (help, version).
pub enum Parsed {
    Run(Cli),
    Print(String),
}

fn top_usage() -> String {
    let mut s = String::from(
        "berth-runc - berth's OCI runtime, runc-compatible\n\nUSAGE:\n   berth-runc [global options] command [command options] [arguments...]\n\nCOMMANDS:\n",
    );
    for v in VERBS {
        s.push_str(&format!("   {:<10}{}\n", v.name, v.about));
    }
    let globals = usage("", "", "", &[GLOBAL]);
    if let Some((_, opts)) = globals.split_once("OPTIONS:\n") {
        s.push_str("\nGLOBAL OPTIONS:\n");
        s.push_str(opts);
    }
    s
}

/// Parses argv (without the program name).
pub fn parse_cli(argv: &[String]) -> Result<Parsed, String> {
    let top = parse(argv, &[GLOBAL], 1, true)?;
    if top.has("version") {
        return Ok(Parsed::Print(format!(
            "berth-runc version {}\nspec: {}\n",
            env!("CARGO_PKG_VERSION"),
            berth_runtime::state::OCI_VERSION
        )));
    }
    let Some(name) = top.positionals.first() else {
        return Ok(Parsed::Print(top_usage()));
    };
    let verb = VERBS
        .iter()
        .find(|v| v.name == name)
        .ok_or_else(|| format!("no such command {name:?} (try --help)"))?;
    let m = parse(&top.trailing, verb.flags, verb.positionals, verb.trailing)?;
    if m.has("help") || top.has("help") {
        return Ok(Parsed::Print(usage(
            verb.name,
            verb.synopsis,
            verb.about,
            verb.flags,
        )));
    }
    if m.positionals.len() < verb.required {
        return Err(format!(
            "{}: missing container id (usage: berth-runc {} {})",
            verb.name, verb.name, verb.synopsis
        ));
    }
    if m.positionals.len() > verb.positionals {
        return Err(format!(
            "{}: unexpected argument {:?}",
            verb.name, m.positionals[verb.positionals]
        ));
    }
    let systemd_cgroup = m.has("systemd-cgroup") || top.has("systemd-cgroup");
    // Global flags may come before or after the verb; the later one wins.
    let pick = |k: &str| m.get(k).or(top.get(k)).map(String::from);
    Ok(Parsed::Run(Cli {
        verb: verb.name,
        root: pick("root").map_or_else(
            || PathBuf::from(berth_runtime::state::DEFAULT_ROOT),
            PathBuf::from,
        ),
        log: pick("log").map(PathBuf::from),
        log_format: pick("log-format").unwrap_or_else(|| "text".into()),
        m: m.with_systemd_cgroup(systemd_cgroup),
    }))
}

impl Cli {
    /// Whether this command forks a process into a container.
    pub fn enters_container(&self) -> bool {
        matches!(self.verb, "create" | "run" | "exec")
    }

    fn id(&self) -> &str {
        self.m
            .positionals
            .first()
            .map(String::as_str)
            .unwrap_or_default()
    }
}

fn num<T: std::str::FromStr>(m: &Matches, k: &str) -> Result<Option<T>> {
    m.get(k)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| anyhow::anyhow!("invalid value {v:?} for --{k}"))
        })
        .transpose()
}

pub fn dispatch(cli: Cli) -> Result<i32> {
    if cli.m.systemd_cgroup {
        bail!("--systemd-cgroup: the systemd cgroup driver is not supported yet; use cgroupfs");
    }
    let root = cli.root.clone();
    let m = &cli.m;
    let id = cli.id().to_string();
    // Compiling a profile the size of Docker's takes longer than the rest of a container's
    // start; the compiled program is kept, keyed by the profile and libseccomp's version,
    // in root's own directory (not under --root, whose entries are container IDs).
    berth_seccomp::cache::set_dir(std::path::Path::new("/run/berth/seccomp"));
    let load = |id: &str| Container::load(&root, id).map_err(anyhow::Error::from);
    match cli.verb {
        "create" => {
            let console = m
                .get("console-socket")
                .map_or(Console::None, |s| Console::Socket(s.into()));
            let created = berth_runtime::create::create(create_options(&root, m, id, console)?)?;
            warn_all(created.warnings);
            Ok(0)
        }
        "start" => {
            warn_all(berth_runtime::start::start(&load(&id)?)?);
            Ok(0)
        }
        "run" => run(&root, m, id),
        "state" => {
            let state = load(&id)?.oci_state();
            println!("{}", serde_json::to_string_pretty(&state)?);
            Ok(0)
        }
        "kill" => {
            let sig = m.positionals.get(1).map_or("SIGTERM", String::as_str);
            let sig = berth_runtime::kill::parse_signal(sig)?;
            berth_runtime::kill::kill(&load(&id)?, sig, m.has("all"))?;
            Ok(0)
        }
        "delete" => {
            let force = m.has("force");
            let c = match Container::load(&root, &id) {
                Ok(c) => c,
                // runc: deleting a missing container with --force succeeds.
                Err(berth_runtime::Error::NotFound(_)) if force => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            warn_all(berth_runtime::delete::delete(&c, force)?);
            Ok(0)
        }
        "exec" => exec(&root, m, id),
        "ps" => ps(
            &load(&id)?,
            m.get("format").unwrap_or("table"),
            m.trailing.clone(),
        ),
        "pause" => {
            berth_runtime::pause::pause(&load(&id)?)?;
            Ok(0)
        }
        "resume" => {
            berth_runtime::pause::resume(&load(&id)?)?;
            Ok(0)
        }
        "update" => {
            let c = load(&id)?;
            berth_runtime::update::update(&c, &resources(m)?)?;
            Ok(0)
        }
        "events" => events(&load(&id)?, m),
        "list" => list(&root, m.has("quiet"), m.get("format").unwrap_or("table")),
        "spec" => {
            let path = Path::new(m.get("bundle").unwrap_or(".")).join("config.json");
            if path.exists() {
                bail!("File {} exists. Remove it first", path.display());
            }
            let text = serde_json::to_string_pretty(&default_spec())?;
            std::fs::write(&path, text + "\n").with_context(|| path.display().to_string())?;
            Ok(0)
        }
        "features" => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
        other => bail!("no such command {other:?}"),
    }
}

fn warn_all(warnings: Vec<String>) {
    let log = crate::output::Log::new(None, String::new());
    for w in warnings {
        log.warn(&w);
    }
}

fn create_options(root: &Path, m: &Matches, id: String, console: Console) -> Result<CreateOptions> {
    Ok(CreateOptions {
        root: root.to_path_buf(),
        id,
        bundle: PathBuf::from(m.get("bundle").unwrap_or(".")),
        console,
        pid_file: m.get("pid-file").map(PathBuf::from),
        no_pivot: m.has("no-pivot"),
        preserve_fds: num(m, "preserve-fds")?.unwrap_or(0),
    })
}

fn run(root: &Path, m: &Matches, id: String) -> Result<i32> {
    let detach = m.has("detach");
    // Without a console socket, a foreground run bridges the terminal itself (if the
    // process asks for one).
    let console = match (m.get("console-socket"), detach) {
        (Some(s), _) => Console::Socket(s.into()),
        (None, false) => Console::Internal,
        (None, true) => Console::None,
    };
    if detach {
        let created = berth_runtime::create::create(create_options(root, m, id, console)?)?;
        warn_all(created.warnings);
        warn_all(berth_runtime::start::start(&created.container)?);
        return Ok(0);
    }
    // Block signals before any fork or thread: they are forwarded to the container.
    let fwd = berth_runtime::wait::Forwarder::new()?;
    let created = berth_runtime::create::create_attached(create_options(root, m, id, console)?)?;
    warn_all(created.warnings);
    let c = created.container;
    let code = match berth_runtime::start::start(&c) {
        Ok(w) => {
            warn_all(w);
            let tty = created
                .console
                .as_ref()
                .map(std::os::fd::AsRawFd::as_raw_fd);
            let bridge = created
                .console
                .map(berth_runtime::console::bridge)
                .transpose()?;
            let code = fwd.wait(c.record.init_pid, tty);
            if let Some(b) = bridge {
                b.finish();
            }
            code
        }
        Err(e) => Err(e),
    };
    if !m.has("keep") {
        warn_all(berth_runtime::delete::delete(&c, true)?);
    }
    Ok(code?)
}

fn exec(root: &Path, m: &Matches, id: String) -> Result<i32> {
    let c = Container::load(root, &id)?;
    let detach = m.has("detach");
    let tty = m.has("tty");
    let mut process: Process = match m.get("process") {
        Some(p) => {
            let data = std::fs::read(p).with_context(|| format!("process {p}"))?;
            serde_json::from_slice(&data).with_context(|| format!("process {p}: invalid JSON"))?
        }
        None => {
            if m.trailing.is_empty() {
                bail!("exec: no command given (use ARGS or --process)");
            }
            let mut p = berth_runtime::exec::default_process(&c)?;
            p.set_args(Some(m.trailing.clone()));
            p.set_terminal(Some(tty));
            p
        }
    };
    if let Some(cwd) = m.get("cwd") {
        process.set_cwd(cwd.into());
    }
    let env = m.all("env");
    if !env.is_empty() {
        let mut all = process.env().clone().unwrap_or_default();
        all.extend(env);
        process.set_env(Some(all));
    }
    if let Some(u) = m.get("user") {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u.parse()?, g.parse()?),
            None => (u.parse()?, 0),
        };
        process.user_mut().set_uid(uid);
        process.user_mut().set_gid(gid);
    }
    let gids = m.all("additional-gids");
    if !gids.is_empty() {
        let gids = gids
            .iter()
            .map(|g| {
                g.parse::<u32>()
                    .with_context(|| format!("--additional-gids {g}"))
            })
            .collect::<Result<Vec<_>>>()?;
        process.user_mut().set_additional_gids(Some(gids));
    }
    if m.has("no-new-privs") {
        process.set_no_new_privileges(Some(true));
    }
    let caps = m.all("cap");
    if !caps.is_empty() {
        add_caps(&mut process, &caps)?;
    }
    if tty {
        process.set_terminal(Some(true));
    }
    let terminal = process.terminal().unwrap_or(false);
    let console = match (m.get("console-socket"), terminal, detach) {
        (Some(s), _, _) => Console::Socket(s.into()),
        (None, true, false) => Console::Internal,
        _ => Console::None,
    };
    let fwd = if detach {
        None
    } else {
        Some(berth_runtime::wait::Forwarder::new()?)
    };
    let execed = berth_runtime::exec::exec(
        &c,
        berth_runtime::exec::ExecOptions {
            process,
            console,
            pid_file: m.get("pid-file").map(PathBuf::from),
            preserve_fds: num(m, "preserve-fds")?.unwrap_or(0),
            attached: !detach,
        },
    )?;
    warn_all(execed.warnings);
    let Some(fwd) = fwd else { return Ok(0) };
    let tty = execed.console.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
    let bridge = execed
        .console
        .map(berth_runtime::console::bridge)
        .transpose()?;
    let code = fwd.wait(execed.pid, tty)?;
    if let Some(b) = bridge {
        b.finish();
    }
    Ok(code)
}

/// Parses runc's interval form: `5s`, `500ms`, `1m`, or plain seconds.
fn parse_interval(s: &str) -> Result<std::time::Duration> {
    let bad = || anyhow::anyhow!("invalid --interval {s:?} (use e.g. 5s or 500ms)");
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn events(c: &Container, m: &Matches) -> Result<i32> {
    if m.has("stats") {
        println!("{}", berth_runtime::events::stats(c)?);
        return Ok(0);
    }
    let interval = parse_interval(m.get("interval").unwrap_or("5s"))?;
    let mut ooms = berth_runtime::events::oom_kills(c).unwrap_or(0);
    // Poll often for OOM kills, emit stats every interval, stop when the container does.
    let tick = interval.min(std::time::Duration::from_millis(200));
    let mut next_stats = std::time::Instant::now();
    while c.status() != berth_runtime::Status::Stopped {
        let now_ooms = berth_runtime::events::oom_kills(c).unwrap_or(ooms);
        if now_ooms > ooms {
            println!("{}", berth_runtime::events::oom(c));
            ooms = now_ooms;
        }
        if std::time::Instant::now() >= next_stats {
            println!("{}", berth_runtime::events::stats(c)?);
            next_stats += interval;
        }
        std::thread::sleep(tick);
    }
    Ok(0)
}

fn add_caps(process: &mut Process, caps: &[String]) -> Result<()> {
    let mut c = process
        .capabilities()
        .clone()
        .unwrap_or_else(|| serde_json::from_str("{}").expect("empty capabilities parse"));
    let mut parsed = Vec::new();
    for name in caps {
        let v: oci_spec::runtime::Capability =
            serde_json::from_value(serde_json::Value::String(name.clone()))
                .with_context(|| format!("--cap: unknown capability {name}"))?;
        parsed.push(v);
    }
    let extend = |set: Option<oci_spec::runtime::Capabilities>| {
        let mut s = set.unwrap_or_default();
        s.extend(parsed.iter().copied());
        Some(s)
    };
    c.set_bounding(extend(c.bounding().clone()));
    c.set_effective(extend(c.effective().clone()));
    c.set_permitted(extend(c.permitted().clone()));
    process.set_capabilities(Some(c));
    Ok(())
}

fn ps(c: &Container, format: &str, ps_args: Vec<String>) -> Result<i32> {
    let pids = berth_runtime::update::pids(c)?;
    if format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    if format != "table" {
        bail!("invalid format option {format:?}: use table or json");
    }
    let args = if ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        ps_args
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for line in lines {
        let pid: Option<i32> = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}

fn list(root: &std::path::Path, quiet: bool, format: &str) -> Result<i32> {
    let containers = Container::list(root)?;
    if quiet {
        for c in &containers {
            println!("{}", c.id());
        }
        return Ok(0);
    }
    let owner = |c: &Container| {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata(&c.dir).map(|m| m.uid()).unwrap_or(0);
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or(uid.to_string(), |u| u.name)
    };
    match format {
        "json" => {
            let v: Vec<serde_json::Value> = containers
                .iter()
                .map(|c| {
                    let s = c.oci_state();
                    serde_json::json!({
                        "ociVersion": s.oci_version, "id": s.id, "pid": s.pid,
                        "status": s.status, "bundle": s.bundle, "rootfs": s.rootfs,
                        "created": s.created, "owner": owner(c),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string(&v)?);
        }
        "table" => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for c in &containers {
                let s = c.oci_state();
                rows.push(vec![
                    s.id,
                    s.pid.to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    s.created,
                    owner(c),
                ]);
            }
            print!("{}", crate::output::table(&rows));
        }
        other => bail!("invalid format option {other:?}: use table or json"),
    }
    Ok(0)
}

/// Parses sizes like runc/docker do: 1024, 16k, 64M, 1g (binary units); -1 for unlimited.
fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().with_context(|| format!("invalid size {s:?}"))?;
    Ok((n * mult as f64) as i64)
}

fn resources(m: &Matches) -> Result<LinuxResources> {
    let mut v = match m.get("resources") {
        Some(p) => {
            let data = if p == "-" {
                let mut s = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                std::fs::read(p).with_context(|| p.to_string())?
            };
            serde_json::from_slice(&data).context("--resources: invalid JSON")?
        }
        None => serde_json::json!({}),
    };
    let obj = v
        .as_object_mut()
        .context("--resources: not a JSON object")?;
    let mut set = |section: &str, key: &str, val: serde_json::Value| {
        let s = obj.entry(section).or_insert_with(|| serde_json::json!({}));
        s[key] = val;
    };
    for (flag, section, key) in [
        ("memory", "memory", "limit"),
        ("memory-reservation", "memory", "reservation"),
        ("memory-swap", "memory", "swap"),
    ] {
        if let Some(x) = m.get(flag) {
            set(section, key, parse_size(x)?.into());
        }
    }
    for (flag, section, key) in [
        ("cpu-shares", "cpu", "shares"),
        ("cpu-quota", "cpu", "quota"),
        ("cpu-period", "cpu", "period"),
        ("cpu-rt-period", "cpu", "realtimePeriod"),
        ("cpu-rt-runtime", "cpu", "realtimeRuntime"),
        ("pids-limit", "pids", "limit"),
        ("blkio-weight", "blockIO", "weight"),
    ] {
        if let Some(x) = num::<i64>(m, flag)? {
            set(section, key, x.into());
        }
    }
    for (flag, key) in [("cpuset-cpus", "cpus"), ("cpuset-mems", "mems")] {
        if let Some(x) = m.get(flag) {
            set("cpu", key, x.into());
        }
    }
    serde_json::from_value(v).context("--resources")
}

/// The same default config `runc spec` writes.
pub fn default_spec() -> serde_json::Value {
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    serde_json::json!({
        // 1.1.0, not our own newest version: crun 1.8 and older runtimes refuse anything newer.
        "ociVersion": "1.1.0",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": berth_runtime::state::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand",
            "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid",
            "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave", "runbindable",
            "rw", "shared", "slave", "strictatime", "suid", "sync", "tmpcopyup", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps_list(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {"io.github.berth.runtime": "berth-runc"}
    })
}

fn caps_list() -> Vec<String> {
    let mut v: Vec<String> = caps::all().into_iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s").unwrap().as_secs(), 5);
        assert_eq!(parse_interval("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_interval("2").unwrap().as_secs(), 2);
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("5h").is_err());
        assert!(parse_interval("x").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("16M").unwrap(), 16 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("64mb").unwrap(), 64 << 20);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn default_spec_is_valid() {
        let s: oci_spec::runtime::Spec = serde_json::from_value(default_spec()).unwrap();
        assert!(s.process().is_some());
    }
}
