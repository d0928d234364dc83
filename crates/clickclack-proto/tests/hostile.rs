//! A hostile (but legal) Go server: every object, event, page, request and
//! response is generated, encoded, and then reshaped the ways Go's encoder may
//! send the same value (protocol.md §14):
//!
//! - an empty list becomes `null` or disappears (nil slice, `omitempty`);
//! - a `null`, `""`, `0` or `false` key disappears (`omitempty`);
//! - a `null` cursor becomes `""`;
//! - unknown keys appear in every object (newer servers).
//!
//! Decoding the reshaped JSON must succeed and give back exactly the original
//! value. A second property checks `decode(encode(x)) == x` for every type.
//!
//! The generators produce values a Go server can express: optional strings
//! are absent or non-empty, optional numbers absent or non-zero, optional
//! booleans absent or `true` (Go cannot tell `omitempty` zero from absent).
//! Free-form JSON (`notification_settings`, search `highlights`, ephemeral and
//! unknown payloads, `total_by_role`) is kept as is, since any key there is data.
//!
//! Case count: `PROPTEST_CASES` (default 32 per property); `cargo xtask fuzz` raises it.

use std::fmt::Debug;

use clickclack_proto::event::*;
use clickclack_proto::pages::*;
use clickclack_proto::requests::*;
use clickclack_proto::responses::*;
use clickclack_proto::*;
use proptest::prelude::*;
use proptest::sample::select;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Builds a `#[non_exhaustive]` proto struct from `Default` plus the given
/// fields, the way code outside the crate has to (`Type { a, b: x }` syntax).
macro_rules! build {
    ($ty:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        let mut built = <$ty>::default();
        $( build!(@set built $field $($value)?); )*
        built
    }};
    (@set $built:ident $field:ident) => { $built.$field = $field; };
    (@set $built:ident $field:ident $value:expr) => { $built.$field = $value; };
}
use serde_json::{Value, json};

// ---------------------------------------------------------------- generators

fn id<T: From<String> + Debug>(prefix: &'static str) -> impl Strategy<Value = T> + Clone {
    "[0-9a-z]{1,12}".prop_map(move |s| T::from(format!("{prefix}{s}")))
}

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z0-9 _.-]{1,12}",
        "\\PC{1,6}",
        Just("quote \" and \\ and \n".to_owned())
    ]
    .boxed()
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    proptest::option::of(s)
}

fn ts() -> BoxedStrategy<Timestamp> {
    "20[0-9]{2}-0[1-9]-[12][0-9]T[01][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z"
        .prop_map(Timestamp::new)
        .boxed()
}

fn nonzero() -> BoxedStrategy<i64> {
    prop_oneof![1i64..1_000, 1i64..i64::MAX, i64::MIN..-1].boxed()
}

fn num() -> BoxedStrategy<i64> {
    prop_oneof![Just(0i64), 0i64..10_000, any::<i64>()].boxed()
}

fn yes() -> BoxedStrategy<Option<bool>> {
    prop_oneof![Just(None), Just(Some(true))].boxed()
}

fn list<S: Strategy>(s: S) -> impl Strategy<Value = Vec<S::Value>> {
    prop::collection::vec(s, 0..3)
}

fn free_json() -> BoxedStrategy<Value> {
    prop::collection::btree_map(
        "[a-z]{1,6}",
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,6}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ],
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
    .boxed()
}

fn user_kind() -> BoxedStrategy<UserKind> {
    prop_oneof![
        Just(UserKind::Human),
        Just(UserKind::Bot),
        "[a-z]{1,6}".prop_map(|s| UserKind::from_wire(&s))
    ]
    .boxed()
}

fn role() -> BoxedStrategy<WorkspaceRole> {
    prop_oneof![
        Just(WorkspaceRole::Owner),
        Just(WorkspaceRole::Moderator),
        Just(WorkspaceRole::Member),
        Just(WorkspaceRole::Guest),
        Just(WorkspaceRole::Bot),
        "[a-z]{1,6}".prop_map(|s| WorkspaceRole::from_wire(&s)),
    ]
    .boxed()
}

fn channel_kind() -> BoxedStrategy<ChannelKind> {
    prop_oneof![
        Just(ChannelKind::Public),
        Just(ChannelKind::Private),
        "[a-z]{1,6}".prop_map(|s| ChannelKind::from_wire(&s))
    ]
    .boxed()
}

fn message_kind() -> BoxedStrategy<MessageKind> {
    prop_oneof![
        Just(MessageKind::Message),
        Just(MessageKind::AgentCommentary),
        Just(MessageKind::AgentTool),
        "[a-z_]{1,8}".prop_map(|s| MessageKind::from_wire(&s)),
    ]
    .boxed()
}

fn scope() -> BoxedStrategy<Scope> {
    prop_oneof![
        Just(Scope::MessagesWrite),
        Just(Scope::MessagesRead),
        "[a-z:_]{1,12}".prop_map(|s| Scope::from_wire(&s)),
    ]
    .boxed()
}

fn user() -> BoxedStrategy<User> {
    (
        (
            id("usr_"),
            user_kind(),
            opt(id("usr_")),
            text(),
            text(),
            opt(text()),
        ),
        (
            text(),
            ts(),
            opt(ts()),
            opt(free_json()),
            opt(free_json()),
            opt(any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (id, kind, owner_user_id, display_name, handle, former_handle),
                (
                    avatar_url,
                    created_at,
                    deleted_at,
                    notification_settings,
                    appearance_preferences,
                    password_enrolled,
                ),
            )| {
                build!(User {
                    id,
                    kind,
                    owner_user_id,
                    display_name,
                    handle,
                    former_handle,
                    avatar_url,
                    created_at,
                    deleted_at,
                    notification_settings,
                    appearance_preferences,
                    // Go sends `false` for bots; absent and `true` are the shapes kept here.
                    password_enrolled: password_enrolled.filter(|b| *b),
                })
            },
        )
        .boxed()
}

fn workspace() -> BoxedStrategy<Workspace> {
    (
        id("wsp_"),
        id("T"),
        text(),
        text(),
        text(),
        ts(),
        opt(role()),
    )
        .prop_map(|(id, route_id, name, slug, icon_url, created_at, role)| {
            build!(Workspace {
                id,
                route_id,
                name,
                slug,
                icon_url,
                created_at,
                role,
            })
        })
        .boxed()
}

fn member() -> BoxedStrategy<WorkspaceMember> {
    (id("wsp_"), user(), role(), ts())
        .prop_map(|(workspace_id, user, role, joined_at)| {
            build!(WorkspaceMember {
                workspace_id,
                user,
                role,
                joined_at,
            })
        })
        .boxed()
}

fn channel() -> BoxedStrategy<Channel> {
    (
        (
            id("chn_"),
            id("C"),
            id("wsp_"),
            text(),
            opt(text()),
            channel_kind(),
            ts(),
        ),
        (
            opt(ts()),
            yes(),
            any::<bool>(),
            opt(text()),
            opt(text()),
            opt(text()),
        ),
        (num(), num(), num()),
    )
        .prop_map(
            |(
                (id, route_id, workspace_id, name, display_title, kind, created_at),
                (
                    archived_at,
                    archived,
                    external_managed,
                    external_ref,
                    external_url,
                    sidebar_section,
                ),
                (last_seq, last_read_seq, unread_count),
            )| {
                build!(Channel {
                    id,
                    route_id,
                    workspace_id,
                    name,
                    display_title,
                    kind,
                    created_at,
                    archived_at,
                    archived,
                    external_managed,
                    external_ref,
                    external_url,
                    sidebar_section,
                    last_seq,
                    last_read_seq,
                    unread_count,
                })
            },
        )
        .boxed()
}

fn thread_state() -> BoxedStrategy<ThreadState> {
    (id("msg_"), num(), opt(ts()), list(id("usr_")))
        .prop_map(
            |(root_message_id, reply_count, last_reply_at, last_reply_author_ids)| {
                build!(ThreadState {
                    root_message_id,
                    reply_count,
                    last_reply_at,
                    last_reply_author_ids,
                })
            },
        )
        .boxed()
}

fn reaction_summary() -> BoxedStrategy<ReactionSummary> {
    (text(), num(), any::<bool>())
        .prop_map(|(emoji, count, reacted_by_me)| {
            build!(ReactionSummary {
                emoji,
                count,
                reacted_by_me,
            })
        })
        .boxed()
}

fn upload() -> BoxedStrategy<Upload> {
    (
        (
            id("upl_"),
            id("wsp_"),
            id("usr_"),
            opt(text()),
            text(),
            text(),
        ),
        (num(), num(), num(), num(), ts()),
    )
        .prop_map(
            |(
                (id, workspace_id, owner_id, nonce, filename, content_type),
                (byte_size, width, height, duration_ms, created_at),
            )| {
                build!(Upload {
                    id,
                    workspace_id,
                    owner_id,
                    nonce,
                    filename,
                    content_type,
                    byte_size,
                    width,
                    height,
                    duration_ms,
                    created_at,
                })
            },
        )
        .boxed()
}

fn message() -> BoxedStrategy<Message> {
    (
        (
            id("msg_"),
            opt(id("M")),
            id("wsp_"),
            opt(id("chn_")),
            opt(id("dm_")),
            id("usr_"),
            opt(id("msg_")),
        ),
        (
            id("msg_"),
            opt(id("top_")),
            opt(nonzero()),
            opt(nonzero()),
            text(),
            ts(),
            opt(ts()),
            opt(ts()),
        ),
        (
            opt(message_kind()),
            opt(text()),
            opt(user()),
            list(upload()),
            opt(id("msg_")),
            opt(text()),
        ),
        (
            opt(id("usr_")),
            opt(user()),
            opt(thread_state()),
            opt(text()),
            list(reaction_summary()),
        ),
    )
        .prop_map(
            |(
                (
                    id,
                    route_id,
                    workspace_id,
                    channel_id,
                    direct_conversation_id,
                    author_id,
                    parent_message_id,
                ),
                (
                    thread_root_id,
                    topic_id,
                    channel_seq,
                    thread_seq,
                    body,
                    created_at,
                    edited_at,
                    deleted_at,
                ),
                (kind, turn_id, author, attachments, quoted_message_id, quoted_body_snapshot),
                (quoted_author_id, quoted_author, thread_state, nonce, reactions),
            )| {
                build!(Message {
                    id,
                    route_id,
                    workspace_id,
                    channel_id,
                    direct_conversation_id,
                    author_id,
                    parent_message_id,
                    thread_root_id,
                    topic_id,
                    channel_seq,
                    thread_seq,
                    body,
                    body_format: BodyFormat::Markdown,
                    created_at,
                    edited_at,
                    deleted_at,
                    kind,
                    turn_id,
                    author,
                    attachments,
                    quoted_message_id,
                    quoted_body_snapshot,
                    quoted_author_id,
                    quoted_author,
                    thread_state,
                    nonce,
                    reactions,
                })
            },
        )
        .boxed()
}

fn direct_conversation() -> BoxedStrategy<DirectConversation> {
    (
        id("dm_"),
        id("D"),
        id("wsp_"),
        ts(),
        list(user()),
        (num(), num(), num(), any::<bool>()),
    )
        .prop_map(
            |(
                id,
                route_id,
                workspace_id,
                created_at,
                members,
                (last_seq, last_read_seq, unread_count, can_send),
            )| {
                build!(DirectConversation {
                    id,
                    route_id,
                    workspace_id,
                    created_at,
                    members,
                    last_seq,
                    last_read_seq,
                    unread_count,
                    can_send,
                })
            },
        )
        .boxed()
}

fn read_receipt() -> BoxedStrategy<ReadReceipt> {
    (id::<String>("chn_"), id("usr_"), num(), ts())
        .prop_map(|(scope_id, user_id, last_read_seq, last_read_at)| {
            build!(ReadReceipt {
                scope_id,
                user_id,
                last_read_seq,
                last_read_at,
            })
        })
        .boxed()
}

fn bot_command() -> BoxedStrategy<BotCommand> {
    (
        text(),
        id("wsp_"),
        id("usr_"),
        "/[a-z]{1,8}",
        text(),
        text(),
        ts(),
        ts(),
    )
        .prop_map(
            |(
                id,
                workspace_id,
                bot_user_id,
                command,
                description,
                args_hint,
                created_at,
                updated_at,
            )| {
                build!(BotCommand {
                    id,
                    workspace_id,
                    bot_user_id,
                    command,
                    description,
                    args_hint,
                    created_at,
                    updated_at,
                })
            },
        )
        .boxed()
}

fn bot_token() -> BoxedStrategy<BotToken> {
    (
        (
            id("btok_"),
            id("usr_"),
            id("wsp_"),
            opt(id("usr_")),
            text(),
            list(scope()),
        ),
        (
            opt(id("usr_")),
            ts(),
            opt(ts()),
            opt(ts()),
            opt(id::<String>("ccb_")),
        ),
    )
        .prop_map(
            |(
                (id, bot_user_id, workspace_id, owner_user_id, name, scopes),
                (created_by, created_at, last_used_at, revoked_at, token),
            )| {
                build!(BotToken {
                    id,
                    bot_user_id,
                    workspace_id,
                    owner_user_id,
                    name,
                    scopes,
                    created_by,
                    created_at,
                    last_used_at,
                    revoked_at,
                    token,
                })
            },
        )
        .boxed()
}

fn search_result() -> BoxedStrategy<SearchResult> {
    (
        (
            id("msg_"),
            id("wsp_"),
            opt(id("chn_")),
            opt(text()),
            opt(id("dm_")),
            opt(user()),
            opt(id("msg_")),
        ),
        (
            id("msg_"),
            opt(nonzero()),
            opt(nonzero()),
            ts(),
            opt(ts()),
            num(),
            opt(ts()),
        ),
        (text(), list(free_json())),
    )
        .prop_map(
            |(
                (
                    id,
                    workspace_id,
                    channel_id,
                    channel_name,
                    direct_conversation_id,
                    author,
                    parent_message_id,
                ),
                (
                    thread_root_id,
                    channel_seq,
                    thread_seq,
                    created_at,
                    edited_at,
                    reply_count,
                    last_reply_at,
                ),
                (snippet, highlights),
            )| {
                build!(SearchResult {
                    id,
                    workspace_id,
                    channel_id,
                    channel_name,
                    direct_conversation_id,
                    author,
                    parent_message_id,
                    thread_root_id,
                    channel_seq,
                    thread_seq,
                    created_at,
                    edited_at,
                    reply_count,
                    last_reply_at,
                    snippet,
                    highlights,
                })
            },
        )
        .boxed()
}

// ------------------------------------------------------------------- events

fn payload() -> BoxedStrategy<EventPayload> {
    let created = (
        (
            id("msg_"),
            opt(id("usr_")),
            opt(id("dm_")),
            opt(id("top_")),
            opt(message_kind()),
        ),
        (opt(text()), opt(text()), opt(text()), list(id("usr_"))),
    )
        .prop_map(
            |(
                (message_id, author_id, direct_conversation_id, topic_id, kind),
                (turn_id, nonce, correlation_id, mentioned_user_ids),
            )| {
                EventPayload::MessageCreated(build!(MessageCreatedPayload {
                    message_id,
                    author_id,
                    direct_conversation_id,
                    topic_id,
                    kind,
                    turn_id,
                    nonce,
                    correlation_id,
                    mentioned_user_ids,
                }))
            },
        );
    let changed = (
        id("msg_"),
        opt(id("msg_")),
        opt(id("usr_")),
        opt(id("dm_")),
        any::<bool>(),
    )
        .prop_map(
            |(message_id, root_message_id, author_id, direct_conversation_id, deleted)| {
                let p = build!(MessageChangedPayload {
                    message_id,
                    root_message_id,
                    author_id,
                    direct_conversation_id,
                });
                if deleted {
                    EventPayload::MessageDeleted(p)
                } else {
                    EventPayload::MessageUpdated(p)
                }
            },
        );
    let reply = (
        (id("msg_"), id("msg_"), opt(id("usr_")), opt(id("dm_"))),
        (opt(text()), opt(text()), list(id("usr_"))),
    )
        .prop_map(
            |(
                (message_id, root_message_id, author_id, direct_conversation_id),
                (nonce, correlation_id, mentioned_user_ids),
            )| {
                EventPayload::ThreadReplyCreated(build!(ThreadReplyCreatedPayload {
                    message_id,
                    root_message_id,
                    author_id,
                    direct_conversation_id,
                    nonce,
                    correlation_id,
                    mentioned_user_ids,
                }))
            },
        );
    let state =
        (id("msg_"), opt(id("dm_"))).prop_map(|(root_message_id, direct_conversation_id)| {
            EventPayload::ThreadStateUpdated(build!(ThreadStateUpdatedPayload {
                root_message_id,
                direct_conversation_id,
            }))
        });
    let reaction = (
        id("msg_"),
        text(),
        opt(id("usr_")),
        opt(nonzero()),
        opt(id("dm_")),
        any::<bool>(),
    )
        .prop_map(
            |(message_id, emoji, user_id, count, direct_conversation_id, added)| {
                let p = build!(ReactionPayload {
                    message_id,
                    emoji,
                    user_id,
                    count,
                    direct_conversation_id,
                });
                if added {
                    EventPayload::ReactionAdded(p)
                } else {
                    EventPayload::ReactionRemoved(p)
                }
            },
        );
    let channel_ev = (id("chn_"), any::<bool>()).prop_map(|(channel_id, created)| {
        let p = build!(ChannelPayload { channel_id });
        if created {
            EventPayload::ChannelCreated(p)
        } else {
            EventPayload::ChannelDeleted(p)
        }
    });
    let updated = (prop_oneof![Just(ChannelId::default()), id("chn_")], yes()).prop_map(
        |(channel_id, archived)| {
            EventPayload::ChannelUpdated(build!(ChannelUpdatedPayload {
                channel_id,
                archived,
            }))
        },
    );
    let read = (id("usr_"), opt(id("chn_")), opt(id("dm_")), any::<bool>()).prop_map(
        |(user_id, channel_id, direct_conversation_id, dm)| {
            let p = build!(ReadPayload {
                user_id,
                channel_id,
                direct_conversation_id,
            });
            if dm {
                EventPayload::DmRead(p)
            } else {
                EventPayload::ChannelRead(p)
            }
        },
    );
    let pin = (opt(id("chn_")), id("msg_"), opt(id("usr_")), any::<bool>()).prop_map(
        |(channel_id, message_id, pinned_by, added)| {
            let p = build!(PinPayload {
                channel_id,
                message_id,
                pinned_by,
            });
            if added {
                EventPayload::PinAdded(p)
            } else {
                EventPayload::PinRemoved(p)
            }
        },
    );
    let workspaceish = prop_oneof![
        (id("usr_"), opt(role())).prop_map(|(user_id, role)| {
            EventPayload::MemberModerationUpdated(build!(ModerationPayload { user_id, role }))
        }),
        id("wsp_").prop_map(|workspace_id| EventPayload::WorkspaceUpdated(build!(
            WorkspacePayload { workspace_id }
        ))),
        (id("wsp_"), id("usr_")).prop_map(|(workspace_id, new_owner_user_id)| {
            EventPayload::WorkspaceOwnershipTransferred(build!(OwnershipTransferredPayload {
                workspace_id,
                new_owner_user_id,
            }))
        }),
        (id("wsp_"), id("usr_")).prop_map(|(workspace_id, bot_user_id)| {
            EventPayload::BotCommandUpdated(build!(BotCommandUpdatedPayload {
                workspace_id,
                bot_user_id,
            }))
        }),
        (id("usr_"), opt(text()), opt(text()), opt(ts())).prop_map(
            |(bot_user_id, display_name, former_handle, deleted_at)| {
                EventPayload::BotDeleted(build!(BotDeletedPayload {
                    bot_user_id,
                    display_name,
                    former_handle,
                    deleted_at,
                }))
            }
        ),
        id("usr_").prop_map(|bot_user_id| EventPayload::BotMembershipRemoved(build!(
            BotMembershipRemovedPayload { bot_user_id }
        ))),
    ];
    let ephemeral = (
        opt(id("usr_")),
        opt(id("chn_")),
        opt(id("dm_")),
        free_json(),
        0..4usize,
    )
        .prop_map(
            |(user_id, channel_id, direct_conversation_id, extra, which)| {
                let Value::Object(mut extra) = extra else {
                    unreachable!()
                };
                for k in ["user_id", "channel_id", "direct_conversation_id"] {
                    extra.remove(k);
                }
                let p = build!(EphemeralPayload {
                    user_id,
                    channel_id,
                    direct_conversation_id,
                    extra,
                });
                match which {
                    0 => EventPayload::TypingStarted(p),
                    1 => EventPayload::TypingStopped(p),
                    2 => EventPayload::PresenceChanged(p),
                    _ => EventPayload::AgentProgress(p),
                }
            },
        );
    let unknown = free_json().prop_map(|v| EventPayload::unknown_from_json(&v.to_string()));
    prop_oneof![
        created,
        changed,
        reply,
        state,
        reaction,
        channel_ev,
        updated,
        read,
        pin,
        workspaceish,
        ephemeral,
        unknown
    ]
    .boxed()
}

fn event() -> BoxedStrategy<Event> {
    (
        (
            id::<EventId>("evt_"),
            prop_oneof![Just(String::new()), id::<String>("cur_")],
            id::<WorkspaceId>("wsp_"),
            opt(id("chn_")),
        ),
        (
            opt(nonzero()),
            ts(),
            list(id("usr_")),
            payload(),
            "[a-z]{1,6}\\.[a-z_]{1,8}",
        ),
    )
        .prop_map(
            |(
                (id, cursor, workspace_id, channel_id),
                (seq, created_at, mentioned, payload, unknown_type),
            )| {
                let ty = payload
                    .event_type()
                    .map_or(format!("future.{unknown_type}"), str::to_owned);
                let mut e = Event::new(workspace_id, created_at, payload)
                    .with_id(id)
                    .with_cursor(cursor)
                    .with_event_type(ty);
                e.channel_id = channel_id;
                e.seq = seq;
                e.mentioned_user_ids = mentioned;
                e
            },
        )
        .boxed()
}

fn topic() -> BoxedStrategy<Topic> {
    (
        id("top_"),
        id("wsp_"),
        opt(id("chn_")),
        text(),
        opt(id("usr_")),
        ts(),
        opt(ts()),
    )
        .prop_map(
            |(id, workspace_id, channel_id, name, created_by, created_at, archived_at)| {
                build!(Topic {
                    id,
                    workspace_id,
                    channel_id,
                    name,
                    created_by,
                    created_at,
                    archived_at,
                })
            },
        )
        .boxed()
}

fn route_type() -> BoxedStrategy<RouteTargetType> {
    prop_oneof![
        Just(RouteTargetType::Channel),
        Just(RouteTargetType::Direct),
        Just(RouteTargetType::Thread),
        "[a-z]{1,6}".prop_map(|s| RouteTargetType::from_wire(&s)),
    ]
    .boxed()
}

fn route_target() -> BoxedStrategy<RouteTarget> {
    (
        (
            id("wsp_"),
            id("T"),
            route_type(),
            id::<String>("chn_"),
            id("C"),
        ),
        (
            opt(route_type()),
            opt(id::<String>("chn_")),
            opt(id("C")),
            "/app/[A-Z0-9]{1,4}/[A-Z0-9]{1,4}",
        ),
    )
        .prop_map(
            |(
                (workspace_id, workspace_route_id, target_type, target_id, target_route_id),
                (parent_type, parent_id, parent_route_id, canonical_path),
            )| {
                build!(RouteTarget {
                    workspace_id,
                    workspace_route_id,
                    target_type,
                    target_id,
                    target_route_id,
                    parent_type,
                    parent_id,
                    parent_route_id,
                    canonical_path,
                })
            },
        )
        .boxed()
}

fn owned_bot() -> BoxedStrategy<OwnedBot> {
    (user(), id("wsp_"), id("T"), text(), num())
        .prop_map(|(bot, id, route_id, name, active_token_count)| {
            build!(OwnedBot {
                bot,
                workspace: build!(OwnedBotWorkspace { id, route_id, name }),
                active_token_count,
            })
        })
        .boxed()
}

fn setup_claim() -> BoxedStrategy<SetupCodeClaimResponse> {
    (
        (id::<String>("ccb_"), id("usr_"), text(), text()),
        (id("wsp_"), id("T"), text(), text()),
        (
            opt(text()),
            list(text()),
            yes(),
            opt(nonzero()),
            opt(text()),
        ),
    )
        .prop_map(
            |(
                (token, bot_id, handle, display_name),
                (ws_id, route_id, slug, name),
                (default_to, allow_from, agent_activity, contract_version, api_base_url),
            )| {
                build!(SetupCodeClaimResponse {
                    token,
                    bot: build!(SetupCodeBot {
                        id: bot_id,
                        handle,
                        display_name,
                    }),
                    workspace: build!(SetupCodeWorkspace {
                        id: ws_id,
                        route_id,
                        slug,
                        name,
                    }),
                    defaults: build!(SetupCodeDefaults {
                        default_to,
                        allow_from,
                        agent_activity,
                    }),
                    contract_version,
                    api_base_url,
                })
            },
        )
        .boxed()
}

// -------------------------------------------------------- the hostile server

/// Keys whose value is free-form data: nothing inside them is reshaped.
const FREE_FORM: &[&str] = &[
    "notification_settings",
    "appearance_preferences",
    "highlights",
    "total_by_role",
    "payload",
];

/// Event types whose payload is a typed struct without a catch-all map.
fn typed_payload(ty: &str) -> bool {
    !event::types::EPHEMERAL_PUBLISHABLE.contains(&ty) && !ty.starts_with("future.")
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

/// Reshapes `v` as Go may send the same value; `coin` supplies the choices.
fn go_reshape(v: &mut Value, coin: &mut impl FnMut() -> u8) {
    let Value::Object(map) = v else {
        if let Value::Array(items) = v {
            for item in items {
                go_reshape(item, coin);
            }
        }
        return;
    };
    let is_event = map.contains_key("type") && map.contains_key("cursor");
    let ty = map
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let Some(value) = map.get_mut(&key) else {
            continue;
        };
        if key == "payload" && is_event {
            if typed_payload(&ty) {
                go_reshape(value, coin);
            }
        } else if !FREE_FORM.contains(&key.as_str()) {
            go_reshape(value, coin);
        }
        let value = &map[&key];
        let required = is_event && key == "type";
        match coin() % 4 {
            0 if is_zero(value) && !required => {
                map.remove(&key);
            }
            1 if value.as_array().is_some_and(Vec::is_empty) => {
                map.insert(key, Value::Null);
            }
            2 if value.is_null() && (key == "tail_cursor" || key == "next_cursor") => {
                map.insert(key, json!(""));
            }
            _ => {}
        }
    }
    if coin() % 2 == 0 {
        map.insert(
            "zz_newer_server".into(),
            json!({"nested": [1, null], "k": "v"}),
        );
        map.insert("another_key".into(), Value::Null);
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

/// Both properties for one value: exact round trip, and the Go-reshaped
/// encoding decodes to the same value.
fn check<T>(value: &T, seed: &[u8]) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let text =
        serde_json::to_string(value).map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    let back: T =
        serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
    prop_assert_eq!(&back, value, "round trip of {}", text);

    let mut json: Value = serde_json::from_str(&text).unwrap();
    let mut i = 0usize;
    let mut coin = || {
        let b = seed
            .get(i % seed.len().max(1))
            .copied()
            .unwrap_or(0)
            .wrapping_add((i / seed.len().max(1)) as u8);
        i += 1;
        b
    };
    go_reshape(&mut json, &mut coin);
    let shaped = json.to_string();
    let decoded: T =
        serde_json::from_str(&shaped).map_err(|e| TestCaseError::fail(format!("{shaped}: {e}")))?;
    prop_assert_eq!(&decoded, value, "Go-shaped {}", shaped);
    Ok(())
}

fn seed() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..64)
}

macro_rules! hostile {
    ($($name:ident: $strategy:expr;)+) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(cases()))]
            $(
                #[test]
                fn $name(value in $strategy, seed in seed()) {
                    check(&value, &seed)?;
                }
            )+
        }
    };
}

hostile! {
    user_: user();
    workspace_: workspace();
    member_: member();
    channel_: channel();
    thread_state_: thread_state();
    reaction_summary_: reaction_summary();
    upload_: upload();
    message_: message();
    direct_conversation_: direct_conversation();
    read_receipt_: read_receipt();
    bot_command_: bot_command();
    bot_token_: bot_token();
    search_result_: search_result();
    event_: event();
    message_page: (list(message()), opt(nonzero()), opt(nonzero()), any::<bool>(), any::<bool>())
        .prop_map(|(messages, oldest_seq, newest_seq, has_older, has_newer)| build!(MessagePage { messages, oldest_seq, newest_seq, has_older, has_newer }));
    thread_page: (message(), list(message()), thread_state(), opt(nonzero()), opt(nonzero()), any::<bool>(), any::<bool>())
        .prop_map(|(root, replies, thread_state, oldest_seq, newest_seq, has_older, has_newer)| build!(ThreadPage { root, replies, thread_state, oldest_seq, newest_seq, has_older, has_newer }));
    events_page: (list(event()), opt(id("cur_"))).prop_map(|(events, tail_cursor)| build!(EventsPage { events, tail_cursor }));
    members_page: (list(member()), opt(text()), any::<bool>(), opt(nonzero()), opt(prop::collection::btree_map("[a-z]{1,6}", num(), 0..3)))
        .prop_map(|(members, next_cursor, has_more, total_count, total_by_role)| build!(MembersPage { members, next_cursor, has_more, total_count, total_by_role }));
    search_results: (list(search_result()), opt(text())).prop_map(|(results, next_cursor)| build!(SearchResults { results, next_cursor }));
    me_response: user().prop_map(|user| build!(MeResponse { user }));
    workspaces_response: list(workspace()).prop_map(|workspaces| build!(WorkspacesResponse { workspaces }));
    workspace_response: workspace().prop_map(|workspace| build!(WorkspaceResponse { workspace }));
    channels_response: list(channel()).prop_map(|channels| build!(ChannelsResponse { channels }));
    channel_write_response: (channel(), opt(event())).prop_map(|(channel, event)| build!(ChannelWriteResponse { channel, event }));
    message_response: message().prop_map(|message| build!(MessageResponse { message }));
    message_write_response: (message(), opt(event())).prop_map(|(message, event)| build!(MessageWriteResponse { message, event }));
    thread_reply_response: (message(), thread_state(), list(event())).prop_map(|(message, thread_state, events)| build!(ThreadReplyResponse { message, thread_state, events }));
    reaction_response: (opt(prop_oneof![event(), Just(Event::zero())]), list(reaction_summary())).prop_map(|(event, reactions)| build!(ReactionResponse { event, reactions }));
    direct_conversations_response: list(direct_conversation()).prop_map(|conversations| build!(DirectConversationsResponse { conversations }));
    direct_conversation_response: direct_conversation().prop_map(|conversation| build!(DirectConversationResponse { conversation }));
    upload_response: upload().prop_map(|upload| build!(UploadResponse { upload }));
    receipt_response: read_receipt().prop_map(|receipt| build!(ReceiptResponse { receipt }));
    event_response: opt(event()).prop_map(|event| build!(EventResponse { event }));
    bot_commands_response: list(bot_command()).prop_map(|bot_commands| build!(BotCommandsResponse { bot_commands }));
    ok_response: any::<bool>().prop_map(|ok| build!(OkResponse { ok }));
    event_types_response: list(text()).prop_map(|event_types| build!(EventTypesResponse { event_types }));
    create_bot_output: (user(), opt(bot_token()), text()).prop_map(|(bot, bot_token, token)| build!(CreateBotOutput { bot, bot_token, token }));
    error_body: text().prop_map(ErrorBody::new);
    create_message: ((text(), opt(text()), opt(id("msg_")), opt(id("top_"))), (opt(id("upl_")), opt(message_kind()), opt(text())))
        .prop_map(|((body, nonce, quoted_message_id, topic_id), (upload_id, kind, turn_id))| build!(CreateMessage { body, nonce, quoted_message_id, topic_id, upload_id, kind, turn_id }));
    create_thread_reply: (text(), opt(id("msg_")), opt(text())).prop_map(|(body, quoted_message_id, nonce)| build!(CreateThreadReply { body, quoted_message_id, nonce }));
    create_direct_conversation: (id::<WorkspaceId>("wsp_"), list(id::<UserId>("usr_"))).prop_map(|(w, m)| CreateDirectConversation::new(w, m));
    add_reaction: text().prop_map(AddReaction::new);
    publish_ephemeral: (id("wsp_"), opt(id("chn_")), opt(id("dm_")), select(event::types::EPHEMERAL_PUBLISHABLE), opt(free_json()))
        .prop_map(|(workspace_id, channel_id, direct_conversation_id, ty, payload)| build!(PublishEphemeral {
            workspace_id, channel_id, direct_conversation_id, event_type: ty.to_owned(),
            payload: payload.and_then(|p| match p { Value::Object(m) => Some(m), _ => None }),
        }));
    set_bot_commands: list((text(), text(), opt(text())).prop_map(|(command, description, args_hint)| build!(BotCommandInput { command, description, args_hint })))
        .prop_map(|commands| build!(SetBotCommands { commands }));
    mark_read: num().prop_map(|seq| build!(MarkRead { seq }));
    create_channel: (text(), opt(text()), opt(channel_kind()), yes(), opt(text()), opt(text()), opt(text()))
        .prop_map(|(name, display_title, kind, external_managed, external_ref, external_url, sidebar_section)| build!(CreateChannel { name, display_title, kind, external_managed, external_ref, external_url, sidebar_section }));
    patch_channel: ((opt(text()), opt(text()), opt(channel_kind()), yes()), (yes(), opt(text()), opt(text()), opt(text())))
        .prop_map(|((name, display_title, kind, archived), (external_managed, external_ref, external_url, sidebar_section))| build!(PatchChannel { name, display_title, kind, archived, external_managed, external_ref, external_url, sidebar_section }));
    edit_message: text().prop_map(|body| build!(EditMessage { body }));
    attach_upload: id("upl_").prop_map(|upload_id| build!(AttachUpload { upload_id }));
    topic_: topic();
    route_target_: route_target();
    owned_bot_: owned_bot();
    setup_code_claim_response: setup_claim();
    owned_bots_response: list(owned_bot()).prop_map(|bots| build!(OwnedBotsResponse { bots }));
    topics_response: list(topic()).prop_map(|topics| build!(TopicsResponse { topics }));
    topic_response: topic().prop_map(|topic| build!(TopicResponse { topic }));
    route_response: route_target().prop_map(|route| build!(RouteResponse { route }));
    claim_setup_code: text().prop_map(ClaimSetupCode::new);
    update_me: (opt(text()), opt(text()), opt(text()), opt(free_json()), opt(free_json()))
        .prop_map(|(display_name, handle, avatar_url, notification_settings, appearance_preferences)| build!(UpdateMe { display_name, handle, avatar_url, notification_settings, appearance_preferences }));
    create_workspace: (text(), opt(text())).prop_map(|(name, slug)| build!(CreateWorkspace { name, slug }));
    create_topic: (text(), opt(id("chn_"))).prop_map(|(name, channel_id)| build!(CreateTopic { name, channel_id }));
}

/// The reshaper is not a no-op: it really turns `[]` into `null`, drops keys and adds keys.
#[test]
fn the_reshaper_reshapes() {
    let mut v = json!({"a": [], "b": "", "c": {"d": []}, "next_cursor": null});
    let mut n = 0u8;
    go_reshape(&mut v, &mut || {
        n = n.wrapping_add(1);
        [1, 0, 1, 2, 0][usize::from(n) % 5]
    });
    assert_ne!(
        v,
        json!({"a": [], "b": "", "c": {"d": []}, "next_cursor": null})
    );
    let text = v.to_string();
    assert!(text.contains("null") || !text.contains("\"a\""), "{text}");
}
