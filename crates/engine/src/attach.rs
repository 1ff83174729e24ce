//! Attaching to a container's stdio: the monitor's side (a socket per container that any
//! number of clients connect to) and the client's (a terminal or pipes bridged to it).
//!
//! On the wire both ways are frames with Docker's multiplexed-stream header: one byte for
//! the stream, three zero bytes, and the payload's length as a big-endian u32. From the
//! monitor, stream 1 is stdout and 2 stderr (a tty container only has 1). To the monitor,
//! stream 0 is stdin and [`RESIZE`] carries a window size (rows and columns, u16 each).

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::error::{EngineError, Result};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const RESIZE: u8 = 3;

/// Frames larger than this are refused: a client can't make the monitor allocate at will.
/// [`write_frame`] splits longer data into frames of at most this size.
pub const MAX_FRAME: usize = 1 << 20;

/// The socket's name in the container's directory.
pub const SOCKET: &str = "attach.sock";

/// A path for the socket in `dir` short enough for `sun_path` (108 bytes) whatever the
/// length of berth's root: through our own fd of the directory.
pub(crate) fn socket_path(dir_fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{SOCKET}", dir_fd.as_raw_fd()))
}

/// Writes `data` on `stream`: one frame, or several of at most [`MAX_FRAME`] bytes each when
/// it is longer (the peer's [`Frames`] refuses larger ones), in order.
pub fn write_frame(w: &mut impl Write, stream: u8, data: &[u8]) -> std::io::Result<()> {
    let mut chunks = data.chunks(MAX_FRAME).peekable();
    if chunks.peek().is_none() {
        // An empty frame is still one.
        return w.write_all(&[stream, 0, 0, 0, 0, 0, 0, 0]);
    }
    for chunk in chunks {
        let mut buf = Vec::with_capacity(8 + chunk.len());
        buf.extend_from_slice(&[stream, 0, 0, 0]);
        // At most MAX_FRAME (1 MiB): fits a u32.
        buf.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        buf.extend_from_slice(chunk);
        w.write_all(&buf)?;
    }
    Ok(())
}

/// Collects bytes as they arrive and hands out whole frames.
#[derive(Default)]
pub struct Frames {
    buf: Vec<u8>,
    /// Where the next frame starts in `buf`: frames are handed out without moving the rest,
    /// which is compacted on the next push (so many small frames cost linear time).
    start: usize,
}

impl Frames {
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next whole frame, or `Ok(None)` until more bytes come; an error for a frame
    /// too large to be one of ours (and again on every call after it: the stream is lost).
    pub fn next_frame(&mut self) -> std::io::Result<Option<(u8, Vec<u8>)>> {
        let buf = &self.buf[self.start..];
        if buf.len() < 8 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
        if len > MAX_FRAME {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("attach frame of {len} bytes"),
            ));
        }
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let frame = (buf[0], buf[8..8 + len].to_vec());
        self.start += 8 + len;
        Ok(Some(frame))
    }
}

pub fn resize_frame(rows: u16, cols: u16) -> [u8; 4] {
    let mut b = [0u8; 4];
    b[..2].copy_from_slice(&rows.to_be_bytes());
    b[2..].copy_from_slice(&cols.to_be_bytes());
    b
}

/// The window size of a terminal, if `fd` is one.
pub fn winsize(fd: RawFd) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Docker's `--detach-keys` syntax (moby/term's `ToBytes`): comma-separated keys, each a
/// single byte or `ctrl-X` (X a lower-case letter, or one of `@[\]^_`).
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>> {
    let bad = || EngineError::Invalid(format!("Invalid detach keys ({spec}) provided"));
    let mut out = Vec::new();
    for k in spec.split(',') {
        if let Some(c) = k.strip_prefix("ctrl-") {
            let c = c.as_bytes();
            if c.len() != 1 {
                return Err(bad());
            }
            let ch = c[0];
            out.push(match ch {
                b'a'..=b'z' => ch - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(bad()),
            });
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// Connects to a running container's attach socket.
pub fn connect(container_dir: &Path) -> Result<UnixStream> {
    let dir = std::fs::File::open(container_dir).map_err(EngineError::io(container_dir))?;
    let path = socket_path(dir.as_fd());
    UnixStream::connect(&path).map_err(|e| {
        EngineError::Conflict(format!(
            "cannot attach to the container: {}: {e}",
            container_dir.join(SOCKET).display()
        ))
    })
}

/// How a client session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The container's output ended (it exited, or its monitor went away).
    Closed,
    /// The user typed the detach keys.
    Detached,
}

/// Puts a terminal in raw mode until dropped.
pub struct RawMode {
    fd: RawFd,
    saved: nix::sys::termios::Termios,
}

impl RawMode {
    pub fn enter(fd: BorrowedFd<'_>) -> Option<RawMode> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        // Output post-processing stays, so that "\n" from us (not the container) still
        // returns the carriage, as docker's raw mode does.
        raw.output_flags |= nix::sys::termios::OutputFlags::OPOST;
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode {
            fd: fd.as_raw_fd(),
            saved,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the fd was valid when we entered raw mode and is our process's stdin,
        // which stays open for the process's life.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = nix::sys::termios::tcsetattr(fd, nix::sys::termios::SetArg::TCSANOW, &self.saved);
    }
}

/// A signalfd for SIGWINCH (blocked in this thread), polled beside the streams.
fn winch_fd() -> Option<nix::sys::signalfd::SignalFd> {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = SigSet::empty();
    set.add(Signal::SIGWINCH);
    let _ = set.thread_block();
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok()
}

/// Waits until the container's side, our stdin or a window change (each when there) has
/// something; says which, in that order. `None` when interrupted.
fn wait_ready(
    out: BorrowedFd<'_>,
    stdin: Option<BorrowedFd<'_>>,
    winch: Option<&nix::sys::signalfd::SignalFd>,
) -> Result<Option<[bool; 3]>> {
    let mut fds = vec![PollFd::new(out, PollFlags::POLLIN)];
    fds.extend(stdin.map(|f| PollFd::new(f, PollFlags::POLLIN)));
    fds.extend(winch.map(|w| PollFd::new(w.as_fd(), PollFlags::POLLIN)));
    match nix::poll::poll(&mut fds, PollTimeout::NONE) {
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok(None),
        Err(e) => return Err(EngineError::Monitor(format!("poll: {e}"))),
    }
    let mut ready = fds
        .iter()
        .map(|p| p.revents().is_some_and(|r| !r.is_empty()));
    let out = ready.next().unwrap_or(false);
    let input = stdin.is_some() && ready.next().unwrap_or(false);
    let resized = winch.is_some() && ready.next().unwrap_or(false);
    Ok(Some([out, input, resized]))
}

/// A client's session: `stdin` (when given) goes to the container, its output to `stdout`
/// and `stderr`, and window changes (SIGWINCH, when `tty`) become resize frames. With
/// `detach_keys`, typing them ends the session without touching the container.
pub fn bridge(
    sock: UnixStream,
    stdin: Option<BorrowedFd<'_>>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    tty: bool,
    detach_keys: Option<&[u8]>,
) -> Result<Ended> {
    let io = |e: std::io::Error| EngineError::Monitor(format!("attach: {e}"));
    let mut winch = None;
    if tty {
        winch = winch_fd();
        if let Some(ws) = stdin.and_then(|f| winsize(f.as_raw_fd())) {
            write_frame(&mut &sock, RESIZE, &resize_frame(ws.0, ws.1)).map_err(io)?;
        }
    }
    let mut stdin = stdin;
    let mut frames = Frames::default();
    let mut matched = 0usize;
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let Some([output, input, resized]) = wait_ready(sock.as_fd(), stdin, winch.as_ref())?
        else {
            continue;
        };
        if output {
            let n = match (&sock).read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            if n == 0 {
                return Ok(Ended::Closed);
            }
            frames.push(&buf[..n]);
            while let Some((stream, data)) = frames.next_frame().map_err(io)? {
                let out: &mut dyn Write = if stream == STDERR {
                    &mut *stderr
                } else {
                    &mut *stdout
                };
                let _ = out.write_all(&data).and_then(|_| out.flush());
            }
        }
        if let (true, Some(f)) = (input, stdin) {
            let n = nix::unistd::read(f, &mut buf).unwrap_or(0);
            if n == 0 {
                // Our stdin ended; the container's goes on (docker keeps it open too).
                stdin = None;
            } else {
                let (data, detached) = scan_detach(&buf[..n], detach_keys, &mut matched);
                if detached {
                    return Ok(Ended::Detached);
                }
                if !data.is_empty() {
                    write_frame(&mut &sock, STDIN, &data).map_err(io)?;
                }
            }
        }
        if let (true, Some(w)) = (resized, &winch) {
            while let Ok(Some(_)) = w.read_signal() {}
            if let Some(ws) = stdin.and_then(|f| winsize(f.as_raw_fd())) {
                write_frame(&mut &sock, RESIZE, &resize_frame(ws.0, ws.1)).map_err(io)?;
            }
        }
    }
}

/// Bridges our terminal to a pty master we hold ourselves (`exec -t`): `stdin` in,
/// output out, window changes passed on, until the other side closes or we detach.
pub fn bridge_pty(
    master: OwnedFd,
    stdin: Option<BorrowedFd<'_>>,
    stdout: &mut dyn Write,
    detach_keys: Option<&[u8]>,
) -> Result<Ended> {
    let winch = winch_fd();
    let resize = |from: Option<BorrowedFd<'_>>| {
        if let Some((r, c)) = from.and_then(|f| winsize(f.as_raw_fd())) {
            let _ = berth_sys::pty::set_winsize(master.as_fd(), r, c);
        }
    };
    resize(stdin);
    let mut stdin = stdin;
    let mut matched = 0usize;
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let Some([output, input, resized]) = wait_ready(master.as_fd(), stdin, winch.as_ref())?
        else {
            continue;
        };
        if output {
            match nix::unistd::read(&master, &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EIO) => return Ok(Ended::Closed),
                Ok(n) => {
                    let _ = stdout.write_all(&buf[..n]).and_then(|_| stdout.flush());
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return Ok(Ended::Closed),
            }
        }
        if let (true, Some(f)) = (input, stdin) {
            let n = nix::unistd::read(f, &mut buf).unwrap_or(0);
            if n == 0 {
                stdin = None;
            } else {
                let (out, detached) = scan_detach(&buf[..n], detach_keys, &mut matched);
                if detached {
                    return Ok(Ended::Detached);
                }
                // A paste can be more than the pty takes at once.
                let mut rest = &out[..];
                while !rest.is_empty() {
                    match nix::unistd::write(&master, rest) {
                        Ok(n) => rest = &rest[n..],
                        Err(nix::errno::Errno::EINTR) => {}
                        Err(_) => break,
                    }
                }
            }
        }
        if let (true, Some(w)) = (resized, &winch) {
            while let Ok(Some(_)) = w.read_signal() {}
            resize(stdin);
        }
    }
}

/// Passes input through, holding back what may begin the detach sequence; says whether
/// the whole sequence was typed (it is never passed on, nor is anything typed after it).
///
/// `matched` is how many bytes of `keys` the input so far ends with (held back, not yet
/// passed on); it carries over between calls. The sequence is found wherever it starts,
/// even inside a partial match that failed (`a` `a` `b` with keys `ab`), and the bytes held
/// back and then released come out in the order they were typed. No keys, or an empty
/// sequence, pass everything through.
pub fn scan_detach(data: &[u8], keys: Option<&[u8]>, matched: &mut usize) -> (Vec<u8>, bool) {
    let Some(keys) = keys.filter(|k| !k.is_empty()) else {
        return (data.to_vec(), false);
    };
    // A count from other keys can't index these.
    if *matched >= keys.len() {
        *matched = 0;
    }
    let mut out = Vec::with_capacity(data.len() + *matched);
    for &b in data {
        if b == keys[*matched] {
            *matched += 1;
            if *matched == keys.len() {
                *matched = 0;
                return (out, true);
            }
            continue;
        }
        // The held-back bytes plus `b` don't continue the sequence: release the shortest
        // head of them whose rest may still begin it (the longest suffix that is a prefix
        // of the keys), as the KMP failure function would.
        let mut pending = keys[..*matched].to_vec();
        pending.push(b);
        let keep = (1..=pending.len().min(keys.len() - 1))
            .rev()
            .find(|&n| pending[pending.len() - n..] == keys[..n])
            .unwrap_or(0);
        out.extend_from_slice(&pending[..pending.len() - keep]);
        *matched = keep;
    }
    (out, false)
}

/// The monitor's side: the listening socket and the clients attached through it.
pub(crate) struct Hub {
    listener: Option<std::os::unix::net::UnixListener>,
    pub(crate) clients: Vec<Client>,
}

pub(crate) struct Client {
    pub(crate) sock: UnixStream,
    frames: Frames,
}

/// What a client asked of the container.
pub(crate) enum Request {
    Stdin(Vec<u8>),
    Resize(u16, u16),
}

impl Hub {
    /// Listens in the container's directory; `first`, when given, is a client that was
    /// connected before the container started (a foreground `run -t`), so it misses nothing.
    pub(crate) fn open(container_dir: &Path, first: Option<OwnedFd>) -> Hub {
        let listener = std::fs::File::open(container_dir).ok().and_then(|dir| {
            let path = socket_path(dir.as_fd());
            let _ = std::fs::remove_file(&path);
            // Only root may attach (docker's socket is root's too): the socket is born 0600,
            // with no window in which it is open to others. The monitor has one thread, so
            // the process-wide umask is ours to change for this call.
            let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
            let l = std::os::unix::net::UnixListener::bind(&path);
            nix::sys::stat::umask(old);
            l.ok()
        });
        if let Some(l) = &listener {
            let _ = l.set_nonblocking(true);
        }
        let mut hub = Hub {
            listener,
            clients: Vec::new(),
        };
        if let Some(fd) = first {
            hub.add(UnixStream::from(fd));
        }
        hub
    }

    fn add(&mut self, sock: UnixStream) {
        let _ = sock.set_nonblocking(false);
        // A client that stops reading must not stall the container's output for long.
        let _ = sock.set_write_timeout(Some(std::time::Duration::from_secs(5)));
        self.clients.push(Client {
            sock,
            frames: Frames::default(),
        });
    }

    pub(crate) fn listener_fd(&self) -> Option<BorrowedFd<'_>> {
        self.listener.as_ref().map(|l| l.as_fd())
    }

    pub(crate) fn accept(&mut self) {
        let mut new = Vec::new();
        if let Some(l) = &self.listener {
            while let Ok((s, _)) = l.accept() {
                new.push(s);
            }
        }
        for s in new {
            self.add(s);
        }
    }

    /// Sends output to every client, dropping those that fail.
    pub(crate) fn broadcast(&mut self, stream: u8, data: &[u8]) {
        self.clients
            .retain_mut(|c| write_frame(&mut c.sock, stream, data).is_ok());
    }

    /// Reads what client `i` sent; `None` when it went away (and was dropped).
    pub(crate) fn read_client(&mut self, i: usize, buf: &mut [u8]) -> Option<Vec<Request>> {
        let c = &mut self.clients[i];
        let n = match (&c.sock).read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Some(Vec::new()),
            Err(_) => 0,
        };
        if n == 0 {
            self.clients.remove(i);
            return None;
        }
        c.frames.push(&buf[..n]);
        let mut out = Vec::new();
        loop {
            match c.frames.next_frame() {
                Ok(Some((STDIN, data))) => out.push(Request::Stdin(data)),
                Ok(Some((RESIZE, d))) if d.len() == 4 => out.push(Request::Resize(
                    u16::from_be_bytes([d[0], d[1]]),
                    u16::from_be_bytes([d[2], d[3]]),
                )),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    self.clients.remove(i);
                    return None;
                }
            }
        }
        Some(out)
    }

    /// Ends every client's session (the container's output is over).
    pub(crate) fn close_clients(&mut self) {
        self.clients.clear();
    }

    pub(crate) fn close(&mut self, container_dir: &Path) {
        self.clients.clear();
        self.listener = None;
        let _ = std::fs::remove_file(container_dir.join(SOCKET));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces() {
        let mut wire = Vec::new();
        write_frame(&mut wire, STDOUT, b"hello").unwrap();
        write_frame(&mut wire, RESIZE, &resize_frame(24, 80)).unwrap();
        let mut f = Frames::default();
        let mut got = Vec::new();
        for b in wire.chunks(3) {
            f.push(b);
            while let Some(x) = f.next_frame().unwrap() {
                got.push(x);
            }
        }
        assert_eq!(got[0], (STDOUT, b"hello".to_vec()));
        assert_eq!(got[1], (RESIZE, vec![0, 24, 0, 80]));
    }

    #[test]
    fn oversized_frames_are_refused() {
        let mut f = Frames::default();
        f.push(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(f.next_frame().is_err());
    }

    #[test]
    fn detach_sequence_is_held_back_and_never_sent() {
        let keys = Some(DEFAULT_DETACH_KEYS);
        let mut m = 0;
        assert_eq!(
            scan_detach(b"ab\x10", keys, &mut m),
            (b"ab".to_vec(), false)
        );
        // A lone ctrl-p followed by something else goes through after all.
        assert_eq!(scan_detach(b"x", keys, &mut m), (b"\x10x".to_vec(), false));
        assert_eq!(scan_detach(b"\x10", keys, &mut m), (Vec::new(), false));
        assert_eq!(scan_detach(b"\x11rest", keys, &mut m), (Vec::new(), true));
        // The sequence found where it starts inside a failed partial match.
        let mut m = 0;
        assert_eq!(
            scan_detach(b"aaab", Some(b"aab"), &mut m),
            (b"a".to_vec(), true)
        );
        let mut m = 0;
        assert_eq!(
            scan_detach(b"xaba", Some(b"ab"), &mut m),
            (b"x".to_vec(), true)
        );
        // The state is reset after a detach, and empty keys pass everything.
        assert_eq!(m, 0);
        assert_eq!(
            scan_detach(b"ab", Some(b""), &mut m),
            (b"ab".to_vec(), false)
        );
    }

    #[test]
    fn detach_keys_parse_as_docker_does() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            DEFAULT_DETACH_KEYS
        );
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert_eq!(parse_detach_keys("ctrl-[").unwrap(), vec![27]);
        // Docker's table has lower-case letters only.
        assert!(parse_detach_keys("ctrl-A").is_err());
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("abc").is_err());
        assert!(parse_detach_keys("").is_err());
    }
}
