//! v1 blkio controller.

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use crate::fs;
use crate::{BlkioEntry, BlkioStats, Error};

pub(crate) fn needed(b: &LinuxBlockIo) -> bool {
    let some = |v: &Option<Vec<LinuxThrottleDevice>>| v.as_ref().is_some_and(|v| !v.is_empty());
    b.weight().is_some_and(|w| w != 0)
        || b.leaf_weight().is_some_and(|w| w != 0)
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || some(b.throttle_read_bps_device())
        || some(b.throttle_write_bps_device())
        || some(b.throttle_read_iops_device())
        || some(b.throttle_write_iops_device())
}

/// CFQ's blkio.weight is gone since kernel 5.0; BFQ offers blkio.bfq.weight with the same range.
/// When neither exists the CFQ name is used so that the error names a meaningful file.
fn weight_file(dir: &Path, cfq: &'static str, bfq: &'static str) -> &'static str {
    if !dir.join(cfq).exists() && dir.join(bfq).exists() {
        bfq
    } else {
        cfq
    }
}

pub(crate) fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<(), Error> {
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        let file = weight_file(dir, "blkio.weight", "blkio.bfq.weight");
        fs::write(dir, file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        fs::write(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for wd in b.weight_device().iter().flatten() {
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            let file = weight_file(dir, "blkio.weight_device", "blkio.bfq.weight_device");
            fs::write(dir, file, &format!("{}:{} {w}", wd.major(), wd.minor()))?;
        }
        if let Some(w) = wd.leaf_weight().filter(|w| *w != 0) {
            let value = format!("{}:{} {w}", wd.major(), wd.minor());
            fs::write(dir, "blkio.leaf_weight_device", &value)?;
        }
    }
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (file, devices) in throttles {
        // One rule per write: the kernel parses a single "major:minor rate" each time; rate 0
        // removes the rule.
        for d in devices.iter().flatten() {
            fs::write(
                dir,
                file,
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

/// Counters come from the first policy that has any: CFQ (pre-5.0 kernels), BFQ, then the
/// throttle layer, which counts every bio even without a scheduler policy, as runc does.
pub(crate) fn stats(dir: &Path, out: &mut BlkioStats) -> Result<(), Error> {
    let sources = [
        (
            "blkio.io_service_bytes_recursive",
            "blkio.io_serviced_recursive",
        ),
        (
            "blkio.bfq.io_service_bytes_recursive",
            "blkio.bfq.io_serviced_recursive",
        ),
        (
            "blkio.throttle.io_service_bytes_recursive",
            "blkio.throttle.io_serviced_recursive",
        ),
    ];
    for (bytes, ios) in sources {
        let b = parse_entries(&dir.join(bytes), fs::read_opt(dir, bytes)?.as_deref())?;
        let i = parse_entries(&dir.join(ios), fs::read_opt(dir, ios)?.as_deref())?;
        if !b.is_empty() || !i.is_empty() {
            out.io_service_bytes = b;
            out.io_serviced = i;
            break;
        }
    }
    Ok(())
}

/// Lines are "major:minor Op value"; the trailing "Total value" line has no device and is
/// dropped because the per-device Total lines already carry it.
fn parse_entries(path: &Path, content: Option<&str>) -> Result<Vec<BlkioEntry>, Error> {
    let mut out = Vec::new();
    for line in content.unwrap_or("").lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        let bad = || Error::Parse {
            path: path.to_path_buf(),
            content: line.to_owned(),
        };
        let (major, minor) = f[0].split_once(':').ok_or_else(bad)?;
        out.push(BlkioEntry {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
            op: f[1].to_owned(),
            value: f[2].parse().map_err(|_| bad())?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_bytes() {
        let s = "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n";
        let e = parse_entries(Path::new("x"), Some(s)).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[1],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Write".into(),
                value: 8192
            }
        );
    }
}
