//go:build !race

package usbnet_test

const raceEnabled = false
