//go:build race

package skbuff_test

// Under the race detector the pools use sync.Pool alone (skbuff/race.go),
// which the race runtime makes drop items at random: the tests assert
// what that build does instead.
const raceEnabled = true
