//go:build race

package record_test

// raceEnabled: the race detector instruments allocations, so allocation
// counts are meaningless under -race.
const raceEnabled = true
