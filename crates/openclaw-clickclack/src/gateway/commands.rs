//! Command-menu sync at account start (reference row 39).
//!
//! When `commandMenu` is not `false`, the gateway publishes the account's
//! commands with `PUT /api/bots/self/commands` — an empty list when none are
//! configured, which clears a stale menu. The reference maps an OpenClaw
//! host's native command specs into the menu; outside a host there are none,
//! so the CLI gateway publishes an empty menu (library users can pass
//! [`MenuCommand`]s through [`super::GatewayOptions::commands`]); there is no
//! config key for menu entries. `commandMenu: false` on an account skips the
//! sync entirely (no request; a menu published earlier stays as it is). Failures never block startup:
//! 403 → warn (with the reference's hint), 404 → debug (old server), anything
//! else → warn.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clickclack_client::{Client, ErrorKind};
use clickclack_proto::requests::{BotCommandInput, SetBotCommands};

/// Most commands published.
pub const MAX_COMMANDS: usize = 100;

/// A command to publish in the bot's menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuCommand {
    /// Name (trimmed and lower-cased; must match `^[a-z0-9_-]{1,32}$`).
    pub name: String,
    /// Description (≤100 characters; defaults to the name).
    pub description: String,
    /// Argument hint (≤100 characters).
    pub args_hint: String,
}

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Maps commands to the wire menu: names normalised and validated (invalid
/// ones returned separately), duplicates dropped, at most [`MAX_COMMANDS`].
pub fn build_menu(commands: &[MenuCommand]) -> (Vec<BotCommandInput>, Vec<String>) {
    let mut seen = BTreeSet::new();
    let mut invalid = Vec::new();
    let mut menu = Vec::new();
    for command in commands {
        let name = command.name.trim().to_lowercase();
        if !valid_name(&name) {
            invalid.push(command.name.clone());
            continue;
        }
        if !seen.insert(name.clone()) || menu.len() >= MAX_COMMANDS {
            continue;
        }
        let description = if command.description.trim().is_empty() {
            name.clone()
        } else {
            truncate(command.description.trim(), 100)
        };
        menu.push(
            BotCommandInput::new(name, description)
                .with_args_hint(truncate(command.args_hint.trim(), 100)),
        );
    }
    (menu, invalid)
}

/// The warning for invalid command names.
pub fn invalid_names_log_line(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "ClickClack command menu skipped invalid native command names: {}",
        quoted.join(", ")
    )
}

/// How a sync ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuSync {
    /// `commandMenu: false`.
    Disabled,
    /// Published this many commands.
    Published(usize),
    /// Skipped with a warning (403), a debug line (404), or failed (other errors).
    Skipped(String),
}

/// Publishes the menu (row 39). Never fails: problems are logged.
pub async fn sync_command_menu(
    client: &Client,
    account_id: &str,
    enabled: bool,
    commands: &[MenuCommand],
) -> MenuSync {
    if !enabled {
        tracing::debug!(account = %account_id, "[{account_id}] ClickClack command menu sync disabled");
        return MenuSync::Disabled;
    }
    let (menu, invalid) = build_menu(commands);
    if !invalid.is_empty() {
        let line = invalid_names_log_line(&invalid);
        tracing::warn!(account = %account_id, "{line}");
    }
    let count = menu.len();
    match client.set_bot_commands(&SetBotCommands::new(menu)).await {
        Ok(_) => {
            tracing::debug!(account = %account_id, commands = count, "[{account_id}] ClickClack command menu synced");
            MenuSync::Published(count)
        }
        Err(e) => {
            let line = match e.kind() {
                ErrorKind::Forbidden
                | ErrorKind::MissingScope { .. }
                | ErrorKind::WrongWorkspace => {
                    let line = format!(
                        "[{account_id}] ClickClack command menu sync skipped: {e}; verify token/workspace command permissions or set commandMenu: false if menus are not needed"
                    );
                    tracing::warn!(account = %account_id, "{line}");
                    line
                }
                ErrorKind::NotFound => {
                    let line = format!(
                        "[{account_id}] ClickClack command menu sync skipped: server does not support /api/bots/self/commands"
                    );
                    tracing::debug!(account = %account_id, "{line}");
                    line
                }
                _ => {
                    let line = format!("[{account_id}] ClickClack command menu sync failed: {e}");
                    tracing::warn!(account = %account_id, "{line}");
                    line
                }
            };
            MenuSync::Skipped(line)
        }
    }
}

/// Lets accounts that start together connect only after every one of them
/// has published its command menu.
///
/// Publishing a menu is an event that every socket connected to the
/// bot's workspace receives. Accounts that connect while others still
/// publish would read one such event per other account (1,000 accounts in
/// one workspace: about half a million frames at startup); connecting after
/// the menus makes that none. Every account holds the gate from the moment
/// it is spawned ([`MenuGate::hold`]) until its menu sync ended or its start
/// failed or began retrying, so one slow or failing account delays the
/// others' first connection by at most its own first attempt.
#[derive(Debug, Clone)]
pub(crate) struct MenuGate(Arc<tokio::sync::watch::Sender<usize>>);

impl Default for MenuGate {
    fn default() -> Self {
        MenuGate(Arc::new(tokio::sync::watch::Sender::new(0)))
    }
}

impl MenuGate {
    /// One more account is publishing; released by [`MenuHold::release`] or on drop.
    pub(crate) fn hold(&self) -> MenuHold {
        self.0.send_modify(|n| *n += 1);
        MenuHold {
            gate: self.clone(),
            released: AtomicBool::new(false),
        }
    }

    /// Resolves once no account holds the gate.
    pub(crate) async fn all_published(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives in `self`, so this cannot fail.
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

/// One account's hold on the [`MenuGate`].
#[derive(Debug)]
pub(crate) struct MenuHold {
    gate: MenuGate,
    released: AtomicBool,
}

impl MenuHold {
    /// Releases the hold (once; later calls do nothing).
    pub(crate) fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            self.gate.0.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    /// The gate this hold is on.
    pub(crate) fn gate(&self) -> &MenuGate {
        &self.gate
    }
}

impl Drop for MenuHold {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cmd(name: &str) -> MenuCommand {
        MenuCommand {
            name: name.to_owned(),
            description: String::new(),
            args_hint: String::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_menu_gate_opens_once_every_hold_is_released_or_dropped() {
        let gate = MenuGate::default();
        let (a, b) = (gate.hold(), gate.hold());
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.all_published().await }
        });
        a.release();
        a.release(); // a second release must not release `b`'s hold
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one account still publishes");
        drop(b);
        waiter.await.expect("the gate opens");
        // Nothing held: open at once.
        gate.all_published().await;
    }

    #[test]
    fn normalises_dedupes_and_reports_invalid_names() {
        let (menu, invalid) =
            build_menu(&[cmd(" Help "), cmd("help"), cmd("bad name"), cmd("status")]);
        let names: Vec<_> = menu.iter().map(|c| c.command.as_str()).collect();
        assert_eq!(names, ["help", "status"]);
        assert_eq!(menu[0].description, "help");
        assert_eq!(invalid, ["bad name"]);
        assert_eq!(
            invalid_names_log_line(&invalid),
            "ClickClack command menu skipped invalid native command names: \"bad name\""
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn menu_is_bounded_and_valid(names in proptest::collection::vec("\\PC{0,40}", 0..150)) {
            let commands: Vec<_> = names.iter().map(|n| cmd(n)).collect();
            let (menu, _) = build_menu(&commands);
            prop_assert!(menu.len() <= MAX_COMMANDS);
            for c in &menu {
                prop_assert!(valid_name(&c.command));
            }
        }
    }
}
