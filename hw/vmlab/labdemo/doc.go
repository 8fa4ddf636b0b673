// Package labdemo holds tests that only run inside the virtual USB lab
// (go test -exec .lab/labexec ./hw/vmlab/labdemo); elsewhere they skip.
// They use gousb directly, independent of dongle's own backend, to prove
// what the lab offers every spec: usbfs access with kernel-driver detach and
// reattach, frames echoed on the ECM gadget and by the host peer, peer
// control, and link changes from the ECM gadget.
package labdemo
