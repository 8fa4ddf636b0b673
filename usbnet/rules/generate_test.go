package rules_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// WriteFixturesEnv, set to 1, makes TestWriteFailureFixtures write the
// synthetic failure fixtures into fixtures/.
const WriteFixturesEnv = "DONGLE_WRITE_FAILURE_FIXTURES"

// synthetic are the failures no lab path makes on command, with why; each
// gets fixtures/failure-<rule>.pcap from its scenario.
var synthetic = map[string]string{
	"link-needs-filter": "no lab device withholds its link until the packet filter is set: QEMU's usb-net, Linux's f_ecm/f_ncm and " +
		"dongle's models all report the link when the host selects the data interface",
	"rx-starvation": "a starved bulk IN needs a host that stops reading while the device has data: Linux's usbnet and dongle's " +
		"driver both keep RX URBs queued, and no lab host can be told to stop",
	"poor-aggregation": "no lab device turns its RX aggregation off on command, and the TCG lab cannot move 4000 frames a second",
	"rx-overflow": "the lab's hosts size their RX URBs to what the devices send; no model sends more than the URB on command " +
		"(failfix may add one to the USB/IP models: its capture would replace this one)",
}

// bringUps say what each starting fixture's bring-up is: device and
// kernel driver.
var bringUps = map[string]string{
	ecmFixture:  "QEMU 7.2's usb-net (0525:a4a2, CDC ECM, full speed) bound by Linux 6.1's cdc_ether, captured by the guest's usbmon",
	asixFixture: "dongle's AX88772B model (0b95:772b) behind FunctionFS on dummy_hcd, bound by Linux 6.1's asix, captured by usbmon",
}

// TestWriteFailureFixtures writes fixtures/failure-<rule>.pcap and .md for
// each synthetic failure (DONGLE_WRITE_FAILURE_FIXTURES=1), then checks
// tshark opens them when it is installed.
func TestWriteFailureFixtures(t *testing.T) {
	if os.Getenv(WriteFixturesEnv) != "1" {
		t.Skipf("writes fixtures: set %s=1", WriteFixturesEnv)
	}
	for rule, why := range synthetic {
		sc := scenarios[rule]
		s := newSynth(t, sc.from)
		cite := sc.build(t, s, false)
		pcap := fixturePath("failure-" + rule + ".pcap")
		s.write(t, pcap)
		var cs []string
		for _, c := range cite {
			cs = append(cs, fmt.Sprint(c))
		}
		md := fmt.Sprintf(`# failure-%[1]s.pcap (synthetic)

- **Synthetic, because** %[2]s.
- **Made by:** `+"`%[3]s=1 go test -count=1 -run TestWriteFailureFixtures ./usbnet/rules`"+` (usbnet/rules/generate_test.go,
  scenario %[1]q in scenarios_test.go).
- **Device and driver:** %[8]s: the real bring-up of fixtures/%[4]s (every record of its adapter before its
  first bulk or interrupt record, kept as captured), then URBs written by the generator the way the kernel's usbmon logs them (one 'S' with
  -EINPROGRESS and one 'C' per URB, unique ids), %[5]d records in all, link type usb-linux-mmapped(220).
- **What it shows:** %[6]s.
- **Expected outcome:** `+"`dongle diag`"+` on it names %[1]s first, citing the records below; no other rule fires
  (usbnet/rules TestFailureFixtures and TestSyntheticTraces).

`+"```"+`
rule: %[1]s
cite: %[7]s
`+"```"+`
`, rule, why, WriteFixturesEnv, sc.from, len(s.recs), sc.why, strings.Join(cs, " "), bringUps[sc.from])
		if bringUps[sc.from] == "" {
			t.Fatalf("%s: no description of %s's bring-up", rule, sc.from)
		}
		if err := os.WriteFile(fixturePath("failure-"+rule+".md"), []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := exec.LookPath("tshark"); err == nil {
			out, err := exec.Command("tshark", "-r", pcap, "-c", "3").CombinedOutput()
			if err != nil || strings.Count(string(out), "\n") < 3 {
				t.Errorf("tshark -r %s -c 3: %v\n%s", pcap, err, out)
			}
		}
	}
}
