#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod accounts;
pub mod agent_host;
pub mod channel;
pub mod cli;
pub mod config;
pub mod errors;
pub mod gateway;
pub mod llm;
pub mod nonce;
pub mod outbound;
pub mod policy;
pub mod reply;
pub mod resolve;
pub mod scheduler;
pub mod secrets;
