//! Compression detection (to be written).
