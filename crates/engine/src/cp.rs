//! `docker cp`: a container's files as a tar stream, and a tar stream into a container
//! directory, the two halves of Docker's archive API (`GET`/`PUT /containers/ID/archive`).
//!
//! The container's filesystem is attacker-controlled, so no path in it is ever joined onto a
//! host path: every lookup goes through `openat2(RESOLVE_IN_ROOT)` from an fd of the
//! container's root, the walk for copy-out reads each name from its parent's fd without
//! following symlinks, and copy-in goes through the layer applier, which creates everything
//! the same way. A symlink such as `/data -> /etc` therefore means the container's `/etc`.
//!
//! A running container is reached through `/proc/PID/root`, which is its own mount
//! namespace: bind mounts and tmpfs mounts are seen (and written) as the container sees
//! them. A stopped one has its snapshot mounted for the length of the copy, so writes land in
//! its upper layer; its binds are not mounted then (Docker mounts them; we don't yet).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use berth_sys::{at, inroot};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// What Docker's `HEAD /archive` reports about a path (`X-Docker-Container-Path-Stat`).
#[derive(Debug, Clone)]
pub struct PathStat {
    pub name: String,
    /// The path after following what the request followed, in the container.
    pub path: String,
    pub size: i64,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    pub mtime: i64,
    /// Where the symlink points, when it is one (not followed).
    pub link_target: String,
}

impl PathStat {
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }
}

/// A container's filesystem, open for one copy. Dropping it unmounts what it mounted, and
/// then lets the container's monitor mount the rootfs again.
struct Fs {
    root: OwnedFd,
    mounted: Option<PathBuf>,
    _lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// Serialises mounting a container's snapshot: the monitor takes it around mounting the
/// rootfs, and a copy into a stopped container for as long as its own mount exists, so that
/// the same upper directory is never mounted twice (overlayfs leaves that undefined).
pub(crate) fn rootfs_lock(dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    let p = dir.join("rootfs.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(EngineError::io(&p))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| {
        EngineError::Io {
            path: p,
            source: e.into(),
        }
    })
}

/// Whether something (the monitor) has mounted a filesystem at `p`.
fn is_mountpoint(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::symlink_metadata(p),
        p.parent().map(std::fs::symlink_metadata),
    ) {
        (Ok(a), Some(Ok(b))) => a.dev() != b.dev(),
        _ => false,
    }
}

impl Drop for Fs {
    fn drop(&mut self) {
        if let Some(p) = self.mounted.take() {
            let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(&p);
        }
    }
}

/// A resolved path: a name in a directory (`.` for a directory reached as a whole, such as
/// `/`).
struct Target {
    parent: OwnedFd,
    name: OsString,
    path: String,
    /// The path ended in `/.`: the directory's contents, not the directory.
    contents: bool,
}

/// Symlinks followed for one path before giving up, as the kernel's limit.
const MAX_LINKS: usize = 40;

impl Engine {
    fn open_fs(&mut self, id: &str, write: bool) -> Result<(Container, Fs)> {
        let c = self.refresh(id)?;
        if write && c.host_config.read_only {
            return Err(EngineError::Conflict(
                "container rootfs is marked read-only".into(),
            ));
        }
        if matches!(c.state.status, Status::Running | Status::Paused) {
            let rc = berth_runtime::Container::load(&self.runtime_root(), &c.id)?;
            let root = init_root(rc.record.init_pid, rc.record.init_start)?;
            return Ok((
                c,
                Fs {
                    root,
                    mounted: None,
                    _lock: None,
                },
            ));
        }
        let lock = rootfs_lock(&self.container_dir(&c.id))?;
        let rootfs = self.container_dir(&c.id).join("rootfs");
        if is_mountpoint(&rootfs) {
            // It is being started (or restarted): its monitor's mount is the one to use.
            let root = inroot::open_root(&rootfs).map_err(|e| sys_err(&rootfs, e))?;
            return Ok((
                c,
                Fs {
                    root,
                    mounted: None,
                    _lock: None,
                },
            ));
        }
        let mounts = self
            .store
            .snapshots
            .mounts(&self.store.db, &c.id)
            .map_err(berth_image::StoreError::from)?;
        let target =
            self.root()
                .join("tmp")
                .join(format!("cp-{}-{}", std::process::id(), c.short_id()));
        std::fs::create_dir_all(&target).map_err(EngineError::io(&target))?;
        if let Err(e) = crate::engine::mount_rootfs(&mounts, &target, false) {
            let _ = std::fs::remove_dir(&target);
            return Err(e);
        }
        match inroot::open_root(&target) {
            Ok(root) => Ok((
                c,
                Fs {
                    root,
                    mounted: Some(target),
                    _lock: Some(lock),
                },
            )),
            Err(e) => {
                let _ = nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH);
                let _ = std::fs::remove_dir(&target);
                Err(sys_err(&target, e))
            }
        }
    }

    /// `HEAD /containers/ID/archive`: what is at `path`, following a final symlink only when
    /// `follow` says so (or the path ends in `/`).
    pub fn stat_path(&mut self, id: &str, path: &str, follow: bool) -> Result<PathStat> {
        let (c, fs) = self.open_fs(id, false)?;
        let t = resolve(fs.root.as_fd(), &c, path, follow)?;
        stat_of(&t)
    }

    /// `GET /containers/ID/archive`: `path` as a tar written to `out`, its top entry named
    /// `rename` (or the path's own name); for `DIR/.` the directory's contents, under
    /// `rename` when given.
    pub fn archive_path(
        &mut self,
        id: &str,
        path: &str,
        follow: bool,
        rename: Option<&str>,
        out: impl Write,
    ) -> Result<PathStat> {
        let (c, fs) = self.open_fs(id, false)?;
        let t = resolve(fs.root.as_fd(), &c, path, follow)?;
        let st = stat_of(&t)?;
        let shown = PathBuf::from(&t.path);
        let fail = |e: berth_image::diff::DiffError| {
            EngineError::Invalid(format!("copying {path} from container: {e}"))
        };
        if t.contents || t.name == "." {
            if !st.is_dir() {
                return Err(EngineError::Invalid(format!("{path}: not a directory")));
            }
            let dir = if t.name == "." {
                t.parent.try_clone().map_err(EngineError::io(&shown))?
            } else {
                at::open_dir(t.parent.as_fd(), &t.name).map_err(|e| sys_err(&shown, e))?
            };
            berth_image::diff::write_contents(dir.as_fd(), rename.map(str::as_bytes), &shown, out)
                .map_err(fail)?;
        } else {
            // A followed link keeps the name it was asked by (Docker's rebase with -L).
            let asked = Path::new(path.trim_end_matches('/'))
                .file_name()
                .unwrap_or(&t.name);
            let name = rename.map_or(asked.as_bytes(), str::as_bytes);
            berth_image::diff::write_entry(t.parent.as_fd(), &t.name, name, &shown, out)
                .map_err(fail)?;
        }
        Ok(st)
    }

    /// `PUT /containers/ID/archive`: extracts the tar read from `tar` into the directory
    /// `dir` in the container. Entries are owned by the container's root unless
    /// `preserve_owner` (`cp -a`) keeps the tar's owners.
    pub fn extract_to(
        &mut self,
        id: &str,
        dir: &str,
        tar: impl Read,
        preserve_owner: bool,
    ) -> Result<()> {
        let (c, fs) = self.open_fs(id, true)?;
        let t = resolve(fs.root.as_fd(), &c, dir, true)?;
        let st = stat_of(&t)?;
        if !st.is_dir() {
            return Err(EngineError::Invalid(format!(
                "extraction point is not a directory: {dir}"
            )));
        }
        let shown = PathBuf::from(&t.path);
        let target = if t.name == "." {
            t.parent.try_clone().map_err(EngineError::io(&shown))?
        } else {
            at::open_dir(t.parent.as_fd(), &t.name).map_err(|e| sys_err(&shown, e))?
        };
        let opts = berth_image::apply::ApplyOptions {
            whiteouts: berth_image::apply::Whiteouts::Literal,
            preserve_owner,
            ..Default::default()
        };
        // The applier anchors itself at the directory we hold, through /proc/self/fd: it is
        // the in-root lookup of `dir`, not a path someone could swap.
        berth_image::apply::apply(&inroot::fd_path(target.as_fd()), tar, &opts)
            .map_err(|e| EngineError::Invalid(format!("copying to {dir} in container: {e}")))?;
        Ok(())
    }
}

/// The root directory of the container's init, as its mount namespace has it. The
/// /proc/PID directory is opened first and checked to be that very process (pid and start
/// time): an fd of it stays with that process, so a pid reused meanwhile can't hand us
/// another process's root (the host's, say).
fn init_root(pid: i32, start: u64) -> Result<OwnedFd> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let gone = || EngineError::Conflict(format!("the container's init (pid {pid}) has exited"));
    let proc_dir = nix::fcntl::open(
        &dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|_| gone())?;
    let mut stat = String::new();
    nix::fcntl::openat(
        proc_dir.as_fd(),
        "stat",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(std::fs::File::from)
    .and_then(|mut f| {
        f.read_to_string(&mut stat)
            .map_err(|e| nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    })
    .map_err(|_| gone())?;
    // Fields after the command name (which may hold spaces and parentheses): state is
    // field 3, the start time field 22.
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let mut fields = rest.split_whitespace();
    let state = fields.next().unwrap_or("X");
    let started: Option<u64> = fields.nth(22 - 4).and_then(|v| v.parse().ok());
    if started != Some(start) || state == "Z" || state == "X" {
        return Err(gone());
    }
    // Following the `root` magic link is the point here; everything below it is resolved
    // in-root.
    nix::fcntl::openat(
        proc_dir.as_fd(),
        "root",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| EngineError::Io {
        path: dir.join("root"),
        source: e.into(),
    })
}

fn sys_err(path: &Path, e: berth_sys::Error) -> EngineError {
    let errno = e.errno().map_or(libc::EIO, |n| n as i32);
    EngineError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::from_raw_os_error(errno),
    }
}

/// Resolves `path` in the container, in-root: every symlink on the way, and the final one
/// when `follow` (or a trailing `/`) asks for it, is resolved as if the container's root
/// were `/`.
fn resolve(root: BorrowedFd<'_>, c: &Container, path: &str, follow: bool) -> Result<Target> {
    let contents = path.ends_with("/.") || path == ".";
    let dir_only = contents || path.ends_with('/');
    let follow = follow || dir_only;
    let not_found = |p: &str| EngineError::NoSuchPath {
        path: p.to_string(),
        container: c.name.clone(),
    };
    // Relative paths are relative to the container's root, as in Docker.
    let mut cur = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    for _ in 0..MAX_LINKS {
        let p = PathBuf::from(&cur);
        let last = p.components().next_back();
        let Some(Component::Normal(name)) = last else {
            // `/`, or a path ending in `..`: a directory taken as a whole.
            let fd = inroot::open(root, &p, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())
                .map_err(|e| match e.errno() {
                    Some(nix::Error::ENOENT) | Some(nix::Error::ENOTDIR) => not_found(path),
                    _ => sys_err(&p, e),
                })?;
            return Ok(Target {
                parent: fd,
                name: OsString::from("."),
                path: cur,
                contents: true,
            });
        };
        let parent_path = p.parent().unwrap_or(Path::new("/"));
        let parent = inroot::open(
            root,
            parent_path,
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .map_err(|e| match e.errno() {
            Some(nix::Error::ENOENT) | Some(nix::Error::ENOTDIR) => not_found(path),
            _ => sys_err(parent_path, e),
        })?;
        let st = at::lstat(parent.as_fd(), name)
            .map_err(|e| sys_err(&p, e))?
            .ok_or_else(|| not_found(path))?;
        if follow && st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            let target = at::readlink(parent.as_fd(), name).map_err(|e| sys_err(&p, e))?;
            let target = PathBuf::from(target);
            let next = if target.is_absolute() {
                target
            } else {
                parent_path.join(target)
            };
            cur = next.to_string_lossy().into_owned();
            if dir_only && !cur.ends_with('/') {
                cur.push('/');
            }
            continue;
        }
        let name = name.to_os_string();
        if dir_only && st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(EngineError::Invalid(format!("{path}: not a directory")));
        }
        return Ok(Target {
            parent,
            name,
            path: cur.trim_end_matches('/').to_string(),
            contents,
        });
    }
    Err(EngineError::Invalid(format!(
        "{path}: too many levels of symbolic links"
    )))
}

fn stat_of(t: &Target) -> Result<PathStat> {
    let shown = Path::new(&t.path);
    let st = at::lstat(t.parent.as_fd(), &t.name)
        .map_err(|e| sys_err(shown, e))?
        .ok_or_else(|| EngineError::Invalid(format!("{}: vanished", t.path)))?;
    let link_target = if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        at::readlink(t.parent.as_fd(), &t.name)
            .map_err(|e| sys_err(shown, e))?
            .to_string_lossy()
            .into_owned()
    } else {
        String::new()
    };
    let name = if t.name == "." {
        Path::new(&t.path)
            .file_name()
            .unwrap_or(OsStr::new("/"))
            .to_string_lossy()
            .into_owned()
    } else {
        t.name.to_string_lossy().into_owned()
    };
    Ok(PathStat {
        name,
        path: t.path.clone(),
        size: st.st_size,
        mode: st.st_mode,
        mtime: st.st_mtime,
        link_target,
    })
}
