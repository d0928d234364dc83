//! Integration tests: the client against `clickclack-testkit` over loopback.

mod common;

mod api;
mod endpoints;
mod escaping;
mod owner_endpoints;
mod pagination;
mod raw_request;
mod reliability;
mod security;
