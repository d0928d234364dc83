#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod accounts;
pub mod config;
pub mod errors;
pub mod nonce;
pub mod secrets;
