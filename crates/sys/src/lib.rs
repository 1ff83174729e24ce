//! The only berth crate that talks to the kernel through raw syscalls.
//!
//! Everything here is small, synchronous and allocation-light, because much of it runs in a
//! freshly forked child between `fork` and `execve`.

pub mod at;
pub mod exe;
pub mod fds;
pub mod fsflags;
pub mod inroot;
pub mod lsm;
pub mod memory;
pub mod mount;
pub mod proc;
pub mod process;
pub mod pty;
pub mod xattr;

use std::path::PathBuf;

/// A failed system call, with the object it was working on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} {path}: {errno}")]
    Path {
        op: &'static str,
        path: PathBuf,
        errno: nix::Error,
    },
    #[error("{op}: {errno}")]
    Call { op: &'static str, errno: nix::Error },
    #[error("{path} is not {expected}")]
    Unexpected {
        path: PathBuf,
        expected: &'static str,
    },
}

impl Error {
    pub fn path(op: &'static str, path: impl Into<PathBuf>, errno: nix::Error) -> Self {
        Error::Path {
            op,
            path: path.into(),
            errno,
        }
    }
    pub fn call(op: &'static str, errno: nix::Error) -> Self {
        Error::Call { op, errno }
    }
    /// The errno behind the error, when there is one.
    pub fn errno(&self) -> Option<nix::Error> {
        match self {
            Error::Path { errno, .. } | Error::Call { errno, .. } => Some(*errno),
            Error::Unexpected { .. } => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
