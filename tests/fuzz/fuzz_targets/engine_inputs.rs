//! The allocation engine fed an arbitrary sequence of inputs: views of up
//! to six members, messages of every type from any member (bodies built
//! from the input's choices, well-formed or not, in either byte order),
//! timers, disconnections and ARP tables. Besides not panicking, the
//! engine must keep its promises to the driver: it acquires only VIFs it
//! does not hold and releases only VIFs it holds, all of them configured.

#![no_main]

use std::net::Ipv4Addr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wackamole::config::{AcquisitionsPerRound, Balance};
use wackamole::engine::codec::{
    encode_arp_cache, encode_balance, encode_holding, encode_proceed, encode_released, mess_type,
    ClaimPriority, Move, StateBody,
};
use wackamole::engine::{
    ArpEntry, Engine, GroupId, Input, Message, Output, Settings, Timer, View, VifIndex,
};
use wackamole_fuzz::Bytes;

const VIFS: usize = 6;
const NODES: usize = 6;

fn vif(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, 1 + i as u8)
}

fn identity(m: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 0, 1 + m as u8)
}

fn name(m: usize) -> String {
    format!("#n{m}#host")
}

/// An address the engine may know (a VIF or a node) or not.
fn address(input: &mut Bytes) -> Ipv4Addr {
    match input.below(4) {
        0 | 1 => vif(input.below(VIFS + 1)),
        2 => identity(input.below(NODES + 1)),
        _ => Ipv4Addr::from(input.u32()),
    }
}

fn priority(input: &mut Bytes) -> ClaimPriority {
    ClaimPriority::from_wire(input.below(6) as i32).unwrap_or(ClaimPriority::Claimed)
}

/// A message body: mostly well-formed for its type, sometimes raw bytes.
fn body(input: &mut Bytes, kind: i16, group_id: GroupId) -> Vec<u8> {
    if input.below(8) == 0 {
        return input.chunk().to_vec();
    }
    let group_id = if input.below(4) == 0 {
        GroupId::from_raw([input.u32(), input.u32(), input.u32()])
    } else {
        group_id
    };
    match kind {
        mess_type::STATE => StateBody {
            group_id,
            identity: identity(input.below(NODES)),
            index: input.below(NODES + 1) as i32,
            mature: input.bool(),
            held: (0..input.below(4))
                .map(|_| (address(input), priority(input)))
                .collect(),
            preferred: (0..input.below(3)).map(|_| address(input)).collect(),
        }
        .encode(),
        mess_type::BALANCE => encode_balance(
            &(0..input.below(4))
                .map(|_| Move {
                    owner: address(input),
                    vif: address(input),
                })
                .collect::<Vec<_>>(),
        ),
        mess_type::ARPCACHE => encode_arp_cache(
            &(0..input.below(3))
                .map(|_| ArpEntry {
                    addr: address(input),
                    mac: [2, 0, 0, 0, 0, input.u8()],
                })
                .collect::<Vec<_>>(),
        ),
        mess_type::PROCEED => encode_proceed(group_id),
        mess_type::HOLDING | mess_type::RELEASED => {
            let vifs: Vec<Ipv4Addr> = (0..input.below(4)).map(|_| address(input)).collect();
            if kind == mess_type::HOLDING {
                encode_holding(group_id, &vifs)
            } else {
                encode_released(group_id, &vifs)
            }
        }
        _ => Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let me = input.below(NODES);
    let mut engine = Engine::new(Settings {
        identity: identity(me),
        vifs: (0..VIFS).map(vif).collect(),
        preferred: (0..input.below(3)).map(|_| address(&mut input)).collect(),
        mature: Duration::from_secs(5),
        balance: Balance {
            acquisitions_per_round: if input.bool() {
                AcquisitionsPerRound::All
            } else {
                AcquisitionsPerRound::Limited(1 + input.below(3) as u32)
            },
            interval: Duration::from_secs(4),
        },
        state_wait: Duration::from_secs(10),
        arp_cache_interval: Duration::from_secs(60),
        release_unservable: false,
    });
    let mut held = [false; VIFS];
    let mut group_id = GroupId::from_raw([0; 3]);
    let mut members: Vec<usize> = Vec::new();
    let mut steps = 0;
    while !input.is_empty() && steps < 200 {
        steps += 1;
        let event = match input.below(8) {
            0 => Input::Connected,
            1 => Input::Disconnected,
            2 | 3 => {
                // Members in the group service's order, this node among them.
                let mut chosen: Vec<usize> = (0..NODES).filter(|_| input.bool()).collect();
                if !chosen.contains(&me) {
                    chosen.insert(input.below(chosen.len() + 1), me);
                }
                group_id =
                    GroupId::from_raw([input.u8().into(), 1, group_id.index.wrapping_add(1)]);
                members = chosen;
                Input::View(View {
                    group_id,
                    members: members.iter().map(|&m| name(m)).collect(),
                    my_index: members.iter().position(|&m| m == me).unwrap_or(0),
                })
            }
            4 | 5 => {
                let sender = if members.is_empty() || input.below(8) == 0 {
                    input.below(NODES + 1)
                } else {
                    members[input.below(members.len())]
                };
                let kind = input.below(10) as i16;
                Input::Message(Message {
                    sender: name(sender),
                    mess_type: kind,
                    endian_mismatch: input.below(4) == 0,
                    body: body(&mut input, kind, group_id),
                })
            }
            6 => Input::TimerFired(
                [
                    Timer::Maturity,
                    Timer::Balance,
                    Timer::StateWait,
                    Timer::ArpShare,
                    Timer::ReleaseWait,
                ][input.below(5)],
            ),
            _ => Input::LocalArpTable(
                (0..input.below(3))
                    .map(|_| ArpEntry {
                        addr: address(&mut input),
                        mac: [2, 0, 0, 0, 1, input.u8()],
                    })
                    .collect(),
            ),
        };
        for output in engine.handle(event) {
            match output {
                Output::Acquire(VifIndex(i)) => {
                    assert!(i < VIFS && !held[i], "acquired VIF {i}, held: {held:?}");
                    held[i] = true;
                }
                Output::Release(VifIndex(i)) => {
                    assert!(i < VIFS && held[i], "released VIF {i}, held: {held:?}");
                    held[i] = false;
                }
                Output::Hooks(_, VifIndex(i)) => assert!(i < VIFS),
                _ => {}
            }
        }
        for (i, &h) in held.iter().enumerate() {
            assert_eq!(engine.holds(VifIndex(i)), h, "VIF {i}");
        }
    }
});
