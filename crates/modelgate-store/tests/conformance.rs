//! One conformance suite, run against both backends: every test below is instantiated for
//! SQLite (a temp file) and PostgreSQL (a private schema in the database named by
//! `MODELGATE_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
#![allow(clippy::unwrap_used)]

use modelgate_core::usage::{Outcome, TokenUsage, UsageRecord};
use modelgate_store::{
    AllocationRow, ApiKeyRow, Conversation, ConversationMessage, Grant, Group, PgStore,
    ProviderRow, SessionRow, ShareRow, SqliteStore, Store, StoreError, UsageDimension, UsageFilter,
    UsageScope, User,
};
use std::sync::Arc;

struct Harness {
    store: Arc<dyn Store>,
    _guard: Option<tempfile::TempDir>,
}

async fn sqlite() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
    Harness {
        store: Arc::new(store),
        _guard: Some(dir),
    }
}

async fn postgres() -> Harness {
    use sqlx::postgres::PgConnectOptions;
    use std::str::FromStr;
    let url = std::env::var("MODELGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = modelgate_core::ids::new_id("t");
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("PostgreSQL must be reachable for the conformance suite (run .ci/services)");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let opts = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let store = PgStore::connect_with(opts).await.unwrap();
    Harness {
        store: Arc::new(store),
        _guard: None,
    }
}

fn user(name: &str) -> User {
    User {
        id: modelgate_core::ids::new_id("usr"),
        name: name.into(),
        role: "admin".into(),
        password_hash: None,
        created_at: 1,
        deactivated_at: None,
        rpm: None,
        tpm: None,
    }
}

fn key(user_id: &str, hash: &str, created_at: i64) -> ApiKeyRow {
    ApiKeyRow {
        id: modelgate_core::ids::new_id("key"),
        user_id: user_id.into(),
        name: "k".into(),
        key_hash: hash.into(),
        display_prefix: "mg_abc…".into(),
        created_at,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        allocation_id: None,
        models_json: Some("[\"a\"]".into()),
        rpm: None,
        tpm: None,
        scopes: "inference".into(),
    }
}

fn provider(name: &str, owner: &str) -> ProviderRow {
    ProviderRow {
        id: modelgate_core::ids::new_id("prv"),
        name: name.into(),
        kind: "openai-compatible".into(),
        endpoint: "http://127.0.0.1:1/v1".into(),
        owner_id: owner.into(),
        config_json: "{}".into(),
        secret_sealed: Some(vec![1, 2, 3, 0, 255]),
        created_at: 5,
        updated_at: 5,
    }
}

fn usage(id: &str, user_id: &str, at: i64) -> UsageRecord {
    UsageRecord {
        id: id.into(),
        request_id: "req".into(),
        created_at_ms: at,
        key_id: "key_x".into(),
        user_id: user_id.into(),
        allocation_id: None,
        provider: "p".into(),
        model: "m".into(),
        api: "chat.completions".into(),
        stream: true,
        usage: TokenUsage {
            input_tokens: 10,
            output_tokens: 20,
            cached_tokens: 3,
            cache_write_tokens: 2,
            reasoning_tokens: 5,
        },
        usage_estimated: true,
        cost_micros: 42,
        status: 200,
        outcome: Outcome::StreamBroken,
        latency_ms: 7,
        ttft_ms: Some(2),
    }
}

async fn users_are_unique_and_found(h: Harness) {
    let s = &h.store;
    assert_eq!(s.count_users().await.unwrap(), 0);
    let u = user("alice");
    s.insert_user(&u).await.unwrap();
    assert_eq!(s.user_by_name("alice").await.unwrap(), Some(u.clone()));
    assert_eq!(s.user_by_name("bob").await.unwrap(), None);
    let dup = s
        .insert_user(&User {
            id: "other".into(),
            ..u
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(s.count_users().await.unwrap(), 1);
    s.insert_user(&user("aaron")).await.unwrap();
    let names: Vec<_> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, vec!["aaron", "alice"]);
}

async fn keys_lifecycle(h: Harness) {
    let s = &h.store;
    let alice = user("alice");
    let bob = user("bob");
    s.insert_user(&alice).await.unwrap();
    s.insert_user(&bob).await.unwrap();
    let k1 = key(&alice.id, "h1", 10);
    let k2 = ApiKeyRow {
        scopes: "inference management".into(),
        ..key(&alice.id, "h2", 20)
    };
    let k3 = key(&bob.id, "h3", 30);
    for k in [&k1, &k2, &k3] {
        s.insert_key(k).await.unwrap();
    }
    assert!(matches!(
        s.insert_key(&key(&bob.id, "h1", 1)).await,
        Err(StoreError::Conflict(_))
    ));

    let auth = s.key_by_hash("h2").await.unwrap().unwrap();
    assert_eq!(auth.key, k2);
    assert_eq!(auth.user_name, "alice");
    assert_eq!(auth.user_role, "admin");
    assert!(s.key_by_hash("nope").await.unwrap().is_none());
    assert!(s.key_by_hash("' OR '1'='1").await.unwrap().is_none());

    let mine: Vec<_> = s
        .list_keys(Some(&alice.id))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(mine, vec![k2.id.clone(), k1.id.clone()]);
    assert_eq!(s.list_keys(None).await.unwrap().len(), 3);

    // bob cannot revoke alice's key; alice can, once.
    assert_eq!(s.revoke_key(&k1.id, Some(&bob.id), 50).await.unwrap(), None);
    assert_eq!(
        s.revoke_key(&k1.id, Some(&alice.id), 50).await.unwrap(),
        Some("h1".into())
    );
    assert_eq!(
        s.revoke_key(&k1.id, Some(&alice.id), 60).await.unwrap(),
        None
    );
    assert_eq!(
        s.revoke_key(&k3.id, None, 70).await.unwrap(),
        Some("h3".into())
    );
    assert_eq!(
        s.key_by_hash("h1").await.unwrap().unwrap().key.revoked_at,
        Some(50)
    );
    // Revoking a key revokes that key only.
    assert_eq!(
        s.key_by_hash("h2").await.unwrap().unwrap().key.revoked_at,
        None
    );

    s.touch_keys(&[(k2.id.clone(), 100), (k2.id.clone(), 90)])
        .await
        .unwrap();
    assert_eq!(
        s.key_by_hash("h2").await.unwrap().unwrap().key.last_used_at,
        Some(100)
    );
}

async fn providers_crud(h: Harness) {
    let s = &h.store;
    let admin = user("admin");
    s.insert_user(&admin).await.unwrap();
    let mut p = provider("vllm", &admin.id);
    s.insert_provider(&p).await.unwrap();
    assert!(matches!(
        s.insert_provider(&provider("vllm", &admin.id)).await,
        Err(StoreError::Conflict(_))
    ));
    s.insert_provider(&provider("alpha", &admin.id))
        .await
        .unwrap();
    let names: Vec<_> = s
        .list_providers()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, vec!["alpha", "vllm"]);

    p.endpoint = "http://127.0.0.1:2/v1".into();
    p.secret_sealed = None;
    p.updated_at = 9;
    assert!(s.update_provider(&p).await.unwrap());
    let got = s
        .list_providers()
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.id == p.id)
        .unwrap();
    assert_eq!(got, p);
    p.name = "alpha".into();
    assert!(matches!(
        s.update_provider(&p).await,
        Err(StoreError::Conflict(_))
    ));

    assert!(s.delete_provider("vllm").await.unwrap());
    assert!(!s.delete_provider("vllm").await.unwrap());
    assert_eq!(s.list_providers().await.unwrap().len(), 1);
}

async fn usage_is_idempotent_and_filtered(h: Harness) {
    let s = &h.store;
    let batch = vec![
        usage("u1", "alice", 100),
        usage("u2", "bob", 200),
        usage("u3", "alice", 300),
    ];
    s.insert_usage(&batch).await.unwrap();
    s.insert_usage(&batch[..1]).await.unwrap(); // a retried batch adds nothing
    s.insert_usage(&[]).await.unwrap();
    let all = s.list_usage(&UsageFilter::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], batch[2]);
    let alice = s
        .list_usage(&UsageFilter {
            user_id: Some("alice".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        alice.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["u3", "u1"]
    );
    let window = s
        .list_usage(&UsageFilter {
            since_ms: Some(150),
            until_ms: Some(300),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].id, "u2");
    // Large batches are split into several statements inside one transaction.
    let many: Vec<_> = (0..1_234)
        .map(|i| usage(&format!("bulk{i}"), "carol", 1_000 + i))
        .collect();
    s.insert_usage(&many).await.unwrap();
    let carol = s
        .list_usage(&UsageFilter {
            user_id: Some("carol".into()),
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(carol.len(), 1_234);
    let limited = s
        .list_usage(&UsageFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
    s.ping().await.unwrap();
}

async fn organization(h: Harness) {
    let s = &h.store;
    for name in ["ann", "bob"] {
        let mut u = user(name);
        u.id = name.into();
        s.insert_user(&u).await.unwrap();
    }
    let mut ann = s.user_by_id("ann").await.unwrap().unwrap();
    ann.rpm = Some(5);
    ann.deactivated_at = Some(9);
    assert!(s.update_user(&ann).await.unwrap());
    assert_eq!(s.user_by_id("ann").await.unwrap().unwrap(), ann);

    let g = Group {
        id: "g1".into(),
        name: "team".into(),
        created_at: 1,
    };
    s.insert_group(&g).await.unwrap();
    assert!(matches!(
        s.insert_group(&g).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.add_member("g1", "ann").await.unwrap());
    assert!(!s.add_member("g1", "ann").await.unwrap());
    assert!(s.add_member("g1", "bob").await.unwrap());
    let mut members = s.list_memberships().await.unwrap();
    members.sort();
    assert_eq!(
        members,
        vec![
            ("g1".to_string(), "ann".to_string()),
            ("g1".to_string(), "bob".to_string())
        ]
    );
    assert!(s.remove_member("g1", "bob").await.unwrap());
    assert_eq!(
        s.list_memberships().await.unwrap(),
        vec![("g1".to_string(), "ann".to_string())]
    );

    let grant = Grant {
        permission: "aiprovider:create".into(),
        subject_kind: "group".into(),
        subject_id: "g1".into(),
    };
    assert!(s.put_grant(&grant).await.unwrap());
    assert!(!s.put_grant(&grant).await.unwrap());
    assert_eq!(s.list_grants().await.unwrap(), vec![grant.clone()]);

    let mut p1 = provider("p1", "ann");
    p1.id = "p1".into();
    s.insert_provider(&p1).await.unwrap();
    let share = ShareRow {
        provider_id: "p1".into(),
        grantee: ShareRow::grantee_for(Some("g1")),
        group_id: Some("g1".into()),
        created_at: 3,
    };
    assert!(s.put_share(&share).await.unwrap());
    assert!(!s.put_share(&share).await.unwrap());
    let org = ShareRow {
        grantee: ShareRow::grantee_for(None),
        group_id: None,
        ..share.clone()
    };
    assert!(s.put_share(&org).await.unwrap());
    assert_eq!(s.list_shares().await.unwrap().len(), 2);
    assert!(s.delete_share("p1", "org").await.unwrap());
    assert!(!s.delete_share("p1", "org").await.unwrap());

    let alloc = AllocationRow {
        id: "a1".into(),
        name: "team-budget".into(),
        owner_user_id: None,
        owner_group_id: Some("g1".into()),
        limit_micros: 1_000_000,
        period: "monthly".into(),
        created_at: 4,
        max_in_flight: Some(8),
    };
    s.insert_allocation(&alloc).await.unwrap();
    // A group that owns an allocation cannot be deleted.
    assert!(matches!(
        s.delete_group("g1").await,
        Err(StoreError::InUse(_))
    ));
    let mut records = vec![usage("u1", "ann", 100), usage("u2", "ann", 200)];
    for r in &mut records {
        r.allocation_id = Some("a1".into());
    }
    records.push(usage("u3", "bob", 300));
    s.insert_usage(&records).await.unwrap();
    assert_eq!(s.allocation_spent("a1", 0).await.unwrap(), 84);
    assert_eq!(s.allocation_spent("a1", 150).await.unwrap(), 42);
    assert_eq!(s.allocation_spent("nope", 0).await.unwrap(), 0);
    let mut k = key("ann", "h1", 1);
    k.allocation_id = Some("a1".into());
    s.insert_key(&k).await.unwrap();
    assert!(matches!(
        s.delete_allocation("a1").await,
        Err(StoreError::InUse(_))
    ));
    s.revoke_key(&k.id, None, 5).await.unwrap();
    assert!(s.delete_allocation("a1").await.unwrap());
    assert!(s.delete_group("g1").await.unwrap());
    assert!(s.list_shares().await.unwrap().is_empty());
    assert!(s.list_grants().await.unwrap().is_empty());

    let session = SessionRow {
        id_hash: "sh".into(),
        user_id: "ann".into(),
        csrf_token: "c".into(),
        created_at: 1,
        expires_at: 2,
    };
    s.insert_session(&session).await.unwrap();
    assert_eq!(s.session_by_hash("sh").await.unwrap(), Some(session));
    assert!(s.delete_session("sh").await.unwrap());
    assert!(s.session_by_hash("sh").await.unwrap().is_none());
    // A user's sessions end together; expired ones are purged, live ones kept.
    for (id, user, expires_at) in [
        ("s1", "ann", 10),
        ("s2", "ann", 30),
        ("s3", "bob", 10),
        ("s4", "bob", 30),
    ] {
        let row = SessionRow {
            id_hash: id.into(),
            user_id: user.into(),
            csrf_token: "c".into(),
            created_at: 1,
            expires_at,
        };
        s.insert_session(&row).await.unwrap();
    }
    assert_eq!(s.delete_sessions_of("ann").await.unwrap(), 2);
    assert_eq!(s.purge_sessions(20).await.unwrap(), 1);
    assert!(s.session_by_hash("s3").await.unwrap().is_none());
    assert!(s.session_by_hash("s4").await.unwrap().is_some());
    assert!(s.session_by_hash("s1").await.unwrap().is_none());

    s.put_virtual_model("team", "[\"a\"]", 1).await.unwrap();
    s.put_virtual_model("team", "[\"b\"]", 2).await.unwrap();
    assert_eq!(
        s.list_virtual_models().await.unwrap(),
        vec![("team".to_string(), "[\"b\"]".to_string())]
    );
    assert!(s.delete_virtual_model("team").await.unwrap());
    assert!(!s.delete_virtual_model("team").await.unwrap());

    s.put_setting("x", "1").await.unwrap();
    s.put_setting("x", "2").await.unwrap();
    assert_eq!(
        s.list_settings().await.unwrap(),
        vec![("x".to_string(), "2".to_string())]
    );
}

async fn usage_reports(h: Harness) {
    let s = &h.store;
    let day = 86_400_000;
    let mut records = vec![
        usage("r1", "ann", 10),
        usage("r2", "ann", day + 10),
        usage("r3", "bob", day + 20),
    ];
    records[2].model = "other".into();
    s.insert_usage(&records).await.unwrap();
    let all = UsageScope {
        user_id: None,
        since_ms: 0,
        until_ms: 10 * day,
    };
    let total = s.usage_report(&all, None).await.unwrap();
    assert_eq!(total.len(), 1);
    assert_eq!(total[0].requests, 3);
    assert_eq!(total[0].cost_micros, 126);
    assert_eq!(total[0].input_tokens, 30);
    assert_eq!(total[0].cache_write_tokens, 6);
    assert_eq!(total[0].reasoning_tokens, 15);
    let by_day = s
        .usage_report(&all, Some(UsageDimension::Day))
        .await
        .unwrap();
    let mut days: Vec<(String, i64)> = by_day
        .iter()
        .map(|r| (r.bucket.clone(), r.requests))
        .collect();
    days.sort();
    assert_eq!(days, vec![("0".to_string(), 1), ("1".to_string(), 2)]);
    let ann = UsageScope {
        user_id: Some("ann".into()),
        ..all.clone()
    };
    let by_model = s
        .usage_report(&ann, Some(UsageDimension::Model))
        .await
        .unwrap();
    assert_eq!(by_model.len(), 1);
    assert_eq!(by_model[0].bucket, "m");
    assert_eq!(by_model[0].requests, 2);
    for dim in [
        UsageDimension::Provider,
        UsageDimension::Key,
        UsageDimension::User,
        UsageDimension::Allocation,
    ] {
        let rows = s.usage_report(&all, Some(dim)).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.requests).sum::<i64>(), 3);
    }
    let empty = UsageScope {
        user_id: None,
        since_ms: 20 * day,
        until_ms: 30 * day,
    };
    assert_eq!(s.usage_report(&empty, None).await.unwrap()[0].requests, 0);
}

async fn conversations(h: Harness) {
    let s = &h.store;
    let (ada, bob) = (user("ada"), user("bob"));
    s.insert_user(&ada).await.unwrap();
    s.insert_user(&bob).await.unwrap();
    let conv = |id: &str, owner: &User, at: i64| Conversation {
        id: id.into(),
        user_id: owner.id.clone(),
        title: format!("title {id}"),
        provider: "p".into(),
        model: "m".into(),
        created_at: at,
        updated_at: at,
    };
    s.insert_conversation(&conv("c1", &ada, 10)).await.unwrap();
    s.insert_conversation(&conv("c2", &ada, 20)).await.unwrap();
    s.insert_conversation(&conv("c3", &bob, 30)).await.unwrap();
    let ids = |v: Vec<Conversation>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_conversations(&ada.id, 10).await.unwrap()),
        ["c2", "c1"]
    );
    assert_eq!(ids(s.list_conversations(&ada.id, 1).await.unwrap()), ["c2"]);
    let msg = |id: &str, role: &str, at: i64| ConversationMessage {
        id: id.into(),
        conversation_id: "c1".into(),
        seq: 0,
        role: role.into(),
        content: format!("text of {id}"),
        error: (role == "assistant").then(|| "stopped".to_owned()),
        created_at: at,
    };
    assert_eq!(s.append_message(&msg("m1", "user", 40)).await.unwrap(), 1);
    assert_eq!(
        s.append_message(&msg("m2", "assistant", 41)).await.unwrap(),
        2
    );
    let got = s.messages("c1").await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].seq, got[1].seq), (1, 2));
    assert_eq!(got[1].error.as_deref(), Some("stopped"));
    assert_eq!(got[0].error, None);
    // A message moves its conversation to the top.
    assert_eq!(
        ids(s.list_conversations(&ada.id, 10).await.unwrap()),
        ["c1", "c2"]
    );
    assert!(s.rename_conversation("c2", "renamed", 50).await.unwrap());
    let c2 = s.conversation("c2").await.unwrap().unwrap();
    assert_eq!((c2.title.as_str(), c2.updated_at), ("renamed", 50));
    assert!(!s.rename_conversation("nope", "x", 1).await.unwrap());
    assert!(s.delete_conversation("c1").await.unwrap());
    assert!(s.messages("c1").await.unwrap().is_empty());
    assert!(s.conversation("c1").await.unwrap().is_none());
    assert!(!s.delete_conversation("c1").await.unwrap());
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::sqlite().await).await })*
        }
        mod on_postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::postgres().await).await })*
        }
    };
}

conformance!(
    users_are_unique_and_found,
    keys_lifecycle,
    providers_crud,
    usage_is_idempotent_and_filtered,
    organization,
    usage_reports,
    conversations
);
