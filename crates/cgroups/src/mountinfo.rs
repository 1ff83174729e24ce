//! Finding the v1 hierarchies from /proc/self/mountinfo (proc(5) describes the format).

use std::collections::BTreeMap;
use std::path::PathBuf;

const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// Maps each v1 controller (and each named hierarchy such as "name=systemd") to its mountpoint.
/// Co-mounted controllers ("cpu,cpuacct") map to the same mountpoint; when a hierarchy is mounted
/// twice, the first mount wins.
pub(crate) fn v1_mounts(mountinfo: &str) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mountpoint) = pre.split(' ').nth(4) else {
            continue;
        };
        let mut post = post.split(' ');
        let (Some("cgroup"), Some(_source), Some(super_opts)) =
            (post.next(), post.next(), post.next())
        else {
            continue;
        };
        for opt in super_opts.split(',') {
            if V1_CONTROLLERS.contains(&opt) || opt.starts_with("name=") {
                out.entry(opt.to_owned())
                    .or_insert_with(|| PathBuf::from(berth_sys::mount::unescape(mountpoint)));
            }
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as three octal digits.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hybrid_host() {
        let info = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 31 0:32 / /mnt/my\\040mem rw,relatime - cgroup cgroup rw,memory
";
        let m = v1_mounts(info);
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(m["cpu"], p("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m["cpuacct"], p("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m["cpuset"], p("/sys/fs/cgroup/cpuset"));
        assert_eq!(m["memory"], p("/sys/fs/cgroup/memory"));
        assert_eq!(m["name=systemd"], p("/sys/fs/cgroup/systemd"));
        assert_eq!(m.len(), 5, "{m:?}");
    }
}
