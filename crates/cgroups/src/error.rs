use std::io;
use std::path::PathBuf;

/// Every failure names the file, value or controller involved, so that a runtime can show it
/// without adding context of its own.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid cgroup path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },

    #[error("cannot detect the cgroup mode: statfs {path}: {source}")]
    Detect {
        path: PathBuf,
        source: nix::errno::Errno,
    },

    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },

    #[error("cannot write {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },

    #[error("unexpected content in {path}: {content:?}")]
    Parse { path: PathBuf, content: String },

    #[error("cannot create cgroup directory {path}: {source}")]
    Create { path: PathBuf, source: io::Error },

    #[error("cannot remove cgroup directory {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },

    #[error(
        "cgroup controller {controller:?} is not available on this host, but the resources need it"
    )]
    ControllerMissing { controller: String },

    #[error(
        "cannot enable controllers {controllers:?} in {path}: it holds processes, and cgroup v2 \
         does not enable controllers for the children of a cgroup with processes of its own"
    )]
    SubtreeBusy { path: PathBuf, controllers: String },

    #[error("invalid value {value:?} for {field}: {reason}")]
    InvalidResource {
        field: &'static str,
        value: String,
        reason: String,
    },

    #[error("{what} is not supported on cgroup {version}")]
    Unsupported { version: &'static str, what: String },

    #[error("{path} did not become {wanted} within {waited_ms} ms (last state {last:?})")]
    FreezeTimeout {
        path: PathBuf,
        wanted: &'static str,
        last: String,
        waited_ms: u64,
    },

    #[error("cannot send signal {sig} to pid {pid}: {source}")]
    Signal {
        pid: i32,
        sig: i32,
        source: io::Error,
    },

    #[error("bpf {op} for {path}: {source}")]
    Bpf {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}
