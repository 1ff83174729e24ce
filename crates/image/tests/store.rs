//! The store end to end at the library level: 128 layers unpacked into snapshots, stacked in
//! one real overlayfs mount (their lowerdirs fit one option page), with whiteouts and opaque
//! directories doing what Docker's do.

use std::io::Read;
use std::process::Command;

use berth_image::spec;
use berth_image::store::LayerSource;
use berth_image::{Digest, Store};

/// A layer tar built by hand: (path, contents), where contents None is a directory.
fn layer(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append_data(&mut h, path, *d).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                h.set_cksum();
                b.append_data(&mut h, path, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

#[test]
fn one_hundred_twenty_eight_layers_in_one_overlay_mount() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("root")).unwrap();
    let mut layers: Vec<Vec<u8>> = Vec::new();
    layers.push(layer(&[
        ("keep", Some(b"base")),
        ("gone", Some(b"deleted later")),
        ("d", None),
        ("d/old", Some(b"hidden by an opaque dir")),
    ]));
    layers.push(layer(&[
        (".wh.gone", Some(b"")),
        ("d", None),
        ("d/.wh..wh..opq", Some(b"")),
        ("d/new", Some(b"x")),
    ]));
    for i in 2..128 {
        let name = format!("f{i:03}");
        layers.push(layer(&[(name.as_str(), Some(name.as_bytes()))]));
    }
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let sources = layers
        .into_iter()
        .zip(&diff_ids)
        .map(|(bytes, d)| LayerSource {
            diff_id: d.clone(),
            open: Box::new(move || {
                Ok(Box::new(std::io::Cursor::new(bytes)) as Box<dyn Read + Send>)
            }),
        })
        .collect();
    let lease = store.lease().unwrap();
    store.unpack(&lease, sources).unwrap();
    store.release(lease).unwrap();
    let chain = spec::chain_ids(&diff_ids);
    let top = chain.last().unwrap().to_string();
    let mounts = store
        .snapshots
        .view(&mut store.db, "view", Some(&top))
        .unwrap();
    assert_eq!(mounts[0].kind, "overlay");
    let opts = mounts[0].options.join(",");
    assert_eq!(opts.matches(':').count(), 127);
    assert!(opts.len() < 4096, "{} bytes of options", opts.len());
    let target = dir.path().join("mnt");
    std::fs::create_dir(&target).unwrap();
    let st = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &opts])
        .arg(&target)
        .status()
        .unwrap();
    assert!(st.success(), "mount -o {opts}");
    let read = |p: &str| std::fs::read_to_string(target.join(p)).ok();
    let result = std::panic::catch_unwind(|| {
        assert_eq!(read("keep").as_deref(), Some("base"));
        assert_eq!(read("gone"), None, "a whiteout hides the lower file");
        assert_eq!(
            read("d/old"),
            None,
            "an opaque dir hides the lower dir's contents"
        );
        assert_eq!(read("d/new").as_deref(), Some("x"));
        assert_eq!(read("f127").as_deref(), Some("f127"));
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 2 + 126);
    });
    let _ = Command::new("umount").arg(&target).status();
    store.snapshots.remove(&mut store.db, "view").unwrap();
    result.unwrap();
    // Nothing references the layers now: GC takes all 128.
    let c = store.collect_garbage().unwrap();
    assert_eq!(c.snapshots, 128);
    assert!(store.snapshots.list(&store.db).unwrap().is_empty());
}
