//! berth's engine: containers as Docker has them, on the image store and the runtime library.
//! Each container has a monitor process of its own (see [`monitor`]), so containers keep
//! running when no `berth` command does.

pub mod attach;
pub mod commit;
pub mod container;
pub mod cp;
pub mod dns;
pub mod endpoint;
pub mod engine;
pub mod error;
pub mod exec;
pub mod health;
pub mod info;
pub mod inspect;
pub mod logs;
pub mod monitor;
pub mod network;
pub mod ports;
pub mod spec;
pub mod stats;
pub mod update;
pub mod volume;

/// The kernel-facing network library the engine uses, for callers and tests.
pub use berth_network;
pub use container::{Container, Status};
pub use engine::{Attach, CreateOptions, Engine, Started};
pub use error::{EngineError, Kind, Result};
