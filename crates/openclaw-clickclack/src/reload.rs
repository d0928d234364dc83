//! Config reload for a running gateway (host conventions §8, plugin row 52):
//! the config file is watched and `SIGHUP` forces a check; a new config is
//! re-validated and applied per account, without touching the others.
//!
//! 1. **Trigger**: the file's size or modification time changed (polled every
//!    [`ReloadOptions::poll`]), or `SIGHUP` arrived;
//! 2. **Debounce**: a file change is applied once the file has been quiet for
//!    [`ReloadOptions::debounce`] (editors write in several steps); `SIGHUP`
//!    applies at once;
//! 3. **Validate** ([`Reloader::reload`]): the file is parsed with the same
//!    strict schema as at start, its enabled accounts are resolved, the
//!    shared-token check runs, and every added or changed account is
//!    prepared with the gateway's own start checks
//!    ([`Supervisor::prepare`]). Any failure rejects the **whole** new config:
//!    the error is logged (`config reload skipped (invalid config): …`) and
//!    the running accounts keep the old one;
//! 4. **Plan** ([`plan`]): accounts only in the new config start, accounts
//!    gone from it (or disabled) stop, accounts whose resolved config
//!    changed — or every account, when a key outside `channels.clickclack`
//!    changed (models, agents, secrets) — restart; the others are untouched
//!    and stay connected;
//! 5. **Apply**: stop → restart → start through the gateway's
//!    [`Supervisor`]. A restarted or re-added account resumes from its
//!    persisted cursor (the gateway's cursor store), so nothing is replayed
//!    twice or skipped.
//!
//! In fleet mode (`--state postgres://…`) step 5 changes the replica's
//! account set instead ([`Supervisor`] → the lease manager): an added account
//! becomes claimable (by whichever replica has room), a removed one is
//! handed back and its lease released, a changed one is handed back and
//! taken again — here or elsewhere — with its new config. The lease keeps
//! every account owned by at most one replica while the replicas reload one
//! after another; reload every replica with the same file.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::accounts::{ResolvedAccount, list_enabled_accounts, normalize_account_id};
use crate::config::{EnvSource, OpenClawConfig, load_config_file};
use crate::gateway::Supervisor;

/// How the file is watched.
#[derive(Debug, Clone, Copy)]
pub struct ReloadOptions {
    /// How often the file's metadata is checked.
    pub poll: Duration,
    /// How long the file must stay unchanged before it is applied.
    pub debounce: Duration,
}

impl Default for ReloadOptions {
    fn default() -> Self {
        ReloadOptions {
            poll: Duration::from_millis(250),
            debounce: Duration::from_millis(500),
        }
    }
}

/// What a new config changes, by account id (each list sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    /// In the new config only: started.
    pub start: Vec<String>,
    /// Gone from the new config (or disabled): stopped.
    pub stop: Vec<String>,
    /// In both, with a different configuration: restarted.
    pub restart: Vec<String>,
    /// In both and unchanged: left running.
    pub unchanged: Vec<String>,
}

impl ReloadPlan {
    /// `true` when nothing starts, stops or restarts.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.start.is_empty() && self.stop.is_empty() && self.restart.is_empty()
    }
}

/// The config without `channels.clickclack`: a change here (models, agents,
/// secrets providers, …) can change how every account answers.
fn outside_channel(config: &OpenClawConfig) -> OpenClawConfig {
    OpenClawConfig {
        clickclack: None,
        ..config.clone()
    }
}

/// Compares the accounts of two configs (both already resolved and
/// filtered): see the module docs, step 4.
#[must_use]
pub fn plan(
    old_config: &OpenClawConfig,
    old: &[ResolvedAccount],
    new_config: &OpenClawConfig,
    new: &[ResolvedAccount],
) -> ReloadPlan {
    let global_changed = outside_channel(old_config) != outside_channel(new_config);
    let mut plan = ReloadPlan::default();
    for account in new {
        match old.iter().find(|a| a.account_id == account.account_id) {
            None => plan.start.push(account.account_id.clone()),
            Some(before) if global_changed || before != account => {
                plan.restart.push(account.account_id.clone());
            }
            Some(_) => plan.unchanged.push(account.account_id.clone()),
        }
    }
    for account in old {
        if !new.iter().any(|a| a.account_id == account.account_id) {
            plan.stop.push(account.account_id.clone());
        }
    }
    for list in [
        &mut plan.start,
        &mut plan.stop,
        &mut plan.restart,
        &mut plan.unchanged,
    ] {
        list.sort();
    }
    plan
}

/// Watches one config file and applies it to a running gateway.
pub struct Reloader {
    path: PathBuf,
    supervisor: Supervisor,
    /// `--account` (normalised); empty = every enabled account.
    only: Vec<String>,
    env: Box<dyn EnvSource + Send + Sync>,
    config: OpenClawConfig,
    accounts: Vec<ResolvedAccount>,
    options: ReloadOptions,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("path", &self.path)
            .field("only", &self.only)
            .finish_non_exhaustive()
    }
}

/// The file's (modification time, size), if it can be read.
fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Reloader {
    /// A reloader for the gateway that runs `config` (loaded from `path`),
    /// restricted to the `only` account ids when not empty (the gateway's
    /// `--account`).
    ///
    /// # Errors
    /// A token secret error while resolving the running config's accounts.
    pub fn new(
        path: PathBuf,
        config: OpenClawConfig,
        supervisor: Supervisor,
        only: &[String],
        env: Box<dyn EnvSource + Send + Sync>,
        options: ReloadOptions,
    ) -> Result<Reloader, crate::secrets::SecretError> {
        let only: Vec<String> = only.iter().map(|a| normalize_account_id(a)).collect();
        let accounts = Self::accounts_of(&config, &only, env.as_ref())?;
        Ok(Reloader {
            path,
            supervisor,
            only,
            env,
            config,
            accounts,
            options,
        })
    }

    fn accounts_of(
        config: &OpenClawConfig,
        only: &[String],
        env: &dyn EnvSource,
    ) -> Result<Vec<ResolvedAccount>, crate::secrets::SecretError> {
        let mut accounts = list_enabled_accounts(config, env)?;
        if !only.is_empty() {
            accounts.retain(|a| only.contains(&a.account_id));
        }
        Ok(accounts)
    }

    /// Steps 3–5: loads the file and applies it. Returns the plan applied.
    ///
    /// # Errors
    /// Why the new config was rejected (the old one keeps running).
    pub async fn reload(&mut self) -> Result<ReloadPlan, String> {
        let env = self.env.as_ref();
        let config = load_config_file(&self.path, env).map_err(|e| e.to_string())?;
        let accounts = Self::accounts_of(&config, &self.only, env).map_err(|e| e.to_string())?;
        crate::accounts::refuse_shared_tokens(&config, &accounts).map_err(|e| match e.hint() {
            Some(hint) => format!("{e}; {hint}"),
            None => e.to_string(),
        })?;
        let plan = plan(&self.config, &self.accounts, &config, &accounts);
        let mut specs = Vec::new();
        for id in plan.start.iter().chain(&plan.restart) {
            let Some(account) = accounts.iter().find(|a| &a.account_id == id) else {
                continue;
            };
            let spec = self
                .supervisor
                .prepare(&config, env, account.clone())
                .map_err(|e| e.to_string())?;
            specs.push(spec);
        }
        if let Some(fleet) = self.supervisor.fleet() {
            let ids = accounts.iter().map(|a| a.account_id.clone()).collect();
            fleet.replace(ids, specs, plan.restart.clone());
            self.config = config;
            self.accounts = accounts;
            return Ok(plan);
        }
        for id in &plan.stop {
            self.supervisor.stop(id).await;
        }
        for spec in specs {
            let id = spec.account_id().to_owned();
            let result = if self.supervisor.is_running(&id) {
                self.supervisor.restart(spec).await
            } else {
                self.supervisor.start(spec)
            };
            if let Err(e) = result {
                tracing::error!(account = %id, "config reload: {e}");
            }
        }
        self.config = config;
        self.accounts = accounts;
        Ok(plan)
    }

    async fn apply(&mut self, why: &str) {
        match self.reload().await {
            Ok(plan) if plan.is_empty() => {
                tracing::info!(
                    trigger = why,
                    "config reloaded: no account changed ({})",
                    self.path.display()
                );
            }
            Ok(plan) => tracing::info!(
                trigger = why,
                started = ?plan.start,
                stopped = ?plan.stop,
                restarted = ?plan.restart,
                unchanged = ?plan.unchanged,
                "config reloaded"
            ),
            Err(e) => tracing::error!(
                trigger = why,
                "config reload skipped (invalid config): {e}; the previous configuration keeps running"
            ),
        }
    }

    /// Steps 1–2: watches the file and `SIGHUP` until `cancel`, applying
    /// each change.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut hangup = hangup_signal();
        let mut seen = stamp(&self.path);
        let mut pending: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(self.options.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = recv_hangup(&mut hangup) => {
                    seen = stamp(&self.path);
                    pending = None;
                    self.apply("SIGHUP").await;
                }
                _ = tick.tick() => {
                    let now = stamp(&self.path);
                    if now != seen {
                        seen = now;
                        pending = Some(tokio::time::Instant::now());
                    } else if let Some(since) = pending
                        && since.elapsed() >= self.options.debounce
                    {
                        pending = None;
                        self.apply("file changed").await;
                    }
                }
            }
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

fn hangup_signal() -> Hangup {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Some(signal),
            Err(e) => {
                tracing::warn!(
                    "cannot listen for SIGHUP ({e}); config reload follows the file only"
                );
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The next `SIGHUP`; never resolves without a handler.
async fn recv_hangup(hangup: &mut Hangup) {
    #[cfg(unix)]
    if let Some(signal) = hangup
        && signal.recv().await.is_some()
    {
        return;
    }
    let _ = hangup;
    std::future::pending::<()>().await;
}

/// Installs a `SIGHUP` handler that only logs, for gateways that cannot
/// reload (fleet mode): without one, `SIGHUP` would end the process.
pub async fn ignore_hangups(cancel: CancellationToken, why: &'static str) {
    let mut hangup = hangup_signal();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = recv_hangup(&mut hangup) => {
                tracing::warn!("SIGHUP ignored: {why}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::resolve_all_accounts;
    use crate::config::{MapEnv, parse_config_str};

    fn load(text: &str) -> (OpenClawConfig, Vec<ResolvedAccount>) {
        let env = MapEnv::new();
        let config = parse_config_str(text, &env).unwrap();
        let accounts = resolve_all_accounts(&config, &env)
            .unwrap()
            .into_iter()
            .filter(|a| a.enabled)
            .collect();
        (config, accounts)
    }

    const BASE: &str = r#"baseUrl: "http://h", workspace: "w","#;

    #[test]
    fn added_removed_changed_and_untouched_accounts() {
        let (c1, a1) = load(&format!(
            "{{ channels: {{ clickclack: {{ {BASE} accounts: {{ a: {{ token: 'ccb_a' }}, b: {{ token: 'ccb_b' }}, c: {{ token: 'ccb_c' }} }} }} }} }}"
        ));
        let (c2, a2) = load(&format!(
            "{{ channels: {{ clickclack: {{ {BASE} accounts: {{ a: {{ token: 'ccb_a' }}, c: {{ token: 'ccb_c', requireMention: true }}, d: {{ token: 'ccb_d' }} }} }} }} }}"
        ));
        assert_eq!(
            plan(&c1, &a1, &c2, &a2),
            ReloadPlan {
                start: vec!["d".into()],
                stop: vec!["b".into()],
                restart: vec!["c".into()],
                unchanged: vec!["a".into()],
            }
        );
        // Disabling an account stops it; the same config again changes nothing.
        let (c3, a3) = load(&format!(
            "{{ channels: {{ clickclack: {{ {BASE} accounts: {{ a: {{ token: 'ccb_a', enabled: false }}, c: {{ token: 'ccb_c', requireMention: true }}, d: {{ token: 'ccb_d' }} }} }} }} }}"
        ));
        let p = plan(&c2, &a2, &c3, &a3);
        assert_eq!(p.stop, ["a"]);
        assert!(plan(&c3, &a3, &c3, &a3).is_empty());
    }

    #[test]
    fn a_change_outside_the_channel_restarts_every_account() {
        let (c1, a1) = load(&format!(
            "{{ channels: {{ clickclack: {{ {BASE} token: 'ccb_a' }} }} }}"
        ));
        let (c2, a2) = load(&format!(
            "{{ channels: {{ clickclack: {{ {BASE} token: 'ccb_a' }} }}, agents: {{ defaults: {{ model: {{ primary: 'openai/gpt-5' }} }} }} }}"
        ));
        assert_eq!(plan(&c1, &a1, &c2, &a2).restart, ["default"]);
    }
}
