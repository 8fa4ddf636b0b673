#!/usr/bin/env bash
# The whole test run (called by ./do test and .ci/run). Stages print their wall time.
#   LAB=0 ./tools/test.sh   skips the virtual USB lab stage
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
stage() { echo; echo "=== $* [$(date +%T)]"; }
T0=$SECONDS

stage "gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.lab/*'))
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi

stage "go vet"
go vet ./...

stage "unit tests (every package but the suite, which the next stage runs)"
mkdir -p specs/reports
go test -count=1 $(go list ./... | grep -v '/specs$') 2>&1 | tee specs/reports/go-test.txt
test "${PIPESTATUS[0]}" = 0

stage "race detector on the concurrent packages"
go test -race -count=1 ./skbuff/... ./netdev/... ./usbnet/... ./hw/sim/... ./hw/gousb/... ./hw/record/... ./hw/replay/... ./hw/usbmon/...

stage "conformance suite, randomized, with JUnit and JSON reports"
go tool ginkgo --randomize-all --junit-report=junit.xml --json-report=report.json \
  --output-dir=specs/reports ./specs

stage "fuzz targets (short runs)"
for t in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
  for f in $(grep -h '^func Fuzz' "$t"/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
    go test -run '^$' -fuzz "^$f\$" -fuzztime "${FUZZTIME:-5s}" -fuzzminimizetime=0 "$t" >/dev/null || { echo "fuzz $t $f failed"; go test -run '^$' -fuzz "^$f\$" -fuzztime 1s "$t"; exit 1; }
    echo "fuzz ok: $t $f"
  done
done

stage "benchmarks (one short pass, allocations reported)"
go test -run '^$' -bench . -benchmem -benchtime=200x ./skbuff/... ./netdev/... ./usbnet/... 2>&1 | grep -E '^(Benchmark|ok|FAIL)' || true

if [ "${LAB:-1}" != 0 ]; then
  stage "virtual USB lab"
  ./tools/lab.sh
fi
echo
echo "test.sh: all stages passed in $((SECONDS - T0)) s"
