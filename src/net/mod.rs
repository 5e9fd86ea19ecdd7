//! net layer.
