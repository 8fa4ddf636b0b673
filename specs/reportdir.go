package specs

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// ReportDir is where failing specs' USB traces are kept. It is one place
// whatever the working directory, so that `go test ./specs` (run in specs/),
// `dongle test` (run anywhere) and the lab (the module root is mounted at
// the same path in the guest) all leave their traces beside the reports:
//
//	$DONGLE_TRACE_DIR                 when set
//	<module root>/specs/reports/traces when the working directory is inside dongle's source tree
//	<user cache>/dongle/traces        otherwise (an installed dongle binary)
var ReportDir = reportDir()

func reportDir() string {
	if d := os.Getenv("DONGLE_TRACE_DIR"); d != "" {
		return d
	}
	if wd, err := os.Getwd(); err == nil {
		if root := moduleRoot(wd); root != "" {
			return filepath.Join(root, "specs", "reports", "traces")
		}
	}
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "dongle", "traces")
	}
	return filepath.Join(os.TempDir(), "dongle-traces")
}

// moduleRoot is the nearest directory at or above dir whose go.mod declares
// module dongle, or "".
func moduleRoot(dir string) string {
	for {
		if isDongleModule(filepath.Join(dir, "go.mod")) {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

func isDongleModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); strings.HasPrefix(l, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(l, "module ")) == "dongle"
		}
	}
	return false
}
