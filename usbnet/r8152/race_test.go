//go:build race

package r8152

// raceEnabled: sync.Pool drops items at random under the race detector,
// so allocation counts mean nothing there (they are checked without -race).
const raceEnabled = true
