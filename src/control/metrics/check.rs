//! A strict reader of the Prometheus text exposition format (version
//! 0.0.4), as the tests hold `wackatrl --metrics` to it: stricter than
//! Prometheus where our output has no reason to use a liberty (blank
//! lines, comments, timestamps, runs of spaces, trailing commas, types
//! other than gauge and counter, families without samples).
//!
//! - Every line ends with a newline, the last one included.
//! - A family is named by `# HELP` and `# TYPE` once each, both before its
//!   samples, and its lines are contiguous: a family never reappears.
//! - Metric names match `[a-zA-Z_:][a-zA-Z0-9_:]*` and start with
//!   `wackamole_`; label names match `[a-zA-Z_][a-zA-Z0-9_]*`, do not start
//!   with `__`, and appear once per sample.
//! - Label values are double-quoted with `\\`, `\"` and `\n` the only
//!   escapes; help text has `\\` and `\n` the only escapes.
//! - Values are Go floats (`1`, `-2.5e3`, `NaN`, `+Inf`, `-Inf`).
//! - Counters are named `..._total` and are neither negative nor NaN;
//!   gauges are not named `..._total`.
//! - No two samples share a name and label set (in any label order).

use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One sample, its label values unescaped.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sample {
    pub(super) name: String,
    pub(super) labels: Vec<(String, String)>,
    pub(super) value: f64,
}

/// A family's `# HELP` (unescaped) and `# TYPE`.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Family {
    pub(super) help: Option<String>,
    pub(super) kind: Option<String>,
    pub(super) samples: usize,
}

/// What an exposition holds.
#[derive(Debug, Default)]
pub(super) struct Exposition {
    pub(super) families: BTreeMap<String, Family>,
    pub(super) samples: Vec<Sample>,
}

impl Exposition {
    /// The value of the sample `name` with exactly these labels.
    pub(super) fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        self.samples
            .iter()
            .find(|s| {
                let mut have = s.labels.clone();
                have.sort();
                s.name == name && have == want
            })
            .map(|s| s.value)
    }

    /// The samples of family `name`.
    pub(super) fn of(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }
}

/// Reads `text`; the first fault found, with its line number.
pub(super) fn check(text: &str) -> Result<Exposition, String> {
    let Some(body) = text.strip_suffix('\n') else {
        return Err("the exposition does not end with a newline".to_string());
    };
    let mut out = Exposition::default();
    let mut current: Option<String> = None;
    let mut finished: HashSet<String> = HashSet::new();
    let mut series: HashSet<(String, BTreeSet<(String, String)>)> = HashSet::new();
    for (n, line) in body.split('\n').enumerate() {
        let fault = |what: String| format!("line {}: {what}: {line:?}", n + 1);
        let (name, step) = read_line(line).map_err(fault)?;
        if current.as_deref() != Some(name.as_str()) {
            if finished.contains(&name) {
                return Err(fault(format!("family {name} appears again")));
            }
            finished.extend(current.replace(name.clone()));
        }
        let family = out.families.entry(name.clone()).or_default();
        match step {
            Line::Help(help) => {
                if family.help.is_some() || family.samples > 0 {
                    return Err(fault("HELP twice or after the samples".to_string()));
                }
                family.help = Some(help);
            }
            Line::Type(kind) => {
                if family.kind.is_some() || family.samples > 0 {
                    return Err(fault("TYPE twice or after the samples".to_string()));
                }
                if kind == "counter" && !name.ends_with("_total") {
                    return Err(fault("a counter not named ..._total".to_string()));
                }
                if kind == "gauge" && name.ends_with("_total") {
                    return Err(fault("a gauge named ..._total".to_string()));
                }
                family.kind = Some(kind);
            }
            Line::Sample(labels, value) => {
                if family.help.is_none() || family.kind.is_none() {
                    return Err(fault("a sample before its HELP and TYPE".to_string()));
                }
                if family.kind.as_deref() == Some("counter") && (value.is_nan() || value < 0.0) {
                    return Err(fault("a counter below zero or NaN".to_string()));
                }
                family.samples += 1;
                let names: HashSet<&str> = labels.iter().map(|(n, _)| n.as_str()).collect();
                if names.len() != labels.len() {
                    return Err(fault("a label named twice".to_string()));
                }
                let key: BTreeSet<(String, String)> = labels.iter().cloned().collect();
                if !series.insert((name.clone(), key)) {
                    return Err(fault("a series given twice".to_string()));
                }
                out.samples.push(Sample {
                    name,
                    labels,
                    value,
                });
            }
        }
    }
    if let Some((name, _)) = out.families.iter().find(|(_, f)| f.samples == 0) {
        return Err(format!("family {name} has no samples"));
    }
    Ok(out)
}

enum Line {
    Help(String),
    Type(String),
    Sample(Vec<(String, String)>, f64),
}

/// One line: the family it belongs to and what it says.
fn read_line(line: &str) -> Result<(String, Line), String> {
    if let Some(rest) = line.strip_prefix("# HELP ") {
        let (name, help) = rest.split_once(' ').ok_or("HELP without text")?;
        return Ok((metric_name(name)?, Line::Help(unescape(help, false)?)));
    }
    if let Some(rest) = line.strip_prefix("# TYPE ") {
        let (name, kind) = rest.split_once(' ').ok_or("TYPE without a type")?;
        if !matches!(kind, "gauge" | "counter") {
            return Err(format!("type {kind:?}, expected gauge or counter"));
        }
        return Ok((metric_name(name)?, Line::Type(kind.to_string())));
    }
    if line.starts_with('#') {
        return Err("a comment that is neither HELP nor TYPE".to_string());
    }
    let end = line.find(['{', ' ']).ok_or("a sample without a value")?;
    let name = metric_name(&line[..end])?;
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            let eq = rest.find('=').ok_or("a label without `=`")?;
            let label = &rest[..eq];
            label_name(label)?;
            let (value, after) = quoted(&rest[eq + 1..])?;
            labels.push((label.to_string(), value));
            if let Some(after) = after.strip_prefix(',') {
                rest = after;
            } else if let Some(after) = after.strip_prefix('}') {
                rest = after;
                break;
            } else {
                return Err("labels not separated by `,` or closed by `}`".to_string());
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or("no single space before the value")?;
    Ok((name, Line::Sample(labels, float(value)?)))
}

fn metric_name(name: &str) -> Result<String, String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        return Err(format!("metric name {name:?}"));
    }
    if !name.starts_with("wackamole_") {
        return Err(format!(
            "metric name {name:?} without the wackamole_ prefix"
        ));
    }
    Ok(name.to_string())
}

fn label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || name.starts_with("__")
    {
        return Err(format!("label name {name:?}"));
    }
    Ok(())
}

/// A double-quoted label value at the start of `text`, and what follows.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let body = text
        .strip_prefix('"')
        .ok_or("a label value not in quotes")?;
    let mut escaped = false;
    for (at, c) in body.char_indices() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, '"') => return Ok((unescape(&body[..at], true)?, &body[at + 1..])),
            _ => escaped = false,
        }
    }
    Err("an unterminated label value".to_string())
}

/// Undoes the escapes of help text, or of a label value (which also
/// escapes `"`, and may hold no bare one).
fn unescape(text: &str, label: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('"') if label => out.push('"'),
                other => return Err(format!("escape \\{other:?}")),
            },
            '"' if label => return Err("a bare `\"` in a label value".to_string()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A value as Go's ParseFloat reads it, in the forms an exposition uses.
fn float(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => return Ok(f64::NAN),
        "+Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(at) => (&digits[..at], Some(&digits[at + 1..])),
        None => (digits, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok =
        all_digits(whole) && all_digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let exponent_ok = match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && all_digits(e)
        }
    };
    if !mantissa_ok || !exponent_ok {
        return Err(format!("value {text:?} is not a float"));
    }
    text.parse()
        .map_err(|_| format!("value {text:?} is not a float"))
}
