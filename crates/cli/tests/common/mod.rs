//! Shared by the `berth` end-to-end tests: a throwaway store, the busybox image, and running
//! an image's snapshot with berth-runc.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub struct Env {
    pub dir: tempfile::TempDir,
}

/// A test that fails half-way must not leave its containers running (with their monitors)
/// after its store is gone: whatever is left is removed with the store.
impl Drop for Env {
    fn drop(&mut self) {
        if !self.root().join("berth.db").exists() {
            return;
        }
        let ids = Command::new(bin())
            .arg("--root")
            .arg(self.root())
            .args(["ps", "-aq"])
            .stdin(Stdio::null())
            .output();
        let Ok(ids) = ids else { return };
        let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new(bin())
                .arg("--root")
                .arg(self.root())
                .args(["rm", "-f"])
                .args(&ids)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    pub fn berth(&self, args: &[&str]) -> Output {
        let t = std::time::Instant::now();
        let o = self.berth_inner(args);
        if std::env::var_os("BERTH_TEST_TIMING").is_some() {
            eprintln!(
                "{:>8.3}s berth {}",
                t.elapsed().as_secs_f64(),
                args.join(" ")
            );
        }
        o
    }
    fn berth_inner(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .arg("--root")
            .arg(self.root())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.berth(args);
        assert!(
            o.status.success(),
            "berth {args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.berth(args);
        assert!(!o.status.success(), "berth {args:?} should fail");
        String::from_utf8(o.stderr).unwrap()
    }
    /// A busybox rootfs tarball from Debian's busybox-static.
    pub fn busybox_tar(&self) -> PathBuf {
        let rootfs = self.path("bb");
        let st = Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/busybox-bundle.sh"
            ))
            .arg(&rootfs)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        let tar = self.path("bb.tar");
        sh(&format!(
            "tar -C {}/rootfs -cf {} .",
            rootfs.display(),
            tar.display()
        ));
        tar
    }
    pub fn import_busybox(&self, name: &str) -> String {
        let tar = self.busybox_tar();
        self.ok(&["import", tar.to_str().unwrap(), name])
            .trim()
            .to_string()
    }
    /// Blob files and snapshot directories in the store: what garbage collection must clear.
    pub fn leftovers(&self) -> (usize, usize, usize) {
        let count = |p: &str| std::fs::read_dir(self.root().join(p)).map_or(0, |d| d.count());
        (count("blobs/sha256"), count("s"), count("ingest"))
    }
}

pub fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIP: {tool} is not installed");
    }
    found
}

pub fn runc_bin() -> Option<PathBuf> {
    let p = bin().with_file_name("berth-runc");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIP: {} not built", p.display());
        None
    }
}

/// Mounts an image's snapshot read-only, makes a bundle of it and runs `args` with berth-runc.
pub fn run_image(e: &Env, image: &str, args: &[&str]) -> String {
    let Some(runc) = runc_bin() else {
        return String::new();
    };
    let mut store = berth_image::Store::open(&e.root()).unwrap();
    let img = store.resolve(image).unwrap();
    let top = store.chain(&img).unwrap().last().unwrap().to_string();
    // Writable, as a container's: the runtime makes /proc and /dev mount points in it.
    let mounts = store
        .snapshots
        .prepare(&mut store.db, "test-view", Some(&top))
        .unwrap();
    let bundle = e.path("bundle");
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
    let m = &mounts[0];
    let opts = m.options.join(",");
    let rootfs = bundle.join("rootfs");
    let mount = if m.kind == "bind" {
        format!("mount --bind {} {}", m.source, rootfs.display())
    } else {
        format!("mount -t overlay -o {opts} overlay {}", rootfs.display())
    };
    sh(&mount);
    sh(&format!(
        "cd {} && {} spec",
        bundle.display(),
        runc.display()
    ));
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["args"] = serde_json::json!(args);
    cfg["process"]["terminal"] = serde_json::json!(false);
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let id = format!("berth-img-test-{}", std::process::id());
    let o = Command::new(&runc)
        .args([
            "--root",
            e.path("runc").to_str().unwrap(),
            "run",
            "--bundle",
            bundle.to_str().unwrap(),
            &id,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = Command::new("umount").arg(&rootfs).status();
    store.snapshots.remove(&mut store.db, "test-view").unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// A fresh store with the busybox image as `busybox:latest`.
pub fn with_busybox() -> Env {
    let e = Env::new();
    e.import_busybox("busybox:latest");
    e
}

/// A `berth` command's exit status, stdout and stderr.
pub fn status(e: &Env, args: &[&str]) -> (i32, String, String) {
    let o = e.berth(args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
pub mod netns;
