//! The sockets: one UDP socket and one TCP listener per served address, the TCP
//! connections being served, and the queries forwarded upstream.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::message::{parse_questions, Message, HEADER_LEN, RCODE_SERVFAIL};
use super::{error_reply, respond, Forward, Records, Response, Transport};
use crate::{NetworkError, Result};

/// Queries waiting for an upstream at once; more get SERVFAIL at once.
pub const MAX_PENDING: usize = 256;
/// TCP connections served at once; a new one closes the oldest.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a TCP connection may sit idle.
pub const TCP_IDLE: Duration = Duration::from_secs(5);
/// How long an upstream has to answer before the next is asked (or SERVFAIL sent).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);
/// Packets read from one socket per call, so one busy network cannot starve the others.
const BATCH: usize = 64;
/// Replies queued for a TCP client that does not read them; past this it is dropped.
const MAX_TCP_OUT: usize = 256 * 1024;

struct Endpoint {
    addr: Ipv4Addr,
    udp: UdpSocket,
    tcp: TcpListener,
}

struct Conn {
    token: u64,
    local: Ipv4Addr,
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    deadline: Instant,
    eof: bool,
    broken: bool,
}

#[derive(Clone, Copy)]
enum Client {
    Udp { local: Ipv4Addr, peer: SocketAddr },
    Tcp { token: u64 },
}

struct Pending {
    client: Client,
    original_id: [u8; 2],
    query: Message,
    /// The query with our ID.
    packet: Vec<u8>,
    limit: usize,
    upstreams: Vec<SocketAddr>,
    next: usize,
    current: SocketAddr,
    deadline: Instant,
}

#[derive(Clone, Copy)]
enum Slot {
    Udp(usize),
    Listener(usize),
    Forward(usize),
    Conn(u64),
}

/// The name server. See the [module documentation](super).
pub struct Server {
    port: u16,
    endpoints: Vec<Endpoint>,
    conns: Vec<Conn>,
    next_token: u64,
    pending: HashMap<u16, Pending>,
    upstreams: Vec<SocketAddr>,
    forward_timeout: Duration,
    /// Forwarding sockets, IPv4 and IPv6, made when first needed.
    forwarders: [Option<UdpSocket>; 2],
    /// Their ports, to recognise our own queries should they come back to us.
    forwarder_ports: [u16; 2],
    random: Random,
    buf: Vec<u8>,
}

impl Server {
    /// Serves `addrs` on `port` (UDP and TCP). Port 0 picks one free port for all of them
    /// (see [`Server::port`]).
    pub fn bind(addrs: &[Ipv4Addr], port: u16) -> Result<Server> {
        let mut server = Server {
            port,
            endpoints: Vec::new(),
            conns: Vec::new(),
            next_token: 0,
            pending: HashMap::new(),
            upstreams: Vec::new(),
            forward_timeout: FORWARD_TIMEOUT,
            forwarders: [None, None],
            forwarder_ports: [0; 2],
            random: Random::default(),
            buf: vec![0; usize::from(u16::MAX)],
        };
        server.set_addresses(addrs)?;
        Ok(server)
    }

    /// The port served (the one picked, if 0 was asked and an address is served).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The addresses served.
    pub fn addresses(&self) -> Vec<Ipv4Addr> {
        self.endpoints.iter().map(|e| e.addr).collect()
    }

    /// Serves exactly `addrs` from now on: binds the new ones (all or none: on an error
    /// nothing changes), closes the sockets and connections of the others.
    pub fn set_addresses(&mut self, addrs: &[Ipv4Addr]) -> Result<()> {
        let mut wanted: Vec<Ipv4Addr> = Vec::new();
        for &a in addrs {
            if !wanted.contains(&a) {
                wanted.push(a);
            }
        }
        let missing: Vec<Ipv4Addr> = wanted
            .iter()
            .copied()
            .filter(|a| !self.endpoints.iter().any(|e| e.addr == *a))
            .collect();
        let fresh = if self.port == 0 && !missing.is_empty() {
            // One port for every address and both protocols: the first UDP socket picks
            // it, and a clash on the others means trying again.
            let mut attempt = 0;
            loop {
                attempt += 1;
                let first = bind_udp(missing[0], 0)?;
                let port = first.local_addr().map(|a| a.port()).unwrap_or(0);
                match bind_all(&missing, port, Some(first)) {
                    Ok(e) => {
                        self.port = port;
                        break e;
                    }
                    Err(NetworkError::DnsBind { source, .. })
                        if source.kind() == io::ErrorKind::AddrInUse && attempt < 16 => {}
                    Err(e) => return Err(e),
                }
            }
        } else {
            bind_all(&missing, self.port, None)?
        };
        self.endpoints.retain(|e| wanted.contains(&e.addr));
        self.endpoints.extend(fresh);
        self.conns.retain(|c| wanted.contains(&c.local));
        Ok(())
    }

    /// The servers to forward to, in order of preference. Any that is this server itself
    /// (one of its addresses on its port) is skipped when forwarding.
    pub fn set_upstreams(&mut self, upstreams: Vec<SocketAddr>) {
        self.upstreams = upstreams;
    }

    /// How long each upstream has to answer ([`FORWARD_TIMEOUT`] unless set).
    pub fn set_forward_timeout(&mut self, timeout: Duration) {
        self.forward_timeout = timeout;
    }

    /// Queries waiting for an upstream.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Waits up to `timeout` for packets or connections, then handles everything ready:
    /// answers, forwards, relays upstream replies, and sends SERVFAIL for forwarded queries
    /// whose upstreams did not answer in time. Returns early (`Ok`) on a signal.
    pub fn serve_once(&mut self, records: &dyn Records, timeout: Duration) -> Result<()> {
        let now = Instant::now();
        let mut wait = timeout;
        for d in self
            .pending
            .values()
            .map(|p| p.deadline)
            .chain(self.conns.iter().map(|c| c.deadline))
        {
            wait = wait.min(d.saturating_duration_since(now));
        }
        let ready = self.poll(wait)?;
        for (slot, events) in ready {
            match slot {
                Slot::Udp(i) => self.read_udp(i, records),
                Slot::Listener(i) => self.accept(i),
                Slot::Forward(i) => self.read_upstream(i),
                Slot::Conn(token) => self.serve_conn(token, events, records),
            }
        }
        self.expire(Instant::now());
        Ok(())
    }

    fn poll(&self, wait: Duration) -> Result<Vec<(Slot, PollFlags)>> {
        let mut slots = Vec::new();
        let mut fds = Vec::new();
        let input = PollFlags::POLLIN;
        for (i, e) in self.endpoints.iter().enumerate() {
            slots.push(Slot::Udp(i));
            fds.push(PollFd::new(e.udp.as_fd(), input));
            slots.push(Slot::Listener(i));
            fds.push(PollFd::new(e.tcp.as_fd(), input));
        }
        for (i, f) in self.forwarders.iter().enumerate() {
            if let Some(f) = f {
                slots.push(Slot::Forward(i));
                fds.push(PollFd::new(f.as_fd(), input));
            }
        }
        for c in &self.conns {
            let mut flags = PollFlags::empty();
            if !c.eof {
                flags |= input;
            }
            if !c.output.is_empty() {
                flags |= PollFlags::POLLOUT;
            }
            slots.push(Slot::Conn(c.token));
            fds.push(PollFd::new(c.stream.as_fd(), flags));
        }
        // Rounded up, so a deadline 0.4 ms away is not polled for with 0 ms in a loop.
        let ms = wait.as_micros().div_ceil(1000).min(60_000) as u16;
        match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(Vec::new()),
            Err(e) => return Err(NetworkError::DnsPoll(io::Error::from(e))),
        }
        Ok(slots
            .into_iter()
            .zip(&fds)
            .filter_map(|(s, fd)| fd.revents().filter(|r| !r.is_empty()).map(|r| (s, r)))
            .collect())
    }

    fn read_udp(&mut self, i: usize, records: &dyn Records) {
        let mut buf = std::mem::take(&mut self.buf);
        for _ in 0..BATCH {
            let Some(e) = self.endpoints.get(i) else {
                break;
            };
            let local = e.addr;
            let (n, peer) = match e.udp.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            };
            if self.is_our_forwarder(peer) {
                // Our own forwarded query come back: an upstream that is us. Never loop.
                continue;
            }
            match respond(&buf[..n], local, records, Transport::Udp) {
                Response::Reply(r) => {
                    let _ = self.endpoints[i].udp.send_to(&r, peer);
                }
                Response::Forward(f) => self.forward(f, Client::Udp { local, peer }),
                Response::Drop => {}
            }
        }
        self.buf = buf;
    }

    fn is_our_forwarder(&self, peer: SocketAddr) -> bool {
        let local = peer.ip().is_loopback()
            || self
                .endpoints
                .iter()
                .any(|e| IpAddr::V4(e.addr) == peer.ip());
        local && self.forwarder_ports.contains(&peer.port())
    }

    fn accept(&mut self, i: usize) {
        for _ in 0..MAX_CONNECTIONS {
            let Some(e) = self.endpoints.get(i) else {
                return;
            };
            let local = e.addr;
            let stream = match e.tcp.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            if self.conns.len() >= MAX_CONNECTIONS {
                let oldest = (0..self.conns.len()).min_by_key(|&i| self.conns[i].deadline);
                if let Some(o) = oldest {
                    self.conns.swap_remove(o);
                }
            }
            self.next_token += 1;
            self.conns.push(Conn {
                token: self.next_token,
                local,
                stream,
                input: Vec::new(),
                output: Vec::new(),
                deadline: Instant::now() + TCP_IDLE,
                eof: false,
                broken: false,
            });
        }
    }

    fn serve_conn(&mut self, token: u64, events: PollFlags, records: &dyn Records) {
        let Some(i) = self.conns.iter().position(|c| c.token == token) else {
            return;
        };
        let mut messages = Vec::new();
        {
            let c = &mut self.conns[i];
            if events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                // Reset or closed both ways: no reply can reach the client.
                c.broken = true;
            }
            let mut chunk = [0u8; 4096];
            // Read what is there, but at most 64 KiB per call, so a client that keeps
            // writing cannot keep the server to itself.
            let mut budget = usize::from(u16::MAX);
            while !c.eof && !c.broken && budget > 0 {
                match c.stream.read(&mut chunk) {
                    Ok(0) => c.eof = true,
                    Ok(n) => {
                        budget = budget.saturating_sub(n);
                        c.input.extend_from_slice(&chunk[..n]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => c.broken = true,
                }
                // Messages are taken out as soon as they are whole, so input stays bounded.
                while c.input.len() >= 2 {
                    let len = usize::from(u16::from_be_bytes([c.input[0], c.input[1]]));
                    if len < HEADER_LEN {
                        c.broken = true;
                        break;
                    }
                    if c.input.len() < 2 + len {
                        break;
                    }
                    messages.push(c.input[2..2 + len].to_vec());
                    c.input.drain(..2 + len);
                    c.deadline = Instant::now() + TCP_IDLE;
                }
            }
        }
        let local = self.conns[i].local;
        for m in messages {
            match respond(&m, local, records, Transport::Tcp) {
                Response::Reply(r) => self.deliver(Client::Tcp { token }, &r),
                Response::Forward(f) => self.forward(f, Client::Tcp { token }),
                Response::Drop => {}
            }
        }
        self.flush(token);
    }

    /// Writes what a connection has queued, as far as it goes without blocking, and closes
    /// it if it is done or broken.
    fn flush(&mut self, token: u64) {
        let Some(i) = self.conns.iter().position(|c| c.token == token) else {
            return;
        };
        let c = &mut self.conns[i];
        while !c.output.is_empty() && !c.broken {
            match c.stream.write(&c.output) {
                Ok(0) => c.broken = true,
                Ok(n) => {
                    c.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => c.broken = true,
            }
        }
        let waiting = self
            .pending
            .values()
            .any(|p| matches!(p.client, Client::Tcp { token: t } if t == token));
        let c = &self.conns[i];
        if c.broken || c.output.len() > MAX_TCP_OUT || (c.eof && c.output.is_empty() && !waiting) {
            self.conns.swap_remove(i);
        }
    }

    fn deliver(&mut self, client: Client, reply: &[u8]) {
        match client {
            Client::Udp { local, peer } => {
                if let Some(e) = self.endpoints.iter().find(|e| e.addr == local) {
                    let _ = e.udp.send_to(reply, peer);
                }
            }
            Client::Tcp { token } => {
                if let Some(c) = self.conns.iter_mut().find(|c| c.token == token) {
                    let len = u16::try_from(reply.len()).unwrap_or(u16::MAX);
                    c.output.extend_from_slice(&len.to_be_bytes());
                    c.output.extend_from_slice(&reply[..usize::from(len)]);
                    c.deadline = Instant::now() + TCP_IDLE;
                }
                self.flush(token);
            }
        }
    }

    fn forward(&mut self, f: Forward, client: Client) {
        let upstreams: Vec<SocketAddr> = self
            .upstreams
            .iter()
            .copied()
            .filter(|u| !u.ip().is_unspecified() && u.port() != 0)
            .filter(|u| {
                !(u.port() == self.port
                    && self.endpoints.iter().any(|e| IpAddr::V4(e.addr) == u.ip()))
            })
            .collect();
        if upstreams.is_empty() || self.pending.len() >= MAX_PENDING {
            return self.deliver(client, &error_reply(&f.query, RCODE_SERVFAIL, f.limit));
        }
        let id = loop {
            let id = self.random.u16();
            if !self.pending.contains_key(&id) {
                break id;
            }
        };
        let mut packet = f.packet;
        let original_id = [packet[0], packet[1]];
        packet[..2].copy_from_slice(&id.to_be_bytes());
        let mut p = Pending {
            client,
            original_id,
            query: f.query,
            packet,
            limit: f.limit,
            current: upstreams[0],
            upstreams,
            next: 0,
            deadline: Instant::now(),
        };
        if self.send_next(&mut p) {
            self.pending.insert(id, p);
        } else {
            self.deliver(client, &error_reply(&p.query, RCODE_SERVFAIL, p.limit));
        }
    }

    /// Sends a forwarded query to its next upstream; false when none is left.
    fn send_next(&mut self, p: &mut Pending) -> bool {
        while p.next < p.upstreams.len() {
            let up = p.upstreams[p.next];
            p.next += 1;
            let family = usize::from(up.is_ipv6());
            if self.forwarders[family].is_none() {
                let any: SocketAddr = if up.is_ipv6() {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                } else {
                    (Ipv4Addr::UNSPECIFIED, 0).into()
                };
                let Ok(s) = UdpSocket::bind(any) else {
                    continue;
                };
                if s.set_nonblocking(true).is_err() {
                    continue;
                }
                self.forwarder_ports[family] = s.local_addr().map(|a| a.port()).unwrap_or(0);
                self.forwarders[family] = Some(s);
            }
            let Some(s) = &self.forwarders[family] else {
                continue;
            };
            if s.send_to(&p.packet, up).is_ok() {
                p.current = up;
                p.deadline = Instant::now() + self.forward_timeout;
                return true;
            }
        }
        false
    }

    fn read_upstream(&mut self, family: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        for _ in 0..BATCH {
            let Some(s) = &self.forwarders[family] else {
                break;
            };
            let (n, from) = match s.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            };
            let reply = &mut buf[..n];
            let Ok((header, questions, end)) = parse_questions(reply) else {
                continue;
            };
            let Some(p) = self.pending.get(&header.id) else {
                continue;
            };
            // Only the upstream asked, with the question asked, is believed.
            let matches = header.qr
                && from == p.current
                && questions.len() == p.query.questions.len()
                && questions.iter().zip(&p.query.questions).all(|(a, b)| {
                    a.qtype == b.qtype && a.qclass == b.qclass && a.name.eq_ignore_case(&b.name)
                });
            if !matches {
                continue;
            }
            let Some(p) = self.pending.remove(&header.id) else {
                continue;
            };
            reply[..2].copy_from_slice(&p.original_id);
            let out = if reply.len() > p.limit {
                // Too big for the client: the question and TC, so it retries over TCP.
                let mut short = reply[..end].to_vec();
                short[2] |= 0x02;
                short[6..12].fill(0);
                short
            } else {
                reply.to_vec()
            };
            self.deliver(p.client, &out);
        }
        self.buf = buf;
    }

    fn expire(&mut self, now: Instant) {
        let late: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            let Some(mut p) = self.pending.remove(&id) else {
                continue;
            };
            if self.send_next(&mut p) {
                self.pending.insert(id, p);
            } else {
                self.deliver(p.client, &error_reply(&p.query, RCODE_SERVFAIL, p.limit));
            }
        }
        let pending = &self.pending;
        self.conns.retain(|c| {
            c.deadline > now
                || pending
                    .values()
                    .any(|p| matches!(p.client, Client::Tcp { token } if token == c.token))
        });
    }
}

fn bind_udp(addr: Ipv4Addr, port: u16) -> Result<UdpSocket> {
    let at = SocketAddr::from((addr, port));
    let err = |source| NetworkError::DnsBind {
        addr: at,
        proto: "udp",
        source,
    };
    let s = UdpSocket::bind(at).map_err(err)?;
    s.set_nonblocking(true).map_err(err)?;
    Ok(s)
}

fn bind_tcp(addr: Ipv4Addr, port: u16) -> Result<TcpListener> {
    let at = SocketAddr::from((addr, port));
    let err = |source| NetworkError::DnsBind {
        addr: at,
        proto: "tcp",
        source,
    };
    let s = TcpListener::bind(at).map_err(err)?;
    s.set_nonblocking(true).map_err(err)?;
    Ok(s)
}

/// Sockets for `addrs` on `port`; `first` is the UDP socket of `addrs[0]` if already bound.
fn bind_all(addrs: &[Ipv4Addr], port: u16, mut first: Option<UdpSocket>) -> Result<Vec<Endpoint>> {
    let mut out = Vec::new();
    for &addr in addrs {
        let udp = match first.take() {
            Some(s) => s,
            None => bind_udp(addr, port)?,
        };
        let tcp = bind_tcp(addr, port)?;
        out.push(Endpoint { addr, udp, tcp });
    }
    Ok(out)
}

/// Query IDs from the kernel's random source, a few at a time.
#[derive(Default)]
struct Random {
    pool: [u8; 32],
    used: usize,
    counter: u64,
}

impl Random {
    fn u16(&mut self) -> u16 {
        if self.used == 0 || self.used + 2 > self.pool.len() {
            self.refill();
        }
        let v = u16::from_be_bytes([self.pool[self.used], self.pool[self.used + 1]]);
        self.used += 2;
        v
    }

    fn refill(&mut self) {
        // SAFETY: the pointer and length describe `self.pool`, which is writable and lives
        // for the call; getrandom writes at most that many bytes.
        let n = unsafe { libc::getrandom(self.pool.as_mut_ptr().cast(), self.pool.len(), 0) };
        if usize::try_from(n).ok() != Some(self.pool.len()) {
            // No getrandom (it cannot fail for 64 bytes on Linux 3.17 and later): SipHash
            // under std's random keys, of a counter.
            use std::hash::BuildHasher;
            let keys = std::collections::hash_map::RandomState::new();
            for chunk in self.pool.chunks_mut(8) {
                self.counter += 1;
                chunk.copy_from_slice(&keys.hash_one(self.counter).to_be_bytes());
            }
        }
        self.used = 0;
    }
}
