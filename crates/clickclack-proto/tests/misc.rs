//! Scopes, 403 classification, slugify, timestamps, ids and close codes.

use clickclack_proto::close;
use clickclack_proto::error::{ForbiddenReason, WRONG_WORKSPACE};
use clickclack_proto::headers;
use clickclack_proto::scope::{self, BOT_ADMIN, BOT_READ, BOT_WRITE};
use clickclack_proto::*;

fn strs(scopes: &[Scope]) -> Vec<&str> {
    scopes.iter().map(Scope::as_str).collect()
}

#[test]
fn scope_expansion_table() {
    let read = [
        "channels:read",
        "dms:read",
        "messages:read",
        "profile:read",
        "realtime:read",
        "threads:read",
        "workspaces:read",
    ];
    let write = [
        "channels:read",
        "commands:write",
        "dms:read",
        "dms:write",
        "messages:read",
        "messages:write",
        "profile:read",
        "realtime:read",
        "threads:read",
        "threads:write",
        "uploads:write",
        "workspaces:read",
    ];
    let admin = [
        "channels:read",
        "channels:write",
        "commands:write",
        "dms:read",
        "dms:write",
        "messages:read",
        "messages:write",
        "profile:read",
        "realtime:read",
        "threads:read",
        "threads:write",
        "uploads:write",
        "workspaces:read",
    ];
    let cases: &[(&[&str], &[&str])] = &[
        (&["bot:read"], &read),
        (&["bot:write"], &write),
        (&["bot:admin"], &admin),
        (&[], &write),
        (&[""], &write),
        (&[" , ,"], &write),
        (
            &["bot:read,messages:write"],
            &[
                "channels:read",
                "dms:read",
                "messages:read",
                "messages:write",
                "profile:read",
                "realtime:read",
                "threads:read",
                "workspaces:read",
            ],
        ),
        (
            &[" messages:write , messages:write", "messages:read"],
            &["messages:read", "messages:write"],
        ),
        (
            &["agent_activity:write", "bot:read"],
            &[
                "agent_activity:write",
                "channels:read",
                "dms:read",
                "messages:read",
                "profile:read",
                "realtime:read",
                "threads:read",
                "workspaces:read",
            ],
        ),
        (&["bot:write", "bot:admin"], &admin),
    ];
    for (input, expected) in cases {
        let got = expand_scopes(input.iter()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(strs(&got), *expected, "input {input:?}");
    }
    assert_eq!(strs(BOT_READ).len(), 7);
    let mut sorted = BOT_ADMIN.to_vec();
    sorted.sort();
    assert_eq!(strs(&sorted), admin);
    assert!(BOT_WRITE.iter().all(|s| BOT_ADMIN.contains(s)));
    assert!(!BOT_ADMIN.contains(&Scope::AgentActivityWrite));
}

#[test]
fn unknown_scopes_are_rejected_with_the_server_message() {
    for (input, bad) in [
        ("messages:delete", "messages:delete"),
        ("bot:read, nope ", "nope"),
        ("workspaces:write", "workspaces:write"),
        ("Messages:Read", "Messages:Read"),
        ("bot:superadmin", "bot:superadmin"),
    ] {
        let err = expand_scopes([input]).unwrap_err();
        assert_eq!(err, UnknownScope(bad.to_owned()));
        assert_eq!(err.to_string(), format!("unknown bot scope: {bad}"));
    }
    assert!(scope::scopes_grant(["bot:write"], &Scope::MessagesWrite));
    assert!(!scope::scopes_grant(["bot:write"], &Scope::ChannelsWrite));
    assert!(!scope::scopes_grant(["bogus"], &Scope::MessagesRead));
}

#[test]
fn scopes_round_trip_and_keep_unknown_strings() {
    for s in Scope::KNOWN {
        assert_eq!(Scope::from_wire(s.as_str()), *s);
        let json = serde_json::to_string(s).unwrap();
        assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), *s);
    }
    let future: Scope = serde_json::from_str(r#""calendar:read""#).unwrap();
    assert_eq!(future, Scope::Other("calendar:read".into()));
    assert_eq!(future.to_string(), "calendar:read");
    assert!(!future.is_known());
}

#[test]
fn forbidden_classifier() {
    assert_eq!(
        ForbiddenReason::classify("bot token is missing scope realtime:read"),
        ForbiddenReason::MissingScope(Scope::RealtimeRead)
    );
    assert_eq!(
        ForbiddenReason::classify("bot token is missing scope future:scope"),
        ForbiddenReason::MissingScope(Scope::Other("future:scope".into()))
    );
    assert_eq!(
        ForbiddenReason::classify(WRONG_WORKSPACE),
        ForbiddenReason::WrongWorkspace
    );
    assert_eq!(
        ForbiddenReason::classify(" bot token cannot access this workspace\n"),
        ForbiddenReason::WrongWorkspace
    );
    for other in [
        "bot tokens cannot manage bots",
        "sql: no rows in result set",
        "bot token is missing scope ",
        "",
        "workspace manager permission required",
    ] {
        assert_eq!(
            ForbiddenReason::classify(other),
            ForbiddenReason::Other,
            "{other:?}"
        );
    }
    assert_eq!(
        ForbiddenReason::MissingScope(Scope::DmsWrite)
            .message()
            .as_deref(),
        Some("bot token is missing scope dms:write")
    );
    let body: ErrorBody = serde_json::from_str(r#"{"error":"route not found","extra":1}"#).unwrap();
    assert_eq!(body, ErrorBody::new("route not found"));
}

#[test]
fn slugify_vectors() {
    for (input, expected) in [
        ("Hello World!!", "hello-world"),
        ("general", "general"),
        ("  Ops -- Team  ", "ops-team"),
        ("__init__", "init"),
        ("Release 2.0 Plans", "release-2-0-plans"),
        ("ÜBER cool", "ber-cool"),
        ("日本語", ""),
        ("a---b", "a-b"),
        ("", ""),
        ("-", ""),
        ("MiXeD123case", "mixed123case"),
        ("tab\tand\nnewline", "tab-and-newline"),
    ] {
        assert_eq!(slugify(input), expected, "input {input:?}");
    }
}

#[test]
fn timestamps_parse() {
    let t = Timestamp::new("2026-05-08T12:00:00.123456789Z")
        .parse()
        .unwrap();
    assert_eq!(t.seconds, 1_778_241_600);
    assert_eq!(t.nanos, 123_456_789);
    assert_eq!(
        Timestamp::new("1970-01-01T00:00:00Z").parse().unwrap(),
        UnixTime::default()
    );
    let off = Timestamp::new("2026-05-08T14:00:00+02:00").parse().unwrap();
    assert_eq!(off.seconds, 1_778_241_600);
    let neg = Timestamp::new("1969-12-31T23:59:59.5Z").parse().unwrap();
    assert_eq!((neg.seconds, neg.nanos), (-1, 500_000_000));
    let zero = Timestamp::new("0001-01-01T00:00:00Z").parse().unwrap();
    assert_eq!(zero.seconds, -62_135_596_800);
    assert_eq!(
        Timestamp::new("2024-02-29T00:00:00Z")
            .parse()
            .unwrap()
            .seconds,
        1_709_164_800
    );
    for bad in [
        "",
        "2026-05-08",
        "2026-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-05-08T24:00:00Z",
        "2026-05-08T12:00:00",
        "2026-05-08T12:00:00.Z",
        "2026-05-08T12:00:00Zjunk",
        "2026-05-08T12:00:00+2:00",
    ] {
        assert!(Timestamp::new(bad).parse().is_err(), "{bad:?} should fail");
    }
    let err = Timestamp::new("nope").parse().unwrap_err();
    assert!(err.to_string().contains("nope"));
    for s in [
        "2026-05-08T12:00:00.123456789Z",
        "2026-05-08T12:00:00Z",
        "2026-05-08T12:00:00.5Z",
        "0001-01-01T00:00:00Z",
    ] {
        let ts = Timestamp::new(s);
        assert_eq!(Timestamp::from_unix(ts.parse().unwrap()), ts);
    }
}

#[test]
fn ids_behave_like_strings() {
    let id = ChannelId::new("chn_01abc");
    assert_eq!(id.as_str(), "chn_01abc");
    assert_eq!(id.to_string(), "chn_01abc");
    assert_eq!(format!("{id:?}"), "ChannelId(\"chn_01abc\")");
    assert!(id.looks_like_server_id());
    assert!(!ChannelId::from("general").looks_like_server_id());
    assert!(!ChannelId::from("chn_").looks_like_server_id());
    assert!(UserId::from("usr_1").looks_like_server_id());
    assert!(MessageId::from("msg_1").looks_like_server_id());
    assert!(WorkspaceId::from("wsp_1").looks_like_server_id());
    assert!(ConversationId::from("dm_1").looks_like_server_id());
    assert_eq!(serde_json::to_string(&id).unwrap(), "\"chn_01abc\"");
    assert_eq!(id.clone().into_string(), "chn_01abc");
    let (a, b, empty) = (
        Cursor::from("cur_01a"),
        Cursor::from("cur_01b"),
        Cursor::default(),
    );
    assert!(a < b);
    assert!(empty < a);
    assert_eq!(a.cmp(&b), a.as_str().cmp(b.as_str()));
}

#[test]
fn close_codes_and_headers() {
    assert_eq!(close::RESYNC_REQUIRED, 4001);
    assert_eq!(close::TRY_AGAIN_LATER, 1013);
    assert_eq!(close::POLICY_VIOLATION, 1008);
    assert_eq!(
        close::REASON_RESYNC_REQUIRED,
        "realtime replay limit exceeded; resync required"
    );
    assert_eq!(close::action_for(4001), close::CloseAction::Resync);
    assert_eq!(close::action_for(1013), close::CloseAction::Reconnect);
    assert_eq!(close::action_for(1008), close::CloseAction::Stop);
    assert_eq!(close::action_for(1006), close::CloseAction::Reconnect);
    assert_eq!(headers::BEARER_SUBPROTOCOL_PREFIX, "clickclack.bearer.");
    assert!(headers::is_valid_correlation_id("req-1.a:b_c"));
    assert!(!headers::is_valid_correlation_id("has space"));
    assert!(!headers::is_valid_correlation_id(""));
    assert!(!headers::is_valid_correlation_id(&"a".repeat(129)));
}

#[test]
fn nonces_are_normalized_like_the_server() {
    assert_eq!(headers::normalize_nonce("  n-1 "), Ok(Some("n-1")));
    assert_eq!(headers::normalize_nonce("   "), Ok(None));
    assert_eq!(headers::normalize_nonce(""), Ok(None));
    let max = "é".repeat(headers::MAX_NONCE_LEN);
    assert_eq!(headers::normalize_nonce(&max), Ok(Some(max.as_str())));
    let err = headers::normalize_nonce(&format!(" {max}x ")).unwrap_err();
    assert_eq!(err.chars, 129);
    assert_eq!(
        err.to_string(),
        "a nonce may be at most 128 characters (this one has 129)"
    );
}
