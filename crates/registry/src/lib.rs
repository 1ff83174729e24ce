//! A distribution v2 registry client: manifests, blobs, uploads and authentication, for
//! `pull`, `push` and `login`.
//!
//! [`Client`] talks to one registry host over HTTP(S) with ureq (synchronous; share one
//! client between threads to fetch layers in parallel). It handles the `WWW-Authenticate`
//! challenges (Bearer tokens per scope, or Basic), Docker's insecure-registry fallback to
//! plain http, and checks manifest digests. [`auth`] reads and writes the docker CLI's
//! config file, where logins are kept.
//!
//! Everything here only speaks the protocol; storing what is pulled is the caller's job.

pub mod auth;
mod base64;
mod challenge;
mod client;
mod error;
pub mod pull;
pub mod push;

pub use auth::{ConfigError, Credentials, DockerConfig};
pub use client::{
    media_types, BlobReader, Client, ClientOptions, Descriptor, Manifest, Upload, MAX_MANIFEST_SIZE,
};
pub use error::{ApiError, Detail, Error, Result};
