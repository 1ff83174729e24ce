//! Docker's json-file log driver: one JSON object per line, `{"log":"...","stream":"stdout",
//! "time":"RFC 3339 with nanoseconds"}`, a line per newline the container wrote (a partial
//! line is written when its buffer fills or the stream ends).

use std::io::{BufRead, Write};
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
}

const MAX_LINE: usize = 16 << 10;

impl JsonLog {
    pub fn open(path: &Path) -> Result<JsonLog> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(EngineError::io(path))?;
        Ok(JsonLog {
            file: std::io::BufWriter::new(f),
            partial: [Vec::new(), Vec::new()],
        })
    }

    fn emit(&mut self, stream: &str, bytes: &[u8]) {
        let e = Entry {
            log: String::from_utf8_lossy(bytes).into_owned(),
            stream: stream.into(),
            time: berth_image::timefmt::now(),
        };
        if let Ok(mut line) = serde_json::to_vec(&e) {
            line.push(b'\n');
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

/// The entries of a log file (unreadable lines are skipped, as docker does).
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EngineError::io(path)(e)),
    };
    Ok(std::io::BufReader::new(f)
        .lines()
        .map_while(|l| l.ok())
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect())
}
