//! v2 hugetlb controller.

use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::fs;
use crate::v1::{check_page_size, hugetlb_sizes};
use crate::{Error, HugetlbStats, Stats};

pub(crate) fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), Error> {
    for l in limits {
        check_page_size(l.page_size())?;
        let value = if l.limit() < 0 {
            "max".to_owned()
        } else {
            l.limit().to_string()
        };
        fs::write(dir, &format!("hugetlb.{}.max", l.page_size()), &value)?;
    }
    Ok(())
}

/// v2 has no high-water mark; failcnt is the "max" count of hugetlb.<size>.events.
pub(crate) fn stats(dir: &Path, out: &mut Stats) -> Result<(), Error> {
    for size in hugetlb_sizes(dir, ".current") {
        let events = fs::read_keyed_opt(dir, &format!("hugetlb.{size}.events"))?;
        let s = HugetlbStats {
            usage: fs::read_u64_opt(dir, &format!("hugetlb.{size}.current"))?.unwrap_or(0),
            max_usage: 0,
            limit: fs::read_u64_opt(dir, &format!("hugetlb.{size}.max"))?.unwrap_or(0),
            failcnt: events.and_then(|e| e.get("max").copied()).unwrap_or(0),
        };
        out.hugetlb.insert(size, s);
    }
    Ok(())
}
