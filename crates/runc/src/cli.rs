//! Argument parsing and dispatch, one function per runc subcommand.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use berth_runtime::create::{Console, CreateOptions};
use berth_runtime::Container;
use clap::{Args, Parser, Subcommand};
use oci_spec::runtime::{LinuxResources, Process};

#[derive(Parser, Debug)]
#[command(
    name = "berth-runc",
    version,
    about = "berth's OCI runtime, runc-compatible"
)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = berth_runtime::state::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Also write errors to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format for --log: text or json.
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    /// Accepted for compatibility.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not supported yet).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility (rootless mode comes later).
    #[arg(long, global = true)]
    pub rootless: Option<String>,
    /// Accepted for compatibility.
    #[arg(long, global = true)]
    pub criu: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: i32,
    id: String,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a container.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create and start a container.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
    },
    /// Print a container's state as JSON.
    State { id: String },
    /// Send a signal to the container's init (default SIGTERM).
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container.
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Run a process in a running container.
    Exec(Box<ExecArgs>),
    /// List the processes of a container.
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Change a container's resource limits.
    Update(UpdateArgs),
    /// List containers.
    List {
        #[arg(short, long)]
        quiet: bool,
        #[arg(short, long, default_value = "table")]
        format: String,
    },
    /// Write a default config.json.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print what this runtime supports, as JSON.
    Features,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    #[arg(long)]
    cwd: Option<PathBuf>,
    #[arg(short, long)]
    env: Vec<String>,
    #[arg(short, long)]
    tty: bool,
    /// UID[:GID]
    #[arg(short, long)]
    user: Option<String>,
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    #[arg(short, long)]
    process: Option<PathBuf>,
    #[arg(short, long)]
    detach: bool,
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    #[arg(long = "process-label")]
    process_label: Option<String>,
    #[arg(long)]
    apparmor: Option<String>,
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    #[arg(short, long)]
    cap: Vec<String>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: i32,
    id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// A JSON file of linux.resources, or - for stdin.
    #[arg(short, long)]
    resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    cpu_quota: Option<i64>,
    #[arg(long = "cpu-shares")]
    cpu_shares: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    #[arg(long)]
    memory: Option<String>,
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    #[arg(long = "memory-swap")]
    memory_swap: Option<String>,
    #[arg(long = "pids-limit")]
    pids_limit: Option<i64>,
    id: String,
}

pub fn dispatch(cli: Cli) -> Result<i32> {
    if cli.systemd_cgroup {
        bail!("--systemd-cgroup: the systemd cgroup driver is not supported yet; use cgroupfs");
    }
    let root = cli.root;
    let load = |id: &str| Container::load(&root, id).map_err(anyhow::Error::from);
    match cli.cmd {
        Cmd::Create(a) => {
            let console = a
                .console_socket
                .clone()
                .map_or(Console::None, Console::Socket);
            berth_runtime::create::create(create_options(&root, a, console))?;
            Ok(0)
        }
        Cmd::Start { id } => {
            warn_all(berth_runtime::start::start(&load(&id)?)?);
            Ok(0)
        }
        Cmd::Run {
            create,
            detach,
            keep,
        } => run(&root, create, detach, keep),
        Cmd::State { id } => {
            let state = load(&id)?.oci_state();
            println!("{}", serde_json::to_string_pretty(&state)?);
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => {
            let sig = berth_runtime::kill::parse_signal(&signal)?;
            berth_runtime::kill::kill(&load(&id)?, sig, all)?;
            Ok(0)
        }
        Cmd::Delete { force, id } => {
            let c = match Container::load(&root, &id) {
                Ok(c) => c,
                // runc: deleting a missing container with --force succeeds.
                Err(berth_runtime::Error::NotFound(_)) if force => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            warn_all(berth_runtime::delete::delete(&c, force)?);
            Ok(0)
        }
        Cmd::Exec(a) => exec(&root, *a),
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => ps(&load(&id)?, &format, ps_args),
        Cmd::Pause { id } => {
            berth_runtime::pause::pause(&load(&id)?)?;
            Ok(0)
        }
        Cmd::Resume { id } => {
            berth_runtime::pause::resume(&load(&id)?)?;
            Ok(0)
        }
        Cmd::Update(a) => {
            let c = load(&a.id)?;
            berth_runtime::update::update(&c, &resources(&a)?)?;
            Ok(0)
        }
        Cmd::List { quiet, format } => list(&root, quiet, &format),
        Cmd::Spec { bundle } => {
            let path = bundle.join("config.json");
            if path.exists() {
                bail!("File {} exists. Remove it first", path.display());
            }
            let text = serde_json::to_string_pretty(&crate::cli::default_spec())?;
            std::fs::write(&path, text + "\n").with_context(|| path.display().to_string())?;
            Ok(0)
        }
        Cmd::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
    }
}

fn warn_all(warnings: Vec<String>) {
    let log = crate::output::Log::new(None, String::new());
    for w in warnings {
        log.warn(&w);
    }
}

fn create_options(root: &std::path::Path, a: CreateArgs, console: Console) -> CreateOptions {
    let _ = a.no_new_keyring;
    CreateOptions {
        root: root.to_path_buf(),
        id: a.id,
        bundle: a.bundle,
        console,
        pid_file: a.pid_file,
        no_pivot: a.no_pivot,
        preserve_fds: a.preserve_fds,
    }
}

fn run(root: &std::path::Path, a: CreateArgs, detach: bool, keep: bool) -> Result<i32> {
    let terminal = berth_runtime::config::load(&a.bundle)
        .ok()
        .and_then(|b| b.spec.process().as_ref().and_then(|p| p.terminal()))
        .unwrap_or(false);
    let console = match (&a.console_socket, terminal, detach) {
        (Some(s), _, _) => Console::Socket(s.clone()),
        (None, true, false) => Console::Internal,
        _ => Console::None,
    };
    if detach {
        let created = berth_runtime::create::create(create_options(root, a, console))?;
        warn_all(berth_runtime::start::start(&created.container)?);
        return Ok(0);
    }
    // Block signals before any fork or thread: they are forwarded to the container.
    let fwd = berth_runtime::wait::Forwarder::new()?;
    let created = berth_runtime::create::create_attached(create_options(root, a, console))?;
    let c = created.container;
    let started = berth_runtime::start::start(&c);
    let code = match started {
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
    if !keep {
        warn_all(berth_runtime::delete::delete(&c, true)?);
    }
    Ok(code?)
}

fn exec(root: &std::path::Path, a: ExecArgs) -> Result<i32> {
    let c = Container::load(root, &a.id)?;
    let mut process: Process = match &a.process {
        Some(p) => {
            let data = std::fs::read(p).with_context(|| format!("process {}", p.display()))?;
            serde_json::from_slice(&data)
                .with_context(|| format!("process {}: invalid JSON", p.display()))?
        }
        None => {
            if a.command.is_empty() {
                bail!("exec: no command given (use ARGS or --process)");
            }
            let mut p = berth_runtime::exec::default_process(&c)?;
            p.set_args(Some(a.command.clone()));
            p.set_terminal(Some(a.tty));
            p
        }
    };
    if let Some(cwd) = &a.cwd {
        process.set_cwd(cwd.clone());
    }
    if !a.env.is_empty() {
        let mut env = process.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        process.set_env(Some(env));
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u.parse()?, g.parse()?),
            None => (u.parse()?, 0),
        };
        process.user_mut().set_uid(uid);
        process.user_mut().set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        process
            .user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        add_caps(&mut process, &a.cap)?;
    }
    if a.tty {
        process.set_terminal(Some(true));
    }
    let terminal = process.terminal().unwrap_or(false);
    let console = match (&a.console_socket, terminal, a.detach) {
        (Some(s), _, _) => Console::Socket(s.clone()),
        (None, true, false) => Console::Internal,
        _ => Console::None,
    };
    let fwd = if a.detach {
        None
    } else {
        Some(berth_runtime::wait::Forwarder::new()?)
    };
    let execed = berth_runtime::exec::exec(
        &c,
        berth_runtime::exec::ExecOptions {
            process,
            console,
            pid_file: a.pid_file.clone(),
            preserve_fds: a.preserve_fds,
            attached: !a.detach,
        },
    )?;
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

fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut v = match &a.resources {
        Some(p) => {
            let data = if p.as_os_str() == "-" {
                let mut s = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                std::fs::read(p).with_context(|| p.display().to_string())?
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
    if let Some(m) = &a.memory {
        set("memory", "limit", parse_size(m)?.into());
    }
    if let Some(m) = &a.memory_reservation {
        set("memory", "reservation", parse_size(m)?.into());
    }
    if let Some(m) = &a.memory_swap {
        set("memory", "swap", parse_size(m)?.into());
    }
    if let Some(x) = a.cpu_shares {
        set("cpu", "shares", x.into());
    }
    if let Some(x) = a.cpu_quota {
        set("cpu", "quota", x.into());
    }
    if let Some(x) = a.cpu_period {
        set("cpu", "period", x.into());
    }
    if let Some(x) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", x.into());
    }
    if let Some(x) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", x.into());
    }
    if let Some(x) = &a.cpuset_cpus {
        set("cpu", "cpus", x.clone().into());
    }
    if let Some(x) = &a.cpuset_mems {
        set("cpu", "mems", x.clone().into());
    }
    if let Some(x) = a.pids_limit {
        set("pids", "limit", x.into());
    }
    if let Some(x) = a.blkio_weight {
        set("blockIO", "weight", x.into());
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
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps_list(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
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
