//go:build !race

package ax88179

const raceEnabled = false
