//! Record framing (placeholder: being written).
