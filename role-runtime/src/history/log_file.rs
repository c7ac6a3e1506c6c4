//! The history's file: `history.log` in the process's data directory, an
//! 8-byte header then records appended one after another, each
//! `len: u32, crc32: u32, event` (big-endian; the event in its wire form,
//! `HistoryEvent::to_bytes`). Every append is synced before it counts, so
//! a recorded event survives a kill -9 (and a power cut). A record cut
//! short by a crash, or whose checksum fails, ends the log: it and anything
//! after it are cut off when the file is opened. Once the file holds
//! [`TRIM_AT`] records it is rewritten with the newest [`KEEP`] (to a new
//! file, synced, renamed over the old one), so it never grows past that.

use std::collections::VecDeque;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use wire_format::HistoryEvent;

/// The file's first bytes: what it is, and the layout's version.
const HEADER: &[u8; 8] = b"MHUBHIS1";
/// Events a process keeps (and answers with at most).
pub const KEEP: usize = wire_format::limits::MAX_HISTORY_EVENTS;
/// Records in the file that make it be rewritten with the newest [`KEEP`].
pub const TRIM_AT: usize = KEEP + KEEP / 4;
/// A record longer than any event can be is damage, not an event.
const MAX_RECORD: usize = 64 * 1024;

pub struct LogFile {
    path: PathBuf,
    file: File,
    /// Records in the file (the newest [`KEEP`] of them are in memory).
    records: usize,
    /// The file's length after its last whole record.
    end: u64,
}

impl LogFile {
    /// Opens (or creates, 0600 in a 0700 directory) `path`; the newest
    /// [`KEEP`] events, oldest first. A file that is not a history log is
    /// moved aside (`.bad-<ms>`) and a new one started.
    pub fn open(path: &Path) -> std::io::Result<(LogFile, VecDeque<HistoryEvent>)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let mut file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return LogFile::create(path),
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        if !bytes.starts_with(HEADER) {
            let aside = path.with_extension(format!("log.bad-{}", crate::now_ms()));
            tracing::warn!(path = %path.display(), aside = %aside.display(),
                "the history file is not a history log: moved aside, starting a new one");
            std::fs::rename(path, &aside)?;
            return LogFile::create(path);
        }
        let (events, records, good) = scan(&bytes[HEADER.len()..]);
        let end = (HEADER.len() + good) as u64;
        if end < bytes.len() as u64 {
            tracing::warn!(path = %path.display(), cut = bytes.len() as u64 - end,
                "the history file ends in a damaged or partial record (a crash while writing): cut off");
            file.set_len(end)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::Start(end))?;
        let log = LogFile {
            path: path.to_owned(),
            file,
            records,
            end,
        };
        Ok((log, events))
    }

    fn create(path: &Path) -> std::io::Result<(LogFile, VecDeque<HistoryEvent>)> {
        let file = new_file(path, &[])?;
        sync_dir(path)?;
        let log = LogFile {
            path: path.to_owned(),
            file,
            records: 0,
            end: HEADER.len() as u64,
        };
        Ok((log, VecDeque::new()))
    }

    /// Whether the next record brings the file to [`TRIM_AT`]: then it is
    /// [`LogFile::rewrite`]n with the newest events instead.
    pub fn full(&self) -> bool {
        self.records + 1 >= TRIM_AT
    }

    /// Appends `event` and syncs it.
    pub fn append(&mut self, event: &HistoryEvent) -> std::io::Result<()> {
        let record = record(event)?;
        let written = self
            .file
            .write_all(&record)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // A part written (a full disk) would end the log at the next
            // open, hiding every later record: cut it off now.
            let _ = self.file.set_len(self.end);
            let _ = self.file.seek(SeekFrom::Start(self.end));
            return Err(e);
        }
        self.records += 1;
        self.end += record.len() as u64;
        Ok(())
    }

    /// Replaces the file by one holding `events`: written under a new name,
    /// synced, renamed into place, the directory synced, so a crash leaves
    /// either the old file or the new one.
    pub fn rewrite(&mut self, events: &VecDeque<HistoryEvent>) -> std::io::Result<()> {
        let mut body = Vec::new();
        for event in events {
            body.extend(record(event)?);
        }
        let fresh = self.path.with_extension("log.new");
        let file = new_file(&fresh, &body)?;
        std::fs::rename(&fresh, &self.path)?;
        sync_dir(&self.path)?;
        self.end = (HEADER.len() + body.len()) as u64;
        self.file = file;
        self.records = events.len();
        Ok(())
    }
}

/// A new file at `path` (replacing one left by a crash) holding the
/// header and `body`, synced, positioned at its end.
fn new_file(path: &Path, body: &[u8]) -> std::io::Result<File> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(HEADER)?;
    file.write_all(body)?;
    file.sync_all()?;
    Ok(file)
}

/// Syncs the directory holding `path`, so a new name in it lasts.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

fn record(event: &HistoryEvent) -> std::io::Result<Vec<u8>> {
    let body = event
        .to_bytes()
        .map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend((body.len() as u32).to_be_bytes());
    out.extend(crc32(&body).to_be_bytes());
    out.extend(body);
    Ok(out)
}

/// The newest [`KEEP`] events of the records in `bytes`, how many records
/// there are, and how many bytes they take: the scan stops at the first
/// record that is cut short, fails its checksum or does not decode.
fn scan(bytes: &[u8]) -> (VecDeque<HistoryEvent>, usize, usize) {
    let mut events = VecDeque::new();
    let mut records = 0;
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let Some(body) = bytes
            .get(at + 8..at + 8 + len)
            .filter(|_| len <= MAX_RECORD)
        else {
            break;
        };
        if crc32(body) != crc {
            break;
        }
        let Ok(event) = HistoryEvent::from_bytes(body) else {
            break;
        };
        if events.len() == KEEP {
            events.pop_front();
        }
        events.push_back(event);
        records += 1;
        at += 8 + len;
    }
    (events, records, at)
}

/// CRC-32 (IEEE 802.3, the zlib one), bit by bit: a record is a few
/// hundred bytes, so a table buys nothing worth a dependency.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
