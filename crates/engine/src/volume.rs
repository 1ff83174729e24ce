//! Docker's volumes with the `local` driver: one row per volume in the `volumes` table of the
//! shared database, data under `ROOT/volumes/NAME/_data` as Docker keeps it.
//!
//! A container records the volumes it uses in its HostConfig (`volumes`), and that record
//! is the only reference count: `volume rm` scans container records inside the same write
//! transaction that deletes the row, and a container claims its volumes in the transaction
//! that writes its record, so a volume can never be removed under a container that uses it.
//!
//! Volumes with a `type` option (`-o type=tmpfs,device=tmpfs`, `-o type=none,o=bind,device=P`)
//! are mounted per container by the runtime, as their own mount in the OCI spec, rather than
//! once on `_data` with a reference count: nothing to unmount when a monitor dies. The cost:
//! two containers running at once on one tmpfs volume each see their own tmpfs.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use berth_sys::{at, inroot, xattr};
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::container::Container;
use crate::engine::Engine;
use crate::error::{EngineError, Kind, Result};

/// The label Docker (23 and later) puts on anonymous volumes; `volume prune` without `-a`
/// removes only volumes that have it.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// Volume failures, worded as Docker's daemon words them (`OP NAME: reason`).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("remove {name}: volume is in use - [{}]", .ids.join(" "))]
    InUse { name: String, ids: Vec<String> },
    #[error("create {name}: {reason}")]
    Create { name: String, reason: String },
    #[error("invalid volume specification: '{spec}'{}", if .reason.is_empty() { String::new() } else { format!(": {}", .reason) })]
    Spec { spec: String, reason: String },
    #[error("invalid mode: {0}")]
    Mode(String),
    #[error("invalid mount config for type \"volume\": {0}")]
    Mount(String),
    #[error("Duplicate mount point: {0}")]
    Duplicate(String),
    #[error("invalid filter '{0}'")]
    Filter(String),
    #[error("copying {path} into volume {name}: {source}")]
    Populate {
        name: String,
        path: PathBuf,
        source: berth_sys::Error,
    },
}

impl VolumeError {
    pub fn kind(&self) -> Kind {
        match self {
            VolumeError::NotFound(_) => Kind::NotFound,
            VolumeError::InUse { .. } => Kind::Conflict,
            VolumeError::Populate { .. } => Kind::Internal,
            _ => Kind::Invalid,
        }
    }
}

/// A volume's record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    /// The driver options as given (`type`, `device`, `o`).
    pub options: BTreeMap<String, String>,
    /// Image content was copied in once: Docker never copies into a volume a second time.
    pub populated: bool,
}

impl Volume {
    pub fn anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// One volume a container mounts (kept in its HostConfig).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeMount {
    /// Empty in a request for an anonymous volume, until `create` names it.
    pub name: String,
    pub destination: String,
    pub read_only: bool,
    /// `nocopy` / `volume-nocopy`: never populate from the image.
    pub no_copy: bool,
    /// The mode after `-v`'s second colon, as given (Docker's `Mode`).
    pub mode: String,
    pub anonymous: bool,
    /// Resolved from the volume when the container is created: what gets mounted, with
    /// which filesystem type ("" for the volume's own `_data` directory) and options.
    pub source: String,
    pub fs_type: String,
    pub fs_options: String,
}

fn db_err(source: rusqlite::Error) -> EngineError {
    EngineError::Db(berth_image::db::DbError {
        path: "volumes".into(),
        source,
    })
}

fn json_err(e: serde_json::Error) -> EngineError {
    EngineError::Invalid(format!("corrupt volume record: {e}"))
}

/// Docker's rule for local volume names.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.len() == 1 {
        return Err(
            "volume name is too short, names should be at least two alphanumeric characters".into(),
        );
    }
    if !crate::container::valid_name(name) {
        return Err(format!("{name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"));
    }
    Ok(())
}

/// The local driver's options, checked as Docker checks them.
pub fn check_options(opts: &BTreeMap<String, String>) -> std::result::Result<(), String> {
    for k in opts.keys() {
        if !matches!(k.as_str(), "type" | "o" | "device" | "size") {
            return Err(format!("invalid option: {k:?}"));
        }
    }
    if opts.contains_key("size") {
        return Err("quota size requested but no quota support".into());
    }
    for (opt, needs) in [
        ("device", &["type"][..]),
        ("type", &["device"][..]),
        ("o", &["device", "type"][..]),
    ] {
        if opts.contains_key(opt) {
            if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                return Err(format!("missing required option: {missing:?}"));
            }
        }
    }
    Ok(())
}

fn get(tx: &rusqlite::Connection, name: &str) -> Result<Option<Volume>> {
    let data: Option<String> = tx
        .query_row("SELECT data FROM volumes WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_err)?;
    data.map(|d| serde_json::from_str(&d).map_err(json_err))
        .transpose()
}

fn put(tx: &rusqlite::Connection, v: &Volume) -> Result<()> {
    let data = serde_json::to_string(v).map_err(json_err)?;
    tx.execute(
        "INSERT INTO volumes (name, data) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET data = excluded.data",
        [&v.name, &data],
    )
    .map_err(db_err)?;
    Ok(())
}

/// Which containers use which volumes, from the container records.
fn users(conn: &rusqlite::Connection) -> Result<BTreeMap<String, Vec<String>>> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Uses {
        id: String,
        host_config: UsesHost,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct UsesHost {
        volumes: Vec<VolumeMount>,
    }
    let mut st = conn
        .prepare("SELECT data FROM containers")
        .map_err(db_err)?;
    let rows: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in rows {
        let Ok(u) = serde_json::from_str::<Uses>(&d) else {
            continue;
        };
        for m in u.host_config.volumes {
            let ids = out.entry(m.name).or_default();
            if !ids.contains(&u.id) {
                ids.push(u.id.clone());
            }
        }
    }
    Ok(out)
}

fn new_volume(
    name: &str,
    labels: BTreeMap<String, String>,
    opts: BTreeMap<String, String>,
) -> Volume {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Volume {
        name: name.to_string(),
        driver: "local".into(),
        created: berth_image::timefmt::format(d.as_secs() as i64, 0),
        labels,
        options: opts,
        populated: false,
    }
}

/// Go's `path.Clean` for the absolute container paths mounts go to: always absolute, no
/// `.`, `..` or empty components (`..` at the root stays at the root).
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// Docker's check of the mode after `-v`'s second colon.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut seen = [0u8; 5];
    for o in mode.split(',') {
        let i = match o {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        seen[i] += 1;
    }
    seen.iter().all(|n| *n <= 1)
}

fn check_target(target: &str) -> std::result::Result<(), String> {
    if target.is_empty() {
        return Err("field Target must not be empty".into());
    }
    if clean(target) == "/" && target.starts_with('/') {
        return Err("invalid specification: destination can't be '/'".into());
    }
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    Ok(())
}

/// `-v` as Docker's daemon parses it: `None` for a host bind (left to the spec), else the
/// volume it asks for (an empty name for an anonymous one).
pub fn parse_spec(raw: &str) -> std::result::Result<Option<VolumeMount>, VolumeError> {
    let spec_err = |reason: String| VolumeError::Spec {
        spec: raw.to_string(),
        reason,
    };
    let arr: Vec<&str> = raw.splitn(4, ':').collect();
    if arr[0].is_empty() {
        return Err(spec_err(String::new()));
    }
    let (source, target, mode) = match arr.as_slice() {
        [t] => ("", *t, ""),
        [_, m] if valid_mode(m) => return Err(spec_err(String::new())),
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => return Err(spec_err(String::new())),
    };
    if !valid_mode(mode) {
        return Err(VolumeError::Mode(mode.to_string()));
    }
    if source.starts_with('/') {
        return Ok(None);
    }
    let read_only = mode.split(',').any(|o| o == "ro");
    check_target(target).map_err(|e| spec_err(VolumeError::Mount(e).to_string()))?;
    if read_only && source.is_empty() {
        return Err(spec_err(
            VolumeError::Mount("must not set ReadOnly mode when using anonymous volumes".into())
                .to_string(),
        ));
    }
    if !source.is_empty() {
        check_name(source).map_err(|reason| VolumeError::Create {
            name: source.to_string(),
            reason,
        })?;
    }
    Ok(Some(VolumeMount {
        name: source.to_string(),
        destination: clean(target),
        read_only,
        no_copy: mode.split(',').any(|o| o == "nocopy"),
        mode: mode.to_string(),
        anonymous: source.is_empty(),
        ..Default::default()
    }))
}

/// Splits the volumes out of `-v` (leaving host binds), checks `--mount type=volume`
/// entries, and adds an anonymous volume for each image `Volumes` path that no mount of
/// the user's covers. Nothing is created yet: that is [`Engine::provision_volumes`], once
/// the container has a record.
pub(crate) fn plan(
    c: &mut Container,
    image_volumes: Option<&BTreeMap<String, Value>>,
) -> Result<()> {
    let h = &mut c.host_config;
    let mut planned = Vec::new();
    let mut binds = Vec::new();
    // Docker's CLI puts `-v /path` in Config.Volumes, and the daemon adds the image's.
    let listed = &mut c.config.volumes;
    for b in std::mem::take(&mut h.binds) {
        match parse_spec(&b)? {
            Some(v) => {
                if v.name.is_empty() {
                    listed.insert(v.destination.clone(), json!({}));
                }
                planned.push(v)
            }
            None => binds.push(b),
        }
    }
    for path in image_volumes.into_iter().flat_map(|m| m.keys()) {
        listed.insert(path.clone(), json!({}));
    }
    h.binds = binds;
    for mut v in std::mem::take(&mut h.volumes) {
        check_target(&v.destination).map_err(VolumeError::Mount)?;
        if v.read_only && v.name.is_empty() {
            return Err(VolumeError::Mount(
                "must not set ReadOnly mode when using anonymous volumes".into(),
            )
            .into());
        }
        if !v.name.is_empty() {
            check_name(&v.name).map_err(|reason| VolumeError::Create {
                name: v.name.clone(),
                reason,
            })?;
        }
        v.destination = clean(&v.destination);
        v.anonymous = v.name.is_empty();
        planned.push(v);
    }
    let mut dests: Vec<String> = h
        .binds
        .iter()
        .filter_map(|b| b.split(':').nth(1).map(clean))
        .chain(
            h.tmpfs
                .iter()
                .map(|t| clean(t.split(':').next().unwrap_or_default())),
        )
        .collect();
    for v in &planned {
        if dests.contains(&v.destination) {
            return Err(VolumeError::Duplicate(v.destination.clone()).into());
        }
        dests.push(v.destination.clone());
    }
    for path in image_volumes.into_iter().flat_map(|m| m.keys()) {
        let dest = clean(path);
        if dest == "/" || dests.contains(&dest) {
            continue;
        }
        dests.push(dest.clone());
        planned.push(VolumeMount {
            destination: dest,
            anonymous: true,
            ..Default::default()
        });
    }
    h.volumes = planned;
    Ok(())
}

/// The OCI mount of a container's volume.
pub fn oci_mount(v: &VolumeMount) -> Value {
    let mut options: Vec<String> = Vec::new();
    let bind = v.fs_type.is_empty() || v.fs_options.split(',').any(|o| o == "bind" || o == "rbind");
    if bind {
        options.push("rbind".into());
    } else {
        options.extend(
            v.fs_options
                .split(',')
                .filter(|o| !o.is_empty())
                .map(String::from),
        );
    }
    if v.read_only {
        options.push("ro".into());
    }
    if bind {
        options.push("rprivate".into());
        json!({"destination": v.destination, "type": "bind", "source": v.source, "options": options})
    } else {
        json!({"destination": v.destination, "type": v.fs_type, "source": v.source, "options": options})
    }
}

/// How many components a mount destination has, for ordering mounts parents first.
pub fn depth(dest: &Value) -> usize {
    dest.as_str()
        .map_or(0, |d| d.split('/').filter(|p| !p.is_empty()).count())
}

/// Removes a directory tree we own, after moving it aside so that a volume of the same
/// name created meanwhile gets a fresh directory.
fn remove_dir(dir: &Path) {
    let aside = dir.with_file_name(format!(
        ".removing-{}-{}",
        dir.file_name().and_then(OsStr::to_str).unwrap_or("x"),
        crate::container::new_id()
    ));
    if std::fs::rename(dir, &aside).is_ok() {
        let _ = std::fs::remove_dir_all(&aside);
    }
}

/// Bytes in a tree (not following symlinks), for `prune`'s reclaimed space.
pub fn disk_usage(p: &Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !m.is_dir() {
        return m.len();
    }
    std::fs::read_dir(p)
        .map(|d| d.flatten().map(|e| disk_usage(&e.path())).sum())
        .unwrap_or(0)
}

impl Engine {
    pub fn volume_dir(&self, name: &str) -> PathBuf {
        self.root().join("volumes").join(name)
    }

    /// Where a volume's data lives (Docker's `Mountpoint`).
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volume_dir(name).join("_data")
    }

    /// `docker volume create`. A volume of that name already there is returned as it is,
    /// as Docker does for the same driver.
    pub fn create_volume(
        &mut self,
        name: Option<&str>,
        driver: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume> {
        let name = match name {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => crate::container::new_id(),
        };
        let fail = |reason: String| VolumeError::Create {
            name: name.clone(),
            reason,
        };
        if driver != "local" {
            return Err(fail(format!(
                "error looking up volume plugin {driver}: plugin {driver:?} not found"
            ))
            .into());
        }
        check_name(&name).map_err(fail)?;
        check_options(&options).map_err(fail)?;
        let v = self.store.db.write(|tx| -> Result<Volume> {
            if let Some(v) = get(tx, &name)? {
                return Ok(v);
            }
            let v = new_volume(&name, labels, options);
            put(tx, &v)?;
            Ok(v)
        })?;
        let data = self.volume_data(&v.name);
        std::fs::create_dir_all(&data).map_err(EngineError::io(&data))?;
        Ok(v)
    }

    /// A volume by its exact name.
    pub fn volume(&self, name: &str) -> Result<Volume> {
        get(self.store.db.conn(), name)?.ok_or_else(|| VolumeError::NotFound(name.into()).into())
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        let mut st = self
            .store
            .db
            .conn()
            .prepare("SELECT data FROM volumes ORDER BY name")
            .map_err(db_err)?;
        let rows: Vec<String> = st
            .query_map([], |r| r.get(0))
            .map_err(db_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db_err)?;
        rows.iter()
            .map(|d| serde_json::from_str(d).map_err(json_err))
            .collect()
    }

    /// The containers using each volume (volumes nobody uses are absent).
    pub fn volume_users(&self) -> Result<BTreeMap<String, Vec<String>>> {
        users(self.store.db.conn())
    }

    /// `docker volume rm`: refused while any container, running or not, uses it.
    pub fn remove_volume(&mut self, name: &str) -> Result<()> {
        let dir = self.volume_dir(name);
        self.store.db.write(|tx| -> Result<()> {
            if get(tx, name)?.is_none() {
                return Err(VolumeError::NotFound(name.into()).into());
            }
            if let Some(ids) = users(tx)?.remove(name) {
                return Err(VolumeError::InUse {
                    name: name.into(),
                    ids,
                }
                .into());
            }
            tx.execute("DELETE FROM volumes WHERE name = ?1", [name])
                .map_err(db_err)?;
            Ok(())
        })?;
        remove_dir(&dir);
        Ok(())
    }

    /// `docker volume prune`: unused volumes, only anonymous ones unless `all`, that have
    /// every label in `labels` (`k` or `k=v`). Returns the names and bytes removed.
    pub fn prune_volumes(&mut self, all: bool, labels: &[String]) -> Result<Vec<(String, u64)>> {
        let used = self.volume_users()?;
        let mut out = Vec::new();
        for v in self.volumes()? {
            if used.contains_key(&v.name) || (!all && !v.anonymous()) {
                continue;
            }
            let has = |l: &String| match l.split_once('=') {
                Some((k, val)) => v.labels.get(k).is_some_and(|x| x == val),
                None => v.labels.contains_key(l),
            };
            if !labels.iter().all(has) {
                continue;
            }
            let size = disk_usage(&self.volume_data(&v.name));
            match self.remove_volume(&v.name) {
                Ok(()) => out.push((v.name, size)),
                // Taken by a container since we looked, or removed by someone else.
                Err(EngineError::Volume(VolumeError::InUse { .. }))
                | Err(EngineError::Volume(VolumeError::NotFound(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// `docker volume inspect`'s shape.
    pub fn volume_json(&self, v: &Volume) -> Value {
        let map = |m: &BTreeMap<String, String>| if m.is_empty() { Value::Null } else { json!(m) };
        json!({
            "CreatedAt": v.created,
            "Driver": v.driver,
            "Labels": map(&v.labels),
            "Mountpoint": self.volume_data(&v.name),
            "Name": v.name,
            "Options": map(&v.options),
            "Scope": "local",
        })
    }

    /// Creates (or finds) the volumes a new container asked for and records their names in
    /// its record, in one transaction, so that no `volume rm` can slip in between. On
    /// failure the container is removed again.
    pub(crate) fn provision_volumes(&mut self, c: Container) -> Result<Container> {
        if c.host_config.volumes.is_empty() {
            return Ok(c);
        }
        let root = self.root().to_path_buf();
        let data_of = |name: &str| root.join("volumes").join(name).join("_data");
        let id = c.id.clone();
        let made = self.store.db.write(|tx| -> Result<Container> {
            let mut c = c;
            for m in &mut c.host_config.volumes {
                if m.name.is_empty() {
                    m.name = crate::container::new_id();
                }
                let v = match get(tx, &m.name)? {
                    Some(v) => v,
                    None => {
                        let labels = if m.anonymous {
                            BTreeMap::from([(ANONYMOUS_LABEL.to_string(), String::new())])
                        } else {
                            BTreeMap::new()
                        };
                        let v = new_volume(&m.name, labels, BTreeMap::new());
                        put(tx, &v)?;
                        v
                    }
                };
                m.anonymous = v.anonymous();
                m.fs_type = v.options.get("type").cloned().unwrap_or_default();
                m.fs_options = v.options.get("o").cloned().unwrap_or_default();
                m.source = match v.options.get("device") {
                    Some(d) if !m.fs_type.is_empty() => d.clone(),
                    _ => data_of(&m.name).to_string_lossy().into_owned(),
                };
                if m.fs_type.is_empty() {
                    m.fs_options.clear();
                }
            }
            let data = serde_json::to_string(&c).map_err(json_err)?;
            tx.execute(
                "UPDATE containers SET data = ?2 WHERE id = ?1",
                [&c.id, &data],
            )
            .map_err(db_err)?;
            Ok(c)
        });
        let made = made.and_then(|c| {
            for m in &c.host_config.volumes {
                let d = data_of(&m.name);
                std::fs::create_dir_all(&d).map_err(EngineError::io(&d))?;
            }
            Ok(c)
        });
        if made.is_err() {
            if let Ok(c) = self.remove(&id, true) {
                self.remove_anonymous_volumes(&c);
            }
        }
        made
    }

    /// `rm -v` and `--rm`: the container's anonymous volumes go with it (named ones stay,
    /// and so does one another container still uses).
    pub fn remove_anonymous_volumes(&mut self, c: &Container) {
        for m in &c.host_config.volumes {
            if m.anonymous && !m.name.is_empty() {
                let _ = self.remove_volume(&m.name);
            }
        }
    }

    /// `inspect`'s `Mounts`: the container's host binds and volumes, as Docker lists them.
    pub fn mounts_json(&self, c: &Container) -> Value {
        let mut out = Vec::new();
        for b in &c.host_config.binds {
            let parts: Vec<&str> = b.splitn(3, ':').collect();
            let (Some(src), Some(dst)) = (parts.first(), parts.get(1)) else {
                continue;
            };
            let mode = parts.get(2).copied().unwrap_or("");
            let propagation = mode
                .split(',')
                .find(|o| o.contains("private") || o.contains("shared") || o.contains("slave"))
                .unwrap_or("rprivate");
            out.push(json!({
                "Type": "bind",
                "Source": src,
                "Destination": dst,
                "Mode": mode,
                "RW": !mode.split(',').any(|o| o == "ro"),
                "Propagation": propagation,
            }));
        }
        for m in &c.host_config.volumes {
            out.push(json!({
                "Type": "volume",
                "Name": m.name,
                "Source": self.volume_data(&m.name),
                "Destination": m.destination,
                "Driver": "local",
                "Mode": m.mode,
                "RW": !m.read_only,
                "Propagation": "",
            }));
        }
        Value::Array(out)
    }

    /// In the monitor, with the rootfs mounted and before the runtime mounts anything: an
    /// empty volume that was never populated gets the image's content at its destination.
    /// The source is resolved inside the rootfs (`RESOLVE_IN_ROOT`) and walked one
    /// no-follow component at a time, so no symlink in the image can reach the host.
    pub(crate) fn populate_volumes(&mut self, c: &Container, rootfs: &Path) -> Result<()> {
        let mut root: Option<OwnedFd> = None;
        for m in &c.host_config.volumes {
            let data = self.volume_data(&m.name);
            if !m.fs_type.is_empty() {
                continue;
            }
            std::fs::create_dir_all(&data).map_err(EngineError::io(&data))?;
            if m.no_copy {
                continue;
            }
            let fail = |path: &Path| {
                let name = m.name.clone();
                let path = path.to_path_buf();
                move |source| VolumeError::Populate { name, path, source }
            };
            if root.is_none() {
                root = Some(inroot::open_root(rootfs).map_err(fail(rootfs))?);
            }
            let root_fd = root.as_ref().map(|r| r.as_fd()).ok_or_else(|| {
                EngineError::Invalid(format!("{}: rootfs not open", rootfs.display()))
            })?;
            let dest = Path::new(&m.destination);
            let src = match inroot::open(
                root_fd,
                dest,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                // Nothing there, or not a directory: nothing to copy.
                Err(_) => continue,
            };
            if at::read_dir(src.as_fd()).map_err(fail(dest))?.is_empty() {
                continue;
            }
            // Held while deciding and copying: a container starting at the same time on the
            // same volume waits here, so it never runs on a half-copied volume.
            let dir = self.volume_dir(&m.name);
            let _lock = std::fs::File::open(&dir)
                .map_err(EngineError::io(&dir))
                .and_then(|f| {
                    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(
                        |(_, errno)| EngineError::Io {
                            path: dir.clone(),
                            source: errno.into(),
                        },
                    )
                })?;
            let claimed = self.store.db.write(|tx| -> Result<bool> {
                let Some(mut v) = get(tx, &m.name)? else {
                    return Ok(false);
                };
                let empty = std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_none());
                if v.populated || !empty {
                    return Ok(false);
                }
                v.populated = true;
                put(tx, &v)?;
                Ok(true)
            })?;
            if !claimed {
                continue;
            }
            let dst = inroot::open_root(&data)
                .and_then(|p| at::open_dir(p.as_fd(), OsStr::new(".")))
                .map_err(fail(&data))?;
            let mut links = HashMap::new();
            copy_tree(src.as_fd(), dst.as_fd(), &mut links).map_err(fail(dest))?;
            // The volume's root takes the image directory's owner and mode, as in Docker.
            let st = inroot::fstat(src.as_fd()).map_err(fail(dest))?;
            let here = OsStr::new(".");
            at::chown(dst.as_fd(), here, st.st_uid, st.st_gid).map_err(fail(&data))?;
            at::chmod(dst.as_fd(), here, st.st_mode).map_err(fail(&data))?;
        }
        Ok(())
    }
}

/// Hard links already copied: (device, inode) to the directory and name of the copy.
type Links = HashMap<(u64, u64), (Rc<OwnedFd>, OsString)>;

/// Copies the entries of `src` into the empty directory `dst`: files, directories,
/// symlinks (as links, never followed), device nodes and fifos, hard links as hard links,
/// with owners, modes, times and xattrs. Every call acts on one name in a directory fd.
fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, links: &mut Links) -> berth_sys::Result<()> {
    // This directory's fd for the hard-link table, opened when a first link needs it.
    let mut dst_rc: Option<Rc<OwnedFd>> = None;
    for name in at::read_dir(src)? {
        let Some(st) = at::lstat(src, &name)? else {
            continue;
        };
        let fmt = st.st_mode & libc::S_IFMT;
        let key = (st.st_dev, st.st_ino);
        if fmt != libc::S_IFDIR && st.st_nlink > 1 {
            if let Some((dir, first)) = links.get(&key) {
                at::hardlink(dir.as_fd(), first, dst, &name)?;
                continue;
            }
        }
        match fmt {
            libc::S_IFDIR => {
                at::mkdir(dst, &name, 0o700)?;
                let s = at::open_dir(src, &name)?;
                let d = at::open_dir(dst, &name)?;
                copy_tree(s.as_fd(), d.as_fd(), links)?;
            }
            libc::S_IFREG => {
                let mut from = at::open_file(src, &name)?;
                let mut to = at::create_file(dst, &name, 0o600)?;
                std::io::copy(&mut from, &mut to).map_err(|e| {
                    berth_sys::Error::path(
                        "copy",
                        PathBuf::from(&name),
                        nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                    )
                })?;
            }
            libc::S_IFLNK => {
                let target = at::readlink(src, &name)?;
                at::symlink(dst, &name, &target)?;
            }
            libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO => {
                let kind = SFlag::from_bits_truncate(fmt);
                at::mknod(dst, &name, kind, st.st_mode & 0o7777, st.st_rdev)?;
            }
            // Sockets belong to a process that is gone.
            _ => continue,
        }
        at::chown(dst, &name, st.st_uid, st.st_gid)?;
        if fmt != libc::S_IFLNK {
            // After chown, which clears setuid and setgid bits.
            at::chmod(dst, &name, st.st_mode)?;
        }
        // Best effort, as Docker: a filesystem without xattrs (or a key we may not set)
        // doesn't stop the copy.
        for k in xattr::list(src, &name).unwrap_or_default() {
            if let Ok(Some(val)) = xattr::get(src, &name, &k) {
                let _ = xattr::set(dst, &name, &k, &val);
            }
        }
        at::set_times(
            dst,
            &name,
            (st.st_atime, st.st_atime_nsec),
            (st.st_mtime, st.st_mtime_nsec),
        )?;
        if fmt != libc::S_IFDIR && st.st_nlink > 1 {
            let dir = match &dst_rc {
                Some(d) => d.clone(),
                None => {
                    let d = Rc::new(at::open_dir(dst, OsStr::new("."))?);
                    dst_rc = Some(d.clone());
                    d
                }
            };
            links.insert(key, (dir, name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_specs_as_docker_parses_them() {
        let v = parse_spec("data:/srv/x/:ro").unwrap().unwrap();
        assert_eq!(
            (
                v.name.as_str(),
                v.destination.as_str(),
                v.read_only,
                v.anonymous
            ),
            ("data", "/srv/x", true, false)
        );
        let v = parse_spec("/anon").unwrap().unwrap();
        assert!(v.anonymous && v.name.is_empty() && v.destination == "/anon");
        assert!(parse_spec("/host:/in:ro").unwrap().is_none());
        assert!(parse_spec("d2:/x:nocopy").unwrap().unwrap().no_copy);
        let err = |s: &str| parse_spec(s).unwrap_err().to_string();
        assert_eq!(err(":/x"), "invalid volume specification: ':/x'");
        assert_eq!(err("/x:ro"), "invalid volume specification: '/x:ro'");
        assert_eq!(
            err("name:relative"),
            "invalid volume specification: 'name:relative': invalid mount config for type \"volume\": invalid mount path: 'relative' mount path must be absolute"
        );
        assert_eq!(err("n1:/x:bogus"), "invalid mode: bogus");
        assert!(err("n1:/").contains("destination can't be '/'"));
        assert!(err("a:/x").contains("too short"));
        assert!(err("b@d:/x").contains("invalid characters"));
    }

    #[test]
    fn local_driver_options() {
        let o = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(check_options(&o(&[])).is_ok());
        assert!(check_options(&o(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=1m")
        ]))
        .is_ok());
        assert_eq!(
            check_options(&o(&[("bogus", "1")])).unwrap_err(),
            "invalid option: \"bogus\""
        );
        assert_eq!(
            check_options(&o(&[("type", "tmpfs")])).unwrap_err(),
            "missing required option: \"device\""
        );
    }

    #[test]
    fn copy_keeps_links_inside() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("d/e")).unwrap();
        std::fs::write(src.path().join("d/e/f"), b"x").unwrap();
        std::fs::hard_link(src.path().join("d/e/f"), src.path().join("g")).unwrap();
        std::os::unix::fs::symlink("/etc", src.path().join("l")).unwrap();
        let s = at::open_dir(
            inroot::open_root(src.path()).unwrap().as_fd(),
            OsStr::new("."),
        )
        .unwrap();
        let d = at::open_dir(
            inroot::open_root(dst.path()).unwrap().as_fd(),
            OsStr::new("."),
        )
        .unwrap();
        copy_tree(s.as_fd(), d.as_fd(), &mut HashMap::new()).unwrap();
        assert_eq!(std::fs::read(dst.path().join("d/e/f")).unwrap(), b"x");
        assert_eq!(
            std::fs::read_link(dst.path().join("l")).unwrap(),
            Path::new("/etc")
        );
        use std::os::unix::fs::MetadataExt;
        let a = std::fs::metadata(dst.path().join("d/e/f")).unwrap();
        let b = std::fs::metadata(dst.path().join("g")).unwrap();
        assert_eq!(a.ino(), b.ino());
        assert_eq!(clean("/a//b/../c/"), "/a/c");
    }
}
