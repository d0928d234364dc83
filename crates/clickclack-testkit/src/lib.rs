#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod admin;
mod admin_http;
mod auth;
mod error;
mod faults;
mod gojson;
mod handlers;
mod http;
mod hub;
mod ids;
pub mod model_stub;
mod raw;
mod router;
mod server;
mod store;
mod ws;

pub use admin::{AdminError, BotSpec, Seed, SetupCodeSpec, TestBot, TestSetupCode, TestUser};
pub use faults::{Failure, Faults};
pub use raw::RawResponse;
pub use server::{TestServer, TestServerBuilder};

#[doc(hidden)]
pub mod dev {
    //! Support for the `clickclack-dev` binary (not a stable API).
    use std::io;
    use std::net::SocketAddr;

    use crate::TestServer;

    /// Starts a server on `addr` with the loopback-only `/admin/*` HTTP API.
    pub async fn bind_with_admin(addr: SocketAddr) -> io::Result<TestServer> {
        TestServer::bind_with(addr, true).await
    }
}
