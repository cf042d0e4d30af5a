#!/usr/bin/env bash
# Regenerates docs/screenshots/*.png: `timeslice render` of the main scenarios, and one
# screenshot of the window under Xvfb (skipped, with a note, when Xvfb is missing).
#   scripts/screenshots.sh [BUILD_DIR]      (default build/; build it first)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
exe=$build/cli/timeslice
out=$root/docs/screenshots
[ -x "$exe" ] || { echo "screenshots.sh: no $exe: build first (./test.sh)" >&2; exit 1; }
mkdir -p "$out"

render() {
	local name=$1
	shift
	"$exe" render "$@" -o "$out/$name.png"
	echo "wrote docs/screenshots/$name.png"
}
render time-slicing time-slicing --width 1400
render time-slicing-projector time-slicing --width 1400 --projector --from 30ms --to 70ms
render loop-thread loop-thread --width 1400
render join-in-loop join-in-loop --width 1400
render process-subclass process-subclass --until 5.5s --width 1400
# locks and the deadlock's wait-for cycle; a GIL's ownership row and hand-overs
render deadlock-ab deadlock-ab --width 1400
render philosophers philosophers --width 1400
render convoy convoy --width 1400
render convoy-zoom convoy --width 1400 --from 100ms --to 125ms
# hosts and a manager: the network's round trips around each result; a zombie reaped
render master-worker master-worker --width 1400
render master-worker-zoom master-worker --width 1400 --from 1.03s --to 1.08s
render zombie-orphan zombie-orphan --width 1400

if command -v xvfb-run >/dev/null 2>&1; then
	script=$(mktemp)
	trap 'rm -f "$script"' EXIT
	# zoom in around 40 ms, put the cursor on an instant, hover a segment, take the picture
	cat >"$script" <<SCRIPT
wheel 560 200 2
click 520 220
motion 640 176
screenshot $out/window.png
SCRIPT
	unset SDL_VIDEODRIVER
	xvfb-run -a -s "-screen 0 1400x900x24" "$exe" view time-slicing --width 1280 --height 720 \
		--script "$script" >/dev/null
	echo "wrote docs/screenshots/window.png"
	# a GIL scenario zoomed in: markers A and B with the range's aggregates, the source line
	# of the event at the cursor, a search
	cat >"$script" <<SCRIPT
ctrldrag 420 200 900 200
click 640 190
key slash
type Thread
key Return
screenshot $out/window-gil.png
SCRIPT
	xvfb-run -a -s "-screen 0 1400x900x24" "$exe" view convoy --from 98ms --to 126ms --width 1400 --height 800 \
		--script "$script" >/dev/null
	echo "wrote docs/screenshots/window-gil.png"
else
	echo "screenshots.sh: xvfb-run not installed: docs/screenshots/window.png left as it was" >&2
fi
