package hw

import "fmt"

// ID is a vendor:product pair: what a driver's ID table lists and a
// backend's enumeration matches on.
type ID struct{ Vendor, Product uint16 }

func (id ID) String() string { return fmt.Sprintf("%04x:%04x", id.Vendor, id.Product) }
