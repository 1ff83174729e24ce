//! Authentication: Basic against a real docker-registry with htpasswd, and the Bearer
//! token flow against a tiny in-test token server + registry.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use berth_image::Digest;
use berth_registry::{media_types, Client, ClientOptions, Credentials, Error, Upload};
use common::{read_all, Registry, Reply, Request, TestImage, TinyServer};

const USER: &str = "berth-user";
const PASS: &str = "s3cret-Pa55";

fn htpasswd_registry() -> Registry {
    let out = Command::new("htpasswd")
        .args(["-Bbn", USER, PASS])
        .output()
        .expect("htpasswd (apache2-utils) is needed");
    assert!(out.status.success());
    Registry::start_with(Some(&out.stdout))
}

#[test]
fn basic_auth_refuses_anonymous_clients_clearly() {
    let reg = htpasswd_registry();
    let c = reg.client();
    let err = c.ping().unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().starts_with("unauthorized: "), "{err}");

    let err = c.manifest("some/repo", "latest", &[]).unwrap_err();
    assert!(matches!(err, Error::PullDenied { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "pull access denied for {}/some/repo, repository does not exist or may require 'docker login'",
            reg.host()
        )),
        "{err}"
    );

    let d = Digest::of(b"data");
    let err = c
        .push_blob("some/repo", &d, 4, &b"data"[..], Upload::Monolithic)
        .unwrap_err();
    assert!(matches!(err, Error::PushDenied { .. }), "{err:?}");
}

#[test]
fn basic_auth_with_credentials_pushes_and_pulls() {
    let reg = htpasswd_registry();
    let c = reg.client_as(USER, PASS);
    c.ping().unwrap();
    let img = TestImage::new("private\n");
    let digest = img.push(&c, "private/app", "1.0");
    let m = c.manifest("private/app", "1.0", &[]).unwrap();
    assert_eq!(m.digest, digest);
    assert_eq!(
        read_all(c.blob("private/app", &img.layer_digest(), 0).unwrap()),
        img.layer
    );
    // Chunked uploads and mounts carry the credentials on every request too.
    let data = common::pattern(5000, 9);
    let dd = Digest::of(&data);
    c.push_blob("private/app", &dd, 5000, &data[..], Upload::Chunked(1500))
        .unwrap();
    assert!(c.mount_blob("private/other", &dd, "private/app").unwrap());
}

#[test]
fn basic_auth_wrong_password_is_unauthorized_and_secret() {
    let reg = htpasswd_registry();
    let c = reg.client_as(USER, "wrong-password-xyz");
    let err = c.ping().unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(!err.to_string().contains("wrong-password-xyz"), "{err}");
    assert!(!format!("{err:?}").contains("wrong-password-xyz"));
    assert!(!format!("{c:?}").contains("wrong-password-xyz"), "{c:?}");
}

/// How the tiny Bearer registry behaves.
#[derive(Clone, Default)]
struct Bearer {
    /// Credentials the token server demands (anonymous tokens otherwise).
    creds: Option<(&'static str, &'static str)>,
    /// Answer with `access_token` instead of `token`.
    access_token: bool,
    /// Reject the first token issued for the registry endpoints (as if it expired).
    reject_first: bool,
    /// Where uploads go (`Location` of the POST); relative to this server by default.
    upload_to: Option<String>,
    /// Where blob GETs are redirected (a "storage backend").
    redirect_blobs_to: Option<String>,
}

fn basic(user: &str, pass: &str) -> String {
    // The test's own encoder: independent of the crate's.
    let raw = format!("{user}:{pass}");
    let out = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(raw.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    format!("Basic {}", String::from_utf8(out.stdout).unwrap())
}

fn bearer_server(cfg: Bearer) -> (TinyServer, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let img = TestImage::new("bearer\n");
    let counter = issued.clone();
    let server = TinyServer::start(move |req: &Request| {
        let challenge = |scope: Option<&str>| {
            let mut v = format!(
                "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"tiny.test\"",
                req.port
            );
            if let Some(s) = scope {
                v.push_str(&format!(",scope=\"{s}\",error=\"insufficient_scope\""));
            }
            Reply::new(401)
                .header("WWW-Authenticate", v)
                .json(r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#)
        };
        // Tokens are "tok<N>:<scopes joined by +>"; they carry their own grants.
        let token = req
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        let grants = |scope: &str| {
            let Some((n, scopes)) = token.split_once(':') else {
                return false;
            };
            if cfg.reject_first && n == "tok1" {
                return false;
            }
            scopes.split('+').any(|s| s == scope)
        };
        let path = req.path();
        if path == "/token" {
            if req.query("service") != ["tiny.test"] {
                return Reply::new(400).body("bad service");
            }
            if let Some((u, p)) = cfg.creds {
                if req.header("authorization") != Some(basic(u, p).as_str()) {
                    return Reply::new(401).json(r#"{"details":"incorrect username or password"}"#);
                }
            }
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let tok = format!("tok{n}:{}", req.query("scope").join("+"));
            let field = if cfg.access_token {
                "access_token"
            } else {
                "token"
            };
            return Reply::new(200).json(&format!(r#"{{"{field}":"{tok}","expires_in":300}}"#));
        }
        if path == "/v2/" {
            return if token.is_empty() {
                challenge(None)
            } else {
                Reply::new(200).json("{}")
            };
        }
        let repo_scope = |repo: &str, actions: &str| format!("repository:{repo}:{actions}");
        if let Some(rest) = path.strip_prefix("/v2/") {
            let (repo, what) = rest
                .split_once("/manifests/")
                .map(|(r, w)| (r, ("m", w)))
                .or_else(|| {
                    rest.split_once("/blobs/uploads")
                        .map(|(r, w)| (r, ("u", w)))
                })
                .or_else(|| rest.split_once("/blobs/").map(|(r, w)| (r, ("b", w))))
                .unwrap();
            let need = if req.method == "GET" || req.method == "HEAD" {
                repo_scope(repo, "pull")
            } else {
                repo_scope(repo, "pull,push")
            };
            if !grants(&need) {
                return challenge(Some(&need));
            }
            return match what {
                ("m", _) => Reply::new(200)
                    .header("Content-Type", media_types::OCI_MANIFEST)
                    .header("Docker-Content-Digest", img.manifest_digest().to_string())
                    .body(img.manifest.clone()),
                ("b", _) => match &cfg.redirect_blobs_to {
                    Some(to) => Reply::new(307).header("Location", to.clone()),
                    None => Reply::new(200).body(img.layer.clone()),
                },
                ("u", "/") if req.method == "POST" => {
                    if !req.query("mount").is_empty() {
                        let from = &req.query("from")[0];
                        if !grants(&repo_scope(from, "pull")) {
                            return challenge(Some(&repo_scope(from, "pull")));
                        }
                        return Reply::new(201);
                    }
                    let loc = cfg
                        .upload_to
                        .clone()
                        .unwrap_or_else(|| format!("/v2/{repo}/blobs/uploads/u1"));
                    Reply::new(202).header("Location", loc)
                }
                ("u", _) if req.method == "PUT" => {
                    let want = req.query("digest");
                    if want != [Digest::of(&req.body).to_string()] {
                        return Reply::new(400)
                            .json(r#"{"errors":[{"code":"DIGEST_INVALID","message":"bad"}]}"#);
                    }
                    Reply::new(201).header("Docker-Content-Digest", want[0].clone())
                }
                ("u", _) if req.method == "DELETE" => Reply::new(204),
                _ => Reply::new(404),
            };
        }
        Reply::new(404)
    });
    (server, issued)
}

fn token_requests(s: &TinyServer) -> Vec<Request> {
    s.requests()
        .into_iter()
        .filter(|r| r.path() == "/token")
        .collect()
}

#[test]
fn anonymous_bearer_token_is_fetched_once_per_scope() {
    let (s, issued) = bearer_server(Bearer::default());
    let c = s.client();
    let img = TestImage::new("bearer\n");
    let m = c.manifest("team/app", "v1", &[]).unwrap();
    assert_eq!(m.bytes, img.manifest);
    assert_eq!(m.digest, img.manifest_digest());
    let m2 = c.manifest("team/app", "v2", &[]).unwrap();
    assert_eq!(m2, m);
    assert_eq!(
        read_all(c.blob("team/app", &img.layer_digest(), 0).unwrap()),
        img.layer
    );
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "one token serves one scope"
    );

    let t = token_requests(&s);
    assert_eq!(t[0].query("scope"), ["repository:team/app:pull"]);
    assert_eq!(t[0].query("service"), ["tiny.test"]);
    assert_eq!(t[0].header("authorization"), None, "anonymous");
    assert!(t[0].query("account").is_empty());

    // Another repository is another scope, another token.
    c.manifest("team/other", "v1", &[]).unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

#[test]
fn bearer_with_credentials_for_push_and_mount_scopes() {
    let (s, _) = bearer_server(Bearer {
        creds: Some((USER, PASS)),
        ..Bearer::default()
    });
    let c = Client::new(
        &s.host(),
        ClientOptions {
            credentials: Some(Credentials::new(USER, PASS)),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    c.ping().unwrap();
    let data = b"some layer bytes".to_vec();
    let d = Digest::of(&data);
    c.push_blob(
        "me/app",
        &d,
        data.len() as u64,
        &data[..],
        Upload::Monolithic,
    )
    .unwrap();
    assert!(c.mount_blob("me/copy", &d, "me/app").unwrap());

    let t = token_requests(&s);
    for r in &t {
        assert_eq!(r.header("authorization"), Some(basic(USER, PASS).as_str()));
        assert_eq!(r.query("account"), [USER]);
    }
    assert!(
        t.iter().any(|r| r.query("scope").is_empty()),
        "login asks for no scope"
    );
    assert!(t
        .iter()
        .any(|r| r.query("scope") == ["repository:me/app:pull,push"]));
    let mut mount = t
        .iter()
        .find(|r| r.query("scope").len() == 2)
        .expect("one token for both mount scopes")
        .query("scope");
    mount.sort();
    assert_eq!(
        mount,
        ["repository:me/app:pull", "repository:me/copy:pull,push"]
    );
    // The upload went to the relative Location with the blob.
    let put = s
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.path(), "/v2/me/app/blobs/uploads/u1");
    assert_eq!(put.body, data);
}

#[test]
fn bearer_bad_credentials_is_unauthorized_without_leaking() {
    let (s, _) = bearer_server(Bearer {
        creds: Some((USER, PASS)),
        ..Bearer::default()
    });
    let c = Client::new(
        &s.host(),
        ClientOptions {
            credentials: Some(Credentials::new(USER, "hunter2-wrong")),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let err = c.ping().unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "unauthorized: incorrect username or password (registry {})",
            s.host()
        )
    );
    assert!(!format!("{err:?}").contains("hunter2"));
    let err = c.manifest("me/app", "v1", &[]).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn access_token_field_and_a_rejected_token_is_renewed_once() {
    let (s, issued) = bearer_server(Bearer {
        access_token: true,
        reject_first: true,
        ..Bearer::default()
    });
    let c = s.client();
    c.manifest("x/y", "v1", &[]).unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let manifest_gets = s
        .requests()
        .iter()
        .filter(|r| r.path() == "/v2/x/y/manifests/v1")
        .count();
    assert_eq!(manifest_gets, 2);
}

#[test]
fn tokens_never_go_to_other_hosts() {
    // A "storage backend" and an "upload service" on other ports record what they get.
    let store = TinyServer::start(|r: &Request| {
        if r.method == "GET" {
            Reply::new(200).body(TestImage::new("bearer\n").layer)
        } else {
            let want = r.query("digest");
            Reply::new(201).header("Docker-Content-Digest", want[0].clone())
        }
    });
    let (s, _) = bearer_server(Bearer {
        redirect_blobs_to: Some(format!("http://127.0.0.1:{}/blob?sig=abc", store.port)),
        upload_to: Some(format!("http://127.0.0.1:{}/upload/u1?state=x", store.port)),
        ..Bearer::default()
    });
    let c = s.client();
    let img = TestImage::new("bearer\n");
    assert_eq!(
        read_all(c.blob("r/s", &img.layer_digest(), 0).unwrap()),
        img.layer
    );
    let data = b"abc".to_vec();
    c.push_blob("r/s", &Digest::of(&data), 3, &data[..], Upload::Monolithic)
        .unwrap();
    let seen = store.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for r in &seen {
        assert_eq!(r.header("authorization"), None, "{r:?}");
    }
    assert_eq!(seen[0].target, "/blob?sig=abc");
    assert_eq!(seen[1].path(), "/upload/u1");
    assert_eq!(seen[1].query("state"), ["x"]);
    assert_eq!(seen[1].body, data);
}

#[test]
fn shared_client_fetches_in_parallel_with_one_token() {
    let (s, issued) = bearer_server(Bearer::default());
    let c = Arc::new(s.client());
    let img = TestImage::new("bearer\n");
    // Settle the endpoint and token first; then many threads share them.
    c.manifest("p/q", "v1", &[]).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let c = c.clone();
            let layer = &img.layer;
            let d = img.layer_digest();
            scope.spawn(move || assert_eq!(&read_all(c.blob("p/q", &d, 0).unwrap()), layer));
        }
    });
    assert_eq!(issued.load(Ordering::SeqCst), 1);
}
