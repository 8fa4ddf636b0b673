package catalog

import (
	"fmt"
	"net"
	"time"

	"dongle/hw"
	simax88179 "dongle/hw/sim/ax88179"
	simax88772 "dongle/hw/sim/ax88772"
	simecm "dongle/hw/sim/ecm"
	simncm "dongle/hw/sim/ncm"
	simrtl "dongle/hw/sim/rtl8153"
	"dongle/usbnet"
	"dongle/usbnet/asix"
	"dongle/usbnet/ax88179"
	"dongle/usbnet/cdcecm"
	"dongle/usbnet/cdcncm"
	"dongle/usbnet/r8152"
)

// entries is the catalog: one Entry per minidriver, in the order the
// suite runs their models.
var entries = []Entry{
	{
		Name: "cdc_ether", Aliases: []string{"ecm"},
		New:       func() usbnet.Minidriver { return cdcecm.Driver{} },
		ForModels: func() usbnet.Minidriver { return cdcecm.Driver{} },
		Models: []Model{
			{Selector: "sim:ecm", Describe: "hw/sim/ecm: QEMU usb-net's CDC ECM function (full speed)",
				Build: buildECM(simecm.Options{}), Expect: Expect{Driver: "cdc_ether", Vendor: 0x0525, Product: 0xa4a2,
					MAC: mustMAC(simecm.DefaultMAC), USBSpeed: hw.SpeedFull, MaxPacket: 64, NoLinkControl: qemuNoLink, Filter: USBNetFilter}},
			{Selector: "sim:ecm-gadget", Describe: "hw/sim/ecm: Linux's f_ecm gadget (high speed)",
				Build: buildECM(simecm.Options{Flavor: simecm.Gadget}), Expect: Expect{Driver: "cdc_ether", Vendor: 0x1209, Product: 0x0001,
					MAC: mustMAC(simecm.DefaultMAC), USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 425, Filter: GadgetFilter}},
		},
	},
	{
		Name:      "asix",
		New:       func() usbnet.Minidriver { return &asix.Driver{} },
		ForModels: func() usbnet.Minidriver { return &asix.Driver{Sleep: func(time.Duration) {}} },
		Models: []Model{
			{Selector: "sim:ax88772", Describe: "hw/sim/ax88772: AX88772B at high speed", Chips: []string{"ax88772b", "ax88772"},
				Build: buildAX88772(simax88772.Options{}), Expect: Expect{Driver: "asix", Vendor: 0x0b95, Product: 0x772b,
					MAC: simax88772.DefaultMAC, USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 100}},
			{Selector: "sim:ax88772-fs", Describe: "hw/sim/ax88772: AX88772B at full speed",
				Build: buildAX88772(simax88772.Options{FullSpeed: true}), Expect: Expect{Driver: "asix", Vendor: 0x0b95, Product: 0x772b,
					MAC: simax88772.DefaultMAC, USBSpeed: hw.SpeedFull, MaxPacket: 64, LinkMbps: 100}},
			{Selector: "sim:ax88178", Describe: "hw/sim/ax88772: AX88178, gigabit, Marvell 88E1111 PHY behind GPIO power",
				Build: buildAX88772(simax88772.Options{Chip: simax88772.AX88178}), Expect: Expect{Driver: "asix", Vendor: 0x0b95, Product: 0x1780,
					MAC: simax88772.DefaultMAC178, USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 1000}},
		},
	},
	{
		Name: "ax88179_178a", Aliases: []string{"ax88179"},
		New:       func() usbnet.Minidriver { return &ax88179.Driver{} },
		ForModels: func() usbnet.Minidriver { return &ax88179.Driver{NoDelay: true} },
		Models: []Model{
			{Selector: "sim:ax88179", Describe: "hw/sim/ax88179: AX88179 at high speed", Chips: []string{"ax88179", "ax88178a"},
				Build: buildAX88179, Expect: Expect{Driver: "ax88179_178a", Vendor: 0x0b95, Product: 0x1790, MAC: simax88179.DefaultMAC,
					USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 1000}},
			{Selector: "sim:ax88179-ss", Describe: "hw/sim/ax88179: AX88179 at SuperSpeed",
				Build: func(o Options) *Instance { o.Speed = hw.SpeedSuper; return buildAX88179(o) },
				Expect: Expect{Driver: "ax88179_178a", Vendor: 0x0b95, Product: 0x1790, MAC: simax88179.DefaultMAC,
					USBSpeed: hw.SpeedSuper, MaxPacket: 1024, LinkMbps: 1000}},
		},
	},
	{
		Name: "cdc_ncm", Aliases: []string{"ncm"},
		New:       func() usbnet.Minidriver { return cdcncm.New() },
		ForModels: func() usbnet.Minidriver { return cdcncm.New() },
		Models: []Model{
			{Selector: "sim:ncm", Describe: "hw/sim/ncm: a CDC-NCM 1.0 function, NTB16 and NTB32 (high speed)", Chips: []string{"ncm"},
				Build: buildNCM(simncm.Options{}), Expect: Expect{Driver: "cdc_ncm", Vendor: simncm.Vendor, Product: simncm.Product,
					MAC: mustMAC(simncm.DefaultMAC), USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 1000}},
			{Selector: "sim:ncm-ss", Describe: "hw/sim/ncm: the CDC-NCM function at SuperSpeed",
				Build: buildNCM(simncm.Options{Speed: hw.SpeedSuper}), Expect: Expect{Driver: "cdc_ncm", Vendor: simncm.Vendor, Product: simncm.Product,
					MAC: mustMAC(simncm.DefaultMAC), USBSpeed: hw.SpeedSuper, MaxPacket: 1024, LinkMbps: 1000}},
		},
	},
	{
		// r8152 claims the vendor configuration of its VID:PIDs whatever
		// configuration is active (usbnet.ID.SelectsConfig); probing with
		// cdc_ether alone drives a unit's CDC ECM configuration instead.
		Name:      "r8152",
		Aliases:   []string{"rtl8153"},
		New:       func() usbnet.Minidriver { return &r8152.Driver{} },
		ForModels: func() usbnet.Minidriver { return &r8152.Driver{Sleep: func(time.Duration) {}} },
		Models: []Model{
			{Selector: "sim:rtl8153", Describe: "hw/sim/rtl8153: RTL8153B at high speed", Chips: []string{"rtl8153"},
				Build: buildRTL8153, Expect: Expect{Driver: "r8152", Vendor: 0x0bda, Product: 0x8153, MAC: simrtl.DefaultMAC,
					USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 1000}},
			{Selector: "sim:rtl8153-ss", Describe: "hw/sim/rtl8153: RTL8153B at SuperSpeed",
				Build:  func(o Options) *Instance { o.Speed = hw.SpeedSuper; return buildRTL8153(o) },
				Expect: Expect{Driver: "r8152", Vendor: 0x0bda, Product: 0x8153, MAC: simrtl.DefaultMAC, USBSpeed: hw.SpeedSuper, MaxPacket: 1024, LinkMbps: 1000}},
		},
	},
}

// GadgetFilter is Linux f_ecm's receive filter, and its model's.
var GadgetFilter = FilterFinding{
	Filters:  FiltersGroups,
	Finding:  "Linux f_ecm passes other stations' unicast whatever SET_ETHERNET_PACKET_FILTER says: u_ether's eth_start_xmit applies the broadcast and multicast bits and ignores USB_CDC_PACKET_TYPE_DIRECTED",
	Evidence: "the lab with --peer=iface:gecm0 (the spec's USB trace, kept as specs/reports/traces/finding-*.pcap); drivers/usb/gadget/function/u_ether.c eth_start_xmit",
}

// USBNetFilter is QEMU usb-net's receive filter, and its model's.
var USBNetFilter = FilterFinding{
	Filters:  FiltersNothing,
	Finding:  "QEMU's usb-net (CDC configuration) filters nothing: it answers SET_ETHERNET_PACKET_FILTER with success and hands the host every frame, other stations' unicast and unsubscribed multicast groups included",
	Evidence: "the lab with the usbnet-host peer (the spec's USB trace, kept as specs/reports/traces/finding-*.pcap); QEMU hw/usb/dev-network.c: usbnet_receive copies every frame into the bulk IN buffer and consults no filter state (s->filter, RNDIS's packet filter, is not read there)",
}

const qemuNoLink = "QEMU 7.2's usb-net reports NETWORK_CONNECTION 1 on every poll and has no link-change handler (measured in the lab: set_link off drops frames but sends no notification), and its model does the same"

func mustMAC(hex string) net.HardwareAddr {
	var b [6]byte
	if _, err := fmt.Sscanf(hex, "%02x%02x%02x%02x%02x%02x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]); err != nil {
		panic(fmt.Sprintf("catalog: MAC %q: %v", hex, err))
	}
	return b[:]
}

func buildECM(base simecm.Options) func(Options) *Instance {
	return func(o Options) *Instance {
		opts := base
		if o.MAC != nil {
			opts.MAC = fmt.Sprintf("%x", []byte(o.MAC))
		}
		if o.Speed != hw.SpeedUnknown {
			opts.Speed = o.Speed
		}
		dev, m := simecm.NewDevice(opts)
		return &Instance{Dev: dev, Plug: m.Connect, SetLink: m.SetLink, BulkIn: simecm.EpIn,
			Counters:   func() map[string]int { return map[string]int{"no_zlp": int(m.Counters().NoZLP)} },
			Stats:      func() string { return fmt.Sprintf("%+v", m.Counters()) },
			RxOverflow: func() uint64 { return m.Counters().HostBusy }}
	}
}

func buildAX88772(base simax88772.Options) func(Options) *Instance {
	return func(o Options) *Instance {
		opts := base
		if o.MAC != nil {
			opts.MAC = o.MAC
		}
		if o.Speed == hw.SpeedFull {
			opts.FullSpeed = true
		}
		dev, m := simax88772.NewDevice(opts)
		return &Instance{Dev: dev, Plug: m.Plug, SetLink: m.SetCable, BulkIn: simax88772.EPBulkIn,
			Counters: func() map[string]int {
				s, r := m.TxStats(), m.RxStats()
				// medium_mismatch: frames the AX88178 model dropped because
				// the medium mode did not match the link (always 0 on the
				// AX88772B).
				return map[string]int{"tx_bad_header": int(s.BadHeader), "medium_mismatch": s.MediumMismatch + r.MediumMismatch}
			},
			// The chip keeps its RX stream in its own FIFO and hands the
			// engine at most two writes at a time, so the engine's queue
			// never fills: PAUSE is sent on the FIFO's level. Half of it
			// leaves room for a whole frame the partner was already
			// sending when it asked.
			RxFull: func() bool { return m.RxPending() >= simax88772.RxFIFOSize/2 },
			Requests: func() []Request {
				var out []Request
				for _, r := range m.Requests() {
					out = append(out, Request{r.Setup, r.Data, r.Stalled()})
				}
				return out
			},
			Stats:      func() string { return fmt.Sprintf("rx %+v tx %+v", m.RxStats(), m.TxStats()) },
			RxOverflow: func() uint64 { return uint64(m.RxStats().Overflow) }}
	}
}

// buildAX88179 builds the AX88179 model; Chip "ax88178a" gives the
// AX88178A's product ID.
func buildAX88179(o Options) *Instance {
	cfg := simax88179.Config{MAC: o.MAC, Speed: o.Speed}
	if o.Chip == "ax88178a" {
		cfg.Product = 0x178a
	}
	m, dev := simax88179.New(cfg)
	return &Instance{Dev: dev, Plug: m.Connect, BulkIn: simax88179.EPBulkIn,
		SetLink: func(up bool) {
			if up {
				m.PlugCable(1000, true)
			} else {
				m.UnplugCable()
			}
		},
		Counters: func() map[string]int { return map[string]int{"tx_bad_header": int(m.Stats().TxBadHeader)} },
		Requests: func() []Request {
			var out []Request
			for _, r := range m.Requests() {
				out = append(out, Request{r.Setup, r.Data, r.Err != nil})
			}
			return out
		},
		Stats:      func() string { return fmt.Sprintf("%+v", m.Stats()) },
		RxOverflow: func() uint64 { return m.Stats().RxLost }}
}

// buildNCM builds the NCM model; its Counters are the NTB violations its
// reader found in what the driver sent (each must stay 0) and the NTBs it
// dropped for them.
func buildNCM(base simncm.Options) func(Options) *Instance {
	return func(o Options) *Instance {
		opts := base
		if o.MAC != nil {
			opts.MAC = fmt.Sprintf("%x", []byte(o.MAC))
		}
		if o.Speed != hw.SpeedUnknown {
			opts.Speed = o.Speed
		}
		dev, m := simncm.NewDevice(opts)
		return &Instance{Dev: dev, Plug: m.Connect, SetLink: m.SetLink, BulkIn: simncm.EpIn,
			Counters: func() map[string]int {
				c := map[string]int{"tx_bad_ntbs": int(m.Stats().TxBadNTBs)}
				for name, n := range m.Violations() {
					c[name] = int(n)
				}
				return c
			},
			Requests: func() []Request {
				var out []Request
				for _, r := range m.Requests() {
					out = append(out, Request{r.Setup, r.Data, r.Stalled()})
				}
				return out
			},
			Stats:            func() string { return fmt.Sprintf("%+v violations %v", m.Stats(), m.Violations()) },
			RxOverflow:       func() uint64 { return m.Stats().RxLost },
			OversizeNext:     m.OversizeNext,
			GateLinkOnFilter: m.GateLinkOnFilter}
	}
}
