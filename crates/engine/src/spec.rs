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
}

/// The OCI config for `c`, whose rootfs is mounted at `rootfs`.
pub fn build(
    c: &Container,
    rootfs: &Path,
    files: &Managed<'_>,
    cgroup_parent: &str,
) -> Result<Value> {
    let caps = capabilities(c)?;
    let (uid, gid, groups) = resolve_user(rootfs, &c.config.user)?;
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
    let mut args = vec![c.path.clone()];
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
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}),
    ];
    for (dest, src) in [
        ("/etc/resolv.conf", files.resolv),
        ("/etc/hostname", files.hostname),
        ("/etc/hosts", files.hosts),
    ] {
        mounts.push(json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}));
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    match c.host_config.network_mode.as_str() {
        "host" => {}
        _ => namespaces.push(json!({"type": "network"})),
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
    Ok(json!({
        "ociVersion": "1.1.0",
        "process": process,
        "root": {"path": rootfs, "readonly": c.host_config.read_only},
        "hostname": c.config.hostname,
        "mounts": mounts,
        "linux": linux,
    }))
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
