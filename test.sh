#!/usr/bin/env bash
# Builds timeslice and runs every test in one command.
#
#   ./test.sh          build (installing what is missing) and `meson test`
#   ./test.sh --dev    also install the dev tools (valgrind, clang, xvfb)
set -euo pipefail
cd "$(dirname "$0")"

sets=(build)
for arg in "$@"; do
	case "$arg" in
	--dev) sets+=(dev) ;;
	-h | --help)
		echo "usage: $0 [--dev]"
		exit 0
		;;
	*)
		echo "test.sh: unknown argument '$arg' (expected --dev)" >&2
		exit 2
		;;
	esac
done
bash scripts/deps.sh "${sets[@]}"

# Configures build/ the first time; afterwards ninja re-runs meson by itself when a
# meson.build changes, so reconfigure only when the directory is incomplete or stale.
setup_build() {
	local dir=$1
	shift
	if [ ! -f "$dir/meson-private/coredata.dat" ]; then
		meson setup "$dir" "$@"
	elif [ ! -f "$dir/build.ninja" ] || ! meson introspect "$dir" --projectinfo >/dev/null 2>&1; then
		meson setup --reconfigure "$dir" "$@"
	fi
}

setup_build build
ninja -C build
status=0
meson test -C build --print-errorlogs || status=$?
exit "$status"
