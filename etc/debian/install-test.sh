#!/bin/sh
# `make deb-install-test` (CI runs it; it changes this machine, so nothing
# else does): installs the package with dpkg -i, checks that no daemon
# started and nothing was enabled, that `wackamole -t` accepts the
# installed sample and `wackatrl` works, that an administrator's edit of
# /etc/wackamole.conf survives an upgrade to a package whose sample
# changed, then removes and purges it and checks that nothing of it is
# left: no file, no init links, no systemd records, no dpkg state, and
# still no daemon. It refuses to run where wackamole is installed, or
# where any file of the package already exists; should a step fail, the
# package is purged before it exits.
#
# Usage: sh etc/debian/install-test.sh DEB   (as root)
set -eu

cd "$(dirname "$0")/../.."

ACTION="deb-install-test"
PROVISION_SOURCED=yes
. etc/provision.sh

DEB=$(package_file "${1:-}" "$0 DEB")
[ "$(id -u)" = 0 ] || die "installs a package: run it as root"
PACKAGE=wackamole
WORK=$(fresh_dir target/deb-install-test)

# The package's files and links (not its directories, which other
# packages share), as absolute paths.
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { print substr($6, 2) }' >"$WORK/paths"

state() { dpkg-query -W -f='${Status}' "$PACKAGE" 2>/dev/null || true; }
if [ -n "$(state)" ] && [ "$(state)" != "unknown ok not-installed" ]; then
	die "$PACKAGE is known to dpkg here ($(state)): this test would replace it"
fi
while read -r path; do
	[ ! -e "$path" ] && [ ! -L "$path" ] || die "$path exists already: this test would replace it"
done <"$WORK/paths"

# Everything the init systems keep about services, to compare after the
# purge: SysV links, systemd's unit links and deb-systemd-helper's records.
traces() {
	for place in /etc/rc?.d /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
		/var/lib/systemd/deb-systemd-helper-masked; do
		[ -d "$place" ] && find "$place" -name "*$PACKAGE*"
	done
	ls /run/$PACKAGE.* /etc/$PACKAGE.conf.* /var/lib/dpkg/info/$PACKAGE.* 2>/dev/null || true
}
traces >"$WORK/traces.before"

installed=no
cleanup() {
	status=$?
	if [ "$installed" = yes ] && [ "$status" != 0 ]; then
		say "failed: purging $PACKAGE to leave this machine as it was"
		dpkg -P "$PACKAGE" >/dev/null 2>&1 || true
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Fails if a process runs /usr/sbin/wackamole or the daemon's pid file or
# an enabled unit or SysV start link exists; $1 says after what.
no_daemon() {
	for exe in /proc/[0-9]*/exe; do
		if [ "$(readlink "$exe" 2>/dev/null)" = /usr/sbin/wackamole ]; then
			pid=${exe#/proc/}
			die "after $1: a daemon runs (pid ${pid%/exe})"
		fi
	done
	[ ! -e /run/wackamole.pid ] || die "after $1: /run/wackamole.pid exists"
	if ls /etc/systemd/system/*.wants/wackamole.service >/dev/null 2>&1; then
		die "after $1: the unit is enabled: $(ls /etc/systemd/system/*.wants/wackamole.service)"
	fi
	if ls /etc/rc?.d/S*wackamole >/dev/null 2>&1; then
		die "after $1: the init script starts at boot: $(ls /etc/rc?.d/S*wackamole)"
	fi
}

step() { say "$*"; }

step "dpkg -i $DEB"
installed=yes
dpkg -i "$DEB" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; die "dpkg -i failed"; }
[ "$(state)" = "install ok installed" ] || die "after dpkg -i: $(state)"
no_daemon "dpkg -i"
ls /etc/rc?.d/K*wackamole >/dev/null 2>&1 || die "dpkg -i made no (stop) links for the init script"

step "wackamole -t on the installed sample, wackatrl, the init script"
/usr/sbin/wackamole -t >"$WORK/check.out" 2>&1 || { cat "$WORK/check.out" >&2; die "wackamole -t refused the installed sample"; }
grep -q . "$WORK/check.out" || die "wackamole -t printed nothing"
wackatrl --help 2>&1 | grep -q 'Usage: wackatrl' || die "wackatrl --help does not describe wackatrl"
set +e
/etc/init.d/wackamole status >"$WORK/status.out" 2>&1
status=$?
set -e
[ "$status" = 3 ] || die "/etc/init.d/wackamole status: exit $status ($(cat "$WORK/status.out")), expected 3 (not running)"
no_daemon "the checks"

step "an upgrade keeps the administrator's /etc/wackamole.conf"
echo "# edited by the administrator" >>/etc/wackamole.conf
upgrade=$WORK/upgrade
dpkg-deb -R "$DEB" "$upgrade"
sed -i 's/^Version: .*/&+upgrade1/' "$upgrade/DEBIAN/control"
echo "# a newer sample" >>"$upgrade/etc/wackamole.conf"
dpkg-deb --root-owner-group -Znone -b "$upgrade" "$upgrade.deb" >/dev/null
# What apt does without asking: keep the administrator's version.
dpkg -i --force-confdef --force-confold "$upgrade.deb" >"$WORK/upgrade.log" 2>&1 ||
	{ cat "$WORK/upgrade.log" >&2; die "the upgrade failed"; }
grep -q '^# edited by the administrator$' /etc/wackamole.conf ||
	die "the upgrade replaced the edited /etc/wackamole.conf"
[ -f /etc/wackamole.conf.dpkg-dist ] || die "the upgrade left no /etc/wackamole.conf.dpkg-dist (the new sample)"
no_daemon "the upgrade"

step "dpkg -r $PACKAGE"
dpkg -r "$PACKAGE" >"$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log" >&2; die "dpkg -r failed"; }
[ "$(state)" = "deinstall ok config-files" ] || die "after dpkg -r: $(state)"
[ ! -e /usr/sbin/wackamole ] || die "dpkg -r left /usr/sbin/wackamole"
[ -f /etc/wackamole.conf ] || die "dpkg -r removed /etc/wackamole.conf (a conffile stays until purge)"
no_daemon "dpkg -r"

step "dpkg -P $PACKAGE"
dpkg -P "$PACKAGE" >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; die "dpkg -P failed"; }
installed=no
case "$(state)" in "" | "unknown ok not-installed") ;; *) die "after dpkg -P: $(state)" ;; esac
while read -r path; do
	[ ! -e "$path" ] && [ ! -L "$path" ] || die "dpkg -P left $path"
done <"$WORK/paths"
traces >"$WORK/traces.after"
diff -u "$WORK/traces.before" "$WORK/traces.after" >&2 || die "dpkg -P left traces (above, +)"
no_daemon "dpkg -P"
say "installed, checked, upgraded, removed and purged: nothing started, nothing left"
