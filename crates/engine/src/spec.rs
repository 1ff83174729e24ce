//! The OCI config a container runs with: Docker's defaults (capabilities, mounts, masked and
//! read-only paths, devices, namespaces), the image's config, then the user's flags.

use std::path::Path;

use serde_json::{json, Value};

use crate::container::Container;
use crate::error::{EngineError, Result};

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability this kernel knows, for `--privileged` and `--cap-add ALL`.
pub fn all_caps() -> Vec<String> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    const NAMES: &[&str] = &[
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    NAMES
        .iter()
        .take(last as usize + 1)
        .map(|n| format!("CAP_{n}"))
        .collect()
}

/// Docker's masked paths.
pub const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn cap_name(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// The capability set after `--privileged`, `--cap-add` and `--cap-drop`.
pub fn capabilities(c: &Container) -> Result<Vec<String>> {
    let all = all_caps();
    if c.host_config.privileged {
        return Ok(all);
    }
    let mut caps: Vec<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
    for d in &c.host_config.cap_drop {
        if d.eq_ignore_ascii_case("all") {
            caps.clear();
            continue;
        }
        let n = cap_name(d);
        if !all.contains(&n) {
            return Err(EngineError::Invalid(format!("invalid capability: {d}")));
        }
        caps.retain(|x| *x != n);
    }
    for a in &c.host_config.cap_add {
        if a.eq_ignore_ascii_case("all") {
            caps = all.clone();
            continue;
        }
        let n = cap_name(a);
        if !all.contains(&n) {
            return Err(EngineError::Invalid(format!("invalid capability: {a}")));
        }
        if !caps.contains(&n) {
            caps.push(n);
        }
    }
    Ok(caps)
}

/// uid, gid and extra groups for `user` (`name`, `uid`, `name:group`, `uid:gid`), looked
/// up in the container's own /etc/passwd and /etc/group, read in-root.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>)> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let read = |p: &str| -> String {
        berth_sys::inroot::open_root(rootfs)
            .ok()
            .and_then(|root| {
                use std::os::fd::AsFd;
                berth_sys::inroot::open(
                    root.as_fd(),
                    Path::new(p),
                    nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .ok()
            })
            .and_then(|fd| {
                let mut s = String::new();
                std::io::Read::read_to_string(
                    &mut std::io::Read::take(std::fs::File::from(fd), 4 << 20),
                    &mut s,
                )
                .ok()?;
                Some(s)
            })
            .unwrap_or_default()
    };
    let passwd = read("/etc/passwd");
    let group = read("/etc/group");
    let entry = |name: &str| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && (f[0] == name || f[2] == name))
                .then(|| (f[2].parse::<u32>().ok(), f[3].parse::<u32>().ok()))
        })
    };
    let (uid, mut gid) = if u.is_empty() {
        (0, 0)
    } else if let Ok(n) = u.parse::<u32>() {
        let g = entry(u).and_then(|(_, g)| g).unwrap_or(0);
        (n, g)
    } else {
        match entry(u) {
            Some((Some(uid), Some(gid))) => (uid, gid),
            _ => {
                return Err(EngineError::Invalid(format!(
                    "unable to find user {u}: no matching entries in passwd file"
                )))
            }
        }
    };
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[0] == g)
                        .then(|| f[2].parse::<u32>().ok())
                        .flatten()
                })
                .ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
    }
    // Supplementary groups the user is a member of.
    let name = passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
        .unwrap_or_default();
    let extra: Vec<u32> = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && !name.is_empty() && f[3].split(',').any(|m| m == name))
                .then(|| f[2].parse::<u32>().ok())
                .flatten()
        })
        .filter(|g| *g != gid)
        .collect();
    Ok((uid, gid, extra))
}

/// Where `--init`'s init lives in the container (Docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// The host's init for `--init`: `BERTH_INIT`, else catatonit or tini.
pub fn init_binary() -> Result<String> {
    let candidates = [
        std::env::var("BERTH_INIT").unwrap_or_default(),
        "/usr/bin/catatonit".into(),
        "/usr/libexec/podman/catatonit".into(),
        "/usr/bin/tini-static".into(),
        "/usr/bin/tini".into(),
    ];
    candidates
        .into_iter()
        .find(|p| !p.is_empty() && Path::new(p).is_file())
        .ok_or_else(|| {
            EngineError::Invalid(
                "--init needs an init binary: install catatonit or tini, or set BERTH_INIT".into(),
            )
        })
}

/// Checks what `build` would refuse, so that `create` fails instead of a later `start`.
pub fn validate(c: &Container) -> Result<()> {
    let h = &c.host_config;
    for (kind, mode) in [
        ("pid", &h.pid_mode),
        ("ipc", &h.ipc_mode),
        ("uts", &h.uts_mode),
    ] {
        if !matches!(mode.as_str(), "" | "host" | "private" | "shareable") {
            return Err(EngineError::Invalid(format!(
                "invalid --{kind} value {mode:?} (host or private)"
            )));
        }
    }
    if !matches!(h.cgroupns_mode.as_str(), "" | "host" | "private") {
        return Err(EngineError::Invalid(format!(
            "invalid cgroup namespace mode: {}",
            h.cgroupns_mode
        )));
    }
    if !matches!(h.userns_mode.as_str(), "" | "host") {
        return Err(EngineError::Invalid(format!(
            "invalid userns mode: {} (berth does not remap users; host is the only mode)",
            h.userns_mode
        )));
    }
    if h.uts_mode == "host" && c.config.hostname_set {
        return Err(EngineError::Invalid(
            "conflicting options: hostname and the network mode".into(),
        ));
    }
    for b in &h.binds {
        bind_mount(b)?;
    }
    if h.init {
        init_binary()?;
    }
    for x in &h.extra_hosts {
        let ok = x
            .split_once(':')
            .is_some_and(|(n, ip)| !n.is_empty() && ip.parse::<std::net::IpAddr>().is_ok());
        if !ok {
            return Err(EngineError::Invalid(format!(
                "invalid IP address in add-host: {x:?}"
            )));
        }
    }
    for t in &h.tmpfs {
        let dest = t.split(':').next().unwrap_or_default();
        if !dest.starts_with('/') {
            return Err(EngineError::Invalid(format!(
                "invalid mount path for --tmpfs: {dest:?} (must be absolute)"
            )));
        }
    }
    for (host, _, perms) in &h.devices {
        device_of(host)?;
        if perms.is_empty() || !perms.chars().all(|p| "rwm".contains(p)) {
            return Err(EngineError::Invalid(format!(
                "invalid device mode: {perms}"
            )));
        }
    }
    Ok(())
}

/// The modes Docker's daemon fills in at create, so that `inspect` shows them: the cgroup
/// namespace is the host's on cgroup v1 and hybrid hosts, private on v2.
pub fn fill_defaults(h: &mut crate::container::HostConfig) {
    if h.cgroupns_mode.is_empty() {
        let v2 = matches!(berth_cgroups::detect(), Ok(berth_cgroups::Mode::Unified));
        h.cgroupns_mode = if v2 { "private" } else { "host" }.into();
    }
}

/// `-v HOST:CONTAINER[:OPTIONS]` as an OCI bind mount, checked as Docker's daemon checks a
/// bind: an absolute host path, an absolute destination other than `/` (cleaned as Go's
/// `path.Clean` does, so `..` never climbs above it), and known options. Volumes were split
/// out before (crate::volume::parse_spec); what is left here is a host path.
pub fn bind_mount(spec: &str) -> Result<Value> {
    use crate::volume::VolumeError;
    let invalid = |reason: String| {
        EngineError::from(VolumeError::Spec {
            spec: spec.to_string(),
            reason,
        })
    };
    let bind_err =
        |what: String| invalid(format!("invalid mount config for type \"bind\": {what}"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dest, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(invalid(String::new())),
    };
    if !src.starts_with('/') {
        return Err(invalid(String::new()));
    }
    if dest.is_empty() {
        return Err(bind_err("field Target must not be empty".into()));
    }
    if !dest.starts_with('/') {
        return Err(bind_err(format!(
            "invalid mount path: '{dest}' mount path must be absolute"
        )));
    }
    let dest = crate::volume::clean(dest);
    if dest == "/" {
        return Err(bind_err(
            "invalid specification: destination can't be '/'".into(),
        ));
    }
    let mut options = vec!["rbind".to_string()];
    let mut propagation = "rprivate".to_string();
    let mut seen = [false; 3];
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let group = match o {
            "ro" | "rw" => {
                options.push(o.to_string());
                0
            }
            "z" | "Z" => 1,
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                propagation = o.to_string();
                2
            }
            _ => return Err(VolumeError::Mode(opts.to_string()).into()),
        };
        // Docker: one of each kind (`ro,rw` is no mode).
        if std::mem::replace(&mut seen[group], true) {
            return Err(VolumeError::Mode(opts.to_string()).into());
        }
    }
    options.push(propagation);
    Ok(json!({"destination": dest, "type": "bind", "source": src, "options": options}))
}

/// Type, major, minor and mode of a host device node, for `--device`.
fn device_of(path: &str) -> Result<(&'static str, u64, u64, u32)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(path).map_err(|e| {
        EngineError::Invalid(format!(
            "error gathering device information while adding custom device {path:?}: {e}"
        ))
    })?;
    let kind = if m.file_type().is_char_device() {
        "c"
    } else if m.file_type().is_block_device() {
        "b"
    } else {
        return Err(EngineError::Invalid(format!("{path} is not a device node")));
    };
    let rdev = m.rdev();
    Ok((
        kind,
        libc::major(rdev) as u64,
        libc::minor(rdev) as u64,
        m.mode() & 0o777,
    ))
}

/// The seccomp filter: Docker's default for the container's capabilities, a profile the
/// user gave (Docker's format), or none for `unconfined` and `--privileged`.
pub fn seccomp(c: &Container, caps: &[String]) -> Result<Option<Value>> {
    use berth_seccomp::profile;
    let filter = match c.host_config.seccomp.as_deref() {
        Some("unconfined") => return Ok(None),
        None if c.host_config.privileged => return Ok(None),
        None => profile::docker_default(caps, profile::native_arch()),
        Some(text) => profile::from_docker_file(text.as_bytes(), caps)
            .map_err(|e| EngineError::Invalid(format!("seccomp profile: {e}")))?,
    };
    serde_json::to_value(filter)
        .map(Some)
        .map_err(|e| EngineError::Invalid(format!("seccomp profile: {e}")))
}

/// Files the engine manages per container and binds in.
pub struct Managed<'a> {
    pub hostname: &'a Path,
    pub hosts: &'a Path,
    pub resolv: &'a Path,
    /// The network namespace to join (`--network container:NAME`), not a new one.
    pub netns: Option<&'a Path>,
}

/// The OCI config for `c`, whose rootfs is mounted at `rootfs`.
pub fn build(
    c: &Container,
    rootfs: &Path,
    files: &Managed<'_>,
    cgroup_parent: &str,
) -> Result<Value> {
    let caps = capabilities(c)?;
    let h = &c.host_config;
    let (uid, gid, mut groups) = resolve_user(rootfs, &c.config.user)?;
    for g in &h.group_add {
        let id = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => resolve_user(rootfs, &format!("0:{g}"))?.1,
        };
        if !groups.contains(&id) {
            groups.push(id);
        }
    }
    let mut env: Vec<String> = Vec::new();
    let mut set = |kv: &str| {
        let key = kv.split('=').next().unwrap_or("");
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.to_string());
    };
    set(&format!("PATH={DEFAULT_PATH}"));
    set(&format!("HOSTNAME={}", c.config.hostname));
    for e in &c.config.env {
        set(e);
    }
    if c.config.tty {
        set("TERM=xterm");
    }
    let mut args = Vec::new();
    if h.init {
        // A real PID 1 (reaping, signal forwarding): Debian's catatonit, bound in read-only
        // where Docker puts its docker-init.
        args.extend([INIT_PATH.to_string(), "--".to_string()]);
    }
    args.push(c.path.clone());
    args.extend(c.args.iter().cloned());
    let cwd = if c.config.working_dir.is_empty() {
        "/".to_string()
    } else {
        c.config.working_dir.clone()
    };
    let nosuid = ["nosuid", "noexec", "nodev"];
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": nosuid}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", if c.host_config.privileged { "rw" } else { "ro" }]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", if c.host_config.privileged { "rw" } else { "ro" }]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": nosuid}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={}", if h.shm_size > 0 { h.shm_size } else { 64 << 20 })]}),
    ];
    let user_mounts = mounts.len();
    for b in &h.binds {
        mounts.push(bind_mount(b)?);
    }
    mounts.extend(h.volumes.iter().map(crate::volume::oci_mount));
    // Parents before children, as Docker orders them: a bind inside a volume goes on top.
    mounts[user_mounts..].sort_by_key(|m| crate::volume::depth(&m["destination"]));
    if h.init {
        mounts.push(json!({"destination": INIT_PATH, "type": "bind", "source": init_binary()?, "options": ["bind", "ro", "nosuid", "nodev"]}));
    }
    for t in &h.tmpfs {
        let (dest, opts) = t.split_once(':').unwrap_or((t.as_str(), ""));
        if !dest.starts_with('/') {
            return Err(EngineError::Invalid(format!(
                "invalid mount path for --tmpfs: {dest:?} (must be absolute)"
            )));
        }
        let mut options = vec![
            "nosuid".to_string(),
            "nodev".to_string(),
            "noexec".to_string(),
        ];
        options.extend(opts.split(',').filter(|o| !o.is_empty()).map(String::from));
        mounts.push(
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options}),
        );
    }
    for (dest, src) in [
        ("/etc/resolv.conf", files.resolv),
        ("/etc/hostname", files.hostname),
        ("/etc/hosts", files.hosts),
    ] {
        mounts.push(json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}));
    }
    let mut namespaces = vec![json!({"type": "mount"})];
    for (kind, mode) in [
        ("pid", &h.pid_mode),
        ("ipc", &h.ipc_mode),
        ("uts", &h.uts_mode),
    ] {
        match mode.as_str() {
            "host" => {}
            "" | "private" | "shareable" => namespaces.push(json!({"type": kind})),
            other => {
                return Err(EngineError::Invalid(format!(
                    "invalid --{kind} value {other:?} (host or private)"
                )))
            }
        }
    }
    match (c.host_config.network_mode.as_str(), files.netns) {
        ("host", _) => {}
        (_, Some(path)) => namespaces.push(json!({"type": "network", "path": path})),
        _ => namespaces.push(json!({"type": "network"})),
    }
    // "" is a record from before --cgroupns: the host's, Docker's default on cgroup v1.
    if h.cgroupns_mode == "private" {
        namespaces.push(json!({"type": "cgroup"}));
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": format!("{cgroup_parent}/{}", c.id),
        "resources": {
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
                {"allow": true, "type": "c", "major": 136, "access": "rwm"},
                {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
            ]
        },
    });
    let res = &mut linux["resources"];
    if h.memory > 0 {
        res["memory"]["limit"] = json!(h.memory);
        res["memory"]["swap"] = json!(match h.memory_swap {
            0 => h.memory * 2,
            s => s,
        });
    }
    if h.nano_cpus > 0 {
        res["cpu"]["period"] = json!(100_000);
        res["cpu"]["quota"] = json!(h.nano_cpus / 10_000);
    }
    if h.cpu_shares > 0 {
        res["cpu"]["shares"] = json!(h.cpu_shares);
    }
    if !h.cpuset_cpus.is_empty() {
        res["cpu"]["cpus"] = json!(h.cpuset_cpus);
    }
    if h.pids_limit != 0 {
        res["pids"]["limit"] = json!(h.pids_limit);
    }
    crate::update::more_resources(h, res);
    let mut devices = Vec::new();
    for (host, inside, perms) in &h.devices {
        let (kind, major, minor, mode) = device_of(host)?;
        devices.push(json!({"path": inside, "type": kind, "major": major, "minor": minor, "fileMode": mode, "uid": 0, "gid": 0}));
        if let Some(rules) = linux["resources"]["devices"].as_array_mut() {
            rules.push(json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": perms}));
        }
    }
    if !devices.is_empty() {
        linux["devices"] = json!(devices);
    }
    if !h.sysctls.is_empty() {
        linux["sysctl"] = json!(h.sysctls);
    }
    if !c.host_config.privileged {
        linux["maskedPaths"] = json!(MASKED);
        linux["readonlyPaths"] = json!(READONLY);
    }
    if let Some(filter) = seccomp(c, &caps)? {
        linux["seccomp"] = filter;
    }
    let mut process = json!({
        "terminal": c.config.tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": groups},
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": c.host_config.no_new_privileges,
    });
    if c.host_config.privileged {
        process["capabilities"]["inheritable"] = json!(caps);
    }
    if !h.ulimits.is_empty() {
        process["rlimits"] = json!(h
            .ulimits
            .iter()
            .map(|(n, soft, hard)| json!({"type": format!("RLIMIT_{}", n.to_ascii_uppercase()), "soft": soft, "hard": hard}))
            .collect::<Vec<_>>());
    }
    let mut spec = json!({
        "ociVersion": "1.1.0",
        "process": process,
        "root": {"path": rootfs, "readonly": c.host_config.read_only},
        "mounts": mounts,
        "linux": linux,
    });
    // With the host's UTS namespace the container has the host's name.
    if h.uts_mode != "host" {
        spec["hostname"] = json!(c.config.hostname);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_from_the_container() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\nwww:x:33:\nstaff:x:50:www\n",
        )
        .unwrap();
        assert_eq!(resolve_user(d.path(), "").unwrap(), (0, 0, vec![]));
        assert_eq!(resolve_user(d.path(), "www").unwrap(), (33, 33, vec![50]));
        assert_eq!(
            resolve_user(d.path(), "33:staff").unwrap(),
            (33, 50, vec![])
        );
        assert_eq!(resolve_user(d.path(), "1000").unwrap(), (1000, 0, vec![]));
        let e = resolve_user(d.path(), "nobody").unwrap_err();
        assert!(e.to_string().contains("unable to find user nobody"), "{e}");
    }
}
