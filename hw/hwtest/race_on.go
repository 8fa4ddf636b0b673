//go:build race

package hwtest

// raceEnabled: the race detector allocates where the code does not, so
// allocation counts are meaningless under -race.
const raceEnabled = true
