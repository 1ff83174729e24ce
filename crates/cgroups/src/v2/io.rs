//! v2 io controller (the OCI blockIO section).

use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use crate::fs;
use crate::{BlkioEntry, BlkioStats, Error};

/// leafWeight has no v2 counterpart (it was CFQ-only) and is ignored, as in runc.
pub(crate) fn needed(b: &LinuxBlockIo) -> bool {
    let some = |v: &Option<Vec<_>>| v.as_ref().is_some_and(|v: &Vec<_>| !v.is_empty());
    b.weight().is_some_and(|w| w != 0)
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || some(b.throttle_read_bps_device())
        || some(b.throttle_write_bps_device())
        || some(b.throttle_read_iops_device())
        || some(b.throttle_write_iops_device())
}

/// Maps a blkio weight [10, 1000] onto io.weight [1, 10000], as runc's
/// ConvertBlkIOToIOWeightValue does.
pub(crate) fn blkio_to_io_weight(w: u16) -> u64 {
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

pub(crate) fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<(), Error> {
    // BFQ takes the blkio range as is; otherwise io.weight (io.cost) needs the conversion.
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        if bfq {
            fs::write(dir, "io.bfq.weight", &w.to_string())?;
        } else {
            fs::write(dir, "io.weight", &blkio_to_io_weight(w).to_string())?;
        }
    }
    for wd in b.weight_device().iter().flatten() {
        if let Some(w) = wd.weight() {
            let (file, w) = if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                ("io.weight", blkio_to_io_weight(w))
            };
            fs::write(dir, file, &format!("{}:{} {w}", wd.major(), wd.minor()))?;
        }
    }
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, devices) in throttles {
        for d in devices.iter().flatten() {
            fs::write(
                dir,
                "io.max",
                &max_line(d.major(), d.minor(), key, d.rate()),
            )?;
        }
    }
    Ok(())
}

/// A rate of 0 removes the limit on v1; v2 spells that "max" (the kernel refuses 0).
pub(crate) fn max_line(major: i64, minor: i64, key: &str, rate: u64) -> String {
    if rate == 0 {
        format!("{major}:{minor} {key}=max")
    } else {
        format!("{major}:{minor} {key}={rate}")
    }
}

/// io.stat lines are "major:minor rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N"; they are
/// reported in the v1 shape (Read/Write/Discard entries) that Docker's stats expect.
pub(crate) fn stats(dir: &Path, out: &mut BlkioStats) -> Result<(), Error> {
    let Some(content) = fs::read_opt(dir, "io.stat")? else {
        return Ok(());
    };
    let path = dir.join("io.stat");
    for line in content.lines() {
        let mut fields = line.split_whitespace();
        let Some(dev) = fields.next() else {
            continue;
        };
        let bad = || Error::Parse {
            path: path.clone(),
            content: line.to_owned(),
        };
        let (major, minor) = dev.split_once(':').ok_or_else(bad)?;
        let (major, minor) = (
            major.parse().map_err(|_| bad())?,
            minor.parse().map_err(|_| bad())?,
        );
        for kv in fields {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut out.io_service_bytes, "Read"),
                "wbytes" => (&mut out.io_service_bytes, "Write"),
                "dbytes" => (&mut out.io_service_bytes, "Discard"),
                "rios" => (&mut out.io_serviced, "Read"),
                "wios" => (&mut out.io_serviced, "Write"),
                "dios" => (&mut out.io_serviced, "Discard"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_owned(),
                value: v.parse().map_err(|_| bad())?,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_conversion() {
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10000);
    }

    #[test]
    fn io_max_lines() {
        assert_eq!(max_line(8, 0, "rbps", 1048576), "8:0 rbps=1048576");
        assert_eq!(max_line(8, 16, "wiops", 0), "8:16 wiops=max");
    }
}
