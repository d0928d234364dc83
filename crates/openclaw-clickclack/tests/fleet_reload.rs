//! Config reload in fleet mode, on the testkit and a real PostgreSQL
//! cluster, with two replicas in this process:
//!
//! 1. the config has `default` and `work`: each account runs on exactly one
//!    replica;
//! 2. the file changes to `default` and `sales` and both replicas reload it:
//!    `work` is handed back and its lease released (nobody runs it, its bot
//!    no longer answers), `sales` is claimed and runs on exactly one replica;
//! 3. a message is answered once by each configured bot;
//! 4. `sales` changes (its name): it is handed back and taken again at a
//!    newer epoch, and still runs on exactly one replica.

#[path = "support/pg_cluster.rs"]
mod pg_cluster;
#[path = "gateway_support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use clickclack_proto::UserId;
use clickclack_testkit::BotSpec;
use openclaw_clickclack::config::MapEnv;
use openclaw_clickclack::gateway::{Gateway, Lifecycle};
use openclaw_clickclack::reload::{ReloadOptions, Reloader};
use openclaw_clickclack::state::StateLocation;
use support::*;

/// Which replicas run which account (ready), from their status boards.
fn runners(replicas: &[(&str, &Gateway)]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, gateway) in replicas {
        for s in gateway.status().all() {
            if s.lifecycle == Lifecycle::Ready {
                out.entry(s.account_id)
                    .or_default()
                    .push((*name).to_owned());
            }
        }
    }
    out
}

/// Whether exactly `accounts` run, each on exactly one replica.
fn each_on_one(replicas: &[(&str, &Gateway)], accounts: &[&str]) -> bool {
    let now = runners(replicas);
    now.keys().map(String::as_str).eq(accounts.iter().copied())
        && now.values().all(|owners| owners.len() == 1)
}

#[tokio::test]
async fn a_reload_moves_the_account_set_and_keeps_one_owner_per_account() {
    let cluster = pg_cluster::shared();
    let url = cluster.schema_url("fleet_reload").expect("schema");
    let fx = Fixture::new().await;
    let bot = |name: &str, handle: &str| {
        fx.server.create_bot(
            BotSpec::new(&fx.seed.workspace.id, name)
                .handle(handle)
                .scopes(["bot:write"]),
        )
    };
    let (work, sales) = (bot("Work Bot", "workbot"), bot("Sales Bot", "salesbot"));
    let config_named = |id: &str, name: &str, token: &str| {
        fx.model_config(
            &format!(r#"accounts: {{ {id}: {{ name: "{name}", token: "{token}" }} }},"#),
            "",
        )
    };
    let config_with = |id: &str, token: &str| config_named(id, id, token);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("openclaw.json5");
    let v1 = config_with("work", &work.token);
    std::fs::write(&path, &v1).expect("write config");

    // 1. Two replicas share default and work.
    let a = start_gateway(&v1, &MapEnv::new(), fx.replica_options(&url, "a")).await;
    let b = start_gateway(&v1, &MapEnv::new(), fx.replica_options(&url, "b")).await;
    let both = [("a", &a), ("b", &b)];
    wait_until("default and work run, each on one replica", WAIT, || {
        each_on_one(&both, &["default", "work"])
    })
    .await;

    // 2. The file changes: work leaves, sales arrives; both replicas reload.
    let v2 = config_with("sales", &sales.token);
    std::fs::write(&path, &v2).expect("write config");
    let mut reloaders = Vec::new();
    for gateway in [&a, &b] {
        let mut reloader = Reloader::new(
            path.clone(),
            parse(&v1, &MapEnv::new()),
            gateway.supervisor().clone(),
            &[],
            Box::new(MapEnv::new()),
            ReloadOptions::default(),
        )
        .expect("reloader");
        let plan = reloader.reload().await.expect("the new config applies");
        assert_eq!(plan.start, ["sales"]);
        assert_eq!(plan.stop, ["work"]);
        reloaders.push(reloader);
    }
    wait_until("default and sales run, each on one replica", WAIT, || {
        each_on_one(&both, &["default", "sales"])
    })
    .await;
    let backend = url
        .parse::<StateLocation>()
        .expect("url")
        .open()
        .await
        .expect("open the state database");
    wait_until_async("work's lease is released", WAIT, || async {
        backend
            .assignment()
            .await
            .is_ok_and(|s| s.leases.iter().any(|l| l.account == "work" && !l.is_held()))
    })
    .await;

    // 3. Each configured bot answers once; work's bot no longer answers.
    let source = fx.post("hello fleet");
    let from = |bot: &UserId| {
        fx.server
            .channel_messages(&fx.seed.general.id)
            .into_iter()
            .filter(|m| &m.author_id == bot && m.quoted_message_id.as_ref() == Some(&source.id))
            .count()
    };
    wait_until("default and sales answered", WAIT, || {
        from(&fx.seed.bot.user.id) == 1 && from(&sales.user.id) == 1
    })
    .await;

    // 4. sales changes: handed back, taken again at a newer epoch.
    let epoch_of = |account: &'static str| {
        let backend = &backend;
        async move {
            backend.assignment().await.ok().and_then(|s| {
                s.leases
                    .iter()
                    .find(|l| l.account == account && l.is_held())
                    .map(|l| l.epoch)
            })
        }
    };
    let before = epoch_of("sales").await.expect("sales is held");
    std::fs::write(&path, config_named("sales", "Sales Team", &sales.token)).expect("write");
    for reloader in &mut reloaders {
        let plan = reloader.reload().await.expect("the new config applies");
        assert_eq!(plan.restart, ["sales"]);
    }
    wait_until_async("sales is taken again at a newer epoch", WAIT, || async {
        epoch_of("sales").await.is_some_and(|e| e > before)
    })
    .await;
    wait_until("default and sales run, each on one replica", WAIT, || {
        each_on_one(&both, &["default", "sales"])
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
    assert_eq!(from(&fx.seed.bot.user.id), 1, "answered once");
    assert_eq!(from(&sales.user.id), 1, "answered once");
    assert_eq!(from(&work.user.id), 0, "a removed account does not answer");
}
