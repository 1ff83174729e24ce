//! Layer compression: told by magic bytes when reading (media types lie, and `docker load`
//! archives carry none), chosen by media type when writing.

use std::io::{self, Read, Write};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// Whether `p` starts a bzip2 stream: `BZh`, a block size digit, then the start of a
/// block's or the end's magic, so that a plain tar whose first file is named `BZh...` passes.
fn is_bzip2(p: &[u8]) -> bool {
    p.len() >= 6
        && p.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&p[3])
        && (&p[4..6] == b"1A" || &p[4..6] == b"\x17r")
}

pub const MEDIA_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MEDIA_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const MEDIA_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const MEDIA_DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
const MEDIA_OCI_NONDIST: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
const MEDIA_OCI_NONDIST_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
const MEDIA_OCI_NONDIST_ZSTD: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

impl Compression {
    /// Tells the compression from the first bytes of a blob (4 are enough). Anything that
    /// isn't gzip or zstd is taken as a plain tar.
    pub fn detect(prefix: &[u8]) -> Compression {
        if prefix.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if prefix.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The compression a layer media type announces; `None` for media types that aren't
    /// layers.
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        Some(match media_type {
            MEDIA_OCI_LAYER | MEDIA_DOCKER_LAYER | MEDIA_OCI_NONDIST => Compression::None,
            MEDIA_OCI_LAYER_GZIP
            | MEDIA_DOCKER_LAYER_GZIP
            | MEDIA_DOCKER_FOREIGN_LAYER_GZIP
            | MEDIA_OCI_NONDIST_GZIP => Compression::Gzip,
            MEDIA_OCI_LAYER_ZSTD | MEDIA_OCI_NONDIST_ZSTD => Compression::Zstd,
            _ => return None,
        })
    }

    /// The OCI layer media type for this compression.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => MEDIA_OCI_LAYER,
            Compression::Gzip => MEDIA_OCI_LAYER_GZIP,
            Compression::Zstd => MEDIA_OCI_LAYER_ZSTD,
        }
    }

    /// The Docker (schema 2) layer media type; Docker has none for zstd, so that is `None`.
    pub fn docker_media_type(self) -> Option<&'static str> {
        match self {
            Compression::None => Some(MEDIA_DOCKER_LAYER),
            Compression::Gzip => Some(MEDIA_DOCKER_LAYER_GZIP),
            Compression::Zstd => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads up to `buf.len()` bytes, fewer only at end of stream.
fn read_prefix(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Wraps `r` in the decoder its magic bytes call for. Gzip may have several members (as
/// `pigz` and concatenated layers produce) and zstd several frames; both are read to the end.
pub fn decompress<'a, R: Read + 'a>(mut r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut magic = [0u8; 6];
    let n = read_prefix(&mut r, &mut magic)?;
    let prefix = &magic[..n];
    let unsupported = if prefix.starts_with(XZ_MAGIC) {
        Some("xz")
    } else if is_bzip2(prefix) {
        Some("bzip2")
    } else {
        None
    };
    if let Some(name) = unsupported {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name}-compressed layers are not supported (only gzip and zstd)"),
        ));
    }
    let c = Compression::detect(prefix);
    let whole = io::Cursor::new(magic).take(n as u64).chain(r);
    Ok((
        c,
        match c {
            Compression::None => Box::new(whole),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(whole)?),
        },
    ))
}

/// A writer that compresses into `W`; [`Encoder::finish`] writes the trailer and returns it.
pub enum Encoder<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> std::fmt::Debug for Encoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = match self {
            Encoder::None(_) => Compression::None,
            Encoder::Gzip(_) => Compression::Gzip,
            Encoder::Zstd(_) => Compression::Zstd,
        };
        write!(f, "Encoder({c})")
    }
}

/// Starts compressing into `w` at the default level (gzip 6, as Docker; zstd 3).
pub fn compress<W: Write>(w: W, c: Compression) -> io::Result<Encoder<W>> {
    Ok(match c {
        Compression::None => Encoder::None(w),
        Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
            w,
            flate2::Compression::default(),
        )),
        Compression::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(w, 3)?),
    })
}

impl<W: Write> Encoder<W> {
    /// Ends the stream and gives back the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(c: Compression) {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut e = compress(Vec::new(), c).unwrap();
        e.write_all(&data).unwrap();
        let blob = e.finish().unwrap();
        assert_eq!(Compression::detect(&blob), c);
        let (got, mut r) = decompress(&blob[..]).unwrap();
        assert_eq!(got, c);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn round_trips() {
        round_trip(Compression::None);
        round_trip(Compression::Gzip);
        round_trip(Compression::Zstd);
    }

    #[test]
    fn short_and_empty_inputs() {
        for input in [&b""[..], b"\x1f", b"ab"] {
            let (c, mut r) = decompress(input).unwrap();
            assert_eq!(c, Compression::None);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, input);
        }
    }

    #[test]
    fn refuses_xz_and_bzip2_clearly() {
        let e = decompress(&b"\xfd7zXZ\x00rest"[..]).err().unwrap();
        assert!(e.to_string().contains("xz-compressed"), "{e}");
        let e = decompress(&b"BZh91AY&SY"[..]).err().unwrap();
        assert!(e.to_string().contains("bzip2"), "{e}");
        assert!(decompress(&b"BZhello.txt"[..]).is_ok());
    }

    #[test]
    fn media_types() {
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            assert_eq!(Compression::from_media_type(c.oci_media_type()), Some(c));
            if let Some(m) = c.docker_media_type() {
                assert_eq!(Compression::from_media_type(m), Some(c));
            }
        }
        assert_eq!(
            Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.config.v1+json"),
            None
        );
    }
}
