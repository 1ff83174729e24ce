//! v2 pids controller: pids.max and pids.current are the same files, with the same format, as v1.

pub(crate) use crate::v1::pids::{apply, stats};
