//! terminal=true with `--console-socket`: the runtime sends the pty master over the unix
//! socket (SCM_RIGHTS); the container's stdio is the pty slave.

mod common;

use std::fs::File;
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{skip_if_not_root, Ctr};
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde_json::json;

/// Listens on `path` and hands back the first fd received over SCM_RIGHTS.
fn console_listener(path: &Path) -> mpsc::Receiver<Result<OwnedFd, String>> {
    let listener = UnixListener::bind(path).expect("bind console socket");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let r = (|| -> Result<OwnedFd, String> {
            let (conn, _) = listener.accept().map_err(|e| e.to_string())?;
            let mut buf = [0u8; 4096];
            let mut iov = [IoSliceMut::new(&mut buf)];
            let mut cmsg = nix::cmsg_space!([RawFd; 1]);
            let msg = recvmsg::<()>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(|e| format!("recvmsg: {e}"))?;
            for c in msg.cmsgs().map_err(|e| e.to_string())? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    if let Some(&fd) = fds.first() {
                        // SAFETY: the kernel just installed `fd` in our table for this
                        // SCM_RIGHTS message; nothing else owns it.
                        return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
                    }
                }
            }
            Err("no SCM_RIGHTS fd in the console socket message".into())
        })();
        let _ = tx.send(r);
    });
    rx
}

/// Reads from the pty master until `want` shows up, EOF/EIO, or the timeout.
fn read_until(master: &mut File, want: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !String::from_utf8_lossy(&out).contains(want) {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, 100u16) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(_) => break,
        }
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break, // EIO once the slave side is closed
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_char_device(f: &File) -> bool {
    use std::os::unix::fs::FileTypeExt;
    f.metadata()
        .map(|m| m.file_type().is_char_device())
        .unwrap_or(false)
}

#[test]
fn console_socket_receives_pty_master() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("console");
    c.edit(|v| {
        v["process"]["terminal"] = json!(true);
        v["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    });
    c.sh(
        "[ -t 0 ] && echo stdin-is-tty; [ -t 1 ] && echo stdout-is-tty; \
         echo tty=$(tty); echo size=$(stty size); read line; echo got:$line; echo END",
    );
    let sock = c.work.path().join("console.sock");
    let rx = console_listener(&sock);
    let b = c.bundle_path().to_str().unwrap().to_string();
    c.cli(&[
        "create",
        "--bundle",
        &b,
        "--console-socket",
        sock.to_str().unwrap(),
        &c.id,
    ])
    .ok("create --console-socket");
    let master = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the runtime connected to the console socket")
        .expect("received a fd");
    let mut master = File::from(master);
    assert!(
        is_char_device(&master),
        "received fd is a character device (pty master)"
    );

    c.start().ok("start");
    let first = read_until(&mut master, "size=", Duration::from_secs(10));
    master.write_all(b"hello-pty\n").unwrap();
    let rest = read_until(&mut master, "END", Duration::from_secs(10));
    let text = format!("{first}{rest}").replace('\r', "");
    assert!(text.contains("stdin-is-tty"), "{text:?}");
    assert!(text.contains("stdout-is-tty"), "{text:?}");
    assert!(text.contains("tty=/dev/pts/"), "{text:?}");
    assert!(text.contains("got:hello-pty"), "{text:?}");
    assert!(
        text.contains("size=30 100"),
        "console size applied: {text:?}"
    );
    c.wait_status("stopped");
    drop(master);
    c.cli(&["delete", &c.id]).ok("delete");
    c.assert_nothing_left();
}

#[test]
fn run_detach_with_console_socket() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("console-run");
    c.edit(|v| v["process"]["terminal"] = json!(true));
    c.sh("[ -t 1 ] && echo run-tty; exit 4");
    let sock = c.work.path().join("console.sock");
    let rx = console_listener(&sock);
    let b = c.bundle_path().to_str().unwrap().to_string();
    c.cli(&[
        "run",
        "--detach",
        "--bundle",
        &b,
        "--console-socket",
        sock.to_str().unwrap(),
        &c.id,
    ])
    .ok("run --detach --console-socket");
    let master = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("connected")
        .expect("fd");
    let mut master = File::from(master);
    let text = read_until(&mut master, "run-tty", Duration::from_secs(10));
    assert!(text.contains("run-tty"), "{text:?}");
    c.wait_status("stopped");
    c.cli(&["delete", &c.id]).ok("delete");
    c.assert_nothing_left();
}

#[test]
fn foreground_run_bridges_a_pty() {
    if skip_if_not_root() {
        return;
    }
    // A foreground `run` with terminal=true allocates the container's pty itself and copies
    // between it and the caller's terminal (here: a pty we own); the exit code propagates.
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let mut c = Ctr::new("console-fg");
    c.edit(|v| v["process"]["terminal"] = json!(true));
    c.sh("[ -t 0 ] && echo fg-tty; read l; echo fg-got:$l; exit 6");
    let b = c.bundle_path().to_str().unwrap().to_string();
    let slave = File::from(pty.slave);
    let mut cmd = c.cmd(&["run", "--bundle", &b, &c.id]);
    cmd.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    let mut child = cmd.spawn().expect("spawn run");
    drop(slave);
    let mut master = File::from(pty.master);
    let first = read_until(&mut master, "fg-tty", Duration::from_secs(10));
    master.write_all(b"bridged\n").unwrap();
    let rest = read_until(&mut master, "fg-got:bridged", Duration::from_secs(10));
    let deadline = Instant::now() + common::CMD_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("foreground run with a tty did not exit");
        }
        // Keep draining the pty so the runtime never blocks on a full buffer.
        let _ = read_until(&mut master, "\u{0}", Duration::from_millis(20));
    };
    let text = format!("{first}{rest}").replace('\r', "");
    assert!(text.contains("fg-tty"), "{text:?}");
    assert!(text.contains("fg-got:bridged"), "{text:?}");
    assert_eq!(status.code(), Some(6), "{text:?}");
    c.assert_nothing_left();
}

#[test]
fn terminal_without_console_socket_fails() {
    if skip_if_not_root() {
        return;
    }
    // create/run --detach with terminal=true needs a console socket (runc: "cannot allocate
    // tty if runc will detach without setting console socket").
    let mut c = Ctr::new("console-missing");
    c.edit(|v| v["process"]["terminal"] = json!(true));
    let o = c
        .create()
        .failed("create with terminal=true and no --console-socket");
    assert!(o.all_lower().contains("console"), "{o:?}");
    c.assert_nothing_left();
}
