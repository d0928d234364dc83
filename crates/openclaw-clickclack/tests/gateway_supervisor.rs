//! The account supervisor: one account stopped and started again by id
//! while the gateway runs; a message that arrived meanwhile is answered
//! once after the restart (replayed from the committed cursor). Runs with
//! one start request in flight at a time: a slot is never kept after its
//! request, so the restart can start.

#[path = "gateway_support/mod.rs"]
mod support;

use openclaw_clickclack::accounts::list_enabled_accounts;
use openclaw_clickclack::config::MapEnv;
use openclaw_clickclack::gateway::{Lifecycle, SuperviseError};
use support::*;

#[tokio::test]
async fn one_account_stops_and_starts_again_by_id() {
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let options = openclaw_clickclack::gateway::GatewayOptions {
        max_startup_requests: 1,
        ..fx.options()
    };
    let gateway = fx.start(&config, options).await;
    let sup = gateway.supervisor().clone();
    assert_eq!(sup.running(), vec!["default".to_owned()]);
    let before = fx.post("before the stop");
    wait_until("answered", WAIT, || fx.replies_to(&before).len() == 1).await;

    assert!(sup.stop("default").await, "it was running");
    assert!(!sup.stop("default").await, "stopping twice is a no-op");
    assert!(sup.running().is_empty());
    let status = gateway.status().clone();
    assert_eq!(status.all()[0].lifecycle, Lifecycle::Stopped);

    let during = fx.post("while stopped");
    let env = MapEnv::new();
    let parsed = parse(&config, &env);
    let account = list_enabled_accounts(&parsed, &env)
        .expect("accounts")
        .remove(0);
    let spec = sup.prepare(&parsed, &env, account).expect("usable");
    sup.start(spec.clone()).expect("starts");
    assert!(matches!(
        sup.start(spec),
        Err(SuperviseError::AlreadyRunning { .. })
    ));
    wait_ready(&gateway).await;
    wait_until("answered after restart", WAIT, || {
        fx.replies_to(&during).len() == 1
    })
    .await;
    gateway.shutdown().await;
    assert_eq!(fx.replies_to(&before).len(), 1);
    assert_eq!(fx.replies_to(&during).len(), 1);
    assert_eq!(fx.model.request_count(), 2);
}
