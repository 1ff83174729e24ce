//! `berth cp`: Docker's client half of a copy. The engine streams a container path out as a
//! tar (or takes a tar into a container directory); here the paths are rebased the way
//! Docker's client does (trailing `/`, `DIR/.`, an existing or missing destination) and the
//! host side is packed or unpacked.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use berth_engine::{Engine, EngineError};

use crate::args::{self, flag};
use crate::format::human_size;
use crate::{Failure, Globals, Result};

/// `CONTAINER:PATH` or a local path, by Docker's rule: absolute paths and paths starting
/// with `.` are local even if they hold a `:`.
fn split(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => (Some(c), p),
        _ => (None, arg),
    }
}

/// A daemon-side failure, printed as docker prints one.
fn daemon(e: EngineError) -> Failure {
    Failure::new(1, e.to_string()).daemon()
}

/// Counts the bytes going by, for the "Successfully copied" line.
struct Count<T> {
    inner: T,
    n: u64,
}

impl<W: Write> Write for Count<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Count<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

pub fn cp(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[
            flag("archive", Some('a')),
            flag("follow-link", Some('L')),
            flag("quiet", Some('q')),
        ],
        argv,
        true,
    )
    .map_err(|e| Failure::usage("cp", e))?;
    if m.args.len() != 2 {
        return Err(Failure::usage(
            "cp",
            "\"berth cp\" requires exactly 2 arguments.",
        ));
    }
    let (sc, sp) = split(&m.args[0]);
    let (dc, dp) = split(&m.args[1]);
    // Docker prints progress only to a terminal.
    let quiet = m.on("quiet") || !std::io::stderr().is_terminal();
    let mut engine = Engine::open(&g.root).map_err(daemon)?;
    let copied = match (sc, dc) {
        (None, None) => {
            return Err(Failure::new(
                1,
                "must specify at least one container source",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(Failure::new(
                1,
                "copying between containers is not supported",
            ))
        }
        (Some(c), None) => copy_out(&mut engine, c, sp, dp, m.on("follow-link"))?,
        (None, Some(c)) => copy_in(&mut engine, c, sp, dp, m.on("follow-link"), m.on("archive"))?,
    };
    if !quiet && dp != "-" {
        eprintln!(
            "Successfully copied {} to {}",
            human_size(copied as f64),
            m.args[1]
        );
    }
    Ok(())
}

fn parent_and_name(p: &str) -> (String, String) {
    let t = p.trim_end_matches('/');
    let path = Path::new(t);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = match path.parent() {
        Some(d) if d.as_os_str().is_empty() => ".".to_string(),
        Some(d) => d.to_string_lossy().into_owned(),
        None => "/".to_string(),
    };
    (parent, name)
}

fn copy_out(engine: &mut Engine, ctr: &str, src: &str, dst: &str, follow: bool) -> Result<u64> {
    if dst == "-" {
        let mut out = Count {
            inner: std::io::BufWriter::new(std::io::stdout().lock()),
            n: 0,
        };
        engine
            .archive_path(ctr, src, follow, None, &mut out)
            .map_err(daemon)?;
        out.flush()
            .map_err(|e| Failure::new(1, format!("writing to stdout: {e}")))?;
        return Ok(out.n);
    }
    let st = engine.stat_path(ctr, src, follow).map_err(daemon)?;
    let dir_syntax = dst.ends_with('/') || dst.ends_with("/.");
    let (into, rename) = match std::fs::metadata(dst) {
        Ok(m) if m.is_dir() => (dst.to_string(), None),
        Ok(_) => {
            if st.is_dir() {
                return Err(Failure::new(1, "cannot copy directory"));
            }
            if dir_syntax {
                return Err(Failure::new(
                    1,
                    format!("destination \"{dst}\" must be a directory"),
                ));
            }
            let (p, n) = parent_and_name(dst);
            (p, Some(n))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir_syntax && !st.is_dir() {
                return Err(Failure::new(
                    1,
                    format!("destination directory \"{dst}\" must exist: no such directory"),
                ));
            }
            let (p, n) = parent_and_name(dst);
            (p, Some(n))
        }
        Err(e) => return Err(Failure::new(1, format!("stat {dst}: {e}"))),
    };
    if !Path::new(&into).is_dir() {
        return Err(Failure::new(
            1,
            format!("lstat {into}: no such file or directory"),
        ));
    }
    // The host side is unpacked by the same in-root applier as layers, anchored at the
    // destination directory: whatever symlinks the container put in the archive, nothing
    // lands outside it.
    let (r, w) = pipe()?;
    let into_path = PathBuf::from(&into);
    let unpack = std::thread::spawn(move || {
        let opts = berth_image::apply::ApplyOptions {
            whiteouts: berth_image::apply::Whiteouts::Literal,
            // Copied-out files belong to whoever copies them, as in Docker.
            preserve_owner: false,
            ..Default::default()
        };
        berth_image::apply::apply(&into_path, r, &opts)
    });
    let mut w = Count { inner: w, n: 0 };
    let sent = engine.archive_path(ctr, src, follow, rename.as_deref(), &mut w);
    let n = w.n;
    drop(w);
    let unpacked = unpack
        .join()
        .map_err(|_| Failure::new(1, "unpacking panicked"))?;
    // When one side fails the other sees a broken pipe or a cut-off tar: report the cause.
    match (sent, unpacked) {
        (Ok(_), Ok(_)) => Ok(n),
        (Err(e), Err(u)) if e.to_string().contains("Broken pipe") => {
            Err(Failure::new(1, format!("copying to {dst}: {u}")))
        }
        (Err(e), _) => Err(daemon(e)),
        (Ok(_), Err(u)) => Err(Failure::new(1, format!("copying to {dst}: {u}"))),
    }
}

fn pipe() -> Result<(std::fs::File, std::fs::File)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Failure::new(1, format!("pipe: {e}")))?;
    Ok((std::fs::File::from(r), std::fs::File::from(w)))
}

fn copy_in(
    engine: &mut Engine,
    ctr: &str,
    src: &str,
    dst: &str,
    follow: bool,
    archive: bool,
) -> Result<u64> {
    if src == "-" {
        let mut input = Count {
            inner: std::io::stdin().lock(),
            n: 0,
        };
        engine
            .extract_to(ctr, dst, &mut input, archive)
            .map_err(daemon)?;
        return Ok(input.n);
    }
    let meta = if follow {
        std::fs::metadata(src)
    } else {
        std::fs::symlink_metadata(src)
    }
    .map_err(|e| {
        let msg = if e.kind() == std::io::ErrorKind::NotFound {
            "no such file or directory".to_string()
        } else {
            e.to_string()
        };
        Failure::new(1, format!("lstat {src}: {msg}"))
    })?;
    if (src.ends_with('/') || src.ends_with("/.")) && !meta.is_dir() {
        return Err(Failure::new(1, format!("{src}: not a directory")));
    }
    let contents = src.ends_with("/.");
    let dir_syntax = dst.ends_with('/');
    let (into, name) = match engine.stat_path(ctr, dst, true) {
        Ok(st) if st.is_dir() => (st.path, None),
        Ok(st) => {
            if meta.is_dir() {
                return Err(Failure::new(1, "cannot copy directory"));
            }
            let (p, n) = parent_and_name(&st.path);
            (p, Some(n))
        }
        Err(EngineError::NoSuchPath { .. }) if !dir_syntax => {
            let (p, n) = parent_and_name(dst);
            (p, Some(n))
        }
        Err(EngineError::NoSuchPath { .. }) => {
            return Err(Failure::new(
                1,
                format!("destination directory \"{dst}\" must exist: no such directory"),
            ))
        }
        Err(e) => return Err(daemon(e)),
    };
    // The top entry: the destination's own name, the source's, or (for `DIR/.`) none.
    let top = match name {
        Some(n) => Some(n),
        None if contents => None,
        None => Some(parent_and_name(src).1),
    };
    let (r, w) = pipe()?;
    let src_path = PathBuf::from(src);
    let pack = std::thread::spawn(move || pack_host(&src_path, top.as_deref(), follow, w));
    let mut r = Count { inner: r, n: 0 };
    let res = engine.extract_to(ctr, &into, &mut r, archive);
    let n = r.n;
    drop(r);
    let packed = pack
        .join()
        .map_err(|_| Failure::new(1, "packing panicked"))?;
    // When one side fails the other sees a broken pipe or a cut-off tar: report the cause.
    match (res, packed) {
        (Ok(()), Ok(())) => Ok(n),
        (Err(e), Err(p)) if p.kind() == std::io::ErrorKind::BrokenPipe => Err(daemon(e)),
        (_, Err(p)) => Err(Failure::new(1, format!("reading {src}: {p}"))),
        (Err(e), Ok(())) => Err(daemon(e)),
    }
}

/// Packs the host path `src` as a tar whose top entry is `top` (or, with `None`, the
/// directory's contents). Only `-L` follows the source itself; symlinks below it are kept.
fn pack_host(
    src: &Path,
    top: Option<&str>,
    follow: bool,
    out: std::fs::File,
) -> std::io::Result<()> {
    let mut b = tar::Builder::new(std::io::BufWriter::new(out));
    b.follow_symlinks(false);
    let src = if follow {
        std::fs::canonicalize(src)?
    } else {
        src.to_path_buf()
    };
    let meta = std::fs::symlink_metadata(&src)?;
    match top {
        None => b.append_dir_all(".", &src)?,
        Some(n) if meta.is_dir() => b.append_dir_all(n, &src)?,
        Some(n) => b.append_path_with_name(&src, n)?,
    }
    b.into_inner()?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_splits_container_paths() {
        assert_eq!(split("c:/etc"), (Some("c"), "/etc"));
        assert_eq!(split("c:rel"), (Some("c"), "rel"));
        assert_eq!(split("/abs:x"), (None, "/abs:x"));
        assert_eq!(split("./c:x"), (None, "./c:x"));
        assert_eq!(split("file"), (None, "file"));
        assert_eq!(split(":x"), (None, ":x"));
        assert_eq!(split("-"), (None, "-"));
    }

    #[test]
    fn parents_and_names() {
        assert_eq!(parent_and_name("/a/b"), ("/a".into(), "b".into()));
        assert_eq!(parent_and_name("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(parent_and_name("b"), (".".into(), "b".into()));
        assert_eq!(parent_and_name("/b"), ("/".into(), "b".into()));
    }
}
