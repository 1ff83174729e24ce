//! Giving back memory a long-lived, mostly idle process (the container monitor) only
//! needed while it started up.

/// Unmaps from this process the pages of its file-backed mappings that it never wrote:
/// program and library text and read-only data, faulted in during startup. They stay in the
/// page cache and come back on the next touch as minor faults, so nothing is lost but
/// resident set size. Mappings with any anonymous (copied-on-write) page are left alone, since
/// dropping those would lose data (relocated read-only data among them). Also returns free
/// heap to the kernel. Returns how many KiB were released, as the kernel counted them.
/// Drops the main thread's stack pages below the current frame, less a margin: startup's
/// deep calls (the runtime, serde) left them resident, and nothing below the stack pointer is
/// live in a single-threaded process outside a signal handler. Returns the KiB it could have
/// held (an upper bound: some were never touched).
fn release_stack_below_here(bottom: usize) -> u64 {
    const PAGE: usize = 4096;
    // Room for this function's own callees (madvise) and anything a signal may push.
    const MARGIN: usize = 16 * 1024;
    let here = 0u8;
    let sp = std::hint::black_box(&here) as *const u8 as usize;
    let top = (sp.saturating_sub(MARGIN)) & !(PAGE - 1);
    if top <= bottom {
        return 0;
    }
    // SAFETY: [bottom, top) is the part of our own stack mapping well below the current
    // frame: no live data is there, and a later touch reads back zeroed pages.
    let ok = unsafe {
        libc::madvise(
            bottom as *mut libc::c_void,
            top - bottom,
            libc::MADV_DONTNEED,
        )
    };
    if ok == 0 {
        ((top - bottom) / 1024) as u64
    } else {
        0
    }
}

pub fn release_clean_pages() -> u64 {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut released = 0;
    let mut current: Option<(usize, usize, bool)> = None;
    let mut rss = 0u64;
    let mut dirty = false;
    let mut stack = None;
    let mut flush = |m: Option<(usize, usize, bool)>, rss: u64, dirty: bool| {
        if let Some((start, end, file)) = m {
            if file && !dirty && rss > 0 {
                // SAFETY: the range is one of our own mappings, file-backed and with no page
                // written since it was mapped, so MADV_DONTNEED only drops page-table entries
                // whose contents the next fault reads back from the same file.
                if unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
                } == 0
                {
                    released += rss;
                }
            }
        }
    };
    for line in smaps.lines() {
        let mut words = line.split_ascii_whitespace();
        let Some(first) = words.next() else { continue };
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            flush(current.take(), rss, dirty);
            rss = 0;
            dirty = false;
            let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            // perms, offset, dev, inode, then the path: file-backed when the inode isn't 0
            // and the path is a real one ([heap], [stack] and [vdso] are not).
            let rest: Vec<&str> = words.collect();
            let file = rest.len() >= 5 && rest[3] != "0" && rest[4].starts_with('/');
            if rest.get(4) == Some(&"[stack]") {
                stack = Some(start);
            }
            current = Some((start, end, file));
            continue;
        }
        let kib = words
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match first {
            "Rss:" => rss = kib,
            // A page we wrote to became anonymous (copy on write); one dirty only in the
            // page cache (a binary written moments ago) is still the file's and safe to drop.
            "Anonymous:" | "Swap:" | "Locked:" if kib > 0 => dirty = true,
            _ => {}
        }
    }
    flush(current.take(), rss, dirty);
    if let Some(bottom) = stack {
        released += release_stack_below_here(bottom);
    }
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    released
}
