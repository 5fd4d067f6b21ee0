//! What every admin service shares: the API's timestamps (RFC 3339 out, RFC 3339 or Unix
//! seconds in), the admin check, the names it accepts, and PATCH's absent-versus-null.

use crate::auth::Principal;
use modelgate_core::GatewayError;

/// Milliseconds → RFC 3339 (UTC, millisecond precision), the API's timestamp format.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses an API timestamp: RFC 3339, or an integer of Unix seconds.
pub fn parse_time(value: &serde_json::Value) -> Result<i64, GatewayError> {
    match value {
        serde_json::Value::Number(n) => {
            n.as_i64().and_then(|s| s.checked_mul(1000)).ok_or_else(|| {
                GatewayError::bad_request("timestamps must be Unix seconds or RFC 3339")
            })
        }
        serde_json::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .map_err(|_| GatewayError::bad_request(format!("'{s}' is not an RFC 3339 timestamp"))),
        _ => Err(GatewayError::bad_request(
            "timestamps must be Unix seconds or RFC 3339",
        )),
    }
}

/// Refuses non-admins.
pub fn require_admin(principal: &Principal) -> Result<(), GatewayError> {
    if principal.is_admin() {
        Ok(())
    } else {
        Err(GatewayError::forbidden(
            "This action needs an administrator.",
        ))
    }
}

/// `[A-Za-z0-9_-]{1,64}`: provider, group and user names.
pub fn valid_slug(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// For PATCH bodies: distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`).
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time(&serde_json::json!(10)).unwrap(), 10_000);
        assert_eq!(
            parse_time(&serde_json::json!("1970-01-01T00:00:01Z")).unwrap(),
            1000
        );
        assert!(parse_time(&serde_json::json!("tomorrow")).is_err());
        assert_eq!(rfc3339(1000), "1970-01-01T00:00:01.000Z");
    }

    #[test]
    fn slugs() {
        assert!(valid_slug("my-vllm_2"));
        assert!(!valid_slug("a:b"));
        assert!(!valid_slug("a/b"));
        assert!(!valid_slug(""));
        assert!(!valid_slug(&"a".repeat(65)));
    }
}
