//! Error logging in runc's formats, and the `list` table.

use std::io::Write;
use std::path::PathBuf;

pub struct Log {
    file: Option<PathBuf>,
    json: bool,
}

fn now() -> String {
    // Second precision is what logrus prints in text mode.
    let full = berth_runtime::state::now();
    match full.split_once('.') {
        Some((secs, _)) => format!("{secs}Z"),
        None => full,
    }
}

impl Log {
    pub fn new(file: Option<PathBuf>, format: String) -> Self {
        Log {
            file,
            json: format == "json",
        }
    }

    pub fn error(&self, msg: &str) {
        let time = now();
        eprintln!("time=\"{time}\" level=error msg={}", quote(msg));
        if let Some(path) = &self.file {
            let line = if self.json {
                serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
            } else {
                format!("time=\"{time}\" level=error msg={}", quote(msg))
            };
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{line}");
            }
        }
    }

    pub fn warn(&self, msg: &str) {
        eprintln!("time=\"{}\" level=warning msg={}", now(), quote(msg));
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Aligns rows the way Go's tabwriter does for runc (min width 12, padding 3).
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            let w = rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.len())
                .max()
                .unwrap_or(0);
            (w + 3).max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}
