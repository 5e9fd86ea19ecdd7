//! The integration tests, in one binary. Each module below was a test
//! binary of its own and keeps its name, so `cargo test --test it
//! engine_sim::` runs what the module `engine_sim` holds (libtest matches
//! a filter anywhere in a test's path: `cluster::` also selects
//! `builtin_cluster::`, and `--exact` takes whole names). What every
//! module shares is the [`support`] tree, compiled once; its doc says how
//! tests of different modules run side by side in this one process.
//!
//! The modules that need root (network namespaces) or start the
//! `wackamole` binary are the `builtin_*`, `cluster`, `cli`, `manual`,
//! `membership_rotation`, `net_*`, `process_*` and `track_wire` ones; the others run anywhere, also under emulation
//! (etc/cross.sh selects them by name).

mod support;

mod builtin_cluster;
mod builtin_ipv6;
mod builtin_links;
mod builtin_port_unreachable;
mod builtin_promise;
mod builtin_track;
mod cli;
mod cluster;
mod config_errors;
mod config_parse;
mod endian_exchange;
mod engine_sim;
mod engine_transcript;
mod layers;
mod manual;
mod membership_hostile;
mod membership_rotation;
mod membership_scenarios;
mod membership_sim;
mod net_announce;
mod net_announce6;
mod net_arptable;
mod net_iface;
mod net_iface6;
mod net_linkwatch;
mod process_daemon;
mod process_signals;
mod spread_robustness;
mod spread_session;
mod spread_test_daemon;
mod spread_transcripts;
mod track_wire;
