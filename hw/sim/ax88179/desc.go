package ax88179

import (
	"encoding/binary"

	"dongle/hw"
)

// descriptors builds an AX88179's device and configuration descriptors for
// a USB speed: vendor-specific interface 0xff/0xff/0 with interrupt IN
// 0x81 (8 bytes), bulk IN 0x82 and bulk OUT 0x03 (64 at full speed, 512 at
// high speed, 1024 with SuperSpeed companions at SuperSpeed).
func descriptors(vid, pid uint16, speed hw.Speed) (dev []byte, cfg []byte) {
	bcd, mps0 := uint16(0x0210), byte(64)
	bulk, intInterval := uint16(512), byte(11)
	switch speed {
	case hw.SpeedSuper, hw.SpeedSuperPlus:
		bcd, mps0, bulk, intInterval = 0x0300, 9, 1024, 11
	case hw.SpeedFull, hw.SpeedLow:
		bcd, bulk, intInterval = 0x0200, 64, 1 // bInterval in frames at full speed
	}
	dev = make([]byte, 18)
	dev[0], dev[1] = 18, hw.DescDevice
	binary.LittleEndian.PutUint16(dev[2:], bcd)
	dev[4], dev[5], dev[6], dev[7] = 0xff, 0xff, 0x00, mps0
	binary.LittleEndian.PutUint16(dev[8:], vid)
	binary.LittleEndian.PutUint16(dev[10:], pid)
	binary.LittleEndian.PutUint16(dev[12:], 0x0200) // bcdDevice
	dev[14], dev[15], dev[16], dev[17] = 1, 2, 3, 1

	ss := speed >= hw.SpeedSuper
	ep := func(addr, attr byte, mps uint16, interval byte, burst byte) []byte {
		b := []byte{7, hw.DescEndpoint, addr, attr, byte(mps), byte(mps >> 8), interval}
		if ss {
			b = append(b, 6, hw.DescSSEndpointComp, burst, 0, 0, 0)
			if attr == hw.XferInterrupt {
				b[len(b)-2] = 8 // wBytesPerInterval
			}
		}
		return b
	}
	cfg = []byte{9, hw.DescConfig, 0, 0, 1, 1, 0, 0xa0, 0x64}
	cfg = append(cfg, 9, hw.DescInterface, 0, 0, 3, 0xff, 0xff, 0x00, 0)
	cfg = append(cfg, ep(intEndpoint, hw.XferInterrupt, 8, intInterval, 0)...)
	cfg = append(cfg, ep(bulkInEP, hw.XferBulk, bulk, 0, 3)...)
	cfg = append(cfg, ep(bulkOutEP, hw.XferBulk, bulk, 0, 15)...)
	binary.LittleEndian.PutUint16(cfg[2:], uint16(len(cfg)))
	return dev, cfg
}
