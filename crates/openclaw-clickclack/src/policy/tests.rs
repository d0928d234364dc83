//! Decision tests mirroring the reference's inbound / mention-gating /
//! group-policy suites (§3 candidates 21–24, 37–38, 49–52, 57–58).

use super::*;
use crate::accounts::ResolvedAccount;
use crate::config::{AllowBots, BotLoopProtection, GroupConfig};

fn policy(cfg: ResolvedAccount) -> InboundPolicy {
    InboundPolicy::new(&cfg).unwrap()
}

fn cfg() -> ResolvedAccount {
    crate::accounts::resolve_account(
        &crate::config::OpenClawConfig::default(),
        Some("default"),
        &crate::config::MapEnv::new(),
    )
    .unwrap()
}

fn group_msg(body: &str) -> InboundFacts<'_> {
    InboundFacts {
        message_id: "msg_1",
        author_id: "usr_alice",
        body,
        workspace_id: "wsp_1",
        channel_id: Some("chn_1"),
        thread_root_id: Some("msg_1"),
        bot_user_id: "usr_receiver",
        bot_handle: Some("helper"),
        ..Default::default()
    }
}

fn dm_msg(body: &str) -> InboundFacts<'_> {
    InboundFacts {
        channel_id: None,
        direct_conversation_id: Some("dm_1"),
        ..group_msg(body)
    }
}

fn bot(f: InboundFacts<'_>) -> InboundFacts<'_> {
    InboundFacts {
        author_id: "usr_sender",
        author_is_bot: true,
        ..f
    }
}

fn rejection(d: Decision) -> Rejection {
    match d {
        Decision::Drop(r) => r,
        Decision::Dispatch(a) => panic!("expected a drop, got {a:?}"),
    }
}

fn admission(d: Decision) -> Admission {
    match d {
        Decision::Dispatch(a) => a,
        Decision::Drop(r) => panic!("expected dispatch, got {r:?}"),
    }
}

#[test]
fn own_messages_are_dropped_silently() {
    let p = policy(cfg());
    let facts = InboundFacts {
        author_id: "usr_receiver",
        ..group_msg("hi")
    };
    let r = rejection(p.evaluate(&facts));
    assert_eq!(r.reason, DropReason::SelfAuthored);
    assert_eq!(r.level, LogLevel::Silent);
}

#[test]
fn default_policy_dispatches_humans_everywhere() {
    let p = policy(cfg());
    let a = admission(p.evaluate(&group_msg("hello")));
    assert!(a.command_authorized && a.bot_loop.is_none());
    assert!(p.evaluate(&dm_msg("hello")).is_dispatch());
}

#[test]
fn non_message_kinds_are_never_dispatched() {
    let p = policy(cfg());
    for kind in ["agent_commentary", "agent_tool", "other"] {
        let facts = InboundFacts {
            kind: Some(kind),
            ..dm_msg("x")
        };
        let r = rejection(p.evaluate(&facts));
        assert_eq!(r.reason, DropReason::NonChatKind { kind: kind.into() });
        assert_eq!(
            r.log_line,
            "[default] skipped ClickClack message before agent dispatch: kind=dm requireMention=false \
             wasMentioned=false hasAnyMention=unknown commandAuthorized=false"
        );
    }
    let facts = InboundFacts {
        kind: Some("message"),
        ..dm_msg("x")
    };
    assert!(p.evaluate(&facts).is_dispatch());
}

#[test]
fn senders_outside_allow_from_are_dropped_with_the_reference_line() {
    let p = policy(ResolvedAccount {
        allow_from: vec!["usr_owner".into()],
        ..cfg()
    });
    let r = rejection(p.evaluate(&group_msg("hello @helper")));
    assert_eq!(r.reason, DropReason::SenderNotAllowed);
    assert_eq!(r.level, LogLevel::Info);
    assert_eq!(
        r.log_line,
        "[default] skipped ClickClack message before agent dispatch: kind=group requireMention=false \
         wasMentioned=true hasAnyMention=true commandAuthorized=false"
    );
}

#[test]
fn accepts_clickclack_dm_target_syntax_in_allow_from() {
    let p = policy(ResolvedAccount {
        allow_from: vec!["clickclack:dm:usr_alice".into()],
        ..cfg()
    });
    assert!(p.evaluate(&dm_msg("hi")).is_dispatch());
}

#[test]
fn rejects_an_unmentioned_group_message_when_mention_is_required() {
    let p = policy(ResolvedAccount {
        require_mention: true,
        ..cfg()
    });
    let r = rejection(p.evaluate(&group_msg("hello everyone")));
    assert_eq!(r.reason, DropReason::MentionRequired);
    assert_eq!(
        r.log_line,
        "[default] skipped ClickClack message before agent dispatch: kind=group requireMention=true \
         wasMentioned=false hasAnyMention=false commandAuthorized=true"
    );
    let a = admission(p.evaluate(&group_msg("hello @Helper")));
    assert!(a.mention.was_mentioned);
}

#[test]
fn mentioning_another_user_does_not_bypass_gating() {
    let p = policy(ResolvedAccount {
        require_mention: true,
        ..cfg()
    });
    let r = rejection(p.evaluate(&group_msg("/reset @someone")));
    assert_eq!(r.reason, DropReason::MentionRequired);
    assert!(r.log_line.contains("wasMentioned=false hasAnyMention=true"));
}

#[test]
fn mention_patterns_count_as_mentions() {
    let p = policy(ResolvedAccount {
        require_mention: true,
        mention_patterns: vec![r"\bhelper bot\b".into()],
        ..cfg()
    });
    assert!(p.evaluate(&group_msg("hey Helper Bot, hi")).is_dispatch());
}

#[test]
fn direct_messages_are_never_gated() {
    let mut c = ResolvedAccount {
        require_mention: true,
        ..cfg()
    };
    c.groups.insert(
        "*".into(),
        GroupConfig {
            require_mention: Some(true),
            ..Default::default()
        },
    );
    let p = policy(c);
    let a = admission(p.evaluate(&dm_msg("no mention here")));
    assert_eq!(a.mention, MentionFacts::DIRECT);
}

#[test]
fn group_override_disables_gating_for_one_channel() {
    let mut c = ResolvedAccount {
        require_mention: true,
        ..cfg()
    };
    c.groups.insert(
        "chn_1".into(),
        GroupConfig {
            require_mention: Some(false),
            ..Default::default()
        },
    );
    let p = policy(c);
    assert!(p.evaluate(&group_msg("hi")).is_dispatch());
    let other = InboundFacts {
        channel_id: Some("chn_2"),
        ..group_msg("hi")
    };
    assert!(!p.evaluate(&other).is_dispatch());
}

#[test]
fn ignores_bot_authored_messages_by_default() {
    let p = policy(ResolvedAccount {
        allow_from: vec!["usr_sender".into()],
        ..cfg()
    });
    let r = rejection(p.evaluate(&bot(group_msg("hello"))));
    assert_eq!(
        r.reason,
        DropReason::BotsNotAllowed {
            allow_bots: AllowBots::False
        }
    );
    assert!(r.log_line.ends_with("commandAuthorized=false"));
}

#[test]
fn bot_opt_in_does_not_bypass_the_wildcard_human_default() {
    let p = policy(ResolvedAccount {
        allow_bots: AllowBots::True,
        ..cfg()
    });
    let r = rejection(p.evaluate(&bot(group_msg("hello"))));
    assert_eq!(r.reason, DropReason::SenderNotAllowed);
}

#[test]
fn dispatches_an_allowed_bot_message_with_loop_guard_facts() {
    let mut c = ResolvedAccount {
        allow_from: vec!["usr_sender".into()],
        allow_bots: AllowBots::True,
        ..cfg()
    };
    c.bot_loop_defaults = Some(BotLoopProtection {
        max_events_per_window: Some(7),
        ..Default::default()
    });
    let p = policy(c);
    let a = admission(p.evaluate(&bot(group_msg("hello"))));
    let subject = a.bot_loop.unwrap();
    assert_eq!(
        subject,
        BotLoopSubject {
            scope_id: "wsp_1".into(),
            conversation_id: "chn_1".into(),
            sender_id: "usr_sender".into(),
            receiver_id: "usr_receiver".into(),
            event_id: "msg_1".into(),
            settings: BotLoopSettings {
                enabled: true,
                max_events_per_window: 7,
                window_seconds: 60,
                cooldown_seconds: 60,
            },
        }
    );
}

#[test]
fn thread_replies_use_the_thread_root_as_loop_conversation() {
    let p = policy(ResolvedAccount {
        allow_from: vec!["usr_sender".into()],
        allow_bots: AllowBots::True,
        ..cfg()
    });
    let facts = InboundFacts {
        message_id: "msg_2",
        thread_root_id: Some("msg_root"),
        parent_message_id: Some("msg_root"),
        ..bot(group_msg("hi"))
    };
    let a = admission(p.evaluate(&facts));
    assert_eq!(a.bot_loop.unwrap().conversation_id, "msg_root");
    let a = admission(p.evaluate(&bot(dm_msg("hi"))));
    assert_eq!(a.bot_loop.unwrap().conversation_id, "dm_1");
}

#[test]
fn mention_mode_requires_a_mention_in_groups_but_not_in_dms() {
    let p = policy(ResolvedAccount {
        allow_from: vec!["usr_sender".into()],
        allow_bots: AllowBots::Mentions,
        ..cfg()
    });
    let r = rejection(p.evaluate(&bot(group_msg("hello"))));
    assert_eq!(
        r.reason,
        DropReason::BotsNotAllowed {
            allow_bots: AllowBots::Mentions
        }
    );
    assert!(p.evaluate(&bot(group_msg("hello @helper"))).is_dispatch());
    assert!(p.evaluate(&bot(dm_msg("hello"))).is_dispatch());
}

#[test]
fn group_allow_bots_resolution_exact_then_wildcard_then_account() {
    let mut c = ResolvedAccount {
        allow_from: vec!["usr_sender".into()],
        allow_bots: AllowBots::True,
        ..cfg()
    };
    c.groups.insert(
        "*".into(),
        GroupConfig {
            allow_bots: Some(AllowBots::False),
            ..Default::default()
        },
    );
    c.groups.insert(
        "chn_1".into(),
        GroupConfig {
            allow_bots: Some(AllowBots::Mentions),
            ..Default::default()
        },
    );
    let p = policy(c);
    assert!(!p.evaluate(&bot(group_msg("hi"))).is_dispatch());
    assert!(p.evaluate(&bot(group_msg("hi @helper"))).is_dispatch());
    let other = InboundFacts {
        channel_id: Some("chn_2"),
        ..bot(group_msg("hi @helper"))
    };
    assert!(!p.evaluate(&other).is_dispatch());
    // DMs have no channel: the account value applies.
    assert!(p.evaluate(&bot(dm_msg("hi"))).is_dispatch());
}

#[test]
fn loop_guard_suppresses_the_second_bot_message_with_budget_one() {
    let mut c = ResolvedAccount {
        allow_from: vec!["*".into(), "usr_sender".into()],
        allow_bots: AllowBots::True,
        ..cfg()
    };
    c.bot_loop_protection = Some(BotLoopProtection {
        max_events_per_window: Some(1),
        ..Default::default()
    });
    let p = policy(c);
    let guard = BotLoopGuard::new();
    assert!(
        p.decide(&bot(group_msg("one")), &guard, 1_000)
            .is_dispatch()
    );
    let second = InboundFacts {
        message_id: "msg_2",
        ..bot(group_msg("two"))
    };
    let r = rejection(p.decide(&second, &guard, 2_000));
    assert_eq!(r.reason, DropReason::BotLoop { until_ms: 62_000 });
    assert_eq!(r.level, LogLevel::Warn);
    assert_eq!(
        r.log_line,
        "[default] suppressed ClickClack bot message by loop protection: conversation=chn_1 \
         sender=usr_sender messageId=msg_2 cooldownSeconds=60"
    );
    // Humans are never counted.
    assert!(p.decide(&group_msg("human"), &guard, 2_500).is_dispatch());
}

#[test]
fn reciprocal_accounts_share_the_loop_budget() {
    let make = |id: &str| {
        let mut c = ResolvedAccount {
            account_id: id.into(),
            allow_from: vec!["usr_a".into(), "usr_b".into()],
            allow_bots: AllowBots::True,
            ..cfg()
        };
        c.bot_loop_protection = Some(BotLoopProtection {
            max_events_per_window: Some(2),
            ..Default::default()
        });
        policy(c)
    };
    let (a, b) = (make("a"), make("b"));
    let guard = BotLoopGuard::new();
    let to_a = |id: &'static str| InboundFacts {
        message_id: id,
        author_id: "usr_b",
        author_is_bot: true,
        bot_user_id: "usr_a",
        ..group_msg("ping")
    };
    let to_b = |id: &'static str| InboundFacts {
        message_id: id,
        author_id: "usr_a",
        author_is_bot: true,
        bot_user_id: "usr_b",
        ..group_msg("pong")
    };
    assert!(a.decide(&to_a("m1"), &guard, 0).is_dispatch());
    assert!(b.decide(&to_b("m2"), &guard, 10).is_dispatch());
    assert!(!a.decide(&to_a("m3"), &guard, 20).is_dispatch());
    assert!(!b.decide(&to_b("m4"), &guard, 30).is_dispatch());
}
