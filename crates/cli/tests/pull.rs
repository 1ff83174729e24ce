//! pull, push, login and logout end to end: the `berth` binary against a real
//! docker-registry on 127.0.0.1 (Debian's distribution 2.8), plain and with htpasswd auth,
//! and through a loopback proxy that misbehaves on purpose (cuts, stalls, corrupts, fails).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::{bin, have, run_image, runc_bin, sh, Env};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/registry.sh");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Registry {
    dir: tempfile::TempDir,
    port: u16,
}

impl Registry {
    fn start(htpasswd: Option<(&str, &str)>) -> Option<Registry> {
        if !have("docker-registry") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new("bash");
        cmd.arg(SCRIPT)
            .arg("start")
            .arg(dir.path())
            .arg(port.to_string());
        if let Some((user, pass)) = htpasswd {
            let file = dir.path().join("htpasswd");
            sh(&format!("htpasswd -Bbn {user} {pass} > {}", file.display()));
            cmd.arg(file);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Some(Registry { dir, port })
    }
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(SCRIPT)
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Close the first blob response after this many bytes.
    Cut(usize),
    /// Stop forwarding a blob response after this many bytes, holding the connection.
    Stall(usize),
    /// Flip one byte of every blob response at this offset into the body.
    Corrupt(usize),
    /// Answer every manifest request with a 500.
    Fail500,
}

/// A loopback TCP proxy in front of a registry that misbehaves on blob or manifest requests.
struct Proxy {
    port: u16,
    stop: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
}

fn relay_blob(mut from: TcpStream, mut to: TcpStream, fault: Fault, cuts: &AtomicUsize) {
    let mut buf = [0u8; 16384];
    let mut total = 0usize;
    let mut body_start: Option<usize> = None;
    let mut head = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &mut buf[..n];
        if body_start.is_none() {
            head.extend_from_slice(chunk);
            if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                body_start = Some(i + 4);
            }
        }
        let body_at = body_start.map(|b| total.saturating_sub(b));
        match fault {
            Fault::Corrupt(at) => {
                if let Some(b) = body_start {
                    let off = b + at;
                    if off >= total && off < total + n {
                        chunk[off - total] ^= 0xff;
                    }
                }
            }
            Fault::Cut(after) | Fault::Stall(after) => {
                if body_at.is_some_and(|done| done + n > after)
                    && cuts.fetch_add(1, Ordering::SeqCst) == 0
                {
                    let keep = after.saturating_sub(body_at.unwrap_or(0)).min(n);
                    let _ = to.write_all(&chunk[..keep]);
                    if fault == Fault::Stall(after) {
                        std::thread::sleep(std::time::Duration::from_secs(60));
                    }
                    let _ = to.shutdown(Shutdown::Both);
                    let _ = from.shutdown(Shutdown::Both);
                    return;
                }
            }
            Fault::Fail500 => {}
        }
        total += n;
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Proxy {
    fn start(upstream: u16, fault: Fault) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (s2, c2) = (stop.clone(), cuts.clone());
        std::thread::spawn(move || {
            for client in l.incoming() {
                if s2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut client) = client else { continue };
                let cuts = c2.clone();
                std::thread::spawn(move || {
                    // One request per connection: read it, decide, forward, relay the answer.
                    let mut req = Vec::new();
                    let mut buf = [0u8; 8192];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match client.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                        // A TLS hello (the https-first probe): plain http only here.
                        if req.first() == Some(&0x16) {
                            return;
                        }
                    }
                    let text = String::from_utf8_lossy(&req).to_string();
                    let line = text.lines().next().unwrap_or("").to_string();
                    if fault == Fault::Fail500 && line.contains("/manifests/") {
                        let body =
                            r#"{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}"#;
                        let _ = write!(
                            client,
                            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        return;
                    }
                    // Ask for one response per connection so faults hit one request.
                    let req = text.replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1);
                    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    let _ = up.write_all(req.as_bytes());
                    let is_blob = line.starts_with("GET ") && line.contains("/blobs/sha256:");
                    let c_in = client.try_clone().unwrap();
                    let u_out = up.try_clone().unwrap();
                    // Request bodies (uploads) go up as they are.
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut &c_in, &mut &u_out);
                    });
                    if is_blob && fault != Fault::Fail500 {
                        relay_blob(up, client, fault, &cuts);
                    } else {
                        let _ = std::io::copy(&mut up, &mut client);
                        let _ = client.shutdown(Shutdown::Both);
                    }
                });
            }
        });
        Proxy { port, stop, cuts }
    }
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// An env whose docker config (logins) is its own.
fn berth_in(e: &Env, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut c = Command::new(bin());
    c.arg("--root")
        .arg(e.root())
        .args(args)
        .env("DOCKER_CONFIG", e.path("docker"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn pushed_busybox(reg: &Registry, name: &str) -> (Env, String) {
    let e = Env::new();
    let id = e.import_busybox("busybox:latest");
    let target = format!("{}/{name}", reg.host());
    e.ok(&["tag", "busybox", &target]);
    let out = e.ok(&["push", &target]);
    assert!(
        out.contains(&format!("The push refers to repository [{}", reg.host())),
        "{out}"
    );
    assert!(
        out.contains(": Pushed") && out.contains("digest: sha256:"),
        "{out}"
    );
    (e, id)
}

#[test]
fn push_then_pull_into_a_fresh_store_and_run() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let (src, id) = pushed_busybox(&reg, "team/bb:1");
    // A second push finds everything there.
    let out = src.ok(&["push", &format!("{}/team/bb:1", reg.host())]);
    assert!(out.contains("Layer already exists"), "{out}");
    let e = Env::new();
    let name = format!("{}/team/bb:1", reg.host());
    let out = e.ok(&["pull", &name]);
    assert!(out.contains("1: Pulling from team/bb"), "{out}");
    assert!(
        out.contains("Pull complete") && out.contains("Status: Downloaded newer image for"),
        "{out}"
    );
    assert!(out.trim_end().ends_with(&name), "{out}");
    assert_eq!(e.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    let digests = e.ok(&["images", "--digests", "--format", "{{.Digest}}"]);
    assert!(digests.trim().starts_with("sha256:"), "{digests}");
    let again = e.ok(&["pull", &name]);
    assert!(again.contains("Status: Image is up to date"), "{again}");
    assert_eq!(e.ok(&["pull", "-q", &name]).trim(), name);
    // By digest, too.
    let by_digest = format!("{}/team/bb@{}", reg.host(), digests.trim());
    let e2 = Env::new();
    e2.ok(&["pull", &by_digest]);
    assert_eq!(e2.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    if runc_bin().is_some() {
        assert_eq!(
            run_image(&e, &name, &["/bin/echo", "pulled"]).trim(),
            "pulled"
        );
    }
    // Pushing to another repository of the same registry mounts the layer across.
    let other = format!("{}/team/copy:2", reg.host());
    e.ok(&["tag", &name, &other]);
    let out = e.ok(&["push", &other]);
    assert!(out.contains("Layer already exists"), "{out}");
}

#[test]
fn skopeo_interop_both_ways() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    if !have("skopeo") {
        return;
    }
    // skopeo pushes a docker-archive berth saved (it gzips the layer on the way), berth pulls.
    let e = Env::new();
    let id = e.import_busybox("busybox:latest");
    let archive = e.path("bb.tar.save");
    e.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    sh(&format!(
        "skopeo copy -q --dest-tls-verify=false docker-archive:{} docker://{}/sk/bb:1",
        archive.display(),
        reg.host()
    ));
    let e2 = Env::new();
    e2.ok(&["pull", &format!("{}/sk/bb:1", reg.host())]);
    assert_eq!(e2.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    // berth pushes, skopeo reads it back whole.
    e.ok(&["tag", "busybox", &format!("{}/sk/from-berth:1", reg.host())]);
    e.ok(&["push", &format!("{}/sk/from-berth:1", reg.host())]);
    let dir = e.path("oci-out");
    sh(&format!(
        "skopeo copy -q --src-tls-verify=false docker://{}/sk/from-berth:1 oci:{}:x",
        reg.host(),
        dir.display()
    ));
    let inspect = sh(&format!(
        "skopeo inspect --tls-verify=false docker://{}/sk/from-berth:1",
        reg.host()
    ));
    assert!(inspect.contains("\"Os\": \"linux\""), "{inspect}");
}

fn put_index(reg: &Registry, repo: &str, tag: &str, entries: &[(&str, &str, String, usize)]) {
    let manifests: Vec<String> = entries
        .iter()
        .map(|(arch, mt, digest, size)| {
            format!(r#"{{"mediaType":"{mt}","digest":"{digest}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#)
        })
        .collect();
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        manifests.join(",")
    );
    let path = std::env::temp_dir().join(format!("berth-index-{}.json", std::process::id()));
    std::fs::write(&path, body).unwrap();
    sh(&format!(
        "curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' --data-binary @{} http://{}/v2/{repo}/manifests/{tag}",
        path.display(),
        reg.host()
    ));
    let _ = std::fs::remove_file(path);
}

fn manifest_of(reg: &Registry, repo: &str, tag: &str) -> (String, String, usize) {
    let out = sh(&format!(
        "curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://{}/v2/{repo}/manifests/{tag}",
        reg.host()
    ));
    let header = |name: &str| {
        out.lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with(&name.to_ascii_lowercase())
            })
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    (
        header("Content-Type"),
        header("Docker-Content-Digest"),
        header("Content-Length").parse().unwrap_or(0),
    )
}

#[test]
fn platform_selection_from_an_index() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    // Two single-platform images: ours (amd64 host) and one imported as arm64.
    let e = Env::new();
    let tar = e.busybox_tar();
    e.ok(&[
        "import",
        tar.to_str().unwrap(),
        &format!("{}/multi/x:amd64", reg.host()),
    ]);
    e.ok(&[
        "import",
        "--platform",
        "linux/arm64",
        tar.to_str().unwrap(),
        &format!("{}/multi/x:arm64", reg.host()),
    ]);
    for t in ["amd64", "arm64"] {
        e.ok(&["push", &format!("{}/multi/x:{t}", reg.host())]);
    }
    let (mt_a, d_a, s_a) = manifest_of(&reg, "multi/x", "amd64");
    let (mt_b, d_b, s_b) = manifest_of(&reg, "multi/x", "arm64");
    put_index(
        &reg,
        "multi/x",
        "all",
        &[("amd64", &mt_a, d_a, s_a), ("arm64", &mt_b, d_b, s_b)],
    );
    let arch = |e: &Env| {
        e.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Architecture}}",
            &format!("{}/multi/x:all", reg.host()),
        ])
    };
    let host = Env::new();
    host.ok(&["pull", &format!("{}/multi/x:all", reg.host())]);
    assert_eq!(arch(&host).trim(), "amd64");
    let arm = Env::new();
    arm.ok(&[
        "pull",
        "--platform",
        "linux/arm64",
        &format!("{}/multi/x:all", reg.host()),
    ]);
    assert_eq!(arch(&arm).trim(), "arm64");
    // `create --platform`: a local image of another platform is refused, unless `--pull
    // always` fetches the one asked for.
    let image = format!("{}/multi/x:all", reg.host());
    let err = host.fails(&["create", "--platform", "linux/arm64", &image, "true"]);
    assert!(
        err.contains(&format!("image with reference {image} was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64")),
        "{err}"
    );
    host.ok(&[
        "create",
        "--pull",
        "always",
        "--platform",
        "linux/arm64",
        &image,
        "true",
    ]);
    assert_eq!(arch(&host).trim(), "arm64");
    let none = Env::new();
    let err = none.fails(&[
        "pull",
        "--platform",
        "linux/s390x",
        &format!("{}/multi/x:all", reg.host()),
    ]);
    assert!(
        err.contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{err}"
    );
    assert_eq!(none.leftovers(), (0, 0, 0));
}

#[test]
fn login_pull_push_with_htpasswd_auth() {
    let Some(reg) = Registry::start(Some(("alice", "s3cret-pw"))) else {
        return;
    };
    let e = Env::new();
    e.import_busybox("busybox:latest");
    let target = format!("{}/private/bb:1", reg.host());
    e.ok(&["tag", "busybox", &target]);
    let o = berth_in(&e, &["push", &target], None);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unauthorized") || err.contains("denied"),
        "{err}"
    );
    let o = berth_in(
        &e,
        &["login", "-u", "alice", "--password-stdin", &reg.host()],
        Some("wrong\n"),
    );
    assert!(!o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("wrong"));
    let o = berth_in(
        &e,
        &["login", "-u", "alice", "--password-stdin", &reg.host()],
        Some("s3cret-pw\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Login Succeeded"));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!all.contains("s3cret-pw"));
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.path("docker/config.json")).unwrap()).unwrap();
    assert!(cfg["auths"][reg.host()]["auth"].is_string(), "{cfg}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(e.path("docker/config.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let o = berth_in(&e, &["push", &target], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e2 = Env::new();
    std::fs::create_dir_all(e2.path("docker")).unwrap();
    std::fs::copy(e.path("docker/config.json"), e2.path("docker/config.json")).unwrap();
    let o = berth_in(&e2, &["pull", &target], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = berth_in(&e2, &["logout", &reg.host()], None);
    assert!(String::from_utf8_lossy(&o.stdout)
        .contains(&format!("Removing login credentials for {}", reg.host())));
    let e3 = Env::new();
    let o = berth_in(&e3, &["pull", &target], None);
    assert!(!o.status.success());
    assert_eq!(e3.leftovers(), (0, 0, 0));
}

#[test]
fn a_dropped_connection_resumes_where_it_stopped() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let (_src, id) = pushed_busybox(&reg, "resume/bb:1");
    let proxy = Proxy::start(reg.port, Fault::Cut(300_000));
    let e = Env::new();
    let out = e.ok(&["pull", &format!("{}/resume/bb:1", proxy.host())]);
    assert!(out.contains("Retrying from byte"), "{out}");
    assert!(proxy.cuts.load(Ordering::SeqCst) >= 1);
    assert_eq!(e.ok(&["images", "-q", "--no-trunc"]).trim(), id);
}

#[test]
fn a_corrupted_blob_is_refused_and_nothing_is_registered() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    pushed_busybox(&reg, "bad/bb:1");
    let proxy = Proxy::start(reg.port, Fault::Corrupt(1000));
    let e = Env::new();
    let err = e.fails(&["pull", &format!("{}/bad/bb:1", proxy.host())]);
    assert!(err.contains("mismatch"), "{err}");
    assert_eq!(e.ok(&["images", "-q"]), "");
    e.ok(&["image", "prune", "-f"]);
    assert_eq!(e.leftovers(), (0, 0, 0));
}

#[test]
fn a_failing_or_absent_registry_gives_a_clear_error() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    pushed_busybox(&reg, "err/bb:1");
    let proxy = Proxy::start(reg.port, Fault::Fail500);
    let e = Env::new();
    let err = e.fails(&["pull", &format!("{}/err/bb:1", proxy.host())]);
    assert!(
        err.contains("500") && err.contains("injected failure"),
        "{err}"
    );
    let err = e.fails(&["pull", &format!("127.0.0.1:{}/err/bb:1", free_port())]);
    assert!(err.contains("unreachable"), "{err}");
    let err = e.fails(&["pull", &format!("{}/err/missing:1", reg.host())]);
    assert!(
        err.contains("not found") || err.contains("unknown"),
        "{err}"
    );
    assert_eq!(e.leftovers(), (0, 0, 0));
}

#[test]
fn a_pull_killed_mid_blob_is_cleaned_then_done_again() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let (_src, id) = pushed_busybox(&reg, "kill/bb:1");
    let proxy = Proxy::start(reg.port, Fault::Stall(500_000));
    let e = Env::new();
    let mut child = Command::new(bin())
        .arg("--root")
        .arg(e.root())
        .args(["pull", "-q", &format!("{}/kill/bb:1", proxy.host())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the download is under way (a partial ingest file exists), then kill -9.
    let ingest: PathBuf = e.root().join("ingest");
    for _ in 0..200 {
        if std::fs::read_dir(&ingest).is_ok_and(|d| d.count() > 0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(e.ok(&["images", "-q"]), "");
    e.ok(&["image", "prune", "-f"]);
    assert_eq!(e.leftovers(), (0, 0, 0));
    e.ok(&["pull", "-q", &format!("{}/kill/bb:1", reg.host())]);
    assert_eq!(e.ok(&["images", "-q", "--no-trunc"]).trim(), id);
}

#[test]
fn garbage_collection_never_takes_a_running_pulls_blobs() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let (_src, id) = pushed_busybox(&reg, "gc/bb:1");
    let proxy = Proxy::start(reg.port, Fault::Stall(500_000));
    let e = Env::new();
    let mut child = Command::new(bin())
        .arg("--root")
        .arg(e.root())
        .args(["pull", "-q", &format!("{}/gc/bb:1", proxy.host())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the pull has its config in the store (under its lease) and is part way
    // through the layer (an ingest file), however slow the machine is.
    let ingest: PathBuf = e.root().join("ingest");
    let config = e
        .root()
        .join("blobs/sha256")
        .join(id.trim_start_matches("sha256:"));
    for _ in 0..800 {
        if config.exists() && std::fs::read_dir(&ingest).is_ok_and(|d| d.count() > 0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(config.exists());
    e.ok(&["image", "prune", "-af"]);
    e.ok(&["system", "prune", "-af"]);
    assert!(config.exists(), "GC took a blob a live pull holds");
    let (blobs, snapshots, ingesting) = e.leftovers();
    assert!(
        blobs >= 2 && snapshots == 1 && ingesting == 1,
        "{blobs} {snapshots} {ingesting}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    e.ok(&["image", "prune", "-af"]);
    assert_eq!(e.leftovers(), (0, 0, 0));
}

#[test]
fn a_terminal_gets_progress_bars_and_a_pipe_gets_lines() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    if !have("script") {
        return;
    }
    pushed_busybox(&reg, "tty/bb:1");
    let e = Env::new();
    // script(1) gives berth a pty for stdout, as an interactive shell would.
    let out = sh(&format!(
        "script -qfec '{} --root {} pull {}/tty/bb:1' /dev/null",
        bin().display(),
        e.root().display(),
        reg.host()
    ));
    assert!(
        out.contains("Pull complete") && out.contains("Status: Downloaded newer image"),
        "{out}"
    );
    assert!(
        !out.contains("Pulling fs layer"),
        "a terminal gets bars, not lines: {out}"
    );
    let e2 = Env::new();
    let piped = e2.ok(&["pull", &format!("{}/tty/bb:1", reg.host())]);
    assert!(
        piped.contains("Pulling fs layer") && piped.contains("Download complete"),
        "{piped}"
    );
}
