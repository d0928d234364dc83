#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod accounts;
pub mod agent_host;
pub mod channel;
pub mod cli;
pub mod config;
pub mod diagnose;
pub mod errors;
pub mod gateway;
pub mod json5_tree;
pub mod llm;
pub mod nonce;
pub mod outbound;
pub mod policy;
pub mod preflight;
pub mod reload;
pub mod reply;
pub mod resolve;
pub mod retry;
pub mod scheduler;
pub mod secrets;
pub mod setup;
pub mod state;
