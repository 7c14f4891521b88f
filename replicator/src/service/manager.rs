//! The services of a host: one [`Service`] per dataservice of the host's
//! plan, looked up by name, brought online together at start and shut
//! down together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{error, info};

use super::error::bad;
use super::launcher::PipelineLauncher;
use super::options::OnlineRequest;
use super::state::check_state_pattern;
use crate::config::HostPlan;

pub use super::error::{ErrorKind, ServiceError};
pub use super::supervisor::{ClientsSource, Service, ServiceView, OBSERVE_EVERY, OFFLINE_TIMEOUT};

/// Every service of the host.
#[derive(Debug)]
pub struct Manager {
    host: String,
    started: Instant,
    plan: HostPlan,
    services: Vec<Arc<Service>>,
    /// The last hour of each service (`history.rs`), sampled by a task
    /// started here.
    history: super::history::History,
}

impl Manager {
    /// Builds the services of `plan` (all OFFLINE:NORMAL).
    pub fn new(plan: HostPlan, launcher: Arc<dyn PipelineLauncher>) -> Arc<Manager> {
        let services = plan
            .services
            .iter()
            .map(|s| Service::new(s.clone(), &plan.host, launcher.clone()))
            .collect();
        let history = super::history::History::new(
            plan.services.iter().map(|s| s.service.as_str()),
            super::history::CAPACITY,
            super::history::SAMPLE_EVERY,
        );
        let manager = Arc::new(Manager {
            host: plan.host.clone(),
            started: Instant::now(),
            plan,
            services,
            history,
        });
        super::history::spawn_sampler(Arc::downgrade(&manager), super::history::SAMPLE_EVERY);
        manager
    }

    /// The last hour of each service.
    pub fn history(&self) -> &super::history::History {
        &self.history
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn plan(&self) -> &HostPlan {
        &self.plan
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The REST listen address (for `rmiPort` and the like).
    pub fn rest_listen(&self) -> Option<SocketAddr> {
        self.plan.rest_listen
    }

    pub fn services(&self) -> &[Arc<Service>] {
        &self.services
    }

    /// The service called `name`, or a 404 listing the known ones.
    pub fn service(&self, name: &str) -> Result<&Arc<Service>, ServiceError> {
        self.services.iter().find(|s| s.name() == name).ok_or_else(|| {
            let known: Vec<&str> = self.services.iter().map(|s| s.name()).collect();
            ServiceError::new(
                ErrorKind::NotFound,
                format!("no service {name:?} on {}; services: {}", self.host, known.join(", ")),
            )
        })
    }

    /// Brings every service online (at start, with auto-enable); a service
    /// that cannot start is left OFFLINE:ERROR and logged.
    pub fn online_all(&self) {
        for s in &self.services {
            if let Err(e) = s.online(&OnlineRequest::default()) {
                error!(service = %s.name(), "cannot go online: {e}");
            }
        }
    }

    /// Takes every service offline at a transaction boundary (SIGTERM).
    pub async fn shutdown(&self) {
        let mut set = tokio::task::JoinSet::new();
        for s in &self.services {
            let s = s.clone();
            set.spawn(async move { (s.name().to_owned(), s.offline(false).await) });
        }
        while let Some(done) = set.join_next().await {
            match done {
                Ok((name, Ok(state))) => info!(service = %name, "{state}"),
                Ok((name, Err(e))) => error!(service = %name, "offline: {e}"),
                Err(e) => error!("offline task failed: {e}"),
            }
        }
    }

    /// Checks a `wait -state` pattern.
    pub fn check_state(want: &str) -> Result<(), ServiceError> {
        check_state_pattern(want).map_err(|e| bad(e.to_string()))
    }
}
