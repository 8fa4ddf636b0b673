package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"dongle/cmd/dongle/internal/diag"
	"dongle/cmd/dongle/internal/target"
	"dongle/fixtures"
	"dongle/usbnet/catalog"
	"dongle/usbnet/rules"
)

func init() {
	register("diag", "descriptors, MAC, link, PHY, registers, EEPROM, statistics, anomalies", runDiag)
}

func runDiag(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("diag", stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	driver := fs.String("driver", "", "bind only this driver ("+catalog.Names()+"), e.g. cdc_ether on a Realtek adapter's CDC ECM configuration (env "+catalog.DriverEnv+")")
	device := fs.String("device", "", "of a TRACE holding several adapters, the one at BUS.ADDR")
	timeline := fs.String("timeline", "", "write the timeline of the trace (or of the run's recording) to this SVG file")
	listRules := fs.Bool("rules", false, "print the catalogue of failure rules (trigger, thresholds, causes, what to try) and exit")
	pos, err := parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 1 {
		fmt.Fprintln(stderr, "dongle diag: want at most one DEVICE or TRACE")
		return 2
	}
	if *listRules {
		printRules(stdout)
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var r *diag.Report
	switch {
	case len(pos) == 1 && target.IsSelector(pos[0]):
		r, err = diagDevice(ctx, pos[0], driverChoice(*driver))
	case len(pos) == 1:
		if _, serr := os.Stat(pos[0]); serr != nil {
			return fail(stderr, "diag", serr)
		}
		r, err = diag.FromTrace(ctx, pos[0], pos[0], *device)
	default:
		cands, _, lerr := listUSB()
		if lerr == nil && len(cands) > 0 {
			r, err = diagDevice(ctx, "usb", driverChoice(*driver))
			break
		}
		why := "no USB network adapter found"
		if lerr != nil {
			why = "cannot enumerate USB (" + lerr.Error() + ")"
		}
		r, err = diagFixture(ctx)
		if r != nil {
			r.Note = fmt.Sprintf("%s: diagnosing the embedded fixture trace %s instead (QEMU usb-net under Linux's cdc_ether)", why, defaultFixture)
		}
	}
	if err != nil {
		return fail(stderr, "diag", err)
	}
	if *timeline != "" {
		if err := writeTimeline(r, *timeline); err != nil {
			return fail(stderr, "diag", err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fail(stderr, "diag", err)
		}
		return 0
	}
	r.Print(stdout)
	return 0
}

// driverChoice is --driver, else DONGLE_DRIVER, else "" (every driver).
func driverChoice(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv(catalog.DriverEnv)
}

func diagDevice(ctx context.Context, sel, driver string) (*diag.Report, error) {
	t, err := openTarget(sel)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if driver != "" {
		if t.Drivers, err = catalog.Drivers(driver, t.Kind != target.USB); err != nil {
			return nil, err
		}
	}
	return diag.Live(ctx, t)
}

// diagFixture diagnoses the trace the binary carries (replay needs a path,
// so it is written to a temporary file first).
func diagFixture(ctx context.Context) (*diag.Report, error) {
	path, cleanup, err := fixtureFile(defaultFixture)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	return diag.FromTrace(ctx, path, "fixtures/"+defaultFixture+" (embedded)", "")
}

func fixtureFile(name string) (string, func(), error) {
	data, err := fs.ReadFile(fixtures.FS, name)
	if err != nil {
		return "", nil, fmt.Errorf("embedded fixture %s: %w", name, err)
	}
	dir, err := os.MkdirTemp("", "dongle-fixture-")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// defaultFixture is the trace `dongle diag` diagnoses when no adapter is
// present: Linux's cdc_ether binding QEMU's usb-net.
const defaultFixture = "qemu-usbnet-cdc_ether.pcap"

// writeTimeline writes the report's timeline as SVG to path.
func writeTimeline(r *diag.Report, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteTimelineSVG(f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("timeline %s: %w", path, err)
	}
	return f.Close()
}

// printRules prints the failure-mode catalogue: every rule the generic
// set and the catalog's drivers know.
func printRules(w io.Writer) {
	for _, i := range rules.Catalogue(catalog.ForModels()) {
		fmt.Fprintf(w, "%s [%s]: %s\n", i.Name, i.Severity, i.Title)
		fmt.Fprintf(w, "  fires on: %s\n", i.Trigger)
		for _, c := range i.Causes {
			fmt.Fprintf(w, "  cause: %s\n", c)
		}
		for _, c := range i.Try {
			fmt.Fprintf(w, "  try: %s\n", c)
		}
	}
}
