// Package cdcecm is the CDC Ethernet Control Model minidriver for usbnet:
// Linux's cdc_ether (cdc_info), with FreeBSD if_cdce's alternate-setting
// scan.
//
//	configuration
//	├─ interface N   class 02/06/00 (communication, Ethernet)
//	│   ├─ header (5) · union (≥5: master N, slave M) · Ethernet (13)
//	│   └─ interrupt IN  notifications (optional: ≥8 bytes, bInterval ≠ 0)
//	└─ interface M   class 0a (CDC data)
//	    ├─ alt 0: no endpoints (function off)
//	    └─ alt k: bulk IN + bulk OUT (first of up to 32 alts with the pair)
//
// Bind validates this strictly (Parse), reads the MAC from the iMACAddress
// string (exactly 12 hex digits, or an error: no made-up address), and
// takes the hard MTU from wMaxSegmentSize. Frames travel unframed, one per
// transfer, with no CRC; FlagSendZLP makes the framework end a frame whose
// length is a multiple of wMaxPacketSize with an explicit ZLP. The receive
// filter follows the netdev's flags (SET_ETHERNET_PACKET_FILTER, and
// SET_ETHERNET_MULTICAST_FILTERS when the device has filters and the list
// fits). NETWORK_CONNECTION and CONNECTION_SPEED_CHANGE (also split over
// two interrupt transfers) drive carrier and speed.
package cdcecm
