//! Placeholder: being filled in.
