//! Writing a pack: bodies streamed to disk as they arrive, the index chained line by line, and the whole
//! directory renamed into place only once the header is written.

use super::{
    chain, Capture, EvidenceError, IndexEntry, PackHeader, HEADER_FILE, INDEX_FILE, RECORDS_DIR,
};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// How many captured responses may wait for the disk before recorders block: bounds memory.
const QUEUE_DEPTH: usize = 256;

enum Msg {
    Record(Box<Capture>),
    Finish,
}

/// Where the chain stands once every record is written.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainState {
    pub records: u64,
    pub genesis: String,
    pub head: String,
}

/// A cheap, cloneable handle the recorders use to hand responses to the writer thread.
#[derive(Clone, Debug)]
pub struct RecordSink {
    tx: SyncSender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Record(c) => write!(f, "Record(call {})", c.call),
            Msg::Finish => f.write_str("Finish"),
        }
    }
}

impl RecordSink {
    /// Queues one capture for writing. If the writer has failed, the capture is dropped here and the
    /// failure is reported by [`PackWriter::finish`].
    pub fn record(&self, capture: Capture) {
        if self.tx.send(Msg::Record(Box::new(capture))).is_err() {
            tracing::error!("pack writer has stopped; a response could not be recorded");
        }
    }
}

/// Builds a pack in a hidden sibling directory and renames it into place when finished.
pub struct PackWriter {
    pack_id: String,
    final_path: PathBuf,
    temp_path: PathBuf,
    tx: SyncSender<Msg>,
    thread: Option<WriterThread>,
    done: bool,
}

impl PackWriter {
    /// Starts a pack that will end up at `out`, which must not exist or be an empty directory.
    pub fn create(out: &Path, pack_id: &str) -> Result<Self, EvidenceError> {
        ensure_new_or_empty(out)?;
        let name = out
            .file_name()
            .ok_or_else(|| EvidenceError::OutputExists {
                path: out.to_path_buf(),
                reason: "the output path has no final directory name".into(),
            })?
            .to_string_lossy()
            .into_owned();
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp_path = parent.join(format!(".{name}.partial-{pack_id}"));
        fs::create_dir(&temp_path)
            .map_err(|e| EvidenceError::io(&temp_path, "create partial pack directory", e))?;
        // Nothing is left behind if the writer cannot start.
        let (tx, thread) = start_writer(&temp_path, pack_id).inspect_err(|_| {
            let _ = fs::remove_dir_all(&temp_path);
        })?;
        Ok(Self {
            pack_id: pack_id.to_string(),
            final_path: out.to_path_buf(),
            temp_path,
            tx,
            thread: Some(thread),
            done: false,
        })
    }

    pub fn pack_id(&self) -> &str {
        &self.pack_id
    }

    /// The hidden directory the pack is being built in.
    pub fn temp_path(&self) -> &Path {
        &self.temp_path
    }

    pub fn sink(&self) -> RecordSink {
        RecordSink {
            tx: self.tx.clone(),
        }
    }

    fn stop_thread(&mut self) -> Result<ChainState, EvidenceError> {
        // A send error means the thread already ended (with an error we collect from join).
        let _ = self.tx.send(Msg::Finish);
        let thread = self
            .thread
            .take()
            .ok_or_else(|| EvidenceError::WriterGone {
                path: self.temp_path.clone(),
            })?;
        thread.join().map_err(|_| EvidenceError::WriterGone {
            path: self.temp_path.clone(),
        })?
    }

    /// Writes the header built from the final chain state, then moves the pack into place; returns
    /// where it is and the header written.
    pub fn finish(
        mut self,
        make_header: impl FnOnce(&ChainState) -> PackHeader,
    ) -> Result<(PathBuf, PackHeader), EvidenceError> {
        let state = self.stop_thread()?;
        let header = make_header(&state);
        let header_path = self.temp_path.join(HEADER_FILE);
        let mut bytes =
            serde_json::to_vec_pretty(&header).map_err(|e| EvidenceError::Malformed {
                path: header_path.clone(),
                reason: e.to_string(),
            })?;
        bytes.push(b'\n');
        write_new_file(&header_path, &bytes)?;
        // From here on the partial directory is a complete pack: keep it even if the move fails.
        self.done = true;
        sync_dir(&self.temp_path.join(RECORDS_DIR))?;
        sync_dir(&self.temp_path)?;
        ensure_new_or_empty(&self.final_path)?;
        fs::rename(&self.temp_path, &self.final_path).map_err(|e| {
            EvidenceError::io(
                &self.final_path,
                "move finished pack into place (it is kept in the partial directory beside it)",
                e,
            )
        })?;
        if let Some(parent) = self
            .final_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            sync_dir(parent)?;
        }
        Ok((self.final_path.clone(), header))
    }

    /// Stops writing and deletes the partial pack: nothing usable was collected.
    pub fn abandon(mut self) {
        let _ = self.stop_thread();
        self.remove_partial();
    }

    fn remove_partial(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.temp_path) {
            tracing::warn!(path = %self.temp_path.display(), error = %e, "could not remove partial pack");
        }
        self.done = true;
    }
}

impl Drop for PackWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.stop_thread();
            self.remove_partial();
        }
    }
}

type WriterThread = JoinHandle<Result<ChainState, EvidenceError>>;

/// Lays out an empty pack in `temp_path` and starts the thread that writes its records.
fn start_writer(
    temp_path: &Path,
    pack_id: &str,
) -> Result<(SyncSender<Msg>, WriterThread), EvidenceError> {
    let records = temp_path.join(RECORDS_DIR);
    fs::create_dir(&records).map_err(|e| EvidenceError::io(&records, "create directory", e))?;
    let index_path = temp_path.join(INDEX_FILE);
    let index = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&index_path)
        .map_err(|e| EvidenceError::io(&index_path, "create index", e))?;
    // Before any record is written, so that a write-back error on any of them is reported when the
    // records are made durable.
    let durable = Durability::new(temp_path)?;
    let (tx, rx) = sync_channel(QUEUE_DEPTH);
    let genesis = chain::genesis_hash(pack_id);
    let dir = temp_path.to_path_buf();
    let thread = std::thread::Builder::new()
        .name("pack-writer".into())
        .spawn(move || write_records(&dir, index, genesis, durable, rx))
        .map_err(|e| EvidenceError::io(temp_path, "start pack writer thread", e))?;
    Ok((tx, thread))
}

fn ensure_new_or_empty(out: &Path) -> Result<(), EvidenceError> {
    match fs::read_dir(out).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(EvidenceError::OutputExists {
            path: out.to_path_buf(),
            reason: "the directory is not empty and auditpack never overwrites evidence; choose a new --out path".into(),
        }),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EvidenceError::OutputExists {
            path: out.to_path_buf(),
            reason: format!("it exists and is not a usable directory ({e})"),
        }),
    }
}

/// Puts `bytes` into the finished pack at `root` as its `exceptions.toml`, atomically: written and
/// synced beside it under a temporary name, then renamed over it, so a reader sees the old file or
/// the new one, never a part.
pub fn install_exceptions(root: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let target = root.join(super::EXCEPTIONS_FILE);
    let mut temp = tempfile::Builder::new()
        .prefix(".exceptions.")
        .suffix(".tmp")
        .tempfile_in(root)
        .map_err(|e| EvidenceError::io(root, "create a temporary file", e))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| EvidenceError::io(temp.path(), "write file", e))?;
    temp.persist(&target)
        .map_err(|e| EvidenceError::io(&target, "rename into place", e.error))?;
    sync_dir(root)
}

pub(crate) fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let file = create_unsynced(path, bytes)?;
    file.sync_all()
        .map_err(|e| EvidenceError::io(path, "sync file to disk", e))
}

/// Creates `path` (never replacing a file) holding `bytes`, without waiting for the disk.
fn create_unsynced(path: &Path, bytes: &[u8]) -> Result<File, EvidenceError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| EvidenceError::io(path, "create file", e))?;
    file.write_all(bytes)
        .map_err(|e| EvidenceError::io(path, "write file", e))?;
    Ok(file)
}

/// How the records reach the disk before the pack can be finished.
///
/// A partial pack is never resumed or used (a rerun starts a new one), so a record only has to be
/// durable by the time the header is written and the pack renamed into place. On a local Linux
/// filesystem the writer therefore syncs the filesystem once at the end (`syncfs`) instead of each
/// record as it is written: at 1,000 trails the per-record `fsync`s were about a quarter of
/// collect's CPU time, most of it writing the same inode-table blocks again for each file.
/// Elsewhere each record is synced as it is written: on other systems, on Linux before 5.8 (whose
/// `syncfs` does not report a failed write-back), and on network, FUSE or overlay filesystems, where
/// one `syncfs` may not reach the storage or report its errors. `syncfs` also writes out whatever
/// else is waiting for that disk, so on a busy host finishing a pack can take longer.
struct Durability {
    /// Where one `syncfs` is enough: the partial pack directory, opened before any record is
    /// written (`syncfs` reports a write-back that failed since this handle was opened), and its
    /// path. `None`: each record is synced as it is written.
    batch: Option<(File, PathBuf)>,
}

impl Durability {
    fn new(dir: &Path) -> Result<Self, EvidenceError> {
        Ok(Self {
            batch: batch_handle(dir)?.map(|handle| (handle, dir.to_path_buf())),
        })
    }

    /// Called for each record file once its bytes are written.
    fn written(&self, file: &File, path: &Path) -> Result<(), EvidenceError> {
        if self.batch.is_some() {
            return Ok(());
        }
        file.sync_all()
            .map_err(|e| EvidenceError::io(path, "sync record file to disk", e))
    }

    /// Called once the index is flushed: everything written so far must then be on the disk.
    fn all_written(&self, index: &File, index_path: &Path) -> Result<(), EvidenceError> {
        match &self.batch {
            Some((dir, path)) => sync_filesystem(dir).map_err(|source| EvidenceError::NotDurable {
                dir: path.clone(),
                source,
            }),
            None => index
                .sync_all()
                .map_err(|e| EvidenceError::io(index_path, "sync index", e)),
        }
    }
}

/// The directory opened for one `syncfs` at the end, if that makes the files in it durable and
/// reports a failure to: a kernel whose `syncfs` reports write-back errors (5.8 and later) and a
/// local filesystem.
#[cfg(target_os = "linux")]
fn batch_handle(dir: &Path) -> Result<Option<File>, EvidenceError> {
    // Magic numbers from linux/magic.h: ext2/3/4, XFS, Btrfs, F2FS, tmpfs.
    const LOCAL: [u32; 5] = [0xEF53, 0x5846_5342, 0x9123_683E, 0xF2F5_2010, 0x0102_1994];
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    if !kernel_at_least(&release, (5, 8)) {
        return Ok(None);
    }
    let handle =
        File::open(dir).map_err(|e| EvidenceError::io(dir, "open partial pack directory", e))?;
    let local = rustix::fs::fstatfs(&handle).is_ok_and(|fs| LOCAL.contains(&(fs.f_type as u32)));
    Ok(local.then_some(handle))
}

#[cfg(not(target_os = "linux"))]
fn batch_handle(_dir: &Path) -> Result<Option<File>, EvidenceError> {
    Ok(None)
}

/// Whether a kernel release such as `6.1.0-28-cloud-amd64` is at least `major.minor`; false if it
/// does not start with two numbers.
#[cfg(target_os = "linux")]
fn kernel_at_least(release: &str, wanted: (u32, u32)) -> bool {
    let mut numbers = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(str::parse::<u32>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= wanted,
        _ => false,
    }
}

/// Flushes everything written to the filesystem that holds `dir`.
#[cfg(target_os = "linux")]
fn sync_filesystem(dir: &File) -> std::io::Result<()> {
    rustix::fs::syncfs(dir).map_err(std::io::Error::from)
}

/// Only Linux has `syncfs`; elsewhere there is no batch to sync (see [`batch_handle`]).
#[cfg(not(target_os = "linux"))]
fn sync_filesystem(dir: &File) -> std::io::Result<()> {
    dir.sync_all()
}

fn sync_dir(dir: &Path) -> Result<(), EvidenceError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| EvidenceError::io(dir, "sync directory", e))
}

fn write_records(
    dir: &Path,
    index: File,
    genesis: String,
    durable: Durability,
    rx: Receiver<Msg>,
) -> Result<ChainState, EvidenceError> {
    let index_path = dir.join(INDEX_FILE);
    let mut index = BufWriter::new(index);
    let mut prev = genesis.clone();
    let mut seq = 0u64;
    while let Ok(Msg::Record(capture)) = rx.recv() {
        seq += 1;
        let capture = *capture;
        let (body, body_size, body_sha256) = match &capture.body {
            Some(bytes) => {
                let rel = super::body_file_name(seq, bytes);
                let path = dir.join(&rel);
                let file = create_unsynced(&path, bytes)?;
                durable.written(&file, &path)?;
                (
                    Some(rel),
                    bytes.len() as u64,
                    Some(chain::sha256_hex(bytes)),
                )
            }
            None => (None, 0, None),
        };
        let spec = capture.spec;
        let entry = IndexEntry {
            seq,
            prev,
            call: capture.call,
            attempt: capture.attempt,
            account: spec.account.clone(),
            service: spec.service.clone(),
            operation: spec.operation.clone(),
            region: spec.region.clone(),
            resource: spec.resource.clone(),
            params: spec.params.clone(),
            http_status: capture.http_status,
            request_id: capture.request_id,
            server_date: capture.server_date,
            received_at: capture.received_at,
            content_type: capture.content_type,
            body,
            body_size,
            body_sha256,
            error_code: capture.error_code,
            error_message: capture.error_message,
            sdk_error: capture.sdk_error,
            redacted: capture.redacted,
        };
        let line = serde_json::to_vec(&entry).map_err(|e| EvidenceError::Malformed {
            path: index_path.clone(),
            reason: e.to_string(),
        })?;
        index
            .write_all(&line)
            .and_then(|_| index.write_all(b"\n"))
            .map_err(|e| EvidenceError::io(&index_path, "append to index", e))?;
        prev = chain::line_hash(&line);
    }
    let file = index
        .into_inner()
        .map_err(|e| EvidenceError::io(&index_path, "flush index", e.into_error()))?;
    durable.all_written(&file, &index_path)?;
    Ok(ChainState {
        records: seq,
        genesis,
        head: prev,
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn records_on_a_filesystem_syncfs_may_not_reach_are_synced_one_by_one() {
        // procfs stands in for the filesystems one syncfs may not make durable (FUSE, NFS).
        let durable = Durability::new(Path::new("/proc")).expect("open /proc");
        assert!(durable.batch.is_none());
    }

    #[test]
    fn only_kernels_whose_syncfs_reports_write_errors_batch() {
        assert!(kernel_at_least("6.1.0-28-cloud-amd64\n", (5, 8)));
        assert!(kernel_at_least("5.8.0", (5, 8)));
        assert!(kernel_at_least("5.10", (5, 8)));
        assert!(!kernel_at_least("5.7.19", (5, 8)));
        assert!(!kernel_at_least("4.14.355-271.569.amzn2.x86_64", (5, 8)));
        assert!(!kernel_at_least("", (5, 8)));
        assert!(!kernel_at_least("linux", (5, 8)));
    }
}
