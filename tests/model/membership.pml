/*
 * membership.pml: a Promela model of the view change, the merge and the
 * sequenced delivery of the built-in membership (src/membership/mod.rs),
 * for three nodes, with message loss, duplication, delay and reordering,
 * crashes and stalls.
 *
 * WHAT IS CHECKED, in every interleaving (assertions):
 *   Property 1 (view agreement, etc/design/MEMBERSHIP.md):
 *     1a  any two nodes that install a view with the same id install the
 *         same member set; no coordinator proposes one id twice;
 *     1b  a node installs only views that contain it;
 *     1c  each node's installed view ids strictly increase (per member,
 *         that is per incarnation; a stall in between included).
 *   Property 3 (view synchrony):
 *     3   two nodes that both install V and then both install the same
 *         next view W delivered the same number of messages of V;
 *     3a  the proposer of W holds, in the FLUSHes it collected, every
 *         message of an old view that a member of W lacks up to the cut,
 *         so that its INSTALL can carry them (the stability argument).
 *   Ghosts: gmem[W] the member set installed under W, hi[n] the highest
 *   id n installed, and pcnt[n], for a node n in V that flushes for W, the
 *   number of messages of V (plus one) delivered by the first node that
 *   went from V straight to W.  Each install is checked against them.  (A
 *   proposer installs before any member, and every member flushed for W
 *   before that and flushes for W until it installs W, so pcnt meets every
 *   pair of nodes that go from V to W.)
 *
 * WHAT IS MODELLED (names as in mod.rs):
 *   - States: Idle (no view), Installed(V), Flushing(P, old view V); the
 *     promise (highest proposal accepted).  A view id is (ltime,
 *     coordinator), ltime 1..L, encoded as one number whose order is the
 *     lexicographic order: ID(lt, c) = (lt - 1) * NI + c + 1.
 *   - PROPOSE with the promise check (strictly above it, lists us).  The
 *     proposer is a member of its own proposal: proposing is accepting it
 *     (its ltime is above everything it has seen, so above its promise).
 *   - FLUSH carrying proposal, old view and delivered count; the messages
 *     it carries are those of the old view above what the member knows
 *     stable (a member holds every message of its view it delivered
 *     except those at or below stable).  A flushing member delivers
 *     nothing more of its old view.
 *   - The cut per old view: the highest count reported for it by the
 *     proposal's members.  The proposer installs once it holds every
 *     FLUSH and is still flushing for that very proposal; INSTALL carries
 *     each member's cut; a member installs only the proposal it is
 *     flushing for, after delivering its old view up to the cut.
 *   - The coordinator of an installed view is its sequencer: while not
 *     flushing it sequences up to MAXMSG messages, delivering each itself
 *     and sending SEQUENCED to every member; members deliver in seq order
 *     without gaps, in Installed state only.
 *   - Stability: the coordinator, while in V, announces as stable the
 *     lowest delivered count its members reported for V, a member that
 *     has not reported for V counting 0; members and the coordinator drop
 *     what is at or below it.
 *   - Crash-stop of any node at any point: a node that takes no further
 *     step, which every interleaving already includes (what it sent may
 *     still arrive, see below).  -DMAXCRASH=1 adds an explicit crash step
 *     (same verdict, more states).  With -DRESTART node 2 comes back after
 *     its crash as a new incarnation (identity 3: fresh state, a member
 *     distinct from the old one; one member list never holds both).
 *   - Stall: a node may at any point give up its view and any flush and
 *     become Idle, keeping its promise; it may then join again.
 *
 * THE NETWORK.  Every datagram may be lost, duplicated, delayed and
 * reordered, and senders resend (PROPOSE while pending, FLUSH while
 * flushing, INSTALL, SEQUENCED from the log, heartbeats always).  So the
 * model keeps what has been sent, and a receiver takes any of it at any
 * time, or never (loss):
 *     pmem[P]          PROPOSE P went to its members (its member set);
 *     icut[W * NI + m] INSTALL W went to m, with m's cut (plus one);
 *     seqd[V]          SEQUENCED 1..seqd[V] went to V's members;
 *     gst[V]           the highest stable announced in V.
 * A FLUSH is taken by the proposer as the member accepts (its contents do
 * not change while it flushes, and taking it later changes nothing but
 * when the proposer may install, which it may always delay).
 *
 * WORST CASES INSTEAD OF CHOICES.  Stability is only a licence to drop
 * messages, so a higher stable is never safer.  The model takes the
 * highest the rules allow at every moment: whenever V's coordinator is in
 * V, gst[V] rises to the lowest count among the nodes now in V, or 0 while
 * a node may still install V (it flushes for V, so it has not reported
 * for V); a node that has left V is ignored (the real coordinator counts
 * its last report instead, which is lower or equal), and so is one that
 * flushed for V but moved on without installing it (it never can: it
 * would have to flush for V again, above its promise).  Every FLUSH is
 * taken to hold only the messages above gst[V] (a member's log is never
 * smaller).  If the cut is deliverable under these, it is in every run.
 * The mutant runs, which may break the invariant just used, count a
 * member that never installed V as 0 instead (ent[]).
 *
 * WHAT IS ABSTRACTED:
 *   - The failure detector and the choice rule: any node may at any time
 *     propose any member set containing itself, with any ltime that puts
 *     the id above its promise.  This over-approximates the real rule: two
 *     coordinators at once, a proposal during a view change, merges of
 *     partitions, one-way and partial partitions (any pattern of messages
 *     taken or lost), proposals never answered.
 *   - Message contents: a message of a view is its sequence number, so a
 *     delivery is a count.  Agreed order, the DATA path (origins, local
 *     numbers) and the limit on unstable messages are not modelled.
 *   - Authentication, replay windows and incarnation checks: a datagram
 *     arrives intact or not at all; messages for a dead incarnation are
 *     lost (the new incarnation refuses them by member identity).
 *   - Time: time-outs and the 2 x Timeout re-proposal are replaced by the
 *     nondeterminism above.  Liveness (property 4) is not checked.
 *   - The quorum lease: heartbeats, their echoes and the lease are not
 *     modelled.  The one thing it changes in a view change is timing (a
 *     FLUSH leaving out a node still heard waits 3/4 x Timeout), and the
 *     model already lets the proposer take a FLUSH as late as it likes;
 *     the lease's own argument is a timed one (mod.rs, "Quorum lease"),
 *     checked by the simulation and the scenarios instead.
 *
 * SCOPE (the bounds that keep the state space finite):
 *   three nodes; ltime <= L = 2, that is six view ids, (1,0) < (1,1) <
 *   (1,2) < (2,0) < (2,1) < (2,2), each node proposing at most twice (so
 *   chains of up to six views, e.g. a first view, a concurrent change by
 *   two coordinators, a merge); MAXMSG = 2 messages sequenced per view;
 *   MAXSTALL = 1 stall in all.  The schedules of etc/design/MEMBERSHIP.md this
 *   covers: a coordinator that stops in the middle of a view change (after
 *   some members installed, or flushed but did not install), two
 *   coordinators at once, a merge during a view change, a message
 *   delivered to some members only before its sequencer stops, a frozen
 *   node whose old datagrams arrive late, and (with -DRESTART) a node
 *   restarting with a new incarnation while the others still list it.
 *
 * REDUCTIONS (each keeps every reachable assertion failure):
 *   - A PROPOSE whose proposer has given it up is never taken (see
 *     CANACCEPT).
 *   - History no node can use any more is forgotten (see gc()); 1a's "no
 *     id proposed twice" is therefore checked against the ids still in
 *     use (against every id ever proposed in the mutant runs).
 *
 * HOW TO RUN (`make model` does this in target/model):
 *     spin -a membership.pml
 *     gcc -O2 -w -DSAFETY -DMEMLIM=8000 -o pan pan.c
 *     ./pan -m1000 -w25
 *   "errors: 0" means every assertion holds in every reachable state.
 *   With the defaults: 21.9 million states, depth 36, about 2.9 GB and
 *   2 to 3 minutes on one core.  Parameters (spin -DNAME=value ...): L
 *   (ltime bound, 1..4, default 2), MAXMSG (messages per view, 0..3,
 *   default 2), MAXSTALL (stalls in all, default 1), MAXCRASH (explicit
 *   crashes, default 0), RESTART (node 2 restarts once, as identity 3).
 *   Wider scopes checked once, by hand (all "errors: 0"): -DMAXCRASH=1
 *   -DMAXSTALL=0, 10.0 million states; -DMAXSTALL=2, 43.3 million states,
 *   5.9 GB; -DRESTART -DMAXMSG=1 -DMAXSTALL=0, 31.6 million states, 6.2
 *   GB; -DL=3 -DMAXSTALL=0 with -DHC4 (hash-compact, so not strictly
 *   exhaustive), 147 million states, 6.6 GB, 16 minutes.
 *   A counterexample is left in membership.pml.trail; `spin -t
 *   membership.pml` (with the same -D options) replays it, printing each
 *   step ("MSC: ..."; views shown as ltime.coordinator, member sets as
 *   bit masks).
 *
 * MUTANTS (`make model-mutants`; each must make pan report an error):
 *   -DMUT_INSTALL_ANY    a flushing member accepts an INSTALL of any
 *                        proposal it flushed for, not only the one it
 *                        flushes for now;
 *   -DMUT_MIN_CUT        the cut is the lowest count, not the highest;
 *   -DMUT_FLUSH_DELIVERS a flushing member keeps delivering its old view;
 *   -DMUT_SELF_NOCHECK   the proposer installs its proposal once every
 *                        FLUSH is in, even after it accepted a higher one;
 *   -DMUT_STABLE_SEEN    stable ignores the members that have not yet
 *                        reported for the view;
 *   -DMUT_STALL_FORGETS  a stall resets the promise (the ltimes used as a
 *                        proposer are still never reused);
 *   -DMUT_STALL_REUSES   a stall resets the promise and forgets the ltimes
 *                        used (the same incarnation may reuse an id);
 *   -DMUT_ID_REUSE       a proposer's id need only not be below its promise
 *                        (so it may propose its last id again);
 *   -DMUT_NOT_LISTED     a node answers a proposal that does not list it,
 *                        and the proposer sends INSTALL to all that answered.
 */

#if defined(MUT_INSTALL_ANY) || defined(MUT_MIN_CUT) || \
    defined(MUT_FLUSH_DELIVERS) || defined(MUT_SELF_NOCHECK) || \
    defined(MUT_STABLE_SEEN) || defined(MUT_STALL_FORGETS) || \
    defined(MUT_ID_REUSE) || defined(MUT_NOT_LISTED) || \
    defined(MUT_STALL_REUSES)
#define NOGC
#endif

#ifndef L
#define L 2
#endif
#ifndef MAXMSG
#define MAXMSG 2
#endif
#ifndef MAXSTALL
#define MAXSTALL 1
#endif
#ifndef MAXCRASH
#ifdef RESTART
#define MAXCRASH 1
#else
#define MAXCRASH 0
#endif
#endif

#ifdef RESTART
#define NI 4            /* identities: nodes 0, 1, 2, and node 2 reborn */
#else
#define NI 3
#endif

#define NV (NI * L + 1)                 /* view ids 1..NV-1, 0 = none */
#define ID(lt, c) (((lt) - 1) * NI + (c) + 1)
#define COORD(v) (((v) - 1) % NI)
#define LT(v) (((v) - 1) / NI + 1)
/* printf arguments for a view id, shown as ltime.coordinator (0.0: none) */
#define SHOW(v) ((v) == 0 -> 0 : LT(v)), ((v) == 0 -> 0 : COORD(v))
#define IN(i, s) (((s) >> (i)) & 1)
#define BIT(i) (1 << (i))

#ifdef RESTART
/* Identity 3 exists only once node 2 has crashed; one list never holds
 * both incarnations of node 2. */
#define VALID(m) (!(IN(2, m) && IN(3, m)) && (!IN(3, m) || crashed[2]))
#else
#define VALID(m) (1)
#endif

/* The network: what has been sent (see the header). */
byte pmem[NV];          /* member set of proposal P, 0 = never proposed */
byte icut[NV * NI];     /* [W * NI + m] cut + 1 for m in INSTALL W */
byte seqd[NV];          /* messages sequenced in V */
byte gst[NV];           /* highest stable announced in V */
#ifdef NOGC
byte ent[NV];           /* members that have installed V (so reported) */
#endif

/* Node state. */
byte view[NI];          /* installed view id, 0 = none */
byte deliv[NI];         /* messages of view[] delivered */
byte promise[NI];       /* highest proposal accepted */
bool flushing[NI];      /* Flushing(promise[], old view view[]) */
/* Proposer state: its pending proposal and the FLUSHes for it. */
byte myprop[NI];
byte got[NI];           /* members whose FLUSH it holds */
byte flold[NI * NI];    /* [proposer * NI + member] old view */
byte fld[NI * NI];      /* delivered count */
#ifdef MUT_STALL_FORGETS
byte used[NI];          /* the last id it proposed */
#endif
bool crashed[NI];
byte ncrash;
#if MAXSTALL > 0
byte nstall;            /* stalls so far */
#define STALLOK (nstall < MAXSTALL)
#define STALLED nstall++
#else
#define STALLOK (0)
#define STALLED skip
#endif

/* Ghosts. */
byte gmem[NV];          /* member set installed under each id */
byte hi[NI];            /* highest id installed */
byte pcnt[NI];          /* while n flushes for W = promise[n] with old view
                         * V = view[n]: the count of V, plus one, with which
                         * the first node went from V to W (0: none yet) */

/* Scratch for deterministic steps (not part of the state). */
hidden byte ti, tj, tm, tc, ts, tw, tx;
hidden byte tA, tF, tM, tR;

/* tc := the cut the proposer p computes for the old view of member m:
 * the highest count reported for that old view. */
inline cutof(p, m) {
	tc = fld[p * NI + m];
	tm = 0;
	do
	:: tm < NI ->
		if
		:: IN(tm, got[p]) && flold[p * NI + tm] == flold[p * NI + m] ->
#ifdef MUT_MIN_CUT
			if
			:: fld[p * NI + tm] < tc -> tc = fld[p * NI + tm]
			:: else -> skip
			fi
#else
			if
			:: fld[p * NI + tm] > tc -> tc = fld[p * NI + tm]
			:: else -> skip
			fi
#endif
		:: else -> skip
		fi;
		tm++
	:: else -> break
	od;
	skip
}

/* Property 3a, for each member i of p's proposal that can still install
 * it (i is p, or still flushes for it) and had an old view o: i lacks
 * (fld_i, cut]; member j's FLUSH for o holds at least (gst[o], fld_j], so
 * the FLUSHes for o hold (gst[o], cut] together.  Deliverable iff
 * fld_i >= cut or gst[o] <= fld_i. */
inline check_available(p) {
	ti = 0;
	do
	:: ti < NI ->
		if
		:: IN(ti, got[p]) && flold[p * NI + ti] != 0 &&
		   (ti == p || (flushing[ti] && promise[ti] == myprop[p])) ->
			cutof(p, ti);
			assert(fld[p * NI + ti] >= tc ||
			       gst[flold[p * NI + ti]] <= fld[p * NI + ti])  /* 3a */
		:: else -> skip
		fi;
		ti++
	:: else -> break
	od;
	skip
}

/* Node n installs view w, having delivered cnt messages of its old view
 * in all: check properties 1 and 3 and record the ghosts. */
inline ghost_install(n, w, cnt) {
	assert(IN(n, pmem[w]));                         /* 1b */
	assert(w > hi[n]);                              /* 1c */
	hi[n] = w;
	if
	:: gmem[w] == 0 -> gmem[w] = pmem[w]
	:: else -> assert(gmem[w] == pmem[w])           /* 1a */
	fi;
	if
	:: view[n] != 0 ->
		if
		:: pcnt[n] != 0 && flushing[n] && promise[n] == w ->
			assert(pcnt[n] == cnt + 1)                  /* 3 */
		:: else -> skip
		fi;
		tm = 0;
		do
		:: tm < NI ->
			if
			:: tm != n && view[tm] == view[n] && flushing[tm] &&
			   promise[tm] == w ->
				if
				:: pcnt[tm] == 0 -> pcnt[tm] = cnt + 1
				:: else -> assert(pcnt[tm] == cnt + 1)  /* 3 */
				fi
			:: else -> skip
			fi;
			tm++
		:: else -> break
		od
	:: else -> skip
	fi
}

inline enter_view(n, w) {
#ifdef NOGC
	ent[w] = ent[w] | BIT(n);
#endif
	view[n] = w;
	deliv[n] = 0;
	flushing[n] = 0;
	pcnt[n] = 0
}

inline clear_proposal(n) {
	myprop[n] = 0;
	got[n] = 0;
	tj = 0;
	do
	:: tj < NI ->
		flold[n * NI + tj] = 0;
		fld[n * NI + tj] = 0;
		tj++
	:: else -> break
	od;
	skip
}

/* n's pending proposal is dead once n no longer flushes for it (it
 * accepted a higher one, or stalled): forget it. */
inline drop_dead_proposal(n) {
#ifndef MUT_SELF_NOCHECK
	if
	:: myprop[n] != 0 && (promise[n] != myprop[n] || !flushing[n]) ->
		clear_proposal(n)
	:: else -> skip
	fi;
#endif
	skip
}

/* n proposes members m with ltime t, and accepts its own proposal. */
#ifdef MUT_STALL_FORGETS
#define CANPROP(n, m, t) (IN(n, m) && VALID(m) && \
                          ID(t, n) > promise[n] && ID(t, n) > used[n])
#elif defined(MUT_ID_REUSE)
#define CANPROP(n, m, t) (IN(n, m) && VALID(m) && ID(t, n) >= promise[n])
#else
#define CANPROP(n, m, t) (IN(n, m) && VALID(m) && ID(t, n) > promise[n])
#endif
inline propose(n, m, t) {
	printf("MSC: %d proposes %d.%d to members %d (bits), flushes view %d.%d at %d\n",
	       n, t, n, m, SHOW(view[n]), deliv[n]);
	assert(pmem[ID(t, n)] == 0);                    /* 1a: ids are unique */
	pmem[ID(t, n)] = m;
#ifdef MUT_STALL_FORGETS
	used[n] = ID(t, n);
#endif
	promise[n] = ID(t, n);
	flushing[n] = 1;
	pcnt[n] = 0;
	clear_proposal(n);
	myprop[n] = ID(t, n);
	got[n] = BIT(n);
	flold[n * NI + n] = view[n];
	fld[n * NI + n] = deliv[n]
}

/* n accepts PROPOSE p and answers with FLUSH, which the proposer keeps.
 * Only a proposal its proposer still waits for is taken: taking one the
 * proposer gave up (it proposed again, took a higher one, stalled or
 * crashed) would only raise the taker's promise and stop its deliveries,
 * and a taker that drops that PROPOSE instead can match each later step
 * (a lower promise refuses nothing a higher one accepts). */
#ifdef MUT_NOT_LISTED
#define CANACCEPT(n, p) (p < NV && myprop[COORD(p)] == p && p > promise[n])
#else
#define CANACCEPT(n, p) (p < NV && myprop[COORD(p)] == p && IN(n, pmem[p]) && \
                         p > promise[n])
#endif
inline accept(n, p) {
	printf("MSC: %d accepts %d.%d, flushes view %d.%d at %d\n",
	       n, SHOW(p), SHOW(view[n]), deliv[n]);
	promise[n] = p;
	flushing[n] = 1;
	pcnt[n] = 0;
	drop_dead_proposal(n);
	tw = COORD(p);
	got[tw] = got[tw] | BIT(n);
	flold[tw * NI + n] = view[n];
	fld[tw * NI + n] = deliv[n]
}

/* The proposer holds every FLUSH and is still flushing for its proposal:
 * it computes the cuts, sends INSTALL, and installs. */
#ifdef MUT_SELF_NOCHECK
#define CANSELF(n) (myprop[n] != 0 && got[n] == pmem[myprop[n]])
#elif defined(MUT_NOT_LISTED)
#define CANSELF(n) (myprop[n] != 0 && (got[n] & pmem[myprop[n]]) == pmem[myprop[n]] \
                    && flushing[n] && promise[n] == myprop[n])
#else
#define CANSELF(n) (myprop[n] != 0 && got[n] == pmem[myprop[n]] && \
                    flushing[n] && promise[n] == myprop[n])
#endif
inline self_install(n) {
	check_available(n);
	tw = myprop[n];
	ti = 0;
	do
	:: ti < NI ->
		if
		:: IN(ti, got[n]) -> cutof(n, ti); icut[tw * NI + ti] = tc + 1
		:: else -> skip
		fi;
		ti++
	:: else -> break
	od;
	tc = icut[tw * NI + n] - 1;
	if
	:: deliv[n] > tc -> tc = deliv[n]
	:: else -> skip
	fi;
	printf("MSC: %d installs its proposal %d.%d, leaving view %d.%d at %d\n",
	       n, SHOW(tw), SHOW(view[n]), tc);
	ghost_install(n, tw, tc);
	enter_view(n, tw);
	clear_proposal(n)
}

/* n receives INSTALL w: delivers its old view up to the cut, installs. */
inline member_install(n, w) {
	tc = icut[w * NI + n] - 1;
	if
	:: deliv[n] > tc -> tc = deliv[n]
	:: else -> skip
	fi;
	printf("MSC: %d installs %d.%d, leaving view %d.%d at %d (cut %d)\n",
	       n, SHOW(w), SHOW(view[n]), tc, icut[w * NI + n] - 1);
	ghost_install(n, w, tc);
	enter_view(n, w);
	drop_dead_proposal(n)
}

/* A crashed node's state no longer matters: clear it (fewer states).
 * What it sent stays in the network; ghosts stay. */
inline wipe(n) {
	view[n] = 0; deliv[n] = 0; promise[n] = 0; flushing[n] = 0; pcnt[n] = 0;
	clear_proposal(n);
#ifdef MUT_STALL_FORGETS
	used[n] = 0;
#endif
	skip
}

/* After every step: raise stable, and forget dead history.
 *
 * Stable (see the header): for each view X whose coordinator is in X,
 * gst[X] rises to the lowest count among the nodes in X, 0 while a node
 * flushes for X.
 *
 * Dead history, so that states differing only in it are one state.  For
 * an id X, with n ranging over the nodes:  A: some n is in view X;  F:
 * some n flushes for X;  M: X is some n's pending proposal (only then can
 * X be accepted);  R: some proposer holds a FLUSH whose old view is X.
 * Promises only grow, a proposer never proposes the same id again, and a
 * view is entered only by installing the proposal one flushes for or
 * one's own pending proposal, so once A, F and M are all false none of
 * them can become true again:
 *   pmem[X], seqd[X], gmem[X]  are used only if A, F or M;
 *   gst[X]       only if A, F or M (X is or can be entered) or R (a cut
 *                for old view X is still to be checked);
 *   icut[X, m]   only while m flushes for X.
 * The mutants break these invariants and run without forgetting. */
inline gc() {
	tx = 1;
	do
	:: tx < NV ->
		tA = 0; tF = 0; tM = 0;
		ts = MAXMSG;
		tj = 0;
		do
		:: tj < NI ->
			if
			:: view[tj] == tx ->
				tA = 1;
				if
				:: deliv[tj] < ts -> ts = deliv[tj]
				:: else -> skip
				fi
#if defined(MUT_STABLE_SEEN)
			/* members not yet in V are ignored */
#elif defined(NOGC)
			/* a member that never installed V has not reported: 0 */
			:: view[tj] != tx && IN(tj, pmem[tx]) && !IN(tj, ent[tx]) ->
				ts = 0
#else
			/* the same, but only for a member that may still install V */
			:: view[tj] != tx && flushing[tj] && promise[tj] == tx ->
				ts = 0
#endif
			:: else -> skip
			fi;
			if
			:: flushing[tj] && promise[tj] == tx ->
				tF = 1
			:: else ->
#ifndef NOGC
				icut[tx * NI + tj] = 0;
#endif
				skip
			fi;
			if
			:: myprop[tj] == tx -> tM = 1
			:: else -> skip
			fi;
			tj++
		:: else -> break
		od;
		if
		:: view[COORD(tx)] == tx && ts > gst[tx] ->
			gst[tx] = ts;
			printf("MSC: stable of view %d.%d is %d\n", SHOW(tx), ts)
		:: else -> skip
		fi;
#ifndef NOGC
		if
		:: tA || tF || tM -> skip
		:: else ->
			pmem[tx] = 0; gmem[tx] = 0; seqd[tx] = 0;
			if
			:: gst[tx] != 0 ->
				tR = 0;
				tj = 0;
				do
				:: tj < NI * NI ->
					if
					:: IN(tj % NI, got[tj / NI]) && flold[tj] == tx -> tR = 1
					:: else -> skip
					fi;
					tj++
				:: else -> break
				od;
				if
				:: tR -> skip
				:: else -> gst[tx] = 0
				fi
			:: else -> skip
			fi
		fi;
#endif
		tx++
	:: else -> break
	od;
	skip
}

/* One option per (member set, ltime) a proposal may take. */
#define PROPL(m, t) :: d_step { CANPROP(me, m, t) -> propose(me, m, t); gc() }
#if L == 1
#define PROPM(m) PROPL(m, 1)
#elif L == 2
#define PROPM(m) PROPL(m, 1) PROPL(m, 2)
#elif L == 3
#define PROPM(m) PROPL(m, 1) PROPL(m, 2) PROPL(m, 3)
#elif L == 4
#define PROPM(m) PROPL(m, 1) PROPL(m, 2) PROPL(m, 3) PROPL(m, 4)
#else
#error "L must be 1 to 4"
#endif

/* One option per proposal id that may be accepted. */
#define ACC(p) :: d_step { CANACCEPT(me, p) -> accept(me, p); gc() }
#ifdef MUT_INSTALL_ANY
#define INST(w) :: d_step { w < NV && flushing[me] && icut[w * NI + me] != 0 \
                            -> member_install(me, w); gc() }
#else
#define INST(w)
#endif
#define PERID(p) ACC(p) INST(p)

#define me _pid
active [NI] proctype Node()
{
#ifdef RESTART
	/* node 2 reborn waits for the death of its old incarnation */
end_wait:
	(me != 3 || crashed[2]);
#endif
end:
	do
	/* propose: any member set with us, any ltime above our promise */
	PROPM(1) PROPM(2) PROPM(3) PROPM(4) PROPM(5) PROPM(6) PROPM(7)
#ifdef RESTART
	PROPM(8) PROPM(9) PROPM(10) PROPM(11) PROPM(12) PROPM(13) PROPM(14)
	PROPM(15)
#endif
	/* accept a PROPOSE its proposer still waits for */
	PERID(1) PERID(2) PERID(3) PERID(4) PERID(5) PERID(6) PERID(7)
	PERID(8) PERID(9) PERID(10) PERID(11) PERID(12) PERID(13) PERID(14)
	PERID(15) PERID(16)
	/* proposer: every FLUSH is in, install */
	:: d_step { CANSELF(me) -> self_install(me); gc() }
#ifndef MUT_INSTALL_ANY
	/* member: INSTALL of the proposal we flush for */
	:: d_step { flushing[me] && icut[promise[me] * NI + me] != 0 ->
		member_install(me, promise[me]); gc() }
#endif
	/* coordinator, not flushing: sequence (and deliver) a message */
	:: d_step { view[me] != 0 && COORD(view[me]) == me && !flushing[me] &&
	            deliv[me] < MAXMSG ->
		deliv[me]++; seqd[view[me]] = deliv[me];
		printf("MSC: %d sequences message %d of view %d.%d\n",
		       me, deliv[me], SHOW(view[me]));
		gc() }
	/* member: deliver the next SEQUENCED message */
#ifdef MUT_FLUSH_DELIVERS
	:: d_step { view[me] != 0 && deliv[me] < seqd[view[me]] ->
		deliv[me]++;
		printf("MSC: %d delivers message %d of view %d.%d\n",
		       me, deliv[me], SHOW(view[me]));
		gc() }
#else
	:: d_step { view[me] != 0 && !flushing[me] &&
	            deliv[me] < seqd[view[me]] ->
		deliv[me]++;
		printf("MSC: %d delivers message %d of view %d.%d\n",
		       me, deliv[me], SHOW(view[me]));
		gc() }
#endif
	/* stall: give up the view (and any flush), keep the promise */
	:: d_step { STALLOK && (view[me] != 0 || flushing[me]) ->
		STALLED;
		printf("MSC: %d stalls, giving up view %d.%d\n", me, SHOW(view[me]));
		view[me] = 0; deliv[me] = 0; flushing[me] = 0; pcnt[me] = 0;
#if defined(MUT_STALL_FORGETS) || defined(MUT_STALL_REUSES)
		promise[me] = 0;
#endif
		drop_dead_proposal(me);
		gc() }
	/* crash */
	:: d_step { ncrash < MAXCRASH -> ncrash++; crashed[me] = 1; wipe(me);
		printf("MSC: %d crashes\n", me);
		gc() };
		break
	od
}
