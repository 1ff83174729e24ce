//! The layer applier on well-formed layers: every entry type, every compression, whiteouts
//! in both modes (checked through a real overlayfs mount), diff IDs, and round trips through
//! `diff::write_layer`. Runs as root.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_image::apply::{self, Applied, ApplyOptions, Limits, Whiteouts};
use berth_image::compression::{self, Compression};
use berth_image::diff;
use berth_image::Digest;
use tar::{EntryType, Header};

/// A tar written header by header, with whatever fields a test wants.
#[derive(Default)]
struct Tar(Vec<u8>);

const MTIME: u64 = 1_600_000_000;

impl Tar {
    fn raw(&mut self, h: &mut Header, data: &[u8]) -> &mut Self {
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    fn header(path: &str, kind: EntryType, mode: u32) -> Header {
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(MTIME);
        h.set_uid(0);
        h.set_gid(0);
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h
    }

    fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        self.raw(&mut Self::header(path, EntryType::Directory, mode), b"")
    }

    fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        self.raw(&mut Self::header(path, EntryType::Regular, 0o644), data)
    }

    fn link(&mut self, path: &str, kind: EntryType, target: &str) -> &mut Self {
        let mut h = Self::header(path, kind, 0o777);
        h.set_link_name_literal(target).unwrap();
        self.raw(&mut h, b"")
    }

    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (k, v) in records {
            let rest = k.len() + v.len() + 3;
            let mut len = rest + 1;
            while rest + len.to_string().len() != len {
                len = rest + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        self.raw(
            &mut Self::header("PaxHeaders/x", EntryType::XHeader, 0o644),
            &data,
        )
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.0);
        v.extend_from_slice(&[0u8; 1024]);
        v
    }
}

fn compress(data: &[u8], c: Compression) -> Vec<u8> {
    let mut e = compression::compress(Vec::new(), c).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn opts(whiteouts: Whiteouts) -> ApplyOptions {
    ApplyOptions {
        whiteouts,
        limits: Limits::default(),
        expected_diff_id: None,
        preserve_owner: true,
    }
}

fn apply_to(root: &Path, layer: &[u8], whiteouts: Whiteouts) -> Applied {
    apply::apply(root, layer, &opts(whiteouts)).unwrap_or_else(|e| panic!("apply: {e}"))
}

fn sha256(data: &[u8]) -> Digest {
    Digest::of(data)
}

const CAP: &[u8] = &[
    0x00, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];

fn lgetxattr(path: &Path, key: &str) -> Option<Vec<u8>> {
    let dir = berth_sys::inroot::open_root(path.parent().unwrap()).unwrap();
    use std::os::fd::AsFd;
    berth_sys::xattr::get(dir.as_fd(), path.file_name().unwrap(), key.as_ref()).unwrap()
}

/// A layer with one of everything.
fn everything() -> Vec<u8> {
    let mut t = Tar::default();
    t.dir("./", 0o755)
        .dir("bin/", 0o750)
        .file("bin/hello", b"hello world\n");
    let mut h = Tar::header("bin/su", EntryType::Regular, 0o4755);
    h.set_uid(1000);
    h.set_gid(1001);
    t.raw(&mut h, b"#!/bin/sh\n");
    t.raw(
        &mut Tar::header("bin/sg", EntryType::Regular, 0o2711),
        b"sg",
    );
    t.dir("tmp/", 0o1777);
    t.pax(&[
        ("SCHILY.xattr.security.capability", CAP),
        ("SCHILY.xattr.user.note", b"a\nb"),
        ("mtime", b"1500000000.25"),
    ])
    .file("bin/ping", b"ping");
    t.link("bin/sh", EntryType::Symlink, "hello")
        .link("abs", EntryType::Symlink, "/etc/passwd")
        .link("bin/hello2", EntryType::Link, "bin/hello")
        .link("/bin/hello3", EntryType::Link, "/bin/hello");
    t.dir("dev/", 0o755);
    let mut h = Tar::header("dev/null", EntryType::Char, 0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    t.raw(&mut h, b"");
    let mut h = Tar::header("dev/loop0", EntryType::Block, 0o660);
    h.set_device_major(7).unwrap();
    h.set_device_minor(0).unwrap();
    t.raw(&mut h, b"");
    t.raw(&mut Tar::header("dev/fifo", EntryType::Fifo, 0o600), b"");
    // A path too long for ustar, by PAX and by GNU long name.
    let long = format!("deep/{}/{}", "d".repeat(120), "f".repeat(120));
    t.pax(&[("path", long.as_bytes())])
        .file("placeholder", b"pax long");
    let long2 = format!("deep/{}", "g".repeat(200));
    let mut gnu = Header::new_gnu();
    gnu.set_entry_type(EntryType::GNULongName);
    gnu.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    let mut name = long2.clone().into_bytes();
    name.push(0);
    t.raw(&mut gnu, &name).file("placeholder2", b"gnu long");
    // A large file, streamed.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    t.file("big", &big);
    // Directory times must survive their children being written after them.
    let mut h = Tar::header("when/", EntryType::Directory, 0o755);
    h.set_mtime(1_234_567_890);
    t.raw(&mut h, b"").file("when/child", b"c");
    t.finish()
}

fn check_everything(root: &Path) {
    let meta = |p: &str| fs::symlink_metadata(root.join(p)).unwrap();
    assert_eq!(fs::read(root.join("bin/hello")).unwrap(), b"hello world\n");
    assert_eq!(meta("bin").mode() & 0o7777, 0o750);
    let su = meta("bin/su");
    assert_eq!(su.mode() & 0o7777, 0o4755, "setuid kept after chown");
    assert_eq!((su.uid(), su.gid()), (1000, 1001));
    assert_eq!(meta("bin/sg").mode() & 0o7777, 0o2711);
    assert_eq!(meta("tmp").mode() & 0o7777, 0o1777);
    assert_eq!(
        lgetxattr(&root.join("bin/ping"), "security.capability").as_deref(),
        Some(CAP)
    );
    assert_eq!(
        lgetxattr(&root.join("bin/ping"), "user.note").as_deref(),
        Some(&b"a\nb"[..])
    );
    let ping = meta("bin/ping");
    assert_eq!(
        (ping.mtime(), ping.mtime_nsec()),
        (1_500_000_000, 250_000_000)
    );
    assert_eq!(
        fs::read_link(root.join("bin/sh")).unwrap(),
        Path::new("hello")
    );
    assert_eq!(
        fs::read_link(root.join("abs")).unwrap(),
        Path::new("/etc/passwd")
    );
    let hello = meta("bin/hello");
    assert_eq!(hello.nlink(), 3);
    assert_eq!(meta("bin/hello2").ino(), hello.ino());
    assert_eq!(meta("bin/hello3").ino(), hello.ino());
    let null = meta("dev/null");
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    let lp = meta("dev/loop0");
    assert!(lp.file_type().is_block_device());
    assert_eq!(lp.rdev(), libc::makedev(7, 0));
    assert!(meta("dev/fifo").file_type().is_fifo());
    let long = format!("deep/{}/{}", "d".repeat(120), "f".repeat(120));
    assert_eq!(fs::read(root.join(long)).unwrap(), b"pax long");
    assert_eq!(
        fs::read(root.join(format!("deep/{}", "g".repeat(200)))).unwrap(),
        b"gnu long"
    );
    assert!(!root.join("placeholder").exists());
    assert!(!root.join("placeholder2").exists());
    assert_eq!(meta("big").len(), 3_000_000);
    assert_eq!(meta("when").mtime(), 1_234_567_890, "dir mtime set last");
    assert_eq!(meta("bin").mtime(), MTIME as i64);
    assert_eq!(meta("").mtime(), MTIME as i64);
    assert_eq!(meta("when/child").mtime(), MTIME as i64);
}

#[test]
fn plain_layer_with_every_entry_type() {
    let tar = everything();
    let root = tempfile::tempdir().unwrap();
    let a = apply_to(root.path(), &tar, Whiteouts::Overlay);
    assert_eq!(a.compression, Compression::None);
    assert_eq!(a.diff_id, sha256(&tar));
    assert_eq!(a.entries, 20);
    assert_eq!(
        a.size,
        12 + 10 + 2 + 4 + 8 + 8 + 1 + 3_000_000,
        "bytes of regular file content"
    );
    check_everything(root.path());
}

#[test]
fn gzip_zstd_and_multi_member_gzip() {
    let tar = everything();
    let half = tar.len() / 2;
    let multi = [
        compress(&tar[..half], Compression::Gzip),
        compress(&tar[half..], Compression::Gzip),
    ]
    .concat();
    for (blob, c) in [
        (compress(&tar, Compression::Gzip), Compression::Gzip),
        (compress(&tar, Compression::Zstd), Compression::Zstd),
        (multi, Compression::Gzip),
    ] {
        let root = tempfile::tempdir().unwrap();
        let mut o = opts(Whiteouts::Overlay);
        o.expected_diff_id = Some(sha256(&tar));
        let a = apply::apply(root.path(), &blob[..], &o).unwrap();
        assert_eq!(a.compression, c);
        assert_eq!(a.diff_id, sha256(&tar), "diff ID is the uncompressed tar's");
        check_everything(root.path());
    }
}

#[test]
fn bytes_after_the_end_of_archive_count_in_the_diff_id() {
    let mut tar = Tar::default().file("a", b"x").finish();
    // Like tar(1)'s padding to a 10240-byte record, plus junk that still hashes.
    tar.resize(10240, 0);
    tar.extend_from_slice(b"trailing");
    let root = tempfile::tempdir().unwrap();
    let a = apply_to(
        root.path(),
        &compress(&tar, Compression::Gzip),
        Whiteouts::Overlay,
    );
    assert_eq!(a.diff_id, sha256(&tar));
    assert_eq!(a.entries, 1);
}

#[test]
fn preserve_owner_off_keeps_the_callers_ids() {
    let mut t = Tar::default();
    let mut h = Tar::header("f", EntryType::Regular, 0o4755);
    h.set_uid(1234);
    h.set_gid(1234);
    let tar = t.raw(&mut h, b"x").finish();
    let root = tempfile::tempdir().unwrap();
    let mut o = opts(Whiteouts::Overlay);
    o.preserve_owner = false;
    apply::apply(root.path(), &tar[..], &o).unwrap();
    let m = fs::metadata(root.path().join("f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
    assert_eq!(m.mode() & 0o7777, 0o4755);
}

fn lower_layer() -> Vec<u8> {
    Tar::default()
        .file("a", b"lower a")
        .file("b", b"lower b")
        .dir("d/", 0o755)
        .file("d/old", b"old")
        .dir("d/sub/", 0o755)
        .file("d/sub/deep", b"deep")
        .dir("e/", 0o755)
        .file("e/x", b"x")
        .dir("tree/", 0o755)
        .dir("tree/t/", 0o755)
        .file("tree/t/f", b"f")
        .finish()
}

/// Whiteouts, an opaque directory whose marker comes after its new contents, and one whose
/// marker comes first.
fn upper_layer() -> Vec<u8> {
    Tar::default()
        .file(".wh.a", b"")
        .dir("d/", 0o755)
        .file("d/new", b"new")
        .file("d/.wh..wh..opq", b"")
        .dir("e/", 0o755)
        .file("e/.wh..wh..opq", b"")
        .file("e/y", b"y")
        .file(".wh.tree", b"")
        .file("b", b"upper b")
        .dir(".wh..wh.plnk/", 0o700)
        .file(".wh..wh.plnk/1.2", b"aufs")
        .finish()
}

#[test]
fn overlay_whiteouts_are_char_devices_and_opaque_xattrs() {
    let dir = tempfile::tempdir().unwrap();
    apply_to(dir.path(), &upper_layer(), Whiteouts::Overlay);
    for gone in ["a", "tree"] {
        let m = fs::symlink_metadata(dir.path().join(gone)).unwrap();
        assert!(m.file_type().is_char_device(), "{gone}");
        assert_eq!(m.rdev(), 0, "{gone} is 0:0");
    }
    for opaque in ["d", "e"] {
        assert_eq!(
            lgetxattr(&dir.path().join(opaque), "trusted.overlay.opaque").as_deref(),
            Some(&b"y"[..]),
            "{opaque}"
        );
    }
    assert_eq!(fs::read(dir.path().join("d/new")).unwrap(), b"new");
    assert!(!dir.path().join(".wh..wh.plnk").exists());
    assert!(!dir.path().join("d/.wh..wh..opq").exists());
}

#[test]
fn literal_mode_keeps_wh_names_as_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a"), b"kept").unwrap();
    apply_to(dir.path(), &upper_layer(), Whiteouts::Literal);
    // `cp` is no layer: `.wh.` names are files like any other, and nothing is removed.
    assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"kept");
    for f in [".wh.a", ".wh.tree", "d/.wh..wh..opq", ".wh..wh.plnk/1.2"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    assert!(lgetxattr(&dir.path().join("d"), "trusted.overlay.opaque").is_none());
}

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn overlayfs_mount_of_applied_layers_hides_whiteouts() {
    let base = tempfile::tempdir().unwrap();
    let (lower, upper, merged) = (
        base.path().join("lower"),
        base.path().join("upper"),
        base.path().join("merged"),
    );
    for d in [&lower, &upper, &merged] {
        fs::create_dir(d).unwrap();
    }
    apply_to(&lower, &lower_layer(), Whiteouts::Overlay);
    apply_to(&upper, &upper_layer(), Whiteouts::Overlay);
    let status = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!(
            "ro,lowerdir={}:{}",
            upper.display(),
            lower.display()
        ))
        .arg(&merged)
        .status()
        .unwrap();
    assert!(status.success(), "mount -t overlay");
    let _m = Mount(merged.clone());
    let mut names: Vec<_> = fs::read_dir(&merged)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["b", "d", "e"], "whiteouts hide a and tree");
    assert_eq!(fs::read(merged.join("b")).unwrap(), b"upper b");
    assert!(
        !merged.join("d/old").exists(),
        "opaque d hides lower contents"
    );
    assert!(!merged.join("d/sub").exists());
    assert_eq!(fs::read(merged.join("d/new")).unwrap(), b"new");
    assert!(!merged.join("e/x").exists());
    assert_eq!(fs::read(merged.join("e/y")).unwrap(), b"y");
}

/// Everything under `root`: path -> (kind, mode, uid, gid, mtime, content or link or rdev).
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let m = fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let what = if ft.is_dir() {
                let opaque = lgetxattr(&p, "trusted.overlay.opaque");
                format!("dir opaque={opaque:?}")
            } else if ft.is_symlink() {
                format!("link {:?}", fs::read_link(&p).unwrap())
            } else if ft.is_file() {
                let mut s = String::new();
                let data = fs::read(&p).unwrap();
                s.push_str(&format!("file {} {}", data.len(), Digest::of(&data)));
                s.push_str(&format!(
                    " cap={:?} nlink={}",
                    lgetxattr(&p, "security.capability"),
                    m.nlink()
                ));
                s
            } else {
                format!("special {:o} rdev={}", m.mode() & libc::S_IFMT, m.rdev())
            };
            let mode = if ft.is_symlink() {
                0
            } else {
                m.mode() & 0o7777
            };
            let mtime = if ft.is_dir() || !ft.is_symlink() {
                m.mtime()
            } else {
                0
            };
            out.insert(
                p.strip_prefix(root).unwrap().display().to_string(),
                format!("{what} mode={mode:o} {}:{} mtime={mtime}", m.uid(), m.gid()),
            );
            if ft.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn write_layer_round_trips() {
    let src = tempfile::tempdir().unwrap();
    apply_to(src.path(), &everything(), Whiteouts::Overlay);
    apply_to(src.path(), &upper_layer(), Whiteouts::Overlay);
    // Sockets are not archived; the rest is.
    std::os::unix::net::UnixListener::bind(src.path().join("sock")).unwrap();
    let mut tar = Vec::new();
    let written = diff::write_layer(src.path(), &mut tar).unwrap();
    assert_eq!(written, sha256(&tar));
    // Deterministic.
    let mut again = Vec::new();
    assert_eq!(diff::write_layer(src.path(), &mut again).unwrap(), written);
    assert_eq!(tar, again);

    let dst = tempfile::tempdir().unwrap();
    let a = apply_to(dst.path(), &tar, Whiteouts::Overlay);
    assert_eq!(a.diff_id, written);
    let mut want = tree(src.path());
    want.remove("sock");
    let got = tree(dst.path());
    for (k, v) in &want {
        assert_eq!(got.get(k), Some(v), "{k}");
    }
    assert_eq!(got.len(), want.len());
    // The whiteouts went out as Docker's .wh. files.
    let mut ar = tar::Archive::new(&tar[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    for n in [".wh.a", ".wh.tree", "d/.wh..wh..opq", "e/.wh..wh..opq"] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    assert!(names.iter().any(|x| x == "bin/hello2" || x == "bin/hello3"));
}

#[test]
fn remove_mode_on_a_flat_rootfs() {
    let root = tempfile::tempdir().unwrap();
    apply_to(root.path(), &lower_layer(), Whiteouts::Remove);
    apply_to(root.path(), &upper_layer(), Whiteouts::Remove);
    let mut names: Vec<_> = fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["b", "d", "e"]);
    assert_eq!(fs::read(root.path().join("b")).unwrap(), b"upper b");
    // The opaque marker came after d/new: d/new stays, the lower contents go.
    let mut d: Vec<_> = fs::read_dir(root.path().join("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    d.sort();
    assert_eq!(d, ["new"]);
    let e: Vec<_> = fs::read_dir(root.path().join("e"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(e, ["y"]);

    // Replacing: a file by a directory and a directory by a file or a symlink.
    let layer = Tar::default()
        .dir("b/", 0o700)
        .file("b/in", b"1")
        .file("d", b"now a file")
        .link("e", EntryType::Symlink, "d")
        .finish();
    apply_to(root.path(), &layer, Whiteouts::Remove);
    assert!(root.path().join("b").is_dir());
    assert_eq!(fs::read(root.path().join("d")).unwrap(), b"now a file");
    assert_eq!(
        fs::read_link(root.path().join("e")).unwrap(),
        Path::new("d")
    );
}

#[test]
fn opaque_dir_keeps_what_this_layer_wrote_below_it() {
    let root = tempfile::tempdir().unwrap();
    let lower = Tar::default()
        .dir("d/", 0o755)
        .dir("d/sub/", 0o755)
        .file("d/sub/old", b"old")
        .file("d/top", b"t")
        .finish();
    apply_to(root.path(), &lower, Whiteouts::Remove);
    // This layer writes into d/sub without an entry for d/sub, then marks d opaque.
    let upper = Tar::default()
        .file("d/sub/new", b"n")
        .file("d/.wh..wh..opq", b"")
        .finish();
    apply_to(root.path(), &upper, Whiteouts::Remove);
    assert!(root.path().join("d/sub/new").exists());
    assert!(!root.path().join("d/sub/old").exists());
    assert!(!root.path().join("d/top").exists());
}

#[test]
fn expected_diff_id_accepted() {
    let tar = lower_layer();
    let root = tempfile::tempdir().unwrap();
    let mut o = opts(Whiteouts::Overlay);
    o.expected_diff_id = Some(sha256(&tar));
    let a = apply::apply(root.path(), &compress(&tar, Compression::Zstd)[..], &o).unwrap();
    assert_eq!(a.diff_id.to_string(), format!("{}", sha256(&tar)));
}

#[test]
fn many_layers_stacked() {
    let root = tempfile::tempdir().unwrap();
    for i in 0..128 {
        let mut t = Tar::default();
        t.dir("layers/", 0o755)
            .file(&format!("layers/{i}"), format!("{i}").as_bytes());
        if i > 0 {
            t.file(&format!("layers/.wh.{}", i - 1), b"");
        }
        apply_to(root.path(), &t.finish(), Whiteouts::Remove);
    }
    let names: Vec<_> = fs::read_dir(root.path().join("layers"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["127"]);
}

#[test]
fn content_is_streamed_through_a_reader() {
    // A reader that hands out a few bytes at a time still yields the whole layer.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(7);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let tar = lower_layer();
    let blob = compress(&tar, Compression::Gzip);
    let root = tempfile::tempdir().unwrap();
    let a = apply::apply(root.path(), Trickle(&blob), &opts(Whiteouts::Overlay)).unwrap();
    assert_eq!(a.diff_id, sha256(&tar));
    assert_eq!(fs::read(root.path().join("tree/t/f")).unwrap(), b"f");
    let p = fs::metadata(root.path().join("d")).unwrap().permissions();
    assert_eq!(p.mode() & 0o777, 0o755);
}
