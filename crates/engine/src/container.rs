//! Container records: one row per container in the image store's database (`containers`:
//! id, name, image, and the rest as JSON), so that containers and the images they use are
//! changed in the same transactions and `rmi` can see who uses an image.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use berth_image::Store;

/// Docker's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

/// What the container runs (Docker's `Config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
// Records written by older versions lack newer fields.
#[serde(default)]
pub struct Config {
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub hostname: String,
    /// Whether the hostname came from `--hostname` (not the ID).
    pub hostname_set: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub labels: BTreeMap<String, String>,
    /// Docker's `Config.Volumes`: the image's volume paths and `-v /path`'s.
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// Docker's `Config.ExposedPorts` (`80/tcp` → `{}`): the image's and `--expose`'s.
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    /// The image's healthcheck merged with the flags' (Docker's `Config.Healthcheck`).
    pub healthcheck: Option<berth_image::spec::HealthConfig>,
}

/// How the container runs (Docker's `HostConfig`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
// Records written by older versions lack newer fields.
#[serde(default)]
pub struct HostConfig {
    pub auto_remove: bool,
    pub read_only: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub no_new_privileges: bool,
    pub network_mode: String,
    pub init: bool,
    /// `--security-opt seccomp=`: "unconfined", or a profile (Docker's format) as given.
    pub seccomp: Option<String>,
    /// Bytes; 0 is unlimited.
    pub memory: i64,
    /// Memory plus swap in bytes; -1 is unlimited swap, 0 is unset.
    pub memory_swap: i64,
    /// CPUs in billionths (`--cpus 1.5` is 1.5e9).
    pub nano_cpus: i64,
    pub cpu_shares: u64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    /// Microseconds; 0 is the kernel's default.
    pub cpu_period: i64,
    /// Microseconds per period; 0 is unlimited.
    pub cpu_quota: i64,
    /// Bytes (the soft limit); 0 is unset.
    pub memory_reservation: i64,
    /// 10 to 1000; 0 is unset.
    pub blkio_weight: u16,
    /// `--oom-kill-disable` (cgroup v1's memory.oom_control).
    pub oom_kill_disable: bool,
    /// `--kernel-memory` in bytes: recorded and shown, never applied (the kernel deprecated
    /// kmem limits in 5.4, and Docker ignores them too).
    pub kernel_memory: i64,
    /// `--cgroupns`: "host" or "private", filled in at create with the daemon's default.
    pub cgroupns_mode: String,
    /// `--userns`: "" or "host"; berth never remaps users, so both mean the same.
    pub userns_mode: String,
    pub pids_limit: i64,
    /// (name, soft, hard), name as docker spells it (`nofile`).
    pub ulimits: Vec<(String, u64, u64)>,
    /// (host path, path in container, permissions).
    pub devices: Vec<(String, String, String)>,
    pub sysctls: BTreeMap<String, String>,
    pub group_add: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// Bytes; 0 is docker's default of 64 MiB.
    pub shm_size: i64,
    /// `-v HOST:CONTAINER[:ro]` binds.
    pub binds: Vec<String>,
    /// `--tmpfs PATH[:OPTIONS]`.
    pub tmpfs: Vec<String>,
    /// Volumes: `-v NAME:/path`, `-v /path`, `--mount type=volume`, the image's `Volumes`.
    pub volumes: Vec<crate::volume::VolumeMount>,
    pub ipc_mode: String,
    pub pid_mode: String,
    pub uts_mode: String,
    /// `--restart`: no, on-failure[:N], always, unless-stopped.
    pub restart: String,
    /// `--log-opt max-size` in bytes (0: no rotation) and `max-file`.
    pub log_max_size: i64,
    pub log_max_file: u32,
    /// What it asked for on its network: address, aliases, published ports, links.
    pub endpoint: crate::endpoint::EndpointRequest,
    /// Networks `network connect` added, by name, with what was asked for on each.
    pub extra_networks: BTreeMap<String, crate::endpoint::EndpointRequest>,
}

/// What happened to it (Docker's `State`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
// Records written by older versions lack newer fields.
#[serde(default)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    pub oom_killed: bool,
    pub error: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The monitor process (pid and start time), to tell a live one from a dead one.
    pub monitor: Option<(i32, u64)>,
    pub restart_count: u32,
    /// Set by `stop` and `kill`: the exit that follows is the user's doing, and a restart
    /// policy does not undo it.
    pub stopping: bool,
    /// Kept after the container stops; reset to starting by each start.
    pub health: Option<crate::health::HealthState>,
    /// Its addresses and published ports while it runs.
    pub network: crate::endpoint::NetworkSettings,
}

/// A container's record. Fields an older (or damaged) record lacks take their defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// The image ID (config digest).
    pub image: String,
    pub created: String,
    pub config: Config,
    pub host_config: HostConfig,
    pub state: State,
    /// The resolved command line, for `ps`.
    pub path: String,
    pub args: Vec<String>,
}

impl Container {
    /// The first 12 characters of the ID (all of it when shorter, as a damaged record's
    /// may be).
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

fn db_err(source: rusqlite::Error) -> EngineError {
    EngineError::Db(berth_image::db::DbError {
        path: "containers".into(),
        source,
    })
}

/// A container record as the database keeps it: JSON, fields missing from it defaulted;
/// an error (never a panic) for anything else.
pub fn decode(data: &str) -> Result<Container> {
    serde_json::from_str(data)
        .map_err(|e| EngineError::Invalid(format!("corrupt container record: {e}")))
}

/// Docker's rule for names.
pub fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

/// Inserts a new container; its name must be free.
pub fn insert(store: &mut Store, c: &Container) -> Result<()> {
    let data = serde_json::to_string(c).map_err(|e| EngineError::Invalid(e.to_string()))?;
    store.db.write(|tx| {
        let taken: Option<String> = tx
            .query_row(
                "SELECT id FROM containers WHERE name = ?1",
                [&c.name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        if let Some(id) = taken {
            return Err(EngineError::NameInUse {
                name: c.name.clone(),
                id,
            });
        }
        tx.execute(
            "INSERT INTO containers (id, name, image, data) VALUES (?1, ?2, ?3, ?4)",
            [&c.id, &c.name, &c.image, &data],
        )
        .map_err(db_err)?;
        Ok(())
    })
}

/// Applies `f` to the stored record in one transaction and returns the result.
pub fn update(store: &mut Store, id: &str, f: impl FnOnce(&mut Container)) -> Result<Container> {
    store.db.write(|tx| {
        let data: Option<String> = tx
            .prepare_cached("SELECT data FROM containers WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(db_err)?;
        let mut c = decode(&data.ok_or_else(|| EngineError::NoSuchContainer(id.to_string()))?)?;
        f(&mut c);
        let data = serde_json::to_string(&c).map_err(|e| EngineError::Invalid(e.to_string()))?;
        tx.prepare_cached("UPDATE containers SET data = ?2, name = ?3 WHERE id = ?1")
            .and_then(|mut st| st.execute([id, &data, &c.name]))
            .map_err(db_err)?;
        Ok(c)
    })
}

pub fn delete(store: &mut Store, id: &str) -> Result<()> {
    store.db.write(|tx| delete_in(tx, id))
}

/// [`delete`] within the caller's write transaction.
pub fn delete_in(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<()> {
    tx.execute("DELETE FROM containers WHERE id = ?1", [id])
        .map_err(db_err)?;
    Ok(())
}

pub fn list(store: &Store) -> Result<Vec<Container>> {
    let mut st = store
        .db
        .conn()
        .prepare("SELECT data FROM containers")
        .map_err(db_err)?;
    let rows: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let mut out: Vec<Container> = rows.iter().map(|d| decode(d)).collect::<Result<_>>()?;
    out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Finds a container by full ID, name, or unique ID prefix, as Docker does. Every command
/// starts here (several times for `run`), so it asks the database for the row rather than
/// decoding every record.
/// Whether a container has this name (one indexed lookup, for picking a random name).
pub fn name_taken(store: &Store, name: &str) -> Result<bool> {
    store
        .db
        .conn()
        .query_row("SELECT 1 FROM containers WHERE name = ?1", [name], |_| {
            Ok(())
        })
        .optional()
        .map(|r| r.is_some())
        .map_err(db_err)
}

pub fn find(store: &Store, what: &str) -> Result<Container> {
    let name = what.strip_prefix('/').unwrap_or(what);
    let conn = store.db.conn();
    // Cached: a monitor looks its container up again and again.
    let exact: Option<String> = conn
        .prepare_cached("SELECT data FROM containers WHERE id = ?1 OR name = ?2")
        .and_then(|mut st| st.query_row([what, name], |r| r.get(0)).optional())
        .map_err(db_err)?;
    if let Some(d) = exact {
        return decode(&d);
    }
    let Some(rows) = by_id_prefix(conn, "containers", what).map_err(db_err)? else {
        return Err(EngineError::NoSuchContainer(what.to_string()));
    };
    match rows.as_slice() {
        [one] => decode(one),
        [] => Err(EngineError::NoSuchContainer(what.to_string())),
        _ => Err(EngineError::Invalid(format!(
            "multiple IDs found with provided prefix: {what}"
        ))),
    }
}

/// The `data` of the rows of `table` (containers, networks) whose ID starts with `what`;
/// None when `what` can't be an ID prefix.
pub(crate) fn by_id_prefix(
    conn: &rusqlite::Connection,
    table: &'static str,
    what: &str,
) -> rusqlite::Result<Option<Vec<String>>> {
    let hex = !what.is_empty() && what.len() < 64 && what.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        return Ok(None);
    }
    let mut st = conn.prepare_cached(&format!(
        "SELECT data FROM {table} WHERE substr(id, 1, ?1) = ?2"
    ))?;
    let rows = st.query_map(rusqlite::params![what.len() as i64, what], |r| r.get(0))?;
    rows.collect::<rusqlite::Result<Vec<String>>>().map(Some)
}

/// A random 64-hex-digit ID.
pub fn new_id() -> String {
    let mut b = [0u8; 32];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if !ok {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b[..16].copy_from_slice(&t.to_le_bytes());
        b[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Docker-style generated names: adjective_surname.
pub fn random_name(id: &str) -> String {
    const LEFT: &[&str] = &[
        "admiring",
        "brave",
        "clever",
        "dreamy",
        "eager",
        "focused",
        "gallant",
        "happy",
        "jolly",
        "keen",
        "lucid",
        "modest",
        "nifty",
        "optimistic",
        "quirky",
        "serene",
    ];
    const RIGHT: &[&str] = &[
        "babbage", "curie", "dijkstra", "euler", "fermi", "goodall", "hopper", "kepler", "lamport",
        "lovelace", "noether", "pascal", "ritchie", "shannon", "turing", "wozniak",
    ];
    let n = u64::from_str_radix(&id[..12], 16).unwrap_or(0);
    format!(
        "{}_{}",
        LEFT[(n % LEFT.len() as u64) as usize],
        RIGHT[((n >> 8) % RIGHT.len() as u64) as usize]
    )
}
