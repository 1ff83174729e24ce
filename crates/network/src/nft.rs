//! The nftables table berth owns (`inet berth`), built whole from a declarative
//! [`Firewall`] and applied in one `nft -j -f -` transaction.
//!
//! One table that nothing else writes to means: re-applying replaces exactly berth's rules
//! and nobody else's, a half-applied state can't exist (nft commits the batch or nothing),
//! and teardown is `delete table`. The cost is that berth's base chains sit beside other
//! tables' chains on the same hooks: a `drop` policy elsewhere (Docker's iptables-nft FORWARD
//! chain, say) still drops what berth accepts.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use nftables::batch::Batch;
use nftables::expr::{Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression};
use nftables::expr::{Payload, PayloadField, Prefix, SetItem, CT};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Table};
use nftables::stmt::{JumpTarget, Match, NATFamily, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use crate::error::{NetworkError, Result};
use crate::ipam::Subnet;
use crate::link::check_name;
use crate::sysctl;

/// The table's name; its family is `inet`, so IPv6 rules can join it later.
pub const TABLE: &str = "berth";
const FAMILY: NfFamily = NfFamily::INet;
const NFT: &str = "nft";

// Hook priorities, as nft names them.
const PRIO_RAW: i32 = -300;
const PRIO_DSTNAT: i32 = -100;
const PRIO_FILTER: i32 = 0;
const PRIO_SRCNAT: i32 = 100;

/// One bridge network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetRule {
    pub bridge: String,
    pub subnet: Subnet,
    /// No traffic in or out of the bridge, only between its containers (`--internal`).
    pub internal: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One published port (`-p [host_ip:]host_port:container_port[/proto]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMap {
    /// None: every local address of the host, 127.0.0.1 included, as Docker's `0.0.0.0`.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    pub proto: Proto,
    /// The bridge the container is on.
    pub bridge: String,
}

impl PortMap {
    /// The address the port is bound to; None for every address (`0.0.0.0` means that
    /// too, as in `-p 0.0.0.0:8080:80`).
    fn bound_to(&self) -> Option<Ipv4Addr> {
        self.host_ip.filter(|ip| !ip.is_unspecified())
    }

    /// Whether the port can be reached on 127.0.0.1 from the host.
    fn on_loopback(&self) -> bool {
        self.bound_to().is_none_or(|ip| ip.is_loopback())
    }
}

/// Everything berth's table holds: rebuilt from scratch on every change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Firewall {
    pub networks: Vec<NetRule>,
    pub ports: Vec<PortMap>,
}

fn s(x: impl Into<String>) -> Expression<'static> {
    Expression::String(Cow::Owned(x.into()))
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn field(protocol: &'static str, name: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: name.into(),
        },
    )))
}

fn prefix(subnet: &Subnet) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(s(subnet.addr().to_string())),
        len: u32::from(subnet.prefix()),
    }))
}

fn set(items: impl IntoIterator<Item = String>) -> Expression<'static> {
    Expression::Named(NamedExpression::Set(
        items.into_iter().map(|i| SetItem::Element(s(i))).collect(),
    ))
}

fn ct(key: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT {
        key: key.into(),
        family: None,
        dir: None,
    }))
}

fn matches(
    left: Expression<'static>,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn eq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    matches(left, Operator::EQ, right)
}

fn ne(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    matches(left, Operator::NEQ, right)
}

fn iif(name: &str) -> Statement<'static> {
    eq(meta(MetaKey::Iifname), s(name))
}

fn oif(name: &str) -> Statement<'static> {
    eq(meta(MetaKey::Oifname), s(name))
}

fn ct_dnat() -> Statement<'static> {
    matches(ct("status"), Operator::IN, s("dnat"))
}

fn local_daddr() -> Statement<'static> {
    eq(
        Expression::Named(NamedExpression::Fib(Fib {
            result: FibResult::Type,
            flags: HashSet::from([FibFlag::Daddr]),
        })),
        s("local"),
    )
}

fn accept() -> Statement<'static> {
    Statement::Accept(None)
}

fn drop() -> Statement<'static> {
    Statement::Drop(None)
}

fn table() -> Table<'static> {
    Table {
        family: FAMILY,
        name: TABLE.into(),
        handle: None,
    }
}

fn base_chain(
    name: &'static str,
    kind: NfChainType,
    hook: NfHook,
    prio: i32,
) -> NfListObject<'static> {
    NfListObject::Chain(Chain {
        family: FAMILY,
        table: TABLE.into(),
        name: name.into(),
        _type: Some(kind),
        hook: Some(hook),
        prio: Some(prio),
        policy: Some(NfChainPolicy::Accept),
        ..Chain::default()
    })
}

fn rule(
    chain: &'static str,
    comment: Option<String>,
    expr: Vec<Statement<'static>>,
) -> NfListObject<'static> {
    NfListObject::Rule(Rule {
        family: FAMILY,
        table: TABLE.into(),
        chain: chain.into(),
        expr: Cow::Owned(expr),
        comment: comment.map(Cow::Owned),
        ..Rule::default()
    })
}

impl Firewall {
    fn check(&self) -> Result<()> {
        for n in &self.networks {
            check_name(&n.bridge)?;
        }
        for p in &self.ports {
            check_name(&p.bridge)?;
            if p.host_port == 0 || p.container_port == 0 {
                return Err(NetworkError::InvalidPort {
                    mapping: p.describe(),
                    reason: "port 0",
                });
            }
        }
        Ok(())
    }

    /// The nft transaction that makes the table hold exactly this firewall: add the table
    /// (so the delete can't fail), delete it, then create it whole. Deleting rather than
    /// flushing also drops chains a previous berth made and this one does not.
    fn ruleset(&self) -> Result<Nftables<'static>> {
        self.check()?;
        let mut batch = Batch::new();
        batch.add(NfListObject::Table(table()));
        batch.delete(NfListObject::Table(table()));
        batch.add(NfListObject::Table(table()));
        for (name, kind, hook, prio) in [
            ("guard", NfChainType::Filter, NfHook::Prerouting, PRIO_RAW),
            (
                "prerouting",
                NfChainType::NAT,
                NfHook::Prerouting,
                PRIO_DSTNAT,
            ),
            ("output", NfChainType::NAT, NfHook::Output, PRIO_DSTNAT),
            (
                "postrouting",
                NfChainType::NAT,
                NfHook::Postrouting,
                PRIO_SRCNAT,
            ),
            ("forward", NfChainType::Filter, NfHook::Forward, PRIO_FILTER),
        ] {
            batch.add(base_chain(name, kind, hook, prio));
        }
        batch.add(NfListObject::Chain(Chain {
            family: FAMILY,
            table: TABLE.into(),
            name: "ports".into(),
            ..Chain::default()
        }));
        for r in self.rules() {
            batch.add(r);
        }
        Ok(batch.to_nftables())
    }

    fn rules(&self) -> Vec<NfListObject<'static>> {
        let mut rules = Vec::new();
        let bridges: BTreeSet<String> = self.networks.iter().map(|n| n.bridge.clone()).collect();

        // route_localnet on a bridge (see `apply`) would also let anything on that bridge
        // send to the host's 127.0.0.0/8 and be taken as local. Nothing legitimate arrives
        // for 127.0.0.0/8 except over lo, so drop it before NAT can see it. This is also
        // what keeps a port published on 127.0.0.1 from being reached from elsewhere.
        rules.push(rule(
            "guard",
            Some("loopback addresses only over lo".into()),
            vec![
                ne(meta(MetaKey::Iifname), s("lo")),
                eq(field("ip", "daddr"), prefix(&loopback())),
                drop(),
            ],
        ));

        // Published ports: DNAT whatever is addressed to a local address of the host, from
        // outside (prerouting) or from the host itself (output). Traffic from the
        // containers' own bridges is included: that is hairpin (see postrouting).
        for chain in ["prerouting", "output"] {
            rules.push(rule(
                chain,
                None,
                vec![
                    local_daddr(),
                    Statement::Jump(JumpTarget {
                        target: "ports".into(),
                    }),
                ],
            ));
        }
        for p in &self.ports {
            let mut expr = vec![eq(meta(MetaKey::Nfproto), s("ipv4"))];
            if let Some(ip) = p.bound_to() {
                expr.push(eq(field("ip", "daddr"), s(ip.to_string())));
            }
            expr.push(eq(
                field(p.proto.name(), "dport"),
                Expression::Number(p.host_port.into()),
            ));
            expr.push(Statement::DNAT(Some(NAT {
                addr: Some(s(p.container_ip.to_string())),
                family: Some(NATFamily::IP),
                port: Some(Expression::Number(p.container_port.into())),
                flags: None,
            })));
            rules.push(rule("ports", Some(p.describe()), expr));
        }

        for n in &self.networks {
            let br = n.bridge.as_str();
            if !n.internal {
                // Containers leave the host with its address.
                rules.push(rule(
                    "postrouting",
                    Some(format!("{br}: outbound")),
                    vec![
                        eq(field("ip", "saddr"), prefix(&n.subnet)),
                        ne(meta(MetaKey::Oifname), s(br)),
                        Statement::Masquerade(None),
                    ],
                ));
            }
            // Hairpin: a container reaching a published port of its own bridge through the
            // host would get the answer straight from the peer, which it never asked and
            // drops. With the host's address as the source, the answer comes back through
            // the host's conntrack.
            rules.push(rule(
                "postrouting",
                Some(format!("{br}: hairpin")),
                vec![
                    oif(br),
                    ct_dnat(),
                    eq(field("ip", "saddr"), prefix(&n.subnet)),
                    Statement::Masquerade(None),
                ],
            ));
            // Ports published on 127.0.0.1 (or on every address) reached from the host: the
            // container would answer 127.0.0.1, i.e. itself. Give the packet the bridge's
            // address instead.
            rules.push(rule(
                "postrouting",
                Some(format!("{br}: from the host's loopback")),
                vec![
                    oif(br),
                    eq(field("ip", "saddr"), prefix(&loopback())),
                    Statement::Masquerade(None),
                ],
            ));
        }

        rules.push(rule(
            "forward",
            None,
            vec![
                matches(
                    ct("state"),
                    Operator::IN,
                    Expression::List(vec![s("established"), s("related")]),
                ),
                accept(),
            ],
        ));
        for n in self.networks.iter().filter(|n| n.internal) {
            let br = n.bridge.as_str();
            rules.push(rule(
                "forward",
                Some(format!("{br}: internal, no way out")),
                vec![iif(br), ne(meta(MetaKey::Oifname), s(br)), drop()],
            ));
            rules.push(rule(
                "forward",
                Some(format!("{br}: internal, no way in")),
                vec![oif(br), ne(meta(MetaKey::Iifname), s(br)), drop()],
            ));
        }
        // A published port is open to everyone who can reach the host, containers on other
        // bridges included: the same rule whichever way the packet came.
        for p in &self.ports {
            rules.push(rule(
                "forward",
                Some(p.describe()),
                vec![
                    oif(&p.bridge),
                    eq(field("ip", "daddr"), s(p.container_ip.to_string())),
                    eq(
                        field(p.proto.name(), "dport"),
                        Expression::Number(p.container_port.into()),
                    ),
                    ct_dnat(),
                    accept(),
                ],
            ));
        }
        for n in &self.networks {
            rules.push(rule(
                "forward",
                None,
                vec![iif(&n.bridge), oif(&n.bridge), accept()],
            ));
        }
        if bridges.len() > 1 {
            rules.push(rule(
                "forward",
                Some("isolation between networks".into()),
                vec![
                    eq(meta(MetaKey::Iifname), set(bridges.iter().cloned())),
                    eq(meta(MetaKey::Oifname), set(bridges.iter().cloned())),
                    drop(),
                ],
            ));
        }
        for n in self.networks.iter().filter(|n| !n.internal) {
            rules.push(rule("forward", None, vec![iif(&n.bridge), accept()]));
        }
        // Nothing else starts a connection to a container: not the LAN routing straight to
        // a container's address, not an unpublished port.
        for n in &self.networks {
            rules.push(rule("forward", None, vec![oif(&n.bridge), drop()]));
        }
        rules
    }

    /// The transaction as the JSON `nft -j -f -` reads.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(&self.ruleset()?).expect("nftables documents always serialize"))
    }

    /// Makes the kernel's `inet berth` table exactly this firewall, in one transaction.
    /// Before that, sets `route_localnet` on every bridge with a port reachable on
    /// 127.0.0.1 (see `sysctl::enable_route_localnet`; the guard chain drops what it would
    /// otherwise let in). Forwarding (`sysctl::enable_ip_forward`) is the caller's call.
    pub fn apply(&self) -> Result<()> {
        let json = self.to_json()?;
        let localnet: BTreeSet<&str> = self
            .ports
            .iter()
            .filter(|p| p.on_loopback())
            .map(|p| p.bridge.as_str())
            .collect();
        for bridge in localnet {
            sysctl::enable_route_localnet(bridge)?;
        }
        run_nft(&json)
    }
}

impl PortMap {
    fn describe(&self) -> String {
        let host = self
            .bound_to()
            .map_or_else(|| "0.0.0.0".to_string(), |ip| ip.to_string());
        format!(
            "{host}:{}->{}:{}/{} on {}",
            self.host_port,
            self.container_ip,
            self.container_port,
            self.proto.name(),
            self.bridge
        )
    }
}

fn loopback() -> Subnet {
    Subnet::containing(Ipv4Addr::LOCALHOST, 8).expect("8 is a valid prefix")
}

/// Removes berth's table and everything in it. A missing table is fine: adding it first in
/// the same transaction makes the delete always succeed (nft 1.0.6 has no `destroy`).
pub fn teardown() -> Result<()> {
    let mut batch = Batch::new();
    batch.add(NfListObject::Table(table()));
    batch.delete(NfListObject::Table(table()));
    let json =
        serde_json::to_string(&batch.to_nftables()).expect("nftables documents always serialize");
    run_nft(&json)
}

/// berth's table as `nft -j list table inet berth` prints it, None when there is none.
pub fn list() -> Result<Option<String>> {
    let out = Command::new(NFT)
        .args(["-j", "list", "table", "inet", TABLE])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| NetworkError::NftSpawn {
            program: NFT.into(),
            source,
        })?;
    if out.status.success() {
        return Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No such file or directory") {
        return Ok(None);
    }
    Err(NetworkError::NftFailed {
        table: format!("inet {TABLE}"),
        status: out.status.to_string(),
        stderr: stderr.trim().to_string(),
    })
}

/// Feeds a JSON transaction to `nft -j -f -`. The crate's own helper lets nft's stderr
/// through to ours; a library must hand it back in the error instead.
fn run_nft(json: &str) -> Result<()> {
    let spawn_err = |source| NetworkError::NftSpawn {
        program: NFT.into(),
        source,
    };
    let mut child = Command::new(NFT)
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    // nft reads all its input before it answers, so writing first can't deadlock.
    let written = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(json.as_bytes());
    let out = child.wait_with_output().map_err(spawn_err)?;
    if !out.status.success() {
        return Err(NetworkError::NftFailed {
            table: format!("inet {TABLE}"),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    written.map_err(spawn_err)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn net(bridge: &str, subnet: &str, internal: bool) -> NetRule {
        NetRule {
            bridge: bridge.into(),
            subnet: Subnet::parse(subnet).unwrap(),
            internal,
        }
    }

    fn commands(fw: &Firewall) -> Vec<Value> {
        let v: Value = serde_json::from_str(&fw.to_json().unwrap()).unwrap();
        v["nftables"].as_array().unwrap().clone()
    }

    fn rules_with(cmds: &[Value], needle: &str) -> usize {
        cmds.iter()
            .filter(|c| c["add"]["rule"].is_object() && c.to_string().contains(needle))
            .count()
    }

    #[test]
    fn the_transaction_recreates_the_table() {
        let cmds = commands(&Firewall::default());
        let table = serde_json::json!({"table": {"family": "inet", "name": "berth"}});
        assert_eq!(cmds[0]["add"], table);
        assert_eq!(cmds[1]["delete"], table);
        assert_eq!(cmds[2]["add"], table);
        let chains: Vec<&str> = cmds
            .iter()
            .filter_map(|c| c["add"]["chain"]["name"].as_str())
            .collect();
        assert_eq!(
            chains,
            [
                "guard",
                "prerouting",
                "output",
                "postrouting",
                "forward",
                "ports"
            ]
        );
    }

    #[test]
    fn rules_follow_the_description() {
        let fw = Firewall {
            networks: vec![
                net("berth0", "10.89.0.0/16", false),
                net("br-i", "10.90.0.0/24", true),
            ],
            ports: vec![PortMap {
                host_ip: Some(Ipv4Addr::LOCALHOST),
                host_port: 8080,
                container_ip: Ipv4Addr::new(10, 89, 0, 2),
                container_port: 80,
                proto: Proto::Udp,
                bridge: "berth0".into(),
            }],
        };
        let cmds = commands(&fw);
        // Outbound masquerade for the normal network only.
        assert_eq!(rules_with(&cmds, "outbound"), 1);
        assert_eq!(rules_with(&cmds, "berth0: outbound"), 1);
        assert_eq!(rules_with(&cmds, "internal, no way"), 2);
        assert_eq!(rules_with(&cmds, "isolation between networks"), 1);
        let dnat: Vec<&Value> = cmds
            .iter()
            .filter(|c| c["add"]["rule"]["chain"] == "ports")
            .collect();
        assert_eq!(dnat.len(), 1);
        let text = dnat[0].to_string();
        for piece in [
            r#""protocol":"udp""#,
            r#""right":"127.0.0.1""#,
            r#""dnat":{"addr":"10.89.0.2","family":"ip","port":80}"#,
        ] {
            assert!(text.contains(piece), "{piece} not in {text}");
        }
        // 0.0.0.0 is every address, as with no address at all.
        let mut any = fw.clone();
        any.ports[0].host_ip = Some(Ipv4Addr::UNSPECIFIED);
        let text = commands(&any)
            .iter()
            .filter(|c| c["add"]["rule"]["chain"] == "ports")
            .map(|c| c.to_string())
            .collect::<String>();
        assert!(!text.contains("daddr"), "{text}");
        assert!(
            text.contains("0.0.0.0:8080->10.89.0.2:80/udp on berth0"),
            "{text}"
        );
        // One network: nothing to isolate it from.
        let one = commands(&Firewall {
            networks: vec![net("berth0", "10.89.0.0/16", false)],
            ports: vec![],
        });
        assert_eq!(rules_with(&one, "isolation"), 0);
    }

    #[test]
    fn bad_names_and_ports_are_refused_before_nft_runs() {
        let mut fw = Firewall {
            networks: vec![net("a/b", "10.89.0.0/16", false)],
            ports: vec![],
        };
        let e = fw.to_json().unwrap_err();
        assert!(e.to_string().contains("\"a/b\""), "{e}");
        fw.networks.clear();
        fw.ports.push(PortMap {
            host_ip: None,
            host_port: 0,
            container_ip: Ipv4Addr::new(10, 89, 0, 2),
            container_port: 80,
            proto: Proto::Tcp,
            bridge: "berth0".into(),
        });
        let e = fw.to_json().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid port mapping 0.0.0.0:0->10.89.0.2:80/tcp on berth0: port 0"
        );
    }
}
