//! Compiled filters kept on disk, keyed by what they were compiled from. libseccomp takes
//! about 10 ms to compile Docker's default profile, a quarter of a container's start; the
//! same profile and capability set give the same program every time.
//!
//! The cache directory is set once per process ([`set_dir`]; the engine's monitor points it
//! into berth's own root-owned store) and [`crate::compile`] consults it. Anything odd about
//! a cached file (short, wrong magic, unreadable) means compiling again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use oci_spec::runtime::LinuxSeccomp;
use sha2::Digest as _;

static DIR: OnceLock<PathBuf> = OnceLock::new();

const MAGIC: &[u8; 8] = b"BSCBPF01";

/// Where compiled filters are kept for the rest of this process. The first call wins.
pub fn set_dir(dir: &Path) {
    let _ = DIR.set(dir.to_path_buf());
}

fn key(s: &LinuxSeccomp) -> Option<String> {
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_vec(s).ok()?);
    // A different libseccomp could compile differently.
    let v = libseccomp::ScmpVersion::current().ok()?;
    h.update(format!(
        "{}.{}.{} {}",
        v.major,
        v.minor,
        v.micro,
        std::env::consts::ARCH
    ));
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn load(
    s: &LinuxSeccomp,
) -> Option<(Vec<libc::sock_filter>, libc::c_ulong, Vec<String>)> {
    let path = DIR.get()?.join(key(s)?);
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    const W: usize = std::mem::size_of::<libc::c_ulong>();
    let flags = libc::c_ulong::from_le_bytes(rest.get(..W)?.try_into().ok()?);
    let rest = rest.get(W..)?;
    let n = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    if n > crate::MAX_INSTRUCTIONS {
        return None;
    }
    let rest = rest.get(4..)?;
    let prog_bytes = rest.get(..n * 8)?;
    let program = prog_bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_le_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let warnings: Vec<String> = serde_json::from_slice(rest.get(n * 8..)?).ok()?;
    Some((program, flags, warnings))
}

pub(crate) fn store(
    s: &LinuxSeccomp,
    program: &[libc::sock_filter],
    flags: libc::c_ulong,
    warnings: &[String],
) {
    let (Some(dir), Some(key)) = (DIR.get(), key(s)) else {
        return;
    };
    let mut out = Vec::with_capacity(24 + program.len() * 8);
    out.extend_from_slice(MAGIC);
    // Native width: the key includes the architecture, so a file is only read where written.
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&(program.len() as u32).to_le_bytes());
    for i in program {
        out.extend_from_slice(&i.code.to_le_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_le_bytes());
    }
    out.extend_from_slice(&serde_json::to_vec(warnings).unwrap_or_else(|_| b"[]".to_vec()));
    // Written aside and renamed: a reader sees a whole file or none.
    let _ = std::fs::create_dir_all(dir);
    let tmp = dir.join(format!(".{key}.{}", std::process::id()));
    let ok = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&out))
        .is_ok();
    if !ok || std::fs::rename(&tmp, dir.join(&key)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
