//go:build !linux

package sandbox

import "errors"

// ABI reports that only Linux has Landlock.
func ABI() (int, error) { return 0, errors.New("Landlock is Linux-only") }

// ProtectSelf does nothing outside Linux.
func ProtectSelf() error { return nil }
