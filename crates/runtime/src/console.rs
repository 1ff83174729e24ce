//! The container's terminal: made in the child, its master sent out over the console socket;
//! and, for a foreground `run`, a bridge between our stdio and that master.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::termios;

use crate::Result;

/// In the container: opens a pty, makes it our stdio and controlling terminal, and sends the
/// master to whoever holds the other end of `socket`.
pub(crate) fn setup(socket: &OwnedFd, size: Option<(u16, u16)>) -> Result<()> {
    let pty = berth_sys::pty::open()?;
    if let Some((rows, cols)) = size {
        berth_sys::pty::set_winsize(pty.master.as_fd(), rows, cols)?;
    }
    berth_sys::pty::make_controlling(pty.slave.as_fd())?;
    berth_sys::fds::send_fd(socket.as_fd(), pty.master.as_fd(), &pty.name)?;
    Ok(())
}

/// Restores the terminal mode of our stdin when dropped.
pub struct Bridge {
    saved: Option<termios::Termios>,
    output: Option<std::thread::JoinHandle<()>>,
}

impl Bridge {
    /// Waits briefly for the container's last output to be copied out.
    pub fn finish(mut self) {
        if let Some(h) = self.output.take() {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while !h.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin(), termios::SetArg::TCSANOW, t);
        }
    }
}

/// Copies our stdin to the pty master and the master to our stdout, in two threads, with
/// stdin in raw mode when it is a terminal. Call only after the last fork.
pub fn bridge(master: OwnedFd) -> Result<Bridge> {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &raw);
        let _ = berth_sys::pty::copy_winsize(0, master.as_raw_fd());
    }
    let reader = std::fs::File::from(master.try_clone().map_err(|e| crate::Error::io("pty", e))?);
    let mut writer = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut input = std::io::stdin().lock();
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 || writer.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let output = std::thread::spawn(move || {
        let mut reader = reader;
        let mut buf = [0u8; 8192];
        let mut out = std::io::stdout();
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = out.flush();
        }
    });
    Ok(Bridge {
        saved,
        output: Some(output),
    })
}
