//! Docker's json-file log driver: one JSON object per line, `{"log":"...","stream":"stdout",
//! "time":"RFC 3339 with nanoseconds"}`, a line per newline the container wrote (a partial
//! line is written when its buffer fills or the stream ends).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

pub struct JsonLog {
    file: std::io::BufWriter<std::fs::File>,
    partial: [Vec<u8>; 2],
    path: std::path::PathBuf,
    written: u64,
    max_size: u64,
    max_file: u32,
}

const MAX_LINE: usize = 16 << 10;

impl JsonLog {
    pub fn open(path: &Path) -> Result<JsonLog> {
        Self::with_rotation(path, 0, 1)
    }

    /// Rotates when the file passes `max_size` bytes (0: never), keeping `max_file` files in
    /// all (`NAME`, `NAME.1`, ...), as docker's json-file driver does.
    pub fn with_rotation(path: &Path, max_size: u64, max_file: u32) -> Result<JsonLog> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(EngineError::io(path))?;
        let written = f.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(JsonLog {
            file: std::io::BufWriter::new(f),
            partial: [Vec::new(), Vec::new()],
            path: path.to_path_buf(),
            written,
            max_size,
            max_file: max_file.max(1),
        })
    }

    fn rotate(&mut self) {
        let _ = self.file.flush();
        let name = |i: u32| {
            if i == 0 {
                self.path.clone()
            } else {
                std::path::PathBuf::from(format!("{}.{i}", self.path.display()))
            }
        };
        if self.max_file > 1 {
            for i in (0..self.max_file - 1).rev() {
                let _ = std::fs::rename(name(i), name(i + 1));
            }
        }
        if let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)
        {
            self.file = std::io::BufWriter::new(f);
            self.written = 0;
        }
    }

    fn emit(&mut self, stream: &str, bytes: &[u8]) {
        let e = Entry {
            log: String::from_utf8_lossy(bytes).into_owned(),
            stream: stream.into(),
            time: berth_image::timefmt::now(),
        };
        if let Ok(mut line) = serde_json::to_vec(&e) {
            line.push(b'\n');
            if self.max_size > 0
                && self.written > 0
                && self.written + line.len() as u64 > self.max_size
            {
                self.rotate();
            }
            self.written += line.len() as u64;
            let _ = self.file.write_all(&line);
        }
    }

    pub fn write(&mut self, stream: &str, data: &[u8]) {
        let i = usize::from(stream == "stderr");
        let mut pending = std::mem::take(&mut self.partial[i]);
        pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = pending[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl + 1;
            let line = pending[start..end].to_vec();
            self.emit(stream, &line);
            start = end;
        }
        let rest = pending[start..].to_vec();
        if rest.len() >= MAX_LINE {
            self.emit(stream, &rest);
        } else {
            self.partial[i] = rest;
        }
        let _ = self.file.flush();
    }

    pub fn flush(&mut self) {
        for (i, stream) in ["stdout", "stderr"].iter().enumerate() {
            let rest = std::mem::take(&mut self.partial[i]);
            if !rest.is_empty() {
                self.emit(stream, &rest);
            }
        }
        let _ = self.file.flush();
    }
}

/// The entries of a log and its rotated files, oldest first.
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut rotated: Vec<(u32, std::path::PathBuf)> = Vec::new();
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let f = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = f
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('.'))
                .and_then(|n| n.parse::<u32>().ok())
            {
                rotated.push((n, e.path()));
            }
        }
    }
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (_, p) in rotated {
        out.extend(read_one(&p)?);
    }
    out.extend(read_one(path)?);
    Ok(out)
}

/// The entries of one log file (unreadable lines are skipped, as docker does).
fn read_one(path: &Path) -> Result<Vec<Entry>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EngineError::io(path)(e)),
    };
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut std::io::BufReader::new(f), &mut text)
        .map_err(EngineError::io(path))?;
    Ok(parse(&text))
}

/// The entries in the text of a log file. A line that is not a whole entry (cut short by a
/// crash or a full disk, not UTF-8, not JSON, missing a field) is skipped, and the lines
/// after it are still read.
pub fn parse(text: &[u8]) -> Vec<Entry> {
    text.split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_skipped_and_the_rest_kept() {
        let text = b"{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"t\"}\n\xff\xfe\n{\"log\":\n{\"log\":\"b\\n\",\"stream\":\"stderr\",\"time\":\"t\"}\n{\"log\":\"c";
        let got: Vec<String> = parse(text).into_iter().map(|e| e.log).collect();
        assert_eq!(got, ["a\n", "b\n"]);
    }
}
