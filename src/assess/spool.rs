//! A sequence of findings that stays in memory while small and moves to a temporary file once it
//! passes a bound. The reports read the findings several times (the HTML trail table, then the
//! sections; the PDF's layout passes), and a pack of 10,000 trails should not need them all in memory
//! to be rendered: past the bound, each pass streams them back from disk, one at a time.
//!
//! The file has no name (on Unix it is unlinked as it is created; on Windows it is deleted when its
//! handle closes, which the system does for a killed process too), so nothing is left behind however
//! the process ends, SIGKILL included. Readers share its one handle through positional reads.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A spilled sequence could not be written or read back.
#[derive(Debug, thiserror::Error)]
#[error("{op} the findings spilled to an unnamed temporary file in {dir} failed: {source}; check that the temporary directory (TMPDIR) exists, is writable and has free space")]
pub struct SpoolError {
    /// The directory the unnamed file is in.
    dir: String,
    op: &'static str,
    #[source]
    source: std::io::Error,
}

impl SpoolError {
    fn new(dir: &Path, op: &'static str, source: std::io::Error) -> Self {
        Self {
            dir: dir.display().to_string(),
            op,
            source,
        }
    }
}

/// A finished sequence: in memory, or in a temporary file as one JSON value per line.
pub struct Spool<T> {
    items: Items<T>,
    len: usize,
}

enum Items<T> {
    Memory(Vec<T>),
    /// Shared by clones; its space is freed when the last one is dropped.
    Disk(Arc<Spilled>),
}

/// An unnamed temporary file and the directory it is in (for messages).
struct Spilled {
    file: File,
    dir: PathBuf,
}

/// Reads a file from a position of its own, so that readers sharing one handle do not move each
/// other's place.
struct ReadAt<'f> {
    file: &'f File,
    pos: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.pos)?;
        // Moves the handle's cursor too, which no reader relies on.
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Builds a [`Spool`], in memory up to `limit` items, then on disk.
pub struct SpoolWriter<T> {
    memory: Vec<T>,
    disk: Option<BufWriter<File>>,
    len: usize,
    limit: usize,
    dir: PathBuf,
}

impl<T: Serialize> SpoolWriter<T> {
    /// Spills to the system's temporary directory (TMPDIR).
    pub fn new(limit: usize) -> Self {
        Self::new_in(limit, std::env::temp_dir())
    }

    /// Spills to `dir`.
    pub fn new_in(limit: usize, dir: PathBuf) -> Self {
        Self {
            memory: Vec::new(),
            disk: None,
            len: 0,
            limit,
            dir,
        }
    }

    pub fn push(&mut self, item: T) -> Result<(), SpoolError> {
        self.len += 1;
        if self.disk.is_none() && self.memory.len() < self.limit {
            self.memory.push(item);
            return Ok(());
        }
        let disk = match &mut self.disk {
            Some(disk) => disk,
            None => {
                let file = tempfile::tempfile_in(&self.dir)
                    .map_err(|e| SpoolError::new(&self.dir, "creating", e))?;
                let mut disk = BufWriter::with_capacity(1 << 16, file);
                for held in std::mem::take(&mut self.memory) {
                    write_line(&mut disk, &self.dir, &held)?;
                }
                self.disk.insert(disk)
            }
        };
        write_line(disk, &self.dir, &item)
    }

    /// The finished sequence, flushed to disk if it spilled.
    pub fn finish(self) -> Result<Spool<T>, SpoolError> {
        let items = match self.disk {
            None => Items::Memory(self.memory),
            Some(writer) => {
                let file = writer
                    .into_inner()
                    .map_err(|e| SpoolError::new(&self.dir, "writing", e.into_error()))?;
                Items::Disk(Arc::new(Spilled {
                    file,
                    dir: self.dir,
                }))
            }
        };
        Ok(Spool {
            items,
            len: self.len,
        })
    }
}

fn write_line<T: Serialize>(
    writer: &mut BufWriter<File>,
    dir: &Path,
    item: &T,
) -> Result<(), SpoolError> {
    let fail = |e: std::io::Error| SpoolError::new(dir, "writing", e);
    serde_json::to_writer(&mut *writer, item).map_err(|e| fail(e.into()))?;
    writer.write_all(b"\n").map_err(fail)
}

impl<T> Spool<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the items are in a temporary file rather than in memory.
    pub fn on_disk(&self) -> bool {
        matches!(self.items, Items::Disk(_))
    }
}

impl<T: Clone + DeserializeOwned> Spool<T> {
    /// Every item in order: borrowed from memory, or read back from disk one at a time.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Result<Cow<'_, T>, SpoolError>> + '_> {
        match &self.items {
            Items::Memory(items) => Box::new(items.iter().map(|i| Ok(Cow::Borrowed(i)))),
            Items::Disk(spilled) => {
                let (file, dir) = (&spilled.file, spilled.dir.as_path());
                let reader = ReadAt { file, pos: 0 };
                // A line at a time, parsed from a slice: much faster than parsing from the reader.
                Box::new(
                    BufReader::with_capacity(1 << 16, reader)
                        .split(b'\n')
                        .map(move |line| {
                            let line = line.map_err(|e| SpoolError::new(dir, "reading", e))?;
                            serde_json::from_slice(&line)
                                .map(Cow::Owned)
                                .map_err(|e| SpoolError::new(dir, "reading", e.into()))
                        }),
                )
            }
        }
    }

    /// Every item, in memory.
    pub fn to_vec(&self) -> Result<Vec<T>, SpoolError> {
        self.iter().map(|i| i.map(Cow::into_owned)).collect()
    }
}

impl<T> From<Vec<T>> for Spool<T> {
    fn from(items: Vec<T>) -> Self {
        Self {
            len: items.len(),
            items: Items::Memory(items),
        }
    }
}

impl<T: Clone> Clone for Spool<T> {
    fn clone(&self) -> Self {
        Self {
            items: match &self.items {
                Items::Memory(items) => Items::Memory(items.clone()),
                Items::Disk(temp) => Items::Disk(temp.clone()),
            },
            len: self.len,
        }
    }
}

impl<T> std::fmt::Debug for Spool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("len", &self.len)
            .field("on_disk", &self.on_disk())
            .finish()
    }
}

/// Equal when both hold the same items in the same order; a spool that cannot be read back equals
/// nothing.
impl<T: Clone + DeserializeOwned + PartialEq> PartialEq for Spool<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| matches!((a, b), (Ok(a), Ok(b)) if a == b))
    }
}

/// Serialised as a plain JSON array, streamed item by item.
impl<T: Clone + DeserializeOwned + Serialize> Serialize for Spool<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for item in self.iter() {
            seq.serialize_element(&*item.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spool<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(items: &[String], limit: usize) -> Spool<String> {
        let mut writer = SpoolWriter::new(limit);
        for item in items {
            writer.push(item.clone()).unwrap();
        }
        writer.finish().unwrap()
    }

    /// The temporary file of a spool that spilled.
    fn spill_file(spool: &Spool<String>) -> &File {
        match &spool.items {
            Items::Disk(spilled) => &spilled.file,
            Items::Memory(_) => panic!("the spool did not spill"),
        }
    }

    #[test]
    fn spills_past_the_limit_and_reads_back_the_same_items_every_time() {
        let items: Vec<String> = (0..50).map(|i| format!("item \"{i}\"\n")).collect();
        let small = build(&items, 100);
        let spilled = build(&items, 10);
        assert!(!small.on_disk());
        assert!(spilled.on_disk());
        assert_eq!(spilled.len(), 50);
        for _ in 0..2 {
            assert_eq!(spilled.to_vec().unwrap(), items);
        }
        assert_eq!(small, spilled);
        assert_eq!(
            serde_json::to_string(&small).unwrap(),
            serde_json::to_string(&spilled).unwrap()
        );
        // Two readers at once each see the whole sequence.
        let mut a = spilled.iter();
        let mut b = spilled.iter();
        assert_eq!(a.next().unwrap().unwrap(), b.next().unwrap().unwrap());
        assert_eq!(a.count(), 49);
        assert_eq!(b.count(), 49);
    }

    // On Windows the entry stays visible until the handle closes.
    #[cfg(unix)]
    #[test]
    fn a_spilled_spool_leaves_nothing_named_in_its_directory() {
        // A file with no name cannot outlive the process, however it ends (SIGKILL included).
        let dir = tempfile::tempdir().unwrap();
        let items: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let mut writer = SpoolWriter::new_in(1, dir.path().to_path_buf());
        for item in &items {
            writer.push(item.clone()).unwrap();
        }
        let spilled = writer.finish().unwrap();
        assert!(spilled.on_disk());
        let copy = spilled.clone();
        drop(spilled);
        assert_eq!(copy.to_vec().unwrap(), items);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_spool_whose_file_is_damaged_says_where() {
        let items: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let spilled = build(&items, 1);
        let mut file = spill_file(&spilled);
        file.set_len(0).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        file.write_all(b"\"0\"\n{not json").unwrap();
        let mut items = spilled.iter();
        assert_eq!(
            items.next().unwrap().unwrap().as_str(),
            "0",
            "the good line reads back"
        );
        let err = items.next().unwrap().unwrap_err().to_string();
        let dir = std::env::temp_dir().display().to_string();
        assert!(err.contains(&dir), "{err}");
        assert!(err.starts_with("reading the findings"), "{err}");
    }
}
