//! The container's state directory: `<root>/<id>/state.json`, the exec fifo and a copy of
//! the config, and the status derived from them.
//!
//! Status is never stored, only derived, so a crash can't leave it stale: the init process
//! (pid plus start time, which survives pid reuse) tells running from stopped, the exec
//! fifo tells created from running, and the freezer tells paused.

use std::fmt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Default state root, like runc's `/run/runc`.
pub const DEFAULT_ROOT: &str = "/run/berth-runc";
pub(crate) const STATE_FILE: &str = "state.json";
pub(crate) const CONFIG_FILE: &str = "config.json";
pub(crate) const EXEC_FIFO: &str = "exec.fifo";

/// OCI status values, plus `paused` which runc reports too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What we persist about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub init_pid: i32,
    pub init_start: u64,
    pub cgroup_path: String,
    /// The `create` process while it runs (pid and start time), for the `creating` status.
    #[serde(default)]
    pub creator_pid: i32,
    #[serde(default)]
    pub creator_start: u64,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The OCI state, in runc's field order and spelling.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The spec version we implement, as reported in `state`.
pub const OCI_VERSION: &str = "1.2.0";

/// A container that exists in a state root.
#[derive(Debug)]
pub struct Container {
    pub root: PathBuf,
    pub dir: PathBuf,
    pub record: Record,
    /// The config and cgroup, loaded once per process on first use.
    spec: std::cell::OnceCell<Spec>,
    cgroup: std::cell::OnceCell<Box<dyn berth_cgroups::Cgroup>>,
}

/// Now, as an RFC 3339 UTC timestamp with nanoseconds.
pub fn now() -> String {
    crate::time::now_rfc3339()
}

/// Container ids become directory names: keep them to a safe alphabet.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_string()))
    }
}

impl Container {
    pub(crate) fn new(root: PathBuf, dir: PathBuf, record: Record) -> Self {
        Container {
            root,
            dir,
            record,
            spec: std::cell::OnceCell::new(),
            cgroup: std::cell::OnceCell::new(),
        }
    }

    /// Remembers what create already has in hand.
    pub(crate) fn with_cache(self, spec: Spec, cgroup: Box<dyn berth_cgroups::Cgroup>) -> Self {
        let _ = self.spec.set(spec);
        let _ = self.cgroup.set(cgroup);
        self
    }

    /// Loads container `id` from `root`.
    pub fn load(root: &Path, id: &str) -> Result<Self> {
        check_id(id)?;
        let dir = root.join(id);
        let file = dir.join(STATE_FILE);
        let data = match std::fs::read(&file) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A create killed between making the directory and saving the state leaves
                // just the directory: show it as stopped, so that delete removes it.
                if dir.is_dir() {
                    let record = Record {
                        id: id.to_string(),
                        bundle: PathBuf::new(),
                        rootfs: PathBuf::new(),
                        created: String::new(),
                        init_pid: 0,
                        init_start: 0,
                        cgroup_path: String::new(),
                        creator_pid: 0,
                        creator_start: 0,
                        annotations: Default::default(),
                    };
                    return Ok(Container::new(root.to_path_buf(), dir, record));
                }
                return Err(Error::NotFound(id.to_string()));
            }
            Err(e) => return Err(Error::io(&file, e)),
        };
        let record: Record = serde_json::from_slice(&data)
            .map_err(|e| Error::config(&file, format!("corrupt state: {e}")))?;
        Ok(Container::new(root.to_path_buf(), dir, record))
    }

    /// Every container under `root`, sorted by id; unreadable entries are skipped.
    pub fn list(root: &Path) -> Result<Vec<Container>> {
        let entries = match std::fs::read_dir(root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(root, e)),
        };
        let mut out: Vec<Container> = entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                Container::load(root, &name).ok()
            })
            .collect();
        out.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        Ok(out)
    }

    /// Writes the record atomically (temp file + rename).
    pub(crate) fn save(&self) -> Result<()> {
        let file = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(".state.json.tmp");
        let data = serde_json::to_vec(&self.record).map_err(|e| Error::Invalid(e.to_string()))?;
        std::fs::write(&tmp, data).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &file).map_err(|e| Error::io(&file, e))
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub(crate) fn fifo(&self) -> PathBuf {
        self.dir.join(EXEC_FIFO)
    }

    /// Whether the init process is still alive.
    pub fn init_alive(&self) -> bool {
        self.record.init_pid > 0
            && berth_sys::proc::alive(self.record.init_pid, self.record.init_start)
    }

    /// The container's cgroup.
    pub fn cgroup(&self) -> Result<&dyn berth_cgroups::Cgroup> {
        if self.cgroup.get().is_none() {
            let _ = self
                .cgroup
                .set(berth_cgroups::open(&self.record.cgroup_path)?);
        }
        Ok(self.cgroup.get().expect("set above").as_ref())
    }

    /// The current status, derived from the kernel's view.
    pub fn status(&self) -> Status {
        if self.record.init_pid == 0 {
            // Create has not finished: still at work, or killed half-way.
            let creating = self.record.creator_pid > 0
                && berth_sys::proc::alive(self.record.creator_pid, self.record.creator_start);
            return if creating {
                Status::Creating
            } else {
                Status::Stopped
            };
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        if self.fifo().exists() {
            return Status::Created;
        }
        let frozen = self
            .cgroup()
            .and_then(|c| Ok(c.freezer_state()?))
            .is_ok_and(|s| s == berth_cgroups::FreezerState::Frozen);
        if frozen {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The OCI state document, as `state` prints it.
    pub fn oci_state(&self) -> OciState {
        let status = self.status();
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: self.record.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.record.init_pid
            },
            status,
            bundle: self.record.bundle.clone(),
            rootfs: self.record.rootfs.clone(),
            created: self.record.created.clone(),
            owner: String::new(),
            annotations: self.record.annotations.clone(),
        }
    }

    /// The config the container was created from.
    pub fn spec(&self) -> Result<&Spec> {
        if self.spec.get().is_none() {
            let file = self.dir.join(CONFIG_FILE);
            let data = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let spec = crate::config::parse(&data).map_err(|m| Error::config(&file, m))?;
            let _ = self.spec.set(spec);
        }
        Ok(self.spec.get().expect("set above"))
    }

    /// Fails with a state error unless the status is one of `allowed`.
    pub(crate) fn require(&self, allowed: &[Status], why: &'static str) -> Result<Status> {
        let status = self.status();
        if allowed.contains(&status) {
            Ok(status)
        } else {
            Err(Error::WrongState {
                id: self.record.id.clone(),
                status,
                why,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "abc-123", "x_y+z.w"] {
            check_id(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "../x"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn state_json_matches_runc_shape() {
        let s = OciState {
            oci_version: OCI_VERSION.into(),
            id: "x".into(),
            pid: 1,
            status: Status::Running,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "t".into(),
            owner: String::new(),
            annotations: Default::default(),
        };
        let text = serde_json::to_string(&s).unwrap();
        let order = [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("\"status\":\"running\""));
        assert!(!text.contains("annotations"));
    }
}
