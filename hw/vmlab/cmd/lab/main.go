// Command lab sets up and runs dongle's virtual USB lab (see dongle/hw/vmlab).
//
//	go run ./hw/vmlab/cmd/lab setup
//	go run ./hw/vmlab/cmd/lab smoke
//	go run ./hw/vmlab/cmd/lab bench
//	go run ./hw/vmlab/cmd/lab run -- labguest usb
package main

import (
	"os"

	"dongle/hw/vmlab"
)

func main() { os.Exit(vmlab.Main(os.Args[1:])) }
