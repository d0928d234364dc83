//! Where committed cursors live between connections and between processes.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use clickclack_proto::Cursor;

mod slots;

use slots::{Plan, valid_cursor};

/// The boxed future returned by [`CursorStore`] methods.
pub type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, CursorStoreError>> + Send + 'a>>;

/// A failure to load or save a cursor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CursorStoreError {
    /// Reading or writing the underlying storage failed.
    #[error("cursor store could not {op} the cursor for key {key:?}: {source}")]
    Io {
        /// `"load"` or `"save"`.
        op: &'static str,
        /// The store key.
        key: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The stored value is not a cursor.
    #[error("cursor store holds an invalid cursor for key {key:?}")]
    Corrupt {
        /// The store key.
        key: String,
    },
    /// A cursor file exists but cannot be used (empty, only whitespace,
    /// unreadable, not a cursor, or over the size cap). It is never taken as
    /// "no cursor": that would silently skip everything since the last run.
    #[error(
        "cursor file {} {problem}; delete it to start at the server's current tail (skipping what happened since the last run), or restore it from a backup to resume where it left off",
        path.display()
    )]
    UnusableFile {
        /// The cursor file.
        path: PathBuf,
        /// What is wrong with it (`is empty`, `is larger than 4096 bytes`, …).
        problem: String,
    },
    /// Writing a cursor file failed.
    #[error("could not {op} cursor file {}: {source}", path.display())]
    FileIo {
        /// `"save"`.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Persists the last committed cursor per key (one key per account and workspace).
///
/// Implementations must make `save` durable before its future resolves and
/// must never let a later `load` return a value older than a completed `save`.
/// The stream only saves cursors that move forward.
/// `load` must never turn a damaged value (an empty or unreadable file)
/// into `None`: `None` means "start at the server's tail", which skips
/// everything since the last run. Return an error naming the place instead.
///
/// A re-anchor after a resync saves a cursor *older* than the stored one
/// (a server restored from a backup); stores must accept it.
pub trait CursorStore: Send + Sync + fmt::Debug {
    /// The cursor saved under `key`, if any.
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Cursor>>;
    /// Saves `cursor` under `key`, replacing the previous value.
    fn save<'a>(&'a self, key: &'a str, cursor: &'a Cursor) -> StoreFuture<'a, ()>;
    /// Whether a cursor was saved under `key` at some point, even if it is
    /// gone now. A stream whose `load` returns `None` while this is `true`
    /// warns loudly and yields a
    /// [`ResyncReason::CursorLost`](crate::ResyncReason::CursorLost) item
    /// before starting at the tail. The default (for stores that cannot
    /// tell) is `false`.
    fn held_before<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        let _ = key;
        Box::pin(async { Ok(false) })
    }
    /// Where the cursor for `key` is kept, for messages (a file path; by
    /// default the key).
    fn location(&self, key: &str) -> String {
        format!("key {key:?}")
    }
}

/// An in-process store: cursors survive reconnects and rebuilt streams, not restarts.
///
/// Cloning shares the same map.
#[derive(Debug, Clone, Default)]
pub struct MemoryCursorStore {
    /// `None`: a cursor was saved under the key once and then removed.
    map: Arc<Mutex<HashMap<String, Option<Cursor>>>>,
}

impl MemoryCursorStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cursor currently stored under `key`.
    pub fn get(&self, key: &str) -> Option<Cursor> {
        self.map
            .lock()
            .ok()
            .and_then(|m| m.get(key).cloned().flatten())
    }

    /// Forgets the cursor under `key` (the store still knows it held one).
    pub fn remove(&self, key: &str) {
        if let Ok(mut map) = self.map.lock()
            && let Some(slot) = map.get_mut(key)
        {
            *slot = None;
        }
    }
}

impl CursorStore for MemoryCursorStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Cursor>> {
        let value = self.get(key);
        Box::pin(async move { Ok(value) })
    }

    fn save<'a>(&'a self, key: &'a str, cursor: &'a Cursor) -> StoreFuture<'a, ()> {
        if let Ok(mut map) = self.map.lock() {
            map.insert(key.to_owned(), Some(cursor.clone()));
        }
        Box::pin(async { Ok(()) })
    }

    fn held_before<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        let held = self.map.lock().is_ok_and(|m| m.contains_key(key));
        Box::pin(async move { Ok(held) })
    }
}

/// A directory of small files, one per key, whose saves survive a crash.
///
/// # Format
///
/// `<dir>/<key>.cursor` is text: two lines ("slots") of the same length,
/// each holding a copy of the cursor with the number of the save that wrote
/// it and a checksum, padded with spaces:
///
/// ```text
/// cursor cur_01JD8ZK3V7Q2M4N6P8R0S2T4V6 gen 41 crc32 5f0b7c1e␣␣␣…␣
/// cursor cur_01JD8ZK3V7Q2M4N6P8R0S2T4V7 gen 42 crc32 0a9d3e88␣␣␣…␣
/// ```
///
/// The checksum is the CRC-32 (IEEE, as zlib's) of the line up to ` crc32 `,
/// in 8 lowercase hex digits; a slot is the cursor length plus 64 bytes,
/// rounded up to a multiple of 64, and ends with `\n`; each slot is half the
/// file. `load` returns the cursor of the intact slot with the larger `gen`.
/// A file holding just a cursor (one line, the format before slots, or what
/// an operator writes by hand to set a cursor) is read as that cursor; the
/// next save turns it into slots.
///
/// # Saves and crashes
///
/// The first save of a key (and a save over a plain, damaged or too short
/// file) writes both slots to a temporary file, `fsync`s it, renames it over
/// `<key>.cursor` and `fsync`s the directory. Every later save overwrites
/// the *older* slot in place with the next `gen` and `fdatasync`s the file:
/// no new inode, no rename, no directory `fsync` (a new inode was most of the
/// cost of a save on ext4). A crash during that write can tear only the slot
/// being written; its checksum then fails and `load` returns the other slot,
/// which holds the previous save. So after a crash `load` returns the cursor
/// of the last completed save or of the one in flight, never a torn one and
/// never one older than a completed save. This assumes that a torn write
/// leaves the bytes it did not change as they were; a disk that garbles a
/// whole block leaves both slots damaged, and `load` says so.
///
/// A file that exists but is empty, only whitespace, unreadable, larger
/// than [`MAX_CURSOR_FILE_BYTES`], not a cursor or with both slots damaged
/// is an error naming the file ([`CursorStoreError::UnusableFile`]), never
/// "no cursor".
///
/// # Keys, markers, parallelism
///
/// Keys are escaped into safe file names (no path separators, no leading
/// dot). Saves of one key are serialized; saves and loads of different keys
/// run in parallel, at most 16 at a time (a gateway starting 1,000 accounts
/// neither waits for 1,000 `fsync`s in a row nor grows 1,000 blocking
/// threads).
///
/// The first save also creates `<dir>/<key>.held`, which records that a
/// cursor existed: if `<key>.cursor` disappears later, the stream says so
/// loudly instead of silently starting at the server's tail. Only its
/// existence counts: it is a hard link to the first cursor file (no new
/// inode), or an empty file where the file system has no hard links.
#[derive(Debug, Clone)]
pub struct FileCursorStore {
    dir: PathBuf,
    /// A key's file operations hold its lane (chosen by a hash of the key):
    /// one key's saves never overlap, and at most one blocking task per lane
    /// runs at a time (waiters wait asynchronously, not on a thread).
    lanes: Arc<[tokio::sync::Mutex<()>]>,
}

/// How many file operations of one [`FileCursorStore`] run at once.
const FILE_STORE_PARALLELISM: usize = 16;

impl FileCursorStore {
    /// A store keeping its files in `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            lanes: (0..FILE_STORE_PARALLELISM)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// The lane of `key` (the same key always gets the same lane).
    fn lane(&self, key: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash as _, Hasher as _};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % self.lanes.len() as u64).unwrap_or(0);
        &self.lanes[index]
    }

    /// The directory holding the cursor files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds the cursor for `key`.
    pub fn path_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.cursor", escape_key(key)))
    }

    /// The file that records that a cursor was saved for `key` once.
    pub fn held_marker_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.held", escape_key(key)))
    }
}

/// The largest cursor file [`FileCursorStore`] reads (cursors are ~30 bytes).
pub const MAX_CURSOR_FILE_BYTES: u64 = 4096;

/// Reads a cursor file (blocking): `Ok(None)` only when it does not exist.
fn read_cursor_file(path: &Path) -> Result<Option<Cursor>, CursorStoreError> {
    let unusable = |problem: String| CursorStoreError::UnusableFile {
        path: path.to_owned(),
        problem,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unusable(format!("cannot be read ({e})"))),
    };
    let raw = read_capped(&mut file).map_err(|e| unusable(format!("cannot be read ({e})")))?;
    if raw.len() as u64 > MAX_CURSOR_FILE_BYTES {
        return Err(unusable(format!(
            "is larger than {MAX_CURSOR_FILE_BYTES} bytes"
        )));
    }
    let decoded = slots::decode(&raw).map_err(unusable)?;
    Ok(Some(Cursor::new(decoded.cursor())))
}

/// Reads at most [`MAX_CURSOR_FILE_BYTES`] + 1 bytes from the file's
/// current position.
fn read_capped(file: &mut impl std::io::Read) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(512);
    file.take(MAX_CURSOR_FILE_BYTES + 1).read_to_end(&mut raw)?;
    Ok(raw)
}

/// Runs blocking file work on the blocking pool; a panic or cancelled task
/// becomes an I/O error.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
}

/// Maps a key to a file-name stem: `[A-Za-z0-9_-]` and inner dots stay, other bytes become `%XX`.
fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for (i, b) in key.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('%');
    }
    out
}

impl CursorStore for FileCursorStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Cursor>> {
        let path = self.path_for(key);
        Box::pin(async move {
            let _lane = self.lane(key).lock().await;
            let error_path = path.clone();
            tokio::task::spawn_blocking(move || read_cursor_file(&path))
                .await
                .unwrap_or_else(|e| {
                    Err(CursorStoreError::UnusableFile {
                        path: error_path,
                        problem: format!("cannot be read ({e})"),
                    })
                })
        })
    }

    fn held_before<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        let marker = self.held_marker_for(key);
        Box::pin(async move {
            let _lane = self.lane(key).lock().await;
            Ok(blocking(move || marker.try_exists()).await.unwrap_or(true))
        })
    }

    fn location(&self, key: &str) -> String {
        self.path_for(key).display().to_string()
    }

    fn save<'a>(&'a self, key: &'a str, cursor: &'a Cursor) -> StoreFuture<'a, ()> {
        let dir = self.dir.clone();
        let path = self.path_for(key);
        let marker = self.held_marker_for(key);
        let value = cursor.as_str().to_owned();
        Box::pin(async move {
            if !valid_cursor(&value) {
                return Err(CursorStoreError::Corrupt {
                    key: key.to_owned(),
                });
            }
            let error_path = path.clone();
            let _lane = self.lane(key).lock().await;
            let result = blocking(move || {
                save_file(&dir, &path, &value)?;
                mark_held(&dir, &path, &marker)
            })
            .await;
            result.map_err(|source| CursorStoreError::FileIo {
                op: "save",
                path: error_path,
                source,
            })
        })
    }
}

/// Creates the "a cursor was held" marker once, after the cursor file is
/// durable (fsynced with its directory): a second name of the cursor file
/// `path`, else an empty file.
fn mark_held(dir: &Path, path: &Path, marker: &Path) -> std::io::Result<()> {
    if marker.exists() {
        return Ok(());
    }
    match std::fs::hard_link(path, marker) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(_) => std::fs::File::create(marker)?.sync_all()?,
    }
    sync_dir(dir)
}

/// Saves `value` into the cursor file `path` (blocking): one slot
/// overwritten in place, or the whole file replaced (see
/// [`FileCursorStore`]).
fn save_file(dir: &Path, path: &Path, value: &str) -> std::io::Result<()> {
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return replace_file(dir, path, &slots::encode_file(value, 1));
        }
        Err(e) => return Err(e),
    };
    let raw = read_capped(&mut file)?;
    let current = (raw.len() as u64 <= MAX_CURSOR_FILE_BYTES).then_some(raw.as_slice());
    match slots::plan(current, value) {
        Plan::InPlace { offset, bytes } => {
            file.seek(std::io::SeekFrom::Start(offset))?;
            file.write_all(&bytes)?;
            file.sync_data()
        }
        Plan::Replace(bytes) => {
            drop(file);
            replace_file(dir, path, &bytes)
        }
    }
}

/// temp file + fsync + rename + directory fsync.
fn replace_file(dir: &Path, path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{file_name}.{}.{:016x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[tokio::test]
    async fn memory_store_round_trip() {
        let store = MemoryCursorStore::new();
        assert_eq!(store.load("a").await.ok().flatten(), None);
        store.save("a", &Cursor::new("cur_1")).await.expect("save");
        assert_eq!(
            store.load("a").await.ok().flatten(),
            Some(Cursor::new("cur_1"))
        );
        assert_eq!(store.clone().get("a"), Some(Cursor::new("cur_1")));
        assert_eq!(store.get("b"), None);
    }

    #[tokio::test]
    async fn file_store_round_trip_and_survives_a_new_instance() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileCursorStore::new(dir.path().join("cursors"));
        assert_eq!(store.load("acct/wsp_1").await.expect("load"), None);
        store
            .save("acct/wsp_1", &Cursor::new("cur_1"))
            .await
            .expect("save");
        store
            .save("acct/wsp_1", &Cursor::new("cur_2"))
            .await
            .expect("save");
        let again = FileCursorStore::new(dir.path().join("cursors"));
        assert_eq!(
            again.load("acct/wsp_1").await.expect("load"),
            Some(Cursor::new("cur_2"))
        );
        // The cursor and its marker, no temp files left behind.
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("cursors"))
            .expect("read_dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                "acct%2Fwsp_1.cursor".to_owned(),
                "acct%2Fwsp_1.held".to_owned()
            ]
        );
        assert!(again.held_before("acct/wsp_1").await.expect("held"));
        assert!(!again.held_before("other").await.expect("held"));
        std::fs::remove_file(again.path_for("acct/wsp_1")).expect("rm");
        assert_eq!(again.load("acct/wsp_1").await.expect("load"), None);
        assert!(again.held_before("acct/wsp_1").await.expect("held"));
    }

    #[tokio::test]
    async fn file_store_refuses_damaged_files_naming_the_file_and_the_ways_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileCursorStore::new(dir.path());
        let path = store.path_for("k");
        let big = "x".repeat(MAX_CURSOR_FILE_BYTES as usize + 1);
        let cases: [(&[u8], &str); 6] = [
            (b"", "is empty"),
            (b" \n\t\n", "holds only whitespace"),
            (b"two words\n", "does not hold a cursor"),
            (b"\xff\xfe", "is not UTF-8 text"),
            (big.as_bytes(), "is larger than 4096 bytes"),
            (b"cur_01\n", ""),
        ];
        for (content, problem) in cases {
            std::fs::write(&path, content).expect("write");
            match store.load("k").await {
                Ok(Some(c)) if problem.is_empty() => assert_eq!(c.as_str(), "cur_01"),
                Err(e @ CursorStoreError::UnusableFile { .. }) if !problem.is_empty() => {
                    let text = e.to_string();
                    assert!(text.contains(&path.display().to_string()), "{text}");
                    assert!(text.contains(problem), "{text}");
                    assert!(
                        text.contains("delete it") && text.contains("restore it"),
                        "{text}"
                    );
                }
                other => panic!("{problem:?}: {other:?}"),
            }
        }
        assert!(store.save("k", &Cursor::new("")).await.is_err());
    }

    /// Saves `cursors` in order through a fresh store over `dir`.
    async fn saved(dir: &Path, cursors: &[&str]) -> FileCursorStore {
        let store = FileCursorStore::new(dir);
        for c in cursors {
            store.save("k", &Cursor::new(*c)).await.expect("save");
        }
        store
    }

    /// Flips a byte inside the slot holding `cursor` (a torn write).
    fn tear_slot_of(path: &Path, cursor: &str) {
        let mut raw = std::fs::read(path).expect("read");
        let half = raw.len() / 2;
        let needle = format!("cursor {cursor} ");
        let slot = raw
            .chunks(half)
            .position(|s| s.starts_with(needle.as_bytes()))
            .expect("slot");
        raw[slot * half + needle.len() + 2] ^= 0x20;
        std::fs::write(path, raw).expect("write");
    }

    #[tokio::test]
    async fn later_saves_overwrite_a_slot_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = saved(dir.path(), &["cur_1"]).await;
        let path = store.path_for("k");
        let first = std::fs::read(&path).expect("read");
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).expect("meta"));
        for c in ["cur_2", "cur_3", "cur_4"] {
            store.save("k", &Cursor::new(c)).await.expect("save");
        }
        let text = std::fs::read_to_string(&path).expect("text");
        assert_eq!(text.len(), first.len(), "same size: {text:?}");
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert_eq!(lines.len(), 2, "{text:?}");
        assert!(
            lines[0].starts_with("cursor cur_3 gen 3 crc32 "),
            "{text:?}"
        );
        assert!(
            lines[1].starts_with("cursor cur_4 gen 4 crc32 "),
            "{text:?}"
        );
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).expect("meta")),
            inode,
            "no new file"
        );
        assert_eq!(
            store.load("k").await.expect("load"),
            Some(Cursor::new("cur_4"))
        );
    }

    #[tokio::test]
    async fn a_torn_slot_leaves_the_previous_save_and_the_next_save_repairs_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = saved(dir.path(), &["cur_1", "cur_2", "cur_3"]).await;
        let path = store.path_for("k");
        tear_slot_of(&path, "cur_3");
        assert_eq!(
            store.load("k").await.expect("load"),
            Some(Cursor::new("cur_2"))
        );
        store.save("k", &Cursor::new("cur_4")).await.expect("save");
        let again = FileCursorStore::new(dir.path());
        assert_eq!(
            again.load("k").await.expect("load"),
            Some(Cursor::new("cur_4"))
        );
        // The repair went into the torn slot: the previous save is intact.
        let text = std::fs::read_to_string(&path).expect("text");
        assert!(text.contains("cursor cur_2 gen 2 "), "{text:?}");
        assert!(text.contains("cursor cur_4 gen 3 "), "{text:?}");
    }

    #[tokio::test]
    async fn two_damaged_slots_are_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = saved(dir.path(), &["cur_1", "cur_2"]).await;
        let path = store.path_for("k");
        tear_slot_of(&path, "cur_1");
        tear_slot_of(&path, "cur_2");
        let err = store.load("k").await.expect_err("damaged");
        assert!(
            matches!(err, CursorStoreError::UnusableFile { .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("two damaged copies"), "{text}");
        assert!(
            text.contains("delete it") && text.contains("restore it"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_plain_cursor_file_is_read_and_becomes_slots_on_the_next_save() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileCursorStore::new(dir.path());
        let path = store.path_for("k");
        std::fs::write(&path, "cur_far_ahead\n").expect("write");
        assert_eq!(
            store.load("k").await.expect("load"),
            Some(Cursor::new("cur_far_ahead"))
        );
        store.save("k", &Cursor::new("cur_5")).await.expect("save");
        let text = std::fs::read_to_string(&path).expect("text");
        assert!(text.starts_with("cursor cur_5 gen 1 crc32 "), "{text:?}");
        assert_eq!(
            store.load("k").await.expect("load"),
            Some(Cursor::new("cur_5"))
        );
        assert!(store.held_before("k").await.expect("held"));
        // An emptied file (the marker shares its inode) is still refused.
        std::fs::write(&path, "").expect("empty");
        let err = store.load("k").await.expect_err("empty");
        assert!(err.to_string().contains("is empty"), "{err}");
        assert!(store.held_before("k").await.expect("held"));
    }

    #[tokio::test]
    async fn a_cursor_longer_than_the_slots_gets_a_larger_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = saved(dir.path(), &["cur_1", "cur_2"]).await;
        let long = format!("cur_{}", "9".repeat(300));
        store
            .save("k", &Cursor::new(long.as_str()))
            .await
            .expect("save");
        store.save("k", &Cursor::new("cur_3")).await.expect("save");
        let text = std::fs::read_to_string(store.path_for("k")).expect("text");
        assert!(text.contains(&format!("cursor {long} gen 3 ")), "{text:?}");
        assert!(text.contains("cursor cur_3 gen 4 "), "{text:?}");
        assert_eq!(
            store.load("k").await.expect("load"),
            Some(Cursor::new("cur_3"))
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn an_unreadable_cursor_file_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileCursorStore::new(dir.path());
        // A directory where the file should be cannot be read as a file.
        std::fs::create_dir(store.path_for("k")).expect("mkdir");
        let err = store.load("k").await.expect_err("unreadable");
        assert!(
            matches!(err, CursorStoreError::UnusableFile { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("cannot be read"), "{err}");
    }

    #[tokio::test]
    async fn memory_store_remembers_a_removed_cursor() {
        let store = MemoryCursorStore::new();
        assert!(!store.held_before("k").await.expect("held"));
        store.save("k", &Cursor::new("cur_1")).await.expect("save");
        store.remove("k");
        assert_eq!(store.get("k"), None);
        assert!(store.held_before("k").await.expect("held"));
    }

    #[tokio::test]
    async fn file_store_reports_io_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").expect("write");
        let store = FileCursorStore::new(blocker.join("sub"));
        let err = store
            .save("k", &Cursor::new("cur_1"))
            .await
            .expect_err("not a dir");
        assert!(err.to_string().contains("save"));
        assert!(
            err.to_string().contains(&blocker.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn keys_escape_to_safe_names() {
        assert_eq!(escape_key("wsp_01"), "wsp_01");
        assert_eq!(escape_key("../x"), "%2E.%2Fx");
        assert_eq!(escape_key(""), "%");
        assert_eq!(escape_key("a.b"), "a.b");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn escaped_keys_are_plain_names(key in ".{0,40}") {
            let name = escape_key(&key);
            prop_assert!(!name.contains('/') && !name.contains('\\') && !name.starts_with('.'));
            prop_assert!(!name.is_empty());
        }

        #[test]
        fn distinct_keys_get_distinct_names(a in "[a-z/%._-]{0,8}", b in "[a-z/%._-]{0,8}") {
            prop_assume!(a != b && !a.is_empty() && !b.is_empty());
            prop_assert_ne!(escape_key(&a), escape_key(&b));
        }
    }
}
