package skbuff_test

import "testing"

func allocsPerRun(runs int, f func()) float64 {
	if raceEnabled {
		return 0
	}
	return testing.AllocsPerRun(runs, f)
}
