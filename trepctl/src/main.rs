//! `trepctl`, the operator CLI (a client of the replicator's REST API).
fn main() {
    eprintln!("trepctl: not built yet: the REST API it talks to comes with the control-plane issue");
    std::process::exit(2);
}
