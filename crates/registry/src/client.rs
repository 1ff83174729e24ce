//! The HTTP side: one [`Client`] per registry host, speaking the distribution v2 API
//! (<https://distribution.github.io/distribution/spec/api/>, OCI distribution spec).

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use berth_image::Digest;
use ureq::http::{self, header, Method, Response, StatusCode};
use ureq::{Agent, SendBody};

use crate::auth::Credentials;
use crate::challenge::{self, Challenge};
use crate::error::{ApiError, Detail, Error, Result};

/// Manifest media types, for `Accept` lists and `put_manifest`.
pub mod media_types {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// What `manifest` asks for when given no `Accept` list: images and indexes, OCI and
    /// Docker. (Schema 1 is not accepted; Docker dropped it too.)
    pub const DEFAULT_ACCEPT: &[&str] = &[
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        DOCKER_MANIFEST,
    ];
}

/// Manifests beyond this are refused unread (the default of [`ClientOptions`]); real ones
/// are a few KiB, and they are held in memory.
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
/// Blob GETs are redirected to storage backends (S3 and the like), sometimes twice.
const MAX_REDIRECTS: usize = 10;
/// Error bodies are only for messages.
const MAX_ERROR_BODY: u64 = 64 << 10;
const MAX_TOKEN_BODY: u64 = 1 << 20;
/// A token is renewed this long before the registry would reject it.
const TOKEN_MARGIN: Duration = Duration::from_secs(10);
/// Docker's floor for a token's lifetime when the server says less or nothing.
const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Like a `--insecure-registry` entry: https without certificate checks, then plain
    /// http if https fails. Loopback hosts are always treated this way, as in Docker.
    pub insecure: bool,
    pub credentials: Option<Credentials>,
    pub user_agent: String,
    pub connect_timeout: Duration,
    /// How long a single read may wait for data: a stalled transfer fails after this.
    pub read_timeout: Duration,
    pub max_manifest_size: u64,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            insecure: false,
            credentials: None,
            user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")).to_string(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            max_manifest_size: MAX_MANIFEST_SIZE,
        }
    }
}

/// A manifest as the registry sent it: the exact bytes (they are what the digest covers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// What a HEAD request says about a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// How `push_blob` sends the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// One PUT with the whole blob as its body.
    Monolithic,
    /// PATCH requests of this many bytes, then a closing PUT. Each chunk is buffered, so
    /// a chunk that meets a 401 (an expired token) is sent again.
    Chunked(u64),
}

/// A blob's body. Read errors are `io::Error`s, including a connection that closes before
/// the announced length. The data is not verified here: the caller hashes what it stores.
pub struct BlobReader {
    inner: Box<dyn Read + Send>,
    /// Bytes to drop first, when the server ignored our `Range` and sent the whole blob.
    skip: u64,
    remaining: Option<u64>,
    digest: Digest,
}

impl BlobReader {
    /// How many bytes the reader will yield (from the requested offset), when the
    /// registry said.
    pub fn length(&self) -> Option<u64> {
        self.remaining
    }
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobReader")
            .field("digest", &self.digest)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.skip > 0 {
            let mut scratch = [0u8; 8192];
            let want = scratch
                .len()
                .min(self.skip.try_into().unwrap_or(usize::MAX));
            let n = self.inner.read(&mut scratch[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "blob {}: the body ended before the requested offset",
                        self.digest
                    ),
                ));
            }
            self.skip -= n as u64;
        }
        let n = self.inner.read(buf).map_err(|e| {
            // Keep the kind for callers that retry; add which blob it was.
            io::Error::new(e.kind(), format!("blob {}: {e}", self.digest))
        })?;
        if let Some(r) = &mut self.remaining {
            if n == 0 && *r > 0 && !buf.is_empty() {
                // ureq already checks Content-Length; this also covers a 206 whose
                // Content-Range promised more than the connection delivered.
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "blob {}: the connection closed {r} bytes short",
                        self.digest
                    ),
                ));
            }
            *r = r.saturating_sub(n as u64);
        }
        Ok(n)
    }
}

/// A client for one registry host. Cheap to share: it is `Send + Sync`, and tokens and
/// connections are reused across threads.
pub struct Client {
    /// The name the caller gave (`docker.io`), for messages.
    registry: String,
    /// The `host[:port]` we connect to (`registry-1.docker.io`).
    host: String,
    insecure: bool,
    agent: Agent,
    credentials: Option<Credentials>,
    max_manifest_size: u64,
    /// `https://host` or `http://host`, settled by the first request.
    base: OnceLock<String>,
    auth: Mutex<AuthState>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.registry)
            .field("host", &self.host)
            .field("insecure", &self.insecure)
            .field("base", &self.base.get())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct AuthState {
    /// What the registry's `/v2/` asked for; `None` when it asked for nothing.
    challenge: Option<Challenge>,
    /// Bearer tokens by scope set.
    tokens: HashMap<String, Token>,
}

struct Token {
    value: String,
    renew_at: Instant,
}

enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// Streamed from the caller, so it cannot be replayed after a 401.
    Stream(&'a mut dyn Read, u64),
}

impl Body<'_> {
    fn replayable(&self) -> bool {
        !matches!(self, Body::Stream(..))
    }
}

/// The operation a failed response belongs to, to choose the error.
#[derive(Clone, Copy)]
enum Op<'a> {
    Ping,
    Manifest { repo: &'a str, reference: &'a str },
    Blob { repo: &'a str, digest: &'a Digest },
    Push { repo: &'a str },
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "Get",
        Method::HEAD => "Head",
        Method::POST => "Post",
        Method::PUT => "Put",
        Method::PATCH => "Patch",
        Method::DELETE => "Delete",
        _ => "Request",
    }
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

fn header_str<'r>(resp: &'r Response<ureq::Body>, name: &str) -> Option<&'r str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn content_length(resp: &Response<ureq::Body>) -> Option<u64> {
    header_str(resp, "content-length").and_then(|v| v.trim().parse().ok())
}

/// `host[:port]`, `[v6]:port`; no scheme, path or user info.
fn valid_host(host: &str) -> bool {
    let hostname = split_port(host).0;
    if let Some(v6) = hostname.strip_prefix('[') {
        return v6
            .strip_suffix(']')
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
    }
    let port_ok = split_port(host)
        .1
        .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok
        && !hostname.is_empty()
        && hostname.split('.').all(|c| {
            !c.is_empty()
                && !c.starts_with('-')
                && !c.ends_with('-')
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn split_port(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        return match host.rsplit_once("]:") {
            Some((h, p)) => (&host[..h.len() + 1], Some(p)),
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    }
}

/// Docker treats these as insecure registries without being told: 127.0.0.0/8, ::1 and
/// `localhost`.
fn is_loopback(host: &str) -> bool {
    let h = split_port(host).0;
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Repository paths as distribution accepts them: lowercase components of alphanumerics
/// with single `.`, `_`, `__` or `-` runs between them. Checked because they go into URLs.
fn check_repo(repo: &str) -> Result<()> {
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|&x| x.is_ascii_lowercase() || x.is_ascii_digit() || b"._-".contains(&x))
            && !c.contains("..")
            && !c.contains("___")
    };
    if repo.len() > 255 || !repo.split('/').all(component_ok) {
        return Err(Error::InvalidRepository(repo.to_string()));
    }
    Ok(())
}

/// A tag, or a digest (which is then returned).
fn check_reference(reference: &str) -> Result<Option<Digest>> {
    if reference.contains(':') {
        return reference
            .parse::<Digest>()
            .map(Some)
            .map_err(|_| Error::InvalidReference(reference.to_string()));
    }
    let ok = !reference.is_empty()
        && reference.len() <= 128
        && !reference.starts_with(['.', '-'])
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(None)
    } else {
        Err(Error::InvalidReference(reference.to_string()))
    }
}

/// Query values: everything but RFC 3986 unreserved characters is escaped.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.ends_with(['?', '&']) {
        ""
    } else if url.contains('?') {
        "&"
    } else {
        "?"
    };
    format!("{url}{sep}{key}={}", query_escape(value))
}

/// `scheme://authority` of an absolute URL.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    match url[after..].find(['/', '?', '#']) {
        Some(i) => &url[..after + i],
        None => url,
    }
}

/// Where an upload `Location` points. Registries send absolute URLs (distribution) or
/// absolute paths (others); both are allowed by the spec.
fn resolve_location(base: &str, current: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{base}{location}");
    }
    let current = current.split(['?', '#']).next().unwrap_or(current);
    let dir = current.rsplit_once('/').map_or(current, |(d, _)| d);
    format!("{dir}/{location}")
}

fn is_generic(media_type: &str) -> bool {
    matches!(media_type, "" | "application/json" | "text/plain")
}

/// The media type from `Content-Type`, or from the manifest's own `mediaType` when the
/// header is missing or generic (some registries serve `application/json`).
fn manifest_media_type(header: Option<&str>, bytes: &[u8]) -> String {
    let header = header
        .and_then(|h| h.split(';').next())
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    if !is_generic(&header) {
        return header;
    }
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Probe>(bytes)
        .ok()
        .and_then(|p| p.media_type)
        .filter(|m| !m.is_empty())
        .unwrap_or(header)
}

/// Reads a failed response's body for the message.
fn detail(resp: Response<ureq::Body>) -> Detail {
    let status = resp.status();
    let mut text = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut text);
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ApiError>,
    }
    let errors = serde_json::from_slice::<Errors>(&text)
        .map(|e| e.errors)
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let text = text.trim();
    let text = if text.is_empty() {
        format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string()
    } else {
        text.chars().take(300).collect()
    };
    Detail { errors, text }
}

impl Client {
    /// A client for `registry` (`host[:port]`; `docker.io` means Docker Hub). Nothing is
    /// sent until the first call.
    pub fn new(registry: &str, opts: ClientOptions) -> Result<Client> {
        if !valid_host(registry) {
            return Err(Error::InvalidRegistry(registry.to_string()));
        }
        let host = match registry {
            "docker.io" | "index.docker.io" => DOCKER_HUB_HOST.to_string(),
            h => h.to_string(),
        };
        let insecure = opts.insecure || is_loopback(&host);
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(insecure)
            .build();
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(opts.user_agent.as_str())
            .tls_config(tls)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_per_read(Some(opts.read_timeout))
            // `send` follows redirects itself.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .build();
        Ok(Client {
            registry: registry.to_string(),
            host,
            insecure,
            agent: Agent::new_with_config(config),
            credentials: opts.credentials,
            max_manifest_size: opts.max_manifest_size,
            base: OnceLock::new(),
            auth: Mutex::new(AuthState::default()),
        })
    }

    /// The name this client was created with.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Whether http is allowed (after https failed).
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// `https://host` or `http://host`, once a request has settled it.
    pub fn base_url(&self) -> Option<&str> {
        self.base.get().map(String::as_str)
    }

    /// `GET /v2/` with authentication, as `docker login` does: `Ok` means the registry
    /// speaks v2 and accepts our credentials (or needs none).
    pub fn ping(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base()?);
        let mut body = Body::Empty;
        let resp = self.send(Method::GET, &url, &[], &mut body, &[], true)?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.fail(Op::Ping, Method::GET, &url, resp))
    }

    /// Fetches a manifest by tag or digest. The bytes are checked against the digest when
    /// the reference is one, and against `Docker-Content-Digest` when the registry sends
    /// it. `accept` empty means [`media_types::DEFAULT_ACCEPT`].
    pub fn manifest(&self, repo: &str, reference: &str, accept: &[&str]) -> Result<Manifest> {
        check_repo(repo)?;
        let wanted = check_reference(reference)?;
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base()?);
        let accept = self.accept(accept);
        let headers = [(header::ACCEPT, accept.as_str())];
        let op = Op::Manifest { repo, reference };
        let scopes = [pull_scope(repo)];
        let resp = self.send(Method::GET, &url, &headers, &mut Body::Empty, &scopes, true)?;
        if resp.status() != StatusCode::OK {
            return Err(self.fail(op, Method::GET, &url, resp));
        }
        let what = || self.display_ref(repo, reference);
        let limit = self.max_manifest_size;
        if content_length(&resp).is_some_and(|n| n > limit) {
            return Err(Error::ManifestTooLarge {
                what: what(),
                limit,
            });
        }
        let media_type = header_str(&resp, "content-type").map(str::to_string);
        let header_digest = header_str(&resp, "docker-content-digest").map(str::to_string);
        let mut bytes = Vec::new();
        resp.into_body()
            .into_reader()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Io {
                method: "Get",
                url: url.clone(),
                source,
            })?;
        if bytes.len() as u64 > limit {
            return Err(Error::ManifestTooLarge {
                what: what(),
                limit,
            });
        }
        let digest = Digest::of(&bytes);
        self.verify_manifest_digest(
            repo,
            reference,
            wanted.as_ref(),
            header_digest.as_deref(),
            &digest,
        )?;
        Ok(Manifest {
            media_type: manifest_media_type(media_type.as_deref(), &bytes),
            bytes,
            digest,
        })
    }

    fn verify_manifest_digest(
        &self,
        repo: &str,
        reference: &str,
        wanted: Option<&Digest>,
        header: Option<&str>,
        actual: &Digest,
    ) -> Result<()> {
        let what = self.display_ref(repo, reference);
        if let Some(w) = wanted {
            if w != actual {
                return Err(Error::DigestMismatch {
                    what: format!("manifest {what}"),
                    expected: w.to_string(),
                    actual: actual.clone(),
                });
            }
        }
        // Other algorithms cannot be checked with a sha256-only Digest; the bytes are
        // still addressed by their sha256 below.
        if let Some(h) = header.filter(|h| h.starts_with("sha256:")) {
            if h.parse::<Digest>().ok().as_ref() != Some(actual) {
                return Err(Error::DigestMismatch {
                    what: format!("manifest {what} (Docker-Content-Digest)"),
                    expected: h.to_string(),
                    actual: actual.clone(),
                });
            }
        }
        Ok(())
    }

    /// `HEAD` of a manifest: `None` if there is no such manifest. Registries that leave out
    /// `Docker-Content-Digest` for a tag cost a GET.
    pub fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
        accept: &[&str],
    ) -> Result<Option<Descriptor>> {
        check_repo(repo)?;
        let wanted = check_reference(reference)?;
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base()?);
        let accept_value = self.accept(accept);
        let headers = [(header::ACCEPT, accept_value.as_str())];
        let scopes = [pull_scope(repo)];
        let resp = self.send(
            Method::HEAD,
            &url,
            &headers,
            &mut Body::Empty,
            &scopes,
            true,
        )?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if resp.status() != StatusCode::OK {
            return Err(self.fail(Op::Manifest { repo, reference }, Method::HEAD, &url, resp));
        }
        let media_type = manifest_media_type(header_str(&resp, "content-type"), b"");
        let size = content_length(&resp);
        let header_digest = header_str(&resp, "docker-content-digest")
            .filter(|h| h.starts_with("sha256:"))
            .map(|h| {
                h.parse::<Digest>().map_err(|_| Error::Protocol {
                    method: "Head",
                    url: url.clone(),
                    what: format!("invalid Docker-Content-Digest {h:?}"),
                })
            })
            .transpose()?;
        if let (Some(w), Some(h)) = (&wanted, &header_digest) {
            if w != h {
                return Err(Error::DigestMismatch {
                    what: format!(
                        "manifest {} (Docker-Content-Digest)",
                        self.display_ref(repo, reference)
                    ),
                    expected: w.to_string(),
                    actual: h.clone(),
                });
            }
        }
        match (header_digest.or(wanted), size) {
            // A generic type needs the manifest's own `mediaType`: a GET.
            (Some(digest), Some(size)) if size > 0 && !is_generic(&media_type) => {
                Ok(Some(Descriptor {
                    media_type,
                    digest,
                    size,
                }))
            }
            _ => {
                let m = self.manifest(repo, reference, accept)?;
                Ok(Some(Descriptor {
                    size: m.bytes.len() as u64,
                    media_type: m.media_type,
                    digest: m.digest,
                }))
            }
        }
    }

    /// Streams a blob from byte `offset` on (0 for all of it), following redirects to
    /// storage backends. A registry that ignores the `Range` header is handled by skipping.
    pub fn blob(&self, repo: &str, digest: &Digest, offset: u64) -> Result<BlobReader> {
        check_repo(repo)?;
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base()?);
        let range = format!("bytes={offset}-");
        let headers: &[(header::HeaderName, &str)] = if offset > 0 {
            &[(header::RANGE, range.as_str())]
        } else {
            &[]
        };
        let scopes = [pull_scope(repo)];
        let resp = self.send(Method::GET, &url, headers, &mut Body::Empty, &scopes, true)?;
        let op = Op::Blob { repo, digest };
        let protocol = |what: String| Error::Protocol {
            method: "Get",
            url: url.clone(),
            what,
        };
        let (skip, remaining) = match resp.status() {
            StatusCode::OK => {
                let len = content_length(&resp);
                if len.is_some_and(|l| l < offset) {
                    return Err(Error::RangeNotSatisfiable {
                        repo: repo.to_string(),
                        digest: digest.clone(),
                        offset,
                    });
                }
                (offset, len.map(|l| l - offset))
            }
            StatusCode::PARTIAL_CONTENT => {
                let range = header_str(&resp, "content-range").unwrap_or("");
                // "bytes START-END/TOTAL"
                let start = range
                    .strip_prefix("bytes ")
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.trim().parse::<u64>().ok());
                if start != Some(offset) {
                    return Err(protocol(format!(
                        "asked for bytes from {offset}, got Content-Range {range:?}"
                    )));
                }
                (0, content_length(&resp))
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                return Err(Error::RangeNotSatisfiable {
                    repo: self.familiar(repo),
                    digest: digest.clone(),
                    offset,
                })
            }
            _ => return Err(self.fail(op, Method::GET, &url, resp)),
        };
        Ok(BlobReader {
            inner: Box::new(resp.into_body().into_reader()),
            skip,
            remaining,
            digest: digest.clone(),
        })
    }

    /// The blob's size if the repository has it.
    pub fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<Option<u64>> {
        check_repo(repo)?;
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base()?);
        let scopes = [pull_scope(repo)];
        let resp = self.send(Method::HEAD, &url, &[], &mut Body::Empty, &scopes, true)?;
        match resp.status() {
            StatusCode::OK => match content_length(&resp) {
                Some(n) => Ok(Some(n)),
                None => Err(Error::Protocol {
                    method: "Head",
                    url,
                    what: "no Content-Length for an existing blob".into(),
                }),
            },
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.fail(Op::Blob { repo, digest }, Method::HEAD, &url, resp)),
        }
    }

    /// Asks the registry to link a blob of `from_repo` into `repo` without sending it.
    /// `false` when it could not (it then starts an upload, which is cancelled here): the
    /// caller pushes the blob instead.
    pub fn mount_blob(&self, repo: &str, digest: &Digest, from_repo: &str) -> Result<bool> {
        check_repo(repo)?;
        check_repo(from_repo)?;
        let base = self.base()?;
        let url = with_query(
            &with_query(
                &format!("{base}/v2/{repo}/blobs/uploads/"),
                "mount",
                &digest.to_string(),
            ),
            "from",
            from_repo,
        );
        let scopes = [push_scope(repo), pull_scope(from_repo)];
        let resp = self.send(Method::POST, &url, &[], &mut Body::Empty, &scopes, false)?;
        match resp.status() {
            StatusCode::CREATED => {
                self.check_blob_digest(&resp, "Post", &url, digest)?;
                Ok(true)
            }
            StatusCode::ACCEPTED => {
                if let Some(loc) = header_str(&resp, "location") {
                    let loc = resolve_location(base, &url, loc);
                    self.cancel_upload(&loc, &scopes);
                }
                Ok(false)
            }
            _ => Err(self.fail(Op::Push { repo }, Method::POST, &url, resp)),
        }
    }

    /// Uploads `size` bytes read from `reader` as blob `digest`. The registry checks the
    /// digest; a failed upload is cancelled.
    pub fn push_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        mut reader: impl Read,
        mode: Upload,
    ) -> Result<()> {
        check_repo(repo)?;
        let scopes = [push_scope(repo)];
        let (mut location, min_chunk) = self.start_upload(repo, &scopes)?;
        let result = match mode {
            Upload::Monolithic => {
                self.put_monolithic(repo, digest, size, &mut reader, &location, &scopes)
            }
            Upload::Chunked(chunk) => self.put_chunked(
                repo,
                digest,
                size,
                &mut reader,
                chunk.max(min_chunk).max(1),
                &mut location,
                &scopes,
            ),
        };
        if result.is_err() {
            self.cancel_upload(&location, &scopes);
        }
        result
    }

    /// POST to start an upload session: its URL and the smallest chunk the registry takes.
    fn start_upload(&self, repo: &str, scopes: &[String]) -> Result<(String, u64)> {
        let base = self.base()?;
        let url = format!("{base}/v2/{repo}/blobs/uploads/");
        let resp = self.send(Method::POST, &url, &[], &mut Body::Empty, scopes, false)?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.fail(Op::Push { repo }, Method::POST, &url, resp));
        }
        let min_chunk = header_str(&resp, "oci-chunk-min-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let location = self.location(&resp, "Post", &url)?;
        Ok((location, min_chunk))
    }

    fn location(
        &self,
        resp: &Response<ureq::Body>,
        method: &'static str,
        url: &str,
    ) -> Result<String> {
        let base = self.base()?;
        match header_str(resp, "location").filter(|l| !l.is_empty()) {
            Some(l) => Ok(resolve_location(base, url, l)),
            None => Err(Error::Protocol {
                method,
                url: url.to_string(),
                what: format!(
                    "status {} without a Location header",
                    resp.status().as_u16()
                ),
            }),
        }
    }

    fn put_monolithic(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        reader: &mut dyn Read,
        location: &str,
        scopes: &[String],
    ) -> Result<()> {
        let url = with_query(location, "digest", &digest.to_string());
        let mut source = Source {
            inner: reader.take(size),
            size,
            read: 0,
            error: None,
        };
        let headers = [(header::CONTENT_TYPE, "application/octet-stream")];
        let sent = self.send(
            Method::PUT,
            &url,
            &headers,
            &mut Body::Stream(&mut source, size),
            scopes,
            false,
        );
        // The reader's own failure explains a broken request better than the socket does.
        if let Some(source) = source.error {
            return Err(Error::Source {
                digest: digest.clone(),
                source,
            });
        }
        if source.read < size {
            return Err(Error::ShortSource {
                digest: digest.clone(),
                read: source.read,
                size,
            });
        }
        let resp = sent?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.fail(Op::Push { repo }, Method::PUT, &url, resp));
        }
        self.check_blob_digest(&resp, "Put", &url, digest)
    }

    #[allow(clippy::too_many_arguments)]
    fn put_chunked(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        reader: &mut dyn Read,
        chunk: u64,
        location: &mut String,
        scopes: &[String],
    ) -> Result<()> {
        let mut buf = vec![0u8; chunk.min(size).max(1).try_into().unwrap_or(usize::MAX)];
        let mut offset = 0u64;
        while offset < size {
            let want = buf
                .len()
                .min((size - offset).try_into().unwrap_or(usize::MAX));
            let n = read_full(reader, &mut buf[..want]).map_err(|source| Error::Source {
                digest: digest.clone(),
                source,
            })?;
            if n == 0 {
                return Err(Error::ShortSource {
                    digest: digest.clone(),
                    read: offset,
                    size,
                });
            }
            let end = offset + n as u64 - 1;
            let range = format!("{offset}-{end}");
            let headers = [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CONTENT_RANGE, range.as_str()),
            ];
            let url = location.clone();
            let resp = self.send(
                Method::PATCH,
                &url,
                &headers,
                &mut Body::Bytes(&buf[..n]),
                scopes,
                false,
            )?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(self.fail(Op::Push { repo }, Method::PATCH, &url, resp));
            }
            // The registry says how much it holds; anything but all we sent is a gap.
            if let Some(r) = header_str(&resp, "range") {
                let held = r.trim().trim_start_matches("bytes=").split('-').nth(1);
                if held.and_then(|h| h.trim().parse::<u64>().ok()) != Some(end) {
                    return Err(Error::Protocol {
                        method: "Patch",
                        url,
                        what: format!("sent bytes up to {end}, registry holds Range {r:?}"),
                    });
                }
            }
            *location = self.location(&resp, "Patch", &url)?;
            offset += n as u64;
        }
        let url = with_query(location, "digest", &digest.to_string());
        let resp = self.send(Method::PUT, &url, &[], &mut Body::Empty, scopes, false)?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.fail(Op::Push { repo }, Method::PUT, &url, resp));
        }
        self.check_blob_digest(&resp, "Put", &url, digest)
    }

    /// Best effort: an abandoned session only costs the registry some disk until it
    /// purges old uploads.
    fn cancel_upload(&self, location: &str, scopes: &[String]) {
        let _ = self.send(
            Method::DELETE,
            location,
            &[],
            &mut Body::Empty,
            scopes,
            false,
        );
    }

    fn check_blob_digest(
        &self,
        resp: &Response<ureq::Body>,
        method: &'static str,
        url: &str,
        digest: &Digest,
    ) -> Result<()> {
        match header_str(resp, "docker-content-digest") {
            Some(h)
                if h.starts_with("sha256:")
                    && h.parse::<Digest>().ok().as_ref() != Some(digest) =>
            {
                Err(Error::Protocol {
                    method,
                    url: url.to_string(),
                    what: format!("stored blob {digest} as {h:?}"),
                })
            }
            _ => Ok(()),
        }
    }

    /// Uploads a manifest under a tag or its digest; returns its digest. The blobs it
    /// names must be in the repository already.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        check_repo(repo)?;
        let wanted = check_reference(reference)?;
        let digest = Digest::of(bytes);
        if let Some(w) = wanted {
            if w != digest {
                return Err(Error::DigestMismatch {
                    what: format!("manifest to push as {}", self.display_ref(repo, reference)),
                    expected: w.to_string(),
                    actual: digest,
                });
            }
        }
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base()?);
        let headers = [(header::CONTENT_TYPE, media_type)];
        let scopes = [push_scope(repo)];
        let resp = self.send(
            Method::PUT,
            &url,
            &headers,
            &mut Body::Bytes(bytes),
            &scopes,
            false,
        )?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.fail(Op::Push { repo }, Method::PUT, &url, resp));
        }
        if let Some(h) =
            header_str(&resp, "docker-content-digest").filter(|h| h.starts_with("sha256:"))
        {
            if h.parse::<Digest>().ok().as_ref() != Some(&digest) {
                return Err(Error::DigestMismatch {
                    what: format!(
                        "pushed manifest {} (Docker-Content-Digest)",
                        self.display_ref(repo, reference)
                    ),
                    expected: digest.to_string(),
                    actual: h.parse().unwrap_or(digest),
                });
            }
        }
        Ok(digest)
    }

    fn accept(&self, accept: &[&str]) -> String {
        if accept.is_empty() {
            media_types::DEFAULT_ACCEPT.join(", ")
        } else {
            accept.join(", ")
        }
    }

    /// The repository as Docker prints it: `busybox` on Docker Hub, else `host/repo`.
    fn familiar(&self, repo: &str) -> String {
        if self.host == DOCKER_HUB_HOST {
            repo.strip_prefix("library/").unwrap_or(repo).to_string()
        } else {
            format!("{}/{repo}", self.registry)
        }
    }

    fn display_ref(&self, repo: &str, reference: &str) -> String {
        let sep = if reference.contains(':') { '@' } else { ':' };
        format!("{}{sep}{reference}", self.familiar(repo))
    }

    /// Turns a response we did not want into the error that fits the operation.
    fn fail(&self, op: Op, method: Method, url: &str, resp: Response<ureq::Body>) -> Error {
        let status = resp.status().as_u16();
        let d = detail(resp);
        let method = method_name(&method);
        let denied = |d: &Detail| {
            if !d.errors.is_empty() {
                d.to_string()
            } else if status == 401 {
                "unauthorized: authentication required".to_string()
            } else {
                "denied: requested access to the resource is denied".to_string()
            }
        };
        match (status, op) {
            (401, Op::Ping) => Error::Unauthorized {
                registry: self.registry.clone(),
                message: d.message().unwrap_or("authentication required").to_string(),
            },
            (401 | 403, Op::Manifest { repo, .. } | Op::Blob { repo, .. }) => Error::PullDenied {
                repo: self.familiar(repo),
                detail: denied(&d),
            },
            (404, Op::Manifest { repo, .. }) if d.has_code("NAME_UNKNOWN") => Error::PullDenied {
                repo: self.familiar(repo),
                detail: d.to_string(),
            },
            (401 | 403, Op::Push { repo }) => Error::PushDenied {
                repo: self.familiar(repo),
                detail: denied(&d),
            },
            (404, Op::Manifest { repo, reference }) => Error::ManifestUnknown {
                repo: self.familiar(repo),
                reference: reference.to_string(),
            },
            (404, Op::Blob { repo, digest }) => Error::BlobUnknown {
                repo: self.familiar(repo),
                digest: digest.clone(),
            },
            (500..=599, _) => Error::Server {
                method,
                url: url.to_string(),
                status,
                detail: d,
            },
            _ => Error::Status {
                method,
                url: url.to_string(),
                status,
                detail: d,
            },
        }
    }

    /// The scheme and host every URL starts with. For an insecure registry, the first
    /// call finds out whether it speaks https, and if not, plain http, the way Docker
    /// does; the answer to `/v2/` also tells how it wants us to authenticate.
    fn base(&self) -> Result<&str> {
        if let Some(b) = self.base.get() {
            return Ok(b);
        }
        let https = format!("https://{}", self.host);
        let base = match self.probe(&https) {
            Ok(()) => https,
            Err(e) if !self.insecure => return Err(e),
            Err(https_err) => {
                let http = format!("http://{}", self.host);
                match self.probe(&http) {
                    Ok(()) => http,
                    Err(http_err) => {
                        return Err(Error::Unreachable {
                            registry: self.registry.clone(),
                            https: Box::new(https_err),
                            http: Box::new(http_err),
                        })
                    }
                }
            }
        };
        // Two threads may probe at once; both found the same answer.
        Ok(self.base.get_or_init(|| base))
    }

    fn probe(&self, base: &str) -> Result<()> {
        let url = format!("{base}/v2/");
        let req = http::Request::builder()
            .method(Method::GET)
            .uri(&url)
            .body(SendBody::none())
            .map_err(|e| self.bad_url(&url, e))?;
        let resp = self.agent.run(req).map_err(|e| Error::Transport {
            method: "Get",
            url: url.clone(),
            source: Box::new(e),
        })?;
        let challenge = if resp.status() == StatusCode::UNAUTHORIZED {
            challenge::pick(
                resp.headers()
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            )
        } else {
            None
        };
        // Drain the small body so the connection can be reused.
        let _ = io::copy(
            &mut resp.into_body().into_reader().take(MAX_ERROR_BODY),
            &mut io::sink(),
        );
        self.lock_auth().challenge = challenge;
        Ok(())
    }

    fn bad_url(&self, url: &str, e: http::Error) -> Error {
        Error::Protocol {
            method: "Request",
            url: url.to_string(),
            what: format!("cannot build the request: {e}"),
        }
    }

    fn lock_auth(&self) -> std::sync::MutexGuard<'_, AuthState> {
        // The state is a cache; a panic elsewhere cannot leave it inconsistent.
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a request, following redirects of GET and HEAD when asked. Redirects are
    /// followed here rather than by ureq, which would keep the token for any port of the
    /// same host name: each hop gets credentials only if it is the registry itself.
    fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(header::HeaderName, &str)],
        body: &mut Body,
        scopes: &[String],
        follow_redirects: bool,
    ) -> Result<Response<ureq::Body>> {
        let follow = follow_redirects && matches!(method, Method::GET | Method::HEAD);
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.send_authorized(&method, &url, headers, body, scopes)?;
            let redirect = matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308);
            match header_str(&resp, "location").filter(|_| follow && redirect) {
                Some(loc) => url = resolve_location(origin(&url), &url, loc),
                None => return Ok(resp),
            }
        }
        Err(Error::Protocol {
            method: method_name(&method),
            url,
            what: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// Sends a request with the authorization `scopes` need, answering one 401 by
    /// (re)authenticating and resending when the body can be sent again.
    fn send_authorized(
        &self,
        method: &Method,
        url: &str,
        headers: &[(header::HeaderName, &str)],
        body: &mut Body,
        scopes: &[String],
    ) -> Result<Response<ureq::Body>> {
        // Only the registry itself gets our credentials, never a host a Location named.
        let ours = self.base.get().is_some_and(|b| {
            url.strip_prefix(b.as_str())
                .is_some_and(|r| r.starts_with('/'))
        });
        let mut auth = if ours {
            self.authorization(scopes, None)?
        } else {
            None
        };
        let mut retried = false;
        loop {
            let resp = self.send_once(method, url, headers, body, auth.as_deref())?;
            if resp.status() != StatusCode::UNAUTHORIZED || retried || !ours || !body.replayable() {
                return Ok(resp);
            }
            let Some(challenge) = challenge::pick(
                resp.headers()
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            ) else {
                return Ok(resp);
            };
            let extra = match &challenge {
                Challenge::Bearer { scope, .. } => scope.clone(),
                Challenge::Basic => None,
            };
            {
                let mut state = self.lock_auth();
                state.challenge = Some(challenge);
                state.tokens.remove(&scope_key(scopes, None));
            }
            let fresh = self.authorization(scopes, extra.as_deref())?;
            if fresh.is_none() || fresh == auth {
                return Ok(resp);
            }
            auth = fresh;
            retried = true;
        }
    }

    fn send_once(
        &self,
        method: &Method,
        url: &str,
        headers: &[(header::HeaderName, &str)],
        body: &mut Body,
        auth: Option<&str>,
    ) -> Result<Response<ureq::Body>> {
        let mut req = http::Request::builder().method(method.clone()).uri(url);
        for (k, v) in headers {
            req = req.header(k, *v);
        }
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let sent = if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            // Always a reader with an explicit Content-Length: registries refuse chunked
            // transfer encoding on uploads, and one body type keeps the lifetimes simple.
            let mut slice: &[u8] = match body {
                Body::Bytes(b) => b,
                _ => &[],
            };
            let (len, reader): (u64, &mut dyn Read) = match body {
                Body::Stream(r, len) => (*len, &mut **r),
                _ => (slice.len() as u64, &mut slice),
            };
            let req = req
                .header(header::CONTENT_LENGTH, len.to_string())
                .body(SendBody::from_reader(reader))
                .map_err(|e| self.bad_url(url, e))?;
            self.agent.run(req)
        } else {
            let req = req.body(()).map_err(|e| self.bad_url(url, e))?;
            self.agent.run(req)
        };
        sent.map_err(|e| Error::Transport {
            method: method_name(method),
            url: url.to_string(),
            source: Box::new(e),
        })
    }

    /// The `Authorization` value for `scopes` under the registry's challenge, fetching a
    /// token when there is no fresh one.
    fn authorization(&self, scopes: &[String], extra: Option<&str>) -> Result<Option<String>> {
        let key = scope_key(scopes, extra);
        let (realm, service) = {
            let state = self.lock_auth();
            match &state.challenge {
                None => return Ok(None),
                Some(Challenge::Basic) => {
                    return Ok(self
                        .credentials
                        .as_ref()
                        .map(|c| format!("Basic {}", c.encoded())))
                }
                Some(Challenge::Bearer { realm, service, .. }) => {
                    if let Some(t) = state.tokens.get(&key) {
                        if Instant::now() < t.renew_at {
                            return Ok(Some(format!("Bearer {}", t.value)));
                        }
                    }
                    (realm.clone(), service.clone())
                }
            }
        };
        // Fetched without the lock held: other threads keep going with their own tokens.
        let token = self.fetch_token(&realm, service.as_deref(), &key)?;
        let header = format!("Bearer {}", token.value);
        self.lock_auth().tokens.insert(key, token);
        Ok(Some(header))
    }

    /// The token flow of <https://distribution.github.io/distribution/spec/auth/token/>.
    fn fetch_token(&self, realm: &str, service: Option<&str>, scopes: &str) -> Result<Token> {
        let token_err = |message: String| Error::Token {
            realm: realm.to_string(),
            message,
        };
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return Err(token_err("the realm is not an http(s) URL".into()));
        }
        if realm.starts_with("http://") && self.credentials.is_some() && !self.insecure {
            return Err(token_err(
                "refusing to send credentials to a plain-http token server".into(),
            ));
        }
        let mut url = realm.to_string();
        if let Some(s) = service {
            url = with_query(&url, "service", s);
        }
        for s in scopes.split(' ').filter(|s| !s.is_empty()) {
            url = with_query(&url, "scope", s);
        }
        if let Some(c) = &self.credentials {
            url = with_query(&url, "account", c.username());
        }
        let mut req = http::Request::builder().method(Method::GET).uri(&url);
        if let Some(c) = &self.credentials {
            req = req.header(header::AUTHORIZATION, format!("Basic {}", c.encoded()));
        }
        let req = req
            .body(SendBody::none())
            .map_err(|e| token_err(format!("cannot build the request: {e}")))?;
        let resp = self.agent.run(req).map_err(|e| token_err(e.to_string()))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let d = detail(resp);
            // Docker Hub answers {"details": "incorrect username or password"}.
            #[derive(serde::Deserialize)]
            struct Hub {
                details: String,
            }
            let hub = serde_json::from_str::<Hub>(&d.text).ok().map(|h| h.details);
            let message = d.message().map(str::to_string).or(hub).unwrap_or_else(|| {
                if self.credentials.is_some() {
                    "incorrect username or password".into()
                } else {
                    "authentication required".into()
                }
            });
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                message,
            });
        }
        if !status.is_success() {
            return Err(token_err(format!(
                "status {}: {}",
                status.as_u16(),
                detail(resp)
            )));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
            #[serde(default)]
            expires_in: u64,
        }
        let mut text = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_TOKEN_BODY)
            .read_to_end(&mut text)
            .map_err(|e| token_err(format!("reading the answer: {e}")))?;
        let answer: Answer =
            serde_json::from_slice(&text).map_err(|e| token_err(format!("invalid answer: {e}")))?;
        let value = if answer.token.is_empty() {
            answer.access_token
        } else {
            answer.token
        };
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(token_err("the answer holds no usable token".into()));
        }
        let lifetime =
            Duration::from_secs(answer.expires_in.min(365 * 24 * 3600)).max(MIN_TOKEN_LIFETIME);
        Ok(Token {
            value,
            renew_at: Instant::now() + lifetime - TOKEN_MARGIN,
        })
    }
}

/// Tokens are cached per set of scopes, in a canonical order.
fn scope_key(scopes: &[String], extra: Option<&str>) -> String {
    let mut all: Vec<&str> = scopes.iter().map(String::as_str).collect();
    if let Some(e) = extra {
        all.extend(e.split(' ').filter(|s| !s.is_empty()));
    }
    all.sort_unstable();
    all.dedup();
    all.join(" ")
}

/// The caller's reader during a streamed PUT: counts what was sent and keeps its error,
/// which ureq would otherwise report as a failed request. Ending before `size` is an error
/// too: the request announced `size` bytes, and the registry would wait for the rest.
struct Source<R> {
    inner: R,
    size: u64,
    read: u64,
    error: Option<io::Error>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if self.read < self.size && !buf.is_empty() => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the blob's source ended early",
            )),
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.error = Some(e);
                Err(copy)
            }
        }
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Client>();
        check::<Error>();
        fn send<T: Send>() {}
        send::<BlobReader>();
    }

    #[test]
    fn hosts() {
        for ok in [
            "docker.io",
            "localhost:5000",
            "127.0.0.1:1",
            "[::1]:5000",
            "[::1]",
            "a-b.c",
        ] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in [
            "", "http://x", "x/y", "x:", "x:abc", "-x", "a..b", "[::1", "u@h", "h:123456",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
        for lo in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:80",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(is_loopback(lo), "{lo}");
        }
        for not in [
            "docker.io",
            "10.0.0.1:5000",
            "localhost.example:1",
            "[::2]:5000",
        ] {
            assert!(!is_loopback(not), "{not}");
        }
        let c = Client::new("docker.io", ClientOptions::default()).unwrap();
        assert_eq!(c.host, DOCKER_HUB_HOST);
        assert!(!c.is_insecure());
        assert_eq!(c.familiar("library/busybox"), "busybox");
        let c = Client::new("localhost:5000", ClientOptions::default()).unwrap();
        assert!(c.is_insecure());
        assert_eq!(c.familiar("a/b"), "localhost:5000/a/b");
        assert!(Client::new("https://x", ClientOptions::default()).is_err());
    }

    #[test]
    fn names_and_references() {
        for ok in ["a", "library/busybox", "a.b/c_d/e__f/g-h--i"] {
            assert!(check_repo(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "a/../b", "a?b", "a b", "-a", "a%2f",
        ] {
            assert!(check_repo(bad).is_err(), "{bad}");
        }
        assert_eq!(check_reference("latest").unwrap(), None);
        let d = Digest::of(b"x");
        assert_eq!(check_reference(&d.to_string()).unwrap(), Some(d));
        for bad in ["", ".x", "-x", "a/b", "a?b", "sha256:zz", "x#y"] {
            assert!(check_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locations_and_queries() {
        let base = "http://h:5000";
        let cur = "http://h:5000/v2/r/blobs/uploads/";
        assert_eq!(
            resolve_location(base, cur, "/v2/r/blobs/uploads/u?_state=x"),
            "http://h:5000/v2/r/blobs/uploads/u?_state=x"
        );
        assert_eq!(
            resolve_location(base, cur, "https://s3/up?sig=1"),
            "https://s3/up?sig=1"
        );
        assert_eq!(resolve_location(base, cur, "//cdn/x"), "http://cdn/x");
        assert_eq!(
            resolve_location(base, "http://h:5000/v2/r/blobs/uploads/?a=b", "u1"),
            "http://h:5000/v2/r/blobs/uploads/u1"
        );
        assert_eq!(
            with_query("http://h/u", "digest", "sha256:ab"),
            "http://h/u?digest=sha256%3Aab"
        );
        assert_eq!(
            with_query("http://h/u?s=1", "k", "a/b c"),
            "http://h/u?s=1&k=a%2Fb%20c"
        );
        assert_eq!(with_query("http://h/u?", "k", "v"), "http://h/u?k=v");
    }

    #[test]
    fn origins() {
        assert_eq!(origin("http://h:5000/v2/x?y"), "http://h:5000");
        assert_eq!(origin("https://s3.example?sig=1"), "https://s3.example");
        assert_eq!(origin("https://h"), "https://h");
    }

    #[test]
    fn scope_keys_are_canonical() {
        let a = scope_key(
            &[push_scope("b"), pull_scope("a")],
            Some("repository:a:pull"),
        );
        let b = scope_key(&[pull_scope("a"), push_scope("b")], None);
        assert_eq!(a, b);
        assert_eq!(scope_key(&[], None), "");
    }

    #[test]
    fn media_type_fallback() {
        let m = br#"{"mediaType":"application/vnd.oci.image.index.v1+json"}"#;
        assert_eq!(
            manifest_media_type(Some("application/json; charset=utf-8"), m),
            media_types::OCI_INDEX
        );
        assert_eq!(
            manifest_media_type(Some(media_types::DOCKER_MANIFEST), m),
            media_types::DOCKER_MANIFEST
        );
        assert_eq!(manifest_media_type(None, b"{}"), "");
    }
}
