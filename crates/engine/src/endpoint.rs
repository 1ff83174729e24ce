//! A container's place on its network: at start, an address (an IPAM lease) and its
//! published ports, recorded in one transaction; a veth pair into the container's network
//! namespace; the firewall rules for the ports; and its names in `/etc/hosts`. When it
//! stops, all of it is released again, whatever failed on the way.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;

use serde::{Deserialize, Serialize};

use crate::container::Container;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::network;
use crate::ports::{self, PortBinding, Published};

/// Where a running container is on its networks (Docker's `NetworkSettings`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSettings {
    /// By network name.
    pub networks: BTreeMap<String, EndpointSettings>,
    pub ports: Vec<Published>,
}

/// One network's endpoint of a container (Docker's `EndpointSettings`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSettings {
    pub network_id: String,
    pub endpoint_id: String,
    pub ip: String,
    pub prefix: u8,
    pub gateway: String,
    pub mac: String,
    pub aliases: Vec<String>,
    /// Its name in the container (`eth0`) and on the host.
    pub interface: String,
    pub host_veth: String,
}

/// What a container asked for on its network (`--ip`, `--mac-address`, `--network-alias`,
/// `-p`, `-P`), kept in its host config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointRequest {
    pub ipv4_address: String,
    pub mac_address: String,
    pub aliases: Vec<String>,
    pub port_bindings: Vec<PortBinding>,
    pub publish_all: bool,
    /// `--link NAME[:ALIAS]`.
    pub links: Vec<String>,
}

/// The network a container's mode names, if it is a network of its own (bridge or a user
/// network), not none, host or another container's.
pub fn network_name(mode: &str) -> Option<&str> {
    match mode {
        "" | "default" | "bridge" => Some("bridge"),
        "none" | "host" => None,
        m if m.starts_with("container:") => None,
        m => Some(m),
    }
}

/// Docker's checks of the network flags against the network mode, at create.
pub(crate) fn validate(c: &Container) -> Result<()> {
    let h = &c.host_config;
    let e = &h.endpoint;
    let mode = h.network_mode.as_str();
    let bad = |m: &str| Err(EngineError::Invalid(m.to_string()));
    if mode.starts_with("container:") {
        if c.config.hostname_set {
            return bad("conflicting options: hostname and the network mode");
        }
        if !e.port_bindings.is_empty() || e.publish_all {
            return bad("conflicting options: port publishing and the container type network mode");
        }
        if !e.mac_address.is_empty() {
            return bad("conflicting options: mac-address and the network mode");
        }
        if !h.dns.is_empty() {
            return bad("conflicting options: dns and the network mode");
        }
        if !h.extra_hosts.is_empty() {
            return bad("conflicting options: custom host-to-IP mapping and the network mode");
        }
    }
    if mode == "none" && (!e.port_bindings.is_empty() || e.publish_all) {
        return bad("conflicting options: port publishing and the container type network mode");
    }
    let user_network = network_name(mode).is_some_and(|n| n != "bridge");
    if !e.ipv4_address.is_empty() {
        if e.ipv4_address.parse::<Ipv4Addr>().is_err() {
            return Err(EngineError::Invalid(format!(
                "invalid IPv4 address: {}",
                e.ipv4_address
            )));
        }
        if !user_network {
            return bad("user specified IP address is supported on user defined networks only");
        }
    }
    if !e.aliases.is_empty() && !user_network {
        return bad(
            "network-scoped alias is supported only for containers in user defined networks",
        );
    }
    if !e.mac_address.is_empty() && parse_mac(&e.mac_address).is_none() {
        return Err(EngineError::Invalid(format!(
            "{} is not a valid mac address",
            e.mac_address
        )));
    }
    for l in &e.links {
        let (name, alias) = l.split_once(':').unwrap_or((l, l));
        if name.is_empty() || alias.is_empty() {
            return Err(EngineError::Invalid(format!("invalid link format: {l}")));
        }
    }
    Ok(())
}

/// The host's end of a container's veth pair for its `n`th network: 15 characters at most,
/// as interface names are; the first network's keeps the name it has always had.
fn host_veth(id: &str, n: usize) -> String {
    if n == 0 {
        format!("veth{}", id.get(..11).unwrap_or(id))
    } else {
        format!("vet{}{n}", id.get(..10).unwrap_or(id))
    }
}

fn net_err(e: berth_network::NetworkError) -> EngineError {
    EngineError::Network(e)
}

/// The ports a container publishes: `-p`'s, and with `-P` its exposed ports on ephemeral
/// host ports.
fn bindings(c: &Container) -> Vec<PortBinding> {
    let req = &c.host_config.endpoint;
    let mut bindings = req.port_bindings.clone();
    if req.publish_all {
        for key in c.config.exposed_ports.keys() {
            if let Some((port, proto)) = ports::parse_exposed(key) {
                let bound = bindings
                    .iter()
                    .any(|b| b.container_port == port && b.proto == proto);
                if !bound {
                    bindings.push(PortBinding {
                        host_ip: String::new(),
                        host_port: 0,
                        container_port: port,
                        proto,
                    });
                }
            }
        }
    }
    bindings
}

/// The networks a container is to be on, in order: the one its mode names, then those
/// `network connect` added.
fn wanted(c: &Container) -> Vec<(String, EndpointRequest, bool)> {
    let mut out = Vec::new();
    if let Some(name) = network_name(&c.host_config.network_mode) {
        out.push((name.to_string(), c.host_config.endpoint.clone(), true));
    }
    for (name, req) in &c.host_config.extra_networks {
        out.push((name.clone(), req.clone(), false));
    }
    out
}

impl Engine {
    /// In the monitor, between the runtime's create and start: the container's first process
    /// exists in its own network namespace and waits. Leaves nothing behind on failure.
    pub(crate) fn connect_networks(&mut self, c: &Container, pid: i32) -> Result<NetworkSettings> {
        let mut settings = NetworkSettings::default();
        for (n, (name, req, primary)) in wanted(c).into_iter().enumerate() {
            match self.connect_one(c, pid, &name, &req, primary, n) {
                Ok(Some((net, ep, published))) => {
                    settings.networks.insert(net, ep);
                    if primary {
                        settings.ports = published;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    self.disconnect_networks(c);
                    return Err(e);
                }
            }
        }
        Ok(settings)
    }

    /// Connects a container whose init is `pid` to network `name` as its `n`th interface
    /// (`ethN`); the primary network also gets its published ports. None for a network that
    /// has no addresses to give (host, none). On failure, what this call took is released.
    fn connect_one(
        &mut self,
        c: &Container,
        pid: i32,
        name: &str,
        req: &EndpointRequest,
        primary: bool,
        n: usize,
    ) -> Result<Option<(String, EndpointSettings, Vec<Published>)>> {
        let net = self.network_find(name)?;
        if !net.is_bridge() {
            return Ok(None);
        }
        let requested = match req.ipv4_address.as_str() {
            "" => None,
            ip => Some(
                ip.parse::<Ipv4Addr>()
                    .map_err(|_| EngineError::Invalid(format!("invalid IPv4 address: {ip}")))?,
            ),
        };
        let bindings = if primary { bindings(c) } else { Vec::new() };
        // A bridge made here (berth0 on first use, any after a reboot) needs its rules.
        let fresh = !berth_network::link::Netlink::open()
            .and_then(|mut nl| nl.link_exists(&net.bridge))
            .map_err(net_err)?;
        // An existing bridge was set up by whoever made it (network create, or the first
        // container on berth0): checking its address and state again costs four requests.
        if fresh {
            self.ensure_bridge(&net)?;
        }
        let id = c.id.clone();
        let (row, published) = self.store.db.write(|tx| {
            let row = network::lease(tx, &net, &id, requested, &req.aliases)?;
            let published = ports::publish(tx, &id, &net.id, row.ip, &bindings)?;
            Ok::<_, EngineError>((row, published))
        })?;
        let ifname = format!("eth{n}");
        let veth = host_veth(&c.id, n);
        let plugged = self.plug(c, pid, &net, &row, &published, fresh, &ifname, &veth, req);
        if let Err(e) = plugged {
            let _ = self.store.db.write(|tx| {
                network::release_from(tx, &id, &net.id)?;
                if primary {
                    ports::unpublish(tx, &id)?;
                }
                Ok::<_, EngineError>(())
            });
            if let Ok(mut nl) = berth_network::link::Netlink::open() {
                let _ = nl.delete_link(&veth);
            }
            if !published.is_empty() {
                let _ = network::apply_firewall(&self.store);
            }
            return Err(e);
        }
        let subnet = net.subnet()?;
        Ok(Some((
            net.name.clone(),
            EndpointSettings {
                network_id: net.id.clone(),
                endpoint_id: row.endpoint.clone(),
                ip: row.ip.to_string(),
                prefix: subnet.prefix(),
                gateway: net.gateway.clone(),
                mac: row.mac.clone(),
                aliases: req.aliases.clone(),
                interface: ifname,
                host_veth: veth,
            },
            published,
        )))
    }

    /// The kernel's half of connecting: the veth pair, the firewall for published ports,
    /// and the container's names (its own, its links') in its `/etc/hosts`.
    #[allow(clippy::too_many_arguments)]
    fn plug(
        &mut self,
        c: &Container,
        pid: i32,
        net: &network::Network,
        row: &network::EndpointRow,
        published: &[Published],
        fresh_bridge: bool,
        ifname: &str,
        veth: &str,
        req: &EndpointRequest,
    ) -> Result<()> {
        let subnet = net.subnet()?;
        let gateway = net.gateway()?;
        let mac = match req.mac_address.as_str() {
            "" => parse_mac(&row.mac),
            m => parse_mac(m),
        };
        let netns = berth_network::netns::open(pid as u32).map_err(net_err)?;
        let mut nl = berth_network::link::Netlink::open().map_err(net_err)?;
        // A veth of a dead monitor's container with this name is in the way.
        let _ = nl.delete_link(veth);
        berth_network::link::connect(
            &mut nl,
            &berth_network::link::Endpoint {
                bridge: &net.bridge,
                host_veth: veth,
                netns: netns.as_fd(),
                link: berth_network::link::ContainerLink {
                    name: ifname,
                    address: row.ip,
                    subnet,
                    // One default route: through the first network's gateway.
                    gateway: (!net.internal && ifname == "eth0").then_some(gateway),
                },
                mac,
                mtu: None,
            },
        )
        .map_err(net_err)?;
        if fresh_bridge || !published.is_empty() {
            network::apply_firewall(&self.store)?;
        }
        if !net.predefined {
            // A user network resolves its containers' names: through its name server, at
            // the gateway, when this is the container's first network.
            let exe = berth_sys::exe::protected_path()
                .ok()
                .flatten()
                .or_else(|| std::env::current_exe().ok());
            if let Some(exe) = exe {
                self.ensure_dns(&exe, gateway)?;
            }
            if ifname == "eth0" {
                let path = self.container_dir(&c.id).join("resolv.conf");
                let body = crate::engine::resolv_conf_via(&c.host_config, Some(&net.gateway));
                std::fs::write(&path, body).map_err(EngineError::io(&path))?;
            }
        }
        let mut lines = vec![format!("{}\t{}", row.ip, c.config.hostname)];
        // `--link NAME:ALIAS`: the other container's address under both names, as Docker
        // writes them (the target must be running, on this network).
        for l in &req.links {
            let (name, alias) = l.split_once(':').unwrap_or((l, l));
            let other = self.refresh(name)?;
            let ip = other
                .state
                .network
                .networks
                .get(&net.name)
                .map(|e| e.ip.clone())
                .filter(|ip| !ip.is_empty())
                .ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "Cannot link to {name}, as it is not running on network {}",
                        net.name
                    ))
                })?;
            let other_name = other.name.clone();
            lines.push(if alias == other_name {
                format!("{ip}\t{alias} {}", other.short_id())
            } else {
                format!("{ip}\t{alias} {} {other_name}", other.short_id())
            });
        }
        self.add_hosts_entries(c, &lines)
    }

    /// Adds lines to the container's `/etc/hosts` (its own address and name, its links), as
    /// Docker does. The file is bind-mounted into the container, so it is rewritten in place.
    fn add_hosts_entries(&self, c: &Container, lines: &[String]) -> Result<()> {
        let path = self.container_dir(&c.id).join("hosts");
        let mut hosts = std::fs::read_to_string(&path).map_err(EngineError::io(&path))?;
        let before = hosts.len();
        for line in lines {
            let line = format!("{line}\n");
            if !hosts.contains(&line) {
                hosts.push_str(&line);
            }
        }
        if hosts.len() != before {
            std::fs::write(&path, hosts).map_err(EngineError::io(&path))?;
        }
        Ok(())
    }

    /// Releases what [`Engine::connect_networks`] took: the addresses and published ports
    /// (one transaction), the firewall rules, the host's veths. Carries on past each
    /// failure: a container that stopped must not keep an address for lack of a veth to
    /// delete.
    pub(crate) fn disconnect_networks(&mut self, c: &Container) {
        let failed = self.disconnect(c, false);
        self.note_failures(&c.id, &failed);
    }

    /// [`Engine::disconnect_networks`] for a container that just exited, whose monitor
    /// reports the exit first: the host's veths go in [`Engine::finish_deferred`].
    pub(crate) fn disconnect_networks_deferred(&mut self, c: &Container) {
        let failed = self.disconnect(c, true);
        self.note_failures(&c.id, &failed);
    }

    /// Keeps what went wrong in a teardown beside the container's log (`monitor.log`):
    /// nobody waits for these, and a stopped container must not fail to stop over them.
    pub(crate) fn note_failures(&self, id: &str, failed: &[String]) {
        if failed.is_empty() {
            return;
        }
        use std::io::Write;
        let dir = self.container_dir(id);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("monitor.log"))
        {
            for e in failed {
                let _ = writeln!(f, "{} network teardown: {e}", berth_image::timefmt::now());
            }
        }
    }

    /// Releases everything; carries on past each failure and returns them all.
    fn disconnect(&mut self, c: &Container, defer_links: bool) -> Vec<String> {
        let mut failed = Vec::new();
        // Nothing to release, and no transaction to pay for, without a network of its own.
        if wanted(c).is_empty() && c.state.network.networks.is_empty() {
            return failed;
        }
        let id = c.id.as_str();
        let released = self.store.db.write(|tx| {
            let rows = network::release(tx, id)?;
            let had_ports = ports::unpublish(tx, id)?;
            Ok::<_, EngineError>((rows, had_ports))
        });
        let (released, had_ports) = match released {
            Ok((rows, had_ports)) => (rows.len(), had_ports),
            Err(e) => {
                failed.push(format!("releasing addresses and ports: {e}"));
                // Still try the rest: the rules and links don't depend on the rows.
                (0, true)
            }
        };
        if had_ports {
            if let Err(e) = network::apply_firewall(&self.store) {
                failed.push(format!("removing published ports: {e}"));
            }
        }
        // Gone with the container's namespace as a rule; not when something else holds
        // the namespace open.
        let mut links: Vec<String> = (0..released.max(c.state.network.networks.len()))
            .map(|n| host_veth(id, n))
            .collect();
        for e in c.state.network.networks.values() {
            if !e.host_veth.is_empty() && !links.contains(&e.host_veth) {
                links.push(e.host_veth.clone());
            }
        }
        if links.is_empty() {
            return failed;
        }
        if defer_links {
            self.deferred.links.extend(links);
            self.deferred.links_of = Some(id.to_string());
            return failed;
        }
        match berth_network::link::Netlink::open() {
            Ok(mut nl) => {
                for l in links {
                    if let Err(e) = nl.delete_link(&l) {
                        failed.push(format!("deleting {l}: {e}"));
                    }
                }
            }
            Err(e) => failed.push(format!("netlink: {e}")),
        }
        failed
    }

    /// `docker network connect`: a running container gets its new interface at once; a
    /// stopped one, at its next start.
    pub fn network_connect(
        &mut self,
        network: &str,
        container: &str,
        req: EndpointRequest,
    ) -> Result<()> {
        let c = self.refresh(container)?;
        let net = self.network_find(network)?;
        let mode = c.host_config.network_mode.as_str();
        if mode == "host" || mode.starts_with("container:") || !net.is_bridge() {
            return Err(EngineError::Conflict(
                "container sharing network namespace with another container or host cannot be connected to any other network".into(),
            ));
        }
        if network_name(mode) == Some(net.name.as_str())
            || c.host_config.extra_networks.contains_key(&net.name)
        {
            return Err(EngineError::Conflict(format!(
                "endpoint with name {} already exists in network {}",
                c.name, net.name
            )));
        }
        if !req.ipv4_address.is_empty() && net.predefined {
            return Err(EngineError::Invalid(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        }
        let running = c.state.status == crate::container::Status::Running && c.state.pid > 0;
        let mut ep = None;
        if running {
            let used: std::collections::HashSet<String> = c
                .state
                .network
                .networks
                .values()
                .map(|e| e.interface.clone())
                .collect();
            let n = (0..64)
                .find(|n| !used.contains(&format!("eth{n}")))
                .unwrap_or(64);
            ep = self.connect_one(&c, c.state.pid, &net.name, &req, false, n)?;
        }
        let name = net.name.clone();
        crate::container::update(&mut self.store, &c.id, |r| {
            r.host_config.extra_networks.insert(name.clone(), req);
            if let Some((net, e, _)) = ep {
                r.state.network.networks.insert(net, e);
            }
        })?;
        Ok(())
    }

    /// `docker network disconnect`: the container leaves the network now if it runs, and
    /// for good.
    pub fn network_disconnect(&mut self, network: &str, container: &str) -> Result<()> {
        let c = self.refresh(container)?;
        let net = self.network_find(network)?;
        let primary = network_name(&c.host_config.network_mode) == Some(net.name.as_str());
        if !primary && !c.host_config.extra_networks.contains_key(&net.name) {
            return Err(EngineError::Invalid(format!(
                "container {} is not connected to network {}",
                c.id, net.name
            )));
        }
        let ep = c.state.network.networks.get(&net.name).cloned();
        if ep.is_some() {
            let id = c.id.clone();
            let net_id = net.id.clone();
            let had_ports = self.store.db.write(|tx| {
                network::release_from(tx, &id, &net_id)?;
                let mut had = false;
                if primary {
                    had = ports::unpublish(tx, &id)?;
                }
                Ok::<_, EngineError>(had)
            })?;
            if let (Some(e), Ok(mut nl)) = (&ep, berth_network::link::Netlink::open()) {
                let _ = nl.delete_link(&e.host_veth);
            }
            if had_ports {
                network::apply_firewall(&self.store)?;
            }
        }
        let name = net.name.clone();
        crate::container::update(&mut self.store, &c.id, |r| {
            r.state.network.networks.remove(&name);
            if primary {
                // Docker's container keeps its mode but no longer has the network.
                r.host_config.network_mode = "none".into();
                r.state.network.ports.clear();
            } else {
                r.host_config.extra_networks.remove(&name);
            }
        })?;
        Ok(())
    }
}

impl Engine {
    /// Releases the addresses and ports of containers that have no record any more (their
    /// monitor was killed between removing it and releasing them). A container's record is
    /// in before its monitor takes an address, so these are leftovers, whatever their age.
    pub(crate) fn sweep_endpoints(&mut self, known: &std::collections::HashSet<&str>) {
        let held: Vec<String> = {
            let conn = self.store.db.conn();
            let Ok(mut st) = conn.prepare_cached(
                "SELECT container FROM endpoints UNION SELECT container FROM ports",
            ) else {
                return;
            };
            let Ok(rows) = st.query_map([], |r| r.get(0)) else {
                return;
            };
            rows.flatten().collect()
        };
        for id in held.iter().filter(|id| !known.contains(id.as_str())) {
            let gone = Container {
                id: id.clone(),
                host_config: crate::container::HostConfig {
                    network_mode: "bridge".into(),
                    ..Default::default()
                },
                ..Default::default()
            };
            self.disconnect_networks(&gone);
        }
    }
}

/// Docker's `HostConfig.PortBindings`: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`,
/// with "" for a port picked at start.
pub fn bindings_json(bindings: &[PortBinding]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for b in bindings {
        let key = format!("{}/{}", b.container_port, b.proto);
        let host_port = if b.host_port == 0 {
            String::new()
        } else {
            b.host_port.to_string()
        };
        let entry = map
            .entry(key)
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let Some(list) = entry.as_array_mut() {
            list.push(serde_json::json!({"HostIp": b.host_ip, "HostPort": host_port}));
        }
    }
    serde_json::Value::Object(map)
}

/// Docker's `NetworkSettings` of a container: its endpoints while it runs (the network it
/// is configured for, without addresses, when it doesn't), and its ports: published ones
/// with their host side, exposed ones as null.
pub fn settings_json(c: &Container) -> serde_json::Value {
    use serde_json::{json, Value};
    let n = &c.state.network;
    let mut ports = serde_json::Map::new();
    for key in c.config.exposed_ports.keys() {
        ports.insert(key.clone(), Value::Null);
    }
    for p in &n.ports {
        let key = format!("{}/{}", p.container_port, p.proto);
        let ip = if p.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &p.host_ip
        };
        let entry = ports.entry(key).or_insert(Value::Null);
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        if let Some(list) = entry.as_array_mut() {
            list.push(json!({"HostIp": ip, "HostPort": p.host_port.to_string()}));
        }
    }
    let endpoint = |name: &str, e: Option<&EndpointSettings>| {
        let e = e.cloned().unwrap_or_default();
        // What was asked for on this network: `run`'s flags for the first, `network
        // connect`'s for the others.
        let req = c
            .host_config
            .extra_networks
            .get(name)
            .unwrap_or(&c.host_config.endpoint);
        json!({
            "IPAMConfig": if req.ipv4_address.is_empty() { Value::Null } else { json!({"IPv4Address": req.ipv4_address}) },
            "Links": if req.links.is_empty() { Value::Null } else { json!(req.links) },
            "Aliases": if e.aliases.is_empty() { Value::Null } else { json!(e.aliases) },
            "MacAddress": e.mac,
            "DriverOpts": null,
            "NetworkID": e.network_id,
            "EndpointID": e.endpoint_id,
            "Gateway": e.gateway,
            "IPAddress": e.ip,
            "IPPrefixLen": e.prefix,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": if name == "bridge" || e.ip.is_empty() { Value::Null } else {
                let mut names = vec![c.name.clone(), c.short_id().to_string()];
                names.extend(e.aliases.iter().cloned());
                json!(names)
            },
        })
    };
    let mut networks = serde_json::Map::new();
    for (name, e) in &n.networks {
        networks.insert(name.clone(), endpoint(name, Some(e)));
    }
    let mode = c.host_config.network_mode.as_str();
    let configured = match mode {
        "" | "default" => "bridge",
        m if m.starts_with("container:") => "",
        m => m,
    };
    let configured = std::iter::once(configured)
        .filter(|n| !n.is_empty())
        .chain(c.host_config.extra_networks.keys().map(String::as_str));
    for name in configured {
        if !networks.contains_key(name) {
            networks.insert(name.to_string(), endpoint(name, None));
        }
    }
    // Docker fills the top-level address fields from the default bridge only.
    let bridge = n.networks.get("bridge").cloned().unwrap_or_default();
    json!({
        "Bridge": "",
        "Ports": ports,
        "EndpointID": bridge.endpoint_id,
        "Gateway": bridge.gateway,
        "IPAddress": bridge.ip,
        "IPPrefixLen": bridge.prefix,
        "MacAddress": bridge.mac,
        "Networks": networks,
    })
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_names() {
        assert_eq!(network_name(""), Some("bridge"));
        assert_eq!(network_name("default"), Some("bridge"));
        assert_eq!(network_name("none"), None);
        assert_eq!(network_name("host"), None);
        assert_eq!(network_name("container:x"), None);
        assert_eq!(network_name("mynet"), Some("mynet"));
        assert_eq!(host_veth(&"a".repeat(64), 0).len(), 15);
        assert_eq!(host_veth(&"a".repeat(64), 9).len(), 14);
        assert_eq!(host_veth(&"a".repeat(64), 63).len(), 15);
        assert_eq!(
            parse_mac("02:42:0a:42:00:02"),
            Some([2, 0x42, 10, 0x42, 0, 2])
        );
        assert_eq!(parse_mac("02:42"), None);
    }
}
