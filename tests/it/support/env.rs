//! Numbers that tune a test run from the environment. A variable that is
//! set but is not a number stops the run with its name and value: a typo
//! in `WACKAMOLE_MSIM_SEED=12x` must not quietly run the default batch.

/// The number in variable `name`, or `None` when it is unset or empty.
///
/// # Panics
///
/// When it is set to something that is not a whole number.
pub fn number(name: &str) -> Option<u64> {
    let value = std::env::var_os(name)?;
    let text = value
        .to_str()
        .unwrap_or_else(|| panic!("{name}={value:?} is not a number"));
    if text.is_empty() {
        return None;
    }
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text:?} is not a number: {e}")),
    )
}
