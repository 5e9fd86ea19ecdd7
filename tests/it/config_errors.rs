//! Malformed configurations: each is refused whole, with the exact line and
//! column of the mistake and a message saying what was found and what was
//! expected.

use crate::support::scratch;

use scratch::Scratch;
use wackamole::config::{self, ErrorKind};
use wackamole::membership::TimingError;

const ONE_VIF: &str = "VirtualInterfaces { eth0:10.0.0.5/24 }\n";

struct Case {
    text: &'static str,
    /// Appends a valid VIF list, so the case fails only for its own reason.
    with_vif: bool,
    line: usize,
    column: usize,
    /// Fragments the message must contain.
    gist: &'static [&'static str],
}

const fn case(
    text: &'static str,
    with_vif: bool,
    line: usize,
    column: usize,
    gist: &'static [&'static str],
) -> Case {
    Case {
        text,
        with_vif,
        line,
        column,
        gist,
    }
}

impl Case {
    /// The whole configuration the case parses.
    fn config_text(&self) -> String {
        if self.with_vif {
            format!("{}\n{ONE_VIF}", self.text)
        } else {
            self.text.to_string()
        }
    }
}

const CASES: &[Case] = &[
    // Unknown keywords and stray tokens.
    case(
        "Spred = 4803",
        true,
        1,
        1,
        &["found `Spred`", "expected a directive"],
    ),
    case("= 5", true, 1, 1, &["found `=`", "expected a directive"]),
    case(
        "\"Group\" = x",
        true,
        1,
        1,
        &["found \"Group\"", "expected a directive"],
    ),
    case(
        "VirtualInterfaces { eth0:10.0.0.5 }\n}",
        false,
        2,
        1,
        &["found `}`", "expected a directive"],
    ),
    // Missing `=` or value.
    case(
        "Group wack1",
        true,
        1,
        7,
        &["found `wack1`", "expected `=` after Group"],
    ),
    case(
        "Mature 5s",
        true,
        1,
        8,
        &["found `5s`", "expected `=` after Mature"],
    ),
    case(
        "Group =",
        false,
        1,
        8,
        &["found the end of the file", "expected a Spread group name"],
    ),
    // Unbalanced braces.
    case(
        "VirtualInterfaces {\n  eth0:10.0.0.5\n",
        false,
        3,
        1,
        &[
            "found the end of the file",
            "block opened at line 1, column 19",
        ],
    ),
    case(
        "VirtualInterfaces {\n  { eth0:10.0.0.5 eth1:10.1.0.5\n}\n",
        false,
        4,
        1,
        &[
            "found the end of the file",
            "block opened at line 1, column 19",
        ],
    ),
    case(
        "VirtualInterfaces eth0:10.0.0.5",
        false,
        1,
        19,
        &[
            "found `eth0:10.0.0.5`",
            "expected `{` after VirtualInterfaces",
        ],
    ),
    case(
        "Balance AcquisitionsPerRound = 2",
        true,
        1,
        9,
        &["found `AcquisitionsPerRound`", "expected `{` after Balance"],
    ),
    // IPv6 addresses.
    case(
        "VIFs {\n  eth0:2001:db8::zz/64\n}",
        false,
        2,
        8,
        &[
            "found `2001:db8::zz`",
            "an IPv6 address such as 2001:db8::10",
        ],
    ),
    case(
        "VIFs { eth0:2001:db8::10/129 }",
        false,
        1,
        26,
        &["found 129", "a prefix length of 0 to 128"],
    ),
    case(
        "VIFs { eth0:2001:db8::10/64n64 }",
        false,
        1,
        28,
        &["found `n`", "nNET is for IPv4 only"],
    ),
    case(
        "VIFs { eth0:ff02::1 }",
        false,
        1,
        8,
        &["found ff02::1, which cannot be an interface's own address"],
    ),
    case(
        "VIFs { 2001:db8::10/64 }",
        false,
        1,
        8,
        &[
            "found `2001:db8::10` without an interface",
            "IF:IPV6[/BITS]",
        ],
    ),
    case(
        "Prefer 2001:db8::10",
        true,
        1,
        8,
        &[
            "found IPv6 address 2001:db8::10",
            "an IPv4 address in Prefer",
        ],
    ),
    case(
        "Identity = 2001:db8::1",
        true,
        1,
        12,
        &[
            "found IPv6 address 2001:db8::1",
            "an IPv4 address in Identity",
        ],
    ),
    case(
        "Notify { eth0:2001:db8::/64 }",
        true,
        1,
        10,
        &["found `eth0:2001:db8::/64`", "one IPv6 neighbour IF:IPV6"],
    ),
    case(
        "Membership { Nodes { 2001:db8::1 } Key = /k }",
        true,
        1,
        22,
        &["found `2001:db8::1`", "a node address A.B.C.D"],
    ),
    case(
        "Announce { Refresh = 500ms }",
        true,
        1,
        22,
        &["found a Refresh of 500ms", "off or a period of at least 1s"],
    ),
    case(
        "Announce { Resend = 5s }",
        true,
        1,
        12,
        &["found `Resend`", "Refresh inside Announce"],
    ),
    case(
        "Addresses { Lifetime = 500ms }",
        true,
        1,
        24,
        &[
            "found a Lifetime of 500ms",
            "whole number of seconds, at least 1s",
        ],
    ),
    case(
        "Addresses { Lifetime = 5s Linger = 1s }",
        true,
        1,
        27,
        &[
            "found `Linger`",
            "Lifetime or TakeoverWait inside Addresses",
        ],
    ),
    case(
        "Track { }",
        true,
        1,
        9,
        &[
            "found `}`",
            "a tracker (Interface, Command or File) inside Track",
        ],
    ),
    case(
        "Track { Ping = 10.0.0.1 }",
        true,
        1,
        9,
        &[
            "found `Ping`",
            "Interface, Command, File, HoldDown or Unservable",
        ],
    ),
    case(
        "Track { Interface = eth0:1 }",
        true,
        1,
        21,
        &["found interface name `eth0:1`", "an interface name"],
    ),
    case(
        "Track {\n  Interface = eth1\n  Interface = eth1\n}",
        true,
        3,
        15,
        &["found interface eth1 tracked a second time"],
    ),
    case(
        "Track { File = drain }",
        true,
        1,
        16,
        &["found path \"drain\"", "absolute path"],
    ),
    case(
        "Track { Command = \"  \" }",
        true,
        1,
        19,
        &["found an empty command"],
    ),
    case(
        "Track { Command = \"c\" { Fall = 0 } }",
        true,
        1,
        32,
        &["found Fall `0`", "a count of at least 1"],
    ),
    case(
        "Track { Command = \"c\" { Rise = two } }",
        true,
        1,
        32,
        &["found Rise `two`", "a count of at least 1"],
    ),
    case(
        "Track { Command = \"c\" { Interval = 1s Timeout = 1s } }",
        true,
        1,
        47,
        &[
            "found a Timeout of 1s with an Interval of 1s",
            "a Timeout below the command's Interval",
        ],
    ),
    case(
        "Track { Command = \"c\" { Interval = 0s } }",
        true,
        1,
        36,
        &["an interval above zero for Interval"],
    ),
    case(
        "Track { Command = \"c\" { Every = 1s } }",
        true,
        1,
        25,
        &["found `Every`", "Interval, Timeout, Fall or Rise"],
    ),
    case(
        "Track { Command = \"c\" { } }",
        true,
        1,
        25,
        &["found `}`", "a setting (Interval, Timeout, Fall or Rise)"],
    ),
    case("Track { HoldDown = soon }", true, 1, 20, &["found `soon`"]),
    case(
        "Track { Interface = eth1 Unservable = drop }",
        true,
        1,
        39,
        &["found `drop`", "keep or release"],
    ),
    case(
        "Track { Interface = eth1",
        false,
        1,
        25,
        &[
            "the end of the file",
            "`}` closing the block opened at line 1, column 7",
        ],
    ),
    case(
        "Addresses { TakeoverWait = maybe }",
        true,
        1,
        28,
        &["found `maybe`", "expected on or off"],
    ),
    case(
        "Spread = 4803\nAddresses { TakeoverWait = on }",
        true,
        2,
        13,
        &[
            "found TakeoverWait = on without a Lifetime",
            "a lifetime of at least 1s",
        ],
    ),
    // Bad addresses.
    case(
        "VirtualInterfaces {\n  eth0:10.0.300.5\n}",
        false,
        2,
        13,
        &["found 300 in `eth0:10.0.300.5`", "an octet of 0 to 255"],
    ),
    case(
        "VIFs { eth0:10.0.0.5/33 }",
        false,
        1,
        22,
        &["found 33", "a prefix length of 0 to 32"],
    ),
    case(
        "VIFs { eth0:10.0.0.5/32n33 }",
        false,
        1,
        25,
        &["found 33", "a network length of 0 to 32"],
    ),
    case(
        "VIFs { eth0:10.0.0 }",
        false,
        1,
        19,
        &["found the end of `eth0:10.0.0`", "expected `.`"],
    ),
    case(
        "VIFs { eth0:10.0.0.5/24x }",
        false,
        1,
        24,
        &["found `x` in `eth0:10.0.0.5/24x`", "`/BITS` or `nNET`"],
    ),
    case(
        "VIFs { abcdefghijklmnop:10.0.0.5 }",
        false,
        1,
        8,
        &[
            "interface name `abcdefghijklmnop` (16 bytes)",
            "at most 15 bytes",
        ],
    ),
    case(
        "VIFs { :10.0.0.5 }",
        false,
        1,
        8,
        &["no interface name", "expected an interface name"],
    ),
    case(
        "VIFs { 10.0.0.5 }",
        false,
        1,
        8,
        &["`10.0.0.5` without an interface", "IF:A.B.C.D"],
    ),
    case(
        "Prefer www.example.com",
        true,
        1,
        8,
        &["found `w` in `www.example.com`", "an octet"],
    ),
    // Empty blocks and duplicate VIFs.
    case(
        "VirtualInterfaces { }",
        false,
        1,
        21,
        &["found `}`", "at least one VIF"],
    ),
    case(
        "VIFs { { } }",
        false,
        1,
        10,
        &["found `}`", "expected a VIF address"],
    ),
    case(
        "Group = wack1\n",
        false,
        2,
        1,
        &["found no VIF", "VirtualInterfaces block"],
    ),
    case(
        "VIFs {\n eth0:10.0.0.5\n eth0:10.0.0.5/24\n}",
        false,
        3,
        2,
        &["found 10.0.0.5 again", "first listed at line 2, column 2"],
    ),
    case(
        "VIFs {\n { eth0:10.0.0.5 eth1:192.0.2.1 }\n { eth0:10.0.0.6 eth1:192.0.2.1 }\n}",
        false,
        3,
        18,
        &["found 192.0.2.1 again", "first listed at line 2, column 18"],
    ),
    case(
        "Balance { }",
        true,
        1,
        11,
        &["found `}`", "at least one parameter"],
    ),
    case(
        "Balance {\n  Rate = 2\n}",
        true,
        2,
        3,
        &["found `Rate`", "AcquisitionsPerRound or Interval"],
    ),
    case(
        "Balance { AcquisitionsPerRound = many }",
        true,
        1,
        34,
        &["found `many`", "a number of VIFs or `all`"],
    ),
    case(
        "Prefer { }",
        true,
        1,
        10,
        &["found `}`", "at least one address inside Prefer"],
    ),
    // Bad values.
    case(
        "Mature = 5x",
        true,
        1,
        10,
        &["found `5x`", "an interval: digits and a unit"],
    ),
    case(
        "SpreadRetryInterval = 5",
        true,
        1,
        23,
        &["found `5`", "an interval"],
    ),
    case(
        "Arp-Cache = 0s",
        true,
        1,
        13,
        &["an interval of zero", "above zero for Arp-Cache"],
    ),
    case(
        "Spread = 4803@",
        true,
        1,
        10,
        &["found `4803@`", "expected a Spread daemon"],
    ),
    case(
        "Spread = 70000",
        true,
        1,
        10,
        &["found `70000`", "PORT@HOST"],
    ),
    case(
        "LogFacility = local8",
        true,
        1,
        15,
        &["found `local8`", "expected a syslog facility"],
    ),
    case(
        "Group = abcdefghijklmnopqrstuvwxyz0123456",
        true,
        1,
        9,
        &["group name", "1 to 31 characters from `$` to `~`"],
    ),
    // `!` is printable, but Spread refuses it in a group name at join time.
    case(
        "Group = wack!1",
        true,
        1,
        9,
        &["group name \"wack!1\"", "from `$` to `~`"],
    ),
    case(
        "Notify { 10.0.0.0/24 }",
        true,
        1,
        10,
        &[
            "`10.0.0.0` without an interface",
            "IF:A.B.C.D[/BITS] in Notify",
        ],
    ),
    case(
        "Notify { eth0:10.0.0.0/24 throttle fast }",
        true,
        1,
        36,
        &["found `fast`", "destinations per second"],
    ),
    case(
        "Identity = 127.0.0.1",
        true,
        1,
        12,
        &[
            "127.0.0.1, a loopback address",
            "expected a unicast address",
        ],
    ),
    case(
        "Identity = 0.0.0.0",
        true,
        1,
        12,
        &["0.0.0.0, the unspecified address"],
    ),
    case(
        "Identity = eth0:10.0.0.1",
        true,
        1,
        12,
        &["found `eth0:10.0.0.1`", "no interface, no /BITS"],
    ),
    // Hooks and what replaced loaded code.
    case(
        "Run \"logger up\"",
        false,
        1,
        16,
        &["found the end of the file", "expected an event"],
    ),
    case(
        "Run \"x\" on sideways",
        true,
        1,
        12,
        &["found `sideways`", "expected up or down"],
    ),
    case(
        "Exec \"x\" before up",
        true,
        1,
        10,
        &["found `before`", "on up, on down, post up or post down"],
    ),
    case(
        "Run \"\" on up",
        true,
        1,
        5,
        &["an empty command", "a command after Run"],
    ),
    case(
        "Run \"logger up\non up",
        true,
        1,
        5,
        &["unterminated string", "closing \" on the same line"],
    ),
    case(
        "RunDynamic mymod:go on down",
        true,
        1,
        1,
        &[
            "found `RunDynamic`",
            "not supported",
            "expected `Run \"COMMAND\" on down`",
        ],
    ),
    case(
        "PerlUse Foo::Bar",
        true,
        1,
        1,
        &["found `PerlUse`", "expected `Run \"COMMAND\" on up`"],
    ),
    case(
        "\n  PerlUseLib /usr/lib/perl",
        true,
        2,
        3,
        &["found `PerlUseLib`", "`Run \"COMMAND\""],
    ),
    // The built-in membership and the quorum.
    case(
        "Spread = 4803\nMembership { Nodes { 10.0.0.1 } Key = /k }",
        true,
        2,
        1,
        &[
            "found both Spread (line 1, column 1)",
            "a Membership block (line 2, column 1)",
            "expected one group service",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = /k }\n\n  spread = 4803@10.0.0.2",
        true,
        3,
        3,
        &[
            "found both Spread (line 3, column 3)",
            "a Membership block (line 1, column 1)",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = /k }\nMembership { Nodes { 10.0.0.2 } Key = /k }",
        true,
        2,
        1,
        &[
            "found a second Membership block",
            "the first opens at line 1, column 1",
        ],
    ),
    case(
        "Membership Nodes { 10.0.0.1 }",
        true,
        1,
        12,
        &["found `Nodes`", "expected `{` after Membership"],
    ),
    case(
        "Membership {\n  Nodes { 10.0.0.1\n    10.0.0.2 10.0.0.1 }\n  Key = /k\n}",
        true,
        3,
        14,
        &[
            "found node 10.0.0.1 again",
            "each node listed once (first listed at line 2, column 11)",
        ],
    ),
    case(
        "Membership {\n  Nodes { 10.0.0.1 }\n  Nodes { 10.0.0.1 }\n  Key = /k\n}",
        true,
        3,
        11,
        &["found node 10.0.0.1 again", "line 2, column 11"],
    ),
    case(
        "Membership { Nodes { 10.0.0.1/10.1.0.1/10.2.0.1/10.3.0.1/10.4.0.1 } Key = /k }",
        true,
        1,
        58,
        &[
            "found 10.4.0.1, a node's address number 5",
            "expected at most 4 addresses per node (one per link)",
        ],
    ),
    case(
        "Membership {\n  Nodes { 10.0.0.1/10.1.0.1\n    10.0.0.2 }\n  Key = /k\n}",
        true,
        3,
        5,
        &[
            "found node 10.0.0.2 with 1 address(es)",
            "expected 2 like the first node (line 2, column 11)",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.1/10.1.0.1 10.0.0.2/10.0.0.1 } Key = /k }",
        true,
        1,
        49,
        &[
            "found node 10.0.0.1 again",
            "first listed at line 1, column 22",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.1/ } Key = /k }",
        true,
        1,
        22,
        &["found `10.0.0.1/`", "one per link as A.B.C.D/A.B.C.D"],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 10.0.0.300 } Key = /k }",
        true,
        1,
        38,
        &["found 300 in `10.0.0.300`", "an octet of 0 to 255"],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 10.0.0 } Key = /k }",
        true,
        1,
        37,
        &["found the end of `10.0.0`", "expected `.`"],
    ),
    case(
        "Membership { Nodes { eth0:10.0.0.1 } Key = /k }",
        true,
        1,
        22,
        &[
            "found `eth0:10.0.0.1`",
            "a node address A.B.C.D, or one per link as A.B.C.D/A.B.C.D (at most 4; no interface",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.1:4810 } Key = /k }",
        true,
        1,
        22,
        &[
            "found `10.0.0.1:4810`",
            "no :PORT: the port is Membership's Port",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.0/24 } Key = /k }",
        true,
        1,
        22,
        &["found `10.0.0.0/24`", "no /BITS"],
    ),
    case(
        "Membership { Nodes { 224.0.0.1 } Key = /k }",
        true,
        1,
        22,
        &[
            "224.0.0.1, a multicast address",
            "the unicast address of a node",
        ],
    ),
    case(
        "Membership { Nodes { 0.0.0.0 } Key = /k }",
        true,
        1,
        22,
        &["0.0.0.0, the unspecified address"],
    ),
    case(
        "Membership { Nodes { } Key = /k }",
        true,
        1,
        22,
        &[
            "found `}`",
            "at least one node address A.B.C.D inside Nodes",
        ],
    ),
    case(
        "Membership { Nodes 10.0.0.1 Key = /k }",
        true,
        1,
        20,
        &["found `10.0.0.1`", "expected `{` after Nodes"],
    ),
    case(
        "Membership {\n  Key = /k\n}",
        true,
        3,
        1,
        &[
            "found `}`",
            "expected Nodes { A.B.C.D ... } inside Membership",
        ],
    ),
    case(
        "Membership { }",
        true,
        1,
        14,
        &["found `}`", "expected Nodes"],
    ),
    case(
        "Membership {\n  Nodes { 10.0.0.1 }\n  Key = /k\n  PortUnreachable = maybe\n}",
        true,
        4,
        21,
        &["`maybe`", "expected on or off"],
    ),
    case(
        "Membership {\n  Nodes { 10.0.0.1 }\n  Key = /k\n  PortUnreachable on\n}",
        true,
        4,
        19,
        &["found `on`", "`=` after PortUnreachable"],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = /k Unreachable = off }",
        true,
        1,
        42,
        &["`Unreachable`", "PortUnreachable inside Membership"],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } }",
        true,
        1,
        33,
        &["found `}`", "expected Key = PATH inside Membership"],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = /k",
        false,
        1,
        41,
        &[
            "found the end of the file",
            "or `}` closing the block opened at line 1, column 12",
        ],
    ),
    case(
        "Membership { Peers { 10.0.0.1 } }",
        true,
        1,
        14,
        &[
            "found `Peers`",
            "Nodes, Port, Key, AcceptKey, Heartbeat, Timeout or PortUnreachable inside Membership",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key /k }",
        true,
        1,
        37,
        &["found `/k`", "expected `=` after Key"],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = cluster.key }",
        true,
        1,
        39,
        &[
            "found path \"cluster.key\"",
            "the absolute path of the key file",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = /k AcceptKey = old.key }",
        true,
        1,
        54,
        &[
            "found path \"old.key\"",
            "the absolute path of the other key of a rotation",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = /k AcceptKey /old }",
        true,
        1,
        52,
        &["found `/old`", "expected `=` after AcceptKey"],
    ),
    case(
        "Membership { AcceptKey = /k/a Nodes { 10.0.0.1 } Key = /k/a }",
        true,
        1,
        26,
        &[
            "found path \"/k/a\", the file Key names",
            "another file than Key's",
        ],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = /k Port = 0 }",
        true,
        1,
        49,
        &["found `0`", "a UDP port of 1 to 65535"],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = /k Port = 65536 }",
        true,
        1,
        49,
        &["found `65536`", "a UDP port of 1 to 65535"],
    ),
    case(
        "Membership { Nodes { 10.0.0.1 } Key = /k Heartbeat = fast }",
        true,
        1,
        54,
        &["found `fast`", "an interval: digits and a unit"],
    ),
    case(
        "Membership {\n  Nodes { 10.0.0.1 }\n  Key = /k\n  Heartbeat = 100ms\n  Timeout = 250ms\n}",
        true,
        5,
        13,
        &[
            "found a Heartbeat and Timeout the built-in membership refuses: ",
            "Timeout 250ms must be at least 3 heartbeats (300ms with Heartbeat 100ms)",
        ],
    ),
    // The default Timeout (200ms) is too short for this Heartbeat: the
    // error points at the Heartbeat, the only value written.
    case(
        "Membership {\n  Nodes { 10.0.0.1 }\n  Key = /k\n  Heartbeat = 100ms\n}",
        true,
        4,
        15,
        &["refuses: Timeout 200ms must be at least 3 heartbeats"],
    ),
    case(
        "Membership {\n  Nodes { 10.0.0.1 }\n  Key = /k\n  Heartbeat = 11s\n  Timeout = 1m\n}",
        true,
        4,
        15,
        &["refuses: Heartbeat 11s is outside 1ms to 10s"],
    ),
    case(
        "Membership {\n  Nodes { 10.0.0.1 }\n  Key = /k\n  Heartbeat = 0ms\n}",
        true,
        4,
        15,
        &["refuses: Heartbeat 0ns is outside 1ms to 10s"],
    ),
    case(
        "Membership {\n  Nodes { 10.0.0.1 }\n  Key = /k\n  Timeout = 3m\n}",
        true,
        4,
        13,
        &["refuses: Timeout 180s is longer than 120s"],
    ),
    case(
        "Quorum = 3\nMembership { Nodes { 10.0.0.1 10.0.0.2 } Key = /k }",
        true,
        1,
        10,
        &[
            "found Quorum 3",
            "expected at most the 2 nodes listed in Membership Nodes",
        ],
    ),
    case(
        "Spread = 4803\nQuorum = majority",
        true,
        2,
        10,
        &[
            "found Quorum majority with Spread",
            "expected a number of members",
        ],
    ),
    case(
        "Quorum = 0",
        true,
        1,
        10,
        &[
            "found `0`",
            "majority, none or a number of members of at least 1",
        ],
    ),
    case(
        "Quorum = most",
        true,
        1,
        10,
        &["found `most`", "majority, none or a number"],
    ),
    case(
        "Quorum majority",
        true,
        1,
        8,
        &["found `majority`", "expected `=` after Quorum"],
    ),
];

#[test]
fn thirty_three_nodes_are_refused_at_the_thirty_third() {
    let listed: Vec<String> = (1..=33).map(|i| format!("10.0.1.{i}")).collect();
    let text = format!(
        "Membership {{\n  Key = /k\n  Nodes {{\n    {}\n  }}\n}}\n{ONE_VIF}",
        listed.join("\n    ")
    );
    let err = config::parse(&text, "big.conf").unwrap_err();
    assert!(matches!(err.kind, ErrorKind::TooManyNodes { .. }), "{err}");
    assert_eq!(err.to_string(), "big.conf:36:5: found node 10.0.1.33, number 33, expected at most 32 nodes in Membership Nodes");
}

#[test]
fn malformed_configurations_are_refused_with_their_position() {
    assert!(CASES.len() >= 30);
    let mut failures = Vec::new();
    for case in CASES {
        let err = match config::parse(&case.config_text(), "bad.conf") {
            Ok((config, _)) => {
                failures.push(format!("{:?}: accepted as {config:?}", case.text));
                continue;
            }
            Err(err) => err,
        };
        let message = err.to_string();
        let prefix = format!("bad.conf:{}:{}: ", case.line, case.column);
        let position_ok = err.line() == Some(case.line)
            && err.column() == Some(case.column)
            && message.starts_with(&prefix);
        let missing: Vec<&&str> = case
            .gist
            .iter()
            .filter(|g| !message.contains(**g))
            .collect();
        if !position_ok || !missing.is_empty() {
            failures.push(format!(
                "{:?}: expected {prefix}... with {missing:?}, got {message}",
                case.text
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_message_is_one_line() {
    for case in CASES {
        let err =
            config::parse(&case.config_text(), "bad.conf").expect_err("every case is refused");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

#[test]
fn error_kinds_are_typed() {
    let kind = |text: &str| config::parse(text, "f").unwrap_err().kind;
    assert!(matches!(
        kind("VIFs { eth0:10.0.0.5 eth0:10.0.0.5 }"),
        ErrorKind::DuplicateVifAddress { .. }
    ));
    assert!(matches!(kind("Group = g"), ErrorKind::NoVirtualInterfaces));
    assert!(matches!(
        kind("VIFs { abcdefghijklmnop:10.0.0.5 }"),
        ErrorKind::InterfaceNameTooLong { .. }
    ));
    assert!(matches!(
        kind("RunDynamic a:b on up"),
        ErrorKind::Unsupported { .. }
    ));
    assert!(matches!(kind("Mature = 5"), ErrorKind::BadValue { .. }));
    let membership = |text: &str| kind(&format!("{text}\n{ONE_VIF}"));
    assert!(matches!(
        membership("Spread = 4803\nMembership { Nodes { 10.0.0.1 } Key = /k }"),
        ErrorKind::SpreadAndMembership { .. }
    ));
    assert!(matches!(
        membership("Membership { Nodes { 10.0.0.1 } Key = /k }\nMembership { }"),
        ErrorKind::RepeatedMembership { .. }
    ));
    assert!(matches!(
        membership("Membership { Nodes { 10.0.0.1 10.0.0.1 } Key = /k }"),
        ErrorKind::DuplicateNode { .. }
    ));
    assert!(matches!(
        membership("Membership { Nodes { 10.0.0.1 } Key = /k Timeout = 10ms }"),
        ErrorKind::MembershipTiming(TimingError::TimeoutTooShort { .. })
    ));
    assert!(matches!(
        membership("Quorum = 2\nMembership { Nodes { 10.0.0.1 } Key = /k }"),
        ErrorKind::QuorumAboveNodes {
            quorum: 2,
            nodes: 1
        }
    ));
    assert!(matches!(kind("Mature 5s"), ErrorKind::Syntax { .. }));
    assert!(matches!(
        kind("VIFs { eth0:2001:db8::10/64 eth1:2001:db8:0::10/48 }"),
        ErrorKind::DuplicateVifAddress { .. }
    ));
}

#[test]
fn ipv6_vifs_that_would_share_a_wire_key_are_refused() {
    // Find two IPv6 primaries whose keys meet (28 bits: a few tens of
    // thousands of tries), then check the file naming both is refused
    // where the second is written.
    let key = |n: u32| {
        config::Vif {
            addresses: vec![config::VifAddress {
                interface: "eth0".into(),
                addr: std::net::Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    (n >> 16) as u16,
                    n as u16,
                )
                .into(),
                prefix_len: 128,
                network_len: 128,
            }],
        }
        .wire_key()
    };
    let mut seen = std::collections::HashMap::new();
    let (a, b) = (0u32..)
        .find_map(|n| seen.insert(key(n), n).map(|first| (first, n)))
        .expect("a clash exists");
    let addr =
        |n: u32| std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (n >> 16) as u16, n as u16);
    let text = format!("VIFs {{\n eth0:{}\n eth0:{}\n}}\n", addr(a), addr(b));
    let err = config::parse(&text, "f").unwrap_err();
    assert!(matches!(err.kind, ErrorKind::WireKeyClash { .. }), "{err}");
    assert_eq!((err.line(), err.column()), (Some(3), Some(2)));
    assert!(err.to_string().contains("line 2, column 2"), "{err}");
}

#[test]
fn a_missing_file_names_itself_without_a_position() {
    let scratch = Scratch::new("absent");
    let path = scratch.path("absent.conf");
    let err = config::load(&path).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Read(_)));
    assert_eq!(err.position, None);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: cannot read the configuration",
            path.display()
        )),
        "{message}"
    );
}
