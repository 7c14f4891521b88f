//! Pipelines other than the master's extractor (which lives in
//! [`crate::extractor`]).
//!
//! * [`apply`]: local THL → target database, exactly once.

pub mod apply;
