//go:build race

package skbuff_test

// The race detector makes sync.Pool drop items at random, so allocation
// counts are meaningless under -race.
const raceEnabled = true
