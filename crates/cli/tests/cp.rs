//! `berth cp` end to end: both directions, running and stopped containers, Docker's path
//! rules, tar streams, and symlinks in the container that must not reach the host.

mod common;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{bin, Env};
use common::{status, with_busybox};

/// Runs berth with `input` on stdin.
fn with_stdin(e: &Env, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(bin())
        .arg("--root")
        .arg(e.root())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// A running container with a small tree under /d, once its setup is done.
fn running(e: &Env, name: &str, setup: &str) {
    let script = format!("{setup}; touch /ready; sleep 1000");
    e.ok(&["run", "-d", "--name", name, "busybox", "sh", "-c", &script]);
    for _ in 0..500 {
        if e.berth(&["exec", name, "test", "-e", "/ready"])
            .status
            .success()
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{name} never got ready");
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn cp_both_directions_on_running_and_stopped_containers() {
    let e = with_busybox();
    running(
        &e,
        "r",
        "mkdir -p /d/sub && echo hi > /d/a && echo s > /d/sub/b",
    );
    // Out: a file to a new name, a directory to a new name, into an existing directory,
    // and a directory's contents with `/.`.
    let out1 = e.path("out1");
    e.ok(&["cp", "r:/d/a", p(&out1)]);
    assert_eq!(std::fs::read_to_string(&out1).unwrap(), "hi\n");
    let outd = e.path("outd");
    e.ok(&["cp", "r:/d", p(&outd)]);
    assert_eq!(std::fs::read_to_string(outd.join("sub/b")).unwrap(), "s\n");
    let e1 = e.path("e1");
    std::fs::create_dir(&e1).unwrap();
    e.ok(&["cp", "r:/d", p(&e1)]);
    assert_eq!(std::fs::read_to_string(e1.join("d/a")).unwrap(), "hi\n");
    let e2 = e.path("e2");
    std::fs::create_dir(&e2).unwrap();
    e.ok(&["cp", "r:/d/.", p(&e2)]);
    assert_eq!(std::fs::read_to_string(e2.join("a")).unwrap(), "hi\n");
    assert!(e2.join("sub/b").is_file() && !e2.join("d").exists());
    // An existing file is overwritten; a file into an existing directory keeps its name.
    std::fs::write(&out1, "old").unwrap();
    e.ok(&["cp", "r:/d/sub/b", p(&out1)]);
    assert_eq!(std::fs::read_to_string(&out1).unwrap(), "s\n");

    // In: into a directory, to a new name, a directory to a new name, contents with `/.`.
    let h = e.path("h.txt");
    std::fs::write(&h, "host\n").unwrap();
    std::os::unix::fs::chown(&h, Some(1234), Some(1234)).unwrap();
    e.ok(&["cp", p(&h), "r:/d/"]);
    assert_eq!(e.ok(&["exec", "r", "cat", "/d/h.txt"]), "host\n");
    // Without -a the copy belongs to the container's root; with -a it keeps its owner.
    assert_eq!(
        e.ok(&["exec", "r", "stat", "-c", "%u:%g", "/d/h.txt"]),
        "0:0\n"
    );
    e.ok(&["cp", "-a", p(&h), "r:/d/kept"]);
    assert_eq!(
        e.ok(&["exec", "r", "stat", "-c", "%u:%g", "/d/kept"]),
        "1234:1234\n"
    );
    let hd = e.path("hostdir");
    std::fs::create_dir_all(hd.join("in")).unwrap();
    std::fs::write(hd.join("in/x"), "x\n").unwrap();
    e.ok(&["cp", p(&hd), "r:/newdir"]);
    assert_eq!(e.ok(&["exec", "r", "cat", "/newdir/in/x"]), "x\n");
    e.ok(&["cp", &format!("{}/.", p(&hd)), "r:/d"]);
    assert_eq!(e.ok(&["exec", "r", "cat", "/d/in/x"]), "x\n");
    // A directory can't replace a file; a missing parent is the daemon's "not found".
    let (code, _, err) = status(&e, &["cp", p(&hd), "r:/d/a"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = status(&e, &["cp", p(&h), "r:/no/such/dir/f"]);
    assert_eq!(code, 1);
    assert!(err.contains("Could not find the file"), "{err}");

    // A stopped container: copy in lands in its writable layer and is there when it runs;
    // copy out reads its files.
    e.ok(&["create", "--name", "s", "busybox", "cat", "/h2"]);
    e.ok(&["cp", p(&h), "s:/h2"]);
    let back = e.path("back");
    e.ok(&["cp", "s:/h2", p(&back)]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "host\n");
    e.ok(&["start", "s"]);
    assert_eq!(e.ok(&["wait", "s"]).trim(), "0");
    assert_eq!(e.ok(&["logs", "s"]), "host\n");
    // And after it exited: out of the exited container, nothing left mounted.
    let back2 = e.path("back2");
    e.ok(&["cp", "s:/etc/hostname", p(&back2)]);
    assert!(std::fs::read_to_string(&back2).is_ok());
    let tmp = std::fs::read_dir(e.root().join("tmp")).map_or(0, |d| d.count());
    assert_eq!(tmp, 0, "temporary mounts left behind");
    e.ok(&["rm", "-f", "r", "s"]);
}

#[test]
fn cp_tar_streams() {
    let e = with_busybox();
    running(&e, "t", "mkdir -p /d && echo one > /d/one");
    let o = e.berth(&["cp", "t:/d", "-"]);
    assert!(o.status.success());
    let mut names: Vec<String> = tar::Archive::new(&o.stdout[..])
        .entries()
        .unwrap()
        .map(|en| en.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["d/", "d/one"]);
    // In from a tar on stdin, into an existing directory.
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(4);
    hd.set_mode(0o644);
    hd.set_cksum();
    b.append_data(&mut hd, "sub/two", &b"two\n"[..]).unwrap();
    let data = b.into_inner().unwrap();
    let o = with_stdin(&e, &["cp", "-", "t:/d"], &data);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(e.ok(&["exec", "t", "cat", "/d/sub/two"]), "two\n");
    // A tar stream needs a directory to go into.
    let o = with_stdin(&e, &["cp", "-", "t:/d/one"], &data);
    assert_eq!(o.status.code(), Some(1));
    e.ok(&["rm", "-f", "t"]);
}

#[test]
fn cp_symlinks_in_the_container_never_reach_the_host() {
    let e = with_busybox();
    // A host directory with a canary, at a path the container doesn't have.
    let canary_dir = e.path("canary");
    std::fs::create_dir(&canary_dir).unwrap();
    let canary = canary_dir.join("secret");
    std::fs::write(&canary, "HOST SECRET\n").unwrap();
    let before = std::fs::metadata(&canary).unwrap();
    let cd = p(&canary_dir);
    let setup = format!(
        "ln -s /etc /data && ln -s {cd} /abs && ln -s ../../../../../../../..{cd} /rel && ln -s {cd}/secret /file"
    );
    running(&e, "x", &setup);
    e.ok(&["create", "--name", "stopped", "busybox", "true"]);
    let h = e.path("h.txt");
    std::fs::write(&h, "evil\n").unwrap();
    let check = |ctr: &str| {
        // `/data -> /etc` is the container's /etc, not the host's.
        let got = e.path(&format!("passwd-{ctr}"));
        if ctr == "x" {
            e.ok(&["cp", "x:/data/passwd", p(&got)]);
            assert_eq!(
                std::fs::read_to_string(&got).unwrap(),
                e.ok(&["exec", "x", "cat", "/etc/passwd"])
            );
            assert_ne!(
                std::fs::read_to_string(&got).unwrap(),
                std::fs::read_to_string("/etc/passwd").unwrap()
            );
        }
        // Reads through absolute and `../` symlinks find nothing (the container has no
        // such path); the canary is never read.
        for src in ["/abs/secret", "/rel/secret", "/abs/../canary/secret"] {
            let out = e.path("leak");
            let (code, stdout, err) = status(&e, &["cp", &format!("{ctr}:{src}"), p(&out)]);
            assert_eq!(code, 1, "{ctr}:{src}: {stdout}{err}");
            assert!(err.contains("Could not find the file"), "{err}");
            assert!(!out.exists());
        }
        for (follow, src) in [("-L", "/file"), ("-L", "/abs"), ("-a", "/abs/.")] {
            let (_, stdout, _) = status(&e, &["cp", follow, &format!("{ctr}:{src}"), "-"]);
            assert!(!stdout.contains("HOST SECRET"), "{ctr}:{src}");
        }
        // Writes through them never land on the host.
        for dst in ["/abs/secret", "/abs/", "/rel/secret", "/rel/", "/file"] {
            let _ = status(&e, &["cp", p(&h), &format!("{ctr}:{dst}")]);
        }
        let mut b = tar::Builder::new(Vec::new());
        let mut hd = tar::Header::new_gnu();
        hd.set_size(5);
        hd.set_mode(0o644);
        // A name with `..` in it, as a hostile tar would have.
        let evil = format!("../../../../../..{cd}/secret");
        hd.as_old_mut().name[..evil.len()].copy_from_slice(evil.as_bytes());
        hd.set_cksum();
        b.append(&hd, &b"evil\n"[..]).unwrap();
        let data = b.into_inner().unwrap();
        for dst in ["/", "/abs", "/rel"] {
            let _ = with_stdin(&e, &["cp", "-", &format!("{ctr}:{dst}")], &data);
        }
        assert_eq!(std::fs::read_to_string(&canary).unwrap(), "HOST SECRET\n");
        let names: Vec<_> = std::fs::read_dir(&canary_dir).unwrap().collect();
        assert_eq!(names.len(), 1, "something was written next to the canary");
        let after = std::fs::metadata(&canary).unwrap();
        assert_eq!(
            (before.mtime(), before.mtime_nsec(), before.ino()),
            (after.mtime(), after.mtime_nsec(), after.ino())
        );
    };
    check("x");
    // The same links in a stopped container (its snapshot is mounted for the copy).
    e.ok(&["commit", "x", "withlinks"]);
    e.ok(&["create", "--name", "y", "withlinks", "true"]);
    check("y");
    e.ok(&["rm", "-f", "x", "y", "stopped"]);
}

#[test]
fn cp_errors() {
    let e = with_busybox();
    running(&e, "r", "true");
    let out = e.path("o");
    let (code, _, err) = status(&e, &["cp", "r:/nope", p(&out)]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error response from daemon: Could not find the file /nope in container r\n"
    );
    let (code, _, err) = status(&e, &["cp", "nope:/etc/passwd", p(&out)]);
    assert_eq!(code, 1);
    assert_eq!(err, "Error response from daemon: No such container: nope\n");
    let (code, _, err) = status(&e, &["cp", "/etc/hostname", "nope:/x"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such container: nope"), "{err}");
    let (code, _, _) = status(&e, &["cp", "/etc/hostname", p(&out)]);
    assert_eq!(code, 1);
    let (code, _, _) = status(&e, &["cp", "a"]);
    assert_eq!(code, 125);
    let (code, _, err) = status(&e, &["cp", "/nonexistent-src", "r:/"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such file or directory"), "{err}");
    // Read-only rootfs: Docker refuses to copy in.
    e.ok(&["create", "--name", "ro", "--read-only", "busybox", "true"]);
    let (code, _, err) = status(&e, &["cp", "/etc/hostname", "ro:/"]);
    assert_eq!(code, 1);
    assert!(err.contains("read-only"), "{err}");
    e.ok(&["rm", "-f", "r", "ro"]);
}

#[test]
fn cp_sees_a_running_containers_mounts() {
    let e = with_busybox();
    let src = e.path("bindsrc");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("from-host"), "h\n").unwrap();
    let vol = format!("{}:/mnt", p(&src));
    e.ok(&[
        "run", "-d", "--name", "b", "-v", &vol, "busybox", "sleep", "1000",
    ]);
    // Into and out of a bind mount: the bind's source, as the container sees it.
    let h = e.path("h.txt");
    std::fs::write(&h, "in\n").unwrap();
    e.ok(&["cp", p(&h), "b:/mnt/x"]);
    assert_eq!(std::fs::read_to_string(src.join("x")).unwrap(), "in\n");
    let out = e.path("fh");
    e.ok(&["cp", "b:/mnt/from-host", p(&out)]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "h\n");
    // The whole filesystem: /proc and /sys come as empty directories, not the kernel's
    // files (which never end).
    let o = e.berth(&["cp", "b:/", "-"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Vec<String> = tar::Archive::new(&o.stdout[..])
        .entries()
        .unwrap()
        .map(|en| en.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "proc/"), "{names:?}");
    assert!(names.iter().any(|n| n == "mnt/from-host"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("proc/") && n != "proc/"));
    assert!(!names.iter().any(|n| n.starts_with("sys/") && n != "sys/"));
    e.ok(&["rm", "-f", "b"]);
}

#[test]
fn a_start_during_a_copy_into_a_stopped_container_waits_for_it() {
    let e = with_busybox();
    e.ok(&["create", "--name", "w", "busybox", "cat", "/late"]);
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(5);
    hd.set_mode(0o644);
    hd.set_cksum();
    b.append_data(&mut hd, "late", &b"late\n"[..]).unwrap();
    let data = b.into_inner().unwrap();
    // The copy mounts the snapshot, then waits for its tar on stdin.
    let mut cp = Command::new(bin())
        .arg("--root")
        .arg(e.root())
        .args(["cp", "-", "w:/"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let start = Command::new(bin())
        .arg("--root")
        .arg(e.root())
        .args(["start", "w"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    cp.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(cp.wait().unwrap().success());
    assert!(start.wait_with_output().unwrap().status.success());
    assert_eq!(e.ok(&["wait", "w"]).trim(), "0");
    assert_eq!(e.ok(&["logs", "w"]), "late\n");
    e.ok(&["rm", "w"]);
}

#[test]
fn cp_follows_a_source_link_only_with_l() {
    let e = with_busybox();
    running(&e, "l", "echo T > /target && ln -s /target /link");
    let d = e.path("ld");
    std::fs::create_dir(&d).unwrap();
    e.ok(&["cp", "l:/link", p(&d)]);
    assert_eq!(
        std::fs::read_link(d.join("link")).unwrap(),
        Path::new("/target")
    );
    std::fs::remove_file(d.join("link")).unwrap();
    // -L copies what it points to, under the link's name.
    e.ok(&["cp", "-L", "l:/link", p(&d)]);
    assert_eq!(std::fs::read_to_string(d.join("link")).unwrap(), "T\n");
    e.ok(&["rm", "-f", "l"]);
}
