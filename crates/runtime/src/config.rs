//! Loading and checking a bundle's `config.json` before anything is created.
//!
//! Every check that can fail is done here, in the parent, so that a bad config is reported
//! with the field that is wrong and leaves nothing behind.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use crate::{Error, Result};

/// A bundle: its directory, its parsed config and its absolute rootfs.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub path: PathBuf,
    pub spec: Spec,
    pub rootfs: PathBuf,
    /// The config exactly as read, kept with the container's state.
    pub raw: Vec<u8>,
}

/// Largest config.json we read; real ones are a few KiB.
const MAX_CONFIG: u64 = 16 << 20;

/// Reads and validates `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Bundle> {
    let path = std::path::absolute(bundle).map_err(|e| Error::io(bundle, e))?;
    let file = path.join("config.json");
    let meta = std::fs::metadata(&file).map_err(|e| Error::io(&file, e))?;
    if meta.len() > MAX_CONFIG {
        return Err(Error::config(
            &file,
            format!("larger than {MAX_CONFIG} bytes"),
        ));
    }
    let data = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    let spec = parse(&data).map_err(|msg| Error::config(&file, msg))?;
    let rootfs = validate(&spec, &path).map_err(|msg| Error::config(&file, msg))?;
    Ok(Bundle {
        path,
        spec,
        rootfs,
        raw: data,
    })
}

/// Parses config JSON; the message names the line, column and offending value.
pub fn parse(data: &[u8]) -> std::result::Result<Spec, String> {
    serde_json::from_slice(data).map_err(|e| format!("invalid JSON: {e}"))
}

/// Checks the fields the runtime relies on and returns the absolute rootfs path.
pub fn validate(spec: &Spec, bundle: &Path) -> std::result::Result<PathBuf, String> {
    let version = spec.version();
    if version.is_empty() {
        return Err("ociVersion is required".into());
    }
    if !version.starts_with("1.") {
        return Err(format!(
            "ociVersion {version:?} is not supported (want 1.x)"
        ));
    }
    let root = spec.root().as_ref().ok_or("root is required")?;
    if root.path().as_os_str().is_empty() {
        return Err("root.path is required".into());
    }
    let rootfs = bundle.join(root.path());
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("root.path {}: not a directory", rootfs.display())),
        Err(e) => return Err(format!("root.path {}: {e}", rootfs.display())),
    }
    let process = spec.process().as_ref().ok_or("process is required")?;
    validate_process(process)?;
    if let Some(linux) = spec.linux() {
        let mut seen = HashSet::new();
        let mut new_userns = false;
        let mut uts = false;
        for ns in linux.namespaces().iter().flatten() {
            if !seen.insert(ns.typ()) {
                return Err(format!(
                    "linux.namespaces: duplicate namespace {:?}",
                    ns.typ()
                ));
            }
            match ns.path() {
                Some(p) => {
                    if !p.is_absolute() {
                        return Err(format!(
                            "linux.namespaces: {} path {} must be absolute",
                            ns.typ(),
                            p.display()
                        ));
                    }
                    std::fs::metadata(p).map_err(|e| {
                        format!("linux.namespaces: {} path {}: {e}", ns.typ(), p.display())
                    })?;
                }
                None => {
                    new_userns |= ns.typ() == LinuxNamespaceType::User;
                }
            }
            uts |= ns.typ() == LinuxNamespaceType::Uts;
        }
        let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        if new_userns && !has_maps {
            return Err(
                "linux.uidMappings and gidMappings are required for a new user namespace".into(),
            );
        }
        if has_maps && !seen.contains(&LinuxNamespaceType::User) {
            return Err("linux.uidMappings given without a user namespace".into());
        }
        let new_time = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::Time && n.path().is_none());
        if let Some(offsets) = linux.time_offsets() {
            if !offsets.is_empty() && !new_time {
                return Err("linux.timeOffsets needs a new time namespace".into());
            }
            if let Some(k) = offsets
                .keys()
                .find(|k| *k != "monotonic" && *k != "boottime")
            {
                return Err(format!(
                    "linux.timeOffsets: unknown clock {k:?} (monotonic or boottime)"
                ));
            }
        }
        if let Some(d) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) {
            return Err(format!(
                "linux.netDevices ({}) is not supported yet",
                d.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if linux.intel_rdt().is_some() {
            return Err("linux.intelRdt is not supported (no resctrl support yet)".into());
        }
        if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !uts {
            return Err("hostname requires a private UTS namespace".into());
        }
        if let Some(p) = linux.cgroups_path() {
            if p.components().any(|c| c == std::path::Component::ParentDir) {
                return Err(format!(
                    "linux.cgroupsPath {} must not contain ..",
                    p.display()
                ));
            }
        }
    }
    for m in spec.mounts().iter().flatten() {
        if !m.destination().is_absolute() {
            return Err(format!(
                "mounts: destination {} must be absolute",
                m.destination().display()
            ));
        }
    }
    Ok(rootfs)
}

/// Checks a process section (also used for `exec -p process.json`).
pub fn validate_process(process: &Process) -> std::result::Result<(), String> {
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err("process.args must not be empty".into());
    }
    if !process.cwd().is_absolute() {
        return Err(format!(
            "process.cwd {} must be an absolute path",
            process.cwd().display()
        ));
    }
    for r in process.rlimits().iter().flatten() {
        if r.soft() > r.hard() {
            return Err(format!(
                "process.rlimits: {} soft limit {} is above its hard limit {}",
                r.typ(),
                r.soft(),
                r.hard()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(config: &str) -> (tempfile::TempDir, Result<Bundle>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let r = load(dir.path());
        (dir, r)
    }

    const GOOD: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
        "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}"#;

    #[test]
    fn good_config_loads() {
        let (dir, b) = bundle_with(GOOD);
        let b = b.unwrap();
        assert_eq!(b.rootfs, dir.path().join("rootfs"));
    }

    fn err_of(config: &str) -> String {
        bundle_with(config).1.unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_field() {
        assert!(err_of("{").contains("invalid JSON"));
        assert!(err_of(&GOOD.replace("\"ociVersion\":\"1.0.2\",", "")).contains("ociVersion"));
        assert!(err_of(&GOOD.replace("\"root\":{\"path\":\"rootfs\"},", "")).contains("root"));
        assert!(err_of(&GOOD.replace("rootfs", "nope")).contains("nope"));
        assert!(err_of(&GOOD.replace("\"pid\"", "\"foo\"")).contains("foo"));
        assert!(err_of(&GOOD.replace("[\"sh\"]", "[]")).contains("process.args"));
        let missing = GOOD.replace(
            "{\"type\":\"pid\"}",
            "{\"type\":\"network\",\"path\":\"/nonexistent/ns\"}",
        );
        let e = err_of(&missing);
        assert!(e.contains("/nonexistent/ns"), "{e}");
        assert!(
            err_of(&GOOD.replace("{\"type\":\"mount\"}", "{\"type\":\"pid\"}"))
                .contains("duplicate")
        );
        assert!(err_of(&GOOD.replace("\"cwd\":\"/\"", "\"cwd\":\"rel\"")).contains("cwd"));
        assert!(
            err_of(&GOOD.replace("{\"type\":\"mount\"}", "{\"type\":\"user\"}"))
                .contains("uidMappings")
        );
    }
}
