//! Golden files pin the THL network protocol's frames (`replicator/PROTOCOL.md`
//! §2-3): each message, built from fixed values, must encode to exactly the
//! bytes of `tests/golden/thl_net/<name>.bin`, and those bytes must decode
//! (through `FrameDecoder`, as a peer reads them) back to the same message.
//! One file per message type, plus a RESUME without a position (`-1`).
//!
//! A difference is a protocol change: bump `PROTOCOL_VERSION` and say so in
//! PROTOCOL.md. A missing file fails the test. Regenerate the files (after a
//! deliberate change) with
//! `BLESS=1 cargo test -p replicator --test thl_net_golden`.

use std::path::PathBuf;

use replicator::thl_net::frame::{
    encode_record, Ack, FrameDecoder, Heartbeat, Hello, Message, MsgType, Nok, OkMsg, Resume, HEADER_LEN,
    PROTOCOL_VERSION,
};
use replicator::thl_net::{NokCode, Role};
use thl::codec::encode_body;
use thl::event::{EventBody, EventHeader};
use thl::record::{self, MAX_RECORD_LEN};
use thl::seqno::{Epoch, Seqno};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/thl_net")
        .join(format!("{name}.bin"))
}

/// Compares `bytes` with the golden file `name` (writing it first under
/// `BLESS=1`). Fails when the file is missing or differs.
fn check_golden(name: &str, bytes: &[u8]) {
    let path = golden_path(name);
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        }
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
    let want = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (generate it with BLESS=1 cargo test -p replicator --test thl_net_golden)",
            path.display()
        )
    });
    assert!(
        want == bytes,
        "{name}: the encoding differs from {}:\n got  {:02x?}\n want {:02x?}",
        path.display(),
        bytes,
        want
    );
    // The header: length of the payload, then a known type.
    assert!(want.len() >= HEADER_LEN, "{name}: shorter than a header");
    let len = u32::from_le_bytes([want[0], want[1], want[2], want[3]]) as usize;
    assert_eq!(len, want.len() - HEADER_LEN, "{name}: len is the payload length");
}

/// Decodes the golden file `name` as a peer reads it: one whole frame,
/// nothing left over.
fn decode_one(name: &str) -> (MsgType, Vec<u8>) {
    let path = golden_path(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut d = FrameDecoder::new(MAX_RECORD_LEN);
    d.extend(&bytes);
    let frame = match d.next_frame() {
        Ok(Some(f)) => (f.msg_type, f.payload.to_vec()),
        Ok(None) => panic!("{name}: not a whole frame"),
        Err(e) => panic!("{name}: {e}"),
    };
    assert_eq!(d.buffered(), 0, "{name}: bytes after the frame");
    frame
}

/// A control message: golden bytes, then decoded back to itself.
fn check_message(name: &str, m: &Message) {
    check_golden(name, &m.to_bytes());
    let (t, payload) = decode_one(name);
    assert_eq!(t, m.msg_type(), "{name}: type byte");
    let decoded = Message::decode(t, &payload).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(&decoded, m, "{name}: decodes to another message");
}

#[test]
fn golden_hello() {
    assert_eq!(PROTOCOL_VERSION, 2, "a new version needs new golden files");
    check_message(
        "hello",
        &Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            role: Role::Master,
            min_seqno: Some(Seqno(0)),
            max_seqno: Some(Seqno(41)),
            durable_seqno: Some(Seqno(41)),
            max_record_len: MAX_RECORD_LEN,
            source_id: "db1".into(),
        }),
    );
}

#[test]
fn golden_resume() {
    check_message(
        "resume",
        &Message::Resume(Resume {
            version: PROTOCOL_VERSION,
            last_seqno: Some(Seqno(41)),
            last_epoch: Some(Epoch(0)),
            last_fragno: 0,
            last_frag: true,
            heartbeat_ms: 3000,
            client_id: "db2".into(),
            event_id: "mysql-bin.000002:0000000000001234;17".into(),
        }),
    );
}

/// A blank client: no position (`-1`), no event id.
#[test]
fn golden_resume_without_position() {
    check_message(
        "resume_blank",
        &Message::Resume(Resume {
            version: PROTOCOL_VERSION,
            last_seqno: None,
            last_epoch: None,
            last_fragno: 0,
            last_frag: true,
            heartbeat_ms: 3000,
            client_id: "db3".into(),
            event_id: String::new(),
        }),
    );
}

#[test]
fn golden_ok() {
    check_message(
        "ok",
        &Message::Ok(OkMsg {
            min_seqno: Some(Seqno(0)),
            max_seqno: Some(Seqno(41)),
            start_seqno: Some(Seqno(42)),
        }),
    );
}

#[test]
fn golden_nok() {
    check_message(
        "nok",
        &Message::Nok(Nok {
            code: NokCode::EpochMismatch,
            text: "epoch mismatch at seqno 41".into(),
        }),
    );
}

#[test]
fn golden_heartbeat() {
    check_message(
        "heartbeat",
        &Message::Heartbeat(Heartbeat {
            durable_seqno: Some(Seqno(41)),
            server_time_ms: 1_700_000_000_123,
        }),
    );
}

#[test]
fn golden_ack() {
    check_message(
        "ack",
        &Message::Ack(Ack {
            durable_seqno: Some(Seqno(41)),
            applied_seqno: None,
        }),
    );
}

fn record_header() -> EventHeader {
    EventHeader {
        seqno: Seqno(42),
        seqno_end: Seqno(42),
        fragno: 0,
        last_frag: true,
        epoch: Epoch(0),
        source_id: "db1".into(),
        event_id: "mysql-bin.000002:0000000000001299;17".into(),
        shard_id: "test".into(),
        source_tstamp_ms: 1_700_000_000_123,
        extract_tstamp_ms: 1_700_000_000_125,
    }
}

/// RECORD: the message header, then one THL record exactly as
/// `thl::record::encode_event` frames it (here with an empty body).
#[test]
fn golden_record() {
    let mut body = Vec::new();
    encode_body(&EventBody::default(), &mut body);
    let mut raw = Vec::new();
    record::encode_event(&record_header(), &body, &mut raw).expect("encode the record");
    let mut bytes = Vec::new();
    encode_record(&raw, &mut bytes);
    check_golden("record", &bytes);

    let (t, payload) = decode_one("record");
    assert_eq!(t, MsgType::Record);
    assert_eq!(payload, raw, "the payload is the record, byte for byte");
    let frame = record::parse_frame(&payload).unwrap_or_else(|e| panic!("record: {e}"));
    assert_eq!(frame.raw.len(), payload.len());
    let (header, body_at) = record::decode_event_header(frame.payload).unwrap_or_else(|e| panic!("record: {e}"));
    assert_eq!(header, record_header());
    assert_eq!(&frame.payload[body_at..], &body[..]);
}
