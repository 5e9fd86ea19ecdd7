# Wackamole build targets. `make test` is what CI runs (see .ci/run).

PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
CARGO ?= cargo
BIN := target/release/wackamole
STATIC_DIR := dist
# The binary looks for $(SYSCONFDIR)/wackamole.conf when run without -c.
export WACKAMOLE_SYSCONFDIR := $(SYSCONFDIR)

.PHONY: all test soak demo static cross-test install lint bench bench-load clean model model-mutants fuzz \
	deb deb-check deb-install-test

all:
	$(CARGO) build --release

# The whole suite, including the root-only network-namespace tests, a
# build check of the fuzz targets (which `make fuzz` runs on nightly) so
# that they keep up with the code they exercise, and the check of the
# Debian package (deb-check). What it needs beyond cargo is installed
# first when missing (etc/provision.sh: iproute2, procps, gcc and g++,
# Debian's packaging tools, and nftables on a kernel without netem).
test:
	sh etc/provision.sh test
	$(CARGO) test --profile test-opt -- --test-threads=2
	$(CARGO) check --manifest-path tests/fuzz/Cargo.toml --bins --examples
	$(MAKE) --no-print-directory deb-check

# Every seeded simulation at length, SOAK_SEEDS schedules each (a
# million by default), each spread over every core: the engine's clusters
# checked against the rules of original nodes (about 3 minutes of CPU
# time), the adversarial schedules of the built-in membership (about an
# hour of CPU) and its packet-level simulation (about an hour and a half
# of CPU). A failing seed is printed with how to replay it.
SOAK_SEEDS ?= 1000000
soak:
	WACKAMOLE_SIM_SEEDS=$(SOAK_SEEDS) $(CARGO) test --profile test-opt --test it -- --nocapture engine_sim::
	WACKAMOLE_SCENARIO_SEEDS=$(SOAK_SEEDS) $(CARGO) test --profile test-opt --test it -- --nocapture membership_scenarios::any_order_any_delay
	WACKAMOLE_MSIM_SEEDS=$(SOAK_SEEDS) $(CARGO) test --profile test-opt --test it -- --nocapture membership_sim::

# Three nodes on the built-in membership in network namespaces (root):
# the allocation, a crash, a clean stop and a partition, timed. The script
# builds the binary with cargo when it can and removes all it made.
demo:
	sh etc/demo.sh

# A fully static binary (etc/cross.sh). Without TARGET: x86-64 with musl
# in dist/wackamole, installing the musl target with rustup when it is
# missing (and saying loudly if it falls back to glibc with crt-static).
# With TARGET=<triple> (`sh etc/cross.sh targets` lists them: aarch64
# with musl, armv7 with musl or glibc, big-endian powerpc and s390x with
# glibc): a static binary for that CPU in dist/<triple>/wackamole, with
# the target and its cross linker installed when missing (rustup, apt-get
# as root). Sizes in README.md.
TARGET ?=
static:
	CARGO="$(CARGO)" sh etc/cross.sh static $(TARGET)

# The tests that need no root, no network namespaces and not the binary
# itself, built for TARGET and run under qemu-user (installed when
# missing), with fewer simulation seeds; engine bodies are exchanged with
# this host in both directions (tests/it/endian_exchange.rs). One target per
# run: make cross-test TARGET=powerpc-unknown-linux-gnu (CI runs that one).
cross-test:
	CARGO="$(CARGO)" sh etc/cross.sh test $(TARGET)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(SYSCONFDIR)/init.d
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/wackamole
	ln -sf wackamole $(DESTDIR)$(PREFIX)/sbin/wackatrl
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/wackamole.conf ]; then \
		install -m 0644 etc/wackamole.conf $(DESTDIR)$(SYSCONFDIR)/wackamole.conf.sample; \
	else \
		install -m 0644 etc/wackamole.conf $(DESTDIR)$(SYSCONFDIR)/wackamole.conf; \
	fi
	install -m 0755 etc/init.d/wackamole $(DESTDIR)$(SYSCONFDIR)/init.d/wackamole
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0644 etc/man/wackamole.8 etc/man/wackatrl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 etc/man/wackamole.conf.5 $(DESTDIR)$(MANDIR)/man5/
	sed -e 's|/usr/local/sbin/wackamole|$(PREFIX)/sbin/wackamole|' \
		-e 's|/etc/wackamole.conf|$(SYSCONFDIR)/wackamole.conf|' \
		etc/systemd/wackamole.service > $(DESTDIR)$(SYSTEMDUNITDIR)/wackamole.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/wackamole.service

# The Debian package of the release build, dist/wackamole_VERSION_ARCH.deb
# (etc/debian/build.sh), checked by lintian; dpkg-dev, binutils and
# lintian are installed when missing. deb-check (part of `make test`)
# builds it without lintian and checks it unpacked, never installed
# (etc/debian/check.sh), and proves the check refuses broken copies.
# deb-install-test installs it on this machine with dpkg, checks it, then
# upgrades, removes and purges it (etc/debian/install-test.sh; root; CI
# runs it).
DEB_VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB := dist/wackamole_$(DEB_VERSION)_$(DEB_ARCH).deb

deb: all
	sh etc/provision.sh deb
	LINTIAN=yes sh etc/debian/build.sh $(BIN)

deb-check: all
	sh etc/provision.sh deb
	sh etc/debian/build.sh $(BIN)
	sh etc/debian/check.sh $(DEB) mutants

deb-install-test: deb
	sh etc/debian/check.sh $(DEB)
	sh etc/debian/install-test.sh $(DEB)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --document-private-items

# Figures for the engine, the membership core in simulation, the network
# layer, the whole daemon, how soon a killed daemon's Spread session ends,
# the built-in membership end to end, the promise of one holder per
# address seen from the kernels, a key rotation on a running cluster
# (view changes: none), a link cut beside a lossy one (view changes:
# none) and the trackers' hand-overs (root: the last nine build network
# namespaces). The static binary is built first so its size and memory
# are measured too.
bench: static
	$(CARGO) bench --bench engine --bench config --bench membership --bench net --bench daemon --bench death --bench builtin --bench promise --bench rotation --bench links --bench track

# Ten idle minutes of a 3-node cluster on the built-in membership while
# two busy loops keep both cores loaded, counting view changes (target 0).
bench-load:
	WACKAMOLE_BENCH_LOAD_SECS=600 $(CARGO) bench --bench builtin

# The spin model of the membership protocol's view change and merge
# (tests/model/membership.pml): an exhaustive check that view agreement and
# view synchrony hold in every interleaving, for three nodes with loss,
# crashes and stalls. Needs spin and a C compiler (installed when missing:
# etc/provision.sh); everything is built and run in target/model. Fails unless pan reports
# "errors: 0" over the whole state space.
MODEL_DIR := target/model
MODEL_PML := tests/model/membership.pml
MODEL_CFLAGS := -O2 -w -DSAFETY -DMEMLIM=8000
MODEL_PANFLAGS := -m1000 -w25
MODEL_MUTANTS := MUT_INSTALL_ANY MUT_MIN_CUT MUT_FLUSH_DELIVERS \
	MUT_SELF_NOCHECK MUT_STABLE_SEEN MUT_STALL_FORGETS MUT_ID_REUSE \
	MUT_NOT_LISTED MUT_STALL_REUSES

model:
	@sh etc/provision.sh model
	@rm -rf $(MODEL_DIR) && mkdir -p $(MODEL_DIR)
	cp $(MODEL_PML) $(MODEL_DIR)/membership.pml
	cd $(MODEL_DIR) && spin -a membership.pml
	cd $(MODEL_DIR) && $(CC) $(MODEL_CFLAGS) -o pan pan.c
	@cd $(MODEL_DIR) && { ./pan $(MODEL_PANFLAGS) >pan.out 2>&1; cat pan.out; } && \
	grep -q 'errors: 0$$' pan.out && \
	! grep -Eq 'reached -DMEMLIM bound|max search depth too small|out of memory' pan.out || \
	{ echo "model: FAILED (see $(MODEL_DIR)/pan.out and any membership.pml.trail there)" >&2; exit 1; }

# Each mutant breaks one rule of the protocol on purpose; spin must find a
# counterexample to each (kept, replayed, in target/model/mutants). Not in CI.
model-mutants:
	@sh etc/provision.sh model
	@rm -rf $(MODEL_DIR)/mutants && mkdir -p $(MODEL_DIR)/mutants
	@cp $(MODEL_PML) $(MODEL_DIR)/mutants/membership.pml
	@cd $(MODEL_DIR)/mutants && fail=0 && for m in $(MODEL_MUTANTS); do \
		spin -D$$m -a membership.pml >/dev/null && \
		$(CC) $(MODEL_CFLAGS) -o pan pan.c && \
		{ timeout 600 ./pan $(MODEL_PANFLAGS) >$$m.out 2>&1; true; } && \
		if grep -q 'errors: [1-9]' $$m.out && [ -f membership.pml.trail ]; then \
			spin -D$$m -t membership.pml >$$m.replay 2>&1; \
			mv membership.pml.trail $$m.trail; \
			echo "$$m: caught: $$(grep -m1 'assertion violated' $$m.out)"; \
		else \
			echo "$$m: NOT caught (see $(MODEL_DIR)/mutants/$$m.out)"; fail=1; \
		fi; \
	done; exit $$fail

# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every decoder of
# outside bytes or text: each target of tests/fuzz runs FUZZ_SECS seconds
# (FUZZ_TARGETS to choose some), from seeds built out of the repository's
# recordings and example configurations (tests/fuzz/seeds) and the corpus
# grown by earlier runs (tests/fuzz/corpus). A crash stops it and leaves
# its input in tests/fuzz/artifacts/TARGET/. Needs the nightly toolchain
# (rustup toolchain install nightly); cargo-fuzz is installed if missing.
FUZZ_DIR := tests/fuzz
FUZZ_SECS ?= 60
FUZZ_TARGETS ?= spread_frame spread_handshake spread_membership engine_codec \
	engine_inputs control_request control_reply config_parse membership_wire \
	membership_node
FUZZ_FLAGS ?= -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
# control_request drives a live server whose connection threads outlive
# each input; glibc's registration of their thread-local destructors then
# looks like a leak to LeakSanitizer. Leaks are not checked there.
FUZZ_NO_LEAK_CHECK := control_request

fuzz:
	@rustup run nightly rustc --version >/dev/null 2>&1 || { \
		echo "fuzz: the nightly toolchain is missing: rustup toolchain install nightly" >&2; exit 1; }
	@cargo +nightly fuzz --version >/dev/null 2>&1 || { \
		echo "fuzz: installing cargo-fuzz (cargo install cargo-fuzz)"; \
		cargo +nightly install cargo-fuzz --locked; }
	cd $(FUZZ_DIR) && cargo +nightly run --release --example seeds -- seeds
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t && \
		echo "fuzz: $$t for $(FUZZ_SECS) s" && \
		case " $(FUZZ_NO_LEAK_CHECK) " in *" $$t "*) extra=-detect_leaks=0 ;; *) extra= ;; esac && \
		cargo +nightly fuzz run --fuzz-dir $(FUZZ_DIR) $$t \
			$(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/seeds/$$t -- \
			-max_total_time=$(FUZZ_SECS) $(FUZZ_FLAGS) $$extra || exit 1; \
	done

clean:
	$(CARGO) clean
	rm -rf $(STATIC_DIR)
