//! Reading a pack back: header, index and bodies, with every hash and chain link checked.

use super::{chain, EvidenceError, IndexEntry, PackHeader, HEADER_FILE, INDEX_FILE, RECORDS_DIR};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest header or index file a reader will load: far above any real pack, small enough that a
/// hostile pack cannot exhaust memory.
const MAX_METADATA_BYTES: u64 = 1 << 30;

/// A broken link or count in the record chain, found while opening a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProblem {
    /// The file the problem is in (`index.jsonl` or `pack.json`).
    pub file: String,
    pub message: String,
}

/// A pack opened for reading. Bodies stay on disk until asked for.
#[derive(Debug)]
pub struct Pack {
    pub root: PathBuf,
    pub header: PackHeader,
    pub entries: Vec<IndexEntry>,
    /// Everything wrong with the chain; empty for an intact pack.
    pub chain_problems: Vec<ChainProblem>,
}

impl Pack {
    /// Opens the pack in `dir`: parses the header and every index line and checks the chain.
    pub fn open(dir: &Path) -> Result<Self, EvidenceError> {
        let header_path = dir.join(HEADER_FILE);
        let header_bytes = read_limited(&header_path)?;
        let header: PackHeader =
            serde_json::from_slice(&header_bytes).map_err(|e| EvidenceError::Malformed {
                path: header_path.clone(),
                reason: format!("the header is not valid pack JSON ({e})"),
            })?;
        let index_path = dir.join(INDEX_FILE);
        let index =
            fs::File::open(&index_path).map_err(|e| EvidenceError::io(&index_path, "read", e))?;
        let (entries, chain_problems) = parse_index(
            &index_path,
            std::io::BufReader::with_capacity(1 << 16, index.take(MAX_METADATA_BYTES + 1)),
            &header,
        )?;
        Ok(Self {
            root: dir.to_path_buf(),
            header,
            entries,
            chain_problems,
        })
    }

    /// Reads one record's body and checks its size and SHA-256 against the index.
    pub fn body(&self, entry: &IndexEntry) -> Result<Option<Vec<u8>>, EvidenceError> {
        let Some(rel) = &entry.body else {
            return Ok(None);
        };
        let path = self.root.join(rel);
        let bytes = read_limited(&path)?;
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
        self.entries
            .iter()
            .filter_map(|e| self.body(e).err().map(|err| err.to_string()))
            .collect()
    }

    /// The final attempt of every call, in call order: the response each verdict is judged on.
    pub fn final_attempts(&self) -> Vec<&IndexEntry> {
        let mut last: std::collections::BTreeMap<u64, &IndexEntry> = Default::default();
        for entry in &self.entries {
            let slot = last.entry(entry.call).or_insert(entry);
            if entry.attempt >= slot.attempt {
                *slot = entry;
            }
        }
        last.into_values().collect()
    }
}

/// Reads a whole file, refusing (with `InvalidData`) one larger than `max` bytes, so a hostile pack
/// cannot exhaust memory.
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than the {max}-byte limit for a pack file"),
        ));
    }
    Ok(bytes)
}

fn read_limited(path: &Path) -> Result<Vec<u8>, EvidenceError> {
    read_capped(path, MAX_METADATA_BYTES).map_err(|e| match e.kind() {
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

/// Parses the index line by line (it is never held whole in memory) and checks its chain.
fn parse_index(
    path: &Path,
    mut index: impl std::io::BufRead,
    header: &PackHeader,
) -> Result<(Vec<IndexEntry>, Vec<ChainProblem>), EvidenceError> {
    let malformed = |reason: String| EvidenceError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let problem = |file: &str, message: String| ChainProblem {
        file: file.to_string(),
        message,
    };
    let mut entries = Vec::new();
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
        entries.push(entry);
    }
    if entries.len() as u64 != header.counts.records {
        problems.push(problem(
            INDEX_FILE,
            format!(
                "the index has {} records but the header says {}",
                entries.len(),
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
    Ok((entries, problems))
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
