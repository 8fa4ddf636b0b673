package rtl8153

import (
	"encoding/binary"

	"dongle/hw"
)

// String indices of the model's string table.
const (
	strManufacturer = 1
	strProduct      = 2
	strSerial       = 3
	strMAC          = 4 // iMACAddress of the ECM configuration
)

// descriptors builds an RTL8153B's device descriptor and its two
// configurations at a USB speed, as such units enumerate:
//
//	configuration 1 (vendor mode, what r8152 drives)
//	  interface 0  ff/ff/00: bulk IN 0x81, bulk OUT 0x02, interrupt IN 0x83 (2 bytes)
//	configuration 2 (CDC ECM, what r8153_ecm / cdc_ether drive)
//	  interface 0  02/06/00: header, union, Ethernet functional descriptors; interrupt IN 0x83 (16 bytes)
//	  interface 1  0a/00/00: alt 0 no endpoints, alt 1 bulk IN 0x81, bulk OUT 0x02
//
// Bulk packets are 512 bytes at high speed and 1024 at SuperSpeed (with
// companions), 64 at full speed; bInterval 8 (16 ms) above full speed.
// ecm false leaves configuration 2 out (units whose EEPROM disables it).
func descriptors(vid, pid uint16, speed hw.Speed, ecm bool) (dev []byte, cfgs [][]byte) {
	bcd, mps0 := uint16(0x0210), byte(64)
	bulk, intInterval := uint16(512), byte(8)
	switch speed {
	case hw.SpeedSuper, hw.SpeedSuperPlus:
		bcd, mps0, bulk = 0x0300, 9, 1024
	case hw.SpeedFull, hw.SpeedLow:
		bcd, bulk, intInterval = 0x0200, 64, 16
	}
	n := byte(1)
	if ecm {
		n = 2
	}
	dev = make([]byte, 18)
	dev[0], dev[1] = 18, hw.DescDevice
	binary.LittleEndian.PutUint16(dev[2:], bcd)
	dev[4], dev[5], dev[6], dev[7] = 0x00, 0x00, 0x00, mps0
	binary.LittleEndian.PutUint16(dev[8:], vid)
	binary.LittleEndian.PutUint16(dev[10:], pid)
	binary.LittleEndian.PutUint16(dev[12:], 0x3100) // bcdDevice: RTL8153B silicon
	dev[14], dev[15], dev[16], dev[17] = strManufacturer, strProduct, strSerial, n

	ss := speed >= hw.SpeedSuper
	ep := func(addr, attr byte, mps uint16, interval byte, burst byte) []byte {
		b := []byte{7, hw.DescEndpoint, addr, attr, byte(mps), byte(mps >> 8), interval}
		if ss {
			c := []byte{6, hw.DescSSEndpointComp, burst, 0, 0, 0}
			if attr == hw.XferInterrupt {
				binary.LittleEndian.PutUint16(c[4:], mps) // wBytesPerInterval
			}
			b = append(b, c...)
		}
		return b
	}
	finish := func(c []byte) []byte {
		binary.LittleEndian.PutUint16(c[2:], uint16(len(c)))
		return c
	}
	// MaxPower 0x32 is 100 mA at high speed (2 mA units) and 400 mA at
	// SuperSpeed (8 mA units).
	vendor := []byte{9, hw.DescConfig, 0, 0, 1, 1, 0, 0xa0, 0x32}
	vendor = append(vendor, 9, hw.DescInterface, 0, 0, 3, 0xff, 0xff, 0x00, 0)
	vendor = append(vendor, ep(EPBulkIn, hw.XferBulk, bulk, 0, 3)...)
	vendor = append(vendor, ep(EPBulkOut, hw.XferBulk, bulk, 0, 3)...)
	vendor = append(vendor, ep(EPIntr, hw.XferInterrupt, 2, intInterval, 0)...)
	cfgs = append(cfgs, finish(vendor))
	if !ecm {
		return dev, cfgs
	}
	c := []byte{9, hw.DescConfig, 0, 0, 2, 2, 0, 0xa0, 0x32}
	c = append(c, 9, hw.DescInterface, 0, 0, 1, 0x02, 0x06, 0x00, 0)
	c = append(c, 5, 0x24, 0x00, 0x10, 0x01)                               // header, bcdCDC 1.10
	c = append(c, 5, 0x24, 0x06, 0, 1)                                     // union: master 0, slave 1
	c = append(c, 13, 0x24, 0x0f, strMAC, 0, 0, 0, 0, 0xea, 0x05, 0, 0, 0) // Ethernet: wMaxSegmentSize 1514
	c = append(c, ep(EPIntr, hw.XferInterrupt, 16, intInterval, 0)...)
	c = append(c, 9, hw.DescInterface, 1, 0, 0, 0x0a, 0x00, 0x00, 0)
	c = append(c, 9, hw.DescInterface, 1, 1, 2, 0x0a, 0x00, 0x00, 0)
	c = append(c, ep(EPBulkIn, hw.XferBulk, bulk, 0, 3)...)
	c = append(c, ep(EPBulkOut, hw.XferBulk, bulk, 0, 3)...)
	cfgs = append(cfgs, finish(c))
	return dev, cfgs
}
