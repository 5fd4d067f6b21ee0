//! The gateway end to end on PostgreSQL (`--database postgres://...`): keys, providers with
//! sealed secrets, requests and usage survive a restart exactly as on SQLite. Each run uses
//! a private schema of the database named by `MODELGATE_TEST_POSTGRES_URL`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::MockUpstream;
use serde_json::json;

async fn private_schema_url() -> String {
    let base = std::env::var("MODELGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = modelgate_core::ids::new_id("gw");
    let pool = sqlx::PgPool::connect(&base)
        .await
        .expect("PostgreSQL must be reachable (run .ci/services)");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

#[tokio::test]
async fn serve_on_postgres_end_to_end() {
    let url = private_schema_url().await;
    let mock = MockUpstream::start(&["m"]).await;
    let u = url.clone();
    let mut gw = start_gateway_with(move |o| o.database = Some(u)).await;
    let ready: serde_json::Value = gw
        .http
        .get(gw.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["store"], "postgres");
    gw.add_mock("up", &mock).await;
    let key = gw.new_key(json!({"name": "pg"})).await;
    assert_eq!(gw.chat(&key, "m").await.status(), 200);
    let r = gw
        .post(
            "/v1/chat/completions",
            &key,
            json!({"model": "up:m", "stream": true, "messages": []}),
        )
        .await;
    assert_eq!(sse_data(r).await.last().unwrap(), "[DONE]");
    gw.stop().await;

    let mut again = start_in(gw.dir, move |o| o.database = Some(url)).await;
    assert_eq!(again.chat(&key, "m").await.status(), 200);
    assert_eq!(
        mock.last("/v1/chat/completions").unwrap().headers["authorization"],
        "Bearer sk-upstream-up"
    );
    let usage = again.usage(&key).await;
    assert_eq!(usage["totals"]["requests"], 3);
    again.stop().await;
}
