//! The parent/child handshake during create and exec.
//!
//! A `SOCK_SEQPACKET` socketpair keeps message boundaries, so each message is one JSON
//! document. The child reports progress and errors; the parent answers with `Ack` or `Abort`.

use std::os::fd::OwnedFd;

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) enum Msg {
    /// Parent → child: go on.
    Ack,
    /// Parent → child: stop, the parent has failed.
    Abort,
    /// Child → parent: write my uid/gid maps (pid is the process in the new user ns).
    MapIds { pid: i32 },
    /// Child → parent: the container process, as a pid of the parent's namespace.
    Pid { pid: i32 },
    /// Child → parent: mounts are done, run createRuntime hooks, then Ack.
    Mounted,
    /// Parent → child: the state JSON for the hooks that run inside the container.
    State { json: String },
    /// Child → parent: the seccomp notification listener follows, as SCM_RIGHTS.
    SeccompListener,
    /// Child → parent: the container is created and waits for start.
    Created,
    /// Child → parent: something failed; the message says what.
    Error { msg: String },
}

pub(crate) struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (parent end, child end).
pub(crate) fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| berth_sys::Error::call("socketpair", e))?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub(crate) fn send(&self, msg: &Msg) -> Result<()> {
        let data = serde_json::to_vec(msg).map_err(|e| Error::Invalid(e.to_string()))?;
        send(
            std::os::fd::AsRawFd::as_raw_fd(&self.fd),
            &data,
            MsgFlags::MSG_NOSIGNAL,
        )
        .map_err(|e| berth_sys::Error::call("send(sync)", e))?;
        Ok(())
    }

    /// The next message, or `None` when the other end closed.
    pub(crate) fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                &mut buf,
                MsgFlags::empty(),
            ) {
                Err(nix::Error::EINTR) => continue,
                r => break r.map_err(|e| berth_sys::Error::call("recv(sync)", e))?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(|e| Error::Init(format!("bad sync message: {e}")))
    }

    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.fd)
    }

    /// Waits for `Ack`; anything else means the other side gave up.
    pub(crate) fn wait_ack(&self) -> Result<()> {
        match self.recv()? {
            Some(Msg::Ack) => Ok(()),
            Some(Msg::Error { msg }) => Err(Error::from_child(msg)),
            other => Err(Error::Init(format!("parent gave up ({other:?})"))),
        }
    }
}
