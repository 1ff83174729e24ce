//! The name server of user-defined networks (what aardvark-dns is to podman and the
//! embedded DNS server to Docker): containers on a network resolve each other by name and
//! alias through the network's gateway address, and everything else is forwarded to the
//! host's resolvers.
//!
//! Synchronous: [`Server`] owns its sockets, and [`Server::serve_once`] handles whatever is
//! ready within a timeout, so the caller owns the loop (and watches for shutdown and reloads
//! its records between calls). The records come from the caller through [`Records`], asked
//! with the address the query arrived on: each network answers only for its own containers.
//!
//! Every packet is untrusted: [`respond`] is a pure function from a packet to a reply, a
//! forward or nothing, which never panics, never answers with more than the question needs
//! (and never more than 512 bytes over UDP without EDNS: TC is set instead), and never
//! forwards a response.

pub mod message;
mod server;

pub use message::{Header, Message, Name, ParseError, Question, RData, Record};
pub use server::Server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use message::*;

/// The TTL of our answers (aardvark-dns's; containers come and go).
pub const TTL: u32 = 60;
/// The UDP payload size we advertise and answer within when the query has EDNS(0).
pub const EDNS_PAYLOAD: u16 = 1232;
/// The largest reply relayed from upstream over UDP, whatever the client advertises.
pub const MAX_UDP_PAYLOAD: usize = 4096;

/// What a network knows of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A container (or alias) of the network: its addresses.
    Found(Vec<Ipv4Addr>),
    /// Not a name of the network: forward it upstream.
    NotOurs,
    /// A name in the network's own domain that does not exist: NXDOMAIN, authoritatively.
    NoSuchName,
}

/// The caller's records. `server` is the local address the query arrived on: the gateway of
/// the asking container's network.
pub trait Records: Send {
    /// `name` is ASCII-lowercase and has no trailing dot (`web`, `db.internal`).
    fn lookup(&self, server: Ipv4Addr, name: &str) -> Lookup;
    /// The name of the container at `ip` on the network served at `server`; `None` forwards
    /// the PTR query upstream.
    fn reverse(&self, server: Ipv4Addr, ip: Ipv4Addr) -> Option<String>;
}

/// How a packet arrived: it decides how big a reply may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// A query to pass upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The query as it came (its ID is rewritten when it is sent).
    pub packet: Vec<u8>,
    /// The parsed query, for the SERVFAIL if no upstream answers.
    pub query: Message,
    /// The most the client takes in one reply.
    pub limit: usize,
}

/// What to do with a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Ask upstream.
    Forward(Forward),
    /// Ignore the packet: no header, or it is itself a response.
    Drop,
}

/// The reply to one packet from a container, received on `server` over `transport`.
pub fn respond(
    packet: &[u8],
    server: Ipv4Addr,
    records: &dyn Records,
    transport: Transport,
) -> Response {
    let Some(header) = Header::parse(packet) else {
        return Response::Drop;
    };
    if header.qr {
        return Response::Drop;
    }
    let query = match Message::parse(packet) {
        Ok(q) => q,
        Err(_) => {
            let mut bare = Message {
                header,
                ..Message::default()
            };
            bare.header.z = false;
            return Response::Reply(error_reply(&bare, RCODE_FORMERR, 512));
        }
    };
    let opts = query
        .additional
        .iter()
        .filter(|r| r.rtype == TYPE_OPT)
        .count();
    let limit = match (transport, query.opt()) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(opt)) => usize::from(opt.class).clamp(512, MAX_UDP_PAYLOAD),
    };
    // Our own answers stay within what we advertise; relayed ones may use all the client
    // asked for (up to MAX_UDP_PAYLOAD).
    let forward_limit = limit;
    let limit = if transport == Transport::Udp {
        limit.min(usize::from(EDNS_PAYLOAD))
    } else {
        limit
    };
    if header.opcode != OPCODE_QUERY {
        return Response::Reply(error_reply(&query, RCODE_NOTIMP, limit));
    }
    if query.questions.len() != 1 || opts > 1 || query.opt().is_some_and(|o| !o.name.is_root()) {
        return Response::Reply(error_reply(&query, RCODE_FORMERR, limit));
    }
    if let Some(opt) = query.opt() {
        if (opt.ttl >> 16) & 0xff != 0 {
            // BADVERS: extended rcode 16, its upper bits in the OPT record.
            let mut reply = reply_to(&query, 0);
            reply.additional = vec![Record::opt(EDNS_PAYLOAD, 1)];
            return Response::Reply(reply.encode(limit));
        }
    }
    let q = &query.questions[0];
    let forward = || {
        Response::Forward(Forward {
            packet: packet.to_vec(),
            query: query.clone(),
            limit: forward_limit,
        })
    };
    if q.qclass != CLASS_IN && q.qclass != CLASS_ANY {
        return forward();
    }
    if q.qtype == TYPE_PTR {
        if let Some(ip) = reverse_name(&q.name) {
            let target = records
                .reverse(server, ip)
                .and_then(|n| Name::from_dotted(&n).filter(|n| !n.is_root()));
            return match target {
                Some(target) => {
                    let mut reply = reply_to(&query, RCODE_NOERROR);
                    reply.header.aa = true;
                    reply.answers.push(Record::ptr(q.name.clone(), TTL, target));
                    Response::Reply(reply.encode(limit))
                }
                None => forward(),
            };
        }
    }
    let Some(name) = q.name.to_lowercase_dotted() else {
        return forward();
    };
    match records.lookup(server, &name) {
        Lookup::NotOurs => forward(),
        Lookup::NoSuchName => {
            let mut reply = reply_to(&query, RCODE_NXDOMAIN);
            reply.header.aa = true;
            Response::Reply(reply.encode(limit))
        }
        Lookup::Found(ips) => {
            let mut reply = reply_to(&query, RCODE_NOERROR);
            reply.header.aa = true;
            if q.qtype == TYPE_A || q.qtype == TYPE_ANY {
                // Enough to fill the largest reply; the encoder cuts to the limit.
                for ip in ips.into_iter().take(limit / 16 + 1) {
                    reply.answers.push(Record::a(q.name.clone(), TTL, ip));
                }
            }
            // Any other type of a known name (AAAA above all): no data, but the name
            // exists, so resolvers go on to use the A records.
            Response::Reply(reply.encode(limit))
        }
    }
}

/// A response to `query` with its ID, opcode, RD and CD and its questions; an OPT record
/// if the query had one.
fn reply_to(query: &Message, rcode: u8) -> Message {
    let q = &query.header;
    Message {
        header: Header {
            id: q.id,
            qr: true,
            opcode: q.opcode,
            aa: false,
            tc: false,
            rd: q.rd,
            ra: true,
            z: false,
            ad: false,
            cd: q.cd,
            rcode,
        },
        questions: query.questions.clone(),
        answers: Vec::new(),
        authority: Vec::new(),
        additional: query
            .opt()
            .map(|_| Record::opt(EDNS_PAYLOAD, 0))
            .into_iter()
            .collect(),
    }
}

/// An error response to `query`: its questions (at most one) and nothing else.
pub fn error_reply(query: &Message, rcode: u8, limit: usize) -> Vec<u8> {
    let mut reply = reply_to(query, rcode);
    reply.questions.truncate(1);
    reply.encode(limit)
}

/// `d.c.b.a.in-addr.arpa` as `a.b.c.d`.
fn reverse_name(name: &Name) -> Option<Ipv4Addr> {
    let l = name.labels();
    if l.len() != 6 || !l[4].eq_ignore_ascii_case(b"in-addr") || !l[5].eq_ignore_ascii_case(b"arpa")
    {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, label) in l[..4].iter().enumerate() {
        if label.len() > 1 && label[0] == b'0' || !label.iter().all(u8::is_ascii_digit) {
            return None;
        }
        octets[3 - i] = std::str::from_utf8(label).ok()?.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// The name servers of a resolv.conf, port 53, in order and without duplicates, at most 3
/// (glibc's MAXNS). Loopback servers are kept: the name server runs on the host, where
/// systemd-resolved's 127.0.0.53 is reachable. IPv6 link-local servers with a zone are
/// skipped. A missing or unreadable file has none.
pub fn upstreams_from_resolv_conf(path: &Path) -> Vec<SocketAddr> {
    use std::io::Read;
    let mut text = String::new();
    let Ok(f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    // Bounded: a resolv.conf is a few lines.
    let mut bytes = Vec::new();
    if f.take(64 * 1024).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    text.push_str(&String::from_utf8_lossy(&bytes));
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        let addr = SocketAddr::new(ip, 53);
        if !ip.is_unspecified() && !out.contains(&addr) && out.len() < 3 {
            out.push(addr);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    struct Map(HashMap<String, Vec<Ipv4Addr>>);

    impl Records for Map {
        fn lookup(&self, _server: Ipv4Addr, name: &str) -> Lookup {
            match self.0.get(name) {
                Some(ips) => Lookup::Found(ips.clone()),
                None if name.ends_with(".internal") => Lookup::NoSuchName,
                None => Lookup::NotOurs,
            }
        }
        fn reverse(&self, _server: Ipv4Addr, ip: Ipv4Addr) -> Option<String> {
            self.0
                .iter()
                .find(|(_, ips)| ips.contains(&ip))
                .map(|(n, _)| n.clone())
        }
    }

    fn records() -> Map {
        let mut m = HashMap::new();
        m.insert("web".to_string(), vec![Ipv4Addr::new(10, 67, 0, 2)]);
        m.insert(
            "many".to_string(),
            (0..200).map(|i| Ipv4Addr::new(10, 67, 1, i)).collect(),
        );
        Map(m)
    }

    const GW: Ipv4Addr = Ipv4Addr::new(10, 67, 0, 1);

    fn query(name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
        Message {
            header: Header {
                id: 77,
                rd: true,
                ..Header::default()
            },
            questions: vec![Question {
                name: Name::from_dotted(name).unwrap(),
                qtype,
                qclass: CLASS_IN,
            }],
            additional: edns.map(|s| Record::opt(s, 0)).into_iter().collect(),
            ..Message::default()
        }
        .encode(512)
    }

    fn reply(packet: &[u8], t: Transport) -> Message {
        match respond(packet, GW, &records(), t) {
            Response::Reply(r) => Message::parse(&r).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_of_a_known_name() {
        let r = reply(&query("WEB.", TYPE_A, None), Transport::Udp);
        assert_eq!(r.header.id, 77);
        assert!(r.header.qr && r.header.aa && r.header.rd && r.header.ra && !r.header.tc);
        assert_eq!(r.header.rcode, RCODE_NOERROR);
        assert_eq!(r.questions[0].name.to_string(), "WEB.");
        assert_eq!(
            r.answers,
            vec![Record::a(
                r.questions[0].name.clone(),
                60,
                Ipv4Addr::new(10, 67, 0, 2)
            )]
        );
    }

    #[test]
    fn aaaa_and_others_of_a_known_name_are_empty() {
        for t in [TYPE_AAAA, TYPE_MX, TYPE_TXT] {
            let r = reply(&query("web", t, None), Transport::Udp);
            assert_eq!(r.header.rcode, RCODE_NOERROR);
            assert!(r.header.aa);
            assert!(r.answers.is_empty());
        }
    }

    #[test]
    fn nxdomain_in_our_domain_and_forward_otherwise() {
        let r = reply(&query("gone.internal", TYPE_A, None), Transport::Udp);
        assert_eq!(r.header.rcode, RCODE_NXDOMAIN);
        assert!(r.header.aa);
        let q = query("example.com", TYPE_A, None);
        match respond(&q, GW, &records(), Transport::Udp) {
            Response::Forward(f) => {
                assert_eq!(f.packet, q);
                assert_eq!(f.limit, 512);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ptr_of_a_known_address() {
        let r = reply(
            &query("2.0.67.10.in-addr.arpa", TYPE_PTR, None),
            Transport::Udp,
        );
        assert_eq!(
            r.answers[0].data,
            RData::Ptr(Name::from_dotted("web").unwrap())
        );
        assert!(matches!(
            respond(
                &query("9.9.9.9.in-addr.arpa", TYPE_PTR, None),
                GW,
                &records(),
                Transport::Udp
            ),
            Response::Forward(_)
        ));
        assert_eq!(
            reverse_name(&Name::from_dotted("02.0.67.10.in-addr.arpa").unwrap()),
            None
        );
        assert_eq!(
            reverse_name(&Name::from_dotted("256.0.67.10.in-addr.arpa").unwrap()),
            None
        );
        assert_eq!(
            reverse_name(&Name::from_dotted("0.0.67.10.IN-ADDR.ARPA").unwrap()),
            Some(Ipv4Addr::new(10, 67, 0, 0))
        );
    }

    #[test]
    fn big_answers_are_truncated_over_udp() {
        let r = reply(&query("many", TYPE_A, None), Transport::Udp);
        assert!(r.header.tc);
        assert!(r.encode(65535).len() <= 512);
        let r = reply(&query("many", TYPE_A, Some(4096)), Transport::Udp);
        assert!(r.header.tc, "1232 of 4096 advertised is not enough for 200");
        assert_eq!(r.opt().unwrap().class, EDNS_PAYLOAD);
        let r = reply(&query("many", TYPE_A, None), Transport::Tcp);
        assert!(!r.header.tc);
        assert_eq!(r.answers.len(), 200);
    }

    #[test]
    fn errors() {
        assert_eq!(
            respond(&[1, 2, 3], GW, &records(), Transport::Udp),
            Response::Drop
        );
        // A response is never answered (no reflection loops).
        let mut p = query("web", TYPE_A, None);
        p[2] |= 0x80;
        assert_eq!(respond(&p, GW, &records(), Transport::Udp), Response::Drop);
        // Malformed with a header: FORMERR, same ID.
        let mut p = query("web", TYPE_A, None);
        p.push(0);
        let r = reply(&p, Transport::Udp);
        assert_eq!((r.header.id, r.header.rcode), (77, RCODE_FORMERR));
        assert!(r.questions.is_empty());
        // Opcode NOTIFY: NOTIMP.
        let mut p = query("web", TYPE_A, None);
        p[2] |= 4 << 3;
        let r = reply(&p, Transport::Udp);
        assert_eq!((r.header.opcode, r.header.rcode), (4, RCODE_NOTIMP));
        // No question.
        let r = reply(&[0, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], Transport::Udp);
        assert_eq!(r.header.rcode, RCODE_FORMERR);
        // EDNS version 1: BADVERS.
        let mut m = Message::parse(&query("web", TYPE_A, Some(1232))).unwrap();
        m.additional[0].ttl = 1 << 16;
        let r = reply(&m.encode(512), Transport::Udp);
        assert_eq!(r.header.rcode, 0);
        assert_eq!(r.opt().unwrap().ttl >> 24, 1);
    }

    #[test]
    fn resolv_conf() {
        let dir = std::env::temp_dir().join(format!("berth-dns-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("resolv.conf");
        std::fs::write(
            &p,
            "# comment\nsearch example.com\nnameserver 127.0.0.53\nnameserver  1.1.1.1 # x\n\
             nameserver 1.1.1.1\nnameserver ::1\nnameserver fe80::1%eth0\nnameserver 0.0.0.0\n\
             nameserver 8.8.8.8\nnameserver 9.9.9.9\n",
        )
        .unwrap();
        assert_eq!(
            upstreams_from_resolv_conf(&p),
            ["127.0.0.53:53", "1.1.1.1:53", "[::1]:53"].map(|s| s.parse::<SocketAddr>().unwrap())
        );
        assert!(upstreams_from_resolv_conf(&dir.join("missing")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn arb_query() -> impl Strategy<Value = Message> {
        (
            any::<u16>(),
            any::<bool>(),
            prop::collection::vec("[a-zA-Z0-9-]{1,20}", 1..4),
            prop_oneof![
                Just(TYPE_A),
                Just(TYPE_AAAA),
                Just(TYPE_PTR),
                Just(TYPE_ANY),
                any::<u16>()
            ],
            prop_oneof![Just(CLASS_IN), any::<u16>()],
            prop::option::of(any::<u16>()),
            prop::sample::select(vec![
                "web",
                "many",
                "gone.internal",
                "2.0.67.10.in-addr.arpa",
            ]),
            any::<bool>(),
        )
            .prop_map(|(id, rd, labels, qtype, qclass, edns, known, use_known)| {
                let name = if use_known {
                    Name::from_dotted(known).unwrap()
                } else {
                    Name::from_labels(labels).unwrap()
                };
                Message {
                    header: Header {
                        id,
                        rd,
                        ..Header::default()
                    },
                    questions: vec![Question {
                        name,
                        qtype,
                        qclass,
                    }],
                    additional: edns.map(|s| Record::opt(s, 0)).into_iter().collect(),
                    ..Message::default()
                }
            })
    }

    proptest! {
        #[test]
        fn answers_to_queries_are_well_formed(q in arb_query(), tcp in any::<bool>()) {
            let t = if tcp { Transport::Tcp } else { Transport::Udp };
            let packet = q.encode(512);
            match respond(&packet, GW, &records(), t) {
                Response::Reply(r) => {
                    let limit = match (t, q.opt()) {
                        (Transport::Tcp, _) => 65535,
                        (Transport::Udp, None) => 512,
                        (Transport::Udp, Some(o)) => usize::from(o.class).clamp(512, MAX_UDP_PAYLOAD),
                    };
                    prop_assert!(r.len() <= limit);
                    let m = Message::parse(&r).unwrap();
                    prop_assert_eq!(m.header.id, q.header.id);
                    prop_assert!(m.header.qr);
                    prop_assert_eq!(m.header.rd, q.header.rd);
                    prop_assert_eq!(&m.questions, &q.questions);
                    prop_assert_eq!(m.opt().is_some(), q.opt().is_some());
                    for a in &m.answers {
                        prop_assert!(a.name.eq_ignore_case(&q.questions[0].name));
                    }
                }
                Response::Forward(f) => {
                    prop_assert_eq!(f.packet, packet);
                    prop_assert_eq!(f.query, q);
                }
                Response::Drop => prop_assert!(false, "a query was dropped"),
            }
        }

        #[test]
        fn respond_to_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Response::Reply(r) = respond(&bytes, GW, &records(), Transport::Udp) {
                let m = Message::parse(&r).unwrap();
                prop_assert_eq!(Some(m.header.id), Header::parse(&bytes).map(|h| h.id));
                prop_assert!(r.len() <= 512.max(bytes.len()));
            }
        }
    }
}
