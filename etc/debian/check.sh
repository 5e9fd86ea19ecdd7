#!/bin/sh
# Checks a built wackamole package without installing it (`make test`
# runs it): unpacked with dpkg-deb -x and -e into a scratch directory
# under target/, it must hold exactly etc/debian/contents (paths, modes,
# owners, the wackatrl link), mark every file under /etc as a conffile,
# match its md5sums, carry gzipped manual pages and changelog, the BSD
# licence, a unit and an init script that run /usr/sbin/wackamole on
# /etc/wackamole.conf, maintainer scripts that never enable or start the
# daemon, and a binary that accepts the sample configuration
# (wackamole -t -c). Every failure is listed; the exit status is 1 if
# there is any.
#
# With `mutants`, it also proves that it notices: it breaks the package
# in several ways, one at a time (a file missing from conffiles, the
# binary not executable, a manual page not compressed, a sample the
# binary refuses, a postinst that starts the daemon, a stray file), and
# fails unless every broken copy is refused.
#
# Usage: sh etc/debian/check.sh DEB [mutants]
set -eu

cd "$(dirname "$0")/../.."

ACTION="package check"
PROVISION_SOURCED=yes
. etc/provision.sh

DEB=$(package_file "${1:-}" "$0 DEB [mutants]")
SCRATCH=$(fresh_dir target/deb-check)

FAILED=""
fail() {
	FAILED="$FAILED
  - $*"
}

# The mode, owner and path (and link target) of each entry of $1, sorted
# by path.
listing() {
	dpkg-deb -c "$1" | awk '{ line = $6 " " $1 " " $2; if ($7 == "->") line = line " -> " $8; print line }' |
		LC_ALL=C sort
}

# check DEB DIR: unpacks DEB into DIR and records every problem found.
check() {
	deb=$1 dir=$2
	files=$dir/files control=$dir/control
	mkdir -p "$files" "$control"
	dpkg-deb -x "$deb" "$files" || { fail "dpkg-deb -x cannot unpack it"; return; }
	dpkg-deb -e "$deb" "$control" || { fail "dpkg-deb -e cannot unpack its control files"; return; }

	# Contents, modes and owners, exactly.
	grep -v '^#' etc/debian/contents | awk '{ line = $3 " " $1 " " $2; if ($4 == "->") line = line " -> " $5; print line }' |
		LC_ALL=C sort >"$dir/expected"
	listing "$deb" >"$dir/actual"
	if ! diff -u "$dir/expected" "$dir/actual" >"$dir/contents.diff"; then
		fail "contents differ from etc/debian/contents (- expected, + found):
$(sed -n '3,$p' "$dir/contents.diff" | grep '^[-+]' | sed 's/^/      /')"
	fi

	# Control fields.
	field() { dpkg-deb -f "$deb" "$1"; }
	crate_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
	[ "$(field Package)" = wackamole ] || fail "Package is '$(field Package)'"
	[ "$(field Version)" = "$crate_version" ] || fail "Version $(field Version), Cargo.toml has $crate_version"
	[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is '$(field Architecture)'"
	case "$(field Depends)" in *"libc6 (>= "*) ;; *) fail "Depends does not name libc6 with a version: '$(field Depends)'" ;; esac
	[ -n "$(field Maintainer)" ] || fail "no Maintainer"
	[ -n "$(field Description)" ] || fail "no Description"

	# Conffiles: exactly the files under /etc.
	(cd "$files" && find etc -type f | sed 's|^|/|' | LC_ALL=C sort) >"$dir/etc-files"
	LC_ALL=C sort "$control/conffiles" 2>/dev/null >"$dir/conffiles" || : >"$dir/conffiles"
	diff -q "$dir/etc-files" "$dir/conffiles" >/dev/null ||
		fail "conffiles ($(tr '\n' ' ' <"$dir/conffiles")) are not the files under /etc ($(tr '\n' ' ' <"$dir/etc-files"))"
	grep -qx /etc/wackamole.conf "$dir/conffiles" || fail "/etc/wackamole.conf is not a conffile"

	# Checksums of everything else.
	if [ -f "$control/md5sums" ]; then
		(cd "$files" && md5sum -c --quiet "$control/md5sums" >"$dir/md5sums.out" 2>&1) ||
			fail "md5sums do not match: $(head -n 3 "$dir/md5sums.out")"
	else
		fail "no md5sums"
	fi

	# Manual pages and changelog: gzip with no name or time stamp (flags
	# byte 0, time 0), each page titled by its own name.
	for page in man8/wackamole.8 man8/wackatrl.8 man5/wackamole.conf.5; do
		gz=$files/usr/share/man/$page.gz
		name=$(basename "$page")
		title=".TH $(echo "${name%.*}" | tr 'a-z' 'A-Z') ${name##*.} "
		if ! gzip -t "$gz" 2>/dev/null; then
			fail "$page.gz is not gzip"
		elif [ "$(od -An -tx1 -j3 -N5 "$gz" | tr -d ' \n')" != 0000000000 ]; then
			fail "$page.gz keeps a name or time stamp (gzip -n)"
		elif ! gzip -dc "$gz" | grep -q "^$title"; then
			fail "$page.gz has no '$title' line"
		fi
	done
	changes=$files/usr/share/doc/wackamole/changelog.gz
	gzip -dc "$changes" 2>/dev/null | head -n 1 | grep -q "^wackamole ($crate_version) " ||
		fail "changelog.gz does not start with the entry for $crate_version"

	# Copyright: machine-readable, with the licence of LICENSE.
	copyright=$files/usr/share/doc/wackamole/copyright
	head -n 1 "$copyright" 2>/dev/null | grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' ||
		fail "copyright is not in the machine-readable format"
	grep -q '^License: BSD-3-clause$' "$copyright" 2>/dev/null || fail "copyright names no BSD-3-clause licence"
	grep -q 'Neither the name of the copyright holder' "$copyright" 2>/dev/null ||
		fail "copyright lacks the licence text of LICENSE"

	# The unit and the init script run the packaged binary on the
	# packaged configuration.
	unit=$files/lib/systemd/system/wackamole.service
	grep -q '^ExecStart=/usr/sbin/wackamole -c /etc/wackamole.conf ' "$unit" 2>/dev/null ||
		fail "the unit does not start /usr/sbin/wackamole -c /etc/wackamole.conf"
	! grep -q /usr/local "$unit" 2>/dev/null || fail "the unit names /usr/local"
	grep -qx 'DAEMON=/usr/sbin/wackamole' "$files/etc/default/wackamole" 2>/dev/null ||
		fail "/etc/default/wackamole does not point the init script at /usr/sbin/wackamole"
	sh -n "$files/etc/init.d/wackamole" 2>/dev/null || fail "the init script is not valid sh"

	# Maintainer scripts: valid sh, and none enables or starts anything
	# (the sample configuration describes no cluster).
	for script in postinst prerm postrm; do
		path=$control/$script
		[ -x "$path" ] || { fail "$script missing or not executable"; continue; }
		sh -n "$path" 2>/dev/null || fail "$script is not valid sh"
		if sed 's/#.*//' "$path" | grep -nE \
			'(invoke-rc\.d|deb-systemd-invoke|systemctl|service) .*(start|enable)|deb-systemd-helper .*enable|update-rc\.d .*(defaults *($|>)|enable)' \
			>"$dir/$script.starts"; then
			fail "$script enables or starts the daemon: $(head -n 1 "$dir/$script.starts")"
		fi
	done

	# The binary, the link, and the sample configuration.
	bin=$files/usr/sbin/wackamole
	if ! "$bin" -t -c "$files/etc/wackamole.conf" >"$dir/check.out" 2>&1; then
		fail "wackamole -t -c refuses the packaged sample: $(head -n 3 "$dir/check.out")"
	fi
	[ "$(readlink "$files/usr/sbin/wackatrl" 2>/dev/null)" = wackamole ] ||
		fail "usr/sbin/wackatrl is not a link to wackamole"
	"$files/usr/sbin/wackatrl" --help 2>&1 | grep -q 'Usage: wackatrl' ||
		fail "wackatrl --help (through the link) does not describe wackatrl"
}

# report WHAT: prints the problems found and forgets them; fails if any.
report() {
	if [ -n "$FAILED" ]; then
		printf '%s: %s:%s\n' "$ACTION" "$1" "$FAILED"
		FAILED=""
		return 1
	fi
	FAILED=""
}

check "$DEB" "$SCRATCH/package"
report "$DEB is wrong" >&2 || exit 1
say "$DEB: contents, modes, owners, conffiles, md5sums, manual pages, copyright, unit, init script, maintainer scripts and the sample (wackamole -t -c) are right"

[ "${2:-}" = mutants ] || exit 0

# mutant NAME SHELL-COMMAND: the package rebuilt after the command ran in
# its unpacked tree ($tree: the files, $tree/DEBIAN the control files)
# must be refused.
survivors=""
mutant() {
	tree=$SCRATCH/mutant-$1
	dpkg-deb -R "$DEB" "$tree"
	(tree=$tree && eval "$2")
	dpkg-deb --root-owner-group --nocheck -Znone -b "$tree" "$tree.deb" >/dev/null 2>&1 ||
		die "cannot rebuild the $1 mutant"
	check "$tree.deb" "$tree-check"
	if report "$1" >"$tree.report"; then
		survivors="$survivors $1"
	fi
}
mutant not-a-conffile 'sed -i /wackamole.conf/d "$tree/DEBIAN/conffiles"'
mutant binary-not-executable 'chmod 0644 "$tree/usr/sbin/wackamole"'
mutant page-not-compressed 'gzip -d "$tree/usr/share/man/man8/wackatrl.8.gz" && mv "$tree/usr/share/man/man8/wackatrl.8" "$tree/usr/share/man/man8/wackatrl.8.gz"'
mutant sample-refused 'echo "Balance { Interval = forever }" >>"$tree/etc/wackamole.conf"'
mutant postinst-starts 'sed -i "s/^exit 0$/invoke-rc.d wackamole start\nexit 0/" "$tree/DEBIAN/postinst"'
mutant stray-file 'touch "$tree/usr/sbin/wackamole.orig"'
[ -z "$survivors" ] || die "broken packages that passed the check:$survivors"
say "each of 6 broken copies of the package was refused"
