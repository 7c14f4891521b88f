//! A minimal blocking HTTP/1.1 client for the replicator's REST API (one
//! request per connection, `Connection: close`), so trepctl needs no async
//! runtime.
//!
//! Invariants: nothing read from the network is trusted: a malformed
//! response is a [`ClientError::Protocol`], never a panic; the response is
//! capped at [`MAX_RESPONSE`] bytes; every connect and read has a timeout.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64::Engine as _;
use control::responses::ErrorBody;
use serde_json::Value;

use crate::cli::Target;

/// The largest response accepted.
pub const MAX_RESPONSE: u64 = 64 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request failed, worded for the operator.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientError {
    Unreachable { url: String, cause: String },
    Unauthorized { url: String, message: String },
    Api { status: u16, message: String },
    Protocol { url: String, message: String },
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable { url, cause } => {
                write!(f, "cannot reach the replicator at {url}: {cause}; is it running? (check -host/-port)")
            }
            ClientError::Unauthorized { url, message } => write!(
                f,
                "the replicator at {url} refused the credentials: {message}; pass -user/-password, or --config tungsten.ini to read rest-api-admin-user/-password"
            ),
            ClientError::Api { message, .. } => f.write_str(message),
            ClientError::Protocol { url, message } => write!(f, "bad answer from {url}: {message}"),
        }
    }
}

fn io_cause(e: &std::io::Error) -> String {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return format!(
            "TLS: {tls} (the ini's ssl-ca must be the CA that signed the replicator's certificate; --insecure skips \
             the check)"
        );
    }
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed out".into(),
        _ => e.to_string(),
    }
}

/// Sends one request; the JSON answer, or the API's error message.
pub fn request(
    target: &Target,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<Value, ClientError> {
    let unreachable = |cause: String| ClientError::Unreachable {
        url: target.url.clone(),
        cause,
    };
    let addrs: Vec<_> = target
        .addr
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve: {e}")))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = stream.ok_or_else(|| unreachable(last.as_ref().map_or_else(|| "no address".into(), io_cause)))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(CONNECT_TIMEOUT));
    let raw = match &target.tls {
        None => exchange(stream, target, method, path, body),
        Some(tls) => {
            let conn = rustls::ClientConnection::new(crate::tls::client_config(tls)?, crate::tls::server_name(tls)?)
                .map_err(|e| unreachable(format!("TLS: {e}")))?;
            exchange(rustls::StreamOwned::new(conn, stream), target, method, path, body)
        }
    }
    .map_err(|e| unreachable(io_cause(&e)))?;
    let (status, text) = parse_response(&raw).map_err(|message| ClientError::Protocol {
        url: target.url.clone(),
        message,
    })?;
    // An error answer is an `ErrorBody`; anything else (a proxy's page) is
    // shown as it came, with the status.
    let api_message = || {
        serde_json::from_str::<ErrorBody>(&text).map_or_else(|_| format!("HTTP {status}: {}", text.trim()), |b| b.error)
    };
    match status {
        200..=299 => Ok(serde_json::from_str(&text).unwrap_or(Value::String(text))),
        401 => Err(ClientError::Unauthorized {
            url: target.url.clone(),
            message: api_message(),
        }),
        _ => Err(ClientError::Api {
            status,
            message: api_message(),
        }),
    }
}

/// Writes the request on `stream` and reads the whole answer (at most
/// [`MAX_RESPONSE`] bytes). A TLS peer that closes without its
/// close_notify after a complete answer is not an error.
fn exchange<S: Read + Write>(
    mut stream: S,
    target: &Target,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<Vec<u8>> {
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        target.addr,
        payload.len()
    );
    if let (Some(u), Some(p)) = (&target.user, &target.password) {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{}", p.expose()));
        head.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(payload.as_bytes())?;
    stream.flush()?;
    let mut raw = Vec::new();
    match stream.take(MAX_RESPONSE).read_to_end(&mut raw) {
        Ok(_) => Ok(raw),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && parse_response(&raw).is_ok() => Ok(raw),
        Err(e) => Err(e),
    }
}

/// The status code and body of a raw HTTP/1.x response (plain,
/// content-length or chunked).
pub fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "headers are not UTF-8")?;
    let mut body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k == "content-length" {
                let n: usize = v.parse().map_err(|_| format!("bad content-length {v:?}"))?;
                body = body.get(..n).ok_or("body shorter than content-length")?;
            }
        }
    }
    let body = if chunked { dechunk(body)? } else { body.to_vec() };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk header")?;
        let size_text = std::str::from_utf8(&data[..eol]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("truncated chunk")?);
        data = data.get(size + 2..).ok_or("truncated chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_plain_and_chunked() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}extra";
        assert_eq!(parse_response(raw), Ok((200, "{}".into())));
        let raw = b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw), Ok((409, "abcde".into())));
        assert!(parse_response(b"garbage").is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n{}").is_err());
    }

    fn target(port: u16) -> Target {
        Target {
            addr: format!("127.0.0.1:{port}"),
            url: format!("http://127.0.0.1:{port}"),
            user: Some("u".into()),
            password: Some("p".into()),
            tls: None,
        }
    }

    #[test]
    fn a_closed_port_says_connection_refused_and_what_to_check() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let e = request(&target(port), "GET", "/x", None, Duration::from_secs(1)).expect_err("refused");
        let text = e.to_string();
        assert!(text.contains(&format!("cannot reach the replicator at http://127.0.0.1:{port}: connection refused; is it running? (check -host/-port)")), "{text}");
    }

    #[test]
    fn a_401_names_the_credentials() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).expect("read");
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let body = r#"{"error":"wrong user or password","status":401}"#;
            let _ = write!(
                s,
                "HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            req
        });
        let e = request(&target(port), "GET", "/x", None, Duration::from_secs(5)).expect_err("401");
        assert!(
            e.to_string()
                .contains("refused the credentials: wrong user or password; pass -user/-password"),
            "{e}"
        );
        let req = server.join().expect("server");
        assert!(req.contains("Authorization: Basic dTpw\r\n"), "{req}");
    }
}
