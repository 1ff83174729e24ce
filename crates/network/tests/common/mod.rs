//! The harness for tests that touch the kernel: each one re-executes this test binary under
//! `unshare -n`, filtered to itself, so links, addresses, sysctls and nft tables live in a
//! throwaway network namespace and the host's is never touched. `nft` runs as a child of
//! the inner process, so it lands in that namespace too (a thread-level unshare would not do
//! for it).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Command;
use std::time::Duration;

use berth_network::link::{in_netns, Netlink};

const MARKER: &str = "BERTH_NETWORK_TEST_INNER";

/// Runs `body` in a fresh network namespace: in the inner process when this is it,
/// otherwise by re-executing the test binary under `unshare -n` for test `name` only.
/// Fails loudly when the namespace can't be had (not root, no unshare): these tests are
/// expected to run.
pub fn isolated(name: &str, body: impl FnOnce()) {
    if std::env::var(MARKER).as_deref() == Ok(name) {
        body();
        return;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "{name}: needs root to create network namespaces"
    );
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(&exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MARKER, name)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{name}: run unshare (util-linux) for {}: {e}",
                exe.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- inner stdout ---\n{stdout}\n--- inner stderr ---\n{stderr}");
    assert!(
        out.status.success(),
        "{name}: the isolated run failed ({})",
        out.status
    );
    // A typo in the name would run nothing and pass: insist on exactly this one test.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name}: the isolated run did not run exactly this test"
    );
}

/// A fresh namespace with `lo` up.
pub fn netns() -> OwnedFd {
    let ns = berth_network::netns::create().expect("create netns");
    in_netns(ns.as_fd(), || {
        Netlink::open().and_then(|mut nl| nl.set_up("lo"))
    })
    .unwrap()
    .unwrap();
    ns
}

/// A path another program can open to enter `ns` (for `nsenter --net=`).
pub fn ns_path(ns: &OwnedFd) -> String {
    format!("/proc/{}/fd/{}", std::process::id(), ns.as_raw_fd())
}

/// A TCP server in `ns` on `addr` that answers every connection with `"{reply} from
/// {peer address}"`, so tests see both who answered and what source address arrived.
/// Runs until the test process ends.
pub fn serve(ns: &OwnedFd, addr: SocketAddrV4, reply: &'static str) {
    let listener = in_netns(ns.as_fd(), || TcpListener::bind(addr))
        .unwrap()
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let peer = conn
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(format!("{reply} from {peer}").as_bytes());
        }
    });
}

/// A UDP server in `ns` that answers each datagram as `serve` does.
pub fn serve_udp(ns: &OwnedFd, addr: SocketAddrV4, reply: &'static str) {
    let socket = in_netns(ns.as_fd(), || UdpSocket::bind(addr))
        .unwrap()
        .unwrap_or_else(|e| panic!("bind udp {addr}: {e}"));
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((_, peer)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(format!("{reply} from {}", peer.ip()).as_bytes(), peer);
        }
    });
}

/// Sends one datagram from `ns` to `to` and waits a little for the answer.
pub fn request_udp(ns: Option<&OwnedFd>, to: SocketAddrV4) -> std::io::Result<String> {
    let go = move || -> std::io::Result<String> {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.set_read_timeout(Some(Duration::from_millis(1500)))?;
        s.send_to(b"ping", to)?;
        let mut buf = [0u8; 64];
        let n = s.recv(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    match ns {
        Some(ns) => in_netns(ns.as_fd(), go).unwrap(),
        None => go(),
    }
}

/// Connects from `ns` (None: the test's own namespace) to `to`, sends "ping" and returns
/// the server's answer. Err when unreachable.
pub fn request(ns: Option<&OwnedFd>, to: SocketAddrV4) -> std::io::Result<String> {
    let go = move || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&SocketAddr::V4(to), Duration::from_millis(1500))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(b"ping")?;
        s.shutdown(std::net::Shutdown::Write)?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    match ns {
        Some(ns) => in_netns(ns.as_fd(), go).unwrap(),
        None => go(),
    }
}

pub fn v4(a: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(a), port)
}
