//! Docker's network objects: one row per network in the `networks` table (id, name, and the
//! record as JSON), one row per running container's attachment in `endpoints` (its IPAM
//! lease), and the published ports in `ports`. The kernel side (bridges, addresses, the
//! `inet berth` nftables table) comes from berth-network.
//!
//! - **Predefined networks** (`bridge` on berth0, `host`, `none`) get their records lazily,
//!   in one `INSERT OR IGNORE` transaction, the first time any network function runs on a
//!   store. They can't be removed or pruned.
//! - **Create** makes the kernel bridge at once, as Docker does, inserts the record and
//!   applies the firewall, all inside one write transaction (so concurrent creates see each
//!   other's subnets): a failure at any step rolls the record back and deletes the bridge.
//! - **Leases** are rows of `endpoints`, taken and freed inside the caller's write
//!   transaction ([`lease`], [`release`]): two containers can never get one address, since
//!   `(network, ip)` is the primary key and every allocation reads the used addresses under
//!   the write lock.
//! - **The firewall** is rebuilt whole from the database ([`firewall`]) and applied in one
//!   nft transaction. Two processes applying at once each read a consistent snapshot (a read
//!   transaction) and nft commits each ruleset atomically: the last one wins, with a view
//!   that was true when it read. Network create and remove apply while they hold the write
//!   transaction that changes the networks, so their rulesets can't be overtaken by an older
//!   view.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;

use berth_image::Store;
use berth_network::ipam::{self, Subnet};
use berth_network::link::Netlink;
use berth_network::nft::{Firewall, NetRule, PortMap, Proto};
use berth_network::sysctl;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// The names of the networks every store has.
pub const PREDEFINED: &[&str] = &["bridge", "host", "none"];

/// A network's record (the `data` column of `networks`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// The kernel interface: `berth0` for `bridge`, `br-<id[..12]>` for user networks, ""
    /// for host and none.
    pub bridge: String,
    /// "" for host and none.
    pub subnet: String,
    pub gateway: String,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    pub enable_ipv6: bool,
    pub predefined: bool,
}

impl Network {
    pub fn subnet(&self) -> Result<Subnet> {
        Ok(Subnet::parse(&self.subnet)?)
    }

    pub fn gateway(&self) -> Result<Ipv4Addr> {
        self.gateway
            .parse()
            .map_err(|_| corrupt(&self.name, format!("gateway {:?}", self.gateway)))
    }

    pub fn ip_range(&self) -> Result<Option<Subnet>> {
        Ok(self.ip_range.as_deref().map(Subnet::parse).transpose()?)
    }

    /// A bridge-driver network, with a kernel bridge and addresses to hand out.
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge" && !self.bridge.is_empty()
    }
}

/// What `docker network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: String,
    /// "" means `bridge`.
    pub driver: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub ipv6: bool,
}

/// One container's attachment to a network (a row of `endpoints`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRow {
    /// The network's id.
    pub network: String,
    pub ip: Ipv4Addr,
    pub container: String,
    /// The container's name, when read with [`Engine::network_endpoints`]; "" otherwise.
    pub container_name: String,
    /// `02:42:0a:43:00:02`.
    pub mac: String,
    /// 64 hex digits.
    pub endpoint: String,
    pub aliases: Vec<String>,
}

fn db_err(source: rusqlite::Error) -> EngineError {
    EngineError::Db(berth_image::db::DbError {
        path: "networks".into(),
        source,
    })
}

fn corrupt(name: &str, what: String) -> EngineError {
    EngineError::Invalid(format!("corrupt record of network {name}: {what}"))
}

fn decode(data: &str) -> Result<Network> {
    serde_json::from_str(data)
        .map_err(|e| EngineError::Invalid(format!("corrupt network record: {e}")))
}

fn encode(n: &Network) -> String {
    serde_json::to_string(n).expect("network records always serialize")
}

/// Docker's rule for network names (as for container names).
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn predefined_records() -> Vec<Network> {
    let created = berth_image::timefmt::now();
    let subnet = ipam::DEFAULT_BRIDGE_SUBNET;
    let gateway = subnet
        .first_host()
        .expect("the default bridge subnet has hosts");
    let bridge_opts: BTreeMap<String, String> = [
        ("com.docker.network.bridge.default_bridge", "true"),
        ("com.docker.network.bridge.enable_icc", "true"),
        ("com.docker.network.bridge.enable_ip_masquerade", "true"),
        ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
        ("com.docker.network.bridge.name", ipam::DEFAULT_BRIDGE_NAME),
        ("com.docker.network.driver.mtu", "1500"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let base = |name: &str, driver: &str| Network {
        id: crate::container::new_id(),
        name: name.into(),
        driver: driver.into(),
        created: created.clone(),
        predefined: true,
        ..Network::default()
    };
    vec![
        Network {
            bridge: ipam::DEFAULT_BRIDGE_NAME.into(),
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            options: bridge_opts,
            ..base("bridge", "bridge")
        },
        base("host", "host"),
        base("none", "null"),
    ]
}

/// Makes sure the predefined networks have their records: one indexed read when they do,
/// one `INSERT OR IGNORE` transaction when not (concurrent callers agree on the first
/// writer's ids).
pub fn ensure_predefined(store: &mut Store) -> Result<()> {
    let have: i64 = store
        .db
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM networks WHERE name IN ('bridge', 'host', 'none')",
            [],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if have == PREDEFINED.len() as i64 {
        return Ok(());
    }
    store.db.write(|tx| -> Result<()> {
        for n in predefined_records() {
            tx.execute(
                "INSERT OR IGNORE INTO networks (id, name, data) VALUES (?1, ?2, ?3)",
                [&n.id, &n.name, &encode(&n)],
            )
            .map_err(db_err)?;
        }
        Ok(())
    })
}

fn all(conn: &Connection) -> Result<Vec<Network>> {
    let mut st = conn
        .prepare("SELECT data FROM networks ORDER BY name")
        .map_err(db_err)?;
    let rows: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    rows.iter().map(|d| decode(d)).collect()
}

/// A network by full id, name, or unique id prefix, as Docker looks them up.
fn find(conn: &Connection, what: &str) -> Result<Network> {
    let exact: Option<String> = conn
        .query_row(
            "SELECT data FROM networks WHERE id = ?1 UNION ALL
             SELECT data FROM networks WHERE name = ?1 LIMIT 1",
            [what],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if let Some(d) = exact {
        return decode(&d);
    }
    let Some(rows) = crate::container::by_id_prefix(conn, "networks", what).map_err(db_err)? else {
        return Err(EngineError::NoSuchNetwork(what.to_string()));
    };
    match rows.as_slice() {
        [one] => decode(one),
        [] => Err(EngineError::NoSuchNetwork(what.to_string())),
        many => Err(EngineError::Invalid(format!(
            "network {what} is ambiguous ({} matches found based on ID prefix)",
            many.len()
        ))),
    }
}

fn endpoint_count(conn: &Connection, net_id: &str) -> Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM endpoints WHERE network = ?1",
        [net_id],
        |r| r.get(0),
    )
    .map_err(db_err)
}

/// The subnets the host already uses outside berth: its routes and addresses, except
/// those on berth's own bridges (their networks are counted by their records).
fn host_subnets(ours: &[Network]) -> Result<Vec<Subnet>> {
    let mut nl = Netlink::open()?;
    let mut out = nl.routes()?;
    out.extend(nl.all_addresses()?);
    // A bridge of one of our networks is up with its gateway: its route and address are
    // that network's subnet, already in the list of networks.
    let ours: HashSet<Subnet> = ours.iter().filter_map(|n| n.subnet().ok()).collect();
    out.retain(|s| !ours.contains(s));
    out.sort();
    out.dedup();
    Ok(out)
}

/// Makes the kernel bridge of `net` exist with its gateway address, and up.
fn make_bridge(net: &Network) -> Result<()> {
    let subnet = net.subnet()?;
    let gateway = net.gateway()?;
    let mut nl = Netlink::open()?;
    nl.create_bridge(&net.bridge)?;
    nl.add_address(&net.bridge, gateway, subnet.prefix())?;
    nl.set_up(&net.bridge)?;
    Ok(())
}

fn delete_bridge(name: &str) {
    if let Ok(mut nl) = Netlink::open() {
        let _ = nl.delete_link(name);
    }
}

/// The whole `inet berth` ruleset from what `conn` sees: every bridge network, every
/// published port.
fn build_firewall(conn: &Connection) -> Result<Firewall> {
    let nets = all(conn)?;
    let mut fw = Firewall::default();
    let mut bridges: HashMap<String, String> = HashMap::new();
    for n in &nets {
        if !n.is_bridge() {
            continue;
        }
        fw.networks.push(NetRule {
            bridge: n.bridge.clone(),
            subnet: n.subnet()?,
            internal: n.internal,
        });
        bridges.insert(n.id.clone(), n.bridge.clone());
    }
    let mut st = conn
        .prepare(
            "SELECT host_ip, host_port, proto, network, container_ip, container_port
             FROM ports ORDER BY host_ip, host_port, proto",
        )
        .map_err(db_err)?;
    type Row = (String, i64, String, String, String, i64);
    let rows: Vec<Row> = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    for (host_ip, host_port, proto, network, container_ip, container_port) in rows {
        let Some(bridge) = bridges.get(&network) else {
            continue;
        };
        let bad = |what: &str| EngineError::Invalid(format!("corrupt published port: {what}"));
        fw.ports.push(PortMap {
            host_ip: if host_ip.is_empty() {
                None
            } else {
                Some(host_ip.parse().map_err(|_| bad(&host_ip))?)
            },
            host_port: u16::try_from(host_port).map_err(|_| bad(&host_port.to_string()))?,
            container_ip: container_ip.parse().map_err(|_| bad(&container_ip))?,
            container_port: u16::try_from(container_port)
                .map_err(|_| bad(&container_port.to_string()))?,
            proto: match proto.as_str() {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                other => return Err(bad(other)),
            },
            bridge: bridge.clone(),
        });
    }
    Ok(fw)
}

/// The firewall the database describes, read in one read transaction (a consistent view).
pub fn firewall(store: &Store) -> Result<Firewall> {
    let tx = store.db.conn().unchecked_transaction().map_err(db_err)?;
    let fw = build_firewall(&tx)?;
    tx.commit().map_err(db_err)?;
    Ok(fw)
}

/// Makes the kernel's `inet berth` table what the database describes (see the module's
/// notes on concurrent appliers).
pub fn apply_firewall(store: &Store) -> Result<()> {
    firewall(store)?.apply()?;
    Ok(())
}

fn read_endpoints(conn: &Connection, sql: &str, key: &str) -> Result<Vec<EndpointRow>> {
    let mut st = conn.prepare(sql).map_err(db_err)?;
    type Row = (String, String, String, String, String, String, String);
    let rows: Vec<Row> = st
        .query_map([key], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    rows.into_iter()
        .map(|(network, ip, container, mac, endpoint, aliases, name)| {
            Ok(EndpointRow {
                ip: ip
                    .parse()
                    .map_err(|_| corrupt(&network, format!("endpoint address {ip:?}")))?,
                aliases: serde_json::from_str(&aliases).unwrap_or_default(),
                network,
                container,
                container_name: name,
                mac,
                endpoint,
            })
        })
        .collect()
}

/// Leases an address of `net` to `container`, inside the caller's write transaction: the
/// requested one after checking it (Docker's "Address already in use" when taken), or the
/// next free one after the network's latest lease. Records the endpoint row and returns it.
pub fn lease(
    tx: &rusqlite::Transaction<'_>,
    net: &Network,
    container: &str,
    requested: Option<Ipv4Addr>,
    aliases: &[String],
) -> Result<EndpointRow> {
    if !net.is_bridge() {
        return Err(EngineError::Invalid(format!(
            "network {} (driver {}) has no addresses to hand out",
            net.name, net.driver
        )));
    }
    let subnet = net.subnet()?;
    let gateway = net.gateway()?;
    let range = net.ip_range()?;
    let mut st = tx
        .prepare("SELECT ip FROM endpoints WHERE network = ?1")
        .map_err(db_err)?;
    let used: HashSet<Ipv4Addr> = st
        .query_map([&net.id], |r| r.get::<_, String>(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let ip = match requested {
        Some(ip) => {
            ipam::check_requested(&subnet, gateway, ip, |x| used.contains(&x))?;
            ip
        }
        None => {
            let last: Option<String> = tx
                .query_row(
                    "SELECT ip FROM endpoints WHERE network = ?1 ORDER BY rowid DESC LIMIT 1",
                    [&net.id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let last = last.and_then(|l| l.parse().ok());
            ipam::allocate(&subnet, range.as_ref(), gateway, last, |x| {
                used.contains(&x)
            })?
        }
    };
    let row = EndpointRow {
        network: net.id.clone(),
        ip,
        container: container.to_string(),
        container_name: String::new(),
        mac: ipam::format_mac(&ipam::mac_from_ip(ip)),
        endpoint: crate::container::new_id(),
        aliases: aliases.to_vec(),
    };
    let aliases = serde_json::to_string(&row.aliases).expect("strings always serialize");
    tx.execute(
        "INSERT INTO endpoints (network, ip, container, mac, endpoint, aliases)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [
            &row.network,
            &row.ip.to_string(),
            &row.container,
            &row.mac,
            &row.endpoint,
            &aliases,
        ],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            EngineError::Network(berth_network::NetworkError::AddressInUse { ip })
        }
        e => db_err(e),
    })?;
    Ok(row)
}

/// Frees every lease of `container`, inside the caller's write transaction, and returns
/// them.
pub fn release(tx: &rusqlite::Transaction<'_>, container: &str) -> Result<Vec<EndpointRow>> {
    let rows = read_endpoints(
        tx,
        "SELECT network, ip, container, mac, endpoint, aliases, '' FROM endpoints
         WHERE container = ?1 ORDER BY rowid",
        container,
    )?;
    tx.execute("DELETE FROM endpoints WHERE container = ?1", [container])
        .map_err(db_err)?;
    Ok(rows)
}

/// [`release`] of a container's endpoint on one network only (`network disconnect`).
pub fn release_from(
    tx: &rusqlite::Transaction<'_>,
    container: &str,
    network: &str,
) -> Result<Vec<EndpointRow>> {
    let rows: Vec<EndpointRow> = read_endpoints(
        tx,
        "SELECT network, ip, container, mac, endpoint, aliases, '' FROM endpoints
         WHERE container = ?1 ORDER BY rowid",
        container,
    )?
    .into_iter()
    .filter(|r| r.network == network)
    .collect();
    tx.execute(
        "DELETE FROM endpoints WHERE container = ?1 AND network = ?2",
        [container, network],
    )
    .map_err(db_err)?;
    Ok(rows)
}

/// Docker's `--filter until=`: a Go duration before now (`24h`, `1h30m`, `90s`), an RFC 3339
/// time, or unix seconds. Returns unix seconds.
fn parse_until(v: &str) -> Option<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if let Ok(secs) = v.parse::<i64>() {
        return Some(secs);
    }
    if let Some(t) = berth_image::timefmt::parse(v) {
        return Some(t);
    }
    // A Go duration: numbers with h, m or s units.
    let mut total = 0f64;
    let mut num = String::new();
    let mut any = false;
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    (any && num.is_empty()).then(|| now - total as i64)
}

impl Engine {
    /// `docker network create`.
    pub fn network_create(&mut self, o: NetworkCreate) -> Result<Network> {
        let name = o.name.clone();
        if PREDEFINED.contains(&name.as_str()) {
            return Err(EngineError::Conflict(format!(
                "operation is not permitted on predefined {name} network "
            )));
        }
        if !valid_name(&name) {
            return Err(EngineError::Invalid(format!(
                "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let driver = if o.driver.is_empty() {
            "bridge"
        } else {
            o.driver.as_str()
        };
        if driver != "bridge" {
            return Err(EngineError::NoSuchPlugin(driver.to_string()));
        }
        if o.ipv6 {
            return Err(EngineError::Invalid(
                "IPv6 is not supported yet: berth's networks are IPv4 only".into(),
            ));
        }
        if o.subnet.is_none() && (o.gateway.is_some() || o.ip_range.is_some()) {
            return Err(EngineError::Invalid(
                "every ip-range or gateway must have a corresponding subnet".into(),
            ));
        }
        // What can be checked without the others' networks, first.
        let requested = o.subnet.as_deref().map(Subnet::parse).transpose()?;
        let gateway = match &o.gateway {
            Some(g) => Some(g.parse::<Ipv4Addr>().map_err(|_| {
                EngineError::Invalid(format!("invalid gateway address {g}: not an IPv4 address"))
            })?),
            None => None,
        };
        let ip_range = o.ip_range.as_deref().map(Subnet::parse).transpose()?;
        ensure_predefined(&mut self.store)?;
        let id = crate::container::new_id();
        let bridge = format!("br-{}", &id[..12]);
        // Under the write lock from the name check to the firewall, so concurrent creates
        // see each other's subnets and can't both pick one. The bridge is made in it, and
        // deleted again if anything after fails; the record is rolled back.
        let mut made = false;
        let result = self.store.db.write(|tx| -> Result<Network> {
            let existing = all(tx)?;
            if existing.iter().any(|n| n.name == name) {
                return Err(EngineError::Conflict(format!(
                    "network with name {name} already exists"
                )));
            }
            let mut in_use: Vec<Subnet> = existing.iter().filter_map(|n| n.subnet().ok()).collect();
            in_use.extend(host_subnets(&existing)?);
            let subnet = match requested {
                Some(s) => {
                    ipam::check_overlap(&s, &in_use)?;
                    s
                }
                None => ipam::choose_subnet(ipam::DEFAULT_POOLS, &in_use)?,
            };
            let gateway = ipam::gateway(&subnet, gateway)?;
            if let Some(r) = &ip_range {
                ipam::check_range(&subnet, r)?;
            }
            let net = Network {
                bridge: bridge.clone(),
                id: id.clone(),
                name: name.clone(),
                driver: driver.into(),
                subnet: subnet.to_string(),
                gateway: gateway.to_string(),
                ip_range: ip_range.map(|r| r.to_string()),
                internal: o.internal,
                attachable: o.attachable,
                labels: o.labels,
                options: o.options,
                created: berth_image::timefmt::now(),
                enable_ipv6: false,
                predefined: false,
            };
            made = true;
            make_bridge(&net)?;
            sysctl::enable_ip_forward()?;
            tx.execute(
                "INSERT INTO networks (id, name, data) VALUES (?1, ?2, ?3)",
                [&net.id, &net.name, &encode(&net)],
            )
            .map_err(db_err)?;
            build_firewall(tx)?.apply()?;
            Ok(net)
        });
        if result.is_err() && made {
            delete_bridge(&bridge);
        }
        result
    }

    /// Every network, by name, the predefined ones included.
    pub fn network_list(&mut self) -> Result<Vec<Network>> {
        ensure_predefined(&mut self.store)?;
        all(self.store.db.conn())
    }

    /// A network by full id, name, or unique id prefix.
    pub fn network_find(&mut self, what: &str) -> Result<Network> {
        ensure_predefined(&mut self.store)?;
        find(self.store.db.conn(), what)
    }

    /// `docker network rm`: not a predefined network, not while a container is attached.
    /// The bridge goes, the record goes, and the firewall is applied without it, under one
    /// write transaction (a failure to apply keeps the record; its bridge is made again by
    /// [`Engine::ensure_bridge`] on next use).
    pub fn network_remove(&mut self, what: &str) -> Result<Network> {
        ensure_predefined(&mut self.store)?;
        let net = find(self.store.db.conn(), what)?;
        if net.predefined {
            return Err(EngineError::Conflict(format!(
                "{} is a pre-defined network and cannot be removed",
                net.name
            )));
        }
        self.store.db.write(|tx| -> Result<()> {
            if endpoint_count(tx, &net.id)? > 0 {
                return Err(EngineError::Conflict(format!(
                    "error while removing network: network {} id {} has active endpoints",
                    net.name, net.id
                )));
            }
            let gone = tx
                .execute("DELETE FROM networks WHERE id = ?1", [&net.id])
                .map_err(db_err)?;
            if gone == 0 {
                return Err(EngineError::NoSuchNetwork(what.to_string()));
            }
            if net.is_bridge() {
                Netlink::open()?.delete_link(&net.bridge)?;
            }
            build_firewall(tx)?.apply()?;
            Ok(())
        })?;
        Ok(net)
    }

    /// `docker network prune`: every user network without endpoints that matches all of
    /// `filters` (`until=`, `label=k`, `label=k=v`, `label!=...`). Returns their names.
    pub fn network_prune(&mut self, filters: &[String]) -> Result<Vec<String>> {
        let mut until = None;
        let mut labels = Vec::new();
        for f in filters {
            match f.split_once('=') {
                Some(("until", v)) => {
                    until = Some(parse_until(v).ok_or_else(|| {
                        EngineError::Invalid(format!("invalid filter 'until={v}'"))
                    })?)
                }
                Some(("label", l)) => labels.push((true, l.to_string())),
                Some(("label!", l)) => labels.push((false, l.to_string())),
                _ => return Err(EngineError::Invalid(format!("invalid filter '{f}'"))),
            }
        }
        let mut out = Vec::new();
        for n in self.network_list()? {
            if n.predefined || endpoint_count(self.store.db.conn(), &n.id)? > 0 {
                continue;
            }
            if let Some(t) = until {
                if berth_image::timefmt::parse(&n.created).is_none_or(|c| c >= t) {
                    continue;
                }
            }
            let has = |l: &String| match l.split_once('=') {
                Some((k, v)) => n.labels.get(k).is_some_and(|x| x == v),
                None => n.labels.contains_key(l),
            };
            if !labels.iter().all(|(want, l)| has(l) == *want) {
                continue;
            }
            match self.network_remove(&n.id) {
                Ok(_) => out.push(n.name),
                // Attached to since we looked, or removed by someone else.
                Err(EngineError::Conflict(_)) | Err(EngineError::NoSuchNetwork(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The containers attached to a network (with their names), for inspect.
    pub fn network_endpoints(&self, net_id: &str) -> Result<Vec<EndpointRow>> {
        read_endpoints(
            self.store.db.conn(),
            "SELECT e.network, e.ip, e.container, e.mac, e.endpoint, e.aliases,
                    COALESCE(c.name, '')
             FROM endpoints e LEFT JOIN containers c ON c.id = e.container
             WHERE e.network = ?1 ORDER BY e.rowid",
            net_id,
        )
    }

    /// Makes sure the kernel bridge of `net` exists with its gateway address and is up,
    /// and forwarding is on: for berth0 on first use, and for any network after a reboot.
    /// Nothing to do for host and none.
    pub fn ensure_bridge(&mut self, net: &Network) -> Result<()> {
        if !net.is_bridge() {
            return Ok(());
        }
        make_bridge(net)?;
        sysctl::enable_ip_forward()?;
        Ok(())
    }
}

/// `docker network inspect`'s object for `net` with its attached containers.
pub fn inspect_json(net: &Network, endpoints: &[EndpointRow]) -> Value {
    let mut config = Vec::new();
    if !net.subnet.is_empty() {
        let mut c = json!({"Subnet": net.subnet, "Gateway": net.gateway});
        if let Some(r) = &net.ip_range {
            c["IPRange"] = json!(r);
        }
        config.push(c);
    }
    let prefix = net.subnet().map(|s| s.prefix()).unwrap_or(32);
    let containers: serde_json::Map<String, Value> = endpoints
        .iter()
        .map(|e| {
            (
                e.container.clone(),
                json!({
                    "Name": e.container_name,
                    "EndpointID": e.endpoint,
                    "MacAddress": e.mac,
                    "IPv4Address": format!("{}/{prefix}", e.ip),
                    "IPv6Address": "",
                }),
            )
        })
        .collect();
    let mut options = net.options.clone();
    if net.is_bridge() {
        options.insert("com.docker.network.bridge.name".into(), net.bridge.clone());
    }
    json!({
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv6": net.enable_ipv6,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": config,
        },
        "Internal": net.internal,
        "Attachable": net.attachable,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": options,
        "Labels": net.labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_docker() {
        for ok in ["a", "net1", "my_net.2-x", "0"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "_a", "a b", "a/b", "ä"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn until_filters() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert_eq!(parse_until("100"), Some(100));
        let h = parse_until("1h30m").unwrap();
        assert!((now - 5400 - h).abs() <= 2, "{h}");
        assert!(parse_until("soon").is_none());
        assert!(parse_until("10x").is_none());
        assert_eq!(parse_until("1970-01-01T00:01:40Z"), Some(100));
    }

    #[test]
    fn predefined_shapes() {
        let recs = predefined_records();
        assert_eq!(
            recs.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            PREDEFINED
        );
        assert_eq!(recs[0].bridge, "berth0");
        assert_eq!(recs[0].subnet, "10.66.0.0/16");
        assert_eq!(recs[0].gateway, "10.66.0.1");
        assert!(recs[1].bridge.is_empty() && recs[2].driver == "null");
        let j = inspect_json(&recs[0], &[]);
        assert_eq!(j["IPAM"]["Config"][0]["Subnet"], "10.66.0.0/16");
        assert_eq!(j["Options"]["com.docker.network.bridge.name"], "berth0");
        let j = inspect_json(&recs[1], &[]);
        assert_eq!(j["IPAM"]["Config"], json!([]));
        assert_eq!(j["Options"], json!({}));
    }
}
