#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod backoff;
mod commit;
mod connect;
mod cursor_store;
mod driver;
mod endpoint;
mod error;
mod frames;
mod handoff;
mod handshake;
mod heartbeat;
mod item;
mod options;
mod reader;
mod resync;
mod state;
mod stats;
mod stream;
mod task;
mod tls;
mod watermark;

pub use backoff::BackoffPolicy;
pub use commit::Committer;
pub use cursor_store::{
    CursorStore, CursorStoreError, FileCursorStore, MAX_CURSOR_FILE_BYTES, MemoryCursorStore,
    StoreFuture,
};
pub use endpoint::InvalidUrl;
pub use error::Error;
pub use handshake::AuthMode;
pub use heartbeat::HeartbeatPolicy;
pub use item::{RealtimeItem, ReconnectCause, ResyncReason};
pub use options::{DEFAULT_CURSOR_FLUSH_INTERVAL, DEFAULT_MAX_FRAME_BYTES, RealtimeOptions};
pub use resync::Backfill;
pub use stats::{ConnectionState, Stats};
pub use stream::{RealtimeStream, RealtimeStreamBuilder};
