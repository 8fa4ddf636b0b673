package catalog

import (
	"fmt"

	simrtl "dongle/hw/sim/rtl8153"
)

// buildRTL8153 makes the RTL8153B model (hw/sim/rtl8153) at o.Speed.
func buildRTL8153(o Options) *Instance {
	m, dev := simrtl.New(simrtl.Config{MAC: o.MAC, Speed: o.Speed})
	return &Instance{Dev: dev, Plug: m.Connect, BulkIn: simrtl.EPBulkIn,
		SetLink: func(up bool) {
			if up {
				m.PlugCable(1000, true)
			} else {
				m.UnplugCable()
			}
		},
		Counters: func() map[string]int {
			st := m.Stats()
			return map[string]int{"tx_errors": int(st.TxErrors()), "tx_bad_length": int(st.TxBadLength), "tx_truncated": int(st.TxTruncated)}
		},
		Requests: func() []Request {
			var out []Request
			for _, r := range m.Requests() {
				out = append(out, Request{r.Setup, r.Data, r.Err != nil})
			}
			return out
		},
		Stats: func() string {
			return fmt.Sprintf("%+v (%d registers touched that the model only stores)", m.Stats(), len(m.Unmodelled()))
		},
		RxOverflow: func() uint64 { return m.Stats().RxLost }}
}
