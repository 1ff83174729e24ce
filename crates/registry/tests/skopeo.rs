//! Interoperability with skopeo (containers/image) through a real docker-registry: what
//! skopeo pushes we read, and what we push skopeo reads.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use berth_image::Digest;
use berth_registry::media_types;
use common::{read_all, Registry, TestImage};

fn skopeo(args: &[&str], home: &Path) -> Output {
    let out = Command::new("skopeo")
        // Hermetic: no user auth file or config, and no policy file needed.
        .env("HOME", home)
        .env("REGISTRY_AUTH_FILE", home.join("auth.json"))
        .env_remove("DOCKER_CONFIG")
        .env_remove("XDG_RUNTIME_DIR")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("skopeo is installed (scripts/deps.sh)");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn we_read_what_skopeo_pushed() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let img = TestImage::new("pushed by skopeo\n");
    img.write_oci_layout(&layout, "v1");
    let dest = format!("docker://{}/interop/from-skopeo:v1", reg.host());
    skopeo(
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", layout.display()),
            &dest,
        ],
        tmp.path(),
    );

    let c = reg.client();
    let m = c.manifest("interop/from-skopeo", "v1", &[]).unwrap();
    assert_eq!(
        m.digest,
        c.head_manifest("interop/from-skopeo", "v1", &[])
            .unwrap()
            .unwrap()
            .digest
    );
    let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
    let mut blobs = vec![v["config"]["digest"].as_str().unwrap().to_string()];
    for l in v["layers"].as_array().unwrap() {
        blobs.push(l["digest"].as_str().unwrap().to_string());
    }
    assert_eq!(blobs.len(), 2);
    for b in &blobs {
        let d: Digest = b.parse().unwrap();
        let bytes = read_all(c.blob("interop/from-skopeo", &d, 0).unwrap());
        assert_eq!(Digest::of(&bytes), d, "blob {b} comes back intact");
    }
    // skopeo compresses layers for registries; inside is our tar.
    let layer = &v["layers"][0];
    let bytes = read_all(
        c.blob("interop/from-skopeo", &blobs[1].parse().unwrap(), 0)
            .unwrap(),
    );
    assert_eq!(
        uncompressed(&bytes, layer["mediaType"].as_str().unwrap()),
        img.layer
    );
}

fn uncompressed(blob: &[u8], media_type: &str) -> Vec<u8> {
    if media_type.ends_with("gzip") {
        read_all(flate2::read::GzDecoder::new(blob))
    } else {
        assert!(media_type.ends_with("tar"), "{media_type}");
        blob.to_vec()
    }
}

#[test]
fn skopeo_reads_what_we_pushed() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let c = reg.client();
    let img = TestImage::new("pushed by berth\n");
    let digest = img.push(&c, "interop/from-berth", "v2");
    let src = format!("docker://{}/interop/from-berth:v2", reg.host());

    let out = skopeo(&["inspect", "--tls-verify=false", &src], tmp.path());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Digest"], digest.to_string());
    assert_eq!(v["Layers"][0], img.layer_digest().to_string());
    assert_eq!(v["Architecture"], "amd64");

    let raw = skopeo(
        &["inspect", "--raw", "--tls-verify=false", &src],
        tmp.path(),
    );
    assert_eq!(raw.stdout, img.manifest, "the exact bytes we pushed");

    // A full copy out reads every blob back and checks its digest.
    let out_dir = tmp.path().join("out");
    skopeo(
        &[
            "copy",
            "--src-tls-verify=false",
            "--dest-oci-accept-uncompressed-layers",
            &src,
            &format!("oci:{}:v2", out_dir.display()),
        ],
        tmp.path(),
    );
    let layer = std::fs::read(out_dir.join("blobs/sha256").join(img.layer_digest().hex())).unwrap();
    assert_eq!(layer, img.layer);

    // A copy mounted under another name is just as readable.
    let other = "interop/mounted";
    for d in [img.config_digest(), img.layer_digest()] {
        assert!(c.mount_blob(other, &d, "interop/from-berth").unwrap());
    }
    c.put_manifest(other, "m", media_types::OCI_MANIFEST, &img.manifest)
        .unwrap();
    let out = skopeo(
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}/{other}:m", reg.host()),
        ],
        tmp.path(),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Digest"], digest.to_string());
}
