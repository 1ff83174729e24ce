//! File helpers shared by both hierarchies. Every error carries the path (and the value, for
//! writes) so that callers never have to add context.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::Error;

pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<(), Error> {
    let path = dir.join(file);
    // cgroupfs parses every write(2) on its own, so the value goes out in one call. O_TRUNC means
    // nothing to cgroupfs but makes fixture files hold only the latest value.
    let res = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| Error::Write {
        path,
        value: value.to_owned(),
        source,
    })
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String, Error> {
    let path = dir.join(file);
    fs::read_to_string(&path).map_err(|source| Error::Read { path, source })
}

/// A missing file is a normal answer for optional knobs (memsw without swap accounting, newer
/// stat files on older kernels), so it maps to `None` instead of an error.
pub(crate) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>, Error> {
    let path = dir.join(file);
    match fs::read_to_string(&path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read { path, source }),
    }
}

/// Parses a single number; v2 spells "no limit" as `max`, which becomes `u64::MAX`.
pub(crate) fn parse_u64(path: &Path, content: &str) -> Result<u64, Error> {
    let t = content.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse().map_err(|_| Error::Parse {
        path: path.to_path_buf(),
        content: content.to_owned(),
    })
}

pub(crate) fn read_u64(dir: &Path, file: &str) -> Result<u64, Error> {
    let s = read(dir, file)?;
    parse_u64(&dir.join(file), &s)
}

pub(crate) fn read_u64_opt(dir: &Path, file: &str) -> Result<Option<u64>, Error> {
    match read_opt(dir, file)? {
        Some(s) => parse_u64(&dir.join(file), &s).map(Some),
        None => Ok(None),
    }
}

/// Parses "key value" lines (memory.stat, cpu.stat, memory.events, ...). Lines that do not hold
/// a number are skipped: kernels add fields over time and a stats reader must not break on them.
pub(crate) fn parse_keyed(content: &str) -> BTreeMap<String, u64> {
    content
        .lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let key = it.next()?;
            let value = it.next()?;
            let value = if value == "max" {
                u64::MAX
            } else {
                value.parse().ok()?
            };
            Some((key.to_owned(), value))
        })
        .collect()
}

pub(crate) fn read_keyed_opt(
    dir: &Path,
    file: &str,
) -> Result<Option<BTreeMap<String, u64>>, Error> {
    Ok(read_opt(dir, file)?.map(|s| parse_keyed(&s)))
}

pub(crate) fn mkdir_all(path: &Path) -> Result<(), Error> {
    fs::create_dir_all(path).map_err(|source| Error::Create {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates one directory level; an existing directory is fine. Returns whether it was created.
pub(crate) fn mkdir_one(path: &Path) -> Result<bool, Error> {
    match fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(Error::Create {
            path: path.to_path_buf(),
            source,
        }),
    }
}

const RMDIR_ATTEMPTS: u32 = 8;

/// Removes a cgroup and its child cgroups. The kernel refuses rmdir while a just-killed task is
/// still leaving the cgroup (EBUSY), hence the short retries. A missing directory is success,
/// so that destroy is idempotent.
pub(crate) fn remove_cgroup(path: &Path) -> Result<(), Error> {
    let remove_err = |source| Error::Remove {
        path: path.to_path_buf(),
        source,
    };
    match fs::read_dir(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(remove_err(e)),
        Ok(entries) => {
            // cgroupfs refuses rmdir of a cgroup that still has child cgroups.
            for entry in entries {
                let entry = entry.map_err(remove_err)?;
                if entry.file_type().map_err(remove_err)?.is_dir() {
                    remove_cgroup(&entry.path())?;
                }
            }
        }
    }
    let mut delay = Duration::from_millis(5);
    let mut attempt = 0;
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt + 1 < RMDIR_ATTEMPTS => {
                thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
                attempt += 1;
            }
            Err(e) => return Err(remove_err(e)),
        }
    }
}

/// Collects the pids of `dir` and of every cgroup below it.
pub(crate) fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<(), Error> {
    let path = dir.join("cgroup.procs");
    let content = read(dir, "cgroup.procs")?;
    for line in content.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let pid = line.parse().map_err(|_| Error::Parse {
            path: path.clone(),
            content: line.to_owned(),
        })?;
        out.push(pid);
    }
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            return Err(Error::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            match procs_recursive(&entry.path(), out) {
                // A child cgroup removed while we walk is not an error.
                Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    Ok(())
}

/// Sends `sig` to `pid`; a process that is already gone is not an error.
pub(crate) fn signal(pid: i32, sig: i32) -> Result<(), Error> {
    // cgroup.procs shows 0 for tasks outside our pid namespace, and kill(0 or -1) would hit our
    // own process group or every process we may signal.
    if pid <= 0 {
        return Ok(());
    }
    // SAFETY: kill(2) takes two integers and reads or writes no memory of ours.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        return Ok(());
    }
    let source = io::Error::last_os_error();
    if source.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(Error::Signal { pid, sig, source })
}

/// The OCI cgroupsPath made relative, checked once and reported on every use: `open_v1` and
/// `open_v2` cannot fail, so a bad path surfaces from the first operation instead.
#[derive(Debug, Clone)]
pub(crate) struct CgroupPath {
    raw: String,
    rel: Result<PathBuf, &'static str>,
}

impl CgroupPath {
    pub(crate) fn new(raw: &str) -> Self {
        Self {
            raw: raw.to_owned(),
            rel: validate(raw),
        }
    }

    pub(crate) fn rel(&self) -> Result<&Path, Error> {
        match &self.rel {
            Ok(p) => Ok(p),
            Err(reason) => Err(Error::InvalidPath {
                path: self.raw.clone(),
                reason,
            }),
        }
    }
}

fn validate(raw: &str) -> Result<PathBuf, &'static str> {
    if raw.contains('\0') {
        return Err("contains a NUL byte");
    }
    let mut rel = PathBuf::new();
    for c in Path::new(raw).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => return Err("contains a '..' component"),
            Component::Normal(n) => rel.push(n),
            Component::Prefix(_) => return Err("has a path prefix"),
        }
    }
    if rel.as_os_str().is_empty() {
        return Err("names the root cgroup, which a container must not own");
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_relative_and_dotdot_is_rejected() {
        assert_eq!(
            CgroupPath::new("/berth/abc").rel().unwrap(),
            Path::new("berth/abc")
        );
        assert_eq!(
            CgroupPath::new("berth/./abc/").rel().unwrap(),
            Path::new("berth/abc")
        );
        for bad in ["/berth/../../etc", "..", "/", "", "a\0b"] {
            let err = CgroupPath::new(bad).rel().unwrap_err();
            assert!(matches!(err, Error::InvalidPath { .. }), "{bad:?}: {err}");
        }
    }

    #[test]
    fn keyed_parsing_skips_junk_and_maps_max() {
        let m = parse_keyed("cache 10\nrss 20\nbogus\nlimit max\nname text\n");
        assert_eq!(m.get("cache"), Some(&10));
        assert_eq!(m.get("rss"), Some(&20));
        assert_eq!(m.get("limit"), Some(&u64::MAX));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn write_names_file_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(dir.path(), "memory.max", "123").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("memory.max") && msg.contains("\"123\""),
            "{msg}"
        );
    }

    #[test]
    fn remove_missing_is_ok_and_nested_dirs_go() {
        let dir = tempfile::tempdir().unwrap();
        remove_cgroup(&dir.path().join("nope")).unwrap();
        let c = dir.path().join("a/b/c");
        fs::create_dir_all(&c).unwrap();
        remove_cgroup(&dir.path().join("a")).unwrap();
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn signal_never_targets_groups() {
        // Would kill the test's own process group if passed through.
        signal(0, libc::SIGKILL).unwrap();
        signal(-1, libc::SIGKILL).unwrap();
    }
}
