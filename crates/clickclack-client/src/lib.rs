#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod backoff;
mod body;
mod builder;
mod client;
pub mod endpoints;
mod error;
mod head_scan;
mod nonce;
pub mod pagination;
mod retry;
mod sent;
mod stack;
mod tls;
mod token;
mod transport;
pub mod url;

pub use backoff::Backoff;
pub use body::{
    DEFAULT_MAX_DOWNLOAD_BYTES, MAX_ERROR_BODY_BYTES, MAX_JSON_BODY_BYTES, RequestBody,
    ResponseBody,
};
pub use builder::{ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use client::Client;
pub use endpoints::messages::{PageAnchor, PageRequest};
pub use endpoints::realtime::EphemeralTarget;
pub use endpoints::search::SearchQuery;
pub use endpoints::threads::ThreadQuery;
pub use endpoints::uploads::{Download, UploadRequest, UploadSource};
pub use endpoints::workspaces::MembersQuery;
pub use error::{BoxError, Error, ErrorKind};
pub use nonce::generate_nonce;
pub use pagination::{History, Paginated};
pub use retry::{Idempotency, RequestMeta, RetryPolicy, parse_retry_after};
pub use sent::SentMessage;
pub use tls::TlsSettings;
pub use token::BotToken;
pub use transport::{DEFAULT_POOL_MAX_IDLE_PER_HOST, TlsRoots, Transport, tls_config};

/// The HTTP method type [`Client::request`] takes.
pub use http::Method;

/// Re-export of the wire types crate.
pub use clickclack_proto as proto;
