//go:build !race

package skbuff_test

const raceEnabled = false
