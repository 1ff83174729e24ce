//! Servers that fail, lie or hang up, played by the tiny in-test server.

mod common;

use std::io::Read;
use std::net::TcpListener;

use berth_image::Digest;
use berth_registry::{media_types, Client, ClientOptions, Error, Upload};
use common::{pattern, read_all, Reply, Request, TinyServer};

fn v2_ok(req: &Request) -> Option<Reply> {
    (req.path() == "/v2/").then(|| Reply::new(200).json("{}"))
}

#[test]
fn server_errors_say_status_url_and_body() {
    let s = TinyServer::start(|req: &Request| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        if req.path().ends_with("/manifests/plain") {
            return Reply::new(500).body("database on fire");
        }
        Reply::new(503).json(
            r#"{"errors":[{"code":"UNAVAILABLE","message":"service unavailable","detail":null}]}"#,
        )
    });
    let c = s.client();
    let err = c.manifest("a/b", "plain", &[]).unwrap_err();
    assert!(matches!(err, Error::Server { status: 500, .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(
        err.to_string(),
        format!(
            "Get \"http://{}/v2/a/b/manifests/plain\": registry server error 500: database on fire",
            s.host()
        )
    );
    let err = c.blob("a/b", &Digest::of(b"x"), 0).unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(
        err.to_string()
            .ends_with("registry server error 503: unavailable: service unavailable"),
        "{err}"
    );
}

#[test]
fn connection_dropped_mid_blob_is_a_read_error() {
    let data = pattern(100_000, 1);
    let d = Digest::of(&data);
    let sent = data[..30_000].to_vec();
    let s = TinyServer::start(move |req: &Request| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        Reply {
            declared_len: Some(100_000),
            ..Reply::new(200).body(sent.clone())
        }
    });
    let c = s.client();
    let mut r = c.blob("a", &d, 0).unwrap();
    assert_eq!(r.length(), Some(100_000));
    let mut got = Vec::new();
    let err = r.read_to_end(&mut got).unwrap_err();
    assert_eq!(got, &data[..30_000], "what arrived is kept");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ) || err.to_string().contains("close"),
        "{err:?}"
    );
}

#[test]
fn range_requests_honoured_ignored_or_botched() {
    let data = pattern(10_000, 2);
    let d = Digest::of(&data);
    let blob = data.clone();
    let s = TinyServer::start(move |req: &Request| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        let repo = req.path().split('/').nth(2).unwrap();
        let from: usize = req
            .header("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .map_or(0, |n| n.parse().unwrap());
        match repo {
            "ranged" if from >= blob.len() => Reply::new(416),
            // A registry that supports ranges.
            "ranged" if from > 0 => Reply::new(206)
                .header(
                    "Content-Range",
                    format!("bytes {from}-{}/{}", blob.len() - 1, blob.len()),
                )
                .body(blob[from..].to_vec()),
            // One that ignores them and sends everything.
            "ranged" | "whole" => Reply::new(200).body(blob.clone()),
            // One that answers a different range than asked.
            _ => Reply::new(206)
                .header(
                    "Content-Range",
                    format!("bytes 0-{}/{}", blob.len() - 1, blob.len()),
                )
                .body(blob.clone()),
        }
    });
    let c = s.client();
    for repo in ["ranged", "whole"] {
        for offset in [0u64, 1, 4321, 9999] {
            let r = c.blob(repo, &d, offset).unwrap();
            assert_eq!(r.length(), Some(10_000 - offset), "{repo} {offset}");
            assert_eq!(read_all(r), &data[offset as usize..], "{repo} {offset}");
        }
    }
    let asked: Vec<_> = s
        .requests()
        .iter()
        .filter(|r| r.path().starts_with("/v2/ranged/"))
        .map(|r| r.header("range").map(str::to_string))
        .collect();
    assert_eq!(
        asked,
        [
            None,
            Some("bytes=1-".into()),
            Some("bytes=4321-".into()),
            Some("bytes=9999-".into())
        ]
    );
    let err = c.blob("botched", &d, 100).unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    let err = c.blob("ranged", &d, 10_000).unwrap_err();
    assert!(
        matches!(err, Error::RangeNotSatisfiable { offset: 10_000, .. }),
        "{err:?}"
    );
    // Past the end of a registry that sends the whole blob.
    let err = c.blob("whole", &d, 20_000).unwrap_err();
    assert!(matches!(err, Error::RangeNotSatisfiable { .. }), "{err:?}");
}

#[test]
fn manifests_that_do_not_match_their_digest_are_refused() {
    let good = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
    let evil =
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","x":1}"#;
    let (good_d, evil_d) = (Digest::of(good), Digest::of(evil));
    let (gd, ed) = (good_d.clone(), evil_d.clone());
    let s = TinyServer::start(move |req: &Request| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        let reply = Reply::new(200).header("Content-Type", media_types::OCI_MANIFEST);
        match req.path().rsplit('/').next().unwrap() {
            // Says it is `good` but sends `evil`.
            "lying-header" => reply
                .header("Docker-Content-Digest", gd.to_string())
                .body(evil.to_vec()),
            // Honest header, but not what the digest reference asked for.
            _ => reply
                .header("Docker-Content-Digest", ed.to_string())
                .body(evil.to_vec()),
        }
    });
    let c = s.client();
    let err = c.manifest("a", "lying-header", &[]).unwrap_err();
    match &err {
        Error::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, &good_d.to_string());
            assert_eq!(actual, &evil_d);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("Docker-Content-Digest"), "{err}");
    let err = c.manifest("a", &good_d.to_string(), &[]).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains(&good_d.to_string()), "{err}");
    // HEAD sees the lie in the header when asked by digest.
    let err = c.head_manifest("a", &good_d.to_string(), &[]).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
}

#[test]
fn oversized_manifests_are_refused() {
    let big = vec![b' '; 5000];
    let s = TinyServer::start(move |req: &Request| {
        v2_ok(req).unwrap_or_else(|| Reply::new(200).json(std::str::from_utf8(&big).unwrap()))
    });
    let c = Client::new(
        &s.host(),
        ClientOptions {
            max_manifest_size: 4096,
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let err = c.manifest("a", "big", &[]).unwrap_err();
    assert!(
        matches!(err, Error::ManifestTooLarge { limit: 4096, .. }),
        "{err:?}"
    );
}

#[test]
fn nothing_listening_is_unreachable() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::new(&format!("127.0.0.1:{port}"), ClientOptions::default()).unwrap();
    let err = c.ping().unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("https://127.0.0.1:{port}/v2/")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("http://127.0.0.1:{port}/v2/")),
        "{msg}"
    );
}

#[test]
fn upload_protocol_errors() {
    let s = TinyServer::start(|req: &Request| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        match (req.method.as_str(), req.path()) {
            // No Location for the session.
            ("POST", "/v2/noloc/blobs/uploads/") => Reply::new(202),
            ("POST", "/v2/gap/blobs/uploads/") => {
                Reply::new(202).header("Location", "/v2/gap/blobs/uploads/s1")
            }
            // Holds less than was sent.
            ("PATCH", _) => Reply::new(202)
                .header("Location", "/v2/gap/blobs/uploads/s1")
                .header("Range", "0-9"),
            // A redirect of a PUT is an error, not a reason to GET elsewhere.
            ("POST", "/v2/redir/blobs/uploads/") => {
                Reply::new(202).header("Location", "/v2/redir/blobs/uploads/s1")
            }
            ("PUT", "/v2/redir/blobs/uploads/s1") => {
                Reply::new(307).header("Location", "/elsewhere")
            }
            ("DELETE", _) => Reply::new(204),
            _ => Reply::new(404),
        }
    });
    let c = s.client();
    let data = pattern(100, 3);
    let d = Digest::of(&data);
    let err = c
        .push_blob("noloc", &d, 100, &data[..], Upload::Monolithic)
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("Location"), "{err}");
    let err = c
        .push_blob("gap", &d, 100, &data[..], Upload::Chunked(50))
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    let err = c
        .push_blob("redir", &d, 100, &data[..], Upload::Monolithic)
        .unwrap_err();
    assert!(matches!(err, Error::Status { status: 307, .. }), "{err:?}");
    assert_eq!(s.count("GET", "/elsewhere"), 0);
    // Failed sessions are cancelled.
    assert_eq!(s.count("DELETE", "/v2/gap/blobs/uploads/s1"), 1);
    assert_eq!(s.count("DELETE", "/v2/redir/blobs/uploads/s1"), 1);
}

#[test]
fn unsupported_or_generic_content_types() {
    // A registry that serves manifests as application/json: the media type comes from the
    // manifest itself; HEAD without a digest header falls back to GET.
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#;
    let s = TinyServer::start(move |req: &Request| {
        v2_ok(req).unwrap_or_else(|| Reply::new(200).json(std::str::from_utf8(body).unwrap()))
    });
    let c = s.client();
    let m = c
        .manifest("a", "t", &[media_types::DOCKER_MANIFEST])
        .unwrap();
    assert_eq!(m.media_type, media_types::DOCKER_MANIFEST);
    let h = c.head_manifest("a", "t", &[]).unwrap().unwrap();
    assert_eq!(h.digest, Digest::of(body));
    assert_eq!(h.size, body.len() as u64);
    assert_eq!(h.media_type, media_types::DOCKER_MANIFEST);
    let accept: Vec<_> = s
        .requests()
        .iter()
        .filter(|r| r.path() == "/v2/a/manifests/t")
        .map(|r| r.header("accept").unwrap_or("").to_string())
        .collect();
    assert_eq!(accept[0], media_types::DOCKER_MANIFEST);
    assert!(accept[1].contains(media_types::OCI_INDEX), "{accept:?}");
}
