#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, runs the static
# checks (format/lint, types, package dependency direction, generated-code drift) and every
# vitest suite, then prints one summary line "N passed, N failed" (each static check counts
# as one test). Exit status is non-zero if anything failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/install.sh || { echo "install failed"; echo "0 passed, 1 failed"; exit 1; }

# In CI (CI=true) the randomized suites run longer than on a developer's machine; each still
# bounds itself, and every run prints the seed it used so a failure can be replayed.
if [ "${CI:-}" = "true" ]; then
  export FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
  export WAL_CRASH_ROUNDS="${WAL_CRASH_ROUNDS:-3000}"
  export WAL_SIGKILL_ROUNDS="${WAL_SIGKILL_ROUNDS:-30}"
fi

passed=0
failed=0
failures=()
check() {
  local name="$1"
  shift
  echo "== check: $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

check "lint+format (biome)" pnpm exec biome ci --reporter=summary .
check "typecheck (tsc)" pnpm exec tsc -p tsconfig.json --noEmit
check "package dependency direction" node scripts/check-deps.mjs
check "generated code is up to date" node scripts/gen-check.mjs

mkdir -p .tmp
report=.tmp/vitest-report.json
rm -f "$report"
echo "== vitest"
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report"
vitest_rc=$?
if [ -f "$report" ]; then
  read -r vp vf < <(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const failedSuites = (r.testResults || []).filter((s) => s.status === "failed" && (s.assertionResults || []).length === 0).length;
    console.log(r.numPassedTests, r.numFailedTests + failedSuites);
  ' "$report")
  passed=$((passed + vp))
  failed=$((failed + vf))
  if [ "$vitest_rc" -ne 0 ] && [ "$vf" -eq 0 ]; then
    failed=$((failed + 1))
    failures+=("vitest exited $vitest_rc")
  fi
else
  failed=$((failed + 1))
  failures+=("vitest produced no report (exit $vitest_rc)")
fi

if [ "${#failures[@]}" -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
