//! The `replicator` daemon.
fn main() {
    eprintln!("replicator: the daemon is not built yet (see README: status)");
    std::process::exit(2);
}
