//! The THL network protocol (`thl://host:port/`, default port 2112): a
//! server that streams a THL to downstream replicators, and a client that
//! pulls a remote THL into a local one. Tungsten's THL protocol in its
//! semantics (handshake with the client's last seqno and epoch, a server
//! that pushes records and heartbeats), with an encoding of our own: frames,
//! byte tables, resume and streaming rules, with golden bytes, are in
//! `replicator/PROTOCOL.md`.
//!
//! Invariants, first:
//!
//! * **What is served:** only records at or below the server's durable
//!   watermark (an in-process `Reader` with `Visibility::Durable`), as the
//!   exact bytes of the memory-mapped files (`RecordRef::raw_bytes`). A relay
//!   appends them verbatim (`Writer::append_raw`), so the bytes of a record
//!   are identical on every host of a chain.
//! * **When it is durable:** the client commits (group commit) each burst of
//!   received records and acknowledges upstream only its durable watermark;
//!   the server's owner may purge below the lowest acknowledged seqno
//!   (`on_ack`, [`ThlServer::clients`]).
//! * **Why there is no gap or duplicate:** a client resumes from the last
//!   record its own THL holds, (seqno, epoch, fragno, last_frag). The server
//!   accepts only if its history agrees at that point (same epoch, or that
//!   record purged but the next present) and starts exactly at the next
//!   needed seqno, from fragment 0 when the client holds part of a
//!   transaction (the client skips those fragments). Both ends check the
//!   record order on the stream, and the writer checks it once more.
//! * **Diverged or missing history is definite:** epoch mismatch, purged
//!   seqno, client ahead of server and protocol version stop the client with
//!   the server's text ([`ClientError::Definite`]); network trouble and
//!   silence (heartbeat timeout) are transient and retried with backoff.
//! * **Hostile input is bounded:** frame caps before allocation, handshake
//!   and write deadlines, a connection limit; a bad peer is closed with a
//!   WARN naming it and never affects another connection. Nothing panics
//!   on network input.
//!
//! Modules: [`frame`] (framing and message codec), [`handshake`] (the resume
//! rules as a pure function, record order), `server`, `client`, [`error`].

pub mod error;
pub mod frame;
pub mod handshake;

mod client;
mod server;

pub use client::{
    system_resolver, ClientConfig, ClientObserver, ClientProgress, Committed, LogPurger, ProgressHandle, Resolver,
    ThlClient, ThlUri, Unobserved,
};
pub use error::{ClientError, DefiniteKind, FrameError, NokCode};
pub use frame::Role;
pub use server::{AckCallback, AckInfo, ClientInfo, ServerConfig, ThlServer, DEFAULT_PORT};
