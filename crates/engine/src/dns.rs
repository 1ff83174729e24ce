//! The name server of user-defined networks: one `berth __dns ROOT` process per store (as
//! podman has aardvark-dns), answering on each user network's gateway, port 53, for the
//! containers on that network: by name, short ID and `--network-alias`. Other names go to
//! the host's resolvers. The default bridge has none, as in Docker. The first container to
//! join a user network starts it; it leaves a while after the last one is gone.
//!
//! Its records are the database's, read at each query: an answer is never staler than the
//! last container that came or went.

use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_network::dns::{Lookup, Records, Server};

use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// Held (flock) by the running name server, with its pid in it.
const LOCK: &str = "dns.lock";

/// How long the server stays with no network to serve before it leaves.
const IDLE: Duration = Duration::from_secs(30);

/// The port served: 53, or `BERTH_DNS_PORT` (for running a second store beside a first).
fn port() -> u16 {
    std::env::var("BERTH_DNS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(53)
}

/// An endpoint as the name server sees it.
struct Entry {
    ip: Ipv4Addr,
    name: String,
    id: String,
    aliases: Vec<String>,
}

/// The records of the store at `root`, read through a connection of its own.
struct DbRecords {
    db: berth_image::db::Db,
}

impl DbRecords {
    /// The endpoints of the user network whose gateway is `server`.
    fn entries(&self, server: Ipv4Addr) -> Vec<Entry> {
        let conn = self.db.conn();
        let Ok(mut st) = conn.prepare_cached(
            "SELECT e.ip, c.name, c.id, e.aliases FROM endpoints e
             JOIN networks n ON n.id = e.network
             JOIN containers c ON c.id = e.container
             WHERE json_extract(n.data, '$.gateway') = ?1
               AND NOT json_extract(n.data, '$.predefined')",
        ) else {
            return Vec::new();
        };
        let rows = st.query_map([server.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        });
        let Ok(rows) = rows else {
            return Vec::new();
        };
        rows.flatten()
            .filter_map(|(ip, name, id, aliases)| {
                Some(Entry {
                    ip: ip.parse().ok()?,
                    name: name.unwrap_or_default().to_ascii_lowercase(),
                    id,
                    aliases: serde_json::from_str::<Vec<String>>(&aliases)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| a.to_ascii_lowercase())
                        .collect(),
                })
            })
            .collect()
    }

    /// The gateways of the user networks: what to serve. All of them, not only those with
    /// containers: a container's first query may come before the next round.
    fn gateways(&self) -> Vec<Ipv4Addr> {
        let conn = self.db.conn();
        let Ok(mut st) = conn.prepare_cached(
            "SELECT DISTINCT json_extract(n.data, '$.gateway') FROM networks n
             WHERE NOT json_extract(n.data, '$.predefined')
               AND json_extract(n.data, '$.driver') = 'bridge'",
        ) else {
            return Vec::new();
        };
        let Ok(rows) = st.query_map([], |r| r.get::<_, Option<String>>(0)) else {
            return Vec::new();
        };
        let mut out: Vec<Ipv4Addr> = rows
            .flatten()
            .flatten()
            .filter_map(|g| g.parse().ok())
            .collect();
        out.sort();
        out
    }
}

impl Records for DbRecords {
    fn lookup(&self, server: Ipv4Addr, name: &str) -> Lookup {
        let ips: Vec<Ipv4Addr> = self
            .entries(server)
            .into_iter()
            .filter(|e| {
                e.name == name
                    || e.aliases.iter().any(|a| a == name)
                    || (name.len() == 12 && e.id.starts_with(name))
            })
            .map(|e| e.ip)
            .collect();
        if ips.is_empty() {
            Lookup::NotOurs
        } else {
            Lookup::Found(ips)
        }
    }

    fn reverse(&self, server: Ipv4Addr, ip: Ipv4Addr) -> Option<String> {
        self.entries(server)
            .into_iter()
            .find(|e| e.ip == ip)
            .map(|e| e.name)
    }
}

/// `berth __dns ROOT`: the name server's main; returns the process's exit status.
pub fn serve(root: &Path) -> i32 {
    let lock_path = root.join(LOCK);
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
    else {
        return 1;
    };
    // One per store: a second one started in a race leaves at once.
    let Ok(mut lock) = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
    else {
        return 0;
    };
    let _ = lock.set_len(0);
    let _ = std::io::Write::write_all(&mut *lock, std::process::id().to_string().as_bytes());
    let Ok(db) = berth_image::db::Db::open(&root.join("berth.db")) else {
        return 1;
    };
    let records = DbRecords { db };
    let Ok(mut server) = Server::bind(&[], port()) else {
        return 1;
    };
    let mut idle_since = Instant::now();
    let mut upstreams_read = Instant::now() - Duration::from_secs(60);
    let db_path = root.join("berth.db");
    loop {
        // A store deleted under us has nothing left to serve.
        if !db_path.exists() {
            return 0;
        }
        let gateways = records.gateways();
        if gateways.is_empty() {
            if idle_since.elapsed() >= IDLE {
                return 0;
            }
        } else {
            idle_since = Instant::now();
        }
        if server.addresses() != gateways {
            // A bridge not yet up refuses the bind; the next round tries again.
            if server.set_addresses(&gateways).is_err() {
                for g in &gateways {
                    let _ = server.set_addresses(&[*g]);
                }
            }
        }
        if upstreams_read.elapsed() >= Duration::from_secs(5) {
            upstreams_read = Instant::now();
            let ups = berth_network::dns::upstreams_from_resolv_conf(Path::new("/etc/resolv.conf"))
                .into_iter()
                // Never ourselves: a loop.
                .filter(|u| match u.ip() {
                    std::net::IpAddr::V4(v4) => !gateways.contains(&v4),
                    _ => true,
                })
                .collect();
            server.set_upstreams(ups);
        }
        // Short rounds: a network that just got its first container is served within one.
        let _ = server.serve_once(&records, Duration::from_millis(100));
    }
}

/// Whether a UDP socket is bound to `addr`:`port` in this network namespace.
fn udp_bound(addr: Ipv4Addr, port: u16) -> bool {
    // /proc/net/udp's local address: the IPv4 address as the kernel's u32 in hex (so in
    // host byte order), then the port.
    let want = format!("{:08X}:{:04X}", u32::from_ne_bytes(addr.octets()), port);
    std::fs::read_to_string("/proc/net/udp")
        .map(|t| {
            t.lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(1) == Some(want.as_str()))
        })
        .unwrap_or(false)
}

impl Engine {
    /// Starts the store's name server unless it runs, and waits (up to 2 s) until it serves
    /// `gateway`, so that the container's first query finds it.
    pub(crate) fn ensure_dns(&self, exe: &Path, gateway: Ipv4Addr) -> Result<()> {
        self.start_dns(exe)?;
        let until = Instant::now() + Duration::from_secs(2);
        while !udp_bound(gateway, port()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    fn start_dns(&self, exe: &Path) -> Result<()> {
        let lock_path = self.root().join(LOCK);
        if let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
        {
            // Held: it runs. Free: nobody serves; let go at once for the one we start.
            match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                Err(_) => return Ok(()),
                Ok(l) => drop(l),
            }
        }
        let mut cmd = Command::new(exe);
        cmd.arg("__dns")
            .arg(self.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only setsid and close_range, both plain syscalls.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                // A monitor's report pipe and client socket sit on fds 3 and 4 without
                // close-on-exec: a long-lived name server must not hold them open.
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| EngineError::Monitor(format!("starting the name server: {e}")))?;
        // Not ours to wait for; a monitor reaps whatever dies under it anyway.
        std::mem::forget(child);
        Ok(())
    }
}
