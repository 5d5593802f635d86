#!/usr/bin/env bash
# Runs every test suite (called by `npm test` after scripts/bootstrap.sh):
#   0. typecheck tsc --noEmit over src, kernels, test, examples (strict)
#      lint      eslint . (typescript-eslint, eslint.config.js) and prettier --check . (.prettierrc.json)
#   1. unit     node scripts/node-test.mjs test/unit      (no GPU)
#   2. gpu      node scripts/node-test.mjs test/gpu       (Node + dawn.node on SwiftShader)
#   3. browser  npx playwright test                       (headless Debian Chromium, WebGPU on SwiftShader)
# All three run even when one fails. The runners' human-readable output goes to the terminal; the counts
# come from their machine-readable reports (node:test's TAP, Playwright's JSON), read by
# scripts/test-counts.mjs. The last line is exactly `tests: N passed, N failed`. Exit status is non-zero
# when any suite failed, exited non-zero, or left no report with results (a suite that crashed before
# reporting is a failure, never a skip).
#
# Overrides (for running a subset): WGPROF_UNIT_TESTS, WGPROF_GPU_TESTS (paths for node-test.mjs),
# WGPROF_BROWSER_TESTS (arguments for playwright test); WGPROF_SKIP_TYPECHECK=1, WGPROF_SKIP_LINT=1 skip those checks.
set -uo pipefail
cd "$(dirname "$0")/.."

REPORT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wgprof-test.XXXXXX")
trap 'rm -rf "$REPORT_DIR"' EXIT

total_passed=0
total_failed=0
status=0
summary=()

# record NAME EXIT_CODE PASSED FAILED SKIPPED [NOTE]
record() {
  local name=$1 code=$2 passed=$3 failed=$4 skipped=$5 note=${6:-}
  if [ -z "$passed" ] || [ -z "$failed" ]; then
    note=" (no results: $note)"
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

# record_report NAME EXIT_CODE FORMAT REPORT_FILE: counts from the runner's report (see scripts/test-counts.mjs).
record_report() {
  local name=$1 code=$2 format=$3 report=$4 counts passed="" failed="" skipped="" why=""
  if [ ! -s "$report" ]; then
    why="it wrote no report"
  elif ! counts=$(node scripts/test-counts.mjs "$format" "$report" 2>&1); then
    why=$counts
  else
    read -r passed failed skipped <<<"$counts"
  fi
  record "$name" "$code" "$passed" "$failed" "$skipped" "$why"
}

run_node_suite() {
  local name=$1; shift
  local report="$REPORT_DIR/$name.tap"
  printf '\n=== %s: node scripts/node-test.mjs %s ===\n' "$name" "$*"
  node scripts/node-test.mjs --tap="$report" "$@"
  record_report "$name" $? tap "$report"
}

run_browser_suite() {
  local report="$REPORT_DIR/browser.json"
  # shellcheck disable=SC2206
  local args=(${WGPROF_BROWSER_TESTS:-})
  printf '\n=== browser: npx playwright test %s ===\n' "${args[*]:-}"
  PLAYWRIGHT_JSON_OUTPUT_NAME="$report" npx --no-install playwright test --reporter=list,json "${args[@]}"
  record_report browser $? playwright-json "$report"
}

run_typecheck() {
  printf '\n=== typecheck: tsc -p tsconfig.json --noEmit ===\n'
  if [ "${WGPROF_SKIP_TYPECHECK:-}" = 1 ]; then summary+=("  typecheck: skipped (WGPROF_SKIP_TYPECHECK=1)"); return; fi
  node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit
  local code=$?
  if [ "$code" -eq 0 ]; then record typecheck 0 1 0 0; else record typecheck "$code" 0 1 0; fi
}

# run_check NAME COMMAND...: one check that passes or fails as a whole (counted as one test).
run_check() {
  local name=$1; shift
  printf '\n=== %s: %s ===\n' "$name" "$*"
  "$@"
  local code=$?
  if [ "$code" -eq 0 ]; then record "$name" 0 1 0 0; else record "$name" "$code" 0 1 0; fi
}

run_typecheck
if [ "${WGPROF_SKIP_LINT:-}" = 1 ]; then
  summary+=("  lint, format: skipped (WGPROF_SKIP_LINT=1)")
else
  run_check lint node node_modules/eslint/bin/eslint.js .
  run_check format node node_modules/prettier/bin/prettier.cjs --check --log-level warn .
fi
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
