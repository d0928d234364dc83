//! A short seeded chaos run (the long one is `cargo xtask chaos`): three
//! accounts, human messages in channels, threads and DMs, while a seeded
//! scheduler drops sockets, closes with 1013 and 4001 (pruned log), refuses
//! connections, fails, delays and loses REST responses, and crashes and
//! restarts the gateway (in-process, persisted state dir). Nothing may be
//! lost or doubled, and messages older than `catchUpMaxAge` get no reply.
//!
//! `CHAOS_SEED` replays a seed; `CHAOS_SECS` changes the duration (default 20).

#[path = "../../../xtask/src/chaos_engine.rs"]
mod chaos_engine;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use chaos_engine::{Chaos, GatewayControl, Plan, World};
use clickclack_testkit::TestServer;
use clickclack_testkit::model_stub::ModelStub;
use openclaw_clickclack::config::{MapEnv, OpenClawConfig, parse_config_str};
use openclaw_clickclack::gateway::{Clock, Gateway, GatewayOptions, Lifecycle};

const CATCH_UP_MAX_AGE: Duration = Duration::from_secs(600);

/// The gateway in this process; a crash drops it (nothing more committed).
struct InProcess {
    config: OpenClawConfig,
    env: MapEnv,
    options: GatewayOptions,
    accounts: Vec<String>,
    shift_ms: Arc<AtomicU64>,
    gateway: Option<Gateway>,
    totals: (u64, u64),
}

impl InProcess {
    fn current(&self) -> (u64, u64) {
        let Some(g) = &self.gateway else {
            return (0, 0);
        };
        self.accounts.iter().fold((0, 0), |(r, s), id| {
            let m = g.metrics().account(id);
            (
                r + m.reconnects.load(Ordering::Relaxed),
                s + m.resyncs.load(Ordering::Relaxed),
            )
        })
    }
}

impl GatewayControl for InProcess {
    async fn start(&mut self) -> Result<(), String> {
        let g = Gateway::start(&self.config, &self.env, self.options.clone())
            .await
            .map_err(|e| e.to_string())?;
        self.gateway = Some(g);
        Ok(())
    }

    async fn crash(&mut self) {
        let (r, s) = self.current();
        self.totals.0 += r;
        self.totals.1 += s;
        drop(self.gateway.take());
        // Let the aborted tasks unwind before the next start.
        tokio::task::yield_now().await;
    }

    async fn terminate(&mut self) {
        let (r, s) = self.current();
        self.totals.0 += r;
        self.totals.1 += s;
        if let Some(g) = self.gateway.take() {
            g.shutdown().await;
        }
    }

    fn is_running(&self) -> bool {
        self.gateway.is_some()
    }

    async fn all_ready(&mut self) -> bool {
        self.gateway.as_ref().is_some_and(|g| {
            let all = g.status().all();
            !all.is_empty() && all.iter().all(|s| s.lifecycle == Lifecycle::Ready)
        })
    }

    async fn counters(&mut self) -> (u64, u64) {
        let (r, s) = self.current();
        (self.totals.0 + r, self.totals.1 + s)
    }

    fn max_rss(&mut self) -> Option<u64> {
        chaos_engine::peak_rss("self")
    }

    async fn age_messages(&mut self, by: Duration) {
        self.shift_ms.store(
            u64::try_from(by.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    async fn unage(&mut self) -> Result<(), String> {
        self.shift_ms.store(0, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_chaos_loses_and_doubles_nothing() {
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_122);
    let secs = std::env::var("CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let server = TestServer::start().await;
    let model = ModelStub::start().await;
    let world = World::build(&server, 3);
    let accounts: Vec<String> = world.accounts.iter().map(|a| a.id.clone()).collect();
    let env = MapEnv::new();
    let config = parse_config_str(&world.config(&server.base_url(), &model.base_url()), &env)
        .expect("config parses");
    let state = tempfile::tempdir().expect("tempdir");
    let shift_ms = Arc::new(AtomicU64::new(0));
    let shift = Arc::clone(&shift_ms);
    let options = GatewayOptions {
        state_dir: Some(state.path().to_path_buf()),
        catch_up_max_age: Some(CATCH_UP_MAX_AGE),
        clock: Clock::from_fn(move || {
            SystemTime::now() + Duration::from_millis(shift.load(Ordering::SeqCst))
        }),
        retry_base: Duration::from_millis(20),
        shutdown_grace: Duration::from_secs(2),
        ..GatewayOptions::default()
    };
    let gateway = InProcess {
        config,
        env,
        options,
        accounts,
        shift_ms,
        gateway: None,
        totals: (0, 0),
    };
    let plan = Plan {
        seed,
        duration: Duration::from_secs(secs),
        accounts: 3,
        catch_up_max_age: CATCH_UP_MAX_AGE,
        post_gap_ms: (20, 150),
        fault_gap_ms: (150, 700),
        restarts: true,
        stale_phase: true,
        settle: Duration::from_secs(20),
        verbose: std::env::var_os("CHAOS_VERBOSE").is_some(),
    };
    let chaos = Chaos::new(
        plan,
        &server,
        world,
        state.path().to_path_buf(),
        gateway,
        |line| println!("chaos: {line}"),
    );
    let report = chaos
        .run()
        .await
        .unwrap_or_else(|e| panic!("chaos seed {seed}: {e}"));
    println!("{}", report.render());
    assert!(report.passed(), "{}", report.render());
    assert!(report.posted >= 50, "{}", report.render());
    assert!(report.restarts >= 1, "{}", report.render());
}
