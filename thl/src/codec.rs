//! The binary encoding of event bodies (placeholder: being written).
