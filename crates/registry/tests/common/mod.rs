//! Test fixtures: a real `docker-registry` on loopback (through scripts/registry.sh), a tiny
//! scriptable HTTP server for what a real registry will not do, and a minimal OCI image.
//! Everything listens on and talks to 127.0.0.1 only.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use berth_image::Digest;
use berth_registry::{media_types, Client, ClientOptions, Credentials};

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/registry.sh")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real distribution registry, stopped on drop.
pub struct Registry {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// With `htpasswd` file contents, the registry asks for Basic auth.
    pub fn start_with(htpasswd: Option<&[u8]>) -> Registry {
        assert!(
            Path::new("/usr/bin/docker-registry").exists(),
            "docker-registry is not installed (scripts/deps.sh installs it)"
        );
        let dir = tempfile::tempdir().unwrap();
        // The registry reads the file when a request needs it, so it lives as long as the
        // registry does: in its directory.
        let htpasswd = htpasswd.map(|text| {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, text).unwrap();
            file
        });
        let mut last = String::new();
        // A free port can be taken between our probe and the registry's bind; try again.
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(script());
            cmd.arg("start").arg(dir.path()).arg(port.to_string());
            if let Some(h) = &htpasswd {
                cmd.arg(h);
            }
            let out = cmd.output().unwrap();
            if out.status.success() {
                return Registry { dir, port };
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        panic!("registry.sh start failed: {last}");
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> Client {
        Client::new(&self.host(), ClientOptions::default()).unwrap()
    }

    pub fn client_as(&self, user: &str, pass: &str) -> Client {
        let opts = ClientOptions {
            credentials: Some(Credentials::new(user, pass)),
            ..ClientOptions::default()
        };
        Client::new(&self.host(), opts).unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// A request as the tiny server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The server's own port, to build URLs pointing back at it.
    pub port: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }

    pub fn query(&self, key: &str) -> Vec<String> {
        let Some((_, q)) = self.target.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| unescape(v))
            .collect()
    }
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Announce this Content-Length but send only `body`, then close: a dropped connection.
    pub declared_len: Option<usize>,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            declared_len: None,
        }
    }

    pub fn header(mut self, k: &str, v: impl Into<String>) -> Reply {
        self.headers.push((k.to_string(), v.into()));
        self
    }

    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Reply {
        self.body = b.into();
        self
    }

    pub fn json(self, s: &str) -> Reply {
        self.header("Content-Type", "application/json").body(s)
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A scriptable HTTP/1.1 server on 127.0.0.1: one thread per connection, one request per
/// connection (`Connection: close`). Anything that is not HTTP (a TLS hello from the
/// client's https attempt) gets the connection closed, as from a plain-http registry that
/// does not answer garbage.
pub struct TinyServer {
    pub port: u16,
    pub log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TinyServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> TinyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (log, handler) = (log.clone(), handler.clone());
                    std::thread::spawn(move || serve(conn, port, &*handler, &log));
                }
            })
        };
        TinyServer {
            port,
            log,
            stop,
            thread: Some(thread),
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> Client {
        Client::new(&self.host(), ClientOptions::default()).unwrap()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path() == path)
            .count()
    }
}

impl Drop for TinyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, port: u16, handler: &Handler, log: &Mutex<Vec<Request>>) {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    if !version.starts_with("HTTP/1.") {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body: Vec::new(),
        port,
    };
    let len: usize = req
        .header("content-length")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0);
    req.body.resize(len, 0);
    if r.read_exact(&mut req.body).is_err() {
        return;
    }
    let reply = handler(&req);
    log.lock().unwrap().push(req.clone());
    let mut out = conn;
    let reason = match reply.status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        206 => "Partial Content",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Whatever",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nConnection: close\r\n",
        reply.status
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let len = reply.declared_len.unwrap_or(reply.body.len());
    if req.method == "HEAD" {
        if !reply
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        head.push_str("\r\n");
        let _ = out.write_all(head.as_bytes());
    } else {
        head.push_str(&format!("Content-Length: {len}\r\n\r\n"));
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&reply.body);
    }
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Both);
}

/// A one-layer OCI image: the layer is a tar holding `hello.txt`.
pub struct TestImage {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

impl TestImage {
    pub fn new(text: &str) -> TestImage {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_path("hello.txt").unwrap();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append(&h, text.as_bytes()).unwrap();
        let layer = b.into_inner().unwrap();
        let layer_digest = Digest::of(&layer);
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["cat","/hello.txt"]}},"rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
        )
        .into_bytes();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
            media_types::OCI_MANIFEST,
            Digest::of(&config),
            config.len(),
            layer_digest,
            layer.len()
        )
        .into_bytes();
        TestImage {
            layer,
            config,
            manifest,
        }
    }

    pub fn layer_digest(&self) -> Digest {
        Digest::of(&self.layer)
    }

    pub fn config_digest(&self) -> Digest {
        Digest::of(&self.config)
    }

    pub fn manifest_digest(&self) -> Digest {
        Digest::of(&self.manifest)
    }

    /// Pushes blobs and manifest with our client; returns the manifest digest.
    pub fn push(&self, client: &Client, repo: &str, tag: &str) -> Digest {
        for blob in [&self.config, &self.layer] {
            let d = Digest::of(blob);
            if client.blob_exists(repo, &d).unwrap().is_none() {
                client
                    .push_blob(
                        repo,
                        &d,
                        blob.len() as u64,
                        &blob[..],
                        berth_registry::Upload::Monolithic,
                    )
                    .unwrap();
            }
        }
        client
            .put_manifest(repo, tag, media_types::OCI_MANIFEST, &self.manifest)
            .unwrap()
    }

    /// Writes an OCI image layout with the image under `tag`.
    pub fn write_oci_layout(&self, dir: &Path, tag: &str) {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        for b in [&self.layer, &self.config, &self.manifest] {
            std::fs::write(blobs.join(Digest::of(b).hex()), b).unwrap();
        }
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}]}}"#,
            media_types::OCI_MANIFEST,
            self.manifest_digest(),
            self.manifest.len()
        );
        std::fs::write(dir.join("index.json"), index).unwrap();
    }
}

/// Deterministic bytes that are not all alike, so an offset mistake shows.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

pub fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}
