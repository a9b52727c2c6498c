//! Secrets at rest and tokens: one 256-bit deployment key seals consumer credentials and webhook
//! signing secrets (AES-256-GCM, bound to where the ciphertext lives) and signs pull tokens
//! (HMAC-SHA256 under a key derived for that purpose). Password hashes for online access are
//! PBKDF2-HMAC-SHA256, deliberately slow. All of it is aws-lc, which the AWS SDK's TLS already
//! builds.

use std::num::NonZeroU32;

use aws_lc_rs::aead::{Aad, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::{hmac, pbkdf2};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The environment variable holding the deployment key (base64 of 32 random bytes).
pub const KEY_ENV: &str = "COVERDESK_SECRET_KEY";

/// PBKDF2-HMAC-SHA256 iterations for online-access passwords (OWASP's 2023 figure).
pub const PASSWORD_ITERATIONS: u32 = 600_000;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the deployment key must be base64 of 32 bytes, or a secret of at least 32 characters")]
    BadKey,
    #[error("a sealed value could not be opened (wrong key or tampered)")]
    Open,
    #[error("no randomness available")]
    Random,
    /// This function was deployed without the deployment key (it is given only to the functions
    /// that seal, open, sign or look up: `Route::needs_key`); reaching this is a bug.
    #[error("this function has no deployment key")]
    NoKey,
}

/// The keys derived from the deployment key, or none (a function that never seals, opens, signs
/// or looks up: it is not given the key at all).
pub struct Keys(Option<Derived>);

struct Derived {
    seal: RandomizedNonceKey,
    token: hmac::Key,
    webhook_ids: hmac::Key,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| CryptoError::Random)?;
    Ok(b)
}

/// A random identifier in the UUID v4 text form (ids are opaque to clients).
pub fn uuid() -> Result<String, CryptoError> {
    Ok(uuid::Builder::from_random_bytes(random_bytes::<16>()?).into_uuid().to_string())
}

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    let k = hmac::Key::new(hmac::HMAC_SHA256, master);
    let tag = hmac::sign(&k, label.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// A sealed value as stored: nonce and ciphertext with tag, base64.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sealed {
    pub n: String,
    pub c: String,
}

impl Keys {
    pub fn from_bytes(master: &[u8; 32]) -> Keys {
        let seal = RandomizedNonceKey::new(&AES_256_GCM, &derive(master, "coverdesk/seal/v1"))
            .expect("a 32-byte key is a valid AES-256 key");
        Keys(Some(Derived {
            seal,
            token: hmac::Key::new(hmac::HMAC_SHA256, &derive(master, "coverdesk/pull-jwt/v1")),
            webhook_ids: hmac::Key::new(hmac::HMAC_SHA256, &derive(master, "coverdesk/webhook-lookup/v1")),
        }))
    }

    /// No key: every use is [`CryptoError::NoKey`].
    pub fn absent() -> Keys {
        Keys(None)
    }

    fn derived(&self) -> Result<&Derived, CryptoError> {
        self.0.as_ref().ok_or(CryptoError::NoKey)
    }

    /// The key as Secrets Manager keeps it (the stack generates `{"key": "<64 letters and
    /// digits>"}`), or as an operator put it there: `key` (or the whole secret string) is either
    /// base64 of 32 bytes (an existing deployment's key, kept as it was) or a string of at least
    /// 32 characters, from which the 32-byte key is derived (HKDF-SHA256 extract).
    pub fn from_secret(secret: &str) -> Result<Keys, CryptoError> {
        let text = match serde_json::from_str::<serde_json::Value>(secret) {
            Ok(serde_json::Value::Object(m)) => m.get("key").and_then(|k| k.as_str()).map(str::to_string),
            _ => Some(secret.to_string()),
        }
        .ok_or(CryptoError::BadKey)?;
        let text = text.trim();
        if let Ok(k) = Keys::from_base64(text) {
            return Ok(k);
        }
        if text.chars().count() < 32 {
            return Err(CryptoError::BadKey);
        }
        let salt = hmac::Key::new(hmac::HMAC_SHA256, b"coverdesk deployment key v1");
        let mut master = [0u8; 32];
        master.copy_from_slice(hmac::sign(&salt, text.as_bytes()).as_ref());
        Ok(Keys::from_bytes(&master))
    }

    pub fn from_base64(text: &str) -> Result<Keys, CryptoError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| CryptoError::BadKey)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Keys::from_bytes(&arr))
    }

    pub fn generate_base64() -> Result<String, CryptoError> {
        Ok(STANDARD.encode(random_bytes::<32>()?))
    }

    /// Seals `plain`; `context` names where the value lives, so a sealed value copied elsewhere
    /// does not open.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<Sealed, CryptoError> {
        let mut data = plain.to_vec();
        let nonce = self
            .derived()?
            .seal
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| CryptoError::Open)?;
        Ok(Sealed { n: STANDARD.encode(nonce.as_ref()), c: STANDARD.encode(data) })
    }

    pub fn open(&self, context: &str, sealed: &Sealed) -> Result<Vec<u8>, CryptoError> {
        let nonce = STANDARD.decode(&sealed.n).map_err(|_| CryptoError::Open)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Open)?;
        let mut data = STANDARD.decode(&sealed.c).map_err(|_| CryptoError::Open)?;
        let plain = self
            .derived()?
            .seal
            .open_in_place(aws_lc_rs::aead::Nonce::from(&nonce), Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| CryptoError::Open)?;
        Ok(plain.to_vec())
    }

    /// A pull token: `header.claims.signature`, HS256 JWT form.
    pub fn sign_token(&self, claims: &serde_json::Value) -> Result<String, CryptoError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let input = format!("{header}.{body}");
        let sig = hmac::sign(&self.derived()?.token, input.as_bytes());
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }

    /// The claims of a token this deployment signed, `Ok(None)` for any other (constant-time
    /// check).
    pub fn verify_token(&self, token: &str) -> Result<Option<serde_json::Value>, CryptoError> {
        let key = &self.derived()?.token;
        Ok(Self::claims(key, token))
    }

    fn claims(key: &hmac::Key, token: &str) -> Option<serde_json::Value> {
        let (input, sig) = token.rsplit_once('.')?;
        let (header, body) = input.split_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        hmac::verify(key, input.as_bytes(), &sig).ok()?;
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg").and_then(|v| v.as_str()) != Some("HS256") {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
    }

    /// A keyed digest used as a lookup key for a secret-ish value (a consumer's username), so the
    /// store never holds it in clear.
    pub fn lookup_key(&self, value: &str) -> Result<String, CryptoError> {
        let tag = hmac::sign(&self.derived()?.webhook_ids, value.as_bytes());
        Ok(hex::encode(&tag.as_ref()[..16]))
    }
}

/// `t=<unix>,s=<hex HMAC-SHA256(secret, "t.body")>`: the webhook signature header value.
pub fn webhook_signature(secret: &str, unix: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(unix.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    format!("t={unix},s={}", hex::encode(tag.as_ref()))
}

/// Checks a webhook signature header in constant time (what a receiver does).
pub fn verify_webhook_signature(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut s = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("s", v)) => s = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(s)) = (t, s) else { return false };
    let Some(sig) =
        (0..s.len() / 2).map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = t.to_string().into_bytes();
    msg.push(b'.');
    msg.extend_from_slice(body);
    hmac::verify(&key, &msg, &sig).is_ok()
}

/// A slow salted password hash as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PasswordHash {
    pub alg: String,
    pub iterations: u32,
    pub salt: String,
    pub hash: String,
}

pub fn hash_password(password: &str) -> Result<PasswordHash, CryptoError> {
    let salt = random_bytes::<16>()?;
    let mut out = [0u8; 32];
    let iterations = NonZeroU32::new(PASSWORD_ITERATIONS).expect("non-zero");
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, password.as_bytes(), &mut out);
    Ok(PasswordHash {
        alg: "pbkdf2-sha256".into(),
        iterations: PASSWORD_ITERATIONS,
        salt: STANDARD.encode(salt),
        hash: STANDARD.encode(out),
    })
}

/// Constant-time check of a password against its stored hash.
pub fn verify_password(stored: &PasswordHash, password: &str) -> bool {
    let (Ok(salt), Ok(hash), Some(iterations)) =
        (STANDARD.decode(&stored.salt), STANDARD.decode(&stored.hash), NonZeroU32::new(stored.iterations))
    else {
        return false;
    };
    stored.alg == "pbkdf2-sha256"
        && pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, password.as_bytes(), &hash).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_bytes(&[7u8; 32])
    }

    #[test]
    fn sealed_values_open_only_in_their_context_and_only_untampered() {
        let k = keys();
        let s = k.seal("cred:t:p1", b"hunter22").unwrap();
        assert_eq!(k.open("cred:t:p1", &s).unwrap(), b"hunter22");
        assert!(k.open("cred:t:p2", &s).is_err());
        let mut bad = s.clone();
        bad.c = STANDARD.encode(b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        assert!(k.open("cred:t:p1", &bad).is_err());
        assert!(Keys::from_bytes(&[8u8; 32]).open("cred:t:p1", &s).is_err());
    }

    #[test]
    fn tokens_verify_and_refuse_tampering() {
        let k = keys();
        let t = k.sign_token(&serde_json::json!({"pull_id": "p", "exp": 5})).unwrap();
        assert_eq!(k.verify_token(&t).unwrap().unwrap()["pull_id"], "p");
        let forged = t.replacen('.', ".x", 1);
        assert!(k.verify_token(&forged).unwrap().is_none());
        assert!(Keys::from_bytes(&[1u8; 32]).verify_token(&t).unwrap().is_none());
        assert!(k.verify_token("a.b").unwrap().is_none());
    }

    #[test]
    fn without_the_key_every_use_is_refused_by_name() {
        let none = Keys::absent();
        assert!(matches!(none.seal("c", b"x"), Err(CryptoError::NoKey)));
        assert!(matches!(none.sign_token(&serde_json::json!({})), Err(CryptoError::NoKey)));
        assert!(matches!(none.verify_token("a.b.c"), Err(CryptoError::NoKey)));
        assert!(matches!(none.lookup_key("u"), Err(CryptoError::NoKey)));
    }

    #[test]
    fn a_secrets_manager_key_reads_as_generated_or_as_an_existing_base64_key() {
        // What the stack generates: 64 letters and digits under "key".
        let generated = format!("{{\"key\": \"{}\"}}", "a1B2".repeat(16));
        let k = Keys::from_secret(&generated).unwrap();
        let sealed = k.seal("c", b"x").unwrap();
        assert_eq!(Keys::from_secret(&generated).unwrap().open("c", &sealed).unwrap(), b"x", "stable derivation");
        assert!(Keys::from_secret(&format!("{{\"key\": \"{}\"}}", "z9Y8".repeat(16)))
            .unwrap()
            .open("c", &sealed)
            .is_err());
        // An existing deployment's base64 key, moved into the secret, opens what it sealed before.
        let b64 = STANDARD.encode([7u8; 32]);
        let old = Keys::from_bytes(&[7u8; 32]).seal("c", b"y").unwrap();
        assert_eq!(Keys::from_secret(&format!("{{\"key\": \"{b64}\"}}")).unwrap().open("c", &old).unwrap(), b"y");
        assert_eq!(Keys::from_secret(&b64).unwrap().open("c", &old).unwrap(), b"y");
        // Too short, or no key in the JSON.
        assert!(Keys::from_secret("short").is_err());
        assert!(Keys::from_secret(r#"{"other": "x"}"#).is_err());
    }

    #[test]
    fn webhook_signatures_match_the_documented_construction() {
        let h = webhook_signature("whsec_x", 1700000000, b"{}");
        assert!(h.starts_with("t=1700000000,s="));
        assert!(verify_webhook_signature("whsec_x", &h, b"{}"));
        assert!(!verify_webhook_signature("whsec_y", &h, b"{}"));
        assert!(!verify_webhook_signature("whsec_x", &h, b"{ }"));
    }

    /// Known answers made outside this crate (openssl 3 and Python's `cryptography`), so a
    /// changed construction cannot pass by agreeing with itself:
    ///
    /// ```text
    /// S='coverdesk-known-answer-secret-0123456789'
    /// MASTER=$(printf '%s' "$S" | openssl dgst -sha256 -hmac 'coverdesk deployment key v1' -r)
    /// TOK=$(printf 'coverdesk/pull-jwt/v1' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$MASTER -r)
    /// SEAL=$(printf 'coverdesk/seal/v1' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$MASTER -r)
    /// LOOK=$(printf 'coverdesk/webhook-lookup/v1' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$MASTER -r)
    /// token: base64url('{"alg":"HS256","typ":"JWT"}').base64url('{"sub":"pull_known"}').
    ///        base64url(HMAC-SHA256(TOK, header.body))
    /// webhook: printf '1700000000.{"event":"PULL_COMPLETED"}' | openssl dgst -sha256 -hmac whsec_known
    /// lookup: first 16 bytes of HMAC-SHA256(LOOK, 'jane.doe@example.com')
    /// sealed: AESGCM(SEAL).encrypt(nonce=bytes(range(12)), b'the consumer password', aad=b'T#team#P#pull/CRED')
    /// ```
    const KNOWN_SECRET: &str = "coverdesk-known-answer-secret-0123456789";

    #[test]
    fn known_answers_made_outside_the_crate() {
        let keys = Keys::from_secret(KNOWN_SECRET).unwrap();
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwdWxsX2tub3duIn0.B8-BmHzWEI3p8njpRIKrPTgaJXDX0Nt8_5ZvypRn8rE";
        assert_eq!(keys.sign_token(&serde_json::json!({"sub": "pull_known"})).unwrap(), token);
        assert_eq!(keys.verify_token(token).unwrap(), Some(serde_json::json!({"sub": "pull_known"})));
        assert_eq!(
            webhook_signature("whsec_known", 1700000000, br#"{"event":"PULL_COMPLETED"}"#),
            "t=1700000000,s=67b85f71e8d75604b46781b8f10853fa7e1a46841d3223ff8c5b5d75fe238672"
        );
        assert_eq!(keys.lookup_key("jane.doe@example.com").unwrap(), "a093253b6e8e52192db49862892a55a5");
        let sealed =
            Sealed { n: "AAECAwQFBgcICQoL".into(), c: "yMAiht4wVDIXcnPdIUPEGrhtQ3v6Z8PcQT7bF8uhZxvzeK856w==".into() };
        assert_eq!(keys.open("T#team#P#pull/CRED", &sealed).unwrap(), b"the consumer password");
        assert!(keys.open("T#team#P#other/CRED", &sealed).is_err(), "another context");
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct hors"));
    }
}
