//! The container's filesystem: a plan of mount steps computed in the parent, and an executor
//! that performs them in the child with every target resolved inside the rootfs.
//!
//! Planning is pure, so it is unit-tested with a recording executor; only [`InRoot`] touches
//! the kernel.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{Mount, Spec};

use berth_sys::inroot;
use berth_sys::mount as sysmount;

use crate::devices::Device;
use crate::{Error, Result};

/// One thing to do to the rootfs, with paths as the container sees them.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Mount a filesystem (proc, tmpfs, sysfs, ...) on a directory.
    Mount {
        fstype: String,
        source: String,
        target: PathBuf,
        flags: MsFlags,
        data: String,
        propagation: MsFlags,
    },
    /// Bind a host path; `remount` holds flags (ro, nosuid...) to apply in a second pass.
    Bind {
        source: PathBuf,
        target: PathBuf,
        recursive: bool,
        remount: MsFlags,
        propagation: MsFlags,
    },
    /// Remount an existing mount with extra flags (a read-only cgroup tmpfs).
    Remount { target: PathBuf, flags: MsFlags },
    /// A device node (bound from the host when we may not mknod, in a user namespace).
    Device { dev: Device, bind: bool },
    /// A symlink such as /dev/fd -> /proc/self/fd.
    Symlink { target: PathBuf, path: PathBuf },
}

/// Where the v1/v2 cgroup dirs of this container live on the host, for `cgroup` mounts.
pub type CgroupSources = Vec<berth_cgroups::MountSource>;

/// Parses mount options into flags, propagation flags and the data string, as mount(8) does.
pub fn parse_options(options: &[String]) -> Result<(MsFlags, MsFlags, String, bool)> {
    let mut flags = MsFlags::empty();
    let mut prop = MsFlags::empty();
    let mut data: Vec<&str> = Vec::new();
    let mut bind = false;
    for o in options {
        let (set, clear) = match o.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => {
                bind = true;
                (MsFlags::MS_BIND, MsFlags::empty())
            }
            "rbind" => {
                bind = true;
                (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty())
            }
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                prop |= propagation(o).expect("listed above");
                continue;
            }
            // Options for other tools (crun's tmpcopyup, Docker's z/Z labels) have no kernel
            // meaning; passing them as data would make the mount fail.
            "tmpcopyup" | "z" | "Z" => continue,
            "idmap" | "ridmap" => {
                return Err(Error::Invalid(format!(
                    "mount option {o:?} (idmapped mounts) is not supported yet"
                )))
            }
            other => {
                data.push(other);
                continue;
            }
        };
        flags |= set;
        flags &= !clear;
    }
    Ok((flags, prop, data.join(","), bind))
}

/// Propagation flags for a `rootfsPropagation` or mount option value.
pub fn propagation(s: &str) -> Option<MsFlags> {
    Some(match s {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Flags that need a second, remounting pass on a bind mount.
const REMOUNT_FLAGS: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOATIME)
    .union(MsFlags::MS_NODIRATIME)
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);

/// Turns the spec's mounts, devices and links into steps.
pub fn plan(
    spec: &Spec,
    bundle: &Path,
    devices: &[Device],
    cgroups: &CgroupSources,
    in_userns: bool,
) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for m in spec.mounts().iter().flatten() {
        plan_mount(m, bundle, cgroups, &mut steps)?;
    }
    for d in devices {
        steps.push(Step::Device {
            dev: d.clone(),
            bind: in_userns,
        });
    }
    for (target, path) in [
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ] {
        steps.push(Step::Symlink {
            target: target.into(),
            path: path.into(),
        });
    }
    Ok(steps)
}

fn plan_mount(
    m: &Mount,
    bundle: &Path,
    cgroups: &CgroupSources,
    steps: &mut Vec<Step>,
) -> Result<()> {
    let options = m.options().clone().unwrap_or_default();
    let (flags, propagation, data, is_bind) = parse_options(&options)?;
    let fstype = m.typ().clone().unwrap_or_default();
    let target = m.destination().clone();
    if is_bind || fstype == "bind" {
        let source = m.source().clone().ok_or_else(|| {
            Error::Invalid(format!("mount {}: bind needs a source", target.display()))
        })?;
        let source = bundle.join(source);
        steps.push(Step::Bind {
            source,
            target,
            recursive: flags.contains(MsFlags::MS_REC),
            remount: flags & REMOUNT_FLAGS,
            propagation,
        });
        return Ok(());
    }
    if fstype == "cgroup" || fstype == "cgroup2" {
        let ro = flags & REMOUNT_FLAGS;
        match cgroups.as_slice() {
            // v2: one entry naming the unified dir itself.
            [one] if one.mount_name.is_empty() || fstype == "cgroup2" => steps.push(Step::Bind {
                source: one.host_dir.clone(),
                target,
                recursive: false,
                remount: ro,
                propagation,
            }),
            list => {
                // v1: a tmpfs holding one bind mount per hierarchy, like runc does.
                steps.push(Step::Mount {
                    fstype: "tmpfs".into(),
                    source: "tmpfs".into(),
                    target: target.clone(),
                    flags: flags & !MsFlags::MS_RDONLY,
                    data: "mode=755".into(),
                    propagation,
                });
                for src in list {
                    steps.push(Step::Bind {
                        source: src.host_dir.clone(),
                        target: target.join(&src.mount_name),
                        recursive: false,
                        remount: ro,
                        propagation: MsFlags::empty(),
                    });
                    // Co-mounted controllers (cpu,cpuacct) also answer to each name.
                    for part in src.subsystem.split(',') {
                        let name = part.strip_prefix("name=").unwrap_or(part);
                        if name != src.mount_name {
                            steps.push(Step::Symlink {
                                target: src.mount_name.clone().into(),
                                path: target.join(name),
                            });
                        }
                    }
                }
                if flags.contains(MsFlags::MS_RDONLY) {
                    steps.push(Step::Remount {
                        target,
                        flags: flags & REMOUNT_FLAGS,
                    });
                }
            }
        }
        return Ok(());
    }
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| fstype.clone());
    steps.push(Step::Mount {
        fstype,
        source,
        target,
        flags,
        data,
        propagation,
    });
    Ok(())
}

/// Performs steps; the test double records them instead.
pub trait Executor {
    fn execute(&mut self, step: &Step) -> Result<()>;
}

/// The real executor: resolves every target under `root` with `RESOLVE_IN_ROOT`.
pub struct InRoot {
    pub root: OwnedFd,
}

impl InRoot {
    fn reopen(&self, target: &Path) -> Result<OwnedFd> {
        Ok(inroot::open_path(self.root.as_fd(), target)?)
    }

    fn set_propagation(&self, target: &Path, prop: MsFlags) -> Result<()> {
        if prop.is_empty() {
            return Ok(());
        }
        let fd = self.reopen(target)?;
        sysmount::propagate(&inroot::fd_path(fd.as_fd()), prop)?;
        Ok(())
    }
}

impl Executor for InRoot {
    fn execute(&mut self, step: &Step) -> Result<()> {
        let root = self.root.as_fd();
        match step {
            Step::Mount {
                fstype,
                source,
                target,
                flags,
                data,
                propagation,
            } => {
                let fd = inroot::mkdir_all(root, target, Mode::from_bits_truncate(0o755))?;
                let data = (!data.is_empty()).then_some(data.as_str());
                sysmount::mount_on(
                    Some(Path::new(source)),
                    fd.as_fd(),
                    target,
                    Some(fstype),
                    *flags,
                    data,
                )?;
                self.set_propagation(target, *propagation)
            }
            Step::Bind {
                source,
                target,
                recursive,
                remount,
                propagation,
            } => {
                let src = nix::fcntl::open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                    .map_err(|e| {
                        Error::Invalid(format!("mount source {}: {e}", source.display()))
                    })?;
                let is_dir = inroot::fstat(src.as_fd())?.st_mode & libc::S_IFMT == libc::S_IFDIR;
                let dst = if is_dir {
                    inroot::mkdir_all(root, target, Mode::from_bits_truncate(0o755))?
                } else {
                    inroot::ensure_file(root, target, Mode::from_bits_truncate(0o644))?
                };
                sysmount::bind(src.as_fd(), dst.as_fd(), target, *recursive)?;
                if !remount.is_empty() {
                    // The fd still names the covered mount: look the path up again.
                    let top = self.reopen(target)?;
                    sysmount::remount(top.as_fd(), target, *remount)?;
                }
                self.set_propagation(target, *propagation)
            }
            Step::Remount { target, flags } => {
                let fd = self.reopen(target)?;
                Ok(sysmount::remount(fd.as_fd(), target, *flags)?)
            }
            Step::Device { dev, bind } => make_device(root, dev, *bind),
            Step::Symlink { target, path } => Ok(inroot::symlink(root, target, path)?),
        }
    }
}

fn make_device(root: std::os::fd::BorrowedFd<'_>, dev: &Device, bind: bool) -> Result<()> {
    if bind {
        let host = nix::fcntl::open(&dev.path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::Invalid(format!("device {}: {e}", dev.path.display())))?;
        let dst = inroot::ensure_file(root, &dev.path, Mode::from_bits_truncate(0o644))?;
        return Ok(sysmount::bind(host.as_fd(), dst.as_fd(), &dev.path, false)?);
    }
    let kind = match dev.kind {
        'b' => SFlag::S_IFBLK,
        'p' => SFlag::S_IFIFO,
        _ => SFlag::S_IFCHR,
    };
    let rdev = nix::sys::stat::makedev(dev.major as u64, dev.minor as u64);
    inroot::mknod(
        root,
        &dev.path,
        kind,
        Mode::from_bits_truncate(dev.mode),
        rdev,
    )?;
    let fd = inroot::open_path(root, &dev.path)?;
    let st = inroot::fstat(fd.as_fd())?;
    if st.st_mode & libc::S_IFMT != kind.bits() || (kind != SFlag::S_IFIFO && st.st_rdev != rdev) {
        return Err(Error::Invalid(format!(
            "device {}: an existing file of another kind is in the way",
            dev.path.display()
        )));
    }
    // fchownat on the O_PATH fd itself (AT_EMPTY_PATH) never follows a swapped-in symlink.
    nix::unistd::fchownat(
        fd.as_fd(),
        "",
        Some(nix::unistd::Uid::from_raw(dev.uid)),
        Some(nix::unistd::Gid::from_raw(dev.gid)),
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .map_err(|e| berth_sys::Error::path("chown", &dev.path, e))?;
    Ok(())
}

/// Masks `path`: an empty read-only tmpfs over a directory, `/dev/null` over anything else.
/// `dev_null` was opened on the host and checked to be the real 1:3 char device, so a
/// container cannot swap in a symlink to redirect the bind (CVE-2025-31133).
pub fn mask(
    root: std::os::fd::BorrowedFd<'_>,
    path: &Path,
    dev_null: std::os::fd::BorrowedFd<'_>,
) -> Result<()> {
    let fd = match inroot::open_path(root, path) {
        Ok(fd) => fd,
        Err(e) if e.errno() == Some(nix::Error::ENOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if inroot::fstat(fd.as_fd())?.st_mode & libc::S_IFMT == libc::S_IFDIR {
        sysmount::mount_on(
            Some(Path::new("tmpfs")),
            fd.as_fd(),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            Some("size=0k,nr_inodes=1"),
        )?;
    } else {
        sysmount::bind(dev_null, fd.as_fd(), path, false)?;
    }
    Ok(())
}

/// Makes `path` read-only by binding it onto itself and remounting.
pub fn readonly(root: std::os::fd::BorrowedFd<'_>, path: &Path) -> Result<()> {
    let fd = match inroot::open_path(root, path) {
        Ok(fd) => fd,
        Err(e) if e.errno() == Some(nix::Error::ENOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    sysmount::bind(fd.as_fd(), fd.as_fd(), path, true)?;
    let top = inroot::open_path(root, path)?;
    sysmount::remount(top.as_fd(), path, MsFlags::MS_RDONLY | MsFlags::MS_REC)?;
    Ok(())
}

fn is_dev_null(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    inroot::fstat(fd).is_ok_and(|st| {
        st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == nix::sys::stat::makedev(1, 3)
    })
}

/// The `/dev/null` to bind over masked files: the container's own when it really is the
/// 1:3 char device (reached without following any symlink), else the host's, checked the
/// same way. A container can't redirect the bind by planting a symlink (CVE-2025-31133).
pub fn open_dev_null(root: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    let how = nix::fcntl::OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .resolve(
            nix::fcntl::ResolveFlag::RESOLVE_IN_ROOT | nix::fcntl::ResolveFlag::RESOLVE_NO_SYMLINKS,
        );
    if let Ok(fd) = nix::fcntl::openat2(root, "dev/null", how) {
        if is_dev_null(fd.as_fd()) {
            return Ok(fd);
        }
    }
    let fd = nix::fcntl::open("/dev/null", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| berth_sys::Error::path("open", "/dev/null", e))?;
    if !is_dev_null(fd.as_fd()) {
        return Err(berth_sys::Error::Unexpected {
            path: "/dev/null".into(),
            expected: "the 1:3 character device",
        }
        .into());
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records steps instead of performing them.
    #[derive(Default)]
    struct Recorder(Vec<Step>);
    impl Executor for Recorder {
        fn execute(&mut self, step: &Step) -> Result<()> {
            self.0.push(step.clone());
            Ok(())
        }
    }

    fn spec(mounts: &str) -> Spec {
        serde_json::from_str(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"mounts":{mounts}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn options_split_into_flags_and_data() {
        let o: Vec<String> = ["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"]
            .map(String::from)
            .into();
        let (f, p, d, bind) = parse_options(&o).unwrap();
        assert_eq!(f, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(p, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(d, "mode=755,size=65536k");
        assert!(!bind);
        let (f, ..) = parse_options(&["ro".into(), "rw".into()]).unwrap();
        assert!(f.is_empty());
        assert!(parse_options(&["idmap".into()]).is_err());
    }

    #[test]
    fn plan_of_runc_default_mounts() {
        let s = spec(
            r#"[{"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
                {"destination":"/data","type":"bind","source":"data","options":["rbind","ro","rprivate"]},
                {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}]"#,
        );
        let cg = vec![
            berth_cgroups::MountSource {
                subsystem: "memory".into(),
                mount_name: "memory".into(),
                host_dir: "/sys/fs/cgroup/memory/x".into(),
            },
            berth_cgroups::MountSource {
                subsystem: "name=systemd".into(),
                mount_name: "systemd".into(),
                host_dir: "/sys/fs/cgroup/systemd/x".into(),
            },
        ];
        let devs = crate::devices::devices(&[]);
        let steps = plan(&s, Path::new("/b"), &devs, &cg, false).unwrap();
        let mut rec = Recorder::default();
        for st in &steps {
            rec.execute(st).unwrap();
        }
        let s = &rec.0;
        assert!(
            matches!(&s[0], Step::Mount { fstype, target, .. } if fstype == "proc" && target == Path::new("/proc"))
        );
        assert!(
            matches!(&s[1], Step::Mount { data, flags, .. } if data == "mode=755,size=65536k" && flags.contains(MsFlags::MS_NOSUID))
        );
        assert_eq!(
            s[2],
            Step::Bind {
                source: "/b/data".into(),
                target: "/data".into(),
                recursive: true,
                remount: MsFlags::MS_RDONLY,
                propagation: MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            }
        );
        assert!(
            matches!(&s[3], Step::Mount { fstype, flags, .. } if fstype == "tmpfs" && !flags.contains(MsFlags::MS_RDONLY))
        );
        assert!(
            matches!(&s[4], Step::Bind { target, remount, .. } if target == Path::new("/sys/fs/cgroup/memory") && remount.contains(MsFlags::MS_RDONLY))
        );
        assert!(
            matches!(&s[5], Step::Bind { target, .. } if target == Path::new("/sys/fs/cgroup/systemd"))
        );
        assert!(
            matches!(&s[6], Step::Remount { target, .. } if target == Path::new("/sys/fs/cgroup"))
        );
        let devices: Vec<_> = s
            .iter()
            .filter(|x| matches!(x, Step::Device { bind: false, .. }))
            .collect();
        assert_eq!(devices.len(), 6);
        assert!(s.contains(&Step::Symlink {
            target: "/proc/self/fd".into(),
            path: "/dev/fd".into()
        }));
    }

    #[test]
    fn userns_binds_devices() {
        let s = spec("[]");
        let devs = crate::devices::devices(&[]);
        let steps = plan(&s, Path::new("/b"), &devs, &vec![], true).unwrap();
        assert!(steps
            .iter()
            .all(|x| !matches!(x, Step::Device { bind: false, .. })));
    }
}
