//! The log store (placeholder: being written).
