#!/usr/bin/env bash
# Fetches the capture files shipped in a few Debian packages into
# tests/.data/debian/<package>/ (git-ignored), for the corpus tests.
#
#   tests/scripts/fetch_debian_captures.sh [DEST]      (DEST: tests/.data/debian)
#
# Each package is fetched with `apt-get download` and unpacked with
# `dpkg -x`; nothing is installed. A package already unpacked (stamp file
# DEST/<package>/.fetched) is not fetched again. `apt-get update` runs only
# when a download fails. Without network or apt the script warns and exits 0.
#
# Which files are captures is decided by their first bytes, never by the
# extension: pcap (a1b2c3d4, d4c3b2a1, a1b23c4d, 4d3cb2a1), pcapng
# (0a0d0d0a), snoop, and gzip/zstd/xz/lz4 whose decompressed start is one of
# those (nested gzip, as in python3-libtrace's anon-v4.pcap.gz, counts too).
#
# Output lists (paths relative to DEST):
#   captures.txt  the captures, minus the damaged ones
#   damaged.txt   pcapfix's example files meant to be repaired (named
#                 *damaged* / *without_pcap_header*, or without a capture
#                 magic at all): a reader must fail cleanly on them
#   nested.txt    captures compressed twice (gzip inside gzip); most tools,
#                 capinfos included, read only one compression layer
set -u

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-$here/../.data/debian}
mkdir -p "$dest" || { echo "fetch_debian_captures: cannot create $dest" >&2; exit 0; }
dest=$(cd "$dest" && pwd)

packages="pathspider python3-dpkt python3-libtrace pcapfix sip-tester golang-github-google-gopacket-dev"

warn() { echo "fetch_debian_captures: warning: $*" >&2; }

# Tests may run this concurrently: one at a time.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$dest/.lock"
	flock 9
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
	warn "apt-get/dpkg not available; no Debian captures fetched"
	missing_tools=1
else
	missing_tools=0
fi

debs="$dest/.debs"
mkdir -p "$debs"
updated=0
fetched_now=0
offline=0

fetch_one() {
	local pkg=$1
	# apt-get download writes into the current directory.
	(cd "$debs" && timeout 180 apt-get download -q "$pkg" >/dev/null 2>"$debs/$pkg.err")
}

if [ "$missing_tools" = 0 ]; then
	for pkg in $packages; do
		if [ -f "$dest/$pkg/.fetched" ]; then
			continue
		fi
		if ! ls "$debs/${pkg}"_*.deb >/dev/null 2>&1; then
			if [ "$offline" = 1 ]; then
				warn "skipping $pkg: the repository did not answer"
				continue
			fi
			if ! fetch_one "$pkg"; then
				if [ "$updated" = 0 ]; then
					updated=1
					echo "fetch_debian_captures: download of $pkg failed; running apt-get update" >&2
					timeout 300 apt-get update -q >/dev/null 2>&1 || warn "apt-get update failed"
				fi
				if ! fetch_one "$pkg"; then
					warn "cannot download $pkg (offline?): $(tail -n 1 "$debs/$pkg.err" 2>/dev/null)"
					offline=1
					continue
				fi
			fi
		fi
		deb=$(ls "$debs/${pkg}"_*.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] || { warn "no .deb for $pkg"; continue; }
		rm -rf "$dest/$pkg"
		mkdir -p "$dest/$pkg"
		fetched_now=1
		if dpkg -x "$deb" "$dest/$pkg"; then
			basename "$deb" >"$dest/$pkg/.fetched"
		else
			warn "dpkg -x failed for $deb"
			rm -rf "$dest/$pkg"
		fi
	done
fi

# ---------------------------------------------------------------- classify
# magic_of FILE: prints the kind of capture FILE is ("pcap", "pcapng",
# "snoop", "gzip+pcap", "gzip+gzip+pcap", ...) or nothing.
hex4() { head -c 8 | od -An -tx1 | tr -d ' \n'; }
kind_of_bytes() { # reads the first bytes on stdin
	local h
	h=$(hex4)
	case $h in
	a1b2c3d4*|d4c3b2a1*|a1b23c4d*|4d3cb2a1*) echo pcap ;;
	0a0d0d0a*) echo pcapng ;;
	736e6f6f70000000*) echo snoop ;;
	1f8b*) echo gzip ;;
	28b52ffd*) echo zstd ;;
	fd377a585a00*) echo xz ;;
	04224d18*) echo lz4 ;;
	*) echo "" ;;
	esac
}
decomp() { # decompress FILE with the tool for kind, chained through depth
	case $1 in
	gzip) gzip -dc 2>/dev/null ;;
	zstd) zstd -dc 2>/dev/null ;;
	xz) xz -dc 2>/dev/null ;;
	lz4) lz4 -dc 2>/dev/null ;;
	*) cat ;;
	esac
}
classify() {
	local f=$1 k k2 k3
	k=$(kind_of_bytes <"$f")
	case $k in
	pcap|pcapng|snoop) echo "$k"; return ;;
	gzip|zstd|xz|lz4)
		command -v "$k" >/dev/null 2>&1 || { echo ""; return; }
		k2=$(decomp "$k" <"$f" | kind_of_bytes)
		case $k2 in
		pcap|pcapng|snoop) echo "$k+$k2" ;;
		gzip|zstd|xz|lz4)
			k3=$(decomp "$k" <"$f" | decomp "$k2" | kind_of_bytes)
			case $k3 in pcap|pcapng|snoop) echo "$k+$k2+$k3" ;; *) echo "" ;; esac ;;
		*) echo "" ;;
		esac ;;
	*) echo "" ;;
	esac
}

# Classify again only when a package was (re)unpacked or a list is missing.
if [ "$fetched_now" = 1 ] || [ ! -f "$dest/captures.txt" ] || [ ! -f "$dest/damaged.txt" ] ||
	[ ! -f "$dest/nested.txt" ]; then
tmp_c=$(mktemp) tmp_d=$(mktemp) tmp_n=$(mktemp)
trap 'rm -f "$tmp_c" "$tmp_d" "$tmp_n"' EXIT
for pkg in $packages; do
	[ -f "$dest/$pkg/.fetched" ] || continue
	while IFS= read -r -d '' f; do
		rel=${f#"$dest"/}
		k=$(classify "$f")
		damaged=0
		case $rel in
		pcapfix/usr/share/doc/pcapfix/examples/*)
			base=$(basename "$f")
			case $base in *damaged*|*without*|*corrupt*|*broken*) damaged=1 ;; esac
			[ -z "$k" ] && damaged=1 ;;
		esac
		if [ "$damaged" = 1 ]; then
			echo "$rel" >>"$tmp_d"
		elif [ -n "$k" ]; then
			echo "$rel" >>"$tmp_c"
			case $k in *+*+*) echo "$rel" >>"$tmp_n" ;; esac
		fi
	done < <(find "$dest/$pkg" -type f ! -name .fetched -size +0 -print0)
done
sort "$tmp_c" >"$dest/captures.txt"
sort "$tmp_d" >"$dest/damaged.txt"
sort "$tmp_n" >"$dest/nested.txt"
fi

nc=$(wc -l <"$dest/captures.txt")
nd=$(wc -l <"$dest/damaged.txt")
echo "fetch_debian_captures: $nc captures, $nd damaged examples in $dest"
for pkg in $packages; do
	n=$(grep -c "^$pkg/" "$dest/captures.txt")
	m=$(grep -c "^$pkg/" "$dest/damaged.txt")
	if [ -f "$dest/$pkg/.fetched" ]; then
		extra=""
		[ "$m" != 0 ] && extra=", $m damaged"
		echo "  $pkg ($(cat "$dest/$pkg/.fetched")): $n captures$extra"
	else
		echo "  $pkg: not fetched"
	fi
done
if [ "$nc" = 0 ]; then
	warn "no captures fetched"
fi
exit 0
