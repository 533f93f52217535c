//! Reading a pack back: header, index and bodies, with every hash and chain link checked.

use super::{
    chain, EvidenceError, IndexEntry, PackHeader, EXCEPTIONS_FILE, HEADER_FILE, INDEX_FILE,
    MAX_ACCOUNTS, MAX_EXCEPTIONS_BYTES, MAX_HEADER_BYTES, MAX_RECORD_BYTES, RECORDS_DIR,
};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest index file a reader will go through (it is streamed: memory holds 24 bytes a line).
const MAX_METADATA_BYTES: u64 = 1 << 30;

/// A broken link or count in the record chain, found while opening a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProblem {
    /// The file the problem is in (`index.jsonl` or `pack.json`).
    pub file: String,
    pub message: String,
}

/// A pack opened for reading. The index and the bodies stay on disk until asked for: memory holds
/// the header and 24 bytes per record (where its index line is, its call and attempt).
#[derive(Debug)]
pub struct Pack {
    pub root: PathBuf,
    pub header: PackHeader,
    /// Everything wrong with the chain; empty for an intact pack.
    pub chain_problems: Vec<ChainProblem>,
    lines: Vec<Line>,
    /// For reading single index lines.
    index: std::sync::Mutex<fs::File>,
}

/// Where an index line is, with the fields needed to pick each call's final attempt.
#[derive(Debug, Clone, Copy)]
struct Line {
    offset: u64,
    len: u32,
    attempt: u32,
    call: u64,
}

impl Pack {
    /// Opens the pack in `dir`: parses the header and every index line and checks the chain.
    pub fn open(dir: &Path) -> Result<Self, EvidenceError> {
        let header_path = dir.join(HEADER_FILE);
        let header_bytes = read_limited(&header_path, MAX_HEADER_BYTES)?;
        let header: PackHeader =
            serde_json::from_slice(&header_bytes).map_err(|e| EvidenceError::Malformed {
                path: header_path.clone(),
                reason: format!("the header is not valid pack JSON ({e})"),
            })?;
        if header.accounts.len() > MAX_ACCOUNTS {
            return Err(EvidenceError::Malformed {
                path: header_path,
                reason: format!(
                    "the header lists {} accounts, more than the {MAX_ACCOUNTS} a pack may cover",
                    header.accounts.len()
                ),
            });
        }
        let index_path = dir.join(INDEX_FILE);
        let index =
            open_regular(&index_path).map_err(|e| EvidenceError::io(&index_path, "read", e))?;
        let reader = index
            .try_clone()
            .map_err(|e| EvidenceError::io(&index_path, "read", e))?;
        let (lines, chain_problems) = parse_index(
            &index_path,
            std::io::BufReader::with_capacity(1 << 16, reader.take(MAX_METADATA_BYTES + 1)),
            &header,
        )?;
        Ok(Self {
            root: dir.to_path_buf(),
            header,
            chain_problems,
            lines,
            index: std::sync::Mutex::new(index),
        })
    }

    /// The bytes of the pack's `exceptions.toml`; `None` when it has none. A link, a special file or
    /// a file over [`MAX_EXCEPTIONS_BYTES`] is refused, never followed.
    pub fn exceptions(&self) -> Result<Option<Vec<u8>>, EvidenceError> {
        let path = self.root.join(EXCEPTIONS_FILE);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            _ => {}
        }
        read_capped(&path, MAX_EXCEPTIONS_BYTES)
            .map(Some)
            .map_err(|e| EvidenceError::io(&path, "read", e))
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Record `i` (0-based; its seq is `i + 1`), read from the index.
    pub fn entry(&self, i: usize) -> Result<IndexEntry, EvidenceError> {
        use std::io::{Seek, SeekFrom};
        let path = self.root.join(INDEX_FILE);
        let line = self.lines.get(i).ok_or_else(|| EvidenceError::Malformed {
            path: path.clone(),
            reason: format!("there is no record {}", i + 1),
        })?;
        let mut bytes = vec![0; line.len as usize];
        {
            let mut file = self.index.lock().unwrap_or_else(|e| e.into_inner());
            file.seek(SeekFrom::Start(line.offset))
                .and_then(|_| file.read_exact(&mut bytes))
                .map_err(|e| EvidenceError::io(&path, "read", e))?;
        }
        parse_again(&path, &bytes, i)
    }

    /// Every record in order, read from the index as the iterator goes; stops after an error.
    pub fn entries(&self) -> impl Iterator<Item = Result<IndexEntry, EvidenceError>> + '_ {
        let path = self.root.join(INDEX_FILE);
        let mut reader: Option<std::io::BufReader<fs::File>> = None;
        let mut failed = false;
        let mut buf = Vec::new();
        (0..self.lines.len()).map_while(move |i| {
            if failed {
                return None;
            }
            let result = match &mut reader {
                Some(reader) => Ok(reader),
                None => open_regular(&path)
                    .map(|f| &mut *reader.insert(std::io::BufReader::with_capacity(1 << 16, f))),
            }
            .and_then(|reader| {
                buf.clear();
                std::io::BufRead::read_until(reader, b'\n', &mut buf)
            })
            .map_err(|e| EvidenceError::io(&path, "read", e))
            .and_then(|_| parse_again(&path, buf.strip_suffix(b"\n").unwrap_or(&buf), i));
            failed = result.is_err();
            Some(result)
        })
    }

    /// Reads one record's body and checks its size and SHA-256 against the index.
    pub fn body(&self, entry: &IndexEntry) -> Result<Option<Vec<u8>>, EvidenceError> {
        let Some(rel) = &entry.body else {
            return Ok(None);
        };
        let path = self.root.join(rel);
        if entry.body_size > MAX_RECORD_BYTES {
            return Err(EvidenceError::Malformed {
                path,
                reason: format!(
                    "record {} claims a {}-byte body, more than the {MAX_RECORD_BYTES} bytes a \
                     record can hold; the pack was not written by auditpack",
                    entry.seq, entry.body_size
                ),
            });
        }
        // The index says how large the body is: nothing larger is read.
        let bytes = read_capped(&path, entry.body_size).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => EvidenceError::Malformed {
                path: path.clone(),
                reason: format!(
                    "record {} body is larger than the {} bytes the index gives it",
                    entry.seq, entry.body_size
                ),
            },
            std::io::ErrorKind::InvalidInput => EvidenceError::Malformed {
                path: path.clone(),
                reason: format!("record {} body is {e}", entry.seq),
            },
            _ => EvidenceError::io(&path, "read", e),
        })?;
        let actual = chain::sha256_hex(&bytes);
        if bytes.len() as u64 != entry.body_size || Some(&actual) != entry.body_sha256.as_ref() {
            return Err(EvidenceError::Malformed {
                path,
                reason: format!(
                    "record {} body does not match the index (size {} vs {}, sha256 {} vs {})",
                    entry.seq,
                    bytes.len(),
                    entry.body_size,
                    actual,
                    entry.body_sha256.as_deref().unwrap_or("none")
                ),
            });
        }
        Ok(Some(bytes))
    }

    /// Checks every body against the index; returns one message per damaged record.
    pub fn body_problems(&self) -> Vec<String> {
        self.entries()
            .filter_map(|e| match e {
                Ok(entry) => self.body(&entry).err().map(|err| err.to_string()),
                Err(err) => Some(err.to_string()),
            })
            .collect()
    }

    /// Every rule of docs/pack-format.md about records, as a verifier enforces them: each body matches
    /// its index line's size and SHA-256 and has the one name its sequence number and first byte give
    /// (so no two lines share a file); a line without a body says so consistently; and `records/`
    /// holds nothing else (no orphan file, link or directory). One message per problem, naming the
    /// file.
    pub fn record_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut named = std::collections::HashSet::new();
        for entry in self.entries() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    problems.push(err.to_string());
                    break;
                }
            };
            let Some(rel) = &entry.body else {
                if entry.body_size != 0 || entry.body_sha256.is_some() {
                    problems.push(format!(
                        "{INDEX_FILE}: line {} has no body but gives it a size or SHA-256",
                        entry.seq
                    ));
                }
                continue;
            };
            match self.body(&entry) {
                Ok(bytes) => {
                    let expected = super::body_file_name(entry.seq, &bytes.unwrap_or_default());
                    if *rel != expected {
                        problems.push(format!(
                            "{rel}: the body of record {} must be named {expected}",
                            entry.seq
                        ));
                    }
                }
                Err(err) => problems.push(err.to_string()),
            }
            named.insert(rel.clone());
        }
        let dir = self.root.join(RECORDS_DIR);
        match fs::read_dir(&dir) {
            Ok(listing) => {
                for item in listing {
                    let Ok(item) = item else {
                        problems.push(format!("{RECORDS_DIR}/ cannot be listed"));
                        break;
                    };
                    let rel = format!("{RECORDS_DIR}/{}", item.file_name().to_string_lossy());
                    let regular = item.file_type().is_ok_and(|t| t.is_file());
                    if !regular {
                        problems.push(format!(
                            "{rel} is not a regular file (links and directories are refused, never followed)"
                        ));
                    } else if !named.contains(&rel) {
                        problems.push(format!(
                            "{rel} is not the body of any record in {INDEX_FILE}"
                        ));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && named.is_empty() => {}
            Err(e) => problems.push(format!("{RECORDS_DIR}/ cannot be listed ({e})")),
        }
        problems
    }

    /// The record numbers (0-based) of the final attempt of every call, in call order: the
    /// responses each verdict is judged on.
    pub fn final_attempts(&self) -> Vec<usize> {
        let mut last: std::collections::BTreeMap<u64, usize> = Default::default();
        for (i, line) in self.lines.iter().enumerate() {
            let slot = last.entry(line.call).or_insert(i);
            if line.attempt >= self.lines[*slot].attempt {
                *slot = i;
            }
        }
        last.into_values().collect()
    }
}

/// Parses an index line read again after `open` checked it; a line that no longer parses, or is
/// not the record it was, means the index changed underneath.
fn parse_again(path: &Path, line: &[u8], i: usize) -> Result<IndexEntry, EvidenceError> {
    match serde_json::from_slice::<IndexEntry>(line) {
        Ok(entry) if entry.seq == i as u64 + 1 => Ok(entry),
        _ => Err(EvidenceError::Malformed {
            path: path.to_path_buf(),
            reason: format!(
                "line {} changed after the pack was opened; open it again",
                i + 1
            ),
        }),
    }
}

/// Opens a regular file for reading, never through a symbolic link and without waiting on a FIFO or
/// device: anything but a regular file is refused with `InvalidInput`.
pub fn open_regular(path: &Path) -> std::io::Result<fs::File> {
    let refused = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (links, FIFOs and devices are refused, never followed or opened)",
        )
    };
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        options.custom_flags(flags.bits() as i32);
    }
    #[cfg(not(target_os = "linux"))]
    if !fs::symlink_metadata(path)?.is_file() {
        return Err(refused());
    }
    let file = options.open(path).map_err(|e| {
        // O_NOFOLLOW on a link fails with ELOOP.
        #[cfg(target_os = "linux")]
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            return refused();
        }
        e
    })?;
    if !file.metadata()?.is_file() {
        return Err(refused());
    }
    Ok(file)
}

/// Reads a whole regular file, refusing (with `InvalidData`) one larger than `max` bytes, so a hostile
/// pack cannot exhaust memory, and refusing links and special files (see [`open_regular`]).
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let file = open_regular(path)?;
    if file.metadata()?.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than the {max}-byte limit for a pack file"),
        ));
    }
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than the {max}-byte limit for a pack file"),
        ));
    }
    Ok(bytes)
}

fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, EvidenceError> {
    read_capped(path, max).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => EvidenceError::Malformed {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        _ => EvidenceError::io(path, "read", e),
    })
}

/// A body path must be `records/<file name>`: nothing that could reach outside the pack.
fn body_path_is_safe(rel: &str) -> bool {
    match rel
        .strip_prefix(RECORDS_DIR)
        .and_then(|r| r.strip_prefix('/'))
    {
        Some(name) => {
            !name.is_empty()
                && name != "."
                && name != ".."
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        }
        None => false,
    }
}

/// Parses the index line by line (it is never held in memory) and checks its chain; returns where
/// each line is.
fn parse_index(
    path: &Path,
    mut index: impl std::io::BufRead,
    header: &PackHeader,
) -> Result<(Vec<Line>, Vec<ChainProblem>), EvidenceError> {
    let malformed = |reason: String| EvidenceError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let problem = |file: &str, message: String| ChainProblem {
        file: file.to_string(),
        message,
    };
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let genesis = chain::genesis_hash(&header.pack_id);
    if header.chain_genesis != genesis {
        problems.push(problem(
            HEADER_FILE,
            format!(
                "chain_genesis is not the genesis hash of pack id {}",
                header.pack_id
            ),
        ));
    }
    let mut prev = genesis;
    let mut read = 0u64;
    let mut line = Vec::new();
    for i in 0usize.. {
        line.clear();
        let n = index
            .read_until(b'\n', &mut line)
            .map_err(|e| EvidenceError::io(path, "read", e))?;
        if n == 0 {
            break;
        }
        let offset = read;
        read += n as u64;
        if read > MAX_METADATA_BYTES {
            return Err(malformed(format!(
                "larger than the {MAX_METADATA_BYTES}-byte limit for a pack file"
            )));
        }
        let Some(line) = line.strip_suffix(b"\n") else {
            return Err(malformed(
                "the index does not end with a newline (truncated?)".into(),
            ));
        };
        let line_no = i + 1;
        let entry: IndexEntry = serde_json::from_slice(line)
            .map_err(|e| malformed(format!("line {line_no} is not a valid index entry ({e})")))?;
        if entry.seq != line_no as u64 {
            problems.push(problem(
                INDEX_FILE,
                format!(
                    "line {line_no} has seq {} (records missing, added or reordered)",
                    entry.seq
                ),
            ));
        }
        if entry.prev != prev {
            problems.push(problem(
                INDEX_FILE,
                format!(
                    "line {line_no} (seq {}) does not chain to the line before it: prev {} but that line hashes to {}",
                    entry.seq, entry.prev, prev
                ),
            ));
        }
        if let Some(rel) = &entry.body {
            if !body_path_is_safe(rel) {
                return Err(malformed(format!(
                    "line {line_no} names body path {rel:?}, which is not a file under {RECORDS_DIR}/"
                )));
            }
        }
        prev = chain::line_hash(line);
        lines.push(Line {
            offset,
            len: line.len() as u32,
            attempt: entry.attempt,
            call: entry.call,
        });
    }
    if lines.len() as u64 != header.counts.records {
        problems.push(problem(
            INDEX_FILE,
            format!(
                "the index has {} records but the header says {}",
                lines.len(),
                header.counts.records
            ),
        ));
    }
    if prev != header.chain_head {
        problems.push(problem(
            INDEX_FILE,
            format!(
                "the last index line hashes to {prev} but the header's chain_head is {}",
                header.chain_head
            ),
        ));
    }
    Ok((lines, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_paths_stay_inside_records() {
        assert!(body_path_is_safe("records/000001.json"));
        for bad in [
            "../x",
            "/etc/passwd",
            "records/../pack.json",
            "records/",
            "records/a/b",
            "records/..",
            "other/000001.json",
        ] {
            assert!(!body_path_is_safe(bad), "{bad}");
        }
    }
}
