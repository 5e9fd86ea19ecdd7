//! Reading a large configuration: 4,000 VIFs and 4,000 `Prefer` blocks,
//! parsed and turned into the preferred addresses of STATE, as every start
//! and every `-t` does. Two shapes of `Prefer`: every block a single VIF's
//! address (/32), and blocks of every width from /8 to /31 that overlap
//! and each hold many VIFs. Target: well under a second (the parse itself
//! takes milliseconds).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

const VIFS: usize = 4_000;
const BLOCKS: usize = 4_000;
const ROUNDS: usize = 5;

/// VIF `i`'s primary: 10.A.B.1 with A.B counting up.
fn primary(i: usize) -> String {
    format!("10.{}.{}.1", i / 250, i % 250)
}

fn file(prefer: impl Fn(usize) -> String) -> String {
    let mut text = String::from("Spread = 4803\nGroup = wack1\nPrefer {\n");
    for b in 0..BLOCKS {
        let _ = writeln!(text, "\t{}", prefer(b));
    }
    text.push_str("}\nVirtualInterfaces {\n");
    for i in 0..VIFS {
        let _ = writeln!(text, "\teth0:{}/24", primary(i));
    }
    text.push_str("}\n");
    text
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn measure(shape: &str, text: &str) {
    let mut parse = Vec::new();
    let mut preferred = Vec::new();
    let mut count = 0;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let (config, _) = wackamole::config::parse(black_box(text), "bench.conf")
            .unwrap_or_else(|e| panic!("the generated file does not parse: {e}"));
        parse.push(start.elapsed());
        let start = Instant::now();
        count = black_box(config.preferred_addresses()).len();
        preferred.push(start.elapsed());
    }
    println!(
        "config {VIFS} VIFs, {BLOCKS} Prefer blocks ({shape}): parse {:.2} ms, \
         preferred addresses {:.2} ms ({count} addresses; median of {ROUNDS})",
        median(parse).as_secs_f64() * 1e3,
        median(preferred).as_secs_f64() * 1e3,
    );
}

fn main() {
    // Backwards, so that the order of blocks and of VIFs differ.
    measure("/32 each", &file(|b| primary(BLOCKS - 1 - b)));
    measure(
        "/8../31, overlapping",
        &file(|b| format!("{}/{}", primary((b * 7) % VIFS), 8 + b % 24)),
    );
}
