//go:build race

package skbuff

// raceBuild: the pools bypass their free lists (see pool).
const raceBuild = true
