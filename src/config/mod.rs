//! The configuration language of `wackamole.conf`: [`load`] a file or
//! [`parse`] text into a validated [`Config`], or get one [`Error`] that
//! names the file, line and column of the mistake. Nothing is half-applied:
//! a file with any error yields no `Config` at all.

#![forbid(unsafe_code)]

mod address;
mod error;
mod key;
mod keywords;
mod lexer;
mod membership_config;
mod model;
mod parser;
mod service;
mod summary;
mod validation;
mod values;

use std::path::Path;

pub use error::{Error, ErrorKind, Position, Warning, WarningKind};
pub use key::{
    load_key, load_keys, write_new_key, KeyFileError, MembershipKeys, MAX_KEY_LEN, MIN_KEY_LEN,
    NEW_KEY_LEN,
};
pub use keywords::{
    lookup as lookup_keyword, AnnounceParameter, BalanceParameter, CheckParameter, Directive,
    MembershipParameter, TrackParameter, ADDRESSES_PARAMETERS, ANNOUNCE_PARAMETERS,
    BALANCE_PARAMETERS, CHECK_PARAMETERS, DIRECTIVES, MEMBERSHIP_PARAMETERS, TRACK_PARAMETERS,
};
pub use membership_config::{
    own_index, MembershipConfig, OwnIndexError, Quorum, DEFAULT_MEMBERSHIP_PORT, MAX_LINKS,
    MAX_NODES,
};
pub use model::*;
pub use service::{ServiceConfig, SpreadConfig};
pub use summary::summary;
pub use values::{
    check_identity, format_interval, log_facility_name, parse_spread_address, IDENTITY_EXPECTED,
    SPREAD_EXPECTED,
};

/// Reads and parses the file at `path`; errors and warnings name it as
/// given.
pub fn load(path: &Path) -> Result<(Config, Vec<Warning>), Error> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| Error {
        file: file.clone(),
        position: None,
        kind: ErrorKind::Read(err),
    })?;
    parse(&text, &file)
}

/// Parses configuration `text`; `file` is the name errors carry.
pub fn parse(text: &str, file: &str) -> Result<(Config, Vec<Warning>), Error> {
    let end = lexer::end_position(text);
    let located = |(position, kind)| Error::at(file, position, kind);
    let tokens = lexer::tokenize(text).map_err(located)?;
    let parsed = parser::parse_tokens(&tokens, end).map_err(located)?;
    let late_warnings =
        validation::validate(&parsed.config, &parsed.spans, end).map_err(located)?;
    let mut warnings: Vec<Warning> = parsed
        .warnings
        .into_iter()
        .chain(late_warnings)
        .map(|(position, kind)| Warning {
            file: file.to_string(),
            position,
            kind,
        })
        .collect();
    warnings.sort_by_key(|w| w.position);
    Ok((parsed.config, warnings))
}
