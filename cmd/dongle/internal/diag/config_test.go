package diag

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"dongle/cmd/dongle/internal/target"
	"dongle/usbnet/catalog"
)

// TestConfigurationChoiceIsSaid: an RTL8153 left on its CDC ECM
// configuration is bound by r8152 on the vendor one, and diag says so;
// forced to cdc_ether it is driven through the ECM one.
func TestConfigurationChoiceIsSaid(t *testing.T) {
	for _, tc := range []struct {
		driver, want string
		config       int
	}{{"", "r8152", 1}, {"cdc_ether", "cdc_ether", 2}} {
		tg, err := target.Open("sim:rtl8153")
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.HW.SetConfiguration(2); err != nil {
			t.Fatal(err)
		}
		if tc.driver != "" {
			if tg.Drivers, err = catalog.Drivers(tc.driver, true); err != nil {
				t.Fatal(err)
			}
		}
		r, err := Live(context.Background(), tg)
		if err != nil {
			t.Fatal(err)
		}
		active, _ := tg.HW.Configuration()
		tg.Close()
		if r.Driver != tc.want || active != tc.config {
			t.Errorf("driver %q: bound %q in configuration %d, want %q in %d", tc.driver, r.Driver, active, tc.want, tc.config)
		}
		var out bytes.Buffer
		r.Print(&out)
		said := strings.Contains(out.String(), "Config:   r8152 bound in configuration 1, switched from the active configuration 2")
		if said != (tc.config == 1) {
			t.Errorf("driver %q: config line shown %v:\n%s", tc.driver, said, out.String())
		}
	}
}
