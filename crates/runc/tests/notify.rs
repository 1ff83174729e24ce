//! SCMP_ACT_NOTIFY: the seccomp listener goes to the agent at linux.seccomp.listenerPath,
//! and the agent's answers become the container's syscall results.

mod common;

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use common::{skip_if_not_root, Ctr};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde_json::{json, Value};

/// Accepts one connection and returns the fd and the message that came with it.
fn receive_listener(sock: &UnixListener) -> (OwnedFd, Value) {
    let (conn, _) = sock.accept().expect("agent accept");
    let mut buf = vec![0u8; 1 << 16];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    let mut fd = None;
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel installed this fd for us; nobody else owns it.
            fd = fds.first().map(|&f| unsafe { OwnedFd::from_raw_fd(f) });
        }
    }
    let n = msg.bytes;
    let payload = serde_json::from_slice(&buf[..n]).expect("state JSON with the fd");
    (fd.expect("an fd with SCM_RIGHTS"), payload)
}

/// Answers every notification with EROFS until the filter has no users left.
fn answer_erofs(fd: &OwnedFd) -> usize {
    let mut answered = 0;
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll reads and writes the one pollfd we pass.
        let r = unsafe { libc::poll(&mut pfd, 1, 100) };
        if r <= 0 {
            continue;
        }
        if pfd.revents & libc::POLLHUP != 0 {
            break;
        }
        // SAFETY: seccomp_notif is plain data; all zeroes is the required initial value.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: NOTIF_RECV writes one seccomp_notif into `req`.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
            continue;
        }
        let mut resp = libc::seccomp_notif_resp {
            id: req.id,
            val: 0,
            error: -libc::EROFS,
            flags: 0,
        };
        // SAFETY: NOTIF_SEND reads one seccomp_notif_resp from `resp`.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) } == 0 {
            answered += 1;
        }
    }
    answered
}

#[test]
fn notified_syscalls_are_answered_by_the_agent() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("notify");
    let sock_path = c.work.path().join("agent.sock");
    let sock = UnixListener::bind(&sock_path).unwrap();
    let agent = std::thread::spawn(move || {
        let (fd, payload) = receive_listener(&sock);
        (payload, answer_erofs(&fd))
    });
    c.edit(|v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock_path,
            "listenerMetadata": "berth-test-meta",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    c.sh("mkdir /tmp/notified; echo rc=$?; [ -d /tmp/notified ] || echo absent");
    let o = c.run().ok("run");
    assert!(
        o.stdout.contains("rc=1") && o.stdout.contains("absent"),
        "{o:?}"
    );
    assert!(o.all_lower().contains("read-only file system"), "{o:?}");
    let (payload, answered) = agent.join().expect("agent");
    assert!(answered >= 1, "the agent answered nothing");
    assert_eq!(payload["fds"], json!(["seccompFd"]), "{payload}");
    assert_eq!(payload["metadata"], "berth-test-meta", "{payload}");
    assert!(payload["pid"].as_i64() > Some(0), "{payload}");
    assert_eq!(payload["state"]["id"], json!(c.id), "{payload}");
    c.assert_nothing_left();
}
