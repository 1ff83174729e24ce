//! Hostile and broken layers: each must fail with a clear error (or stay inside the root),
//! and never create or change anything outside the root. Runs as root.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_image::apply::{self, ApplyError, ApplyOptions, Limits, Whiteouts};
use berth_image::compression::{self, Compression};
use berth_image::Digest;
use proptest::prelude::*;
use tar::{EntryType, Header};

/// Raw tar building: the `tar` crate's builder refuses `..`, which is the point here.
#[derive(Default)]
struct Tar(Vec<u8>);

impl Tar {
    fn raw(&mut self, path: &[u8], kind: EntryType, link: &[u8], data: &[u8]) -> &mut Self {
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_mtime(1);
        h.set_size(data.len() as u64);
        let old = h.as_old_mut();
        old.name[..path.len()].copy_from_slice(path);
        old.linkname[..link.len()].copy_from_slice(link);
        self.header(&mut h, data)
    }

    fn header(&mut self, h: &mut Header, data: &[u8]) -> &mut Self {
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        self.0
            .extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
        self
    }

    fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        self.raw(path.as_bytes(), EntryType::Regular, b"", data)
    }

    fn dir(&mut self, path: &str) -> &mut Self {
        self.raw(path.as_bytes(), EntryType::Directory, b"", b"")
    }

    fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.raw(path.as_bytes(), EntryType::Symlink, target.as_bytes(), b"")
    }

    fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.raw(path.as_bytes(), EntryType::Link, target.as_bytes(), b"")
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.0);
        v.extend_from_slice(&[0u8; 1024]);
        v
    }
}

/// A root with a sentinel directory and a target file beside it, which must stay as they
/// are whatever the layer does.
struct Fixture {
    base: tempfile::TempDir,
    root: PathBuf,
    sentinel: PathBuf,
    target: PathBuf,
}

const TARGET: &[u8] = b"do not touch\n";

impl Fixture {
    fn new() -> Fixture {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("root");
        let sentinel = base.path().join("sentinel");
        let target = base.path().join("target");
        fs::create_dir(&root).unwrap();
        fs::create_dir(&sentinel).unwrap();
        fs::write(&target, TARGET).unwrap();
        Fixture {
            base,
            root,
            sentinel,
            target,
        }
    }

    fn apply(&self, layer: &[u8], whiteouts: Whiteouts) -> Result<apply::Applied, ApplyError> {
        self.apply_with(layer, opts(whiteouts))
    }

    fn apply_with(&self, layer: &[u8], o: ApplyOptions) -> Result<apply::Applied, ApplyError> {
        let r = apply::apply(&self.root, layer, &o);
        self.check();
        r
    }

    /// Nothing outside the root changed.
    fn check(&self) {
        assert_eq!(
            fs::read_dir(&self.sentinel).unwrap().count(),
            0,
            "sentinel dir stays empty"
        );
        assert_eq!(fs::read(&self.target).unwrap(), TARGET);
        let t = fs::metadata(&self.target).unwrap();
        assert_eq!(t.nlink(), 1, "no hard link to the outside target");
        assert_eq!(t.mode() & 0o7777, 0o644, "target mode unchanged");
        let mut names: Vec<_> = fs::read_dir(self.base.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["root", "sentinel", "target"]);
        for host in [
            "/pwned",
            "/etc/pwned",
            "/tmp/pwned",
            "/etc/bpa",
            "/tmp/bpa",
            "/bpa",
        ] {
            assert!(
                fs::symlink_metadata(host).is_err(),
                "{host} created on the host"
            );
        }
    }

    /// The sentinel's absolute path as seen from the host, for symlinks aimed at it.
    fn abs_sentinel(&self) -> String {
        self.sentinel.display().to_string()
    }
}

fn opts(whiteouts: Whiteouts) -> ApplyOptions {
    ApplyOptions {
        whiteouts,
        limits: Limits::default(),
        expected_diff_id: None,
        preserve_owner: true,
    }
}

fn err_of(r: Result<apply::Applied, ApplyError>) -> String {
    match r {
        Ok(a) => panic!("applied: {a:?}"),
        Err(e) => e.to_string(),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = compression::compress(Vec::new(), Compression::Gzip).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn dotdot_entries_are_refused() {
    for path in [
        "../pwned",
        "a/../../pwned",
        "./../target",
        "/../pwned",
        "a/..",
    ] {
        let f = Fixture::new();
        let layer = Tar::default().file("ok", b"1").file(path, b"x").finish();
        let e = err_of(f.apply(&layer, Whiteouts::Remove));
        assert_eq!(
            e,
            format!("layer entry {path:?}: path escapes the layer root"),
            "{path}"
        );
    }
}

#[test]
fn writes_through_an_absolute_symlink_in_the_same_layer_stay_inside() {
    let f = Fixture::new();
    let layer = Tar::default()
        .symlink("esc", &f.abs_sentinel())
        .file("esc/pwned", b"x")
        .finish();
    // The symlink dangles inside the root: writing through it fails, outside stays empty.
    let e = err_of(f.apply(&layer, Whiteouts::Overlay));
    assert!(e.starts_with("layer entry \"esc/pwned\": "), "{e}");

    let f = Fixture::new();
    let layer = Tar::default()
        .symlink("etc", "/etc")
        .file("etc/pwned", b"x")
        .finish();
    let e = err_of(f.apply(&layer, Whiteouts::Remove));
    assert!(e.contains("etc/pwned"), "{e}");

    // Once the target exists inside the root, the write lands there.
    let f = Fixture::new();
    let inside = f.abs_sentinel();
    let layer = Tar::default()
        .dir(&format!("{inside}/"))
        .symlink("esc", &inside)
        .file("esc/pwned", b"x")
        .symlink("up", "../../../../../..")
        .file("up/tmp/pwned", b"y")
        .finish();
    f.apply(&layer, Whiteouts::Remove).unwrap();
    let rel = inside.trim_start_matches('/');
    assert_eq!(fs::read(f.root.join(rel).join("pwned")).unwrap(), b"x");
    assert_eq!(fs::read(f.root.join("tmp/pwned")).unwrap(), b"y");
}

#[test]
fn symlinks_planted_by_an_earlier_layer_cannot_redirect_writes() {
    let f = Fixture::new();
    let sentinel = f.abs_sentinel();
    let target = f.target.display().to_string();
    let first = Tar::default()
        .symlink("lib", &sentinel)
        .symlink("abs", "/")
        .symlink("tgt", &target)
        .symlink("dots", "../../..")
        .finish();
    f.apply(&first, Whiteouts::Remove).unwrap();
    // Through the symlink as a parent: it resolves inside the root, where nothing is.
    for path in ["lib/pwned", "dots/tmp/pwned"] {
        let layer = Tar::default().file(path, b"x").finish();
        match f.apply(&layer, Whiteouts::Remove) {
            Ok(_) => assert!(f.root.join(path.replace("dots/", "")).exists()),
            Err(e) => assert!(e.to_string().contains(path), "{e}"),
        }
    }
    let via_root = format!("abs{sentinel}/pwned");
    let layer = Tar::default().file(&via_root, b"x").finish();
    // `abs` is the root itself, so this creates <root>/<sentinel path>/pwned.
    f.apply(&layer, Whiteouts::Remove).unwrap();
    assert!(f
        .root
        .join(sentinel.trim_start_matches('/'))
        .join("pwned")
        .exists());
    // Over the symlink itself: replaced, never followed.
    let layer = Tar::default().file("tgt", b"replaced").dir("lib/").finish();
    f.apply(&layer, Whiteouts::Remove).unwrap();
    assert_eq!(fs::read(f.root.join("tgt")).unwrap(), b"replaced");
    assert!(f.root.join("lib").is_dir());
    // Whiteouts through them remove nothing outside.
    let f = Fixture::new();
    f.apply(&first, Whiteouts::Remove).unwrap();
    let base = f.base.path().display().to_string();
    let layer = Tar::default()
        .file(&format!("abs{base}/.wh.target"), b"")
        .file(".wh.tgt", b"")
        .file("abs/.wh.tmp", b"")
        .file("dots/.wh.sentinel", b"")
        .finish();
    f.apply(&layer, Whiteouts::Remove).unwrap();
    assert!(fs::symlink_metadata(f.root.join("tgt")).is_err());
}

#[test]
fn symlink_in_a_lower_overlay_layer_then_a_flat_rootfs() {
    // An overlay layer dir holding a symlink out, then the same two layers flattened.
    let f = Fixture::new();
    let lower = Tar::default().symlink("x", &f.abs_sentinel()).finish();
    let upper = Tar::default().file("x/pwned", b"x").finish();
    let l = tempfile::tempdir().unwrap();
    apply::apply(l.path(), &lower[..], &opts(Whiteouts::Overlay)).unwrap();
    // In its own layer dir, x is a plain directory.
    f.apply(&upper, Whiteouts::Overlay).unwrap();
    assert!(f.root.join("x/pwned").is_file());
    let f = Fixture::new();
    f.apply(&lower, Whiteouts::Remove).unwrap();
    let e = err_of(f.apply(&upper, Whiteouts::Remove));
    assert!(e.starts_with("layer entry \"x/pwned\""), "{e}");
}

#[test]
fn hard_links_to_the_outside_are_refused() {
    let f = Fixture::new();
    let passwd = fs::metadata("/etc/passwd").unwrap();
    for (target, want) in [
        ("../../etc/passwd", "escapes the layer root"),
        ("/etc/passwd", "ENOENT"),
        ("etcl/passwd", "ENOENT"),
        (f.target.to_str().unwrap(), "ENOENT"),
        ("tgt", ""),
    ] {
        let layer = Tar::default()
            .symlink("etcl", "/etc")
            .symlink("tgt", f.target.to_str().unwrap())
            .hardlink("pw", target)
            .finish();
        match f.apply(&layer, Whiteouts::Remove) {
            Err(e) => {
                let e = e.to_string();
                assert!(e.starts_with("layer entry \"pw\""), "{e}");
                assert!(e.contains(want), "{e}");
            }
            // Linking the symlink itself is allowed: it is a symlink inside the root.
            Ok(_) => {
                assert_eq!(target, "tgt");
                assert!(fs::symlink_metadata(f.root.join("pw"))
                    .unwrap()
                    .file_type()
                    .is_symlink());
            }
        }
    }
    let after = fs::metadata("/etc/passwd").unwrap();
    assert_eq!(after.nlink(), passwd.nlink());
    // No inode in the root is /etc/passwd's.
    for e in fs::read_dir(&f.root).unwrap() {
        let m = fs::symlink_metadata(e.unwrap().path()).unwrap();
        assert!(m.ino() != passwd.ino() || m.dev() != passwd.dev());
    }
}

#[test]
fn whiteouts_naming_dotdot_are_refused() {
    for (path, whiteouts) in [
        ("a/.wh..", Whiteouts::Remove),
        ("a/.wh..", Whiteouts::Overlay),
        ("../.wh.target", Whiteouts::Remove),
        (".wh.", Whiteouts::Remove),
        ("a/.wh...", Whiteouts::Overlay),
    ] {
        let f = Fixture::new();
        let layer = Tar::default().dir("a/").file(path, b"").finish();
        let e = err_of(f.apply(&layer, whiteouts));
        if path == "a/.wh..." {
            // `.wh...` whites out "..": same error.
            assert!(e.contains("escapes the layer root"), "{e}");
        } else {
            assert_eq!(
                e,
                format!("layer entry {path:?}: path escapes the layer root")
            );
        }
    }
    // A whiteout used as a directory is nonsense.
    let f = Fixture::new();
    let layer = Tar::default().file(".wh.x/y", b"").finish();
    let e = err_of(f.apply(&layer, Whiteouts::Remove));
    assert!(e.contains("a whiteout cannot be a directory"), "{e}");
}

fn sample_tar() -> Vec<u8> {
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| (i % 13) as u8 ^ (i >> 9) as u8)
        .collect();
    Tar::default()
        .dir("d/")
        .file("d/data", &data)
        .file("d/small", b"s")
        .finish()
}

#[test]
fn truncated_streams_fail_clearly() {
    let tar = sample_tar();
    let gz = gzip(&tar);
    for cut in [gz.len() / 2, gz.len() - 4, 20] {
        let f = Fixture::new();
        let e = err_of(f.apply(&gz[..cut], Whiteouts::Overlay));
        assert!(
            e.contains("truncated") || e.contains("reading the layer"),
            "cut at {cut}: {e}"
        );
    }
    // A plain tar cut in the middle of a file, and in the middle of a header.
    for cut in [5000, 512 + 100] {
        let f = Fixture::new();
        let e = err_of(f.apply(&tar[..cut], Whiteouts::Overlay));
        assert!(e.starts_with("layer is truncated"), "{e}");
    }
}

#[test]
fn gzip_bomb_stops_at_the_limit() {
    // A 1 GiB file of zeros in ~1 MiB: one gzip member per MiB of zeros, concatenated.
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(1 << 30);
    h.as_old_mut().name[..3].copy_from_slice(b"big");
    h.set_cksum();
    let mut blob = gzip(h.as_bytes());
    let mib = gzip(&vec![0u8; 1 << 20]);
    for _ in 0..1024 {
        blob.extend_from_slice(&mib);
    }
    assert!(blob.len() < 2 << 20, "{}", blob.len());
    // The limit is 8 MiB rather than a realistic 64 GiB so that the test stays quick in
    // unoptimised builds, where inflating runs at a few MB/s; the point is that the work
    // done is bounded by the limit, not by the bomb.
    let f = Fixture::new();
    let mut o = opts(Whiteouts::Overlay);
    o.limits.max_bytes = 8 << 20;
    let start = Instant::now();
    let e = err_of(f.apply_with(&blob, o));
    assert_eq!(e, "layer exceeds 8388608 bytes uncompressed");
    assert!(start.elapsed() < Duration::from_secs(60));
    let written = fs::metadata(f.root.join("big")).map_or(0, |m| m.len());
    assert!(written <= 8 << 20, "{written}");
}

#[test]
fn diff_id_mismatch_is_an_error() {
    let tar = sample_tar();
    let f = Fixture::new();
    let mut o = opts(Whiteouts::Overlay);
    let wrong = Digest::of(b"something else");
    o.expected_diff_id = Some(wrong.clone());
    let e = err_of(f.apply_with(&gzip(&tar), o));
    assert_eq!(
        e,
        format!(
            "layer diff ID mismatch: expected {wrong}, got {}",
            Digest::of(&tar)
        )
    );
}

#[test]
fn oversized_metadata_is_refused_before_reading_it() {
    // A PAX header claiming 1 GiB, with nothing behind it: refused from the size field.
    for kind in [
        EntryType::XHeader,
        EntryType::GNULongName,
        EntryType::XGlobalHeader,
    ] {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(1 << 30);
        h.as_old_mut().name[..4].copy_from_slice(b"meta");
        h.set_cksum();
        let f = Fixture::new();
        let e = err_of(f.apply(h.as_bytes(), Whiteouts::Overlay));
        assert!(
            e.contains("of 1073741824 bytes exceeds the limit of 1048576 bytes of metadata"),
            "{e}"
        );
    }
    // Several headers for one entry add up: 600 kB of PAX plus a 600 kB long name.
    let mut t = Tar::default();
    let value = "c".repeat(600_000);
    let pax = format!("{} comment={value}\n", 600_000 + 16);
    assert_eq!(pax.len(), 600_016);
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::XHeader);
    h.set_size(pax.len() as u64);
    t.header(&mut h, pax.as_bytes());
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::GNULongName);
    h.set_size(600_000);
    t.header(&mut h, "n".repeat(600_000).as_bytes());
    let layer = t.file("f", b"").finish();
    let f = Fixture::new();
    let e = err_of(f.apply(&layer, Whiteouts::Overlay));
    assert!(
        e.contains("GNU long name of 600000 bytes exceeds the limit"),
        "{e}"
    );
}

#[test]
fn too_many_entries() {
    let mut t = Tar::default();
    for i in 0..11 {
        t.file(&format!("f{i}"), b"");
    }
    let layer = t.finish();
    let f = Fixture::new();
    let mut o = opts(Whiteouts::Overlay);
    o.limits.max_entries = 10;
    assert_eq!(
        err_of(f.apply_with(&layer, o)),
        "layer has more than 10 entries"
    );
}

#[test]
fn garbage_and_unsupported_inputs() {
    let f = Fixture::new();
    let e = err_of(f.apply(&[7u8; 4096], Whiteouts::Overlay));
    assert!(e.starts_with("bad tar header at byte 0"), "{e}");
    let e = err_of(f.apply(b"\xfd7zXZ\x00\x00\x04", Whiteouts::Overlay));
    assert!(e.contains("xz-compressed layers are not supported"), "{e}");
    let layer = Tar::default()
        .raw(b"sparse", EntryType::GNUSparse, b"", b"")
        .finish();
    let e = err_of(f.apply(&layer, Whiteouts::Overlay));
    assert!(e.contains("sparse"), "{e}");
    // An empty stream is an empty layer.
    let a = f.apply(b"", Whiteouts::Overlay).unwrap();
    assert_eq!(a.entries, 0);
}

#[derive(Debug, Clone)]
enum Op {
    File(String),
    Dir(String),
    Symlink(String, String),
    Hardlink(String, String),
    Device(String),
}

fn path_strategy() -> impl Strategy<Value = String> {
    let comp = prop::sample::select(vec![
        "bpa",
        "bpb",
        "..",
        ".",
        "",
        ".wh.bpa",
        ".wh..wh..opq",
        ".wh..",
        "etc",
        "tmp",
    ]);
    (any::<bool>(), prop::collection::vec(comp, 1..4))
        .prop_map(|(abs, c)| format!("{}{}", if abs { "/" } else { "" }, c.join("/")))
}

fn op_strategy(sentinel: String) -> impl Strategy<Value = Op> {
    let target = prop::sample::select(vec![
        "/".to_string(),
        "..".to_string(),
        "../../..".to_string(),
        "/etc".to_string(),
        "/tmp".to_string(),
        "bpa".to_string(),
        "/proc/self/root".to_string(),
        sentinel.clone(),
        format!("{sentinel}/bpa"),
    ]);
    prop_oneof![
        path_strategy().prop_map(Op::File),
        path_strategy().prop_map(Op::Dir),
        (path_strategy(), target.clone()).prop_map(|(p, t)| Op::Symlink(p, t)),
        (path_strategy(), prop_oneof![path_strategy(), target])
            .prop_map(|(p, t)| Op::Hardlink(p, t)),
        path_strategy().prop_map(Op::Device),
    ]
}

fn build(ops: &[Op]) -> Vec<u8> {
    let mut t = Tar::default();
    for op in ops {
        let fits = |s: &str| s.len() < 100;
        match op {
            Op::File(p) if fits(p) => {
                t.file(p, b"data");
            }
            Op::Dir(p) if fits(p) => {
                t.dir(p);
            }
            Op::Symlink(p, l) if fits(p) && fits(l) => {
                t.symlink(p, l);
            }
            Op::Hardlink(p, l) if fits(p) && fits(l) => {
                t.hardlink(p, l);
            }
            Op::Device(p) if fits(p) => {
                t.raw(p.as_bytes(), EntryType::Fifo, b"", b"");
            }
            _ => {}
        }
    }
    t.finish()
}

/// The sentinel path used by the property test: fixed, so strategies can name it.
fn prop_sentinel() -> String {
    "/tmp/berth-apply-prop-sentinel".to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_layers_never_escape(
        first in prop::collection::vec(op_strategy(prop_sentinel()), 0..8),
        second in prop::collection::vec(op_strategy(prop_sentinel()), 0..8),
        remove in any::<bool>(),
    ) {
        let f = Fixture::new();
        let whiteouts = if remove { Whiteouts::Remove } else { Whiteouts::Overlay };
        // Two layers into the same root: the second meets the first one's symlinks.
        let _ = f.apply(&build(&first), whiteouts);
        let _ = f.apply(&build(&second), Whiteouts::Remove);
        let _ = f.apply(&gzip(&build(&second)), Whiteouts::Overlay);
        prop_assert!(fs::symlink_metadata(prop_sentinel()).is_err());
        for p in ["/bpa", "/bpb", "/etc/bpa", "/etc/bpb", "/tmp/bpa", "/tmp/bpb"] {
            prop_assert!(fs::symlink_metadata(p).is_err(), "{} exists", p);
        }
        assert_inside(&f.root);
    }
}

/// Every entry below `root` is really below it (no mount or path trickery) and no hard
/// link reaches a file outside it (the target's link count is checked by the fixture).
fn assert_inside(root: &Path) {
    fn walk(dir: &Path, depth: usize) {
        assert!(depth < 64);
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                walk(&p, depth + 1);
            }
        }
    }
    walk(root, 0);
}

#[test]
fn overlay_metadata_xattrs_from_the_image_are_ignored() {
    // Only whiteout entries may make overlayfs metadata; a redirect or opaque xattr carried
    // verbatim could point overlayfs at other layers' files.
    let mut t = Tar::default();
    let mut pax = Vec::new();
    for (k, v) in [
        ("SCHILY.xattr.trusted.overlay.redirect", "/etc"),
        ("SCHILY.xattr.trusted.overlay.opaque", "y"),
        ("SCHILY.xattr.user.overlay.metacopy", ""),
        ("SCHILY.xattr.user.kept", "v"),
    ] {
        let rest = k.len() + v.len() + 3;
        let len = rest + (rest + 2).to_string().len();
        pax.extend_from_slice(format!("{len} {k}={v}\n").as_bytes());
    }
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::XHeader);
    h.set_size(pax.len() as u64);
    let layer = t.header(&mut h, &pax).dir("d/").finish();
    let f = Fixture::new();
    f.apply(&layer, Whiteouts::Overlay).unwrap();
    let root = berth_sys::inroot::open_root(&f.root).unwrap();
    use std::os::fd::AsFd;
    let names = berth_sys::xattr::list(root.as_fd(), "d".as_ref()).unwrap();
    assert_eq!(names, ["user.kept"]);
}
