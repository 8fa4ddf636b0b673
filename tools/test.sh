#!/usr/bin/env bash
# The whole test run (called by ./do test and .ci/run). Stages print their wall time.
#   LAB=0 ./tools/test.sh   skips the virtual USB lab stage (LAB=1 forces it; by default it
#                           runs on Debian and wherever apt offers linux-image-amd64)
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
go test -race -count=1 ./skbuff/... ./netdev/... ./usbnet/... ./hw/sim/... ./hw/gousb/... ./hw/record/... ./hw/replay/... ./hw/usbmon/... ./cmd/dongle/internal/soak/... ./cmd/dongle/internal/progress/...

stage "conformance suite, randomized, with JUnit and JSON reports"
go tool ginkgo --randomize-all --junit-report=junit.xml --json-report=report.json \
  --output-dir=specs/reports ./specs

stage "soak: 10^6 frames on every device model under every fault kind"
# dongle soak drives frames both ways through the driver and the model's
# wire (lengths cycling 60..1514), injecting stall, timeout, unplug and short
# faults in turn, one every 2500 frames offered (about 340 a run, 85 of each
# kind, however fast the machine: the frames of each fault's recovery count
# too); each run must end with every frame
# accounted for, no leaked sk_buff or goroutine (it exits 1 otherwise), and
# prints its RSS at the start, once its trace ring is full, and at the end.
# Its JSON summary, and on failure the last 16 MiB of USB trace, go to
# specs/reports.
soak_bin=$(mktemp -d)/dongle
go build -o "$soak_bin" ./cmd/dongle
for b in $("$soak_bin" soak --list-backends); do
  "$soak_bin" soak --backend="$b" --frames=1000000 --faults=all --fault-every=2500 --sizes=60-1514 \
    --json="specs/reports/soak-${b#sim:}.json" --trace-on-failure="specs/reports/soak-${b#sim:}.pcap"
done
rm -rf "$(dirname "$soak_bin")"

stage "fuzz targets (short runs)"
# fuzz_one DIR TARGET runs one target for FUZZTIME and keeps its log in
# specs/reports. A failure counts when the engine wrote a failing input (a real
# finding, replayable with go test -run=TARGET/ID) or failed for any reason it
# does not explain. One engine failure is known not to be a finding: when
# -fuzztime runs out while a worker is still executing, go test reports
# "context deadline exceeded" and exits 1 with no input written
# (golang/go#51484, #56238). That one is printed and the target run once more
# for the number of executions the first run reached (-fuzztime Nx has no
# wall-clock deadline to race), which must then pass.
fuzz_one() {
  local dir=$1 fn=$2 try log corpus="$1/testdata/fuzz/$2" before after budget="${FUZZTIME:-5s}"
  for try in 1 2; do
    log="specs/reports/fuzz-${dir//\//_}-$fn.$try.log"
    before=$(ls "$corpus" 2>/dev/null | grep -v '^cache$' | sort || true)
    if go test -run '^$' -fuzz "^$fn\$" -fuzztime "$budget" -fuzzminimizetime=0 "$dir" >"$log" 2>&1; then
      echo "fuzz ok: $dir $fn$([ "$try" = 2 ] && echo " (second run)")"; return 0
    fi
    after=$(ls "$corpus" 2>/dev/null | grep -v '^cache$' | sort || true)
    if [ "$before" != "$after" ] || grep -q 'Failing input written' "$log" || ! grep -q 'context deadline exceeded' "$log" || [ "$try" = 2 ]; then
      echo "fuzz $dir $fn FAILED (log $log):"; cat "$log"; return 1
    fi
    echo "fuzz $dir $fn: the engine's -fuzztime boundary failure (context deadline exceeded, no input written; golang/go#51484); its log:"
    tail -n 8 "$log"
    budget=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
    budget="${budget:-1000}x"; [ "$budget" != 0x ] || budget=1000x
    echo "running $fn once more for $budget executions"
  done
}
for t in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
  for f in $(grep -h '^func Fuzz' "$t"/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
    fuzz_one "$t" "$f" || exit 1
  done
done

stage "benchmarks (one short pass, allocations reported)"
go test -short -run '^$' -bench . -benchmem -benchtime=200x ./skbuff/... ./netdev/... ./usbnet/... 2>&1 | grep -E '^(Benchmark|ok|FAIL)' || true
# A ~2-million-record capture (a fixture repeated, 238 MB in $TMPDIR), decoded
# once: records/s and the peak RSS (the aim: under 100 MB whatever the size).
go test -run '^$' -bench DecodeBigFile -benchtime 1x -benchmem ./usbnet/decode 2>&1 | grep -E '^(Benchmark|ok|FAIL)' || true
rm -f "${TMPDIR:-/tmp}"/dongle-bench-*.pcap

# The lab boots Debian's kernel package (linux-image-amd64, fetched with apt-get
# download). On Debian it always runs and fails loudly if it cannot; elsewhere
# (Ubuntu, whose kernel comes as linux-image-generic with its modules in
# separate linux-modules packages the lab does not fetch) it runs when apt offers that
# package and is otherwise skipped with this notice. LAB=1 forces it (.ci/run
# does), LAB=0 skips it.
if [ "${LAB:-auto}" = auto ]; then
  LAB=1
  if [ "$( (. /etc/os-release 2>/dev/null; echo "${ID:-}") )" != debian ] &&
    ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
    LAB=0
    stage "virtual USB lab: NOT RUN"
    echo "The lab boots Debian's kernel package linux-image-amd64, which apt on this machine does not offer."
    echo "Add a Debian bookworm source and run LAB=1 ./do test, or run it on Debian (as CI does)."
  fi
fi
if [ "$LAB" != 0 ]; then
  stage "virtual USB lab"
  ./tools/lab.sh
fi
echo
echo "test.sh: all stages passed in $((SECONDS - T0)) s"
