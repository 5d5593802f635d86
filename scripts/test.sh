#!/usr/bin/env bash
# Runs every test suite (called by `npm test` after scripts/bootstrap.sh):
#   0. typecheck tsc --noEmit over src, kernels, test, examples (strict)
#   1. unit     node scripts/node-test.mjs test/unit      (no GPU)
#   2. gpu      node scripts/node-test.mjs test/gpu       (Node + dawn.node on SwiftShader)
#   3. browser  npx playwright test                       (headless Debian Chromium, WebGPU on SwiftShader)
# All three run even when one fails. Each one's pass/fail counts are read from its output; the last
# line is exactly `tests: N passed, N failed`. Exit status is non-zero when any suite failed, exited
# non-zero, or printed no counts (a suite that crashed before reporting is a failure, never a skip).
#
# Overrides (for running a subset): WGPROF_UNIT_TESTS, WGPROF_GPU_TESTS (paths for node-test.mjs),
# WGPROF_BROWSER_TESTS (arguments for playwright test).
set -uo pipefail
cd "$(dirname "$0")/.."

LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wgprof-test.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT

total_passed=0
total_failed=0
status=0
summary=()

strip_ansi() { sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g'; }

# last_count FILE REGEX: the number in the last line matching REGEX (a sed -E pattern whose group 1 is the number).
last_count() { strip_ansi <"$1" | sed -nE "s/$2/\\1/p" | tail -n 1; }

# record NAME EXIT_CODE PASSED FAILED SKIPPED
record() {
  local name=$1 code=$2 passed=$3 failed=$4 skipped=$5 note=""
  if [ -z "$passed" ] || [ -z "$failed" ]; then
    note=" (no pass/fail counts in its output: it did not finish)"
    passed=${passed:-0}
    failed=${failed:-0}
    status=1
  fi
  if [ "$code" -ne 0 ]; then
    status=1
    note="$note (exit $code)"
    # A non-zero exit with no failing test counted still is one failure, so the totals cannot read clean.
    [ "$failed" -eq 0 ] && failed=1
  fi
  [ "$failed" -gt 0 ] && status=1
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  summary+=("  $name: $passed passed, $failed failed, ${skipped:-0} skipped$note")
}

run_node_suite() {
  local name=$1; shift
  local log="$LOG_DIR/$name.log"
  printf '\n=== %s: node scripts/node-test.mjs %s ===\n' "$name" "$*"
  node scripts/node-test.mjs "$@" 2>&1 | tee "$log"
  local code=${PIPESTATUS[0]}
  # node:test's summary: "ℹ pass N", "ℹ fail N", "ℹ cancelled N", "ℹ skipped N", "ℹ todo N".
  local passed failed cancelled skipped todo
  passed=$(last_count "$log" '^ℹ pass ([0-9]+)$')
  failed=$(last_count "$log" '^ℹ fail ([0-9]+)$')
  cancelled=$(last_count "$log" '^ℹ cancelled ([0-9]+)$')
  skipped=$(last_count "$log" '^ℹ skipped ([0-9]+)$')
  todo=$(last_count "$log" '^ℹ todo ([0-9]+)$')
  # Cancelled tests (a file that crashed or timed out) did not pass: count them as failed.
  [ -n "$failed" ] && failed=$((failed + ${cancelled:-0}))
  record "$name" "$code" "$passed" "$failed" "$((${skipped:-0} + ${todo:-0}))"
}

run_browser_suite() {
  local log="$LOG_DIR/browser.log"
  # shellcheck disable=SC2206
  local args=(${WGPROF_BROWSER_TESTS:-})
  printf '\n=== browser: npx playwright test %s ===\n' "${args[*]:-}"
  FORCE_COLOR=0 npx --no-install playwright test "${args[@]}" 2>&1 | tee "$log"
  local code=${PIPESTATUS[0]}
  # Playwright's list reporter ends with "  N passed (12.3s)", "  N failed", "  N flaky", "  N skipped",
  # "  N did not run", "  N interrupted".
  local passed failed flaky skipped notrun interrupted
  passed=$(last_count "$log" '^ +([0-9]+) passed( \(.*\))?$')
  failed=$(last_count "$log" '^ +([0-9]+) failed$')
  flaky=$(last_count "$log" '^ +([0-9]+) flaky$')
  skipped=$(last_count "$log" '^ +([0-9]+) skipped$')
  notrun=$(last_count "$log" '^ +([0-9]+) did not run$')
  interrupted=$(last_count "$log" '^ +([0-9]+) interrupted$')
  # Playwright prints only the non-zero lines: "N passed" alone means 0 failed. With no summary at all
  # (a crash in setup), both stay empty and record() reports the missing counts.
  if [ -n "$passed$failed$flaky$skipped$notrun$interrupted" ]; then
    passed=$(( ${passed:-0} + ${flaky:-0} ))
    failed=$(( ${failed:-0} + ${notrun:-0} + ${interrupted:-0} ))
  fi
  record browser "$code" "$passed" "$failed" "${skipped:-0}"
}

run_typecheck() {
  printf '\n=== typecheck: tsc -p tsconfig.json --noEmit ===\n'
  if [ "${WGPROF_SKIP_TYPECHECK:-}" = 1 ]; then summary+=("  typecheck: skipped (WGPROF_SKIP_TYPECHECK=1)"); return; fi
  node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit
  local code=$?
  if [ "$code" -eq 0 ]; then record typecheck 0 1 0 0; else record typecheck "$code" 0 1 0; fi
}

run_typecheck
# shellcheck disable=SC2086
run_node_suite unit ${WGPROF_UNIT_TESTS:-test/unit}
# shellcheck disable=SC2086
run_node_suite gpu ${WGPROF_GPU_TESTS:-test/gpu}
run_browser_suite

printf '\n=== summary ===\n'
printf '%s\n' "${summary[@]}"
[ "$status" -ne 0 ] && printf '  FAILED: see the suite output above\n'
printf 'tests: %d passed, %d failed\n' "$total_passed" "$total_failed"
exit "$status"
