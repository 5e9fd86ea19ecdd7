//! A view change of 32 members and 254 VIFs, end to end on the leader:
//! the membership, all 32 STATE messages (claims, conflicts,
//! preferences), priority claim, claim unclaimed, the balancing plan and
//! the BALANCE coming back. Target: under 2 ms per view change.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use wackamole::config::{AcquisitionsPerRound, Balance};
use wackamole::engine::codec::{mess_type, ClaimPriority, StateBody};
use wackamole::engine::{Engine, GroupId, Input, Message, Output, Settings, View};

const MEMBERS: usize = 32;
const VIFS: usize = 254;
const ROUNDS: u32 = 2_000;

fn vif(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, 0, i as u8 + 1)
}

fn identity(m: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 0, m as u8 + 1)
}

fn name(m: usize) -> String {
    format!("#wack{m}#node{m}")
}

/// Member `m`'s STATE for view `gid`: the 31 older members share the VIFs
/// round-robin, the leader (a newcomer) holds nothing, eight members
/// prefer one VIF each (two of them the same one).
fn state(m: usize, gid: GroupId) -> Vec<u8> {
    let held = if m == 0 {
        Vec::new()
    } else {
        (0..VIFS)
            .filter(|v| v % (MEMBERS - 1) == m - 1)
            .map(|v| (vif(v), ClaimPriority::Claimed))
            .collect()
    };
    let preferred = if (1..=8).contains(&m) {
        vec![vif((m * 29) % VIFS), vif(7)]
    } else {
        Vec::new()
    };
    StateBody {
        group_id: gid,
        identity: identity(m),
        index: m as i32,
        mature: true,
        held,
        preferred,
    }
    .encode()
}

fn message(m: usize, mess_type: i16, body: Vec<u8>) -> Message {
    Message {
        sender: name(m),
        mess_type,
        endian_mismatch: false,
        body,
    }
}

fn main() {
    let settings = Settings {
        identity: identity(0),
        vifs: (0..VIFS).map(vif).collect(),
        preferred: Vec::new(),
        mature: Duration::from_secs(5),
        balance: Balance {
            acquisitions_per_round: AcquisitionsPerRound::All,
            interval: Duration::from_secs(4),
        },
        state_wait: Duration::from_secs(10),
        arp_cache_interval: Duration::from_secs(60),
        release_unservable: false,
    };
    let mut engine = Engine::new(settings);
    engine.handle(Input::Connected);
    let members: Vec<String> = (0..MEMBERS).map(name).collect();

    let mut view_time = Duration::ZERO;
    let mut state_time = Duration::ZERO;
    let mut balance_time = Duration::ZERO;
    let mut moves_seen = 0usize;
    for round in 0..ROUNDS {
        let gid = GroupId::from_raw([0x0a00_0001, 1, round + 1]);
        let states: Vec<Message> = (0..MEMBERS)
            .map(|m| message(m, mess_type::STATE, state(m, gid)))
            .collect();
        let view = View {
            group_id: gid,
            members: members.clone(),
            my_index: 0,
        };

        let start = Instant::now();
        black_box(engine.handle(Input::View(view)));
        let after_view = Instant::now();
        let mut last = Vec::new();
        for s in states {
            last = engine.handle(Input::Message(s));
        }
        let after_states = Instant::now();
        let balance = last
            .into_iter()
            .find_map(|o| match o {
                Output::Multicast {
                    mess_type: mess_type::BALANCE,
                    body,
                    ..
                } => Some(body),
                _ => None,
            })
            .expect("the leader balances a newcomer holding nothing");
        moves_seen += (balance.len() - 4) / 8;
        black_box(engine.handle(Input::Message(message(0, mess_type::BALANCE, balance))));
        let end = Instant::now();

        view_time += after_view - start;
        state_time += after_states - after_view;
        balance_time += end - after_states;
    }
    let total = view_time + state_time + balance_time;
    let per_view = total / ROUNDS;
    let per_state = state_time / (ROUNDS * MEMBERS as u32);
    println!("engine: view change, {MEMBERS} members, {VIFS} VIFs, {ROUNDS} rounds");
    println!(
        "engine: {:>9.1} us per view change (target < 2000 us)",
        per_view.as_secs_f64() * 1e6
    );
    println!(
        "engine: {:>9.2} us per STATE message (incl. settling after the last one)",
        per_state.as_secs_f64() * 1e6
    );
    println!(
        "engine: {:>9.2} us per membership, {:.2} us per BALANCE ({} moves each)",
        (view_time / ROUNDS).as_secs_f64() * 1e6,
        (balance_time / ROUNDS).as_secs_f64() * 1e6,
        moves_seen / ROUNDS as usize
    );
}
