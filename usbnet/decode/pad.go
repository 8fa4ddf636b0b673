package decode

import "dongle/usbnet"

// unpad removes usbnet's one-byte pad from a bulk OUT transfer of the
// epoch's driver (usbnet.Unpad: the rule lives next to the framework's
// zlpRule that adds it) and counts it.
func (t *Trace) unpad(e *epoch, p []byte, length int) ([]byte, int) {
	if e.drv == nil {
		return p, length
	}
	data, n, padded := usbnet.Unpad(e.drv.Flags(), int(e.out.MaxPacketSize), p, length)
	if padded {
		t.Stats.TxPads++
	}
	return data, n
}
