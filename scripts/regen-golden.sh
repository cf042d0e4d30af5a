#!/usr/bin/env bash
# Regenerates the golden traces in tests/reference/.
#
# For each scenario named in tests/reference/LIST (one per line; blank lines and `#` comments
# are skipped) runs `build/cli/timeslice run SCEN --json --trace ...` and writes
# tests/reference/SCEN.json (the summary) and tests/reference/SCEN.trace.json (the Chrome trace).
# A scenario whose run fails leaves its old golden file untouched, and the script exits 1.
# Review the diff (`git diff tests/reference/`) before committing: a changed golden trace
# means the simulator's behaviour changed.
set -euo pipefail
cd "$(dirname "$0")/.."

ref=tests/reference
list=$ref/LIST
bin=build/cli/timeslice

if [ ! -f "$list" ]; then
	echo "regen-golden.sh: $list not found" >&2
	exit 1
fi
if [ -f build/build.ninja ]; then
	log=$(mktemp)
	if ! ninja -C build >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "regen-golden.sh: the build failed; nothing regenerated" >&2
		exit 1
	fi
	rm -f "$log"
fi
if [ ! -x "$bin" ]; then
	echo "regen-golden.sh: $bin not built; run ./test.sh first" >&2
	exit 1
fi

failed=0
count=0
while IFS= read -r line || [ -n "$line" ]; do
	scen=${line%%#*}
	scen=$(echo "$scen" | tr -d '[:space:]')
	[ -n "$scen" ] || continue
	name=$(basename "$scen" .slice)
	out=$ref/$name.json
	tmp=$(mktemp "$ref/.$name.json.XXXXXX")
	ttmp=$(mktemp "$ref/.$name.trace.json.XXXXXX")
	if "$bin" run "$scen" --json --trace "$ttmp" >"$tmp"; then
		chmod 644 "$tmp" "$ttmp"
		mv "$tmp" "$out"
		mv "$ttmp" "$ref/$name.trace.json"
		echo "wrote $out and $ref/$name.trace.json"
		count=$((count + 1))
	else
		rm -f "$tmp" "$ttmp"
		echo "regen-golden.sh: '$bin run $scen --json' failed; $out left as it was" >&2
		failed=1
	fi
done <"$list"

echo "regen-golden.sh: $count golden trace(s) written"
exit "$failed"
