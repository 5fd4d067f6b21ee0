//! The mock's answers to refused bodies: each provider's 400 shape, for streamed and
//! non-streamed calls, and the model name's misbehaviour still first.

use crate::{BEDROCK_ACCESS_KEY, BEDROCK_REGION, BEDROCK_SECRET_KEY, MockUpstream};
use modelgate_providers::aws_sigv4;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One `POST path` with these extra headers: (status code, lowercased head, JSON body).
async fn post(
    mock: &MockUpstream,
    path: &str,
    headers: &[(String, String)],
    body: &Value,
) -> (u16, String, Value) {
    let body = body.to_string();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        mock.addr,
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    let mut tcp = tokio::net::TcpStream::connect(mock.addr).await.unwrap();
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        head.to_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn openai_and_azure_refusals_have_openai_shape() {
    let mock = MockUpstream::start(&["m1"]).await;
    let bearer = pairs(&[("authorization", "Bearer k"), ("api-key", "k")]);
    for stream in [false, true] {
        let bad = json!({"model": "m1", "stream": stream, "temperature": 3, "messages": [{"role": "user", "content": "hi"}]});
        for path in [
            "/v1/chat/completions",
            "/openai/deployments/d/chat/completions?api-version=2024-10-21",
        ] {
            let (status, _, v) = post(&mock, path, &bearer, &bad).await;
            assert_eq!(status, 400, "{path}: {v}");
            assert_eq!(v["error"]["type"], "invalid_request_error");
            assert_eq!(v["error"]["param"], "temperature");
            assert!(v["error"]["code"].is_null());
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Expected a value <= 2"),
                "{v}"
            );
        }
    }
    // The model name's misbehaviour comes first, whatever the body.
    let (status, _, _) = post(
        &mock,
        "/v1/chat/completions",
        &bearer,
        &json!({"model": "error-500", "messages": []}),
    )
    .await;
    assert_eq!(status, 500);
    let ok = json!({"model": "m1", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(
        post(&mock, "/v1/chat/completions", &bearer, &ok).await.0,
        200
    );
}

#[tokio::test]
async fn anthropic_refusals_have_anthropic_shape() {
    let mock = MockUpstream::start(&[]).await;
    let auth = pairs(&[("x-api-key", "k"), ("anthropic-version", "2023-06-01")]);
    for stream in [false, true] {
        let bad = json!({"model": "claude-x", "max_tokens": 10, "stream": stream, "stop_sequences": ["\n"],
            "messages": [{"role": "user", "content": "hi"}]});
        let (status, _, v) = post(&mock, "/v1/messages", &auth, &bad).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(
            v,
            json!({"type": "error", "error": {"type": "invalid_request_error",
                "message": "stop_sequences: each stop sequence must contain non-whitespace"}})
        );
    }
    let ok = json!({"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(post(&mock, "/v1/messages", &auth, &ok).await.0, 200);
}

/// A Converse call signed with the mock's credentials.
async fn converse(mock: &MockUpstream, operation: &str, body: &Value) -> (u16, String, Value) {
    let path = format!("/model/meta.llama-strict/{operation}");
    let host = mock.addr.to_string();
    let creds = aws_sigv4::AwsCredentials {
        access_key_id: BEDROCK_ACCESS_KEY.into(),
        secret_access_key: modelgate_core::Secret::new(BEDROCK_SECRET_KEY),
        session_token: None,
    };
    let scope = aws_sigv4::SigningScope {
        region: BEDROCK_REGION,
        service: "bedrock",
        time: std::time::SystemTime::now(),
    };
    let signed = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
    ];
    let bytes = body.to_string();
    let url = format!("http://{host}{path}");
    let headers =
        aws_sigv4::sign_headers("POST", &url, &signed, bytes.as_bytes(), &creds, scope).unwrap();
    post(mock, &path, &headers, body).await
}

#[tokio::test]
async fn bedrock_refusals_have_bedrock_shape() {
    let mock = MockUpstream::start(&[]).await;
    let bad = json!({"messages": [{"role": "user", "content": [{"text": " "}]}]});
    for operation in ["converse", "converse-stream"] {
        let (status, head, v) = converse(&mock, operation, &bad).await;
        assert_eq!(status, 400, "{v}");
        assert!(
            head.contains("x-amzn-errortype: validationexception"),
            "{head}"
        );
        assert_eq!(
            v,
            json!({"message": "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, and try again."})
        );
    }
    let ok = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]});
    assert_eq!(converse(&mock, "converse", &ok).await.0, 200);
}
