package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"dongle/hw/vmlab/guest"
)

// sendTimeout bounds one -send request (an unplug or replug waits for the
// host to let go of the device or configure it).
const sendTimeout = 30 * time.Second

// send is -send: one request line to the model serving sock, its answer on
// out. It returns the exit status: 0 for "ok", 1 for a refusal or no model,
// 2 for no -sock.
func send(sock, line string, out, errw io.Writer) int {
	if sock == "" {
		fmt.Fprintln(errw, "ffsmodel: -send needs -sock PATH (the running model's socket)")
		return 2
	}
	p, err := guest.DialWire(sock)
	if err != nil {
		fmt.Fprintf(errw, "ffsmodel: -send: %v\n", err)
		return 1
	}
	defer p.Close()
	ans, err := p.Do(line, sendTimeout)
	if err != nil {
		fmt.Fprintf(errw, "ffsmodel: -send: %v\n", err)
		return 1
	}
	fmt.Fprintln(out, strings.TrimSpace("ok "+ans))
	return 0
}
