// Package cdcncm is the CDC Network Control Model (NCM 1.0) minidriver for
// usbnet: Linux's cdc_ncm (cdc_ncm_info), the driver most USB-C Ethernet
// adapters and docks, and the kernel's own f_ncm gadget, are bound to.
//
// # Control path
//
// Bind validates the function (Parse: the CDC header, union and Ethernet
// descriptors as cdc_ether checks them, plus the NCM functional
// descriptor and its bmNetworkCapabilities, and a notification
// endpoint), puts the data interface at alt 0, reads GET_NTB_PARAMETERS
// and plans the sizes (Negotiate: every field checked and clamped as
// Linux does), and reads the MAC from iMACAddress. Reset, at every open
// and still at alt 0 (which resets the device's NTB settings), sends
// SET_CRC_MODE(off), SET_NTB_FORMAT (only when the device has NTB32;
// NTB16 unless Options.PreferNTB32), SET_NTB_INPUT_SIZE (4 or 8 bytes)
// and GET/SET_MAX_DATAGRAM_SIZE per bmNetworkCapabilities; then the
// framework selects alt 1, where the bulk endpoints are. The filter is
// cdc_ether's (SET_ETHERNET_PACKET_FILTER and the multicast filters),
// sent only when the packet filter capability is set.
// NETWORK_CONNECTION and CONNECTION_SPEED_CHANGE drive carrier and speed.
//
// # Receive
//
// Each bulk IN transfer is one NTB. The Reader (reader.go) checks the NTH,
// every NDP of the chain and every datagram entry against the block and
// the negotiated sizes (the regression table of Linux's cdc_ncm fixes is
// reader_test.go) and counts each anomaly by name (RxCounters, in diag's
// counters). Datagrams above CopyBreak go up as clones of the NTB's
// buffer (no copy); shorter ones are copied, so a socket is not charged
// the whole NTB for a small frame.
//
// # Transmit
//
// Through usbnet's TxAggregator: frames are copied into an NTB in a block
// the framework owns (NTH, NDP after it sized for the datagram cap, each
// datagram at the negotiated alignment). The end of an NTB follows
// Linux's cdc_ncm_info: an NTB longer than min_tx_pkt is zero-padded to
// tx_max (the device then takes a full-size NTB, or one ending short), a
// shorter one that is a packet multiple gets one 0x00 byte;
// Options.SendZLP sends a ZLP instead (cdc_ncm_zlp_info). wBlockLength is
// the NTB's length. An NTB padded to a tx_max that is the device's
// dwNtbOutMaxSize ends without a short packet, so the next NTB may follow
// it in the same transfer, as it would on the bus anyway (Writer; up to
// NTBsPerTransfer). The block goes when the datagram cap is reached, when
// a frame fits neither the NTB nor a next one in the block, or 400 µs
// (Options.TxTimer) after its first frame.
package cdcncm
