//! Pipelines other than the master's extractor (which lives in
//! [`crate::extractor`]).
//!
//! * [`apply`]: local THL → target database, exactly once.
//! * [`slave`]: the slave and relay pipelines (THL client, apply, relay server).

pub mod apply;
pub mod slave;

pub use slave::{run_slave, SlaveError, SlaveSettings};
