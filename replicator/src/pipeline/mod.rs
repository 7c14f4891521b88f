//! The pipelines a replication service runs, built from the leaves
//! (`source`, `binlog`, `extractor`, `thl_net`, `applier`, `catalog`) and
//! run by the service layer, which imports this one (never the other way).
//!
//! * [`master`]: source binlog → local THL, served downstream.
//! * [`slave`]: upstream THL → local THL → target database; a relay also
//!   serves its THL.
//! * [`apply`]: local THL → target database, exactly once; [`channels`]:
//!   by shard on several connections (`channels=N`).
//! * [`serve`]: serving a THL and recording its readers' acknowledgements.
//! * [`retention`]: THL retention that never purges what a reader needs.
//! * [`progress`]: what a pipeline reports (the service reads it).
//! * [`skip`]: the transactions the apply stage is told to skip.

pub mod apply;
pub mod channels;
pub mod dependencies;
pub mod master;
pub mod progress;
pub mod retention;
pub mod scheduler;
pub mod serve;
pub mod skip;
pub mod slave;

pub use master::{run_master, ExtractError, MasterSettings};
pub use slave::{run_slave, SlaveError, SlaveSettings};
