//! Hardening from runc's CVEs, checked from the outside.

mod common;

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use common::{kind, skip_if_not_root, Ctr, Kind};

/// CVE-2019-5736: every handle to our binary that a container process can reach goes
/// through /proc/PID/exe of a runtime process, and must not be writable. We check it for the
/// container init waiting for `start` (runtime code inside the container's namespaces).
#[test]
fn runtime_binary_is_not_writable_through_proc_exe() {
    if skip_if_not_root() {
        return;
    }
    if kind() != Kind::Berth {
        println!("skipping for this runtime: checks berth-runc's read-only binary view");
        return;
    }
    let mut c = Ctr::new("exe-ro");
    c.args(&["true"]);
    c.create().ok("create");
    // The exploit: hold an O_PATH handle while the runtime runs, reopen it for writing once
    // it has exited (while it runs, the kernel answers ETXTBSY).
    let exe = format!("/proc/{}/exe", c.pid());
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(&exe)
        .expect("O_PATH handle");
    c.cli(&["delete", "--force", &c.id]).ok("delete");
    // What makes the reopen fail is the handle's read-only mount; check that directly, since
    // while other tests run the same binary the kernel answers ETXTBSY first.
    let st = nix::sys::statvfs::fstatvfs(&handle).expect("fstatvfs");
    assert!(
        st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
        "{exe} is on a writable mount"
    );
    let reopen = format!("/proc/self/fd/{}", handle.as_raw_fd());
    let err = OpenOptions::new()
        .append(true)
        .open(&reopen)
        .expect_err("the runtime binary must not be writable");
    assert!(
        matches!(err.raw_os_error(), Some(libc::EROFS) | Some(libc::ETXTBSY)),
        "{exe}: {err}"
    );
    c.assert_nothing_left();
}

/// CVE-2024-21626: no fd of the runtime leaks into the container process.
#[test]
fn only_stdio_reaches_the_container() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("fds");
    c.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '");
    let o = c.run().ok("run");
    // 0-2 are stdio; ls itself holds one fd for reading the directory.
    let fds: Vec<&str> = o.stdout.split_whitespace().collect();
    assert!(fds.len() <= 4 && fds[..3] == ["0", "1", "2"], "{o:?}");
}

/// `--preserve-fds N` hands fds 3..3+N to the container, and nothing above them.
#[test]
fn preserve_fds_passes_exactly_the_extra_fds() {
    use std::os::unix::process::CommandExt;
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("preserve-fds");
    c.sh("cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '");
    c.write_config();
    let msg = c.work.path().join("msg");
    std::fs::write(&msg, "through fd 3\n").unwrap();
    let file = std::fs::File::open(&msg).unwrap();
    let src = file.as_raw_fd();
    let b = c.bundle_path().to_str().unwrap().to_string();
    let mut cmd = c.cmd(&["run", "--preserve-fds", "1", "--bundle", &b, &c.id]);
    // SAFETY: between fork and exec we only call dup2/fcntl, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec: clear it instead.
            let r = if src == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(src, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = common::run_cmd(&mut cmd, common::CMD_TIMEOUT).ok("run --preserve-fds 1");
    assert!(o.stdout.starts_with("through fd 3\n"), "{o:?}");
    let fds: Vec<&str> = o
        .stdout
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // 0-2, the preserved 3, and the one ls reads /proc/self/fd through.
    assert!(fds.len() <= 5 && fds[..4] == ["0", "1", "2", "3"], "{o:?}");
    drop(file);
}

/// An AppArmor profile on a host without AppArmor is ignored with a warning, not an error.
#[test]
fn lsm_label_without_the_lsm_is_a_warning() {
    if skip_if_not_root() {
        return;
    }
    if std::path::Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        println!("skipping: this host has AppArmor, so the profile would be applied");
        return;
    }
    if kind() != Kind::Berth {
        println!("skipping for this runtime: runc fails on a missing AppArmor instead");
        return;
    }
    let mut c = Ctr::new("apparmor");
    c.args(&["true"]);
    c.edit(|v| v["process"]["apparmorProfile"] = serde_json::json!("berth-test-profile"));
    let o = c.run().ok("run with an apparmor profile");
    assert!(
        o.stderr.contains("apparmorProfile") && o.stderr.contains("berth-test-profile"),
        "{o:?}"
    );
}
