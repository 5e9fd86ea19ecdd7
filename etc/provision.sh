#!/bin/sh
# What a make target needs beyond cargo, installed when it is missing:
# with apt-get when run as root on Debian, saying loudly what it installs
# and why; silent when everything is there; otherwise an error naming the
# Debian packages and the command that installs them. Run it again and it
# does nothing.
#
# Usage: sh etc/provision.sh test    what `make test` needs
#        sh etc/provision.sh deb     what `make deb` needs to build a package
#        sh etc/provision.sh lintian `make deb`'s check of the package
#        sh etc/provision.sh model   what `make model` needs
#
# etc/cross.sh sources this file (with PROVISION_SOURCED=yes) for its
# messages and provision_command.

# The name messages start with (etc/cross.sh sets its own).
: "${ACTION:=provision}"

say() { printf '%s: %s\n' "$ACTION" "$*"; }
die() { printf '%s: %s\n' "$ACTION" "$*" >&2; exit 1; }
loud() {
	printf '\n%s: ********************************************************\n' "$ACTION" >&2
	for line in "$@"; do printf '%s: %s\n' "$ACTION" "$line" >&2; done
	printf '%s: ********************************************************\n\n' "$ACTION" >&2
}

have() { command -v "$1" >/dev/null 2>&1; }

# The commands still to check after installing, and the Debian packages
# that provide the missing ones ("tool=package ..." and "package ...").
WANTED=""
MISSING=""

# Notes that command $1 is needed, from Debian packages $2...
need() {
	tool=$1
	shift
	have "$tool" && return 0
	WANTED="$WANTED $tool"
	for package in "$@"; do
		case " $MISSING " in *" $package "*) ;; *) MISSING="$MISSING $package" ;; esac
	done
}

# Installs every package noted by `need` in one go (as root, with
# apt-get), or fails naming them. $1 says what they are for.
install_missing() {
	[ -n "$MISSING" ] || return 0
	packages=${MISSING# }
	if [ "$(id -u)" != 0 ] || ! have apt-get; then
		die "missing for $1:$WANTED; install Debian's $packages (apt-get install $packages) or put them on PATH"
	fi
	loud "missing for $1:$WANTED" "installing: apt-get install $packages"
	# shellcheck disable=SC2086 # one word per package
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null; } ||
		die "could not install $packages (apt-get install $packages)"
	for tool in $WANTED; do
		have "$tool" || die "$tool still missing after installing $packages"
	done
	say "installed $packages"
	WANTED="" MISSING=""
}

# fresh_dir PATH: PATH made empty (and made if missing); prints it as an
# absolute path.
fresh_dir() {
	rm -rf "$1" && mkdir -p "$1" && (cd "$1" && pwd)
}

# package_file PATH USAGE: PATH, a package file, as an absolute path;
# without one, fails with USAGE.
package_file() {
	[ -f "${1:-}" ] || die "usage: $2 (make deb builds the package)"
	printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")"
}

# Installs Debian packages $2... unless command $1 exists.
provision_command() {
	need "$@"
	install_missing "$1"
}

# Whether this kernel can drop datagrams with the netem qdisc, tried on
# the loopback of a namespace made for the purpose and deleted at once.
kernel_has_netem() {
	probe="wk-provision-$$"
	ip netns add "$probe" 2>/dev/null || die "cannot create a network namespace (ip netns add): make test needs root"
	found=no
	tc -n "$probe" qdisc add dev lo root netem loss 1% 2>/dev/null && found=yes
	ip netns del "$probe" 2>/dev/null || true
	[ "$found" = yes ]
}

# What builds the Debian package: dpkg-deb, dpkg-shlibdeps and
# dpkg-parsechangelog, gzip, and strip.
need_deb_tools() {
	need dpkg-deb dpkg
	need dpkg-shlibdeps dpkg-dev
	need dpkg-parsechangelog dpkg-dev
	need gzip gzip
	need strip binutils
}

# `make test`: the namespace tests build networks with ip (and tc for
# loss), set sysctls inside their namespaces, and drop datagrams with tc
# netem or, on kernels without that qdisc, an nftables rule; the fuzz
# targets' build compiles libFuzzer, which is C++; the package is built
# and checked.
provision_test() {
	[ "$(id -u)" = 0 ] ||
		die "the network-namespace tests need root: run make test as root"
	need ip iproute2
	need tc iproute2
	need sysctl procps
	need cc gcc
	need c++ g++
	need_deb_tools
	install_missing "make test"
	if ! have nft && ! kernel_has_netem; then
		need nft nftables
		install_missing "make test (this kernel has no netem qdisc: the loss test drops datagrams with nftables)"
	fi
}

[ -n "${PROVISION_SOURCED:-}" ] && return 0
set -eu

case "${1:-}" in
test)
	ACTION="make test"
	provision_test
	;;
deb)
	ACTION="make deb"
	need_deb_tools
	install_missing "make deb"
	;;
lintian)
	ACTION="make deb"
	need lintian lintian
	install_missing "the check of the package"
	;;
model)
	ACTION="make model"
	need spin spin
	need cc gcc
	install_missing "make model"
	;;
*) die "usage: $0 test | deb | lintian | model" ;;
esac
