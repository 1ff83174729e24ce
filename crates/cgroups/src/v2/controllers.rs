//! Enabling controllers for children through cgroup.subtree_control.

use std::collections::BTreeSet;
use std::path::Path;

use crate::fs;
use crate::Error;

/// Controllers named in a cgroup.controllers or cgroup.subtree_control file. The "+" prefix is
/// accepted so that fixture files holding our own writes parse too.
pub(crate) fn parse(content: &str) -> BTreeSet<String> {
    content
        .split_whitespace()
        .map(|c| c.trim_start_matches('+').to_owned())
        .collect()
}

pub(crate) fn available(root: &Path) -> Result<BTreeSet<String>, Error> {
    Ok(parse(
        &fs::read_opt(root, "cgroup.controllers")?.unwrap_or_default(),
    ))
}

/// The directories whose subtree_control decides what `rel` gets: the root and every ancestor
/// of `rel`, top down.
fn ancestors(root: &Path, rel: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let comps: Vec<_> = rel.components().collect();
    let mut cur = root.to_path_buf();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        cur.push(c);
        out.push(cur.clone());
    }
    out
}

/// Enables `wanted` down to the parent of `rel`, writing only what is missing, all in one write
/// per level. Fails with `ControllerMissing` when the host lacks one and with `SubtreeBusy` when a
/// level holds processes (the kernel answers EBUSY: no internal processes in v2).
pub(crate) fn enable(root: &Path, rel: &Path, wanted: &BTreeSet<&str>) -> Result<(), Error> {
    if wanted.is_empty() {
        return Ok(());
    }
    let avail = available(root)?;
    if let Some(missing) = wanted.iter().find(|c| !avail.contains(**c)) {
        return Err(Error::ControllerMissing {
            controller: (*missing).to_owned(),
        });
    }
    for dir in ancestors(root, rel) {
        let enabled = parse(&fs::read(&dir, "cgroup.subtree_control")?);
        let value = wanted
            .iter()
            .filter(|c| !enabled.contains(**c))
            .map(|c| format!("+{c}"))
            .collect::<Vec<_>>()
            .join(" ");
        if value.is_empty() {
            continue;
        }
        match fs::write(&dir, "cgroup.subtree_control", &value) {
            Err(Error::Write { source, path, .. })
                if source.raw_os_error() == Some(libc::EBUSY) =>
            {
                return Err(Error::SubtreeBusy {
                    path,
                    controllers: value,
                })
            }
            other => other?,
        }
    }
    Ok(())
}

/// At creation every available controller is enabled, like runc and crun do, so that later
/// updates work even once tasks run. Failures are left for `apply` to report precisely: a
/// controller nobody asks for must not break creation.
pub(crate) fn enable_all_best_effort(root: &Path, rel: &Path) -> Result<(), Error> {
    let avail = available(root)?;
    let wanted: BTreeSet<&str> = avail.iter().map(String::as_str).collect();
    if enable(root, rel, &wanted).is_err() {
        for c in &wanted {
            let _ = enable(root, rel, &BTreeSet::from([*c]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn ancestors_stop_at_parent() {
        let a = ancestors(Path::new("/r"), Path::new("a/b/c"));
        let want: Vec<PathBuf> = ["/r", "/r/a", "/r/a/b"].iter().map(PathBuf::from).collect();
        assert_eq!(a, want);
        assert_eq!(
            ancestors(Path::new("/r"), Path::new("x")),
            vec![PathBuf::from("/r")]
        );
    }
}
