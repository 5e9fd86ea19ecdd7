# Wackamole build targets. `make test` is what CI runs (see .ci/run).

PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
CARGO ?= cargo
BIN := target/release/wackamole
STATIC_DIR := dist
# The binary looks for $(SYSCONFDIR)/wackamole.conf when run without -c.
export WACKAMOLE_SYSCONFDIR := $(SYSCONFDIR)

.PHONY: all test soak demo static install lint bench bench-load clean

all:
	$(CARGO) build --release

# The whole suite, including the root-only network-namespace tests.
test:
	$(CARGO) test --profile test-opt -- --test-threads=2

# The membership simulation at length: a million schedules (about an hour
# on two cores). A failing seed is printed with the command that replays it.
soak:
	WACKAMOLE_MSIM_SEEDS=1000000 $(CARGO) test --profile test-opt --test membership_sim -- --nocapture

# Three nodes on the built-in membership in network namespaces (root):
# the allocation, a crash, a clean stop and a partition, timed. The script
# builds the binary with cargo when it can and removes all it made.
demo:
	sh etc/demo.sh

# A fully static x86-64 binary: musl when that target is installed,
# otherwise glibc with crt-static. relocation-model=static gives a plain
# static executable rather than a static PIE (both targets' default), which
# ldd calls "statically linked" instead of "not a dynamic executable".
static:
	@mkdir -p $(STATIC_DIR)
	@if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then \
		echo "static: using musl (x86_64-unknown-linux-musl)"; \
		RUSTFLAGS="-C relocation-model=static" $(CARGO) build --release --target x86_64-unknown-linux-musl && \
		cp target/x86_64-unknown-linux-musl/release/wackamole $(STATIC_DIR)/wackamole; \
	else \
		echo "static: musl target not installed, using glibc with crt-static"; \
		RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" $(CARGO) build --release --target x86_64-unknown-linux-gnu && \
		cp target/x86_64-unknown-linux-gnu/release/wackamole $(STATIC_DIR)/wackamole; \
	fi
	@ldd $(STATIC_DIR)/wackamole 2>&1 | sed 's/^/ldd: /'
	@echo "static: $(STATIC_DIR)/wackamole is $$(stat -c %s $(STATIC_DIR)/wackamole) bytes"

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

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# Figures for the engine, the membership core in simulation, the network
# layer, the whole daemon and the built-in membership end to end (root: the
# last three build network namespaces). The static binary is built first
# so its size and memory are measured too.
bench: static
	$(CARGO) bench --bench engine --bench membership --bench net --bench daemon --bench builtin

# Ten idle minutes of a 3-node cluster on the built-in membership while
# two busy loops keep both cores loaded, counting view changes (target 0).
bench-load:
	WACKAMOLE_BENCH_LOAD_SECS=600 $(CARGO) bench --bench builtin

clean:
	$(CARGO) clean
	rm -rf $(STATIC_DIR)
