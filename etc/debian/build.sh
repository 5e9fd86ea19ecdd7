#!/bin/sh
# `make deb`: the Debian package of the release build, put together with
# Debian's own tools (dpkg-deb, dpkg-shlibdeps, dpkg-parsechangelog) in
# target/deb and written to dist/wackamole_VERSION_ARCH.deb (the path is
# printed last). The version, the maintainer and the date come from
# etc/debian/changelog, whose version must be Cargo.toml's. With
# LINTIAN=yes (what `make deb` passes) lintian then checks the package and
# any warning or error fails the build; its overrides, each justified, are
# in etc/debian/lintian-overrides.
#
# Usage: sh etc/debian/build.sh [BINARY]   (target/release/wackamole if omitted)
set -eu

cd "$(dirname "$0")/../.."

ACTION="make deb"
PROVISION_SOURCED=yes
. etc/provision.sh

BIN=${1:-target/release/wackamole}
LINTIAN=${LINTIAN:-no}
HERE=etc/debian
[ -x "$BIN" ] || die "no binary at $BIN (make all builds it)"

changelog() { dpkg-parsechangelog -l "$HERE/changelog" -S "$1"; }
version=$(changelog Version)
crate_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ "$version" = "$crate_version" ] ||
	die "$HERE/changelog is at $version but Cargo.toml at $crate_version: add a changelog entry"
arch=$(dpkg --print-architecture)
maintainer=$(changelog Maintainer)
# Every file dated by the changelog entry: the same sources give the same
# package.
SOURCE_DATE_EPOCH=$(changelog Timestamp)
export SOURCE_DATE_EPOCH

stage=target/deb
root=$stage/root
rm -rf "$stage"
mkdir -p "$root/DEBIAN" "$stage/src/debian" dist

# put MODE SOURCE PATH: a copy of SOURCE at PATH in the package.
put() {
	mkdir -p "$(dirname "$root/$3")"
	cp "$2" "$root/$3"
	chmod "$1" "$root/$3"
}

# gz SOURCE PATH: SOURCE compressed at PATH, as Debian wants its manual
# pages and changelogs (best compression, no name or time stamp inside).
gz() {
	mkdir -p "$(dirname "$root/$2")"
	gzip -9n -c "$1" >"$root/$2"
	chmod 0644 "$root/$2"
}

put 0755 "$BIN" usr/sbin/wackamole
# The release build carries no symbols; the compiler's notes go too.
strip --remove-section=.comment --remove-section=.note "$root/usr/sbin/wackamole"
ln -s wackamole "$root/usr/sbin/wackatrl"
put 0644 etc/wackamole.conf etc/wackamole.conf
put 0755 etc/init.d/wackamole etc/init.d/wackamole
put 0644 "$HERE/default" etc/default/wackamole
mkdir -p "$root/lib/systemd/system"
sed -e 's|/usr/local/sbin/wackamole|/usr/sbin/wackamole|' \
	etc/systemd/wackamole.service >"$root/lib/systemd/system/wackamole.service"
chmod 0644 "$root/lib/systemd/system/wackamole.service"
gz etc/man/wackamole.8 usr/share/man/man8/wackamole.8.gz
gz etc/man/wackatrl.8 usr/share/man/man8/wackatrl.8.gz
gz etc/man/wackamole.conf.5 usr/share/man/man5/wackamole.conf.5.gz
doc=usr/share/doc/wackamole
gz "$HERE/changelog" "$doc/changelog.gz"
# The machine-readable copyright file, its licence text taken from
# LICENSE (a blank line becomes " .", every line is indented).
mkdir -p "$root/$doc"
{
	cat "$HERE/copyright.in"
	sed -n '/^Redistribution/,$p' LICENSE | sed -e 's/^$/./' -e 's/^/ /'
} >"$root/$doc/copyright"
chmod 0644 "$root/$doc/copyright"
put 0644 "$HERE/lintian-overrides" usr/share/lintian/overrides/wackamole

for script in postinst prerm postrm; do
	put 0755 "$HERE/$script" "DEBIAN/$script"
done
put 0644 "$HERE/conffiles" DEBIAN/conffiles
# Checksums of every file dpkg does not track as a conffile.
(cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' | sed 's|^\./||' |
	LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

# The shared libraries the binary links to, as dependencies with the
# versions its symbols need (dpkg-shlibdeps wants a debian/control).
printf 'Source: wackamole\n\nPackage: wackamole\nArchitecture: any\n' >"$stage/src/debian/control"
depends=$(cd "$stage/src" && dpkg-shlibdeps -O -e "../root/usr/sbin/wackamole" 2>"../shlibdeps.log" |
	sed -n 's/^shlibs:Depends=//p') ||
	{ cat "$stage/shlibdeps.log" >&2; die "dpkg-shlibdeps failed"; }
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependency for $BIN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
	-e "s|@INSTALLED_SIZE@|$size|" -e "s|@DEPENDS@|$depends|" \
	"$HERE/control.in" >"$root/DEBIAN/control"
chmod 0644 "$root/DEBIAN/control"

find "$root" -type d -exec chmod 0755 {} +
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=dist/wackamole_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
say "$deb: $(stat -c %s "$deb") bytes, Depends: $depends"

if [ "$LINTIAN" = yes ]; then
	sh etc/provision.sh lintian
	lintian --fail-on error,warning --info --display-experimental "$deb" ||
		die "lintian found problems in $deb"
	say "lintian: no error, no warning"
fi
echo "$deb"
