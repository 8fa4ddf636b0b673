//go:build !race

package cdcncm

const raceEnabled = false
