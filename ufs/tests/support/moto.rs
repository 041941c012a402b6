//! A real S3 server for tests: `moto_server` from PyPI's `moto[server]`, on a
//! free loopback port, killed when the handle drops.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str =
    "run `pip install \"moto[server]\"` (scripts/setup.sh does it; CI installs it)";

pub struct Moto {
    child: Child,
    pub addr: String,
    log: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts moto, or panics saying how to install it: the S3 tests must not
    /// pass without a real S3 server.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("no free loopback port")
            .port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto_server ({e}): {INSTALL}"));
        let mut moto = Moto {
            child,
            addr: format!("127.0.0.1:{port}"),
            log,
        };
        moto.wait_ready();
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "moto_server exited with {status} before serving; {INSTALL}\n{}",
                    self.log_text()
                );
            }
            if let Ok((200, _)) = http(&self.addr, "GET", "/") {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "moto_server did not answer on {} within 60 s\n{}",
                    self.addr,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Creates a bucket that anyone may list, so `keys` can look at it unsigned.
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = http_with(
            &self.addr,
            "PUT",
            &format!("/{bucket}"),
            "x-amz-acl: public-read\r\n",
        )
        .unwrap();
        assert_eq!(status, 200, "creating bucket {bucket}: {body}");
    }

    /// Puts an empty object with a key object_store cannot write, such as a
    /// folder marker ending in '/'.
    pub fn put_empty(&self, bucket: &str, key: &str) {
        let (status, body) =
            http(&self.addr, "PUT", &format!("/{bucket}/{}", encode_key(key))).unwrap();
        assert_eq!(status, 200, "putting {key:?}: {body}");
    }

    /// The raw ListObjectsV2 answer for keys under `prefix`, bypassing
    /// object_store: proves what the keys really are on the server.
    pub fn list_xml(&self, bucket: &str, prefix: &str) -> String {
        let (status, body) = http(
            &self.addr,
            "GET",
            &format!("/{bucket}?list-type=2&prefix={}", encode_segment(prefix)),
        )
        .unwrap();
        assert_eq!(status, 200, "listing {bucket}: {body}");
        body
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn encode_key(key: &str) -> String {
    key.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A bodyless HTTP/1.1 request; moto does not check signatures.
fn http(addr: &str, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    http_with(addr, method, path, "")
}

fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {text:.200}")))?;
    Ok((status, text))
}
