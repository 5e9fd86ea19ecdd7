//! The built-in group service: view-synchronous membership with agreed
//! order among the nodes listed in the configuration, without I/O.
//!
//! This module is the protocol's specification. The guarantees it gives
//! the engine are those of etc/design/MEMBERSHIP.md (views, agreed order, view
//! synchrony, liveness, clean leave); below are the messages, their byte
//! layouts, the states and transitions, and for each safety property why
//! it holds.
//!
//! # Family
//!
//! A coordinator-based group membership with a flush before every view
//! change and the coordinator as the sequencer of the view (the design of
//! Isis and of JGroups' GMS + FLUSH + SEQUENCER), with a heartbeat failure
//! detector. We chose it over a token ring (Totem) because the cluster is
//! small (2 to 32 nodes listed in the configuration), the traffic is a
//! handful of messages per view, and a star of unicast datagrams needs no
//! multicast routing, works across routed segments, and has one round of
//! messages less between a failure and the new view than a ring has.
//!
//! # Interface (sans-IO, in the style of quinn-proto)
//!
//! [`Node`] reads no clock, opens no socket, starts no thread and draws no
//! random number. The driver hands it datagrams
//! ([`Node::handle_datagram`]), the time ([`Node::handle_timeout`] when
//! [`Node::poll_timeout`] is due), and requests ([`Node::multicast`],
//! [`Node::leave`]); it takes out datagrams to send ([`Node::poll_transmit`])
//! and events ([`Node::poll_event`]). Every call takes `now`; the node never
//! assumes anything about time beyond what it is told. The incarnation (see
//! below) is the only value from outside that must be fresh: the daemon
//! passes the wall-clock time in microseconds at start.
//!
//! Datagrams read together may be handed over as a batch: each with
//! [`Node::take_datagram`] (checked and handled by its rule), then one
//! [`Node::settle`] (the choice, a proposal, the lease and the next
//! deadline, once for all). That is what [`Node::handle_datagram`] does
//! for one. The outcome is that of the datagrams arriving one after the
//! other at one instant with the rules run only after the last, which is
//! a schedule the rules allow anyway: they look at what the node has
//! heard, not at how often they ran. The daemon's worker settles once per
//! read of its socket, and the simulation reads in batches in half its
//! runs.
//!
//! Events come in this shape: `Joined`, then any number of `View` and
//! `Deliver`, then `Left`; after a `Left` not asked for (a stall, or a
//! step back on a one-way link, below) a new `Joined` may follow.
//! `Joined` is given just before the first view, so a node that never
//! finds a view never tells the engine it is connected.
//!
//! A multicast names the view it is meant for (the last `View` the caller
//! read). It is delivered in that view or not at all: if the view has
//! ended (the caller has not read the events yet) or ends before the
//! message is sequenced, the payload comes back as `Undelivered`, given
//! before the `View` or `Left` that ends it, so the caller may send it
//! again in the next view. (The engine relies on seeing its own MATURING;
//! the daemon's bridge sends that one again.)
//!
//! `Lease(true)` and `Lease(false)` come in between `Joined` and `Left`,
//! alternating, the first one `Lease(true)` (see "Quorum lease").
//!
//! Timing: a node asks to be woken at its next heartbeat, at the moment
//! it would stop hearing a peer (a failure must act at once), at the
//! expiry of its lease, at the end of a FLUSH the lease holds back and,
//! as a coordinator whose view waits to grow, when that wait ends.
//! Conclusions that only speed convergence (a one-way link confirmed, a
//! recently lost node forgotten, a decline expired, a hand-over or a move
//! that lasted `Timeout`) wait for the next heartbeat, at most `Heartbeat`
//! late. A heartbeat of the coordinator a node follows brings that node's
//! next heartbeat forward to at once (unless it is due or was sent within
//! `Heartbeat / 8`): the cluster's heartbeats then travel in one burst per
//! period, and an idle node wakes a few times per period instead of once
//! per peer. A heartbeat only ever comes earlier than `Heartbeat` after
//! the last, so no rule that counts on one at least every `Heartbeat`
//! (the failure detector, the lease, the stall) changes. In a cluster of
//! more than nine nodes a quiet node heartbeats each peer only once per
//! *round* of `spread` periods (at most eight peers a period; `spread` is
//! 4 at 32 nodes), every peer while what its heartbeat says changes, and
//! every period a peer that keeps a quorum lease: "Heartbeats in turn"
//! in the documentation of `turns.rs` gives the rule and why the
//! failure detector and the lease keep their promises under it.
//!
//! # Identities
//!
//! - A **node** is an index into the configured list (`0..n`, `n <= 32`).
//! - An **incarnation** is a `u64` fixed at start, larger for every later
//!   start of the same node (the wall clock in µs). A member is a pair
//!   (node, incarnation): a restarted node is a new member.
//! - A **view id** is (`ltime: u64`, `coordinator: u8`, `incarnation: u64`
//!   of the coordinator), ordered lexicographically. A coordinator picks
//!   `ltime` greater than every ltime it has seen and than its own
//!   incarnation, so ids grow along every node's history and a node's
//!   restart starts above everything it could have used before; the
//!   coordinator's incarnation in the id makes an id unique even if clocks
//!   went backwards.
//! - The **members** of a view are listed in configured node order, so the
//!   engine's leader (index 0) is the lowest configured node of the view
//!   everywhere.
//!
//! # Datagram layout
//!
//! All integers are big-endian. Every datagram is
//!
//! ```text
//! offset size field
//!      0    2 magic 0x574D ("WM")
//!      2    1 version (3; version 1 had no send time or echo in
//!             HEARTBEAT, version 2 no flags or relayed entries)
//!      3    1 kind (1..=7, below)
//!      4    8 cluster digest: first 8 bytes of SHA-256 over the configured
//!             node list (each as 4 address bytes + 2 port bytes; with
//!             several links, see "Redundant links")
//!     12    1 sender node index
//!     13    1 destination node index
//!     14    8 sender incarnation
//!     22    8 counter: strictly increasing per sender incarnation and
//!             destination
//!     30    . body (layout by kind)
//!    end   32 HMAC-SHA256 under the cluster key over every byte before it
//! ```
//!
//! A receiver checks, in this order, and refuses (counting the reason) at
//! the first failure, before changing any state: length at least 62 and at
//! most [`wire::MAX_DATAGRAM`]; magic and version; the MAC; the digest (a
//! node configured with another node list); the destination is us and the
//! sender a listed node other than us; the incarnation (older than the
//! newest seen from that node, or one that has left, is refused); the
//! counter (replay window of 64 per sender incarnation); the body's layout
//! (every count checked against the bytes left before anything is
//! allocated). Only a datagram that passes every check moves the replay
//! window and reaches the state machine.
//!
//! During a key rotation a node holds two keys ([`wire::Keys`]): it sends
//! under its current key and accepts the MAC under either, trying the
//! current key first, so only datagrams under the other key pay for a
//! second check; one that fails both is a bad MAC, as with one key.
//! [`Node::set_keys`] swaps the pair between two datagrams and changes
//! nothing else: the view, the peers and their replay windows stay (the
//! counters do not depend on the key), so a rolling change (accept the
//! new key everywhere, send under it everywhere, drop the old one) never
//! makes a node miss a heartbeat. The status names the key of each peer's
//! last accepted datagram by its [`wire::KeyId`].
//!
//! A view id in a body is 17 bytes: ltime u64, coordinator u8, incarnation
//! u64; ltime 0 means "none". No ltime (of a view id or a max ltime) may
//! exceed 2^62 ([`wire::MAX_LTIME`]): larger ones are malformed. A member is 9 bytes: node u8, incarnation u64.
//! A message is: seq u32, origin node u8, local number u32, length u16,
//! payload.
//!
//! | kind | name | from → to | body |
//! |---|---|---|---|
//! | 1 | HEARTBEAT | every node → every other listed node, every `Heartbeat` (in turn in a quiet cluster of more than nine, see "Timing") | hears u32 bitmap; reach u32 bitmap; choice u8 (0xFF none); installed view id (none while flushing); delivered u32; sequenced u32; stable u32; max ltime u64; send time u64; echo (below); flags u8; relayed (below) |
//! | 2 | PROPOSE | coordinator → each proposed member | proposal view id; count u8; count × member |
//! | 3 | FLUSH | member → proposer | proposal view id; old view id; delivered u32; max ltime u64; count u16; count × message |
//! | 4 | INSTALL | coordinator → each member | view id; count u8; count × member; old view id; cut u32; count u16; count × message |
//! | 5 | DATA | member → its view's coordinator | view id; local number u32; length u16; payload |
//! | 6 | SEQUENCED | coordinator → each member | view id; message |
//! | 7 | LEAVE | leaving node → every other listed node (three times) | empty |
//!
//! The send time of a HEARTBEAT is the sender's monotonic clock in µs
//! since it started. The *echo* (17 bytes) answers the destination's
//! heartbeats: the destination's incarnation u64 (0: no echo, and the
//! rest is 0 too), the send time u64 of the latest heartbeat the sender
//! received from that incarnation, and a flag u8 (0 or 1; any other value
//! is malformed): 1 if the sender *vouches* for the destination (see
//! "Quorum lease"). The *flags* define bit 0 only (any other bit is
//! malformed): the sender keeps a quorum lease and wants an answer to
//! every heartbeat. *Relayed*: a u32 bitmap of listed nodes, then for
//! each bit, in node order, the incarnation u64 and the age u16 (in units
//! of 100 µs, rounded up) of the sender's latest direct datagram from that
//! node (empty in clusters of nine nodes or fewer). Byte offsets of a
//! HEARTBEAT: hears 30, reach 34, choice 38, view id 39, delivered 56,
//! sequenced 60, stable 64, max ltime 68, send time 76, echo incarnation
//! 84, echo send time 92, flag 100, flags 101, relayed bitmap 102,
//! entries 106 (10 bytes each), MAC after them; 138 bytes with no entry.
//!
//! # Redundant links
//!
//! A node may have an address on up to [`MAX_LINKS`] networks (links);
//! every node has one on each link, in the same order. A datagram is
//! encoded once (one counter) and sent over every link to the
//! destination's address there. The receiver tells the link by the
//! source address (one of the sender's addresses, or the datagram is
//! misdirected); the replay window keeps, per link, which counters came
//! over it: the first copy is taken, a copy over another link is a
//! *duplicate* (dropped, counted apart, no blame), a copy over the same
//! link again a replay. With one link nothing changes, not a byte: the
//! digest is the node list's; with several, it covers every link's list
//! and the number of links.
//!
//! The argument: the rules below never look at links. To them the links
//! together are one channel that carries a datagram when any link does,
//! with the loss of the links at once and the delay of the fastest.
//! Everything they rely on (a node heard within `Timeout`, its heartbeat
//! taken at most once, an echo's time sent before it was received) holds
//! of that channel as of one link: a copy is the same datagram, and the
//! window takes it once. So "hears" is the union of the links, "reaches"
//! and the one-way rule are over the union (a link cut one way beside
//! one that works both ways is no one-way link), a node is lost only
//! when every link to it is silent, and the quorum lease's margin is
//! unchanged (it needs nothing of the delay). The view change and the
//! sequenced messages ride the same channel, so they go through while
//! any link works both ways. Per link, a node only notes when the peer
//! was last heard over it, for the status and for the log (a link silent
//! for `Timeout`, looked at every heartbeat; and back).
//!
//! # Failure detector and the choice of a coordinator
//!
//! Node `a` *hears* `b` if an authenticated datagram of `b`'s newest
//! incarnation arrived less than `Timeout` ago and `b` has not left.
//! (With heartbeats in turn, more than nine nodes: `b` is heard, by `a`
//! or by a peer whose heartbeat relays it, less than `Timeout` ago, and a
//! datagram of `b` arrived at `a` less than `spread × Timeout` ago; see
//! `turns.rs`.)
//! `a` *reaches* `b` if `a` hears `b` and `b`'s last heartbeat says it
//! hears `a`: reach is the both-ways relation. Heartbeats carry both sets.
//! `a` has *recently lost* `b` if it reaches `b` no more but a heartbeat
//! of `b` said it heard `a` within the last three `Timeout`s: `b` failed,
//! or it no longer hears `a` (for `a`, a link cut one way is a failure
//! just the same).
//!
//! Each node names a *choice*: the coordinator it will follow.
//! - For `Timeout` after start (and after a stall) a node is *undecided*
//!   (choice none): it only listens and heartbeats, so it learns the
//!   current views before it takes part.
//! - A node that hears some `b` which, heard for at least `Timeout`, says
//!   it does not hear us, and which reaches at least as many nodes as we
//!   do, *defers* (choice none): on a one-way link the side that cannot
//!   be heard steps back, so the two sides never both serve. A `b` that
//!   reaches fewer nodes than we do is the one cut off (say, a node that
//!   hears nobody while all still hear it): we lose it rather than step
//!   back for it. (A ring of one-way links makes every node defer; we
//!   accept that outcome of a pathological network.)
//! - Otherwise the choice is the lowest node `m` of `reach ∪ {self}` that
//!   is *eligible*: `m` is us, or `m`'s last heartbeat names `m` itself,
//!   or names a node we cannot follow at this moment: one we have
//!   recently lost (`m` is about to change its choice, as we are), or
//!   one that is *coming* (we hear it since less than `Timeout` but its
//!   heartbeats do not say they hear us yet: a node that starts, the
//!   other side of a split that heals; we shall follow it with `m`), or
//!   `m` is our present choice and has named another node for less than
//!   `Timeout`: it *hands over*, and we keep following it until the
//!   heartbeats of the node it now follows reach us too. A node that
//!   cannot follow its coordinator's coordinator yet waits for it
//!   rather than fall back on itself for that moment.
//!
//! A node whose choice is itself is a coordinator. Its *wanted set* is
//! itself and every node it reaches that is not undecided or deferring
//! and whose choice is the coordinator or a node the coordinator has
//! recently lost, minus nodes that did not answer its last proposal (for
//! four `Timeout`s).
//!
//! ## When a coordinator proposes
//!
//! The coordinator compares its wanted set with the members it would
//! replace: those of its proposal under way, else of its view (its own or
//! another's; none if it has no view).
//! - A member missing from the wanted set that *failed* (we no longer
//!   reach it, it restarted, it left, it declined, or it chose a node that
//!   is not below the coordinator) is proposed away at once: a failover
//!   waits for nothing else.
//! - A member missing because, less than `Timeout` ago, it chose a node
//!   below the coordinator, and which still reaches the coordinator, is
//!   *moving*: a lower coordinator is merging it, and ours will most
//!   likely follow as soon as that node's heartbeats reach it too. No
//!   proposal is made for it; after `Timeout` it counts as failed.
//! - A view that only adds members (or the first view of our own, when
//!   the view we hold is another's or we hold none) waits until no other
//!   node is *expected*, or the wanted set has not changed for two
//!   heartbeats, and never more than `Timeout`; but not when a member
//!   lost our view (the re-forming rule below): that is answered at once. Expected: a node we hear
//!   that has decided, follows no node below us and has not declined; or
//!   a node we do not hear (and that has not left) which a heartbeat of a
//!   wanted node says it reaches.
//! - A view that is exactly the wanted set needs nothing (but see the
//!   re-forming rule below).
//!
//! So a join, a rejoin or a merge goes from the old view straight to the
//! new one. The nodes switch to the new coordinator one by one, as its
//! heartbeats reach them, each at its own phase: their old coordinator
//! keeps them meanwhile (moving), its members keep following it while it
//! hands over, and the new coordinator proposes once they have all chosen
//! it, not as soon as the first few have.
//!
//! Safety never depends on these rules: any choice and any proposal at
//! all yield valid views. They only decide how fast the views converge,
//! that they do not flap, and that a join takes nothing away.
//!
//! # States
//!
//! ```text
//!  Undecided ──Timeout──► Idle ◄───────────── Installed(V) ◄─┐
//!      ▲                   │ PROPOSE accepted       │        │ INSTALL(W)
//!      │ stall / leave     ▼                        ▼        │
//!      └────────────── Flushing(P, old view) ◄──────┘────────┘
//! ```
//!
//! - **Installed(V)**: deliver SEQUENCED messages of V in seq order; send
//!   own multicasts as DATA to V's coordinator (the coordinator sequences
//!   its own directly). The coordinator numbers DATA in arrival order,
//!   taking each origin's local numbers strictly in order (FIFO) and each
//!   only once, and sends SEQUENCED to every member.
//! - **Flushing(P)**: entered by accepting a proposal P from the node we
//!   chose: P must be above every proposal we accepted before (our
//!   *promise*) and list us with our incarnation. From then on we deliver
//!   nothing more of our old view and send no DATA, and answer FLUSH with
//!   our old view id, how many of its messages we delivered, and those of
//!   them not yet known stable (a FLUSH for a proposal that leaves out a
//!   node we vouched for waits: "Quorum lease"). A proposal from a node we do not (yet)
//!   choose is kept and answered as soon as we choose its sender.
//! - The proposer, holding the FLUSH of every proposed member, computes
//!   for each old view represented the *cut*: the highest delivered count
//!   any member reports for it. It sends each member an INSTALL with the
//!   messages of the member's old view between the member's delivered
//!   count and the cut, and installs the view itself. A member installs W
//!   only if W is exactly the proposal it flushed for: it first delivers
//!   the missing messages of its old view up to the cut, then installs W.
//!   A proposal whose members do not all answer within `2 × Timeout` is
//!   dropped and proposed again without the silent ones. The proposer
//!   installs its proposal only while it is still flushing for it:
//!   accepting a higher proposal, or a stall, abandons it. "The proposal
//!   it flushed for" is the member's current promise: a late INSTALL of
//!   an older proposal is ignored, and a PROPOSE resent for the promise
//!   is answered with the same FLUSH again.
//! - Stability counts every member of the view, each at 0 until its
//!   heartbeat names the view; a member takes the stable point only from
//!   its coordinator's heartbeats that name its own view. A stall keeps
//!   the promise and the highest ltime seen.
//! - A coordinator whose view is the wanted set still proposes again when
//!   a member that had shown the view in its heartbeat shows another (it
//!   stepped back, stalled, or is frozen by a flush whose proposer died:
//!   a flushing member's heartbeat shows no view), or when a member has
//!   not shown the view `2 × Timeout` after the install.
//! - **Exclusion**: a member whose coordinator (of its view, or of the
//!   proposal it answered) shows in a heartbeat an installed view above
//!   the member's promise, a view it was never proposed, gives it up
//!   (`Left`): what it holds may now be another's. Unless that
//!   coordinator's heartbeat says it hears none of the view's members:
//!   then it left them (it is cut off), rather than dropped them, and
//!   they keep their view until the next one, which they form without it
//!   as after its failure.
//! - **Leave**: LEAVE three times to every node, then `Left`. A node that
//!   receives LEAVE stops hearing that incarnation at once and refuses its
//!   later datagrams, so the next view follows without waiting.
//! - **Stall**: a node that finds, on any call, that it has sent no
//!   heartbeat for `3/4 × Timeout` may have been dropped by the others
//!   (they suspect it after `Timeout`). It gives up its view at once
//!   (`Left`, so the engine releases every address before anything else
//!   happens) and becomes Undecided: it reads what is queued, hears the
//!   current views, and joins them like a new node.
//!
//! Stability: a member's heartbeat to its coordinator carries its
//! delivered count; the coordinator's heartbeats carry the lowest one of
//! the view (*stable*). Messages at or below stable are dropped from the
//! logs; the sequencer takes no new DATA while the unstable messages
//! would not fit one FLUSH (so a FLUSH and an INSTALL always fit one
//! datagram). Repair: a member that sees a gap, or a coordinator
//! heartbeat announcing more than it delivered, sends an early heartbeat;
//! a coordinator resends SEQUENCED messages a member's heartbeat shows it
//! lacks, and resends PROPOSE and INSTALL until the member's heartbeat
//! shows the view. Pending DATA is resent every heartbeat until it comes
//! back sequenced.
//!
//! # Why each safety property holds
//!
//! 1. **View agreement, self-inclusion, order, uniqueness.** A view is
//!    installed only from an INSTALL equal to the proposal a member
//!    flushed for, or by its proposer; the proposal fixes id and member
//!    list, so every installer sees the same id and members, and only
//!    listed members accept it. A member accepts only proposals above its
//!    promise, and its installed view is never above its promise, so its
//!    installs grow. The id holds the coordinator and its incarnation, and
//!    one coordinator incarnation never proposes the same ltime twice, so
//!    no two views share an id.
//! 2. **Agreed order.** Only the view's coordinator numbers messages, each
//!    number once; members deliver exactly the sequence 1, 2, 3, ... with
//!    no gap and no repeat, so every member's deliveries in V are a prefix
//!    of one sequence. An origin's local numbers are taken in order and
//!    once. A message carries its view id and is delivered only by members
//!    that installed that view; a multicast names its view and is refused
//!    if that view is no longer installed; messages still unsequenced when
//!    the view ends are handed back to their sender, never delivered in
//!    another view.
//! 3. **View synchrony.** Take members `p` and `q` that install V and then
//!    W. Both flushed for W with V as old view, and from that moment
//!    neither delivered anything of V but what W's INSTALL gave. The cut
//!    is the highest delivered count among W's members from V, so both end
//!    V at exactly the cut. The messages each lacks are in the union of
//!    the FLUSHes: the member with the highest count delivered them, and a
//!    member drops a message only once it is stable, that is once every
//!    member of V delivered it, so below the count of `p` and `q` alike.
//! 4. **Liveness** (argued, and measured by the simulation): once the
//!    network is quiet and the nodes of a connected set all hear each
//!    other, within `Timeout` (a cut link: `spread × Timeout`) every
//!    reach is exact, within a few
//!    heartbeats every node chooses the lowest node of the set (it is
//!    eligible: nothing lower reaches it; a hand-over and a move end
//!    within `Timeout` at the latest), which proposes exactly the set as
//!    soon as its wanted set is the set (nothing else is expected), or
//!    two heartbeats later, and at most `Timeout` after it started to
//!    wait; every member answers, and the view is installed. The bound
//!    the simulation enforces is 12 time-outs after the faults stop
//!    (2.4 s at the defaults); the slowest schedule seen settles in
//!    about 6. A partial partition (A and B both hear C, not each other)
//!    or a one-way link is a fault: views are safe and do not flap under
//!    it, but a node may be left alone (or step back) until it heals.
//!
//!    **Joins take nothing away** (argued, checked by the scenarios at
//!    realistic heartbeat phases, and on the wire by restarts of the
//!    first node under a majority quorum in `tests/it/builtin_promise.rs`):
//!    no node in a view installs a smaller one or leaves its view. A member never falls back on itself while its coordinator
//!    hands over, so it proposes nothing; a coordinator whose members go
//!    over to a lower one keeps them (they are moving, not failed) and
//!    proposes nothing, then goes over itself; the lowest node proposes
//!    only once no other node is expected. When links come up, every
//!    node of the merged group hears every other within a heartbeat and
//!    reaches it within two, so, on a network that loses nothing and
//!    carries a datagram in less than a heartbeat, every node chooses the
//!    lowest within a heartbeat of the first that does: the wait for a
//!    wanted set that has not changed for two heartbeats does not end
//!    before the last of them, and the first view proposed holds them
//!    all. Every member flushes for that proposal, so no coordinator
//!    shows a view above a member's promise, and nobody is excluded.
//!    Under loss a join may still take a smaller view on its way, as a
//!    failure would.
//! 5. **Clean leave**: LEAVE takes the node out of every hears set at
//!    once, which triggers the next proposal without a time-out.
//!
//! # Quorum lease
//!
//! With `Quorum = majority` a node must hold addresses only while a
//! majority may not have moved on without it. Failure detection alone
//! does not give that: the node cut off and the majority both notice the
//! split after `Timeout` of silence, so the majority could take over
//! addresses before the minority let them go. The lease makes the
//! minority let go first, by a margin, whatever the heartbeat phase.
//!
//! **Vouching.** Node `y` *vouches* for node `m` (the flag of its echo to
//! `m`) when the view `y` names holds `m`'s incarnation (its installed
//! view, or while flushing the proposal it answered) and `y` has not sent
//! a FLUSH for a proposal without `m` since it last installed a view with
//! `m`. Each time `y` sends a vouching echo it notes `r_y(m)`, the time it
//! received the heartbeat of `m` that the echo answers.
//!
//! **The promise.** A FLUSH of `y` for a proposal that does not hold
//! `m`'s incarnation goes at `r_y(m) + P` at the earliest, with
//! `P = 3/4 × Timeout` (held back, then sent; our own proposal's report
//! waits the same way). Accepting the proposal already stops the
//! vouching (the named view no longer holds `m`). A crashed `m` was last
//! heard about `Timeout` before anyone proposes without it, so the delay
//! only touches a proposal leaving out a node that `y` still hears (a
//! one-way or partial cut, a declined node): at most `P`. Every node keeps
//! the promise, whatever its own quorum setting. A node that said LEAVE
//! has given up its view (the daemon releases its addresses before it
//! leaves): the promise to that incarnation ends there, so a clean leave
//! is still seen at once.
//!
//! **The lease of `m`.** When `m` takes `y`'s heartbeat (the newest `y`
//! sent), `y`'s contribution becomes `T + L` if the echo vouches for `m`'s
//! incarnation and `T` is a send time `m` has reached (otherwise none),
//! where `T` is the echoed send time (`m`'s clock) and `L = Timeout / 2`.
//! With `needed` set ([`Node::set_quorum`]), the lease holds until the `needed`-th latest
//! expiry among `m` itself (never) and every contribution. `Lease(false)`
//! is given at that instant (the node asks to be woken then) while `m` is
//! in a view; `Lease(true)` when the lease holds again *and a view is
//! installed* (not while flushing). After `Joined` the lease counts as
//! lapsed until the first `Lease(true)`, which, since the members of a
//! proposal vouch for each other while they flush, usually comes with the
//! first `View`. A view change among live nodes keeps every member
//! vouching for every other through the flush and the install, so no
//! lease lapses in it. Without a quorum (0 or 1) the lease always holds:
//! `Lease(true)` follows the first `View` and no lapse comes.
//!
//! **Why it holds.** Let `n` be the listed nodes and `q = needed > n/2`.
//! Let a view `W` with `|W| >= q` and without `m` be installed by some
//! node at `t_W`; every member `y` of `W` sent its FLUSH for `W` at some
//! `f_y < t_W`.
//!
//! - A contribution of `y` from an echo sent before `f_y` ends by
//!   `r_y + L`: the echoed heartbeat was sent before `y` received it
//!   (`T <= r_y`; the driver reads the clock after the datagram arrived),
//!   and `r_y` only grows. The promise put `f_y >= r_y + P`, so it ended
//!   at least `P - L = Timeout / 4` before `f_y`, hence before `t_W`.
//! - After `f_y`, `y` vouches for `m` again only once it has installed a
//!   view `Z` holding `m`; its installs after `f_y` are at or above its
//!   promise, so `Z > W`, and `Z` was installed only after `m` flushed
//!   for it.
//! - A lease holding at `t >= t_W - (P - L)` needs contributions from
//!   `q - 1` nodes besides `m`. Of the `n - 1` nodes other than `m`, at
//!   least `q` are in `W`, and `(q - 1) + q > n - 1` since `2q > n`: some
//!   contributor `y` is in `W`. By the first point its contribution comes
//!   from an echo sent after `f_y`, so by the second `m` had flushed for a
//!   view `Z > W` that `y` installed.
//!
//! So: a node that took part in no view change since the split (cut off
//! both ways or one way, or the coordinator lost only it) reports
//! `Lease(false)` at least `P - L` before any quorate view without it is
//! installed anywhere, hence before anyone holds its addresses under that
//! view. And `Lease(true)`, given only in an installed view, comes in a
//! view newer than every quorate view without the node installed so far
//! (after flushing for `Z`, a node installs nothing below `Z`). The
//! margin `P - L` is 50 ms at the defaults (`Timeout` 200 ms) and 6.25 ms
//! at the shortest settings called safe (`Heartbeat` 5 ms, `Timeout`
//! 25 ms); the simulation, where a lapse and the first install of a
//! quorate view without that node are timed, never sees less than the
//! margin. It must cover how late the node's timer fires and how long the
//! driver takes to act on `Lease(false)`; the takeover itself comes later
//! still (the install reaches the engines, which then hand addresses
//! over).
//!
//! Why these fractions: a vouching echo reaches `m` at most two heartbeat
//! periods and two transit times after the heartbeat it answers, so a
//! lease between live nodes stays up when `L` exceeds that: `L = Timeout
//! / 2` is five heartbeats at the defaults (three lost echoes in a row
//! from enough members are needed to lapse it) and 2.5 at 5/25 ms (no
//! heartbeat to spare: a node whose members all lose one echo at once
//! lapses until the next view). With fewer than about five heartbeats
//! per time-out the lease lapses between live nodes; keep `Timeout >= 5 ×
//! Heartbeat` with a quorum. `P` stays below `Timeout` so failover after
//! a crash is not delayed, and `P - L` is the margin.
//!
//! What it does not cover:
//!
//! - A quorum of `n/2` or fewer: two sides can each count a quorum, and
//!   the lease then proves nothing about the other side (`Quorum = N`
//!   with `N <= n/2` gives no split safety at all).
//! - No quorum (`Quorum = none`): no lease; the node always holds.
//! - A stalled process (SIGSTOP, a frozen VM): its timers do not run, so
//!   it cannot report the lapse in time; the daemon bounds what the
//!   kernel keeps with address lifetimes. (On waking it finds itself
//!   stalled and gives up its view.)
//! - Clock rates: `L` is measured on `m`'s monotonic clock and `P` on
//!   `y`'s. They need `L × (1 + e) < P × (1 - e)` for a relative rate
//!   error `e`, that is `e < 1/5`; Linux slews its monotonic clock by at
//!   most 500 ppm, 1000 ppm between two nodes: 0.15 ms of the margin at the
//!   defaults, 0.02 ms at 5/25 ms.
//! - Different `Timeout`s on the two nodes (a reload reaching one node
//!   first): the margin needs `3/4 × Timeout_y > 1/2 × Timeout_m`; change
//!   `Timeout` by less than a factor 1.5 per reload.
//! - A restart: a restarted `y` stays undecided for `Timeout > L` before
//!   it can flush anything, by which time every contribution of its
//!   previous incarnation has ended; echoes name the incarnation they
//!   answer, so an echo meant for an earlier incarnation of `m` gives the
//!   new one nothing.
//! - A split that heals while a view change is under way: a node flushing
//!   (its view frozen) keeps a lease it held, and may, after the
//!   members that left it out have installed a view with it again, still
//!   be frozen in its older view while a straggler installs the quorate
//!   view without it. That lasts until its own install of the newer view;
//!   the engine's view change covers it.
//! - A forged or broken echo (a peer holding the key): an echo of a time
//!   `m` has not reached gives nothing, so no contribution reaches beyond
//!   `L` after `m`'s latest heartbeat; nothing panics.
//!
//! # Port unreachable
//!
//! A daemon that dies on a living host is suspected at once when the
//! host answers our datagram with ICMP port unreachable, confirmed by a
//! probe; the rule, its limits with several links, and the threat
//! analysis (a forged answer costs at most a needless view change, never
//! an address held twice) are in the documentation of `unreachable.rs`.

#![forbid(unsafe_code)]

pub mod wire;

#[cfg(test)]
mod batch_tests;
mod coordinator;
mod delivery;
mod heartbeats;
#[cfg(test)]
mod icmp_limit;
mod lease;
mod links;
mod node;
mod outputs;
mod peers;
mod proposal;
mod protocol;
mod replay;
#[cfg(test)]
mod rotation_tests;
mod status;
#[cfg(test)]
mod testnet;
mod turns;
#[cfg(test)]
mod turns_tests;
mod unreachable;
mod view_state;

pub use crate::base::membership_timing::{Timing, TimingError, DEFAULT_HEARTBEAT, DEFAULT_TIMEOUT};
pub use links::{LinkChange, LinkStatus, MAX_LINKS};
pub use node::Node;
pub use outputs::{LeftReason, MulticastError, NodeError, NodeEvent, Transmit};
pub use status::{NodeState, NodeStatus, QuorumLease, Refusals, Status};
pub use wire::{Member, ViewId};
