#!/bin/bash
# Runs every test suite and prints one closing line "N passed, M failed[, K skipped]".
#   unit tests (C, no root), the same under valgrind (plain builds only),
#   bats integration tests (root, real namespaces), the libcni interop suite.
# Each suite speaks TAP; this script counts its ok / not ok / skip lines.
# TESTS=<glob> limits the bats files (e.g. TESTS=loopback).
set -u
cd "$(dirname "$0")/.."
REPO=$PWD
UNIT_BIN=${UNIT_BIN:-build/rel/test/unit-tests}
LOG=${TEST_LOG:-$REPO/build/test-log.tap}
mkdir -p "$(dirname "$LOG")"
: > "$LOG"
export BIN=${BIN:-$REPO/bin}

suite() { # name, command...
	local name=$1 out rc; shift
	echo "# ==== $name" | tee -a "$LOG"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out" | tee -a "$LOG" | grep -E '^(not ok|ok|#   )' | grep -Ev '^ok .*'
	rc=${PIPESTATUS[0]}
	# a suite that dies (a sanitizer abort, a crash) stops printing results:
	# its exit status must still count as a failure
	if [ "$rc" != 0 ] && ! grep -q '^not ok' "$out"; then
		echo "not ok 1 - $name: exited with status $rc before reporting all its results" | tee -a "$LOG"
	fi
	rm -f "$out"
}

suite "unit" "$UNIT_BIN"

if [ "${SANITIZE:-}" != 1 ] && command -v valgrind >/dev/null; then
	vg() {
		echo "1..1"
		if valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
			--errors-for-leak-kinds=definite,indirect --error-exitcode=3 \
			"$UNIT_BIN" > "$REPO/build/valgrind-unit.out" 2>&1; then
			echo "ok 1 - valgrind: unit tests run clean (no errors, no leaks)"
		else
			sed 's/^/#   /' "$REPO/build/valgrind-unit.out" | tail -40
			echo "not ok 1 - valgrind: unit tests run clean (no errors, no leaks)"
		fi
	}
	suite "valgrind" vg
fi

if [ "$(id -u)" = 0 ]; then
	files=$(ls test/integration/${TESTS:-*}.bats 2>/dev/null)
	[ -n "$files" ] && suite "integration (bats)" bats --tap $files
	if [ -x test/interop/run.sh ] && [ -z "${TESTS:-}" ]; then
		suite "interop (libcni)" test/interop/run.sh
	fi
else
	echo "# integration tests need root; skipped" | tee -a "$LOG"
	echo "ok 1 # skip integration tests need root" >> "$LOG"
fi

passed=$(grep -Ec '^ok [0-9]+' "$LOG")
skipped=$(grep -Eic '^ok [0-9]+.*# skip' "$LOG")
failed=$(grep -Ec '^not ok [0-9]+' "$LOG")
passed=$((passed - skipped))
echo "full log: $LOG"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
