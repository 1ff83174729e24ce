//! Handing the seccomp notification listener to the agent at `linux.seccomp.listenerPath`.
//!
//! The agent receives the fd with SCM_RIGHTS, and as the message the OCI "container process
//! state": which process the filter belongs to, the container's state and the profile's
//! `listenerMetadata`.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use oci_spec::runtime::Spec;
use serde_json::json;

use crate::state::{OciState, OCI_VERSION};
use crate::sync::Channel;
use crate::{Error, Result};

/// Receives the listener the child just announced and passes it to the agent.
pub(crate) fn forward(chan: &Channel, spec: &Spec, pid: i32, state: &OciState) -> Result<()> {
    let fd = berth_sys::fds::recv_fd(chan.fd())?;
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .ok_or_else(|| Error::Init("seccomp listener without a seccomp section".into()))?;
    let path = seccomp
        .listener_path()
        .as_ref()
        .ok_or_else(|| Error::Invalid("linux.seccomp.listenerPath is required".into()))?;
    let payload = json!({
        "ociVersion": OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": seccomp.listener_metadata().clone().unwrap_or_default(),
        "state": state,
    });
    let sock = UnixStream::connect(path).map_err(|e| Error::io(path, e))?;
    berth_sys::fds::send_fd(sock.as_fd(), fd.as_fd(), &payload.to_string())?;
    Ok(())
}
