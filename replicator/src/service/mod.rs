//! Replication services: their live progress, their state machine, and the
//! pluggable pipelines behind them (the states and their transitions:
//! [`State`]; the whole picture: `ARCHITECTURE.md` §7).
//!
//! Invariants: a pipeline only reports [`Progress`]; the [`Manager`] alone
//! decides a service's [`State`]. A pipeline is whatever a
//! [`PipelineLauncher`] returns for the role in force; the daemon's
//! [`RoleLauncher`] runs the master's extractor for a master and the slave
//! pipeline for a slave or relay, and refuses with a definite error an
//! online option the pipeline cannot honour. Every control command
//! validates all its options before changing anything, and refuses (never
//! ignores) what it cannot honour.
//!
//! * what a pipeline reports (stored, applied, connected) is its
//!   [`Progress`] (`pipeline/progress.rs`), re-exported here.
//! * [`state`]: Tungsten's states and the pending error.
//! * [`options`]: `online` options (`-skip-seqno` lists, `-from-event`, ...).
//! * [`launcher`]: the pipeline contract ([`ServiceContext`],
//!   [`PipelineFailure`]) and [`RoleLauncher`].
//! * [`manager`]: the per-service state machine and the commands.
//! * [`status`]: the status map under Tungsten's names.
//! * [`db`]: heartbeats and `reset -db` on the local database.
//! * [`marker`]: the mark of an unfinished provision, which `online` refuses.
//! * [`reload`]: re-reading the ini on a running node (`trepctl reload`, SIGHUP).
//! * [`history`]: the last hour of each service, sampled for the status page.

pub mod commands;
pub mod db;
mod demotion;
pub mod error;
pub mod history;
pub mod launcher;
pub mod manager;
pub mod marker;
pub mod options;
mod promotion;
pub mod reload;
pub use control::state;
pub mod status;
pub mod supervisor;

pub use crate::pipeline::progress::{Activity, PipelineProgress, Progress};
pub use error::{ErrorKind, ServiceError};
pub use launcher::{
    pipeline, PipelineError, PipelineFailure, PipelineFuture, PipelineLauncher, RoleLauncher, ServiceContext,
};
pub use manager::Manager;
pub use options::{OnlineOptions, OnlineRequest, SkipSeqnos};
pub use state::{PendingError, State};
pub use supervisor::{ClientEntry, ClientsSource, ResetResponse, ResetScope, Service, WaitResponse};

#[cfg(test)]
pub(crate) mod tests;
