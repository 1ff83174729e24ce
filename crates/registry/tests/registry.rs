//! Against a real docker-registry (distribution 2.8) on 127.0.0.1.

mod common;

use std::io::Read;
use std::sync::Arc;

use berth_image::Digest;
use berth_registry::{media_types, Error, Upload};
use common::{pattern, read_all, Registry, TestImage};

#[test]
fn monolithic_push_exists_and_pull_back() {
    let reg = Registry::start();
    let c = reg.client();
    let data = pattern(100_000, 1);
    let d = Digest::of(&data);
    assert_eq!(c.blob_exists("a/b", &d).unwrap(), None);
    c.push_blob("a/b", &d, data.len() as u64, &data[..], Upload::Monolithic)
        .unwrap();
    assert_eq!(c.blob_exists("a/b", &d).unwrap(), Some(data.len() as u64));
    let r = c.blob("a/b", &d, 0).unwrap();
    assert_eq!(r.length(), Some(data.len() as u64));
    assert_eq!(read_all(r), data);
    // The registry was reached over plain http after https failed (loopback is insecure).
    assert_eq!(
        c.base_url(),
        Some(format!("http://{}", reg.host()).as_str())
    );
}

#[test]
fn chunked_push_with_uneven_chunks() {
    let reg = Registry::start();
    let c = reg.client();
    let data = pattern(10_007, 2);
    let d = Digest::of(&data);
    c.push_blob(
        "chunks",
        &d,
        data.len() as u64,
        &data[..],
        Upload::Chunked(1000),
    )
    .unwrap();
    assert_eq!(read_all(c.blob("chunks", &d, 0).unwrap()), data);
    // One chunk bigger than the blob.
    let small = pattern(10, 3);
    let ds = Digest::of(&small);
    c.push_blob("chunks", &ds, 10, &small[..], Upload::Chunked(1 << 20))
        .unwrap();
    assert_eq!(read_all(c.blob("chunks", &ds, 0).unwrap()), small);
}

#[test]
fn empty_blobs_push_both_ways() {
    let reg = Registry::start();
    let c = reg.client();
    let d = Digest::of(b"");
    c.push_blob("e1", &d, 0, &b""[..], Upload::Monolithic)
        .unwrap();
    c.push_blob("e2", &d, 0, &b""[..], Upload::Chunked(100))
        .unwrap();
    for repo in ["e1", "e2"] {
        assert_eq!(c.blob_exists(repo, &d).unwrap(), Some(0));
        assert!(read_all(c.blob(repo, &d, 0).unwrap()).is_empty());
    }
}

#[test]
fn resume_from_an_offset() {
    let reg = Registry::start();
    let c = reg.client();
    let data = pattern(50_000, 4);
    let d = Digest::of(&data);
    c.push_blob("r", &d, data.len() as u64, &data[..], Upload::Monolithic)
        .unwrap();
    for offset in [1u64, 4096, 49_999] {
        let r = c.blob("r", &d, offset).unwrap();
        assert_eq!(r.length(), Some(data.len() as u64 - offset));
        assert_eq!(read_all(r), &data[offset as usize..], "offset {offset}");
    }
    // Nothing left to fetch is an error of its own, not an empty body.
    let err = c.blob("r", &d, 50_000).unwrap_err();
    assert!(
        matches!(err, Error::RangeNotSatisfiable { offset: 50_000, .. }),
        "{err:?}"
    );
    // A reader can stop half way; a second request resumes where the first stopped.
    let mut first = c.blob("r", &d, 0).unwrap();
    let mut head = vec![0u8; 12_345];
    first.read_exact(&mut head).unwrap();
    drop(first);
    let mut all = head;
    all.extend(read_all(c.blob("r", &d, all.len() as u64).unwrap()));
    assert_eq!(all, data);
}

#[test]
fn cross_repository_mount() {
    let reg = Registry::start();
    let c = reg.client();
    let data = pattern(3000, 5);
    let d = Digest::of(&data);
    c.push_blob("src/repo", &d, 3000, &data[..], Upload::Monolithic)
        .unwrap();
    assert!(c.mount_blob("dst/repo", &d, "src/repo").unwrap());
    assert_eq!(c.blob_exists("dst/repo", &d).unwrap(), Some(3000));
    assert_eq!(read_all(c.blob("dst/repo", &d, 0).unwrap()), data);
    // Not in the source: the registry starts an upload instead, and we say so.
    let other = Digest::of(b"not pushed");
    assert!(!c.mount_blob("dst/repo", &other, "src/repo").unwrap());
    assert_eq!(c.blob_exists("dst/repo", &other).unwrap(), None);
}

#[test]
fn manifest_by_tag_and_by_digest() {
    let reg = Registry::start();
    let c = reg.client();
    let img = TestImage::new("hello from berth\n");
    let digest = img.push(&c, "lib/hello", "v1");
    assert_eq!(digest, img.manifest_digest());

    let m = c.manifest("lib/hello", "v1", &[]).unwrap();
    assert_eq!(m.bytes, img.manifest);
    assert_eq!(m.digest, digest);
    assert_eq!(m.media_type, media_types::OCI_MANIFEST);

    let by_digest = c.manifest("lib/hello", &digest.to_string(), &[]).unwrap();
    assert_eq!(by_digest, m);

    let head = c.head_manifest("lib/hello", "v1", &[]).unwrap().unwrap();
    assert_eq!(head.digest, digest);
    assert_eq!(head.size, img.manifest.len() as u64);
    assert_eq!(head.media_type, media_types::OCI_MANIFEST);
    assert_eq!(c.head_manifest("lib/hello", "nope", &[]).unwrap(), None);

    // Blobs named by the manifest come back intact.
    assert_eq!(
        read_all(c.blob("lib/hello", &img.config_digest(), 0).unwrap()),
        img.config
    );
    assert_eq!(
        read_all(c.blob("lib/hello", &img.layer_digest(), 0).unwrap()),
        img.layer
    );

    // Pushing by digest works too, and a digest that does not match is refused up front.
    let copy = c
        .put_manifest(
            "lib/hello",
            &digest.to_string(),
            media_types::OCI_MANIFEST,
            &img.manifest,
        )
        .unwrap();
    assert_eq!(copy, digest);
    let err = c
        .put_manifest(
            "lib/hello",
            &Digest::of(b"other").to_string(),
            media_types::OCI_MANIFEST,
            &img.manifest,
        )
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
}

#[test]
fn unknown_manifest_and_blob_errors() {
    let reg = Registry::start();
    let c = reg.client();
    let img = TestImage::new("x");
    img.push(&c, "known", "v1");

    let err = c.manifest("known", "x", &[]).unwrap_err();
    assert!(matches!(err, Error::ManifestUnknown { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/known:x not found: manifest unknown: manifest tagged by \"x\" is not found",
            reg.host()
        )
    );
    let missing = Digest::of(b"missing");
    let err = c.manifest("known", &missing.to_string(), &[]).unwrap_err();
    assert!(matches!(err, Error::ManifestUnknown { .. }), "{err:?}");
    // A repository that does not exist at all.
    let err = c.manifest("never/pushed", "latest", &[]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ManifestUnknown { .. } | Error::PullDenied { .. }
        ),
        "{err:?}"
    );

    let err = c.blob("known", &missing, 0).unwrap_err();
    assert!(matches!(err, Error::BlobUnknown { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&missing.to_string()) && msg.contains("known"),
        "{msg}"
    );
}

#[test]
fn manifest_with_missing_blobs_is_refused() {
    let reg = Registry::start();
    let c = reg.client();
    let img = TestImage::new("y");
    let err = c
        .put_manifest("m", "v1", media_types::OCI_MANIFEST, &img.manifest)
        .unwrap_err();
    match &err {
        Error::Status {
            status: 400,
            detail,
            ..
        } => {
            assert!(detail.has_code("MANIFEST_BLOB_UNKNOWN"), "{err}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn upload_errors_are_reported_and_not_committed() {
    let reg = Registry::start();
    let c = reg.client();
    let data = pattern(5000, 6);
    let d = Digest::of(&data);
    // Wrong content for the digest: the registry refuses it.
    let wrong = pattern(5000, 7);
    let err = c
        .push_blob("u", &d, 5000, &wrong[..], Upload::Monolithic)
        .unwrap_err();
    assert!(matches!(err, Error::Status { status: 400, .. }), "{err:?}");
    assert!(err.to_string().contains("digest invalid"), "{err}");
    let err = c
        .push_blob("u", &d, 5000, &wrong[..], Upload::Chunked(1024))
        .unwrap_err();
    assert!(matches!(err, Error::Status { status: 400, .. }), "{err:?}");
    // The source is shorter than announced.
    for mode in [Upload::Monolithic, Upload::Chunked(1024)] {
        let err = c.push_blob("u", &d, 5000, &data[..4000], mode).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ShortSource {
                    read: 4000,
                    size: 5000,
                    ..
                }
            ),
            "{mode:?}: {err:?}"
        );
    }
    // The source fails.
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(0);
            self.0 -= n;
            Ok(n)
        }
    }
    for mode in [Upload::Monolithic, Upload::Chunked(1024)] {
        let err = c.push_blob("u", &d, 5000, Failing(2000), mode).unwrap_err();
        assert!(matches!(err, Error::Source { .. }), "{mode:?}: {err:?}");
        assert!(err.to_string().contains(&d.to_string()), "{err}");
    }
    assert_eq!(c.blob_exists("u", &d).unwrap(), None);
    // The same client still works afterwards.
    c.push_blob("u", &d, 5000, &data[..], Upload::Monolithic)
        .unwrap();
    assert_eq!(c.blob_exists("u", &d).unwrap(), Some(5000));
}

#[test]
fn layers_from_several_threads_at_once() {
    let reg = Registry::start();
    let c = Arc::new(reg.client());
    let blobs: Vec<Vec<u8>> = (0..6)
        .map(|i| pattern(200_000 + i * 777, i as u8))
        .collect();
    std::thread::scope(|s| {
        for b in &blobs {
            let c = c.clone();
            s.spawn(move || {
                c.push_blob(
                    "par",
                    &Digest::of(b),
                    b.len() as u64,
                    &b[..],
                    Upload::Chunked(65536),
                )
                .unwrap()
            });
        }
    });
    std::thread::scope(|s| {
        for b in &blobs {
            let c = c.clone();
            s.spawn(move || assert_eq!(&read_all(c.blob("par", &Digest::of(b), 0).unwrap()), b));
        }
    });
}

#[test]
fn invalid_names_never_reach_the_network() {
    let reg = Registry::start();
    let c = reg.client();
    let d = Digest::of(b"");
    assert!(matches!(
        c.manifest("../x", "latest", &[]),
        Err(Error::InvalidRepository(_))
    ));
    assert!(matches!(
        c.manifest("x", "a/../../b", &[]),
        Err(Error::InvalidReference(_))
    ));
    assert!(matches!(
        c.blob("UPPER", &d, 0),
        Err(Error::InvalidRepository(_))
    ));
    assert!(matches!(
        c.mount_blob("a", &d, "b?x=y"),
        Err(Error::InvalidRepository(_))
    ));
}
