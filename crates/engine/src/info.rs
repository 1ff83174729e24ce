//! `docker info` and `docker version`: what this engine and host are, in the shape of the
//! Docker API's `/info` and `/version` (so the CLI's `--format` and the API daemon agree).

use serde_json::{json, Value};

use crate::container::Status;
use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// Docker's API version berth speaks, and the oldest it accepts.
pub const API_VERSION: &str = "1.43";
pub const MIN_API_VERSION: &str = "1.24";

/// The kernel release and the machine, as `uname -rm` says.
fn uname() -> (String, String) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    (
        release.trim().to_string(),
        std::env::consts::ARCH.to_string(),
    )
}

/// `PRETTY_NAME` of os-release, as Docker shows the operating system.
fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let pretty = get("PRETTY_NAME");
    (
        if pretty.is_empty() {
            "Linux".into()
        } else {
            pretty
        },
        get("VERSION_ID"),
    )
}

/// Docker's GOARCH names for the kernel's machine names.
pub fn go_arch(machine: &str) -> &str {
    match machine {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "armv7l" => "arm",
        "i686" | "i386" => "386",
        other => other,
    }
}

impl Engine {
    /// The engine's ID: made once, kept in the root, as dockerd keeps its own.
    fn engine_id(&self) -> Result<String> {
        let p = self.root().join("engine-id");
        if let Ok(id) = std::fs::read_to_string(&p) {
            let id = id.trim();
            if !id.is_empty() {
                return Ok(id.to_string());
            }
        }
        let hex = crate::container::new_id();
        // UUID-shaped, as Docker's is.
        let id = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        let tmp = p.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, format!("{id}\n")).map_err(EngineError::io(&tmp))?;
        // A concurrent first `info` may have won: keep whichever landed first.
        match std::fs::hard_link(&tmp, &p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(EngineError::io(&p)(e));
            }
        }
        let _ = std::fs::remove_file(&tmp);
        Ok(std::fs::read_to_string(&p)
            .map(|s| s.trim().to_string())
            .unwrap_or(id))
    }

    /// Docker's `/info`.
    pub fn info(&mut self) -> Result<Value> {
        let cs = self.containers()?;
        let count = |s: &[Status]| cs.iter().filter(|c| s.contains(&c.state.status)).count();
        let running = count(&[Status::Running, Status::Restarting]);
        let paused = count(&[Status::Paused]);
        let images = self.store.images()?.len();
        let (kernel, machine) = uname();
        let (os, os_version) = os_release();
        let cgroup_version = match berth_cgroups::detect() {
            Ok(berth_cgroups::Mode::Unified) => "2",
            _ => "1",
        };
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        let root = std::fs::canonicalize(self.root()).unwrap_or_else(|_| self.root().into());
        let mut v = json!({
            "ID": self.engine_id()?,
            "Containers": cs.len(),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": cs.len() - running - paused,
            "Images": images,
            "Driver": "overlayfs",
            "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["host", "null"],
                "Authorization": null,
                "Log": ["json-file"],
            },
            "MemoryLimit": true,
            "SwapLimit": std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() || cgroup_version == "2",
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "IPv4Forwarding": std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|v| v.trim() == "1"),
            "Debug": false,
        });
        let more = json!({
            "OomKillDisable": cgroup_version == "1",
            "SystemTime": berth_image::timefmt::now(),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version,
            "KernelVersion": kernel,
            "OperatingSystem": os,
            "OSVersion": os_version,
            "OSType": "linux",
            "Architecture": machine,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "NCPU": crate::stats::online_cpus(),
            "MemTotal": crate::stats::host_memory(),
            "DockerRootDir": root,
            "Name": hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Runtimes": {"berth": {"path": "berth-runc"}},
            "DefaultRuntime": "berth",
            "Swarm": {"LocalNodeState": "inactive"},
            "LiveRestoreEnabled": true,
            "Isolation": "",
            "InitBinary": "",
            "SecurityOptions": ["name=seccomp,profile=builtin"],
            "Warnings": [],
        });
        if let (Some(a), Value::Object(b)) = (v.as_object_mut(), more) {
            a.extend(b);
        }
        Ok(v)
    }

    /// Docker's `/version`: the engine is this binary (there is no daemon to ask).
    pub fn version(&self) -> Value {
        let (kernel, machine) = uname();
        json!({
            "Platform": {"Name": "berth Engine"},
            "Components": [{
                "Name": "Engine",
                "Version": env!("CARGO_PKG_VERSION"),
                "Details": {
                    "ApiVersion": API_VERSION,
                    "MinAPIVersion": MIN_API_VERSION,
                    "Os": "linux",
                    "Arch": go_arch(&machine),
                    "KernelVersion": kernel,
                    "Experimental": "false",
                },
            }],
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "Os": "linux",
            "Arch": go_arch(&machine),
            "KernelVersion": kernel,
            "Experimental": false,
        })
    }
}

/// Bytes of regular files below `dir` (each inode once), reached by fd without following
/// symlinks: the directory is a container's, whose contents it controls.
fn tree_size(
    dir: std::os::fd::BorrowedFd<'_>,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> u64 {
    use std::os::fd::AsFd;
    let Ok(names) = berth_sys::at::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for name in names {
        let Ok(Some(st)) = berth_sys::at::lstat(dir, &name) else {
            continue;
        };
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                if let Ok(sub) = berth_sys::at::open_dir(dir, &name) {
                    total += tree_size(sub.as_fd(), seen);
                }
            }
            libc::S_IFREG | libc::S_IFLNK if seen.insert((st.st_dev, st.st_ino)) => {
                total += u64::try_from(st.st_size).unwrap_or(0);
            }
            _ => {}
        }
    }
    total
}

impl Engine {
    /// The size of a container's writable layer (Docker's `SizeRw`).
    pub fn container_size(&self, id: &str) -> Result<u64> {
        use std::os::fd::AsFd;
        let info = self
            .store
            .snapshots
            .stat(&self.store.db, id)
            .map_err(berth_image::StoreError::from)?;
        let upper = self.store.snapshots.fs_dir(&info);
        let root = berth_sys::inroot::open_root(&upper)
            .map_err(|e| EngineError::Invalid(format!("{}: {e}", upper.display())))?;
        let top = berth_sys::at::open_dir(root.as_fd(), std::ffi::OsStr::new("."))
            .map_err(|e| EngineError::Invalid(format!("{}: {e}", upper.display())))?;
        Ok(tree_size(top.as_fd(), &mut Default::default()))
    }
}
