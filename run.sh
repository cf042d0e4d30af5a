#!/usr/bin/env bash
# The main job in one command: install what is missing, build, run a scenario.
#
#   ./run.sh                     runs the bundled scenario time-slicing
#   ./run.sh fork --cores 2      any `timeslice run` arguments (a scenario id or file, flags)
#   ./run.sh --quantum 5ms       flags alone apply to time-slicing
set -euo pipefail
# Build in the tree, run from the caller's directory (a scenario path may be relative to it).
caller=$PWD
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"

bash scripts/deps.sh build
# The window is optional: the build goes on without SDL2 when it cannot be installed.
bash scripts/deps.sh gui || echo "run.sh: SDL2 not installed; building without the window" >&2

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
cd "$caller"

if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- time-slicing "$@"
fi
# With a display and the window built, open the scenario in the window; otherwise, or when
# the window cannot open (status 1), run it headless.
exe=$root/build/cli/timeslice
if [ -n "${DISPLAY:-}" ] && "$exe" view --window-built; then
	status=0
	"$exe" view "$@" || status=$?
	[ "$status" -ne 1 ] && exit "$status"
	echo "run.sh: the window did not open; running headless instead" >&2
fi
exec "$exe" run "$@"
