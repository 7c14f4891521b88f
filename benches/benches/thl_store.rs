//! THL store benchmark (placeholder: being written).
fn main() {}
