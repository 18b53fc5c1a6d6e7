#!/usr/bin/env bats
# `make bench` cannot rot: run its quick smoke (BENCH_QUICK=1, small N, few
# samples, ~1 minute) and check a report with figures for both suites comes
# out. Never asserts speed: the benchmark is not a test.
load helpers

setup() {
	setup_common
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
	[ -x "$BIN/bridge" ] && [ -x "$BIN/host-local" ] || skip "bridge/host-local not built"
}
teardown() { teardown_common; }

@test "bench smoke: report with figures for ours and the reference" {
	OUT=$TMP/bench
	RID=${TID:0:4} # every name the run creates carries it
	run env BENCH_QUICK=1 BENCH_N=1,5 BENCH_RID=$RID "$REPO/bench/run.sh" "$OUT"
	echo "$output" | tail -30
	[ "$status" -eq 0 ]
	[ -s "$OUT/report.md" ]
	[ -s "$OUT/results.json" ]
	# every chain whose plugins exist on both sides has an ADD and a DEL p50
	# for both suites, through both runtimes, and a floor figure
	for c in $(jq -r '.chains | keys[]' "$OUT/results.json"); do
		[ "$(jq -r ".chains.$c.missing | length" "$OUT/results.json")" = 0 ] || continue
		for s in ours ref; do
			for rt in libcni cnitool; do
				for op in add del; do
					v=$(jq -r ".chains.$c.points[\"1\"].$s.$rt.$op.p50" "$OUT/results.json")
					echo "$c $s $rt $op $v"
					awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }'
				done
			done
		done
		awk -v v="$(jq -r ".chains.$c.points[\"5\"].floor.del.p50" "$OUT/results.json")" 'BEGIN { exit !(v + 0 > 0) }'
		[ "$(jq -r ".chains.$c.error_count.ours" "$OUT/results.json")" = 0 ]
	done
	# the meta-plugin chain (bandwidth, tuning) ran for both suites, without errors
	for s in ours ref; do
		for op in add del; do
			awk -v v="$(jq -r ".meta.points.$s.$op.p50" "$OUT/results.json")" 'BEGIN { exit !(v + 0 > 0) }'
		done
		jq -e ".meta.rusage.$s.bandwidth.ADD.maxrss_kib | length > 0" "$OUT/results.json" >/dev/null
	done
	[ "$(jq -r '.meta.errors | length' "$OUT/results.json")" = 0 ]
	grep -q '^### Meta plugins in a chain' "$OUT/report.md"
	# the report carries the tables and the plots exist
	grep -q '^## Targets' "$OUT/report.md"
	grep -Eq '^\| 1 \| libcni \(n=[0-9]+/[0-9]+\) \| [0-9]' "$OUT/report.md"
	grep -q '^## host-local alone' "$OUT/report.md"
	if command -v gnuplot >/dev/null; then [ -s "$OUT/add-latency.svg" ]; [ -s "$OUT/add-latency.png" ]; fi
	# nothing of the run stays behind
	[ -z "$(ls /run/netns | grep -E "^(cbh?|f)$RID" || true)" ]
}
