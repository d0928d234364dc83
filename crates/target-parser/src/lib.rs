#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod ids;
mod target;

pub use error::ParseTargetError;
pub use ids::{
    CHANNEL_ID_PREFIX, MESSAGE_ID_PREFIX, USER_ID_PREFIX, looks_like_channel_id,
    looks_like_message_id, looks_like_user_id,
};
pub use target::{ChatType, PROVIDER_PREFIXES, TARGET_HINT, Target, TargetKind, parse};
