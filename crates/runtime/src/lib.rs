//! berth's OCI runtime library: the work behind `berth-runc` and, later, the engine.
//!
//! Synchronous on purpose: creating a container forks, and forking is only safe from a
//! single-threaded process. Nothing here prints or exits; the binary decides how to report.
//!
//! One file per lifecycle verb (`create.rs`, `start.rs`, ...) and per kernel object the child
//! sets up (`namespaces.rs`, `rootfs.rs`, `capabilities.rs`, ...).

mod capabilities;
pub mod config;
pub mod console;
pub mod create;
pub mod delete;
mod devices;
mod error;
pub mod events;
pub mod exec;
pub mod hooks;
mod init;
pub mod kill;
mod listener;
mod namespaces;
pub mod pause;
pub mod process;
pub mod rootfs;
pub mod start;
pub mod state;
mod sync;
mod time;
mod tuning;
pub mod update;
pub mod wait;

pub use error::{Error, Result};
pub use state::{Container, Status};
