//go:build race

package skbuff

// raceBuild: the package's pools keep no free list (see pool).
const raceBuild = true
