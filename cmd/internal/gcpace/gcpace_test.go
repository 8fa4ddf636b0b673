package gcpace

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestSetPacesWithoutGOGC(t *testing.T) {
	for _, unset := range []bool{true, false} {
		t.Setenv("GOGC", "") // restored after the test
		if unset {
			os.Unsetenv("GOGC")
		}
		old := debug.SetGCPercent(100)
		if !Set() {
			t.Errorf("Set did not apply its pace with GOGC unset=%v (empty otherwise)", unset)
		}
		if got := debug.SetGCPercent(old); got != Percent {
			t.Errorf("GC percent after Set = %d with GOGC unset=%v, want %d", got, unset, Percent)
		}
	}
}

func TestSetKeepsTheUsersGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	old := debug.SetGCPercent(150)
	defer debug.SetGCPercent(old)
	if Set() {
		t.Fatal("Set applied its pace over GOGC=150 in the environment")
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Fatalf("GC percent after Set = %d, want the user's 150", got)
	}
}
