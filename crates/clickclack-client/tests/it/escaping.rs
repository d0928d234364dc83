//! Any path segment is escaped so the request reaches the right route.

use clickclack_client::Client;
use clickclack_client::proto::MessageId;
use clickclack_client::proto::requests::CreateMessage;
use clickclack_testkit::TestServer;
use proptest::prelude::*;

use crate::common::client_for;

struct Fixture {
    rt: tokio::runtime::Runtime,
    _server: TestServer,
    client: Client,
    message: MessageId,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (server, client, message) = rt.block_on(async {
        let server = TestServer::start().await;
        let seed = server.seed();
        let client = client_for(&server, &seed.bot.token);
        let m = client
            .send_message(&seed.general.id, CreateMessage::new("react here"))
            .await
            .unwrap();
        (server, client, m.into_id())
    });
    Fixture {
        rt,
        _server: server,
        client,
        message,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Add a reaction (emoji in the JSON body), then remove it (emoji in the
    /// path): the removal only works if the server decoded the exact emoji.
    #[test]
    fn reaction_emoji_round_trips_through_the_path(raw in "\\PC{1,16}") {
        let emoji = raw.trim().to_owned();
        prop_assume!(!emoji.is_empty());
        let f = fixture();
        f.rt.block_on(async {
            let added = f.client.add_reaction(&f.message, &emoji).await.unwrap();
            prop_assert!(added.reactions.iter().any(|r| r.emoji == emoji));
            let removed = f.client.remove_reaction(&f.message, &emoji).await.unwrap();
            prop_assert!(removed.reactions.iter().all(|r| r.emoji != emoji), "{:?}", removed.reactions);
            Ok(())
        })?;
    }

    /// Odd ids reach the message route (a bot gets 403 with the store error for
    /// unknown ids, not 404 "route not found").
    #[test]
    fn odd_ids_reach_the_message_route(id in "\\PC{1,24}") {
        let f = fixture();
        f.rt.block_on(async {
            let e = f.client.get_message(&MessageId::new(id.clone())).await.unwrap_err();
            prop_assert_ne!(e.server_message(), Some("route not found"), "{}", e);
            Ok(())
        })?;
    }
}

#[test]
fn known_odd_cases() {
    let f = fixture();
    f.rt.block_on(async {
        for emoji in [
            "👍",
            "🏳️‍🌈",
            "a/b",
            "?",
            "#",
            "%",
            "%2F",
            "..",
            ".",
            "+",
            "a b",
            "ü",
        ] {
            let added = f.client.add_reaction(&f.message, emoji).await.unwrap();
            assert!(added.reactions.iter().any(|r| r.emoji == emoji), "{emoji}");
            let removed = f.client.remove_reaction(&f.message, emoji).await.unwrap();
            assert!(
                removed.reactions.iter().all(|r| r.emoji != emoji),
                "{emoji}"
            );
        }
    });
}
