//! Integration tests: the client against `clickclack-testkit` over loopback.

mod common;

mod endpoints;
mod escaping;
mod pagination;
mod raw_request;
mod reliability;
mod security;
