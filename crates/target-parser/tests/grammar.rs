//! Behaviour of the target grammar, pinned to the TypeScript plugin's
//! `target.test.ts` (reference §1 rows 10–11, §3 items 16–17).

use clickclack_target_parser::{
    ChatType, ParseTargetError, Target, TargetKind, looks_like_channel_id, looks_like_message_id,
    looks_like_user_id, parse,
};

fn ok(raw: &str) -> Target {
    match parse(raw) {
        Ok(target) => target,
        Err(err) => panic!("{raw:?} should parse, got {err}"),
    }
}

fn err(raw: &str) -> String {
    match parse(raw) {
        Ok(target) => panic!("{raw:?} should fail, got {target:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn parses_channel_targets() {
    assert_eq!(ok("channel:general"), Target::Channel("general".into()));
    assert_eq!(
        ok("ClickClack:Channel:General"),
        Target::Channel("General".into())
    );
    assert_eq!(ok("general").to_string(), "channel:general");
    assert_eq!(ok("CC:Channel:General").to_string(), "channel:General");
    assert_eq!(ok("chn_01abc"), Target::Channel("chn_01abc".into()));
}

#[test]
fn parses_thread_and_dm_targets() {
    assert_eq!(ok("thread:msg_1").to_string(), "thread:msg_1");
    assert_eq!(ok("clickclack:Thread:msg_1").to_string(), "thread:msg_1");
    assert_eq!(ok("dm:usr_1"), Target::Dm("usr_1".into()));
    assert_eq!(ok("CC:DM:usr_1"), Target::Dm("usr_1".into()));
    assert_eq!(ok("dm:usr_1").chat_type(), ChatType::Direct);
    assert_eq!(ok("thread:msg_1").chat_type(), ChatType::Group);
    assert_eq!(ok("general").chat_type(), ChatType::Group);
}

#[test]
fn trims_whitespace_everywhere() {
    assert_eq!(
        ok("  channel:  general  "),
        Target::Channel("general".into())
    );
    assert_eq!(ok("\t cc: dm: usr_1\n"), Target::Dm("usr_1".into()));
    assert_eq!(ok(" Channel : general"), Target::Channel("general".into()));
    assert_eq!(
        ok("\u{feff}general\u{feff}"),
        Target::Channel("general".into())
    );
}

#[test]
fn ids_keep_their_case_and_inner_colons() {
    assert_eq!(ok("THREAD:MSG_Ab"), Target::Thread("MSG_Ab".into()));
    assert_eq!(ok("channel:a:b"), Target::Channel("a:b".into()));
    assert_eq!(ok("channel:a:b").to_string(), "channel:a:b");
    assert_eq!(ok("general chat"), Target::Channel("general chat".into()));
}

#[test]
fn empty_targets_are_required() {
    for raw in ["", "   ", "\n\t", "clickclack:", "CC:  ", " cc:"] {
        assert_eq!(err(raw), "ClickClack target is required", "{raw:?}");
        assert_eq!(parse(raw), Err(ParseTargetError::Empty));
    }
}

#[test]
fn unknown_kinds_are_unsupported_with_the_raw_input() {
    assert_eq!(err("foo:bar"), "Unsupported ClickClack target: foo:bar");
    assert_eq!(err(":general"), "Unsupported ClickClack target: :general");
    assert_eq!(err("foo:"), "Unsupported ClickClack target: foo:");
    // Only one provider prefix is stripped, like the TypeScript plugin.
    assert_eq!(
        err("clickclack:cc:channel:x"),
        "Unsupported ClickClack target: clickclack:cc:channel:x"
    );
    assert_eq!(
        err("slack:channel:x"),
        "Unsupported ClickClack target: slack:channel:x"
    );
}

#[test]
fn a_kind_without_an_id_names_the_missing_id() {
    assert_eq!(
        err("channel:"),
        r#"ClickClack target "channel:" is missing a channel name or id"#
    );
    assert_eq!(
        err("dm:  "),
        r#"ClickClack target "dm:" is missing a user id"#
    );
    assert_eq!(
        err("cc:Thread:"),
        r#"ClickClack target "Thread:" is missing a message id"#
    );
    assert_eq!(
        parse(" DM: "),
        Err(ParseTargetError::missing_id(TargetKind::Dm, "DM:"))
    );
}

#[test]
fn from_str_and_try_from_agree_with_parse() {
    let a: Target = "cc:dm:usr_9".parse().unwrap_or_else(|e| panic!("{e}"));
    let b = Target::try_from("cc:dm:usr_9").unwrap_or_else(|e| panic!("{e}"));
    let c = Target::try_from(String::from("cc:dm:usr_9")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(Target::parse("cc:dm:usr_9"), Ok(a));
}

#[test]
fn server_id_helpers() {
    assert!(looks_like_channel_id("chn_1"));
    assert!(!looks_like_channel_id("chn_"));
    assert!(!looks_like_channel_id("general"));
    assert!(looks_like_user_id("usr_1"));
    assert!(!looks_like_user_id("alice"));
    assert!(looks_like_message_id("msg_1"));
    assert!(!looks_like_message_id("MSG_1"));

    assert!(ok("chn_1").looks_like_server_id());
    assert!(!ok("chn_1").needs_resolution());
    assert!(!ok("general").looks_like_server_id());
    assert!(ok("general").needs_resolution());
    assert!(ok("dm:usr_1").looks_like_server_id());
    assert!(!ok("dm:alice").looks_like_server_id());
    assert!(!ok("dm:alice").needs_resolution());
    assert!(ok("thread:msg_1").looks_like_server_id());
    assert!(!ok("thread:msg_1").needs_resolution());
}

#[test]
fn accessors() {
    let target = Target::new(TargetKind::Thread, "msg_1");
    assert_eq!(target.kind(), TargetKind::Thread);
    assert_eq!(target.id(), "msg_1");
    assert_eq!(target.clone().into_id(), "msg_1");
    assert_eq!(TargetKind::Dm.to_string(), "dm");
    assert_eq!(TargetKind::from_word(" THREAD "), Some(TargetKind::Thread));
    assert_eq!(TargetKind::from_word("user"), None);
}
