//! The master's extractor: source binlog → transactions → THL.
//!
//! * [`event_id`]: Tungsten's native event ids (`file:offset;session`).
//! * [`builder`]: groups decoded events into transactions and fragments.
//! * [`create_table`]: `CREATE TABLE` statements whose engine the binlog
//!   does not say.
//! * [`master`]: the pipeline: source connection → decoder → builder → THL.

pub mod builder;
pub mod create_table;
pub mod event_id;
pub mod master;

pub use master::{run_master, ExtractError, MasterSettings};
