package vmlab

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// smokeScript checks, inside the guest, that all four lab devices
// enumerated with their class drivers bound, then echoes frames through
// usb-net and the host peer with the kernel's own cdc_ether.
const smokeScript = `labguest usb
for id in 0525:a4a2 1209:0001 1209:0002 1209:0003; do
  IF=$(labguest netif $id) || { echo "SMOKE FAIL: $id has no netdev"; exit 1; }
  echo "SMOKE $id netdev $IF"
done
IF=$(labguest netif 0525:a4a2)
ip link set $IF up
labguest peer mode echo && labguest peer reset || exit 1
labguest ping -if $IF -n 200 || exit 1
labguest peer stats
`

// Smoke boots the lab and runs smokeScript; it fails unless the guest
// reports success and the host peer saw and echoed the frames.
func (l *Lab) Smoke(ctx context.Context, out io.Writer) (*Result, error) {
	res, err := l.Run(ctx, RunConfig{Script: smokeScript, Stdout: out})
	if err != nil {
		return res, err
	}
	if res.ExitCode != 0 {
		return res, fmt.Errorf("smoke: guest exited %d (console %s/console.log)", res.ExitCode, res.Dir)
	}
	if res.Peer.Echoed < 200 {
		return res, fmt.Errorf("smoke: host peer echoed %d frames, want at least 200", res.Peer.Echoed)
	}
	for _, id := range []string{"0525:a4a2", "1209:0001", "1209:0002", "1209:0003"} {
		if !strings.Contains(res.USBBefore, id) {
			return res, fmt.Errorf("smoke: %s missing from the guest's USB list:\n%s", id, res.USBBefore)
		}
	}
	return res, nil
}
