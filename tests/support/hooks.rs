//! A webhook receiver on loopback: a real HTTP server that records every delivery and checks its
//! signature as an integrator would, from the README's construction, with its own HMAC (not the
//! crate's signer or verifier, so a changed construction fails here).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use super::api::{TestApi, Transport};

#[derive(Clone, Debug)]
pub struct Received {
    pub body: Value,
    pub signature_ok: bool,
}

#[derive(Default)]
pub struct ReceiverState {
    pub secret: String,
    pub got: Vec<Received>,
    /// Answer 500 to this many requests first.
    pub fail_first: usize,
    pub seen: usize,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let st = st.clone();
                        async move {
                            let sig = req
                                .headers()
                                .get("coverdesk-signature")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            let bytes = req.into_body().collect().await.unwrap().to_bytes();
                            let mut s = st.lock().unwrap();
                            s.seen += 1;
                            let status = if s.seen <= s.fail_first {
                                500
                            } else {
                                let ok = signature_ok(&s.secret, &sig, &bytes);
                                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                                s.got.push(Received { body, signature_ok: ok });
                                200
                            };
                            let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"ok")));
                            *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(r)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Receiver { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn events_of(&self, pull: &str) -> Vec<Received> {
        self.events_about("pull_id", pull)
    }

    /// The deliveries whose body's `field` (`pull_id`, `batch_id`) is `id`.
    pub fn events_about(&self, field: &str, id: &str) -> Vec<Received> {
        self.state.lock().unwrap().got.iter().filter(|r| r.body[field] == id).cloned().collect()
    }

    /// Waits until the pull's events include one of `event_type`.
    pub async fn wait_for(&self, pull: &str, event_type: &str, count: usize) -> Vec<Received> {
        self.wait_about("pull_id", pull, event_type, count).await
    }

    /// Waits until the import batch's events include `count` of `event_type`.
    pub async fn wait_for_batch(&self, batch: &str, event_type: &str, count: usize) -> Vec<Received> {
        self.wait_about("batch_id", batch, event_type, count).await
    }

    async fn wait_about(&self, field: &str, id: &str, event_type: &str, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.events_about(field, id);
            if got.iter().filter(|r| r.body["event_type"] == event_type).count() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no {event_type} webhook for {id}; got {:?}",
            self.events_about(field, id).iter().map(|r| r.body.clone()).collect::<Vec<_>>()
        )
    }
}

/// A servicing suite's world: an API on one transport, and a receiver registered as the team's
/// webhook.
pub struct World {
    pub api: TestApi,
    pub hooks: Receiver,
}

pub async fn world(t: Transport) -> World {
    let api = TestApi::new(t).await;
    let hooks = Receiver::start().await;
    let r = api.post(&format!("/teams/{}/webhooks", api.team), json!({"url": hooks.url()})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = r.body["signing_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    hooks.state.lock().unwrap().secret = secret;
    World { api, hooks }
}

/// The pull as the team reads it.
pub async fn pull(w: &World, id: &str) -> Value {
    let r = w.api.get(&format!("/teams/{}/pulls/{id}", w.api.team)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["pull"].clone()
}

/// Waits for the pull to reach `status`.
pub async fn wait_status(w: &World, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = pull(w, id).await;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("pull {id} never reached {status}: {last}");
}

/// `t=<unix>,s=<hex HMAC-SHA256(secret, "<unix>.<body>")>`, checked with an HMAC written here from
/// RFC 2104 over SHA-256 (the `sha2` crate), as a receiver in another language would.
pub fn signature_ok(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut s = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("s", v)) => s = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(s)) = (t, s) else { return false };
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    hmac_sha256(secret.as_bytes(), &message).iter().map(|b| format!("{b:02x}")).collect::<String>() == s
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new().chain_update(k.map(|b| b ^ 0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(k.map(|b| b ^ 0x5c)).chain_update(inner).finalize().into()
}

#[test]
fn the_receivers_hmac_gives_the_known_answer() {
    // printf '1700000000.{"event":"PULL_COMPLETED"}' | openssl dgst -sha256 -hmac whsec_known
    let h = "t=1700000000,s=67b85f71e8d75604b46781b8f10853fa7e1a46841d3223ff8c5b5d75fe238672";
    assert!(signature_ok("whsec_known", h, br#"{"event":"PULL_COMPLETED"}"#));
    assert!(!signature_ok("whsec_other", h, br#"{"event":"PULL_COMPLETED"}"#));
    assert!(!signature_ok("whsec_known", h, br#"{"event":"PULL_COMPLETED" }"#));
}
