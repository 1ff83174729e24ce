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
    let reopen = format!("/proc/self/fd/{}", handle.as_raw_fd());
    let err = OpenOptions::new()
        .append(true)
        .open(&reopen)
        .expect_err("the runtime binary must not be writable");
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{exe}: {err}");
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
