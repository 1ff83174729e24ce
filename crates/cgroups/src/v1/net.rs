//! v1 net_cls and net_prio controllers (v2 has no equivalent; eBPF replaces them there).

use std::path::Path;

use oci_spec::runtime::LinuxNetwork;

use crate::fs;
use crate::Error;

pub(crate) fn apply_cls(dir: &Path, n: &LinuxNetwork) -> Result<(), Error> {
    if let Some(id) = n.class_id() {
        fs::write(dir, "net_cls.classid", &id.to_string())?;
    }
    Ok(())
}

pub(crate) fn apply_prio(dir: &Path, n: &LinuxNetwork) -> Result<(), Error> {
    for p in n.priorities().iter().flatten() {
        // One "interface priority" pair per write; a newline or space in the name would
        // inject another pair.
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            return Err(Error::InvalidResource {
                field: "network.priorities.name",
                value: p.name().clone(),
                reason: "must be a non-empty interface name without whitespace".into(),
            });
        }
        fs::write(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}
