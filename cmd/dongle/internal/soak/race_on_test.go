//go:build race

package soak

// raceOn: the race detector allocates on its own; allocation counts mean
// nothing under it.
const raceOn = true
