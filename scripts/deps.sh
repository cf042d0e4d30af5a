#!/usr/bin/env bash
# Installs the Debian packages timeslice needs, only those that are missing.
#
#   scripts/deps.sh [build] [gui] [dev] ...
#
#   build  compiler, meson, ninja, pkg-config, Check, cJSON (default when no set is given)
#   gui    SDL2, SDL2_ttf, SDL2_image and a font; optional: the build works without them
#   dev    valgrind, clang and its sanitizer/libFuzzer runtime, Xvfb (screenshots)
#
# Quiet when everything is already installed; otherwise runs `apt-get update` once and
# `apt-get install -y --no-install-recommends` with the missing packages. Uses sudo when not
# root. Exits non-zero, saying why, when something cannot be installed.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

usage() {
	echo "usage: $0 [build] [gui] [dev]" >&2
	exit 2
}

pkgs_for() {
	case "$1" in
	build) echo gcc meson ninja-build pkg-config check libcjson-dev ;;
	gui) echo libsdl2-dev libsdl2-ttf-dev libsdl2-image-dev libfontconfig-dev fonts-dejavu-core fonts-wqy-microhei fontconfig ;;
	dev) echo valgrind clang libclang-rt-14-dev xvfb ;;
	-h | --help) usage ;;
	*)
		echo "deps.sh: unknown package set '$1' (expected build, gui or dev)" >&2
		exit 2
		;;
	esac
}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

[ $# -gt 0 ] || set -- build

wanted=()
for set_name in "$@"; do
	set_pkgs=$(pkgs_for "$set_name") || exit $?
	read -r -a set_pkgs <<<"$set_pkgs"
	wanted+=("${set_pkgs[@]}")
done

missing=()
for pkg in "${wanted[@]}"; do
	if ! installed "$pkg"; then
		case " ${missing[*]-} " in
		*" $pkg "*) ;;
		*) missing+=("$pkg") ;;
		esac
	fi
done

[ ${#missing[@]} -gt 0 ] || exit 0

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "deps.sh: this is not a Debian-like system (no apt-get); install them by hand" >&2
	exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		as_root=(sudo env DEBIAN_FRONTEND=noninteractive)
	else
		echo "deps.sh: missing packages: ${missing[*]}" >&2
		echo "deps.sh: not root and no sudo: run as root: apt-get install ${missing[*]}" >&2
		exit 1
	fi
fi

# apt's own output goes to a log, shown only when something fails.
log=$(mktemp "${TMPDIR:-/tmp}/timeslice-deps.XXXXXX")
trap 'rm -f "$log"' EXIT

echo "deps.sh: installing: ${missing[*]}"
if ! "${as_root[@]}" apt-get update >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps.sh: apt-get update failed; cannot install: ${missing[*]}" >&2
	exit 1
fi
if ! "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1 </dev/null; then
	cat "$log" >&2
	echo "deps.sh: apt-get install failed for: ${missing[*]}" >&2
	exit 1
fi

still=()
for pkg in "${missing[@]}"; do
	installed "$pkg" || still+=("$pkg")
done
if [ ${#still[@]} -gt 0 ]; then
	echo "deps.sh: still not installed after apt-get: ${still[*]}" >&2
	exit 1
fi
echo "deps.sh: installed: ${missing[*]}"
