//! The engine's errors, and the one place that says what kind each is (which the CLI turns
//! into exit codes and the API daemon into HTTP statuses).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] berth_image::StoreError),
    #[error(transparent)]
    Runtime(#[from] berth_runtime::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// A path `cp` was asked for is not in the container.
    #[error("Could not find the file {path} in container {container}")]
    NoSuchPath { path: String, container: String },
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    BadName(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// The container's command could not be run (126) or found (127).
    #[error("{message}")]
    Command { message: String, status: i32 },
    #[error("container monitor: {0}")]
    Monitor(String),
    #[error("database: {0}")]
    Db(#[from] berth_image::db::DbError),
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
    /// Docker's daemon wording.
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// A network driver berth doesn't have (Docker's plugin lookup failing).
    #[error("plugin \"{0}\" not found")]
    NoSuchPlugin(String),
    /// Bridges, addresses, IPAM and the firewall (berth-network), with its message.
    #[error(transparent)]
    Network(#[from] berth_network::NetworkError),
}

/// What kind of failure an error is: the CLI's exit code and the API's status come from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NotFound,
    Conflict,
    Invalid,
    /// The command in the container can't be invoked (126) or found (127).
    Command(i32),
    Internal,
}

impl EngineError {
    pub fn kind(&self) -> Kind {
        match self {
            EngineError::NoSuchContainer(_) | EngineError::NoSuchPath { .. } => Kind::NotFound,
            EngineError::Store(berth_image::StoreError::NoSuchImage(_)) => Kind::NotFound,
            EngineError::NameInUse { .. } | EngineError::Conflict(_) => Kind::Conflict,
            EngineError::BadName(_) | EngineError::Invalid(_) => Kind::Invalid,
            EngineError::Command { status, .. } => Kind::Command(*status),
            EngineError::Volume(v) => v.kind(),
            EngineError::NoSuchNetwork(_) | EngineError::NoSuchPlugin(_) => Kind::NotFound,
            EngineError::Network(n) => {
                use berth_network::NetworkError as N;
                match n {
                    N::InvalidCidr { .. }
                    | N::InvalidSubnet { .. }
                    | N::InvalidGateway { .. }
                    | N::InvalidRange { .. }
                    | N::InvalidAddress { .. }
                    | N::InvalidName { .. }
                    | N::InvalidPort { .. } => Kind::Invalid,
                    N::PoolOverlap { .. }
                    | N::AddressInUse { .. }
                    | N::PoolExhausted { .. }
                    | N::NoFreeSubnet { .. } => Kind::Conflict,
                    _ => Kind::Internal,
                }
            }
            _ => Kind::Internal,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EngineError {
        let path = path.into();
        move |source| EngineError::Io { path, source }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
