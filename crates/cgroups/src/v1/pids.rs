//! v1 pids controller (the file names match v2's).

use std::path::Path;

use oci_spec::runtime::LinuxPids;

use crate::fs;
use crate::{Error, PidsStats};

pub(crate) fn apply(dir: &Path, p: &LinuxPids) -> Result<(), Error> {
    fs::write(dir, "pids.max", &limit_value(p.limit()))
}

/// OCI uses 0 or a negative limit for "unlimited".
pub(crate) fn limit_value(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_owned()
    }
}

pub(crate) fn stats(dir: &Path, out: &mut PidsStats) -> Result<(), Error> {
    out.current = fs::read_u64_opt(dir, "pids.current")?.unwrap_or(0);
    out.limit = fs::read_u64_opt(dir, "pids.max")?.filter(|l| *l != u64::MAX);
    Ok(())
}
