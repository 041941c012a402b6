//! Test keys, token minting and a tiny JWKS server shared by the
//! integration tests.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const ISSUER: &str = "https://idp.ringside.test";
pub const AUDIENCE: &str = "ringside-console";

fn fixtures() -> Value {
    serde_json::from_str(include_str!("../fixtures/test-keys.json")).expect("fixture json")
}

/// One of the committed RSA test key pairs (`rsa_a`, `rsa_b`).
pub struct RsaKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub public_pem: String,
    pub jwk: Value,
}

pub fn rsa_key(name: &str) -> RsaKey {
    let f = &fixtures()[name];
    let der = STANDARD
        .decode(f["private_pkcs1_der"].as_str().unwrap())
        .unwrap();
    let kid = f["kid"].as_str().unwrap().to_owned();
    RsaKey {
        jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                    "n": f["n"], "e": f["e"]}),
        kid,
        encoding: EncodingKey::from_rsa_der(&der),
        public_pem: f["public_pem"].as_str().unwrap().to_owned(),
    }
}

/// The committed P-256 test key pair: its kid, signing key and public JWK.
pub fn ec_key() -> (String, EncodingKey, Value) {
    let f = &fixtures()["ec_p256"];
    let der = STANDARD
        .decode(f["private_pkcs8_der"].as_str().unwrap())
        .unwrap();
    let kid = f["kid"].as_str().unwrap().to_owned();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": f["x"], "y": f["y"]});
    (kid, EncodingKey::from_ec_der(&der), jwk)
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims of a valid token for [`ISSUER`] / [`AUDIENCE`].
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "email": "alice@ringside.test",
        "groups": ["platform"],
        "realm_access": {"roles": ["admin"]},
        "iat": now(),
        "exp": now() + 300,
    })
}

pub fn sign(
    alg: Algorithm,
    kid: Option<&str>,
    typ: Option<&str>,
    claims: &Value,
    key: &EncodingKey,
) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub fn sign_rs256(key: &RsaKey, claims: &Value) -> String {
    sign(
        Algorithm::RS256,
        Some(&key.kid),
        Some("JWT"),
        claims,
        &key.encoding,
    )
}

/// A token with a hand-written header, for headers jsonwebtoken refuses to
/// produce (`alg: none`).
pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Serves one JSON document at any path over HTTP/1.1 on loopback, counting
/// requests. The document can be swapped to simulate key rotation.
pub struct JwksServer {
    pub url: String,
    document: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(document: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let document = Arc::new(Mutex::new(document));
        let hits = Arc::new(AtomicUsize::new(0));
        let (doc, count) = (document.clone(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let body = doc.lock().unwrap().to_string();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            url,
            document,
            hits,
            task,
        }
    }

    pub fn set(&self, document: Value) {
        *self.document.lock().unwrap() = document;
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
