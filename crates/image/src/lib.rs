//! berth's image library. So far: the content store every image part lives in.

pub mod content;
pub mod digest;
pub mod reference;

pub use content::ContentStore;
pub use digest::Digest;
pub use reference::Reference;
