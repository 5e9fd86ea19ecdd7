//! spread layer.
