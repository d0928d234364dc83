//! Shared helpers.

use std::time::Duration;

use clickclack_client::{Backoff, Client, ErrorKind, RetryPolicy};
use clickclack_proto::Scope;
use clickclack_testkit::{BotSpec, Seed, TestBot, TestServer};

/// A started server and its seed (workspace `default`, `#general`, a `bot:write` bot).
pub struct Env {
    pub server: TestServer,
    pub seed: Seed,
}

pub async fn env() -> Env {
    let server = TestServer::start().await;
    let seed = server.seed();
    Env { server, seed }
}

/// A retry policy with a tiny real backoff, so tests stay fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(5),
        ))
}

pub fn client_for(server: &TestServer, token: &str) -> Client {
    Client::builder(server.base_url())
        .token(token)
        .retry_policy(fast_retry())
        .request_timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

impl Env {
    /// A client for the seeded `bot:write` bot.
    pub fn bot(&self) -> Client {
        client_for(&self.server, &self.seed.bot.token)
    }

    /// A new bot in the seeded workspace with `scopes`.
    pub fn bot_with(&self, handle: &str, scopes: &[&str]) -> (TestBot, Client) {
        let bot = self.server.create_bot(
            BotSpec::new(&self.seed.workspace.id, handle)
                .handle(handle)
                .scopes(scopes.iter().copied()),
        );
        let client = client_for(&self.server, &bot.token);
        (bot, client)
    }

    /// A client for a new `bot:read` bot.
    pub fn reader(&self) -> Client {
        self.bot_with("reader", &["bot:read"]).1
    }
}

/// Asserts that `result` failed with `MissingScope { scope }`.
#[track_caller]
pub fn assert_missing_scope<T: std::fmt::Debug>(
    result: Result<T, clickclack_client::Error>,
    scope: Scope,
) {
    match result {
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::MissingScope { scope: got, .. } if *got == scope),
            "{e}"
        ),
        Ok(v) => panic!("expected a missing-scope error, got {v:?}"),
    }
}
