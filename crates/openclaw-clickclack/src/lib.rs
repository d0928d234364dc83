#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod accounts;
pub mod config;
pub mod errors;
pub mod nonce;
pub mod secrets;
pub mod agent_host;
pub mod llm;
pub mod policy;
pub mod reply;
pub mod scheduler;
pub mod gateway;
pub mod channel;
pub mod cli;
pub mod outbound;
pub mod resolve;
