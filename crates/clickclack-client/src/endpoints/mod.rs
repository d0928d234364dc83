//! One typed method per bot-relevant endpoint (protocol.md §5.1), grouped by area.
//!
//! The methods are inherent methods of [`Client`](crate::Client); these modules
//! also hold the small query types they take.

pub mod bots;
pub mod channels;
pub mod dms;
pub mod messages;
pub mod owner;
pub mod profile;
pub mod raw;
pub mod reactions;
pub mod reads;
pub mod realtime;
pub mod routes;
pub mod search;
pub mod threads;
pub mod topics;
pub mod uploads;
pub mod workspaces;
