//! The configuration language of `wackamole.conf`.

mod model;

pub use model::*;
