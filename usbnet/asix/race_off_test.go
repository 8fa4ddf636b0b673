//go:build !race

package asix

const raceEnabled = false
