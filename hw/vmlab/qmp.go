package vmlab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// QMP is a connection to QEMU's machine protocol (the -qmp socket VM.Monitor
// names): JSON objects, one per line, in capabilities-negotiated command
// mode. It is not safe for concurrent use.
type QMP struct {
	c  net.Conn
	rd *bufio.Reader
	// events are those that arrived while Execute waited for its answer:
	// QEMU may emit a command's own event (DEVICE_DELETED for a USB
	// device, which is removed at once) before the command's "return",
	// so WaitEvent looks at them first.
	events []*qmpMessage
}

// ErrQMP wraps every error QEMU itself returned for a command.
var ErrQMP = errors.New("qmp")

// qmpMessage is any message QEMU sends: a greeting, a return, an error or
// an event.
type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// DialQMP connects to path, reads QEMU's greeting and leaves capabilities
// negotiation.
func DialQMP(ctx context.Context, path string) (*QMP, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", path, err)
	}
	q := &QMP{c: c, rd: bufio.NewReader(c)}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	m, err := q.read()
	if err == nil && m.QMP == nil {
		err = fmt.Errorf("%w: greeting without \"QMP\"", ErrQMP)
	}
	if err == nil {
		_, err = q.Execute(ctx, "qmp_capabilities", nil)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("qmp %s: %w", path, err)
	}
	return q, nil
}

func (q *QMP) read() (*qmpMessage, error) {
	line, err := q.rd.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var m qmpMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrQMP, line, err)
	}
	return &m, nil
}

// Execute runs one command and returns its "return" value. Events that
// arrive before the answer are kept for WaitEvent.
func (q *QMP) Execute(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	if dl, ok := ctx.Deadline(); ok {
		q.c.SetDeadline(dl)
	} else {
		q.c.SetDeadline(time.Time{})
	}
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := q.c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		m, err := q.read()
		if err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case m.Error != nil:
			return nil, fmt.Errorf("qmp %s: %w: %s: %s", cmd, ErrQMP, m.Error.Class, m.Error.Desc)
		case m.Return != nil:
			return m.Return, nil
		case m.Event != "":
			q.events = append(q.events, m)
		}
	}
}

// WaitEvent waits for event (whose data, if match is not nil, satisfies
// it) until ctx ends.
func (q *QMP) WaitEvent(ctx context.Context, event string, match func(data json.RawMessage) bool) error {
	matches := func(m *qmpMessage) bool { return m.Event == event && (match == nil || match(m.Data)) }
	for i, m := range q.events {
		if matches(m) {
			q.events = append(q.events[:i], q.events[i+1:]...)
			return nil
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		q.c.SetDeadline(dl)
	}
	for {
		m, err := q.read()
		if err != nil {
			return fmt.Errorf("qmp: waiting for %s: %w", event, err)
		}
		if matches(m) {
			return nil
		}
	}
}

// Close closes the connection.
func (q *QMP) Close() error { return q.c.Close() }

// PlugUSBNet unplugs usb-net (device_del, then its DEVICE_DELETED event: the
// guest's xHCI port has reported the disconnect by then) or plugs it back
// (device_add with the same id and netdev; pcap, if not empty, is the new
// capture file: QEMU truncates the one it opens).
func PlugUSBNet(ctx context.Context, monitor string, on bool, pcap string) error {
	q, err := DialQMP(ctx, monitor)
	if err != nil {
		return err
	}
	defer q.Close()
	if on {
		args := map[string]any{"driver": "usb-net", "id": USBNetID, "bus": "xhci.0", "netdev": "n0"}
		if pcap != "" {
			args["pcap"] = pcap
		}
		_, err := q.Execute(ctx, "device_add", args)
		return err
	}
	if _, err := q.Execute(ctx, "device_del", map[string]any{"id": USBNetID}); err != nil {
		return err
	}
	return q.WaitEvent(ctx, "DEVICE_DELETED", func(d json.RawMessage) bool {
		var v struct {
			Device string `json:"device"`
		}
		return json.Unmarshal(d, &v) == nil && v.Device == USBNetID
	})
}
