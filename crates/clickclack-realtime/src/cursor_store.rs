//! Where committed cursors live between connections and between processes.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use clickclack_proto::Cursor;

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
}

/// Persists the last committed cursor per key (one key per account and workspace).
///
/// Implementations must make `save` durable before its future resolves and
/// must never let a later `load` return a value older than a completed `save`.
/// The stream only saves cursors that move forward.
pub trait CursorStore: Send + Sync + fmt::Debug {
    /// The cursor saved under `key`, if any.
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Cursor>>;
    /// Saves `cursor` under `key`, replacing the previous value.
    fn save<'a>(&'a self, key: &'a str, cursor: &'a Cursor) -> StoreFuture<'a, ()>;
}

/// An in-process store: cursors survive reconnects and rebuilt streams, not restarts.
///
/// Cloning shares the same map.
#[derive(Debug, Clone, Default)]
pub struct MemoryCursorStore {
    map: Arc<Mutex<HashMap<String, Cursor>>>,
}

impl MemoryCursorStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cursor currently stored under `key`.
    pub fn get(&self, key: &str) -> Option<Cursor> {
        self.map.lock().ok().and_then(|m| m.get(key).cloned())
    }
}

impl CursorStore for MemoryCursorStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Cursor>> {
        let value = self.get(key);
        Box::pin(async move { Ok(value) })
    }

    fn save<'a>(&'a self, key: &'a str, cursor: &'a Cursor) -> StoreFuture<'a, ()> {
        if let Ok(mut map) = self.map.lock() {
            map.insert(key.to_owned(), cursor.clone());
        }
        Box::pin(async { Ok(()) })
    }
}

/// A directory of small files, one per key, written atomically.
///
/// `save` writes the cursor to a temporary file in the same directory,
/// `fsync`s it, renames it over `<dir>/<key>.cursor` and `fsync`s the
/// directory, so after a crash the file holds either the old or the new
/// cursor, never a torn one. Keys are escaped into safe file names (no path
/// separators, no leading dot). Saves through one store are serialized.
#[derive(Debug, Clone)]
pub struct FileCursorStore {
    dir: PathBuf,
    write_lock: Arc<Mutex<()>>,
}

impl FileCursorStore {
    /// A store keeping its files in `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            write_lock: Arc::new(Mutex::new(())),
        }
    }

    /// The directory holding the cursor files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds the cursor for `key`.
    pub fn path_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.cursor", escape_key(key)))
    }
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

fn valid_cursor(s: &str) -> bool {
    !s.is_empty() && s.len() <= 1024 && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl CursorStore for FileCursorStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Cursor>> {
        let path = self.path_for(key);
        Box::pin(async move {
            let text = match tokio::fs::read_to_string(&path).await {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => {
                    return Err(CursorStoreError::Io {
                        op: "load",
                        key: key.to_owned(),
                        source,
                    });
                }
            };
            let value = text.trim();
            if value.is_empty() {
                return Ok(None);
            }
            if !valid_cursor(value) {
                return Err(CursorStoreError::Corrupt {
                    key: key.to_owned(),
                });
            }
            Ok(Some(Cursor::new(value)))
        })
    }

    fn save<'a>(&'a self, key: &'a str, cursor: &'a Cursor) -> StoreFuture<'a, ()> {
        let dir = self.dir.clone();
        let path = self.path_for(key);
        let lock = Arc::clone(&self.write_lock);
        let value = cursor.as_str().to_owned();
        Box::pin(async move {
            if !valid_cursor(&value) {
                return Err(CursorStoreError::Corrupt {
                    key: key.to_owned(),
                });
            }
            let result = tokio::task::spawn_blocking(move || {
                let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                write_atomically(&dir, &path, &value)
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            result.map_err(|source| CursorStoreError::Io {
                op: "save",
                key: key.to_owned(),
                source,
            })
        })
    }
}

/// temp file + fsync + rename + directory fsync.
fn write_atomically(dir: &Path, path: &Path, value: &str) -> std::io::Result<()> {
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
        file.write_all(value.as_bytes())?;
        file.write_all(b"\n")?;
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
        // One file per key, no temp files left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path().join("cursors"))
            .expect("read_dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["acct%2Fwsp_1.cursor".to_owned()]);
    }

    #[tokio::test]
    async fn file_store_rejects_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileCursorStore::new(dir.path());
        std::fs::write(store.path_for("k"), "two words\n").expect("write");
        assert!(matches!(
            store.load("k").await,
            Err(CursorStoreError::Corrupt { .. })
        ));
        std::fs::write(store.path_for("k"), "\n").expect("write");
        assert_eq!(store.load("k").await.expect("load"), None);
        assert!(store.save("k", &Cursor::new("")).await.is_err());
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
