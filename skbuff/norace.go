//go:build !race

package skbuff

const raceBuild = false
