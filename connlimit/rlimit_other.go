//go:build !unix

package connlimit

// RaiseFileLimit does nothing where there is no RLIMIT_NOFILE.
func RaiseFileLimit() (uint64, error) { return 0, nil }

// FileLimit is unknown (0) where there is no RLIMIT_NOFILE.
func FileLimit() uint64 { return 0 }
