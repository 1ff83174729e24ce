//! berth's image library: the content store, the layer applier, overlay snapshots, image
//! metadata and the archive formats images travel in.

pub mod apply;
pub mod compression;
pub mod content;
pub mod digest;
pub mod reference;

pub use content::ContentStore;
pub use digest::Digest;
pub use reference::Reference;
