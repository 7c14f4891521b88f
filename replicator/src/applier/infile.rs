//! The file of a `LOAD DATA` logged as a statement (the THL statement's
//! `infile`), sent to the target when the statement, rewritten to `LOAD
//! DATA LOCAL INFILE` by the extractor, asks for it.
//!
//! Invariant: the handler is set on the connection right before the one
//! statement that reads it (mysql_async uses a connection's handler for
//! its next LOCAL INFILE request only), and it hands over the bytes the
//! binlog carried, whatever file name the statement says.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

/// One chunk, then the end.
struct Once(Option<Bytes>);

impl Stream for Once {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.take().map(Ok))
    }
}

/// `data` as the content of a LOCAL INFILE request.
pub fn infile_data(data: Vec<u8>) -> mysql_async::InfileData {
    Box::pin(Once(Some(Bytes::from(data))))
}

/// Makes the next `LOAD DATA LOCAL INFILE` of `conn` read `data`.
pub fn send_with_next_statement(conn: &mut mysql_async::Conn, data: Vec<u8>) {
    // The future must be Sync (mysql_async's bound): it holds the bytes
    // and makes the (Send-only) stream when polled.
    conn.set_infile_handler(async move { Ok(infile_data(data)) });
}
