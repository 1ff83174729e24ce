//! Arbitrary bytes on the attach socket, in arbitrary chunks: `Frames` must never panic nor
//! hand out a frame over `MAX_FRAME`; frames written with `write_frame` must come back the
//! same whatever the chunking; and `scan_detach` must pass on exactly the input less the
//! detach sequence.

#![no_main]

use berth_engine::attach::{scan_detach, write_frame, Frames, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 16) + 1;

    // 1. Raw bytes as they come off the socket.
    let mut f = Frames::default();
    'raw: for c in rest.chunks(chunk) {
        f.push(c);
        loop {
            match f.next_frame() {
                Ok(Some((_, payload))) => assert!(payload.len() <= MAX_FRAME),
                Ok(None) => break,
                Err(_) => break 'raw,
            }
        }
    }

    // 2. The input cut into frames (each byte of a header picks a stream and a length).
    let mut sent = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let stream = rest[i] % 4;
        let len = (usize::from(rest.get(i + 1).copied().unwrap_or(0)) * 7) % 97;
        let end = (i + 2 + len).min(rest.len());
        sent.push((stream, rest[(i + 2).min(end)..end].to_vec()));
        i = end.max(i + 2);
    }
    let mut wire = Vec::new();
    for (s, d) in &sent {
        write_frame(&mut wire, *s, d).unwrap();
    }
    let mut f = Frames::default();
    let mut got = Vec::new();
    for c in wire.chunks(chunk) {
        f.push(c);
        while let Some(x) = f.next_frame().unwrap() {
            got.push(x);
        }
    }
    assert_eq!(got, sent);

    // 3. The detach keys are the first few bytes; the rest is typed in chunks.
    let nkeys = usize::from(split % 3) + 1;
    if rest.len() < nkeys {
        return;
    }
    let (keys, typed) = rest.split_at(nkeys);
    let mut matched = 0;
    let mut out = Vec::new();
    let mut fed = 0;
    let mut detached = false;
    for c in typed.chunks(chunk) {
        let (o, d) = scan_detach(c, Some(keys), &mut matched);
        out.extend_from_slice(&o);
        if d {
            fed += c.len();
            detached = true;
            break;
        }
        fed += c.len();
    }
    let first = typed.windows(nkeys).position(|w| w == keys);
    match first {
        Some(p) => {
            assert!(detached, "keys {keys:?} at {p} not detected");
            assert_eq!(out, &typed[..p]);
            assert!(fed >= p + nkeys);
        }
        None => {
            assert!(!detached);
            out.extend_from_slice(&keys[..matched]);
            assert_eq!(out, typed);
        }
    }
});
