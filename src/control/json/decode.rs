//! The JSON status document read back into its types ([`super`]),
//! as `wackatrl -l` and the tests read it.
//!
//! The text is first read into a [`Value`] tree, which checks the grammar
//! and bounds the nesting, so no reply can make decoding panic or loop.
//! Fields the document does not know are skipped; a missing or `null`
//! optional field reads as `None`; anything else that does not fit is an
//! error naming the field by its path (`vifs[1].addresses[0].prefix_len`).

use std::fmt;

use super::value::{parse_object, Value};
use super::{
    JsonAddress, JsonLink, JsonMember, JsonMembership, JsonMembershipView, JsonNode, JsonQuorum,
    JsonRefused, JsonService, JsonStatus, JsonTracker, JsonVif,
};

/// Why a document is not a status document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Where: a field path, or `byte N` for a grammar error.
    pub at: String,
    /// What was expected there.
    pub expected: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: expected {}", self.at, self.expected)
    }
}

impl std::error::Error for DecodeError {}

impl JsonStatus {
    /// Reads a status document.
    pub fn decode(text: &str) -> Result<JsonStatus, DecodeError> {
        decode_object(text)
    }
}

/// Reads one JSON object of `text` into `T`.
pub(in crate::control) fn decode_object<T: FromValue>(text: &str) -> Result<T, DecodeError> {
    let value = parse_object(text).map_err(|e| DecodeError {
        at: format!("byte {}", e.offset),
        expected: e.expected.to_string(),
    })?;
    T::from_value(&value).map_err(|e| DecodeError {
        at: e.path,
        expected: e.expected.to_string(),
    })
}

/// A field that does not fit, with the path to it built on the way out.
pub(in crate::control) struct Misfit {
    path: String,
    expected: &'static str,
}

impl Misfit {
    /// A misfit of the value at hand, which should have been `expected`.
    pub(in crate::control) fn new(expected: &'static str) -> Misfit {
        Misfit {
            path: String::new(),
            expected,
        }
    }

    /// The same misfit seen from one level up, through `step`.
    pub(in crate::control) fn within(mut self, step: &str) -> Misfit {
        self.path = if self.path.is_empty() || self.path.starts_with('[') {
            format!("{step}{}", self.path)
        } else {
            format!("{step}.{}", self.path)
        };
        self
    }
}

/// A type read from one JSON value.
pub(in crate::control) trait FromValue: Sized {
    /// Reads `value`, or says what was expected where.
    fn from_value(value: &Value) -> Result<Self, Misfit>;
}

/// An object's members, read field by field.
pub(in crate::control) struct Fields<'a>(&'a [(String, Value)]);

impl<'a> Fields<'a> {
    /// The members of `value`, which must be an object.
    pub(in crate::control) fn of(value: &'a Value) -> Result<Fields<'a>, Misfit> {
        match value {
            Value::Object(members) => Ok(Fields(members)),
            _ => Err(Misfit::new("an object")),
        }
    }

    fn find(&self, name: &str) -> Option<&'a Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The member `name`, which must be there.
    pub(in crate::control) fn required<T: FromValue>(&self, name: &str) -> Result<T, Misfit> {
        match self.find(name) {
            Some(value) => T::from_value(value).map_err(|m| m.within(name)),
            None => Err(Misfit::new("the field").within(name)),
        }
    }

    /// The member `name`; absent and `null` are both `None`.
    pub(in crate::control) fn optional<T: FromValue>(
        &self,
        name: &str,
    ) -> Result<Option<T>, Misfit> {
        match self.find(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::from_value(value).map(Some).map_err(|m| m.within(name)),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<bool, Misfit> {
        match value {
            Value::Bool(b) => Ok(*b),
            _ => Err(Misfit::new("true or false")),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<String, Misfit> {
        match value {
            Value::String(s) => Ok(s.clone()),
            _ => Err(Misfit::new("a string")),
        }
    }
}

/// Integers written as plain digits (with a sign where the type has
/// one) that fit the type.
macro_rules! integer_from_value {
    ($($int:ty => $expected:literal),*) => {$(
        impl FromValue for $int {
            fn from_value(value: &Value) -> Result<$int, Misfit> {
                match value {
                    Value::Number(text) => text.parse().map_err(|_| Misfit::new($expected)),
                    _ => Err(Misfit::new($expected)),
                }
            }
        }
    )*};
}

integer_from_value!(
    u8 => "an integer from 0 to 255",
    u32 => "an integer from 0 to 4294967295",
    i32 => "a 32-bit integer",
    u64 => "an integer from 0 to 2^64 - 1",
    usize => "a count"
);

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value) -> Result<Vec<T>, Misfit> {
        let Value::Array(items) = value else {
            return Err(Misfit::new("an array"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_value(item).map_err(|m| m.within(&format!("[{i}]"))))
            .collect()
    }
}

impl FromValue for JsonStatus {
    fn from_value(value: &Value) -> Result<JsonStatus, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonStatus {
            state: f.required("state")?,
            mature: f.required("mature")?,
            identity: f.optional("identity")?,
            view_id: f.optional("view_id")?,
            member_count: f.required("member_count")?,
            vif_count: f.required("vif_count")?,
            acquired_count: f.required("acquired_count")?,
            held_count: f.required("held_count")?,
            members: f.required("members")?,
            vifs: f.required("vifs")?,
            service: f.optional("service")?,
            quorum: f.optional("quorum")?,
            trackers: f.optional("trackers")?,
        })
    }
}

impl FromValue for JsonTracker {
    fn from_value(value: &Value) -> Result<JsonTracker, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonTracker {
            kind: f.required("kind")?,
            target: f.required("target")?,
            state: f.required("state")?,
            since_ms: f.required("since_ms")?,
            last_result: f.required("last_result")?,
        })
    }
}

impl FromValue for JsonService {
    fn from_value(value: &Value) -> Result<JsonService, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonService {
            name: f.required("name")?,
            endpoint: f.required("endpoint")?,
            state: f.required("state")?,
            membership: f.optional("membership")?,
            error: f.optional("error")?,
        })
    }
}

impl FromValue for JsonMembership {
    fn from_value(value: &Value) -> Result<JsonMembership, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonMembership {
            node: f.required("node")?,
            incarnation: f.required("incarnation")?,
            view: f.optional("view")?,
            coordinator: f.optional("coordinator")?,
            changing_view: f.required("changing_view")?,
            views_installed: f.required("views_installed")?,
            dropped_multicasts: f.required("dropped_multicasts")?,
            refused: f.required("refused")?,
            nodes: f.required("nodes")?,
            lease: f.optional("lease")?,
            lease_remaining_ms: f.optional("lease_remaining_ms")?,
            key: f.optional("key")?,
            accepted_key: f.optional("accepted_key")?,
            unreachable_suspicions: f.optional("unreachable_suspicions")?,
        })
    }
}

impl FromValue for JsonMembershipView {
    fn from_value(value: &Value) -> Result<JsonMembershipView, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonMembershipView {
            ltime: f.required("ltime")?,
            coordinator: f.required("coordinator")?,
            incarnation: f.required("incarnation")?,
            members: f.required("members")?,
        })
    }
}

impl FromValue for JsonRefused {
    fn from_value(value: &Value) -> Result<JsonRefused, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonRefused {
            malformed: f.required("malformed")?,
            bad_mac: f.required("bad_mac")?,
            wrong_cluster: f.required("wrong_cluster")?,
            misdirected: f.required("misdirected")?,
            old_incarnation: f.required("old_incarnation")?,
            replayed: f.required("replayed")?,
        })
    }
}

impl FromValue for JsonNode {
    fn from_value(value: &Value) -> Result<JsonNode, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonNode {
            index: f.required("index")?,
            address: f.required("address")?,
            state: f.required("state")?,
            incarnation: f.optional("incarnation")?,
            last_heard_ms: f.optional("last_heard_ms")?,
            refused: f.required("refused")?,
            key: f.optional("key")?,
            links: f.optional("links")?.unwrap_or_default(),
            duplicates: f.optional("duplicates")?.unwrap_or_default(),
        })
    }
}

impl FromValue for JsonLink {
    fn from_value(value: &Value) -> Result<JsonLink, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonLink {
            address: f.required("address")?,
            state: f.required("state")?,
            last_heard_ms: f.optional("last_heard_ms")?,
        })
    }
}

impl FromValue for JsonQuorum {
    fn from_value(value: &Value) -> Result<JsonQuorum, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonQuorum {
            rule: f.required("rule")?,
            needed: f.required("needed")?,
            members: f.optional("members")?,
            met: f.required("met")?,
        })
    }
}

impl FromValue for JsonMember {
    fn from_value(value: &Value) -> Result<JsonMember, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonMember {
            index: f.required("index")?,
            name: f.required("name")?,
            address: f.optional("address")?,
            held: f.required("held")?,
            health: f.optional("health")?,
            servable: f.optional("servable")?,
        })
    }
}

impl FromValue for JsonVif {
    fn from_value(value: &Value) -> Result<JsonVif, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonVif {
            index: f.required("index")?,
            owner: f.optional("owner")?,
            priority: f.required("priority")?,
            priority_name: f.required("priority_name")?,
            addresses: f.required("addresses")?,
        })
    }
}

impl FromValue for JsonAddress {
    fn from_value(value: &Value) -> Result<JsonAddress, Misfit> {
        let f = Fields::of(value)?;
        Ok(JsonAddress {
            interface: f.required("interface")?,
            // Daemons before IPv6 sent IPv4 addresses only, and no family.
            family: f.optional("family")?.unwrap_or_else(|| "ipv4".to_string()),
            address: f.required("address")?,
            prefix_len: f.required("prefix_len")?,
            network_len: f.required("network_len")?,
            netmask: f.optional("netmask")?,
            broadcast: f.optional("broadcast")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::status_report::tests::sample_status;

    #[test]
    fn unknown_fields_are_skipped_and_absent_options_are_none() {
        let json = sample_status().to_json();
        let with_more = json.replacen('{', r#"{"later":{"x":[1,{"y":null}]},"#, 1);
        let parsed = JsonStatus::decode(&with_more).expect("unknown fields pass");
        assert_eq!(parsed, sample_status().json());
        let cut = json.find(r#","service":"#).expect("the service field");
        let older = format!("{}}}", &json[..cut]);
        let parsed = JsonStatus::decode(&older).expect("an older document");
        assert_eq!((parsed.service, parsed.quorum), (None, None));
    }

    #[test]
    fn a_field_that_does_not_fit_is_named_by_its_path() {
        let json = sample_status().to_json();
        let cases = [
            (
                json.replacen(r#""prefix_len":32"#, r#""prefix_len":300"#, 1),
                "vifs[0].addresses[1].prefix_len: expected an integer from 0 to 255",
            ),
            (
                json.replacen(r#""mature":true"#, r#""mature":1"#, 1),
                "mature: expected true or false",
            ),
            (
                json.replacen(r#""state":"RUN","#, "", 1),
                "state: expected the field",
            ),
            (
                json.replacen(r#""held":1"#, r#""held":-1"#, 1),
                "members[0].held: expected an integer from 0 to 4294967295",
            ),
            (
                json.replacen(r#""vifs":["#, r#""vifs":[7,"#, 1),
                "vifs[0]: expected an object",
            ),
            ("{\"state\":".to_string(), "byte 9: expected a value"),
        ];
        for (text, message) in cases {
            let err = JsonStatus::decode(&text).expect_err(message);
            assert_eq!(err.to_string(), message);
        }
    }
}
