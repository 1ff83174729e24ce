//! The layer applier (to be written).
