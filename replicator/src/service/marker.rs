//! The mark of a provision in progress: a file beside the service's THL
//! directory (`<install>/thl/<service>.provisioning`) holding what is being
//! copied from where. While it exists, `online` refuses: the local data may
//! be half replaced (`replicator/src/provision/`).

use std::path::PathBuf;

use crate::config::ServicePlan;

/// The marker's path.
pub fn provision_marker(plan: &ServicePlan) -> PathBuf {
    let name = plan
        .thl_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| plan.service.clone());
    plan.thl_dir.with_file_name(format!("{name}.provisioning"))
}

/// The marker's text when a provision is unfinished (or when the marker
/// cannot be read: doubt counts as unfinished).
pub fn unfinished_provision(plan: &ServicePlan) -> Option<String> {
    let path = provision_marker(plan);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(format!("{} cannot be read: {e}", path.display())),
    }
}
