//! berth's image library: the content store, the layer applier, overlay snapshots, image
//! metadata and the archive formats images travel in.

pub mod apply;
// pub mod archive; (waits for apply)
pub mod compression;
pub mod content;
pub mod db;
pub mod digest;
// pub mod gc; (waits for apply)
// pub mod import; (waits for apply)
pub mod lease;
pub mod reference;
pub mod snapshot;
pub mod spec;
pub mod timefmt;
// pub mod store; (waits for apply)

pub use content::ContentStore;
pub use digest::Digest;
pub use reference::Reference;
// pub use store::{Image, Store, StoreError};
