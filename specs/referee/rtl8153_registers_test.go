package referee_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim/rtl8153"
	"dongle/hw/usbmon"
)

// rtlUnmodelled is every register the kernel's r8152 (Linux 6.1) touched
// in the lab that the RTL8153B model only stores, and why that changes
// nothing the kernel or a frame can see. The replay below fails when the
// kernel's log touches a register that is neither modelled nor here, or
// when one listed here is no longer touched: the list is kept exact.
var rtlUnmodelled = map[string]string{
	"USB 0xb460": "USB_U2P3_CTRL (r8153_u2p3en): USB 2.0 PHY power saving; the engine has no PHY power states",
	"USB 0xcbfc": "USB_MSC_TIMER: the mass-storage (driver CD) mode timer; the model has no storage mode",
	"USB 0xcfd8": "USB_LPM_CONFIG LPM_U1U2_EN (r8153b_u1u2en): USB 3 U1/U2 link power states; none in the engine",
	"USB 0xcffc": "USB_MISC_2 (0xcfff) UPS_FORCE_PWR_DOWN: UPS power saving, cleared; the model never powers down",
	"USB 0xd40c": "USB_RX_BUF_TH (RX_THR_B): burst threshold of the RX DMA; the model's transfers end by early size and timer",
	"USB 0xd42c": "USB_RX_EARLY_TIMEOUT: fixed at 128 ns for the RTL8153B, whose RX timeout is USB_RX_EXTRA_AGGR_TMR (modelled)",
	"USB 0xd434": "USB_TX_DMA (TEST_MODE_DISABLE, TX_SIZE_ADJUST1): DMA test mode off; nothing to model",
	"USB 0xd4b0": "USB_BMU_RESET (rtl_reset_bmu): resets the buffer manager while RX and TX are off; nothing is queued then",
	"USB 0xd4d8": "USB_U1U2_TIMER (0xd4da): U1/U2 idle timer; no link power states",
	"USB 0xd4e8": "USB_FW_TASK FC_PATCH_TASK (rtl8153_enable): the flow-control firmware task; the model runs no firmware",
	"USB 0xd808": "USB_POWER_CUT (0xd80a): power-cut and UPS enables, cleared; the model is never power-cut (PCUT_STATUS stays 0)",
	"PLA 0xc0a0": "PLA_RXFIFO_CTRL0: RX FIFO thresholds for PAUSE; the model's FIFO is the engine's IN queue",
	"PLA 0xc0a4": "PLA_RXFIFO_CTRL1: as PLA_RXFIFO_CTRL0",
	"PLA 0xc0a8": "PLA_RXFIFO_CTRL2: as PLA_RXFIFO_CTRL0",
	"PLA 0xc0b4": "PLA_FMC FMC_FCR_MCU_EN (r8152b_reset_packet_filter toggles it): resets the MCU's filter, whose only state is PLA_RCR/PLA_MAR",
	"PLA 0xc0bc": "PLA_TEREDO_CFG (r8153_teredo_off): Teredo wake-on-LAN, off",
	"PLA 0xd2cc": "PLA_TEREDO_TIMER: wake timer, written 0",
	"PLA 0xd2e8": "PLA_REALWOW_TIMER: wake timer, written 0",
	"PLA 0xd388": "PLA_UPHY_TIMER / PLA_SUSPEND_FLAG (0xd38a): suspend bookkeeping (rtl_runtime_suspend_enable(false))",
	"PLA 0xd38c": "PLA_INDICATE_FALG UPCOMING_RUNTIME_D3: runtime-suspend hint, cleared",
	"PLA 0xd398": "PLA_EXTRA_STATUS (CUR_LINK_OK, POLL_LINK_CHG): the firmware's link polling in UPS/suspend; the model reports links itself",
	"PLA 0xdc00": "read by r8153b_init: bit 5 marks the 32QFN package (then TEST_IO_OFF is set); 0 here, another package",
	"PLA 0xe040": "PLA_EEE_CR: Energy Efficient Ethernet; the model's link has no EEE",
	"PLA 0xe080": "PLA_EEEP_CR: EEE+ at 10 Mb/s; no EEE",
	"PLA 0xe0c8": "PLA_MAC_PWR_CTRL2 (0xe0ca): MAC clock speed-down; the model has no clocks",
	"PLA 0xe0cc": "PLA_MAC_PWR_CTRL3/4: as PLA_MAC_PWR_CTRL2",
	"PLA 0xe428": "PLA_WDT6_CTRL: watchdog mode",
	"PLA 0xe614": "PLA_MTPS (0xe615): largest TX packet in 64-byte units; the model takes frames up to 9 KiB whatever it says",
	"PLA 0xe618": "PLA_TXFIFO_CTRL: TX FIFO thresholds; Out sends a transfer's frames before it returns",
	"PLA 0xe820": "PLA_CONFIG34/CONFIG5 (0xe822): wake-on-LAN configuration (__rtl_get_wol/__rtl_set_wol)",
	"PLA 0xe84c": "PLA_PHY_PWR (PFM_PWM_SWITCH, TEST_IO_OFF): the PHY's regulator mode",
	"OCP 0xa42c": "OCP_NCTL_CFG PGA_RETURN_EN: analog tuning",
	"OCP 0xa432": "OCP_EEE_CFG (rtl_eee_enable): EEE; no EEE",
	"OCP 0xa442": "OCP_DOWN_SPEED (EN_EEE_CMODE, EN_EEE_1000, EN_10M_CLKDIV): PHY power saving",
	"OCP 0xa5d0": "OCP_EEE_ADV: EEE advertisement; the link partner has no EEE",
	"OCP 0xc416": "OCP_SYSCLK_CFG: the PHY's clock divider",
	"OCP 0xc426": "rg_saw_cnt (r8153b_hw_phy_cfg): 0, so the UPS link-pulse timing adjustment is skipped",
}

var _ = Describe("the kernel's r8152 requests, recorded in the lab", func() {
	DescribeTable("touch no register the RTL8153B model neither models nor lists with a reason",
		func(name string) {
			m, dev := rtl8153.New(rtl8153.Config{})
			defer dev.Close()
			for i, r := range kernelLog(name) {
				data := make([]byte, r.Setup.Length)
				if !r.Setup.In() {
					copy(data, r.Data)
				}
				_, err := dev.Control(context.Background(), r.Setup, data)
				Expect(err).NotTo(HaveOccurred(), "kernel request %d: %v", i, r)
			}
			seen := map[string]bool{}
			for _, a := range m.Unmodelled() {
				k := fmt.Sprintf("%s %#04x", a.Block, a.Addr)
				seen[k] = true
				Expect(rtlUnmodelled).To(HaveKey(k), "the kernel used %v, which the model does not implement and the list does not explain", a)
			}
			for k := range rtlUnmodelled {
				Expect(seen).To(HaveKey(k), "listed as unmodelled but the kernel's log does not touch it")
			}
			Expect(m.Stats().Malformed).To(BeZero())
		},
		Entry("high speed", "rtl8153"), Entry("SuperSpeed", "rtl8153-super"))

	It("are what Wireshark dissects in the fixture: the same vendor requests and the chip's descriptors", func() {
		lines := tsharkVendorRequests("usbip-rtl8153-kernel-r8152.pcap")
		k := kernelLog("rtl8153")
		Expect(lines).To(HaveLen(len(k)), "vendor requests tshark finds in the fixture vs the kernel's request log")
		for i, l := range lines {
			want := fmt.Sprintf("0x%02x 0x%04x %d %d", k[i].Setup.RequestType, k[i].Setup.Value, k[i].Setup.Index, k[i].Setup.Length)
			Expect(l).To(Equal(want), "request %d", i)
		}
	})
})

var _ = Describe("the RTL8153B fixtures", func() {
	DescribeTable("dissect in Wireshark as hw/usbmon reads them: every vendor request, the 0bda:8153 descriptors",
		func(name string) {
			got := tsharkVendorRequests(name)
			r, f, err := usbmon.Open(filepath.Join("..", "..", "fixtures", name))
			Expect(err).NotTo(HaveOccurred())
			defer f.Close()
			var want []string
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				Expect(err).NotTo(HaveOccurred())
				st := rec.Setup
				if rec.Type == usbmon.Submit && rec.XferType == usbmon.XferControl && rec.FlagSetup == 0 && st[1] == 0x05 {
					want = append(want, fmt.Sprintf("0x%02x 0x%04x %d %d", st[0], binary.LittleEndian.Uint16(st[2:]),
						binary.LittleEndian.Uint16(st[4:]), binary.LittleEndian.Uint16(st[6:])))
				}
			}
			Expect(want).NotTo(BeEmpty())
			Expect(got).To(Equal(want))
		},
		Entry("the kernel's r8152", "usbip-rtl8153-kernel-r8152.pcap"),
		Entry("dongle's r8152", "usbip-rtl8153-dongle-r8152.pcap"))
})

// tsharkVendorRequests is every GET_REGS/SET_REGS submission tshark
// dissects in fixtures/name, as "bmRequestType wValue wIndex wLength"
// (tshark's notation), after checking it dissects the 0bda:8153 device
// descriptor.
func tsharkVendorRequests(name string) []string {
	GinkgoHelper()
	if _, err := exec.LookPath("tshark"); err != nil {
		Skip("tshark not installed (CI installs it): cannot compare with Wireshark's dissection")
	}
	pcap := filepath.Join("..", "..", "fixtures", name)
	desc, err := exec.Command("tshark", "-r", pcap, "-Y", "usb.idVendor", "-T", "fields", "-e", "usb.idVendor", "-e", "usb.idProduct").Output()
	Expect(err).NotTo(HaveOccurred())
	Expect(strings.Fields(string(desc))).To(ContainElements("0x0bda", "0x8153"))
	out, err := exec.Command("tshark", "-r", pcap, "-Y", "usb.setup.bRequest == 5 && usb.urb_type == 'S'",
		"-T", "fields", "-e", "usb.bmRequestType", "-e", "usb.setup.wValue", "-e", "usb.setup.wIndex", "-e", "usb.setup.wLength").Output()
	Expect(err).NotTo(HaveOccurred())
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}
