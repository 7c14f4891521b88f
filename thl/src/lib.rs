//! The Transaction History Log (THL).
//!
//! * [`event`]: the event model, one [`event::ReplEvent`] per transaction or
//!   fragment.
//! * [`codec`]: the versioned binary encoding of event bodies.
//! * [`record`]: record framing (length, CRC32, type) and the event header
//!   that is readable without decoding the body.
//! * [`store`]: the segmented, memory-mapped log on disk: one writer with
//!   group commit, any number of readers, recovery, purge and retention.
//! * [`faults`]: named crash points for fault-injection tests (feature
//!   `failpoints`).
//! * [`display`]: events and values as text (`thl list` layouts, SQL
//!   literals).
//! * `testing`: the edge values of every `Value` variant shared by the
//!   tests (feature `testing`, enabled by the dev-dependencies).
//!
//! The byte layouts are documented in `thl/FORMAT.md`.

pub mod codec;
pub mod display;
pub mod event;
pub mod faults;
pub mod record;
pub mod seqno;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
