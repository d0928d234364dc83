//! User-facing error strings, verbatim from the reference.

use clickclack_target_parser::parse;
use openclaw_clickclack::errors::{ClickClackError, setup};

#[test]
fn display_strings_are_verbatim() {
    let cases: Vec<(ClickClackError, &str)> = vec![
        (
            ClickClackError::NotConfigured {
                account_id: "work".into(),
                missing: vec!["token"],
            },
            "ClickClack is not configured for account \"work\"",
        ),
        (
            ClickClackError::WorkspaceNotFound {
                value: "nope".into(),
            },
            "ClickClack workspace not found: nope",
        ),
        (
            ClickClackError::ChannelNotFound {
                value: "random".into(),
            },
            "ClickClack channel not found: random",
        ),
        (
            ClickClackError::MissingScope {
                scope: "messages:write".into(),
            },
            "ClickClack bot token is missing scope messages:write; the token needs bot:write",
        ),
        (
            ClickClackError::MediaRequiresUrl,
            "ClickClack media send requires mediaUrl",
        ),
        (
            ClickClackError::MediaReplyRequiresDurable,
            "ClickClack media reply requires durable delivery",
        ),
        (
            ClickClackError::NonAdvancingCursor,
            "ClickClack event backlog returned a non-advancing cursor",
        ),
    ];
    for (err, expected) in cases {
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn target_errors_pass_through_verbatim() {
    let required: ClickClackError = parse("  ")
        .err()
        .map(Into::into)
        .unwrap_or(ClickClackError::MediaRequiresUrl);
    assert_eq!(required.to_string(), "ClickClack target is required");
    let unsupported: ClickClackError = parse("foo:bar")
        .err()
        .map(Into::into)
        .unwrap_or(ClickClackError::MediaRequiresUrl);
    assert_eq!(
        unsupported.to_string(),
        "Unsupported ClickClack target: foo:bar"
    );
    assert_eq!(
        unsupported.hint().as_deref(),
        Some("use <channel:name|dm:usr_id|thread:msg_id>")
    );
}

#[test]
fn hints_come_from_the_docs() {
    assert_eq!(
        ClickClackError::WorkspaceNotFound { value: "x".into() }
            .hint()
            .as_deref(),
        Some("set `workspace` to the workspace id, slug, or name returned by ClickClack")
    );
    assert!(
        ClickClackError::MissingScope { scope: "x".into() }
            .hint()
            .is_some_and(|h| h.contains("bot:write"))
    );
}

#[test]
fn setup_messages_are_verbatim() {
    assert_eq!(
        setup::REQUIRES_FLAGS,
        "ClickClack requires --token, --base-url, and --workspace (or --use-env)."
    );
    assert_eq!(
        setup::ENV_TOKEN_DEFAULT_ONLY,
        "CLICKCLACK_BOT_TOKEN can only be used for the default account."
    );
    assert_eq!(
        setup::connected("bot", "Acme"),
        "Connected as @bot — workspace Acme resolved."
    );
    assert_eq!(
        setup::workspace_not_found("acme"),
        "Workspace \"acme\" was not found. Check the id, slug, or name, list available workspaces, and rerun setup."
    );
    assert_eq!(
        setup::code_claim_failed("boom"),
        "Could not claim ClickClack setup code: boom"
    );
}
