//! API keys: the filing service's credential beside HTTP Basic (its import API takes a key in the
//! `apiKey` header or, discouraged, the `apikey` query parameter). Only the import API accepts
//! them (`api::authenticate_import`); a team has as many as it creates, each revoked on its own.
//!
//! A key is `cdk_` and 43 base64url characters (256 random bits). It carries no id: it is looked
//! up by its SHA-256 digest, in one read. Unsalted on purpose: the key is random, so its digest
//! cannot be guessed back, and an unsalted digest is what lets the key itself name its item (a
//! salt would need an id in the key to find the salt). The key is shown once, when created, and
//! stored nowhere; its digest is stored twice, so that a team can list and revoke its keys.
//!
//! The keys this file writes (with the team record, `TEAM#<client_id>` / `TEAM`, in `mod.rs`):
//!
//! | item | pk | sk | body |
//! |---|---|---|---|
//! | a key, found by its digest (every request) | `APIKEY#<sha-256 hex of the key>` | `KEY` | team id, client id, key id |
//! | a key, listed under its team (CLI) | `TEAM#<client_id>` | `KEY#<key id>` | key id, name, created, digest |
//!
//! Both are written and deleted together, in one transaction.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{random_hex, team_pk, team_record, AuthError};
use crate::store::{Cond, Item, Store, StoreError, Write};
use crate::types::TeamId;

/// What every key starts with: a key found in a log or a repository is recognisable.
pub const KEY_PREFIX: &str = "cdk_";
/// The characters after the prefix: 32 random bytes in unpadded base64url.
const KEY_CHARS: usize = 43;
/// The longest name a key may be given.
pub const MAX_NAME_CHARS: usize = 100;
/// The sort-key prefix of a team's keys in its partition.
const LISTED: &str = "KEY#";
const LOOKUP_SK: &str = "KEY";

fn lookup_pk(digest: &str) -> String {
    format!("APIKEY#{digest}")
}

fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `key` has the shape of a key this module issues; anything else is refused unread.
fn well_formed(key: &str) -> bool {
    key.strip_prefix(KEY_PREFIX)
        .is_some_and(|k| k.len() == KEY_CHARS && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// Whether `id` has the shape of a key id (`key_` and 16 hex digits).
fn valid_key_id(id: &str) -> bool {
    id.strip_prefix("key_").is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A team's key as it is listed: never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKey {
    pub key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The key's SHA-256, to find its lookup item when it is revoked.
    digest: String,
}

/// The lookup item's body: whose key it is.
#[derive(Debug, Serialize, Deserialize)]
struct KeyOwner {
    team_id: TeamId,
    client_id: String,
    key_id: String,
}

fn to_value<T: Serialize>(v: &T) -> Result<serde_json::Value, AuthError> {
    serde_json::to_value(v).map_err(|e| AuthError::Internal(crate::cause::cause(e)))
}

fn check_name(name: Option<&str>) -> Result<Option<String>, AuthError> {
    match name.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) if n.chars().count() <= MAX_NAME_CHARS && !n.chars().any(char::is_control) => Ok(Some(n.to_string())),
        Some(_) => Err(AuthError::InvalidKeyName),
    }
}

/// Creates a key for the team of `client_id`. Returns its listing and the key, which is shown
/// this once and never stored.
pub async fn create_api_key(
    store: &dyn Store,
    client_id: &str,
    name: Option<&str>,
) -> Result<(ApiKey, String), AuthError> {
    let name = check_name(name)?;
    let team = team_record(store, client_id).await?.ok_or_else(|| AuthError::NoSuchTeam(client_id.to_string()))?;
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| AuthError::Internal(crate::cause::cause(format!("random bytes: {e}"))))?;
    let key = format!("{KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random));
    let listed =
        ApiKey { key_id: format!("key_{}", random_hex(8)?), name, created_at: Utc::now(), digest: digest(&key) };
    let owner = KeyOwner { team_id: team.team_id, client_id: client_id.to_string(), key_id: listed.key_id.clone() };
    let writes = vec![
        Write::Put {
            item: Item::new(team_pk(client_id), format!("{LISTED}{}", listed.key_id), 1, to_value(&listed)?),
            cond: Cond::Absent,
        },
        Write::Put { item: Item::new(lookup_pk(&listed.digest), LOOKUP_SK, 1, to_value(&owner)?), cond: Cond::Absent },
    ];
    match store.transact(writes).await {
        Ok(()) => Ok((listed, key)),
        // 64 random bits of key id or 256 of key met an existing one: not a client's doing.
        Err(StoreError::ConditionFailed { .. }) => {
            Err(AuthError::Internal(crate::cause::cause("a new key id or key collided with a stored one")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The keys of the team of `client_id`, oldest first (key ids are random: sorted here by date).
pub async fn list_api_keys(store: &dyn Store, client_id: &str) -> Result<Vec<ApiKey>, AuthError> {
    if team_record(store, client_id).await?.is_none() {
        return Err(AuthError::NoSuchTeam(client_id.to_string()));
    }
    let mut keys = Vec::new();
    let mut after = None;
    loop {
        let page = store.query(&team_pk(client_id), LISTED, after.as_ref(), crate::store::MAX_PAGE).await?;
        for item in &page.items {
            keys.push(item.decode::<ApiKey>()?);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.key_id.cmp(&b.key_id)));
    Ok(keys)
}

/// Revokes one key of the team of `client_id`: from the moment this returns, the key is refused.
pub async fn revoke_api_key(store: &dyn Store, client_id: &str, key_id: &str) -> Result<(), AuthError> {
    let no_such_key = || AuthError::NoSuchKey { client_id: client_id.to_string(), key_id: key_id.to_string() };
    if !super::valid_client_id(client_id) || !valid_key_id(key_id) {
        return Err(no_such_key());
    }
    let pk = team_pk(client_id);
    let sk = format!("{LISTED}{key_id}");
    let item = store.get(&pk, &sk).await?.ok_or_else(no_such_key)?;
    let listed: ApiKey = item.decode()?;
    let writes = vec![
        Write::Delete { pk, sk, cond: Cond::Version(item.version) },
        Write::Delete { pk: lookup_pk(&listed.digest), sk: LOOKUP_SK.into(), cond: Cond::Any },
    ];
    match store.transact(writes).await {
        Ok(()) => Ok(()),
        // Revoked by someone else in between.
        Err(StoreError::ConditionFailed { .. }) => Err(no_such_key()),
        Err(e) => Err(e.into()),
    }
}

/// The team whose key `key` is, or 401: a malformed key is refused without a read, any other in
/// one read of its digest's item.
pub async fn authenticate_key(store: &dyn Store, key: &str) -> Result<TeamId, AuthError> {
    if !well_formed(key) {
        return Err(AuthError::Unauthenticated);
    }
    let item = store.get(&lookup_pk(&digest(key)), LOOKUP_SK).await?.ok_or(AuthError::Unauthenticated)?;
    let owner: KeyOwner = item.decode()?;
    Ok(owner.team_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_of_the_issued_shape_are_read() {
        let good = format!("{KEY_PREFIX}{}", "A".repeat(KEY_CHARS));
        assert!(well_formed(&good));
        assert!(well_formed(&format!("{KEY_PREFIX}{}-_", "z".repeat(KEY_CHARS - 2))));
        for bad in [
            String::new(),
            "cdk_".into(),
            good[..good.len() - 1].to_string(),
            format!("{good}A"),
            good.replace("cdk_", "cds_"),
            format!("{KEY_PREFIX}{}=", "A".repeat(KEY_CHARS - 1)),
            format!("{KEY_PREFIX}{}é", "A".repeat(KEY_CHARS - 2)),
        ] {
            assert!(!well_formed(&bad), "{bad:?}");
        }
    }

    #[test]
    fn the_digest_is_sha256_of_the_whole_key_and_names_its_item() {
        // printf cdk_x | sha256sum
        assert_eq!(digest("cdk_x"), "12672e462115a993d7d709403a0a1425faef719034a8ffd6b90260ad9f822731");
        assert_eq!(
            lookup_pk(&digest("cdk_x")),
            "APIKEY#12672e462115a993d7d709403a0a1425faef719034a8ffd6b90260ad9f822731"
        );
    }

    #[test]
    fn names_are_optional_short_and_plain() {
        assert_eq!(check_name(None).unwrap(), None);
        assert_eq!(check_name(Some("  ")).unwrap(), None);
        assert_eq!(check_name(Some(" nightly sync ")).unwrap().as_deref(), Some("nightly sync"));
        assert!(check_name(Some(&"n".repeat(MAX_NAME_CHARS))).is_ok());
        assert!(matches!(check_name(Some(&"n".repeat(MAX_NAME_CHARS + 1))), Err(AuthError::InvalidKeyName)));
        assert!(matches!(check_name(Some("a\nb")), Err(AuthError::InvalidKeyName)));
    }

    #[test]
    fn key_ids_have_one_shape() {
        assert!(valid_key_id("key_0123456789abcdef"));
        for bad in
            ["", "key_", "key_0123456789abcde", "key_0123456789abcdefa", "KEY_0123456789abcdef", "key_012345678g9abcde"]
        {
            assert!(!valid_key_id(bad), "{bad:?}");
        }
    }
}
