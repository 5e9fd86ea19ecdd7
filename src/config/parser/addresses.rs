//! The `Addresses { Lifetime = T  TakeoverWait = on }` block (ours): the
//! kernel lifetime of the VIF addresses, and whether survivors wait it
//! out before taking over.

use std::time::Duration;

use super::{bad_value, Located, Parser};
use crate::config::keywords::{AddressesParameter, ADDRESSES_PARAMETERS};
use crate::config::DEFAULT_ADDRESS_LIFETIME;

const PARAMETER: &str = "Lifetime or TakeoverWait inside Addresses";
const LIFETIME_EXPECTED: &str = "off or a lifetime of at least 1s";
const SWITCH_EXPECTED: &str = "on or off";

/// The kernel counts lifetimes in whole seconds.
const MIN_LIFETIME: Duration = Duration::from_secs(1);

impl Parser<'_> {
    pub(super) fn addresses(&mut self) -> Located<()> {
        let open = self.open_brace("Addresses")?;
        self.braced(
            open,
            PARAMETER,
            Some("a parameter (Lifetime, TakeoverWait) inside Addresses"),
            Self::addresses_parameter,
        )
    }

    fn addresses_parameter(&mut self) -> Located<()> {
        let (parameter, at) = self.keyword(ADDRESSES_PARAMETERS, PARAMETER)?;
        match parameter {
            AddressesParameter::Lifetime => {
                self.expect_equals("Lifetime")?;
                self.spans.lifetime = Some(at);
                if self.peek_is("off") || self.peek_is("0") {
                    self.next += 1;
                    self.config.addresses.lifetime = None;
                    return Ok(());
                }
                let value_at = self.peek().map_or(self.end, |t| t.position);
                let lifetime = self.interval()?;
                if lifetime < MIN_LIFETIME || lifetime.subsec_nanos() != 0 {
                    return Err(bad_value(
                        value_at,
                        format!("a Lifetime of {lifetime:?}"),
                        "off or a whole number of seconds, at least 1s",
                    ));
                }
                self.config.addresses.lifetime = Some(lifetime);
            }
            AddressesParameter::TakeoverWait => {
                self.expect_equals("TakeoverWait")?;
                let (word, value_at) = self.word(SWITCH_EXPECTED)?;
                let on = match word.to_ascii_lowercase().as_str() {
                    "on" | "yes" => true,
                    "off" | "no" => false,
                    _ => return Err(bad_value(value_at, format!("`{word}`"), SWITCH_EXPECTED)),
                };
                self.config.addresses.takeover_wait = on;
                self.spans.takeover_wait = on.then_some(at);
            }
        }
        Ok(())
    }

    /// At the end of the file: the default lifetime (with the built-in
    /// membership, unless written), and a TakeoverWait that has no
    /// lifetime to wait for.
    pub(super) fn finish_addresses(&mut self) -> Located<()> {
        if self.spans.lifetime.is_none() && self.membership.is_some() {
            self.config.addresses.lifetime = Some(DEFAULT_ADDRESS_LIFETIME);
        }
        if let (Some(at), None) = (self.spans.takeover_wait, self.config.addresses.lifetime) {
            return Err(bad_value(
                at,
                "TakeoverWait = on without a Lifetime".to_string(),
                LIFETIME_EXPECTED,
            ));
        }
        Ok(())
    }
}
