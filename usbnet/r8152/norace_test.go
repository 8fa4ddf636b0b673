//go:build !race

package r8152

const raceEnabled = false
