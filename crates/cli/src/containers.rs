//! Container commands: run, create, start, ps, logs, stop, kill, rm, wait.

use std::io::Write;
use std::path::PathBuf;

use berth_engine::{Attach, Container, CreateOptions, Engine, EngineError, Kind, Status};
use serde_json::json;

use crate::args::{self, flag, opt, Flag, Matches};
use crate::format;
use crate::{Failure, Globals, Result};

/// Engine errors as docker reports them: its own status for a command that can't run, 125
/// for everything else `run`/`create`/`start` meet, 1 for the other commands.
fn engine_failure(e: EngineError, runs: bool) -> Failure {
    let status = match e.kind() {
        Kind::Command(s) => s,
        _ if runs => 125,
        _ => 1,
    };
    Failure::new(status, e.to_string())
}

fn open(g: &Globals, runs: bool) -> Result<Engine> {
    Engine::open(&g.root).map_err(|e| engine_failure(e, runs))
}

const CREATE_FLAGS: &[Flag] = &[
    flag("detach", Some('d')),
    opt("detach-keys", None),
    opt("expose", None),
    flag("interactive", Some('i')),
    flag("tty", Some('t')),
    flag("rm", None),
    opt("name", None),
    opt("env", Some('e')),
    opt("env-file", None),
    opt("workdir", Some('w')),
    opt("user", Some('u')),
    opt("entrypoint", None),
    opt("hostname", Some('h')),
    opt("label", Some('l')),
    opt("network", None),
    opt("net", None),
    opt("publish", Some('p')),
    flag("publish-all", Some('P')),
    opt("ip", None),
    opt("mac-address", None),
    opt("network-alias", None),
    opt("link", None),
    opt("cap-add", None),
    opt("cap-drop", None),
    flag("privileged", None),
    flag("read-only", None),
    opt("security-opt", None),
    opt("pull", None),
    opt("platform", None),
    flag("init", None),
    flag("sig-proxy", None),
    opt("stop-signal", None),
    opt("stop-timeout", None),
    opt("memory", Some('m')),
    opt("memory-swap", None),
    opt("cpus", None),
    opt("cpu-shares", Some('c')),
    opt("cpuset-cpus", None),
    opt("pids-limit", None),
    opt("ulimit", None),
    opt("device", None),
    opt("sysctl", None),
    opt("group-add", None),
    opt("add-host", None),
    opt("dns", None),
    opt("dns-search", None),
    opt("dns-option", None),
    opt("shm-size", None),
    opt("volume", Some('v')),
    opt("tmpfs", None),
    opt("mount", None),
    opt("ipc", None),
    opt("pid", None),
    opt("uts", None),
    opt("restart", None),
    opt("log-opt", None),
    opt("log-driver", None),
    opt("userns", None),
    opt("cgroupns", None),
    flag("oom-kill-disable", None),
    opt("cpuset-mems", None),
    opt("cpu-period", None),
    opt("cpu-quota", None),
    opt("memory-reservation", None),
    opt("blkio-weight", None),
    opt("kernel-memory", None),
    flag("help", None),
    opt("health-cmd", None),
    opt("health-interval", None),
    opt("health-timeout", None),
    opt("health-retries", None),
    opt("health-start-period", None),
    opt("health-start-interval", None),
    flag("no-healthcheck", None),
];

/// `run --help` and `create --help`: each flag of [`CREATE_FLAGS`] with docker's words.
/// A flag missing here is still listed, without a description.
const CREATE_HELP: &[(&str, &str, &str)] = &[
    ("add-host", "list", "Add a custom host-to-IP mapping (host:ip)"),
    ("blkio-weight", "uint16", "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)"),
    ("cap-add", "list", "Add Linux capabilities"),
    ("cap-drop", "list", "Drop Linux capabilities"),
    ("cgroupns", "string", "Cgroup namespace to use (host|private)\n'host':    Run the container in the Docker host's cgroup namespace\n'private': Run the container in its own private cgroup namespace\n'':        Use the cgroup namespace as configured by the\n           default-cgroupns-mode option on the daemon (default)"),
    ("cpu-period", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
    ("cpu-quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    ("cpu-shares", "int", "CPU shares (relative weight)"),
    ("cpus", "decimal", "Number of CPUs"),
    ("cpuset-cpus", "string", "CPUs in which to allow execution (0-3, 0,1)"),
    ("cpuset-mems", "string", "MEMs in which to allow execution (0-3, 0,1)"),
    ("detach", "", "Run container in background and print container ID"),
    ("detach-keys", "string", "Override the key sequence for detaching a container"),
    ("health-cmd", "string", "Command to run to check health"),
    ("health-interval", "duration", "Time between running the check (ms|s|m|h) (default 0s)"),
    ("health-retries", "int", "Consecutive failures needed to report unhealthy"),
    ("health-start-interval", "duration", "Time between running the check during the start period (ms|s|m|h) (default 0s)"),
    ("health-start-period", "duration", "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)"),
    ("health-timeout", "duration", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    ("no-healthcheck", "", "Disable any container-specified HEALTHCHECK"),
    ("device", "list", "Add a host device to the container"),
    ("dns", "list", "Set custom DNS servers"),
    ("dns-option", "list", "Set DNS options"),
    ("dns-search", "list", "Set custom DNS search domains"),
    ("entrypoint", "string", "Overwrite the default ENTRYPOINT of the image"),
    ("env", "list", "Set environment variables"),
    ("env-file", "list", "Read in a file of environment variables"),
    ("expose", "list", "Expose a port or a range of ports"),
    ("group-add", "list", "Add additional groups to join"),
    ("help", "", "Print usage"),
    ("hostname", "string", "Container host name"),
    ("init", "", "Run an init inside the container that forwards signals and reaps processes"),
    ("interactive", "", "Keep STDIN open even if not attached"),
    ("ipc", "string", "IPC mode to use"),
    ("kernel-memory", "bytes", "Kernel memory limit (deprecated, ignored)"),
    ("label", "list", "Set meta data on a container"),
    ("log-driver", "string", "Logging driver for the container"),
    ("log-opt", "list", "Log driver options"),
    ("memory", "bytes", "Memory limit"),
    ("memory-reservation", "bytes", "Memory soft limit"),
    ("memory-swap", "bytes", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    ("mount", "mount", "Attach a filesystem mount to the container"),
    ("name", "string", "Assign a name to the container"),
    ("ip", "string", "IPv4 address (e.g., 172.30.100.104)"),
    ("link", "list", "Add link to another container"),
    ("mac-address", "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    ("net", "network", "Connect a container to a network"),
    ("network", "network", "Connect a container to a network"),
    ("network-alias", "list", "Add network-scoped alias for the container"),
    ("publish", "list", "Publish a container's port(s) to the host"),
    ("publish-all", "", "Publish all exposed ports to random ports"),
    ("oom-kill-disable", "", "Disable OOM Killer"),
    ("pid", "string", "PID namespace to use"),
    ("pids-limit", "int", "Tune container pids limit (set -1 for unlimited)"),
    ("platform", "string", "Set platform if server is multi-platform capable"),
    ("privileged", "", "Give extended privileges to this container"),
    ("pull", "string", "Pull image before running (\"always\", \"missing\", \"never\") (default \"missing\")"),
    ("read-only", "", "Mount the container's root filesystem as read only"),
    ("restart", "string", "Restart policy to apply when a container exits (default \"no\")"),
    ("rm", "", "Automatically remove the container and its associated anonymous volumes when it exits"),
    ("security-opt", "list", "Security Options"),
    ("shm-size", "bytes", "Size of /dev/shm"),
    ("sig-proxy", "", "Proxy received signals to the process (default true)"),
    ("stop-signal", "string", "Signal to stop the container"),
    ("stop-timeout", "int", "Timeout (in seconds) to stop a container"),
    ("sysctl", "map", "Sysctl options (default map[])"),
    ("tmpfs", "list", "Mount a tmpfs directory"),
    ("tty", "", "Allocate a pseudo-TTY"),
    ("ulimit", "ulimit", "Ulimit options (default [])"),
    ("user", "string", "Username or UID (format: <name|uid>[:<group|gid>])"),
    ("userns", "string", "User namespace to use"),
    ("uts", "string", "UTS namespace to use"),
    ("volume", "list", "Bind mount a volume"),
    ("workdir", "string", "Working directory inside the container"),
];

/// Docker's usage text for `run` or `create`, from the flag table.
fn create_usage(cmd: &str) -> String {
    let what = if cmd == "run" {
        "Create and run a new container from an image"
    } else {
        "Create a new container"
    };
    let mut flags: Vec<&Flag> = CREATE_FLAGS.iter().collect();
    flags.sort_by_key(|f| f.long);
    let mut out =
        format!("\nUsage:  berth {cmd} [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n{what}\n\nOptions:\n");
    for f in flags {
        let (kind, text) = CREATE_HELP
            .iter()
            .find(|(l, _, _)| *l == f.long)
            .map_or(("", ""), |(_, k, t)| (*k, *t));
        let kind = if f.value && kind.is_empty() {
            "string"
        } else {
            kind
        };
        let short = f.short.map_or("    ".to_string(), |c| format!("-{c}, "));
        let left = format!("  {short}--{} {kind}", f.long);
        let mut lines = text.lines();
        out.push_str(&format!("{left:<33}{}\n", lines.next().unwrap_or_default()));
        for l in lines {
            out.push_str(&format!("{:33}{l}\n", ""));
        }
    }
    out
}

/// `--health-*` and `--no-healthcheck`, checked as docker's CLI checks them (the engine
/// checks the rest, as the daemon does).
fn health_flags(cmd: &str, m: &Matches) -> Result<Option<berth_engine::health::HealthConfig>> {
    let duration = |name: &str| -> Result<i64> {
        m.get(name).map_or(Ok(0), |v| {
            berth_engine::health::parse_go_duration(v).map_err(|e| {
                Failure::usage(
                    cmd,
                    format!("invalid argument {v:?} for \"--{name}\" flag: {e}"),
                )
            })
        })
    };
    let interval = duration("health-interval")?;
    let timeout = duration("health-timeout")?;
    let start_period = duration("health-start-period")?;
    let start_interval = duration("health-start-interval")?;
    let retries: i64 = match m.get("health-retries") {
        None => 0,
        Some(v) => v.parse().map_err(|_| {
            Failure::usage(cmd, format!("invalid argument {v:?} for \"--health-retries\" flag: strconv.ParseInt: parsing {v:?}: invalid syntax"))
        })?,
    };
    let test = m.get("health-cmd").unwrap_or_default();
    let have = !test.is_empty()
        || interval != 0
        || timeout != 0
        || start_period != 0
        || start_interval != 0
        || retries != 0;
    if m.on("no-healthcheck") {
        if have {
            return Err(Failure::usage(
                cmd,
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        return Ok(Some(berth_engine::health::HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        }));
    }
    if !have {
        return Ok(None);
    }
    for (name, v) in [
        ("interval", interval),
        ("timeout", timeout),
        ("retries", retries),
        ("start-period", start_period),
        ("start-interval", start_interval),
    ] {
        if v < 0 {
            return Err(Failure::usage(
                cmd,
                format!("--health-{name} cannot be negative"),
            ));
        }
    }
    Ok(Some(berth_engine::health::HealthConfig {
        test: if test.is_empty() {
            Vec::new()
        } else {
            vec!["CMD-SHELL".into(), test.to_string()]
        },
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
    }))
}

/// go-units' RAMInBytes: `512`, `64m`, `1.5g`, `2GiB`, binary multiples; docker's message on
/// a bad one.
pub fn ram_in_bytes(flag: &str, v: &str) -> Result<i64> {
    parse_ram(v).ok_or_else(|| {
        Failure::usage(
            "run",
            format!("invalid argument {v:?} for \"{flag}\" flag: invalid size: '{v}'"),
        )
    })
}

/// go-units' grammar, `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`, whole: no sign, no
/// surrounding space, digits on both sides of a point. None for anything else, and for a
/// size past what an i64 holds (go-units would wrap it).
fn parse_ram(v: &str) -> Option<i64> {
    let b = v.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            i += 1;
            continue;
        }
        break;
    }
    // "1.5.5" matches the pattern and then fails as a float, as in go-units.
    let n: f64 = v[..i].parse().ok()?;
    let mut unit = &v[i..];
    unit = unit.strip_prefix(' ').unwrap_or(unit);
    let lower = unit.to_ascii_lowercase();
    let mut u = lower.as_str();
    let power = match u.chars().next() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            u = &u[1..];
            "kmgtp".find(c).map_or(0, |p| p + 1)
        }
        _ => 0,
    };
    u = u.strip_prefix('i').unwrap_or(u);
    u = u.strip_prefix('b').unwrap_or(u);
    if !u.is_empty() {
        return None;
    }
    if !v[..i].contains('.') {
        // Whole numbers exactly (go-units goes through a float64, exact below 2^53).
        let n: u128 = v[..i].parse().ok()?;
        return i64::try_from(n.checked_mul(1u128 << (10 * power))?).ok();
    }
    let bytes = n * 1024f64.powi(power as i32);
    // 2^63 itself is past i64::MAX.
    (bytes < 9_223_372_036_854_775_808.0).then_some(bytes as i64)
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Docker's `--ulimit NAME=SOFT[:HARD]` (go-units' ParseUlimit): a known name, one or two
/// integers, the soft limit no more than the hard one.
fn parse_ulimit(u: &str) -> Result<(String, u64, u64)> {
    const NAMES: &[&str] = &[
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    let bad = |why: String| {
        Failure::usage(
            "run",
            format!("invalid argument {u:?} for \"--ulimit\" flag: {why}"),
        )
    };
    let (name, vals) = u
        .split_once('=')
        .ok_or_else(|| bad(format!("invalid ulimit argument: {u}")))?;
    if !NAMES.contains(&name) {
        return Err(bad(format!("invalid ulimit type: {name}")));
    }
    let parts: Vec<&str> = vals.split(':').collect();
    if parts.len() > 2 {
        return Err(bad(format!(
            "too many limit value arguments - {vals}, can only have up to two, `soft[:hard]`"
        )));
    }
    let num = |x: &str| {
        x.parse::<u64>()
            .map_err(|_| bad(format!("invalid ulimit value: {x}")))
    };
    let soft = num(parts[0])?;
    let hard = match parts.get(1) {
        Some(h) => num(h)?,
        None => soft,
    };
    if soft > hard {
        return Err(bad(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok((name.to_string(), soft, hard))
}

/// The lines of an `--env-file` as Docker reads them (opts.ParseEnvFile): leading space
/// trimmed, blank and `#` lines skipped, `NAME=VALUE` kept as it is (trailing space and
/// all), a bare `NAME` taken from `lookup` or dropped when unset; an error for a name with
/// whitespace in it or no name at all.
fn parse_env_file(
    file: &str,
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for raw in text.lines() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (line, None),
        };
        let bad =
            |why: String| Failure::new(125, format!("{file}: poorly formatted environment: {why}"));
        if name.contains(char::is_whitespace) {
            return Err(bad(format!("variable '{name}' contains whitespaces")));
        }
        if name.is_empty() {
            return Err(bad(format!("no variable name on line '{line}'")));
        }
        match value {
            Some(v) => out.push(format!("{name}={v}")),
            None => {
                if let Some(v) = lookup(name) {
                    out.push(format!("{name}={v}"));
                }
            }
        }
    }
    Ok(out)
}

/// Docker's `--add-host NAME:IP` (or `NAME=IP`; an IPv6 address may be in brackets), as
/// `NAME:IP` for the engine; `host-gateway` is left for the engine to judge.
fn parse_add_host(val: &str) -> Result<String> {
    let (name, ip) = val
        .split_once('=')
        .or_else(|| val.split_once(':'))
        .filter(|(n, _)| !n.is_empty())
        .ok_or_else(|| {
            Failure::usage(
                "run",
                format!("invalid argument {val:?} for \"--add-host\" flag: bad format for add-host: {val:?}"),
            )
        })?;
    let ip = match ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
        Some(inner) if !inner.is_empty() => inner,
        _ => ip,
    };
    if ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(Failure::usage(
            "run",
            format!("invalid argument {val:?} for \"--add-host\" flag: invalid IP address in add-host: {ip:?}"),
        ));
    }
    Ok(format!("{name}:{ip}"))
}

/// `--mount type=bind,source=/a,target=/b,readonly` and `type=tmpfs,target=/t,tmpfs-size=N`.
fn mount_flag(v: &str, host: &mut berth_engine::container::HostConfig) -> Result<()> {
    let mut kind = "volume".to_string();
    let (mut src, mut dst, mut ro, mut size, mut mode) = (None, None, false, None, None);
    let mut nocopy = false;
    let bad = |why: String| {
        Failure::new(
            125,
            format!("invalid argument {v:?} for \"--mount\" flag: {why}"),
        )
    };
    for kv in v.split(',') {
        let (k, val) = match kv.split_once('=') {
            Some((k, val)) => (k.to_ascii_lowercase(), val),
            None => {
                let k = kv.to_ascii_lowercase();
                if !matches!(k.as_str(), "readonly" | "ro" | "volume-nocopy") {
                    return Err(bad(format!(
                        "invalid field '{kv}' must be a key=value pair"
                    )));
                }
                (k, "true")
            }
        };
        let boolean =
            |val: &str| parse_bool(val).ok_or_else(|| bad(format!("invalid value for {k}: {val}")));
        match k.as_str() {
            "type" => kind = val.to_string(),
            "source" | "src" => src = Some(val.to_string()),
            "target" | "destination" | "dst" => dst = Some(val.to_string()),
            "readonly" | "ro" => ro = boolean(val)?,
            "tmpfs-size" => {
                size = Some(
                    parse_ram(val).ok_or_else(|| bad(format!("invalid value for {k}: {val}")))?,
                )
            }
            "tmpfs-mode" => mode = Some(val.to_string()),
            "volume-nocopy" => nocopy = boolean(val)?,
            "bind-propagation" | "consistency" => {}
            other => return Err(bad(format!("unexpected key '{other}' in '{kv}'"))),
        }
    }
    let dst = dst.ok_or_else(|| {
        Failure::new(
            125,
            format!("invalid argument {v:?} for \"--mount\" flag: target is required"),
        )
    })?;
    match kind.as_str() {
        "bind" => {
            let src = src.ok_or_else(|| {
                Failure::new(
                    125,
                    "invalid mount config for type \"bind\": field Source must not be empty",
                )
            })?;
            host.binds
                .push(format!("{src}:{dst}{}", if ro { ":ro" } else { "" }));
        }
        "tmpfs" => {
            let mut opts = Vec::new();
            if let Some(s) = size {
                opts.push(format!("size={s}"));
            }
            if let Some(m) = mode {
                opts.push(format!("mode={m}"));
            }
            host.tmpfs.push(if opts.is_empty() {
                dst
            } else {
                format!("{dst}:{}", opts.join(","))
            });
        }
        "volume" => host.volumes.push(berth_engine::volume::VolumeMount {
            name: src.unwrap_or_default(),
            destination: dst,
            read_only: ro,
            no_copy: nocopy,
            ..Default::default()
        }),
        other => {
            return Err(Failure::new(
                125,
                format!("mount type {other:?} is not supported yet (bind, volume and tmpfs are)"),
            ))
        }
    }
    Ok(())
}

fn usage(cmd: &str, e: String) -> Failure {
    Failure::usage(cmd, e)
}

fn create_options(cmd: &str, m: &Matches) -> Result<CreateOptions> {
    let Some((image, rest)) = m.args.split_first() else {
        return Err(usage(
            cmd,
            format!("\"berth {cmd}\" requires at least 1 argument."),
        ));
    };
    let mut env = Vec::new();
    for f in m.all("env-file") {
        let text =
            std::fs::read_to_string(&f).map_err(|e| Failure::new(125, format!("open {f}: {e}")))?;
        env.extend(parse_env_file(&f, &text, |n| std::env::var(n).ok())?);
    }
    env.extend(m.all("env").iter().map(|e| expand_env(e)));
    let mut host = berth_engine::container::HostConfig {
        auto_remove: m.on("rm"),
        read_only: m.on("read-only"),
        privileged: m.on("privileged"),
        cap_add: m.all("cap-add"),
        cap_drop: m.all("cap-drop"),
        network_mode: m
            .get("network")
            .or(m.get("net"))
            .map_or_else(default_network, str::to_string),
        init: m.on("init"),
        ..Default::default()
    };
    if host.network_mode == "default" {
        host.network_mode = "bridge".into();
    }
    let mut publish = Vec::new();
    for p in m.all("publish") {
        publish.extend(
            berth_engine::ports::parse_publish(&p).map_err(|e| Failure::new(125, e.to_string()))?,
        );
    }
    host.endpoint = berth_engine::endpoint::EndpointRequest {
        ipv4_address: m.get("ip").unwrap_or_default().to_string(),
        mac_address: m.get("mac-address").unwrap_or_default().to_string(),
        aliases: m.all("network-alias"),
        port_bindings: publish,
        publish_all: m.on("publish-all"),
        links: m.all("link"),
    };
    for s in m.all("security-opt") {
        match s.as_str() {
            "no-new-privileges" | "no-new-privileges=true" | "no-new-privileges:true" => {
                host.no_new_privileges = true
            }
            "no-new-privileges=false" | "no-new-privileges:false" => host.no_new_privileges = false,
            s if s.starts_with("seccomp=") || s.starts_with("seccomp:") => {
                let v = &s[8..];
                host.seccomp = Some(if v == "unconfined" {
                    v.to_string()
                } else {
                    std::fs::read_to_string(v).map_err(|e| Failure::new(125, format!("opening seccomp profile ({v}) failed: {e}")))?
                });
            }
            other => {
                return Err(Failure::new(
                    125,
                    format!(
                        "invalid --security-opt: {other:?} (supported so far: no-new-privileges, seccomp=unconfined|PROFILE)"
                    ),
                ))
            }
        }
    }
    if let Some(v) = m.get("memory") {
        host.memory = ram_in_bytes("-m, --memory", v)?;
    }
    if let Some(v) = m.get("memory-swap") {
        host.memory_swap = if v == "-1" {
            -1
        } else {
            ram_in_bytes("--memory-swap", v)?
        };
    }
    if let Some(v) = m.get("shm-size") {
        host.shm_size = ram_in_bytes("--shm-size", v)?;
    }
    if let Some(v) = m.get("cpus") {
        let n: f64 = v.parse().map_err(|_| Failure::usage("run", format!("invalid argument {v:?} for \"--cpus\" flag: failed to parse {v} as a rational number")))?;
        host.nano_cpus = (n * 1e9) as i64;
    }
    if let Some(v) = m.get("cpu-shares") {
        host.cpu_shares = v.parse().map_err(|_| Failure::usage("run", format!("invalid argument {v:?} for \"-c, --cpu-shares\" flag: strconv.ParseInt: parsing {v:?}: invalid syntax")))?;
    }
    host.cpuset_cpus = m.get("cpuset-cpus").unwrap_or_default().to_string();
    if let Some(v) = m.get("pids-limit") {
        host.pids_limit = v.parse().map_err(|_| Failure::usage("run", format!("invalid argument {v:?} for \"--pids-limit\" flag: strconv.ParseInt: parsing {v:?}: invalid syntax")))?;
    }
    for u in m.all("ulimit") {
        host.ulimits.push(parse_ulimit(&u)?);
    }
    for d in m.all("device") {
        let parts: Vec<&str> = d.split(':').collect();
        let (h, c, p) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, c] if c.chars().all(|x| "rwm".contains(x)) => (*h, *h, *c),
            [h, c] => (*h, *c, "rwm"),
            [h, c, p] => (*h, *c, *p),
            _ => {
                return Err(Failure::new(
                    125,
                    format!("invalid device specification: {d}"),
                ))
            }
        };
        host.devices
            .push((h.to_string(), c.to_string(), p.to_string()));
    }
    for s in m.all("sysctl") {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            Failure::usage(
                "run",
                format!(
                    "invalid argument {s:?} for \"--sysctl\" flag: sysctl '{s}' is not allowed"
                ),
            )
        })?;
        host.sysctls.insert(k.to_string(), v.to_string());
    }
    host.group_add = m.all("group-add");
    host.extra_hosts = m
        .all("add-host")
        .iter()
        .map(|h| parse_add_host(h))
        .collect::<Result<_>>()?;
    host.dns = m.all("dns");
    host.dns_search = m.all("dns-search");
    host.dns_options = m.all("dns-option");
    host.binds = m.all("volume");
    host.tmpfs = m.all("tmpfs");
    for v in m.all("mount") {
        mount_flag(&v, &mut host)?;
    }
    if let Some(r) = m.get("restart") {
        let (name, max) = r.split_once(':').unwrap_or((r, ""));
        let ok = match name {
            "no" | "always" | "unless-stopped" => max.is_empty(),
            "on-failure" => max.is_empty() || max.parse::<u32>().is_ok(),
            _ => false,
        };
        if !ok {
            return Err(Failure::new(
                125,
                format!("invalid restart policy format: {r:?}"),
            ));
        }
        if name != "no" && m.on("rm") {
            return Err(Failure::new(125, "Conflicting options: --restart and --rm"));
        }
        host.restart = r.to_string();
    }
    if let Some(d) = m.get("log-driver").filter(|d| *d != "json-file") {
        return Err(Failure::new(
            125,
            format!("log driver {d:?} is not supported (json-file is)"),
        ));
    }
    host.log_max_file = 1;
    for o in m.all("log-opt") {
        match o.split_once('=') {
            Some(("max-size", v)) => host.log_max_size = ram_in_bytes("--log-opt max-size", v)?,
            Some(("max-file", v)) => {
                host.log_max_file =
                    v.parse().ok().filter(|n: &u32| *n > 0).ok_or_else(|| {
                        Failure::new(125, format!("invalid value for max-file: {v}"))
                    })?
            }
            _ => {
                return Err(Failure::new(
                    125,
                    format!("unknown log opt '{o}' for json-file log driver"),
                ))
            }
        }
    }
    host.ipc_mode = m.get("ipc").unwrap_or_default().to_string();
    more_flags(cmd, m, &mut host)?;
    host.pid_mode = m.get("pid").unwrap_or_default().to_string();
    host.uts_mode = m.get("uts").unwrap_or_default().to_string();
    let stop_timeout = match m.get("stop-timeout") {
        Some(v) => Some(v.parse::<i64>().map_err(|_| Failure::usage("run", format!("invalid argument {v:?} for \"--stop-timeout\" flag: strconv.ParseInt: parsing {v:?}: invalid syntax")))?),
        None => None,
    };
    let labels = m
        .all("label")
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    Ok(CreateOptions {
        id: None,
        name: m.get("name").map(String::from),
        image: image.clone(),
        cmd: rest.to_vec(),
        entrypoint: m.get("entrypoint").map(String::from),
        env,
        workdir: m.get("workdir").map(String::from),
        user: m.get("user").map(String::from),
        hostname: m.get("hostname").map(String::from),
        tty: m.on("tty"),
        interactive: m.on("interactive"),
        labels,
        stop_signal: m.get("stop-signal").map(String::from),
        stop_timeout,
        expose: expose_ports(&m.all("expose"))?,
        host,
        healthcheck: health_flags(cmd, m)?,
    })
}

/// The namespace and resource flags `update` shares: the same parsing and messages.
fn more_flags(
    cmd: &str,
    m: &Matches,
    host: &mut berth_engine::container::HostConfig,
) -> Result<()> {
    let userns = m.get("userns").unwrap_or_default();
    if !matches!(userns, "" | "host") {
        return Err(usage(cmd, "--userns: invalid USER mode".into()));
    }
    host.userns_mode = userns.to_string();
    let cgroupns = m.get("cgroupns").unwrap_or_default();
    if !matches!(cgroupns, "" | "host" | "private") {
        return Err(usage(cmd, "--cgroupns: invalid CGROUP mode".into()));
    }
    host.cgroupns_mode = cgroupns.to_string();
    host.oom_kill_disable = m.on("oom-kill-disable");
    host.cpuset_mems = m.get("cpuset-mems").unwrap_or_default().to_string();
    let int = |name: &str| -> Result<i64> {
        m.get(name).map_or(Ok(0), |v| {
            v.parse().map_err(|_| {
                usage(
                    cmd,
                    format!("invalid argument {v:?} for \"--{name}\" flag: strconv.ParseInt: parsing {v:?}: invalid syntax"),
                )
            })
        })
    };
    host.cpu_period = int("cpu-period")?;
    host.cpu_quota = int("cpu-quota")?;
    if let Some(v) = m.get("blkio-weight") {
        host.blkio_weight = v.parse().map_err(|_| {
            usage(
                cmd,
                format!("invalid argument {v:?} for \"--blkio-weight\" flag: strconv.ParseUint: parsing {v:?}: invalid syntax"),
            )
        })?;
    }
    let ram = |name: &str| -> Result<i64> {
        m.get(name).map_or(Ok(0), |v| {
            ram_in_bytes(&format!("--{name}"), v).map_err(|mut f| {
                f.usage_of = Some(cmd.to_string());
                f
            })
        })
    };
    host.memory_reservation = ram("memory-reservation")?;
    host.kernel_memory = ram("kernel-memory")?;
    Ok(())
}

/// `--expose PORT[-PORT][/PROTO]`, spread out to one `PORT/PROTO` each, as docker records them.
fn expose_ports(specs: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for spec in specs {
        let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
        let bad = || Failure::new(125, format!("invalid range format for --expose: {spec}"));
        if !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(Failure::new(125, format!("invalid proto: {proto}")));
        }
        let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
        let lo: u16 = lo.parse().map_err(|_| bad())?;
        let hi: u16 = hi.parse().map_err(|_| bad())?;
        if lo > hi {
            return Err(bad());
        }
        out.extend((lo..=hi).map(|p| format!("{p}/{proto}")));
    }
    Ok(out)
}

/// `-e NAME` takes NAME's value from our own environment, as docker does.
fn expand_env(e: &str) -> String {
    if e.contains('=') {
        e.to_string()
    } else {
        match std::env::var(e) {
            Ok(v) => format!("{e}={v}"),
            Err(_) => e.to_string(),
        }
    }
}

/// Makes sure the image is here, pulling it when `--pull` says so (missing is the default).
fn ensure_image(
    g: &Globals,
    engine: &mut Engine,
    image: &str,
    pull: Option<&str>,
    platform: Option<&str>,
) -> Result<()> {
    let wanted = platform
        .filter(|p| !p.is_empty())
        .map(|p| {
            berth_image::spec::Platform::parse(p).ok_or_else(|| {
                Failure::new(
                    125,
                    format!("\"{p}\": unknown operating system or architecture: invalid argument"),
                )
            })
        })
        .transpose()?;
    let found = engine.store.resolve(image).ok();
    let have = found.is_some();
    let policy = pull.unwrap_or("missing");
    if let (Some(want), Some(img), "missing" | "never") = (&wanted, &found, policy) {
        let cfg = engine
            .store
            .config(img)
            .map_err(|e| Failure::new(125, e.to_string()))?;
        let actual = berth_image::spec::Platform {
            architecture: cfg.architecture.clone(),
            os: cfg.os.clone(),
            variant: cfg.variant.clone(),
            os_version: None,
        };
        if !want.matches(&actual) {
            return Err(Failure::new(
                125,
                format!("image with reference {image} was found but does not match the specified platform: wanted {want}, actual: {actual}"),
            )
            .daemon());
        }
    }
    match (policy, have) {
        ("never", false) => Err(Failure::new(125, format!("No such image: {image}"))),
        ("missing", true) | ("never", true) => Ok(()),
        ("missing", false) | ("always", _) => {
            if !have {
                eprintln!("Unable to find image '{image}' locally");
            }
            crate::registry::pull_quiet(g, image, wanted).map_err(|mut f| {
                f.status = 125;
                f
            })
        }
        (other, _) => Err(Failure::new(125, format!("invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""))),
    }
}

/// The network a container joins when `--network` isn't given: Docker's default bridge,
/// unless `BERTH_DEFAULT_NETWORK` says otherwise (as dockerd's `--bridge=none` does; the
/// test suite runs with `none` outside the network namespaces of its network tests).
fn default_network() -> String {
    std::env::var("BERTH_DEFAULT_NETWORK")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "bridge".into())
}

/// The monitor starts from a read-only view of this binary (CVE-2019-5736), so that it
/// needn't re-execute itself to get there: one `execve` per start, not two.
fn monitor_exe() -> Result<PathBuf> {
    if let Ok(Some(view)) = berth_sys::exe::protected_path() {
        return Ok(view);
    }
    std::env::current_exe().map_err(|e| Failure::new(125, format!("finding our own binary: {e}")))
}

pub fn run(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(CREATE_FLAGS, argv, false).map_err(|e| usage("run", e))?;
    if m.on("help") {
        print!("{}", create_usage("run"));
        return Ok(());
    }
    let mut o = create_options("run", &m)?;
    let detach = m.on("detach");
    // Before anything exists: "the input device is not a TTY" must leave nothing behind.
    let terminal = (o.tty && !detach)
        .then(|| crate::attach::prepare(m.on("interactive")))
        .transpose()?;
    let mut bridge = None;
    let attach = if let Some((a, sock)) = terminal {
        bridge = sock;
        a
    } else {
        Attach {
            stdin: m.on("interactive") && !detach,
            stdout: !detach,
            stderr: !detach,
            ..Default::default()
        }
    };
    // The monitor starts first and gets ready while we create the container; it leaves
    // quietly should that fail.
    let id = berth_engine::container::new_id();
    let pending = berth_engine::engine::spawn_monitor(&g.root, &id, &monitor_exe()?, &attach, true)
        .map_err(|e| engine_failure(e, true))?;
    o.id = Some(id);
    let mut engine = open(g, true)?;
    ensure_image(g, &mut engine, &o.image, m.get("pull"), m.get("platform"))?;
    let c = engine.create(o).map_err(|e| engine_failure(e, true))?;
    for w in berth_engine::update::create_warnings(&c.host_config) {
        eprintln!("WARNING: {w}");
    }
    let started = match pending.go() {
        Ok(s) => s,
        Err(e) => {
            if c.host_config.auto_remove {
                if let Ok(c) = engine.remove(&c.id, true) {
                    engine.remove_anonymous_volumes(&c);
                }
            }
            return Err(engine_failure(e, true));
        }
    };
    if detach {
        println!("{}", c.id);
        return Ok(());
    }
    drop(engine);
    drop(attach);
    let code = match bridge {
        Some(sock) => {
            crate::attach::bridge_started(sock, started, m.on("interactive"), m.get("detach-keys"))?
        }
        None => crate::signals::proxy_until_exit(g, &c.id, started)?,
    };
    std::process::exit(code);
}

pub fn create(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(CREATE_FLAGS, argv, false).map_err(|e| usage("create", e))?;
    if m.on("help") {
        print!("{}", create_usage("create"));
        return Ok(());
    }
    let o = create_options("create", &m)?;
    let mut engine = open(g, true)?;
    ensure_image(g, &mut engine, &o.image, m.get("pull"), m.get("platform"))?;
    let c = engine.create(o).map_err(|e| engine_failure(e, true))?;
    for w in berth_engine::update::create_warnings(&c.host_config) {
        eprintln!("WARNING: {w}");
    }
    println!("{}", c.id);
    Ok(())
}

pub fn start(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[
            flag("attach", Some('a')),
            flag("interactive", Some('i')),
            opt("detach-keys", None),
        ],
        argv,
        true,
    )
    .map_err(|e| usage("start", e))?;
    if m.args.is_empty() {
        return Err(usage(
            "start",
            "\"berth start\" requires at least 1 argument.".into(),
        ));
    }
    let mut engine = open(g, true)?;
    let attach_one = m.on("attach") && m.args.len() == 1;
    let mut failed = false;
    for name in &m.args {
        let tty = attach_one
            && engine
                .refresh(name)
                .is_ok_and(|c| c.config.tty && c.state.status != Status::Running);
        let mut bridge = None;
        let attach = if tty {
            let (a, sock) = crate::attach::prepare(m.on("interactive"))?;
            bridge = sock;
            a
        } else {
            Attach {
                stdin: attach_one && m.on("interactive"),
                stdout: attach_one,
                stderr: attach_one,
                ..Default::default()
            }
        };
        match engine.start(name, &monitor_exe()?, &attach) {
            Ok(s) if attach_one => {
                drop(engine);
                drop(attach);
                let code = match bridge {
                    Some(sock) => crate::attach::bridge_started(
                        sock,
                        s,
                        m.on("interactive"),
                        m.get("detach-keys"),
                    )?,
                    None => crate::signals::proxy_until_exit(g, name, s)?,
                };
                std::process::exit(code);
            }
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(Failure::new(1, "failed to start containers".to_string()));
    }
    Ok(())
}

fn quote_command(c: &Container) -> String {
    let mut parts = vec![c.path.clone()];
    parts.extend(c.args.iter().cloned());
    parts.join(" ")
}

fn status_text(c: &Container) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let ago = |t: &Option<String>| {
        t.as_deref()
            .and_then(berth_image::timefmt::parse)
            .map(|s| berth_image::timefmt::since(s, now))
            .unwrap_or_default()
    };
    match c.state.status {
        Status::Running => {
            let up = format!("Up {}", ago(&c.state.started_at).trim_end_matches(" ago"));
            match berth_engine::health::status_of(c) {
                berth_engine::health::NONE => up,
                berth_engine::health::STARTING => format!("{up} (health: starting)"),
                h => format!("{up} ({h})"),
            }
        }
        Status::Exited => format!(
            "Exited ({}) {}",
            c.state.exit_code,
            ago(&c.state.finished_at)
        ),
        Status::Created => "Created".into(),
        // Docker's words for the rest.
        Status::Paused => format!(
            "Up {} (Paused)",
            ago(&c.state.started_at).trim_end_matches(" ago")
        ),
        Status::Restarting => format!(
            "Restarting ({}) {}",
            c.state.exit_code,
            ago(&c.state.finished_at)
        ),
        Status::Dead => "Dead".into(),
        Status::Removing => "Removal In Progress".into(),
    }
}

pub(crate) fn ps_row(c: &Container, no_trunc: bool) -> serde_json::Value {
    let cmd = quote_command(c);
    let cmd = if !no_trunc && cmd.chars().count() > 20 {
        format!("{}…", cmd.chars().take(19).collect::<String>())
    } else {
        cmd
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    json!({
        "ID": if no_trunc { c.id.clone() } else { c.short_id().to_string() },
        "Image": c.config.image,
        "Command": format!("\"{cmd}\""),
        "CreatedAt": c.created,
        "RunningFor": berth_image::timefmt::parse(&c.created).map(|s| berth_image::timefmt::since(s, now)).unwrap_or_default(),
        "Status": status_text(c),
        "State": c.state.status.as_str(),
        "Ports": ports_text(c),
        "Names": c.name,
        "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
    })
}

/// `ps`'s PORTS: published ports as `0.0.0.0:8080->80/tcp`, then exposed ones that aren't
/// published as `80/tcp`, in port order, as Docker lists them.
fn ports_text(c: &Container) -> String {
    let published = &c.state.network.ports;
    let mut items: Vec<((u16, String), String)> = published
        .iter()
        .map(|p| {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            (
                (p.container_port, p.proto.clone()),
                format!("{ip}:{}->{}/{}", p.host_port, p.container_port, p.proto),
            )
        })
        .collect();
    for key in c.config.exposed_ports.keys() {
        if let Some((port, proto)) = berth_engine::ports::parse_exposed(key) {
            if !published
                .iter()
                .any(|p| p.container_port == port && p.proto == proto)
            {
                items.push(((port, proto), key.clone()));
            }
        }
    }
    items.sort();
    items
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn ps(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[
            flag("all", Some('a')),
            flag("quiet", Some('q')),
            flag("no-trunc", None),
            flag("latest", Some('l')),
            opt("last", Some('n')),
            opt("filter", Some('f')),
            opt("format", None),
            flag("size", Some('s')),
        ],
        argv,
        true,
    )
    .map_err(|e| usage("ps", e))?;
    let mut engine = open(g, false)?;
    let mut list = engine.containers().map_err(|e| engine_failure(e, false))?;
    let last = if m.on("latest") {
        Some(1)
    } else {
        m.get("last").and_then(|n| n.parse::<usize>().ok())
    };
    if !m.on("all") && last.is_none() {
        // Docker's `ps` lists paused and restarting containers with the running ones.
        list.retain(|c| {
            matches!(
                c.state.status,
                Status::Running | Status::Paused | Status::Restarting
            )
        });
    }
    for f in m.all("filter") {
        let (k, v) = f.split_once('=').unwrap_or((f.as_str(), ""));
        {
            use berth_engine::health::{HEALTHY, NONE, STARTING, UNHEALTHY};
            if k == "health" && ![STARTING, HEALTHY, UNHEALTHY, NONE].contains(&v) {
                return Err(
                    Failure::new(1, format!("Unrecognised filter value for health: {v}")).daemon(),
                );
            }
        }
        list.retain(|c| match k {
            "name" => c.name.contains(v),
            "id" => c.id.starts_with(v),
            "status" => c.state.status.as_str() == v,
            "health" => berth_engine::health::status_of(c) == v,
            "label" => match v.split_once('=') {
                Some((lk, lv)) => c.config.labels.get(lk).is_some_and(|x| x == lv),
                None => c.config.labels.contains_key(v),
            },
            "ancestor" => c.config.image == v || c.image.contains(v),
            "volume" => c
                .host_config
                .volumes
                .iter()
                .any(|m| m.name == v || m.destination == v),
            _ => true,
        });
    }
    if let Some(n) = last {
        list.truncate(n);
    }
    let rows: Vec<_> = list.iter().map(|c| ps_row(c, m.on("no-trunc"))).collect();
    format::print_listing(
        m.on("quiet"),
        m.get("format"),
        &rows,
        &[
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("RunningFor", "CREATED"),
            ("Status", "STATUS"),
            ("Ports", "PORTS"),
            ("Names", "NAMES"),
        ],
    )
}

pub fn logs(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[
            flag("follow", Some('f')),
            opt("tail", Some('n')),
            flag("timestamps", Some('t')),
            opt("since", None),
            opt("until", None),
            flag("details", None),
        ],
        argv,
        true,
    )
    .map_err(|e| usage("logs", e))?;
    if m.args.len() != 1 {
        return Err(usage(
            "logs",
            "\"berth logs\" requires exactly 1 argument.".into(),
        ));
    }
    let mut engine = open(g, false)?;
    let c = engine
        .refresh(&m.args[0])
        .map_err(|e| engine_failure(e, false))?;
    let path = engine.log_path(&c.id);
    let entries = berth_engine::logs::read(&path).map_err(|e| engine_failure(e, false))?;
    let tail = match m.get("tail") {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| Failure::new(1, format!("invalid value for tail: {n:?}")))?,
        ),
    };
    let skip = tail.map_or(0, |t| entries.len().saturating_sub(t));
    let print = |e: &berth_engine::logs::Entry| {
        let text = if m.on("timestamps") {
            format!("{} {}", e.time, e.log)
        } else {
            e.log.clone()
        };
        if e.stream == "stderr" {
            let _ = std::io::stderr().write_all(text.as_bytes());
        } else {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    };
    for e in &entries[skip..] {
        print(e);
    }
    if m.on("follow") {
        let mut seen = entries.len();
        loop {
            let running = engine
                .refresh(&c.id)
                .map(|c| c.state.status == Status::Running)
                .unwrap_or(false);
            let now = berth_engine::logs::read(&path).unwrap_or_default();
            for e in now.iter().skip(seen) {
                print(e);
            }
            let _ = std::io::stdout().flush();
            seen = now.len().max(seen);
            if !running {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    Ok(())
}

fn each(
    g: &Globals,
    cmd: &str,
    argv: &[String],
    flags: &[Flag],
    f: impl Fn(&mut Engine, &Matches, &str) -> std::result::Result<String, EngineError>,
) -> Result<()> {
    let m = args::parse(flags, argv, true).map_err(|e| usage(cmd, e))?;
    if m.args.is_empty() {
        return Err(usage(
            cmd,
            format!("\"berth {cmd}\" requires at least 1 argument."),
        ));
    }
    let mut engine = open(g, false)?;
    let mut failed = false;
    for name in &m.args {
        match f(&mut engine, &m, name) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

pub fn stop(g: &Globals, argv: &[String]) -> Result<()> {
    let flags = [opt("time", Some('t')), opt("signal", Some('s'))];
    if let Ok(m) = args::parse(&flags, argv, true) {
        if m.args.len() > 1 {
            // Several: all at once, as docker's CLI does.
            let t = m.get("time").and_then(|t| t.parse::<i64>().ok());
            let mut engine = open(g, false)?;
            let mut failed = false;
            for (name, r) in m.args.iter().zip(engine.stop_many(&m.args, t)) {
                match r {
                    Ok(_) => println!("{name}"),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                std::process::exit(1);
            }
            return Ok(());
        }
    }
    each(
        g,
        "stop",
        argv,
        &[opt("time", Some('t')), opt("signal", Some('s'))],
        |e, m, name| {
            let t = m.get("time").and_then(|t| t.parse::<i64>().ok());
            e.stop(name, t).map(|_| name.to_string())
        },
    )
}

/// `docker restart`: stop (with `-t`), then start again, detached.
pub fn restart(g: &Globals, argv: &[String]) -> Result<()> {
    let exe = monitor_exe()?;
    each(
        g,
        "restart",
        argv,
        &[opt("time", Some('t')), opt("signal", Some('s'))],
        |e, m, name| {
            let t = m.get("time").and_then(|t| t.parse::<i64>().ok());
            e.stop(name, t)?;
            e.start(name, &exe, &Attach::default())
                .map(|_| name.to_string())
        },
    )
}

pub fn kill(g: &Globals, argv: &[String]) -> Result<()> {
    each(
        g,
        "kill",
        argv,
        &[opt("signal", Some('s'))],
        |e, m, name| {
            e.kill(name, m.get("signal").unwrap_or("KILL"))
                .map(|_| name.to_string())
        },
    )
}

pub fn rm(g: &Globals, argv: &[String]) -> Result<()> {
    let flags = [
        flag("force", Some('f')),
        flag("volumes", Some('v')),
        flag("link", Some('l')),
    ];
    // `rm -f` of many: kill them all first, so that they die (and their monitors clean up)
    // together rather than one after another as each is waited for.
    if let Ok(m) = args::parse(&flags, argv, true) {
        if m.on("force") && m.args.len() > 1 {
            if let Ok(mut e) = Engine::open(&g.root) {
                for n in &m.args {
                    let _ = e.kill(n, "SIGKILL");
                }
            }
        }
    }
    each(g, "rm", argv, &flags, |e, m, name| {
        let c = e.remove(name, m.on("force"))?;
        if m.on("volumes") {
            e.remove_anonymous_volumes(&c);
        }
        Ok(name.to_string())
    })
}

pub fn wait(g: &Globals, argv: &[String]) -> Result<()> {
    each(g, "wait", argv, &[opt("condition", None)], |e, _, name| {
        // A container removed meanwhile (--rm) ended; its status went with it.
        Ok(e.wait(name, None)?
            .map_or(0, |c| c.state.exit_code)
            .to_string())
    })
}

pub fn exec(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[
            flag("detach", Some('d')),
            opt("detach-keys", None),
            flag("interactive", Some('i')),
            flag("tty", Some('t')),
            opt("env", Some('e')),
            opt("env-file", None),
            opt("user", Some('u')),
            opt("workdir", Some('w')),
            flag("privileged", None),
        ],
        argv,
        false,
    )
    .map_err(|e| usage("exec", e))?;
    if m.args.len() < 2 {
        return Err(usage(
            "exec",
            "\"berth exec\" requires at least 2 arguments.".into(),
        ));
    }
    let tty = m.on("tty");
    if tty && m.on("interactive") && !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        return Err(Failure::new(1, "the input device is not a TTY"));
    }
    let mut env = Vec::new();
    for f in m.all("env-file") {
        let text =
            std::fs::read_to_string(&f).map_err(|e| Failure::new(125, format!("open {f}: {e}")))?;
        env.extend(parse_env_file(&f, &text, |n| std::env::var(n).ok())?);
    }
    env.extend(m.all("env").iter().map(|e| expand_env(e)));
    let o = berth_engine::exec::ExecOptions {
        tty,
        cmd: m.args[1..].to_vec(),
        env,
        user: m.get("user").map(String::from),
        workdir: m.get("workdir").map(String::from),
        detach: m.on("detach"),
        privileged: m.on("privileged"),
    };
    let mut engine = open(g, false)?;
    if !m.on("interactive") {
        // Without -i the process gets no stdin, as in docker.
        if let Ok(null) = std::fs::File::open("/dev/null") {
            // SAFETY: dup2 onto our own stdin, which the exec'd process inherits.
            unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) };
        }
    }
    let (pid, master) = engine
        .exec_tty(&m.args[0], &o)
        .map_err(|e| match e.kind() {
            Kind::Command(s) => Failure::new(s, e.to_string()),
            _ => Failure::new(
                if matches!(
                    e,
                    EngineError::Conflict(_) | EngineError::NoSuchContainer(_)
                ) {
                    1
                } else {
                    126
                },
                e.to_string(),
            ),
        })?;
    if o.detach {
        return Ok(());
    }
    if let Some(master) = master {
        use std::os::fd::AsFd;
        let keys = match m.get("detach-keys") {
            Some(k) => berth_engine::attach::parse_detach_keys(k)
                .map_err(|e| Failure::new(125, e.to_string()))?,
            None => berth_engine::attach::DEFAULT_DETACH_KEYS.to_vec(),
        };
        let stdin = std::io::stdin();
        let interactive = m.on("interactive");
        let raw = interactive
            .then(|| berth_engine::attach::RawMode::enter(stdin.as_fd()))
            .flatten();
        let ended = berth_engine::attach::bridge_pty(
            master,
            interactive.then(|| stdin.as_fd()),
            &mut std::io::stdout(),
            interactive.then_some(keys.as_slice()),
        );
        drop(raw);
        if ended.is_ok_and(|e| e == berth_engine::attach::Ended::Detached) {
            return Ok(());
        }
    }
    // We are its subreaper (the runtime made us one for an attached exec).
    use nix::sys::wait::{waitpid, WaitStatus};
    let code = loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break 0,
        }
    };
    std::process::exit(code);
}

pub fn inspect(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    inspect_as(g, cmd, argv, None)
}

/// `inspect`, or `image inspect` with `only` = image.
pub fn inspect_as(g: &Globals, cmd: &str, argv: &[String], only: Option<&str>) -> Result<()> {
    let m = args::parse(
        &[
            opt("format", Some('f')),
            opt("type", None),
            flag("size", Some('s')),
        ],
        argv,
        true,
    )
    .map_err(|e| usage(cmd, e))?;
    if m.args.is_empty() {
        return Err(usage(
            cmd,
            format!("\"berth {cmd}\" requires at least 1 argument."),
        ));
    }
    let want = only.or(m.get("type"));
    let mut engine = open(g, false)?;
    let mut values = Vec::new();
    let mut failed = false;
    for name in &m.args {
        let as_container = if want.is_none() || want == Some("container") {
            engine.refresh(name).ok()
        } else {
            None
        };
        if let Some(c) = as_container {
            values.push(engine.inspect(&c));
            continue;
        }
        let as_image = if want.is_none() || want == Some("image") {
            engine
                .store
                .resolve(name)
                .ok()
                .and_then(|img| crate::images::inspect_value(&engine.store, &img).ok())
        } else {
            None
        };
        match as_image {
            Some(v) => values.push(v),
            None => {
                eprintln!("Error: No such object: {name}");
                failed = true;
            }
        }
    }
    format::print_inspect(m.get("format"), &values)?;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

pub fn pause(g: &Globals, argv: &[String]) -> Result<()> {
    each(g, "pause", argv, &[], |e, _, name| {
        e.pause(name).map(|()| name.to_string())
    })
}

pub fn unpause(g: &Globals, argv: &[String]) -> Result<()> {
    each(g, "unpause", argv, &[], |e, _, name| {
        e.unpause(name).map(|()| name.to_string())
    })
}

pub fn rename(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(&[], argv, true).map_err(|e| usage("rename", e))?;
    if m.args.len() != 2 {
        return Err(usage(
            "rename",
            "\"berth rename\" requires exactly 2 arguments.".into(),
        ));
    }
    let mut engine = open(g, false)?;
    engine
        .rename(&m.args[0], &m.args[1])
        .map_err(|e| engine_failure(e, false))
}

pub fn prune(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(&[flag("force", Some('f')), opt("filter", None)], argv, true)
        .map_err(|e| usage("container prune", e))?;
    if !m.on("force")
        && !crate::images::confirm("WARNING! This will remove all stopped containers.")
    {
        return Ok(());
    }
    let mut engine = open(g, false)?;
    let removed = engine.prune().map_err(|e| engine_failure(e, false))?;
    let mut out = std::io::stdout().lock();
    if !removed.is_empty() {
        let _ = writeln!(out, "Deleted Containers:");
        for id in &removed {
            let _ = writeln!(out, "{id}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Total reclaimed space: 0B");
    Ok(())
}

pub fn top(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(&[], argv, false).map_err(|e| usage("top", e))?;
    let Some((name, ps_args)) = m.args.split_first() else {
        return Err(usage(
            "top",
            "\"berth top\" requires at least 1 argument.".into(),
        ));
    };
    let mut engine = open(g, false)?;
    let pids = engine.pids(name).map_err(|e| engine_failure(e, false))?;
    let ps_args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let o = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .map_err(|e| Failure::new(1, format!("running ps: {e}")))?;
    if !o.status.success() {
        return Err(Failure::new(
            1,
            format!("ps: {}", String::from_utf8_lossy(&o.stderr).trim()),
        ));
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Failure::new(1, "Couldn't find PID field in ps output"))?;
    let mut rows = vec![header
        .split_whitespace()
        .map(String::from)
        .collect::<Vec<_>>()];
    let ncols = rows[0].len();
    for l in lines {
        let fields: Vec<&str> = l.split_whitespace().collect();
        if fields
            .get(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            // The last column (the command) keeps its spaces.
            let mut row: Vec<String> = fields
                .iter()
                .take(ncols - 1)
                .map(|s| s.to_string())
                .collect();
            row.push(
                fields
                    .get(ncols - 1..)
                    .map(|r| r.join(" "))
                    .unwrap_or_default(),
            );
            rows.push(row);
        }
    }
    let _ = std::io::stdout().write_all(format::table(&rows).as_bytes());
    Ok(())
}

pub fn port(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(&[], argv, true).map_err(|e| usage("port", e))?;
    if m.args.is_empty() {
        return Err(usage(
            "port",
            "\"berth port\" requires at least 1 argument.".into(),
        ));
    }
    let mut engine = open(g, false)?;
    let c = engine
        .refresh(&m.args[0])
        .map_err(|e| engine_failure(e, false))?;
    let addr = |p: &berth_engine::ports::Published| {
        let ip = if p.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &p.host_ip
        };
        format!("{ip}:{}", p.host_port)
    };
    let mut published = c.state.network.ports.clone();
    published.sort_by(|a, b| (a.container_port, &a.proto).cmp(&(b.container_port, &b.proto)));
    let Some(want) = m.args.get(1) else {
        for p in &published {
            println!("{}/{} -> {}", p.container_port, p.proto, addr(p));
        }
        return Ok(());
    };
    let (port, proto) = want.split_once('/').unwrap_or((want, "tcp"));
    let found: Vec<String> = published
        .iter()
        .filter(|p| p.container_port.to_string() == port && p.proto == proto)
        .map(addr)
        .collect();
    if found.is_empty() {
        return Err(Failure::new(
            1,
            format!(
                "No public port '{port}/{proto}' published for {}",
                m.args[0]
            ),
        ));
    }
    for f in found {
        println!("{f}");
    }
    Ok(())
}

pub fn commit(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[
            opt("message", Some('m')),
            opt("author", Some('a')),
            opt("change", Some('c')),
            flag("pause", Some('p')),
        ],
        argv,
        true,
    )
    .map_err(|e| usage("commit", e))?;
    if m.args.is_empty() || m.args.len() > 2 {
        return Err(usage(
            "commit",
            "\"berth commit\" requires at least 1 and at most 2 arguments.".into(),
        ));
    }
    let reference = m
        .args
        .get(1)
        .map(|r| berth_image::Reference::parse(r))
        .transpose()
        .map_err(|e| Failure::new(1, e.to_string()))?;
    let mut engine = open(g, false)?;
    let config = if m.all("change").is_empty() {
        None
    } else {
        let c = engine
            .refresh(&m.args[0])
            .map_err(|e| engine_failure(e, false))?;
        let img = engine
            .store
            .resolve(&c.image)
            .map_err(|e| Failure::new(1, e.to_string()))?;
        let mut rc = engine
            .store
            .config(&img)
            .map_err(|e| Failure::new(1, e.to_string()))?
            .config;
        for ch in m.all("change") {
            crate::images::apply_change(&mut rc, &ch)?;
        }
        Some(rc)
    };
    let o = berth_engine::commit::CommitOptions {
        reference,
        message: m.get("message").map(String::from),
        author: m.get("author").map(String::from),
        config,
        // docker pauses by default; --pause=false turns it off.
        pause: m.get("pause") != Some("false"),
    };
    let id = engine
        .commit(&m.args[0], &o)
        .map_err(|e| engine_failure(e, false))?;
    println!("{id}");
    Ok(())
}

pub fn export(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(&[opt("output", Some('o'))], argv, true).map_err(|e| usage("export", e))?;
    if m.args.len() != 1 {
        return Err(usage(
            "export",
            "\"berth export\" requires exactly 1 argument.".into(),
        ));
    }
    let mut engine = open(g, false)?;
    match m.get("output") {
        Some(path) => {
            let tmp = format!("{path}.berth-export-{}", std::process::id());
            let f = std::fs::File::create(&tmp)
                .map_err(|e| Failure::new(1, format!("open {tmp}: {e}")))?;
            let r = engine.export(&m.args[0], std::io::BufWriter::new(f));
            if let Err(e) = r {
                let _ = std::fs::remove_file(&tmp);
                return Err(engine_failure(e, false));
            }
            std::fs::rename(&tmp, path).map_err(|e| Failure::new(1, format!("{path}: {e}")))?;
        }
        None => {
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() {
                return Err(Failure::new(
                    1,
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            engine
                .export(
                    &m.args[0],
                    std::io::BufWriter::new(std::io::stdout().lock()),
                )
                .map_err(|e| engine_failure(e, false))?;
        }
    }
    Ok(())
}

pub fn diff(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(&[], argv, true).map_err(|e| usage("diff", e))?;
    if m.args.len() != 1 {
        return Err(usage(
            "diff",
            "\"berth diff\" requires exactly 1 argument.".into(),
        ));
    }
    let mut engine = open(g, false)?;
    let changes = engine
        .diff(&m.args[0])
        .map_err(|e| engine_failure(e, false))?;
    let mut out = std::io::stdout().lock();
    for (k, p) in changes {
        let _ = writeln!(out, "{k} {p}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::Config;

    fn cases(n: u32) -> Config {
        Config {
            failure_persistence: None,
            ..Config::with_cases(n)
        }
    }

    #[test]
    fn sizes_as_go_units_reads_them() {
        for (s, want) in [
            ("512", 512),
            ("64m", 64 << 20),
            ("1.5g", 3 << 29),
            ("2GiB", 2 << 30),
            ("1 kb", 1024),
            ("1ib", 1),
            ("7B", 7),
            ("1.5.5", -1),
            ("12zz", -1),
            ("-1", -1),
            ("", -1),
            (" 1m", -1),
            ("1m ", -1),
            ("1.", -1),
            (".5", -1),
            ("1  m", -1),
            ("1e3", -1),
            ("99999999999999999999", -1),
            ("8388608t", -1),
            ("8388607t", 8_388_607 << 40),
            ("9999999999999999999p", -1),
            ("1208925819614629174706176p", -1),
        ] {
            assert_eq!(parse_ram(s).unwrap_or(-1), want, "{s:?}");
        }
        let e = ram_in_bytes("-m, --memory", "12zz").unwrap_err();
        assert_eq!(
            e.message,
            "invalid argument \"12zz\" for \"-m, --memory\" flag: invalid size: '12zz'"
        );
    }

    #[test]
    fn ulimits_as_docker_reads_them() {
        assert_eq!(
            parse_ulimit("nofile=1024:2048").unwrap(),
            ("nofile".into(), 1024, 2048)
        );
        assert_eq!(parse_ulimit("nproc=10").unwrap(), ("nproc".into(), 10, 10));
        let err = |u: &str| parse_ulimit(u).unwrap_err().message;
        assert!(err("nofile").ends_with("invalid ulimit argument: nofile"));
        assert!(err("bogus=1").ends_with("invalid ulimit type: bogus"));
        assert!(err("nofile=1:2:3").contains("too many limit value arguments - 1:2:3"));
        assert!(err("nofile=x").ends_with("invalid ulimit value: x"));
        assert!(err("nofile=2048:1024")
            .ends_with("ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"));
    }

    #[test]
    fn env_files_as_docker_reads_them() {
        let look = |n: &str| (n == "HOME").then(|| "/root".to_string());
        let got = parse_env_file(
            "f",
            "\u{feff}A=1\n  # note\n\n  B = x\nC=two words \nHOME\nUNSET\r\nD=\n",
            look,
        );
        assert!(got
            .unwrap_err()
            .message
            .contains("variable 'B ' contains whitespaces"));
        let got = parse_env_file(
            "f",
            "\u{feff}A=1\n  # c\n\nC=two words \nHOME\nUNSET\r\nD=\n",
            look,
        )
        .unwrap();
        assert_eq!(got, ["A=1", "C=two words ", "HOME=/root", "D="]);
        assert!(parse_env_file("f", "=x", look)
            .unwrap_err()
            .message
            .contains("no variable name on line '=x'"));
    }

    #[test]
    fn add_hosts_as_docker_reads_them() {
        assert_eq!(parse_add_host("h:1.2.3.4").unwrap(), "h:1.2.3.4");
        assert_eq!(parse_add_host("h=::1").unwrap(), "h:::1");
        assert_eq!(parse_add_host("h:::1").unwrap(), "h:::1");
        assert_eq!(parse_add_host("h=[::1]").unwrap(), "h:::1");
        assert_eq!(parse_add_host("h:host-gateway").unwrap(), "h:host-gateway");
        assert!(parse_add_host("h")
            .unwrap_err()
            .message
            .ends_with("bad format for add-host: \"h\""));
        assert!(parse_add_host(":1.2.3.4").is_err());
        assert!(parse_add_host("h:1.2.3")
            .unwrap_err()
            .message
            .ends_with("invalid IP address in add-host: \"1.2.3\""));
    }

    #[test]
    fn mounts_as_docker_reads_them() {
        let mut h = berth_engine::container::HostConfig::default();
        mount_flag("type=bind,src=/a,dst=/b,readonly", &mut h).unwrap();
        mount_flag(
            "type=volume,source=v1,target=/v,ro=false,volume-nocopy",
            &mut h,
        )
        .unwrap();
        mount_flag("Type=tmpfs,Target=/t,tmpfs-size=1m", &mut h).unwrap();
        assert_eq!(h.binds, ["/a:/b:ro"]);
        assert!(!h.volumes[0].read_only && h.volumes[0].no_copy);
        assert_eq!(h.tmpfs, ["/t:size=1048576"]);
        let err = |v: &str| mount_flag(v, &mut h.clone()).unwrap_err().message;
        assert!(err("type=bind,src=/a,dst=/b,readonly=yes")
            .ends_with("invalid value for readonly: yes"));
        assert!(
            err("type,src=/a,dst=/b").ends_with("invalid field 'type' must be a key=value pair")
        );
        assert!(err("type=tmpfs,dst=/t,tmpfs-size=12zz")
            .ends_with("invalid value for tmpfs-size: 12zz"));
        assert!(err("type=bind,bogus=1,dst=/b").contains("unexpected key 'bogus' in 'bogus=1'"));
    }

    proptest! {
        #![proptest_config(cases(256))]

        /// Any size text: no panic; what is accepted is go-units' grammar, an i64 that is
        /// the exact value for whole numbers; errors quote the value.
        #[test]
        fn sizes_never_panic(v in prop_oneof![
            ".{0,12}",
            "[0-9]{1,22}(\\.[0-9]{1,3})? ?[kKmMgGtTpPxX]?[iI]?[bB]?",
            "-?[0-9]{0,4}[.]{0,2}[0-9]{0,3}[ ]{0,2}[a-z]{0,3}",
        ]) {
            match ram_in_bytes("--memory", &v) {
                Ok(n) => {
                    prop_assert!(n >= 0);
                    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
                    prop_assert!(digits > 0);
                    if !v.contains('.') {
                        let int: u128 = v[..digits].parse().unwrap();
                        let unit = v[digits..].trim_start().to_ascii_lowercase();
                        let power = "kmgtp".find(unit.chars().next().unwrap_or('_')).map_or(0, |p| p + 1);
                        prop_assert_eq!(n as u128, int << (10 * power));
                    }
                }
                Err(e) => {
                    let want = format!("invalid size: '{}'", v);
                    prop_assert!(e.message.ends_with(&want), "{}", e.message);
                }
            }
        }

        /// `--ulimit`: no panic; what is accepted has soft <= hard; errors quote the value.
        #[test]
        fn ulimits_never_panic(u in prop_oneof![
            ".{0,16}",
            "(nofile|nproc|core|bogus)?=?[0-9]{0,21}(:[0-9x]{0,21}){0,2}",
        ]) {
            match parse_ulimit(&u) {
                Ok((name, soft, hard)) => {
                    prop_assert!(soft <= hard);
                    let prefix = format!("{}=", name);
                    prop_assert!(u.starts_with(&prefix), "{}", u);
                }
                Err(e) => {
                    let want = format!("invalid argument {:?}", u);
                    prop_assert!(e.message.starts_with(&want), "{}", e.message);
                }
            }
        }

        /// `--env-file`: no panic; every entry kept is NAME=VALUE with a name free of
        /// whitespace, and no more entries than lines.
        #[test]
        fn env_files_never_panic(text in "([ \t]{0,2}[#A-Z =a\t]{0,6}\r?\n){0,6}|.{0,40}") {
            if let Ok(env) = parse_env_file("f", &text, |_| Some("v".into())) {
                prop_assert!(env.len() <= text.lines().count());
                for e in env {
                    let (n, _) = e.split_once('=').unwrap();
                    prop_assert!(!n.is_empty() && !n.contains(char::is_whitespace), "{}", e);
                }
            }
        }

        /// `--add-host`: no panic; what is accepted is NAME:IP with a real address.
        #[test]
        fn add_hosts_never_panic(v in prop_oneof![
            ".{0,20}",
            "[a-z]{0,3}[:=]\\[?[0-9a-f:.]{0,12}\\]?",
        ]) {
            match parse_add_host(&v) {
                Ok(h) => {
                    let (n, ip) = h.split_once(':').unwrap();
                    prop_assert!(!n.is_empty());
                    prop_assert!(ip == "host-gateway" || ip.parse::<std::net::IpAddr>().is_ok());
                }
                Err(e) => {
                    let want = format!("invalid argument {:?}", v);
                    prop_assert!(e.message.starts_with(&want), "{}", e.message);
                }
            }
        }

        /// `--mount`: no panic on any text, and any error quotes the value or names the
        /// field at fault.
        #[test]
        fn mounts_never_panic(v in prop_oneof![
            ".{0,24}",
            prop::collection::vec(
                "(type|src|source|dst|target|ro|readonly|volume-nocopy|tmpfs-size|tmpfs-mode|Type|bogus)(=(bind|volume|tmpfs|/a|rel|true|0|yes|1m|zz|))?",
                0..6,
            ).prop_map(|v| v.join(",")),
        ]) {
            let mut h = berth_engine::container::HostConfig::default();
            if let Err(e) = mount_flag(&v, &mut h) {
                let quoted = format!("{:?}", v);
                prop_assert!(
                    e.message.contains(&quoted) || e.message.contains("mount config") || e.message.contains("mount type"),
                    "{}", e.message
                );
            }
        }
    }
}
