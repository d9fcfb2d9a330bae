//go:build !unix

package supervisor

// traversable: no Unix permissions to check; RunAs refuses the key anyway.
func traversable(string, int, int) bool { return true }
