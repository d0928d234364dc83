#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod macros;

pub mod close;
pub mod error;
pub mod event;
pub mod go;
pub mod headers;
pub mod ids;
pub mod objects;
pub mod pages;
pub mod requests;
pub mod responses;
pub mod scope;
mod slug;
pub mod timestamp;

pub use error::{ErrorBody, ForbiddenReason};
pub use event::{DecodeError, Event, EventPayload};
pub use ids::{
    BotTokenId, ChannelId, ConversationId, Cursor, EventId, MessageId, RouteId, TopicId, UploadId,
    UserId, WorkspaceId,
};
pub use objects::*;
pub use pages::{EventsPage, MembersPage, MessagePage, SearchResults, ThreadPage};
pub use scope::{Scope, UnknownScope, expand_scopes};
pub use slug::slugify;
pub use timestamp::{Timestamp, TimestampError, UnixTime};
