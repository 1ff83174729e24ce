//! v1 hugetlb controller.

use std::fs as stdfs;
use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::fs;
use crate::{Error, HugetlbStats, Stats};

/// Page sizes end up in file names, so only the kernel's spelling ("2MB", "1GB", "64KB") passes.
pub(crate) fn check_page_size(size: &str) -> Result<(), Error> {
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &size[digits.len()..];
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "KB" | "MB" | "GB" | "TB");
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidResource {
            field: "hugepageLimits.pageSize",
            value: size.to_owned(),
            reason: "expected a size like 2MB or 1GB".into(),
        })
    }
}

pub(crate) fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), Error> {
    for l in limits {
        check_page_size(l.page_size())?;
        let file = format!("hugetlb.{}.limit_in_bytes", l.page_size());
        let value = if l.limit() < 0 { -1 } else { l.limit() };
        fs::write(dir, &file, &value.to_string())?;
    }
    Ok(())
}

/// Sizes are taken from the files present, so no page size list is needed.
pub(crate) fn stats(dir: &Path, out: &mut Stats) -> Result<(), Error> {
    for size in sizes(dir, ".usage_in_bytes") {
        let f = |name: &str| fs::read_u64_opt(dir, &format!("hugetlb.{size}.{name}"));
        let s = HugetlbStats {
            usage: f("usage_in_bytes")?.unwrap_or(0),
            max_usage: f("max_usage_in_bytes")?.unwrap_or(0),
            limit: f("limit_in_bytes")?.unwrap_or(0),
            failcnt: f("failcnt")?.unwrap_or(0),
        };
        out.hugetlb.insert(size, s);
    }
    Ok(())
}

/// Page sizes named by files "hugetlb.<size><suffix>" (excluding ".rsvd." variants).
pub(crate) fn sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let Ok(entries) = stdfs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!size.contains('.')).then(|| size.to_owned())
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        for ok in ["2MB", "1GB", "64KB"] {
            check_page_size(ok).unwrap();
        }
        for bad in ["", "MB", "2mb", "2MB/../x", "../2MB", "2 MB"] {
            assert!(check_page_size(bad).is_err(), "{bad}");
        }
    }
}
