//! No key mints a key wider than itself. When `POST /api/keys` (or
//! `POST /api/users/{name}/keys`) is authenticated by a key rather than a signed-in
//! session, the new key must be at most as wide as the minting one in every dimension:
//! its scopes are among the minting key's; its models are listed and each is on the
//! minting key's allow-list, as written there (when that key has one); it expires, and no
//! later (when that key expires); it draws from the same allocation (the minting key's
//! when the request names none); its per-minute limits are set and no higher (when that
//! key has them). Anything wider is refused with 403 `wider_than_minting_key`, naming the
//! field (`param`) and the bound. A session may mint whatever its user may.

use crate::api::rfc3339;
use crate::auth::Principal;
use modelgate_core::GatewayError;
use modelgate_core::{Scope, Scopes};

/// What a new key asks for, as far as its width goes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked<'a> {
    pub scopes: Scopes,
    pub models: Option<&'a [String]>,
    pub expires_at: Option<i64>,
    /// The allocation's name.
    pub allocation: Option<&'a str>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
}

fn wider(param: &'static str, message: String) -> GatewayError {
    GatewayError::forbidden(message)
        .with_code("wider_than_minting_key")
        .with_param(param)
}

fn names(scopes: Scopes) -> String {
    scopes
        .iter()
        .map(Scope::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks `asked` against the minting key `minter`, whose allocation is named
/// `minter_allocation`. Returns the allocation the new key must name: the one asked for,
/// or the minting key's when it has one and the request named none.
pub(super) fn check(
    minter: &Principal,
    minter_allocation: Option<&str>,
    asked: Asked<'_>,
) -> Result<Option<String>, GatewayError> {
    if minter.is_session() {
        return Ok(asked.allocation.map(str::to_owned));
    }
    if !asked.scopes.is_subset_of(minter.scopes) {
        return Err(wider(
            "scopes",
            format!(
                "This key has the scopes [{}]; it cannot mint a key with [{}].",
                names(minter.scopes),
                names(asked.scopes)
            ),
        ));
    }
    check_models(minter, asked.models)?;
    check_expiry(minter, asked.expires_at)?;
    check_limit(
        "rpm",
        "requests",
        minter.limits.key_rpm,
        asked.rpm.map(u64::from),
    )?;
    check_limit("tpm", "tokens", minter.limits.key_tpm, asked.tpm)?;
    let Some(own) = &minter.allocation_id else {
        return Ok(asked.allocation.map(str::to_owned));
    };
    let own = minter_allocation.unwrap_or(own);
    match asked.allocation {
        Some(other) if other != own => Err(wider(
            "allocation",
            format!(
                "This key draws from the allocation '{own}'; the keys it mints draw from \
                 it too, not from '{other}'."
            ),
        )),
        _ => Ok(Some(own.to_owned())),
    }
}

fn check_models(minter: &Principal, asked: Option<&[String]>) -> Result<(), GatewayError> {
    let Some(allowed) = &minter.allowed_models else {
        return Ok(());
    };
    let listed = allowed.join(", ");
    let Some(asked) = asked else {
        return Err(wider(
            "models",
            format!(
                "This key may use only the models [{listed}]; the key it mints must list \
                 its models, among those."
            ),
        ));
    };
    match asked.iter().find(|m| !allowed.contains(m)) {
        Some(m) => Err(wider(
            "models",
            format!(
                "The model '{m}' is not on this key's allow-list [{listed}] (entries must be \
                 written as they are there)."
            ),
        )),
        None => Ok(()),
    }
}

fn check_expiry(minter: &Principal, asked: Option<i64>) -> Result<(), GatewayError> {
    match (minter.expires_at_ms, asked) {
        (Some(limit), None) => Err(wider(
            "expires_at",
            format!(
                "This key expires at {}; the key it mints must expire too, no later.",
                rfc3339(limit)
            ),
        )),
        (Some(limit), Some(t)) if t > limit => Err(wider(
            "expires_at",
            format!(
                "This key expires at {}; the key it mints cannot expire later ({}).",
                rfc3339(limit),
                rfc3339(t)
            ),
        )),
        _ => Ok(()),
    }
}

fn check_limit(
    param: &'static str,
    what: &str,
    own: Option<u64>,
    asked: Option<u64>,
) -> Result<(), GatewayError> {
    match (own, asked) {
        (Some(own), None) => Err(wider(
            param,
            format!(
                "This key is limited to {own} {what} per minute; the key it mints must set \
                 {param} to at most {own}."
            ),
        )),
        (Some(own), Some(n)) if n > own => Err(wider(
            param,
            format!(
                "This key is limited to {own} {what} per minute; the key it mints cannot \
                 have more ({param} {n})."
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Limits;
    use modelgate_store::User;

    fn narrow_key() -> Principal {
        let user = User {
            id: "u".into(),
            name: "alice".into(),
            role: "member".into(),
            password_hash: None,
            created_at: 0,
            deactivated_at: None,
            rpm: None,
            tpm: None,
        };
        let mut p = Principal::for_session(&user, Vec::new(), String::new());
        p.csrf_token = None;
        p.key_id = "key_1".into();
        p.scopes = Scopes::from_stored("management");
        p.allowed_models = Some(vec!["m".into(), "p/x".into()]);
        p.expires_at_ms = Some(2_000_000_000_000);
        p.allocation_id = Some("alc_1".into());
        p.limits = Limits {
            key_rpm: Some(10),
            key_tpm: Some(1000),
            ..Limits::default()
        };
        p
    }

    fn within<'a>(models: &'a [String]) -> Asked<'a> {
        Asked {
            scopes: Scopes::from_stored("management"),
            models: Some(models),
            expires_at: Some(1_000_000_000_000),
            allocation: None,
            rpm: Some(10),
            tpm: Some(5),
        }
    }

    #[test]
    fn a_key_mints_only_narrower_keys() {
        let minter = narrow_key();
        let models = vec!["m".to_owned()];
        let ok = check(&minter, Some("team"), within(&models)).unwrap();
        assert_eq!(ok.as_deref(), Some("team"), "the minting key's allocation");
        let other = vec!["m".to_owned(), "p:x".to_owned()];
        let cases: Vec<(&str, Asked<'_>)> = vec![
            (
                "scopes",
                Asked {
                    scopes: Scopes::ALL,
                    ..within(&models)
                },
            ),
            (
                "models",
                Asked {
                    models: None,
                    ..within(&models)
                },
            ),
            ("models", within(&other)),
            (
                "expires_at",
                Asked {
                    expires_at: None,
                    ..within(&models)
                },
            ),
            (
                "expires_at",
                Asked {
                    expires_at: Some(2_000_000_000_001),
                    ..within(&models)
                },
            ),
            (
                "allocation",
                Asked {
                    allocation: Some("other"),
                    ..within(&models)
                },
            ),
            (
                "rpm",
                Asked {
                    rpm: None,
                    ..within(&models)
                },
            ),
            (
                "rpm",
                Asked {
                    rpm: Some(11),
                    ..within(&models)
                },
            ),
            (
                "tpm",
                Asked {
                    tpm: Some(1001),
                    ..within(&models)
                },
            ),
        ];
        for (param, asked) in cases {
            let err = check(&minter, Some("team"), asked).unwrap_err();
            assert_eq!(err.param, Some(param), "{asked:?}: {}", err.message);
            assert_eq!(err.code, Some("wider_than_minting_key"));
            assert_eq!(err.kind, modelgate_core::ErrorKind::Forbidden);
        }
    }

    #[test]
    fn unbounded_keys_and_sessions_mint_anything() {
        let mut minter = narrow_key();
        minter.scopes = Scopes::ALL;
        minter.allowed_models = None;
        minter.expires_at_ms = None;
        minter.allocation_id = None;
        minter.limits = Limits::default();
        let wide = Asked {
            scopes: Scopes::ALL,
            models: None,
            expires_at: None,
            allocation: Some("any"),
            rpm: None,
            tpm: None,
        };
        assert_eq!(check(&minter, None, wide).unwrap().as_deref(), Some("any"));
        let mut session = narrow_key();
        session.csrf_token = Some("csrf".into());
        assert_eq!(
            check(&session, Some("team"), wide).unwrap().as_deref(),
            Some("any")
        );
    }
}
