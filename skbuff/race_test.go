//go:build race

package skbuff_test

// Under the race detector the pools use sync.Pool alone (skbuff/race.go),
// which drops items at random: allocation counts and reuse are not
// asserted there.
const raceEnabled = true
