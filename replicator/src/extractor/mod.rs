//! Turning decoded binlog events into THL transactions (a leaf: the master
//! pipeline, `pipeline/master.rs`, runs it).
//!
//! * [`event_id`]: Tungsten's native event ids (`file:offset;session`).
//! * [`builder`]: groups decoded events into transactions and fragments.
//! * [`create_table`]: `CREATE TABLE` statements whose engine the binlog
//!   does not say.

pub mod builder;
pub mod create_table;
pub mod event_id;
