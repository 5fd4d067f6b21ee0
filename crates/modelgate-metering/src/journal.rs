//! The usage journal: every usage record is appended to a file in the data dir (one JSON
//! line, one `write` to the page cache, no fsync) before its request is answered, then
//! inserted into the database in batches by the writer. A process that crashes or is
//! killed loses nothing it answered: at the next start, [`Journal::open`] hands back the
//! journaled records, which are inserted idempotently (by record id) before serving.
//! Power loss is not covered (as with SQLite's `synchronous=NORMAL`).
//!
//! The journal is a series of segments `usage-<seq>.journal`. When the current one grows
//! past [`SEGMENT_BYTES`], the writer rotates it: under the append lock it opens the next
//! segment and queues a marker behind every record of the old one; once the batch holding
//! those records is committed, the old segment is deleted.

use modelgate_core::usage::UsageRecord;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Size after which the writer rotates the current segment.
pub const SEGMENT_BYTES: u64 = 4 * 1024 * 1024;

struct Segment {
    file: File,
    path: PathBuf,
    seq: u64,
}

pub struct Journal {
    dir: PathBuf,
    current: Mutex<Segment>,
    /// Bytes in the current segment.
    bytes: AtomicU64,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("usage-{seq:010}.journal"))
}

fn open_segment(dir: &Path, seq: u64) -> io::Result<Segment> {
    let path = segment_path(dir, seq);
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    Ok(Segment { file, path, seq })
}

/// What a start found in the journal: records to insert, then segments to delete.
pub struct Recovered {
    pub records: Vec<UsageRecord>,
    pub segments: Vec<PathBuf>,
}

impl Journal {
    /// Opens the journal in `dir`, returning what earlier runs left behind. A torn last
    /// line (a crash mid-append: that request was never answered) is skipped.
    pub fn open(dir: &Path) -> io::Result<(Self, Recovered)> {
        std::fs::create_dir_all(dir)?;
        let mut segments: Vec<(u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let seq = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("usage-"))
                .and_then(|n| n.strip_suffix(".journal"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                segments.push((seq, path));
            }
        }
        segments.sort();
        let mut records = Vec::new();
        for (_, path) in &segments {
            for line in io::BufReader::new(File::open(path)?).lines() {
                let line = line?;
                match serde_json::from_str::<UsageRecord>(&line) {
                    Ok(r) => records.push(r),
                    Err(_) if line.trim().is_empty() => {}
                    Err(e) => {
                        tracing::warn!(segment = %path.display(), error = %e, "skipping a torn journal line");
                    }
                }
            }
        }
        let next = segments.last().map_or(1, |(seq, _)| seq + 1);
        let journal = Self {
            current: Mutex::new(open_segment(dir, next)?),
            dir: dir.to_path_buf(),
            bytes: AtomicU64::new(0),
        };
        Ok((
            journal,
            Recovered {
                records,
                segments: segments.into_iter().map(|(_, p)| p).collect(),
            },
        ))
    }

    /// Appends `record` and, under the same lock (so records and rotation markers queue in
    /// journal order), hands it on with `then`.
    pub fn append(&self, record: UsageRecord, then: impl FnOnce(UsageRecord)) {
        let mut line = match serde_json::to_vec(&record) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "could not encode a usage record for the journal");
                then(record);
                return;
            }
        };
        line.push(b'\n');
        let mut seg = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = seg.file.write_all(&line) {
            metrics::counter!(crate::telemetry::USAGE_WRITE_FAILURES_TOTAL).increment(1);
            tracing::error!(error = %e, "could not append to the usage journal");
        }
        self.bytes.fetch_add(line.len() as u64, Ordering::Relaxed);
        then(record);
    }

    /// Whether the current segment is due for rotation.
    pub fn is_full(&self) -> bool {
        self.bytes.load(Ordering::Relaxed) >= SEGMENT_BYTES
    }

    /// Starts a new segment; `mark` runs under the append lock with the old segment's
    /// path (the writer queues it behind the old segment's records).
    pub fn rotate(&self, mark: impl FnOnce(PathBuf)) -> io::Result<()> {
        let mut seg = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let next = open_segment(&self.dir, seg.seq + 1)?;
        let old = std::mem::replace(&mut *seg, next);
        self.bytes.store(0, Ordering::Relaxed);
        mark(old.path);
        Ok(())
    }
}

/// Deletes journal segments whose records are stored.
pub fn discard(segments: &[PathBuf]) {
    for path in segments {
        if let Err(e) = std::fs::remove_file(path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(segment = %path.display(), error = %e, "could not delete a journal segment");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelgate_core::usage::{Outcome, TokenUsage};

    fn record(id: &str) -> UsageRecord {
        UsageRecord {
            id: id.into(),
            request_id: "r".into(),
            created_at_ms: 1,
            key_id: "k".into(),
            user_id: "u".into(),
            allocation_id: Some("a".into()),
            provider: "p".into(),
            model: "m".into(),
            api: "chat.completions".into(),
            stream: false,
            usage: TokenUsage::default(),
            usage_estimated: false,
            cost_micros: 5,
            status: 200,
            outcome: Outcome::Ok,
            latency_ms: 1,
            ttft_ms: None,
        }
    }

    #[test]
    fn records_survive_a_restart_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (j, rec) = Journal::open(dir.path()).unwrap();
        assert!(rec.records.is_empty());
        let mut handed_on = 0;
        j.append(record("a"), |_| handed_on += 1);
        let mut old = None;
        j.rotate(|p| old = Some(p)).unwrap();
        j.append(record("b"), |_| handed_on += 1);
        assert_eq!(handed_on, 2);
        drop(j);
        // A crash mid-append leaves half a line.
        let last = segment_path(dir.path(), 2);
        let mut f = OpenOptions::new().append(true).open(&last).unwrap();
        f.write_all(b"{\"id\":\"tor").unwrap();
        let (_j, rec) = Journal::open(dir.path()).unwrap();
        let ids: Vec<&str> = rec.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(rec.segments.len(), 2);
        assert_eq!(rec.records[0], record("a"));
        discard(&rec.segments);
        discard(&[old.unwrap()]);
        let (_j, rec) = Journal::open(dir.path()).unwrap();
        assert!(rec.records.is_empty());
    }
}
