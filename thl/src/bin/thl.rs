//! The `thl` tool (placeholder: being written).
fn main() {
    eprintln!("thl: not built yet");
    std::process::exit(2);
}
