//! Pipelines other than the master's extractor (which lives in
//! [`crate::extractor`]).
//!
//! * [`apply`]: local THL → target database, exactly once.
//! * [`retention`]: THL retention that never purges what a reader needs.
//! * [`slave`]: the slave and relay pipelines (THL client, apply, relay server).

pub mod apply;
pub mod retention;
pub mod slave;

pub use slave::{run_slave, SlaveError, SlaveSettings};
