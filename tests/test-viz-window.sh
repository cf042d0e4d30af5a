#!/usr/bin/env bash
# Drives the real window under Xvfb with synthetic input (`timeslice view --script`): wheel,
# drag, shift-drag, keys; checks that the visible range changes as it should after each step,
# then takes a screenshot and checks it is a PNG of the window's size.
#   tests/test-viz-window.sh TIMESLICE     exit 77 (skip) when Xvfb is not installed
set -euo pipefail
exe=$1
if ! command -v xvfb-run >/dev/null 2>&1 || ! command -v Xvfb >/dev/null 2>&1; then
	echo "SKIP: Xvfb is not installed (scripts/deps.sh dev)"
	exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/timeslice-window.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# time-slicing runs 154.26 ms; the window is 1280x720, the timeline starts right of the labels
cat >"$dir/script" <<SCRIPT
range
wheel 700 200 2
key Home
drag 700 200 600 200
key Left
key F
shiftdrag 400 200 600 200
click 500 220
key period
key H
screenshot $dir/window.png
SCRIPT
unset SDL_VIDEODRIVER
out=$(timeout 120 xvfb-run -a -s "-screen 0 1400x900x24" \
	"$exe" view time-slicing --width 1280 --height 720 --script "$dir/script" 2>"$dir/err") || {
	cat "$dir/err" >&2
	echo "FAIL: the window did not run its script"
	exit 1
}
echo "$out"

python3 - "$dir/window.png" <<PY
import struct, sys
out = """$out"""
steps = {}
for line in out.splitlines():
    if ": range " in line:
        step, r = line.rsplit(": range ", 1)
        steps.setdefault(step, [float(x) for x in r.split()])
def span(s): return steps[s][1] - steps[s][0]
full = steps["range"]
assert full == [0, 154260000], f"the window opens on the whole run, not {full}"
# two notches of the wheel halve the span, around the time under the mouse
z = steps["wheel 700 200 2"]
assert abs(span("wheel 700 200 2") - span("range") / 2) < 1, f"zoom in: {z}"
assert z[0] > 0 and z[1] < full[1], f"zoom around the mouse, not at an end: {z}"
assert steps["key Home"] == full, "Home fits the whole run"
# dragging 100 px to the left moves the view right by 100 px worth of time, same span
d = steps["drag 700 200 600 200"]
assert d[0] > 0 and abs((d[1] - d[0]) - span("range")) < 1, f"drag pans: {d}"
l = steps["key Left"]
assert abs((d[0] - l[0]) - span("range") / 10) < 1, f"Left pans a tenth: {l}"
assert steps["key F"] == full, "F fits the whole run"
s = steps["shiftdrag 400 200 600 200"]
assert span("shiftdrag 400 200 600 200") < span("range") / 3, f"shift-drag zooms to the selection: {s}"
assert steps["click 500 220"] == s, "a click sets the cursor, not the range"
png = open(sys.argv[1], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG"
w, h = struct.unpack(">II", png[16:24])
assert (w, h) == (1280, 720), f"screenshot {w}x{h}"
print("ok: zoom, pan, fit, selection, cursor and screenshot behave")
PY

# markers, search, filter, arrows and change-and-rerun, on a GIL scenario (convoy: 2 cores)
cat >"$dir/script2" <<SCRIPT
state
key w
state
key w
wheel 700 200 4
key c
state
key shift+c
state
key g
state
key p
state
key rightbracket
state
key i
state
key r
state
click 600 220
key a
click 800 220
key b
state
ctrlclick 500 220
altclick 900 220
state
ctrldrag 520 220 760 220
state
key slash
type Thread-2
key Return
state
key Escape
key o
state
key H
screenshot $dir/window2.png
SCRIPT
out2=$(timeout 120 xvfb-run -a -s "-screen 0 1400x900x24" \
	"$exe" view convoy --width 1280 --height 720 --script "$dir/script2" 2>"$dir/err2") || {
	cat "$dir/err2" >&2
	echo "FAIL: the window did not run its second script"
	exit 1
}
echo "$out2"
python3 - "$dir/window2.png" <<PY
import re, sys
out = """$out2"""
states, ranges = [], []
for line in out.splitlines():
    if line.startswith("state: cursor="):
        states.append(dict(re.findall(r"(\w+)=('[^']*'|\S+)", line[7:])))
    elif ": range " in line and not line.startswith("state"):
        ranges.append(line)
def q(s): return s.strip("'")
s0, arrows, cores3, cores2, gil, pol, quant, interval, seed, ab, ctrl, drag, search, esc_o = states
assert "2 cores" in q(s0["subtitle"]) and "GIL py3" in q(s0["subtitle"]), s0
assert "3 cores" in q(cores3["subtitle"]), f"c adds a core: {cores3}"
assert "2 cores" in q(cores2["subtitle"]), f"shift+c removes it: {cores2}"
assert "GIL py2" in q(gil["subtitle"]), f"g cycles none, py3, py2: {gil}"
assert "prio" in q(pol["subtitle"]), f"p: the next policy after rr: {pol}"
assert "switch interval 10 ms" in q(interval["subtitle"]), f"i doubles the interval: {interval}"
assert "seed" in q(seed["subtitle"]), f"r: another seed: {seed}"
# the range stays where it was through every rerun
rr = [l.rsplit(": range ", 1)[1] for l in ranges if l.startswith(("key c", "key shift+c", "key g", "key p", "key i", "key r", "key rightbracket"))]
assert len(set(rr)) == 1 and len(rr) == 7, f"reruns keep the view: {rr}"
a, b = int(ab["a"]), int(ab["b"])
assert 0 < a < b == int(ab["cursor"]), f"a and b at the cursor: {ab}"
assert int(ctrl["a"]) < a and int(ctrl["b"]) > b, f"ctrl/alt+click move A and B: {ctrl}"
assert int(ctrl["a"]) < int(drag["a"]) < int(drag["b"]) < int(ctrl["b"]), f"ctrl+drag: {drag}"
assert q(search["search"]) == "Thread-2" and int(search["matches"]) == 1, f"search: {search}"
assert q(esc_o["search"]) == "" and int(esc_o["threads"]) < int(search["threads"]), \
    f"Esc clears the search, O hides idle threads: {esc_o}"
assert int(s0["arrows"]) != 0 and int(arrows["arrows"]) == 0, f"W hides the arrows: {s0} {arrows}"
png = open(sys.argv[1], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n", "the second screenshot is a PNG"
print("ok: rerun keys, markers, search, active-only and arrows behave")
PY
