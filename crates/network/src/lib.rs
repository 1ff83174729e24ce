//! The kernel-facing half of Docker-style bridge networking: links, addresses and routes
//! over rtnetlink (`link`), IPv4 address management (`ipam`), the nftables table berth owns
//! (`nft`), network namespace handles (`netns`), the forwarding sysctls (`sysctl`) and the
//! name server of user-defined networks (`dns`).
//! Synchronous throughout: the engine calls it from the short-lived CLI and from
//! per-container monitors, where an async runtime would cost more than it saves.

pub mod dns;
pub mod error;
pub mod ipam;
pub mod link;
pub mod netns;
pub mod nft;
pub mod sysctl;

pub use error::{NetworkError, Result};
