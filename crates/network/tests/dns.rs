//! The name server over real sockets, on loopback only: a server on 127.0.0.1 and 127.0.0.2
//! (two networks), a fake upstream on 127.0.0.3. Nothing is ever sent anywhere else.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use berth_network::dns::message::*;
use berth_network::dns::{Lookup, Records, Server};

const NET1: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const NET2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const UPSTREAM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const UPSTREAM_ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// Names per network (keyed by the server address), lowercase.
struct Networks(HashMap<Ipv4Addr, HashMap<String, Vec<Ipv4Addr>>>);

impl Records for Networks {
    fn lookup(&self, server: Ipv4Addr, name: &str) -> Lookup {
        match self.0.get(&server).and_then(|n| n.get(name)) {
            Some(ips) => Lookup::Found(ips.clone()),
            None => Lookup::NotOurs,
        }
    }
    fn reverse(&self, server: Ipv4Addr, ip: Ipv4Addr) -> Option<String> {
        let mut names: Vec<&String> = self
            .0
            .get(&server)?
            .iter()
            .filter(|(_, ips)| ips.contains(&ip))
            .map(|(n, _)| n)
            .collect();
        names.sort();
        names.first().map(|n| n.to_string())
    }
}

fn networks() -> Networks {
    let web = vec![Ipv4Addr::new(10, 67, 0, 2)];
    let mut net1 = HashMap::new();
    net1.insert("web".to_string(), web.clone());
    net1.insert("frontend".to_string(), web); // an alias
    net1.insert(
        "many".to_string(),
        (0..100).map(|i| Ipv4Addr::new(10, 67, 1, i)).collect(),
    );
    let mut net2 = HashMap::new();
    net2.insert("db".to_string(), vec![Ipv4Addr::new(10, 68, 0, 3)]);
    let mut m = HashMap::new();
    m.insert(NET1, net1);
    m.insert(NET2, net2);
    Networks(m)
}

/// A server running `serve_once` in a loop on its own thread.
struct Running {
    server: Arc<Mutex<Server>>,
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    fn start(addrs: &[Ipv4Addr], upstreams: Vec<SocketAddr>) -> Running {
        let mut server = Server::bind(addrs, 0).unwrap();
        server.set_upstreams(upstreams);
        server.set_forward_timeout(Duration::from_millis(300));
        let port = server.port();
        assert_ne!(port, 0);
        let server = Arc::new(Mutex::new(server));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (server.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let records = networks();
            while !st.load(Ordering::Relaxed) {
                s.lock()
                    .unwrap()
                    .serve_once(&records, Duration::from_millis(20))
                    .unwrap();
            }
        });
        Running {
            server,
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn at(&self, ip: Ipv4Addr) -> SocketAddr {
        (ip, self.port).into()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A fake upstream: `example.com` is 192.0.2.1, `slow.example` never answers, the rest is
/// NXDOMAIN. It records the IDs it saw.
struct Upstream {
    addr: SocketAddr,
    ids: Arc<Mutex<Vec<u16>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    fn start() -> Upstream {
        let sock = UdpSocket::bind((UPSTREAM, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let ids = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (i, st) = (ids.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !st.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let q = Message::parse(&buf[..n]).unwrap();
                i.lock().unwrap().push(q.header.id);
                let name = q.questions[0]
                    .name
                    .to_lowercase_dotted()
                    .unwrap_or_default();
                let mut r = q.clone();
                r.header.qr = true;
                r.header.ra = true;
                r.additional.clear();
                match name.as_str() {
                    "slow.example" => continue,
                    "example.com" => {
                        r.answers
                            .push(Record::a(q.questions[0].name.clone(), 300, UPSTREAM_ANSWER))
                    }
                    "big.example" => {
                        for j in 0..100 {
                            r.answers.push(Record::a(
                                q.questions[0].name.clone(),
                                300,
                                Ipv4Addr::new(192, 0, 2, j),
                            ))
                        }
                    }
                    _ => r.header.rcode = RCODE_NXDOMAIN,
                }
                sock.send_to(&r.encode(65535), from).unwrap();
            }
        });
        Upstream {
            addr,
            ids,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    Message {
        header: Header {
            id,
            rd: true,
            ..Header::default()
        },
        questions: vec![Question {
            name: Name::from_dotted(name).unwrap(),
            qtype,
            qclass: CLASS_IN,
        }],
        ..Message::default()
    }
    .encode(512)
}

/// One UDP exchange, resent every half second like a resolver does (UDP may be dropped on
/// a busy machine), for up to 4 seconds.
fn udp_raw(to: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 65535];
    for _ in 0..8 {
        s.send_to(packet, to).unwrap();
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            assert_eq!(from, to, "the reply comes from the address asked");
            return Some(buf[..n].to_vec());
        }
    }
    None
}

fn udp(to: SocketAddr, id: u16, name: &str, qtype: u16) -> Message {
    let r = udp_raw(to, &query(id, name, qtype)).expect("no reply");
    assert!(r.len() <= 512);
    let m = Message::parse(&r).unwrap();
    assert_eq!(m.header.id, id);
    assert!(m.header.qr);
    assert_eq!(
        m.questions,
        Message::parse(&query(id, name, qtype)).unwrap().questions
    );
    m
}

fn a_records(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match r.data {
            RData::A(ip) => Some(ip),
            _ => None,
        })
        .collect()
}

fn tcp_exchange(s: &mut TcpStream, packet: &[u8]) -> Message {
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    s.write_all(&framed).unwrap();
    tcp_read(s)
}

fn tcp_read(s: &mut TcpStream) -> Message {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).unwrap();
    Message::parse(&buf).unwrap()
}

#[test]
fn a_lookups_answer_each_network_only_its_own_containers() {
    let up = Upstream::start();
    let srv = Running::start(&[NET1, NET2], vec![up.addr]);
    let r = udp(srv.at(NET1), 1, "web", TYPE_A);
    assert!(r.header.aa && r.header.ra && r.header.rd);
    assert_eq!(r.header.rcode, RCODE_NOERROR);
    assert_eq!(a_records(&r), [Ipv4Addr::new(10, 67, 0, 2)]);
    assert_eq!(r.answers[0].ttl, 60);
    let r = udp(srv.at(NET2), 2, "db", TYPE_A);
    assert_eq!(a_records(&r), [Ipv4Addr::new(10, 68, 0, 3)]);
    // db is on the other network: forwarded, and upstream does not know it.
    let r = udp(srv.at(NET1), 3, "db", TYPE_A);
    assert_eq!(r.header.rcode, RCODE_NXDOMAIN);
    assert!(!r.header.aa);
    let r = udp(srv.at(NET2), 4, "web", TYPE_A);
    assert_eq!(r.header.rcode, RCODE_NXDOMAIN);
    assert_eq!(up.ids.lock().unwrap().len(), 2);
}

#[test]
fn names_are_case_insensitive_with_or_without_the_dot_and_aliases_resolve() {
    let srv = Running::start(&[NET1], vec![]);
    for name in ["WEB", "Web.", "web.", "FrontEnd", "frontend."] {
        let r = udp(srv.at(NET1), 7, name, TYPE_A);
        assert_eq!(a_records(&r), [Ipv4Addr::new(10, 67, 0, 2)], "{name}");
        // The answer carries the name as asked.
        assert_eq!(r.answers[0].name, r.questions[0].name);
    }
}

#[test]
fn aaaa_of_a_container_is_noerror_and_empty() {
    let srv = Running::start(&[NET1], vec![]);
    let r = udp(srv.at(NET1), 9, "web", TYPE_AAAA);
    assert_eq!(r.header.rcode, RCODE_NOERROR);
    assert!(r.header.aa);
    assert!(r.answers.is_empty());
}

#[test]
fn ptr_of_a_container_address() {
    let up = Upstream::start();
    let srv = Running::start(&[NET1, NET2], vec![up.addr]);
    let r = udp(srv.at(NET1), 10, "2.0.67.10.in-addr.arpa", TYPE_PTR);
    assert!(r.header.aa);
    // Two names (web and its alias): the first, sorted.
    assert_eq!(
        r.answers[0].data,
        RData::Ptr(Name::from_dotted("frontend").unwrap())
    );
    // Not an address of NET2's network: forwarded.
    let r = udp(srv.at(NET2), 11, "2.0.67.10.in-addr.arpa", TYPE_PTR);
    assert_eq!(r.header.rcode, RCODE_NXDOMAIN);
    assert_eq!(up.ids.lock().unwrap().len(), 1);
}

#[test]
fn other_names_are_forwarded_with_the_clients_id() {
    let up = Upstream::start();
    let srv = Running::start(&[NET1, NET2], vec![up.addr]);
    let ids = [0xbeef, 0x0001, 0xffff, 0x1234, 0x4321];
    for id in ids {
        let r = udp(srv.at(NET2), id, "Example.COM", TYPE_A);
        assert_eq!(r.header.rcode, RCODE_NOERROR);
        assert!(!r.header.aa);
        assert_eq!(a_records(&r), [UPSTREAM_ANSWER]);
    }
    let seen = up.ids.lock().unwrap().clone();
    assert_eq!(seen.len(), ids.len());
    assert_ne!(seen, ids, "upstream saw the clients' own IDs");
    assert_eq!(srv.server.lock().unwrap().pending(), 0);
}

#[test]
fn a_reply_too_big_for_udp_is_truncated_and_complete_over_tcp() {
    let up = Upstream::start();
    let srv = Running::start(&[NET1], vec![up.addr]);
    for name in ["many", "big.example"] {
        let r = udp(srv.at(NET1), 12, name, TYPE_A);
        assert!(r.header.tc, "{name}");
        let mut s = TcpStream::connect(srv.at(NET1)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let r = tcp_exchange(&mut s, &query(13, name, TYPE_A));
        assert!(!r.header.tc, "{name}");
        assert_eq!(r.header.id, 13);
        assert_eq!(a_records(&r).len(), 100, "{name}");
    }
}

#[test]
fn upstream_timeout_and_no_upstream_are_servfail() {
    let up = Upstream::start();
    let srv = Running::start(&[NET1], vec![up.addr]);
    let t = Instant::now();
    let r = udp(srv.at(NET1), 20, "slow.example", TYPE_A);
    assert_eq!(r.header.rcode, RCODE_SERVFAIL);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(srv.server.lock().unwrap().pending(), 0);

    let none = Running::start(&[NET1], vec![]);
    let r = udp(none.at(NET1), 21, "example.com", TYPE_A);
    assert_eq!(r.header.rcode, RCODE_SERVFAIL);
    // Two upstreams: the silent one times out, the next answers.
    let silent = UdpSocket::bind((UPSTREAM, 0)).unwrap();
    let two = Running::start(&[NET1], vec![silent.local_addr().unwrap(), up.addr]);
    let r = udp(two.at(NET1), 22, "example.com", TYPE_A);
    assert_eq!(a_records(&r), [UPSTREAM_ANSWER]);
}

#[test]
fn the_server_is_never_its_own_upstream() {
    let mut server = Server::bind(&[NET1], 0).unwrap();
    let port = server.port();
    server.set_upstreams(vec![(NET1, port).into()]);
    let srv_addr: SocketAddr = (NET1, port).into();
    let records = networks();
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    client
        .send_to(&query(30, "example.com", TYPE_A), srv_addr)
        .unwrap();
    for _ in 0..5 {
        server
            .serve_once(&records, Duration::from_millis(20))
            .unwrap();
    }
    client
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = client.recv(&mut buf).unwrap();
    let r = Message::parse(&buf[..n]).unwrap();
    assert_eq!(r.header.rcode, RCODE_SERVFAIL);
    assert_eq!(server.pending(), 0);
}

#[test]
fn tcp_queries_one_or_several_per_connection() {
    let up = Upstream::start();
    let srv = Running::start(&[NET1, NET2], vec![up.addr]);
    let mut s = TcpStream::connect(srv.at(NET2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let r = tcp_exchange(&mut s, &query(40, "DB", TYPE_A));
    assert_eq!(a_records(&r), [Ipv4Addr::new(10, 68, 0, 3)]);
    let r = tcp_exchange(&mut s, &query(41, "example.com", TYPE_A));
    assert_eq!((r.header.id, a_records(&r)), (41, vec![UPSTREAM_ANSWER]));
    // Two queries in one write, the first forwarded: both answered, in any order.
    let mut both = Vec::new();
    for q in [query(42, "example.com", TYPE_A), query(43, "db", TYPE_A)] {
        both.extend_from_slice(&(q.len() as u16).to_be_bytes());
        both.extend_from_slice(&q);
    }
    s.write_all(&both).unwrap();
    let mut ids = [tcp_read(&mut s).header.id, tcp_read(&mut s).header.id];
    ids.sort();
    assert_eq!(ids, [42, 43]);
    // Bytes dribbled in.
    let q = query(44, "web", TYPE_A);
    let mut s = TcpStream::connect(srv.at(NET1)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(&[0]).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    s.write_all(&[q.len() as u8]).unwrap();
    s.write_all(&q[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    s.write_all(&q[5..]).unwrap();
    assert_eq!(tcp_read(&mut s).header.id, 44);
    // A client that half-closes after its query still gets the (late) answer.
    let mut s = TcpStream::connect(srv.at(NET1)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let q = query(45, "slow.example", TYPE_A);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let r = tcp_read(&mut s);
    assert_eq!((r.header.id, r.header.rcode), (45, RCODE_SERVFAIL));
    assert_eq!(
        s.read(&mut [0u8; 16]).unwrap(),
        0,
        "closed after the answer"
    );
    // One that goes away before its answer does not disturb the others.
    let mut s = TcpStream::connect(srv.at(NET1)).unwrap();
    s.write_all(&framed).unwrap();
    drop(s);
    let r = udp(srv.at(NET1), 46, "web", TYPE_A);
    assert_eq!(r.answers.len(), 1);
}

#[test]
fn garbage_does_not_stop_the_server() {
    let up = Upstream::start();
    let srv = Running::start(&[NET1], vec![up.addr]);
    let to = srv.at(NET1);
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut seed = 0x1234_5678u32;
    for i in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let len = (seed % 600) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|j| (seed >> (j % 24)) as u8 ^ j as u8)
            .collect();
        sock.send_to(&bytes, to).unwrap();
        if i % 50 == 0 {
            sock.send_to(&[], to).unwrap();
            sock.send_to(&[1, 2, 3], to).unwrap();
        }
    }
    // A compression loop, a response, a query with trailing bytes.
    let looped = vec![0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
    let r = Message::parse(&udp_raw(to, &looped).unwrap()).unwrap();
    assert_eq!((r.header.id, r.header.rcode), (5, RCODE_FORMERR));
    let mut response = query(6, "web", TYPE_A);
    response[2] |= 0x80;
    sock.send_to(&response, to).unwrap();
    let mut trailing = query(7, "web", TYPE_A);
    trailing.extend_from_slice(b"junk");
    let r = Message::parse(&udp_raw(to, &trailing).unwrap()).unwrap();
    assert_eq!((r.header.id, r.header.rcode), (7, RCODE_FORMERR));
    // A TCP connection that sends a bad length and one that sends nothing.
    let mut bad = TcpStream::connect(to).unwrap();
    bad.write_all(&[0, 3, 1, 2, 3]).unwrap();
    let _idle = TcpStream::connect(to).unwrap();
    // Still serving.
    let r = udp(to, 8, "web", TYPE_A);
    assert_eq!(a_records(&r), [Ipv4Addr::new(10, 67, 0, 2)]);
    let r = udp(to, 9, "example.com", TYPE_A);
    assert_eq!(a_records(&r), [UPSTREAM_ANSWER]);
}

#[test]
fn many_concurrent_queries() {
    let up = Upstream::start();
    let srv = Running::start(&[NET1, NET2], vec![up.addr]);
    let (a1, a2) = (srv.at(NET1), srv.at(NET2));
    let threads: Vec<_> = (0..4u16)
        .map(|t| {
            std::thread::spawn(move || {
                let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                // 100 queries, 25 at a time, each resent after half a second without a
                // reply (as resolvers do), 8 times at most.
                let mut buf = [0u8; 512];
                for batch in 0..4u16 {
                    let mut sent = HashMap::new();
                    for i in batch * 25..batch * 25 + 25 {
                        let id = t * 1000 + i;
                        let (to, name) = match i % 3 {
                            0 => (a1, "web"),
                            1 => (a2, "db"),
                            _ => (a1, "example.com"),
                        };
                        sent.insert(id, (to, name));
                    }
                    let mut tries = 0;
                    while !sent.is_empty() {
                        tries += 1;
                        assert!(tries <= 8, "queries went unanswered: {sent:?}");
                        for (id, (to, name)) in &sent {
                            s.send_to(&query(*id, name, TYPE_A), to).unwrap();
                        }
                        while let Ok(n) = s.recv(&mut buf) {
                            let r = Message::parse(&buf[..n]).unwrap();
                            // A late reply to a resent query may come twice.
                            let Some((_, name)) = sent.remove(&r.header.id) else {
                                assert!(r.header.id / 1000 == t, "an unknown ID");
                                continue;
                            };
                            let want = match name {
                                "web" => Ipv4Addr::new(10, 67, 0, 2),
                                "db" => Ipv4Addr::new(10, 68, 0, 3),
                                _ => UPSTREAM_ANSWER,
                            };
                            assert_eq!(a_records(&r), [want]);
                            if sent.is_empty() {
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let tcp: Vec<_> = (0..8u16)
        .map(|t| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(a1).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                for i in 0..10 {
                    let r = tcp_exchange(&mut s, &query(t * 100 + i, "web", TYPE_A));
                    assert_eq!(r.header.id, t * 100 + i);
                }
            })
        })
        .collect();
    for t in threads.into_iter().chain(tcp) {
        t.join().unwrap();
    }
}

#[test]
fn addresses_come_and_go_while_running() {
    let srv = Running::start(&[NET1], vec![]);
    let net4 = Ipv4Addr::new(127, 0, 0, 4);
    srv.server
        .lock()
        .unwrap()
        .set_addresses(&[NET1, NET2, net4])
        .unwrap();
    let r = udp(srv.at(NET2), 50, "db", TYPE_A);
    assert_eq!(a_records(&r), [Ipv4Addr::new(10, 68, 0, 3)]);
    // net4 has no records: forwarded, and there is no upstream.
    assert_eq!(
        udp(srv.at(net4), 51, "db", TYPE_A).header.rcode,
        RCODE_SERVFAIL
    );
    srv.server.lock().unwrap().set_addresses(&[NET1]).unwrap();
    assert_eq!(srv.server.lock().unwrap().addresses(), [NET1]);
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.send_to(&query(52, "db", TYPE_A), srv.at(NET2)).unwrap();
    assert!(
        s.recv(&mut [0u8; 512]).is_err(),
        "answered on a removed address"
    );
    assert!(TcpStream::connect(srv.at(NET2)).is_err());
    assert_eq!(udp(srv.at(NET1), 53, "web", TYPE_A).answers.len(), 1);
}

#[test]
fn bind_errors_name_the_address() {
    let first = Server::bind(&[NET1], 0).unwrap();
    let port = first.port();
    let err = Server::bind(&[NET2, NET1], port).err().unwrap();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "binding the name server to 127.0.0.1:{port} (udp): "
        )),
        "{msg}"
    );
    // All or nothing: NET2 was bound and released again.
    let mut first = first;
    assert!(first.set_addresses(&[NET1, NET2]).is_ok());
}

#[test]
fn busybox_nslookup() {
    if !std::path::Path::new("/bin/busybox").exists() {
        eprintln!("no /bin/busybox: skipped");
        return;
    }
    let up = Upstream::start();
    let srv = Running::start(&[NET1], vec![up.addr]);
    let out = std::process::Command::new("/bin/busybox")
        .args(["nslookup", "web", &format!("127.0.0.1:{}", srv.port)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Address: 10.67.0.2"), "{stdout}");
    let out = std::process::Command::new("/bin/busybox")
        .args(["nslookup", "10.67.0.2", &format!("127.0.0.1:{}", srv.port)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("name = frontend"), "{stdout}");
}
