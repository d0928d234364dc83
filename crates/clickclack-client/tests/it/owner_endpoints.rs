//! Setup-code claims, owner endpoints and topics through the typed client.

use clickclack_client::{Client, ErrorKind};
use clickclack_proto::requests::{CreateTopic, CreateWorkspace, UpdateMe};
use clickclack_testkit::{BotSpec, SetupCodeSpec};

use crate::common::{client_for, env, fast_retry};

#[tokio::test]
async fn a_setup_code_is_claimed_once_without_credentials() {
    let env = env().await;
    let code = env
        .server
        .create_setup_code(&SetupCodeSpec::new(
            &env.seed.workspace.id,
            &env.seed.bot.user.id,
        ))
        .expect("mint");
    let anonymous = Client::builder(env.server.base_url())
        .retry_policy(fast_retry())
        .build()
        .expect("client");
    let claimed = anonymous.claim_setup_code(&code.code).await.expect("claim");
    assert!(claimed.token.starts_with("ccb_"));
    assert_eq!(claimed.workspace.id, env.seed.workspace.id);
    assert!(!format!("{claimed:?}").contains(&claimed.token));
    // The minted token works.
    let me = client_for(&env.server, &claimed.token)
        .me()
        .await
        .expect("me");
    assert_eq!(me.id, env.seed.bot.user.id);
    // Single use.
    let again = anonymous.claim_setup_code(&code.code).await.unwrap_err();
    assert_eq!(again.kind(), &ErrorKind::NotFound);
}

#[tokio::test]
async fn owners_update_themselves_create_workspaces_and_list_their_bots() {
    let env = env().await;
    let owner = client_for(&env.server, &env.seed.owner.session_token);
    let bot = env.server.create_bot(
        BotSpec::new(&env.seed.workspace.id, "Helper")
            .handle("helper")
            .owner(&env.seed.owner.user.id)
            .scopes(["bot:write"]),
    );

    let me = owner
        .update_me(&UpdateMe::new().with_display_name("Renamed"))
        .await
        .expect("update me");
    assert_eq!(me.display_name, "Renamed");

    let ws = owner
        .create_workspace(&CreateWorkspace::new("Second"))
        .await
        .expect("create workspace");
    assert_eq!(ws.slug, "second");

    let bots = owner.my_bots().await.expect("my bots");
    assert!(bots.iter().any(|b| b.bot.id == bot.user.id), "{bots:?}");
}

#[tokio::test]
async fn topics_are_created_and_listed() {
    let env = env().await;
    let (_, bot) = env.bot_with("topical", &["bot:write", "channels:write"]);
    let created = bot
        .create_topic(&env.seed.workspace.id, &CreateTopic::new("Release"))
        .await
        .expect("create topic");
    assert_eq!(created.workspace_id, env.seed.workspace.id);
    let listed = bot
        .list_topics(&env.seed.workspace.id)
        .await
        .expect("list topics");
    assert!(listed.iter().any(|t| t.id == created.id), "{listed:?}");
}
