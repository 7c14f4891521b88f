//! The master's extractor: source binlog → transactions → THL.
//!
//! * [`event_id`]: Tungsten's native event ids (`file:offset;session`).
//! * [`builder`]: groups decoded events into transactions and fragments.
//! * [`master`]: the pipeline: source connection → decoder → builder → THL.

pub mod builder;
pub mod event_id;
pub mod master;

pub use master::{run_master, ExtractError, MasterSettings};
