use std::path::PathBuf;

/// Everything that can go wrong in the runtime, each carrying the value that caused it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid container id {0:?}: use letters, digits, '_', '+', '-' and '.'")]
    InvalidId(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("container does not exist: {0}")]
    NotFound(String),
    #[error("container {id} is {status}: {why}")]
    WrongState {
        id: String,
        status: crate::Status,
        why: &'static str,
    },
    #[error("config {path}: {msg}")]
    Config { path: PathBuf, msg: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sys(#[from] berth_sys::Error),
    #[error("cgroup: {0}")]
    Cgroup(#[from] berth_cgroups::Error),
    #[error("seccomp: {0}")]
    Seccomp(#[from] berth_seccomp::Error),
    #[error("{kind} hook {path}: {msg}")]
    Hook {
        kind: &'static str,
        path: PathBuf,
        msg: String,
    },
    #[error("container init: {0}")]
    Init(String),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    /// An error reported by a forked child, which may already carry our prefix.
    pub(crate) fn from_child(msg: String) -> Self {
        match msg.strip_prefix("container init: ") {
            Some(rest) => Error::Init(rest.to_string()),
            None => Error::Init(msg),
        }
    }

    pub(crate) fn config(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
