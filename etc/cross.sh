#!/bin/sh
# Static binaries for this machine and for router CPUs, and the tests that
# need neither root nor network namespaces run on those CPUs under
# emulation (Debian's qemu-user). `make static` and `make cross-test` call
# it; it installs what a target needs when it is missing (the Rust
# standard library through rustup, a cross linker and qemu-user through
# apt-get when run as root) and says so.
#
# Usage: sh etc/cross.sh static [TARGET]   the binary, in dist/
#        sh etc/cross.sh test TARGET       the emulated test set
#        sh etc/cross.sh targets           the targets it knows
#
# Without TARGET, `static` builds for x86-64 with musl into dist/wackamole;
# should the musl standard library be impossible to install, it says so
# loudly and falls back to glibc with crt-static (a larger binary). Other
# targets go to dist/TARGET/wackamole. Everything builds under target/.
set -eu

cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
DEFAULT_TARGET=x86_64-unknown-linux-musl
FALLBACK_TARGET=x86_64-unknown-linux-gnu
# What `test` runs: the library's unit tests, plus the modules of the
# integration test binary (tests/it) that need neither root, network
# namespaces nor the wackamole binary itself (which the emulated test
# could not start), selected by name. The modules left out (cli, manual,
# cluster, builtin_*, membership_rotation, net_*, process_*, track_wire)
# run natively in `make test`.
CROSS_TESTS="config_parse config_errors engine_sim engine_transcript endian_exchange
membership_sim membership_scenarios membership_hostile spread_transcripts
spread_session spread_robustness spread_test_daemon"
# Reduced seed counts: emulation is 5 to 20 times slower than the host.
: "${WACKAMOLE_SIM_SEEDS:=5000}"
: "${WACKAMOLE_MSIM_SEEDS:=300}"
: "${WACKAMOLE_SCENARIO_SEEDS:=50}"
export WACKAMOLE_SIM_SEEDS WACKAMOLE_MSIM_SEEDS WACKAMOLE_SCENARIO_SEEDS

PROVISION_SOURCED=yes
# say, die, loud and provision_command.
. etc/provision.sh

# The per-target table: the C cross linker and its Debian package (empty
# for the host's own cc), the qemu-user emulator, and the flags that make
# the binary static. musl targets link statically by default; glibc ones
# need crt-static. relocation-model=static gives a plain static executable
# rather than a static PIE.
describe() {
	LINKER="" PACKAGES="" QEMU=""
	FLAGS="-C relocation-model=static"
	case "$1" in
	x86_64-unknown-linux-musl) ;;
	x86_64-unknown-linux-gnu)
		FLAGS="-C target-feature=+crt-static $FLAGS" ;;
	aarch64-unknown-linux-musl)
		LINKER=aarch64-linux-gnu-gcc PACKAGES=gcc-aarch64-linux-gnu QEMU=qemu-aarch64 ;;
	armv7-unknown-linux-musleabihf)
		LINKER=arm-linux-gnueabihf-gcc PACKAGES=gcc-arm-linux-gnueabihf QEMU=qemu-arm ;;
	armv7-unknown-linux-gnueabihf)
		LINKER=arm-linux-gnueabihf-gcc QEMU=qemu-arm
		PACKAGES="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
		FLAGS="-C target-feature=+crt-static $FLAGS" ;;
	powerpc-unknown-linux-gnu)
		LINKER=powerpc-linux-gnu-gcc QEMU=qemu-ppc
		PACKAGES="gcc-powerpc-linux-gnu libc6-dev-powerpc-cross"
		FLAGS="-C target-feature=+crt-static $FLAGS" ;;
	s390x-unknown-linux-gnu)
		LINKER=s390x-linux-gnu-gcc QEMU=qemu-s390x
		PACKAGES="gcc-s390x-linux-gnu libc6-dev-s390x-cross"
		FLAGS="-C target-feature=+crt-static $FLAGS" ;;
	*) die "unknown target $1 (known: $(known_targets))" ;;
	esac
}

known_targets() {
	echo "x86_64-unknown-linux-musl x86_64-unknown-linux-gnu aarch64-unknown-linux-musl" \
		"armv7-unknown-linux-musleabihf armv7-unknown-linux-gnueabihf" \
		"powerpc-unknown-linux-gnu s390x-unknown-linux-gnu"
}

# Whether the active toolchain has the standard library for $1 (works
# with or without rustup).
has_std() {
	sysroot=$(rustc --print sysroot 2>/dev/null) || return 1
	ls "$sysroot/lib/rustlib/$1/lib/"libstd-*.rlib >/dev/null 2>&1
}

# Installs the standard library for $1 if missing; fails if it cannot.
provision_std() {
	has_std "$1" && return 0
	command -v rustup >/dev/null 2>&1 || {
		say "the Rust standard library for $1 is missing and rustup is not installed" >&2
		return 1
	}
	say "installing the Rust standard library for $1: rustup target add $1"
	rustup target add "$1" || return 1
	has_std "$1"
}

# CARGO_TARGET_<TRIPLE>_<WHAT> for cargo.
target_var() {
	printf 'CARGO_TARGET_%s_%s' "$(printf '%s' "$1" | tr 'a-z.-' 'A-Z__')" "$2"
}

# Prepares the environment for building (and with $2 = run, running) $1.
setup() {
	describe "$1"
	provision_std "$1" || die "the Rust standard library for $1 cannot be installed"
	if [ -n "$LINKER" ]; then
		provision_command "$LINKER" $PACKAGES
		export "$(target_var "$1" LINKER)=$LINKER"
	fi
	if [ "${2:-}" = run ] && [ -n "$QEMU" ]; then
		provision_command "$QEMU" qemu-user
		# The binaries are static: the emulator needs no sysroot (-L).
		export "$(target_var "$1" RUNNER)=$QEMU"
	fi
	# The flags only reach this target's code, not build scripts or
	# proc-macros, because cargo is given --target.
	export RUSTFLAGS="$FLAGS"
}

# Extra RUSTFLAGS that make a release binary for $1 smaller, printed on
# stdout; nothing (and a banner on stderr) when they cannot be had. The
# release profile aborts on panic, so the unwind tables are dead weight:
# rustc is told not to make them for our code, and the linker drops
# those of the prebuilt standard library and C runtime
# (etc/no-unwind-tables.ld) and folds identical functions. GNU ld refuses
# to drop the C runtime's tables, so this uses the lld that rustup ships
# with the toolchain (gcc-ld/ld.lld), through the target's C compiler.
# Only for musl targets: a static glibc may unwind for thread
# cancellation.
slim_flags() {
	case "$1" in *-musl*) ;; *) return 0 ;; esac
	sysroot=$(rustc --print sysroot 2>/dev/null) || return 0
	host=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')
	gccld=$sysroot/lib/rustlib/$host/bin/gcc-ld
	script=$(pwd)/etc/no-unwind-tables.ld
	case "$gccld$script" in *" "*)
		loud "a space in $gccld or $script:" \
			"building without dropping the unwind tables (about 140 KB larger)" >&2
		return 0 ;;
	esac
	if [ ! -x "$gccld/ld.lld" ]; then
		loud "no lld in this Rust toolchain ($gccld/ld.lld):" \
			"building without dropping the unwind tables (about 140 KB larger)" >&2
		return 0
	fi
	printf '%s' "-C force-unwind-tables=no -C link-arg=-fuse-ld=lld -C link-arg=-B$gccld" \
		" -C link-arg=-Wl,--icf=all -C link-arg=-Wl,--no-eh-frame-hdr -C link-arg=-Wl,-T,$script"
}

static_build() {
	target=${1:-}
	if [ -z "$target" ]; then
		target=$DEFAULT_TARGET
		out=dist/wackamole
		describe "$target"
		if ! provision_std "$target"; then
			loud "the musl standard library ($target) cannot be installed:" \
				"falling back to glibc with crt-static, a larger binary." \
				"Install it with: rustup target add $target"
			target=$FALLBACK_TARGET
		fi
	else
		out=dist/$target/wackamole
	fi
	setup "$target"
	slim=$(slim_flags "$target")
	[ -z "$slim" ] || export RUSTFLAGS="$RUSTFLAGS $slim"
	# Optimized for size rather than speed: 5% smaller, and the daemon
	# spends its time waiting, not computing.
	say "building $target ($RUSTFLAGS, opt-level z)"
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z $CARGO build --release --target "$target"
	mkdir -p "$(dirname "$out")"
	cp "target/$target/release/wackamole" "$out"
	kind=$(file -b "$out" 2>/dev/null | cut -d, -f1-2 || true)
	say "$out: $(stat -c %s "$out") bytes${kind:+, $kind}"
	# A dynamic executable would name its interpreter.
	if readelf -l "$out" 2>/dev/null | grep -q 'program interpreter'; then
		die "$out is not static"
	fi
}

# The sum of the "N passed" counts in cargo's output $1.
passed() {
	sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$1" | awk '{ n += $1 } END { print n + 0 }'
}

# cargo test ARGS for the emulated target, its output added to $log.
emulated() {
	WACKAMOLE_ENDIAN_WRITE="$exchange/target" WACKAMOLE_ENDIAN_READ="$exchange/host" \
		$CARGO test --profile test-opt --target "$target" "$@" 2>&1 |
		tee -a "$log" | grep -E '^(test result|     Running|error|failures:|---- )' || true
}

cross_test() {
	target=${1:-}
	[ -n "$target" ] || die "which target? make cross-test TARGET=... ($(known_targets))"
	start=$(date +%s)
	dir=target/cross/$target
	exchange=$dir/exchange
	rm -rf "$dir" && mkdir -p "$exchange"
	log=$dir/test.log
	# 1. This host encodes its bodies for the other build to decode.
	say "host: encoding the engine's bodies into $exchange/host"
	env -u RUSTFLAGS WACKAMOLE_ENDIAN_WRITE="$exchange/host" \
		$CARGO test --profile test-opt --test it -q -- endian_exchange:: >"$dir/host-write.log" 2>&1 ||
		{ cat "$dir/host-write.log" >&2; die "host encoding failed"; }
	# 2. The emulated build: the whole set, decoding the host's bodies and
	# encoding its own.
	setup "$target" run
	# libtest runs the tests whose path holds any of the filters given; they
	# would filter the unit tests too, so those run in a cargo run of their
	# own, and the integration modules of CROSS_TESTS in another.
	set --
	for t in $CROSS_TESTS; do set -- "$@" "$t::"; done
	say "$target: building and running the unit tests and $# integration test modules under ${QEMU:-the host} (seeds: engine $WACKAMOLE_SIM_SEEDS, membership $WACKAMOLE_MSIM_SEEDS, scenarios $WACKAMOLE_SCENARIO_SEEDS)"
	: >"$log"
	emulated --lib -- --test-threads=2
	emulated --test it -- --test-threads=2 "$@"
	grep -q '^test result: FAILED' "$log" && die "$target: tests failed (see $log)"
	binaries=$(grep -c '^test result: ok' "$log" || true)
	[ "$binaries" -eq 2 ] || die "$target: only $binaries of 2 test binaries passed (see $log)"
	# 3. This host decodes what the emulated build encoded.
	say "host: decoding the bodies $target encoded"
	env -u RUSTFLAGS WACKAMOLE_ENDIAN_READ="$exchange/target" \
		$CARGO test --profile test-opt --test it -- endian_exchange:: >"$dir/host-read.log" 2>&1 ||
		{ cat "$dir/host-read.log" >&2; die "host decoding failed"; }
	say "$target: $(passed "$log") tests passed in $binaries binaries under ${QEMU:-the host}," \
		"host decoded its bodies ($(passed "$dir/host-read.log") tests); $(( $(date +%s) - start )) s"
}

ACTION=${1:-}
case "$ACTION" in
static) static_build "${2:-}" ;;
test) cross_test "${2:-}" ;;
targets) known_targets ;;
*) ACTION=cross; die "usage: $0 static [TARGET] | test TARGET | targets" ;;
esac
