//! berth's image library: the content store, the layer applier, overlay snapshots, image
//! metadata and the archive formats images travel in.

pub mod apply;
pub mod archive;
pub mod compression;
pub mod content;
pub mod db;
pub mod diff;
pub mod digest;
pub mod gc;
pub mod import;
pub mod lease;
pub mod reference;
pub mod snapshot;
pub mod spec;
pub mod store;
pub mod timefmt;

pub use content::ContentStore;
pub use digest::Digest;
pub use reference::Reference;
pub use store::{Image, Store, StoreError};
