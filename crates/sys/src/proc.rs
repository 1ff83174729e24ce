//! Facts about processes read from /proc.

use std::path::PathBuf;

/// The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), and
/// whether the process is a zombie. A pid plus its start time names a process for good:
/// pids are reused, start times are not reused for the same pid.
pub fn start_time(pid: i32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    // rest starts at field 3 (state); start time is field 22.
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

/// Whether `pid` is still the process that started at `start` and has not exited.
pub fn alive(pid: i32, start: u64) -> bool {
    matches!(start_time(pid), Some((s, false)) if s == start)
}

/// Path of a namespace file of `pid`, e.g. `/proc/42/ns/net`.
pub fn ns_path(pid: i32, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_stable() {
        let me = std::process::id() as i32;
        let (a, zombie) = start_time(me).unwrap();
        assert!(!zombie);
        assert_eq!(start_time(me).unwrap().0, a);
        assert!(alive(me, a));
        assert!(!alive(me, a + 1));
        assert!(start_time(i32::MAX).is_none());
    }
}
