//go:build !linux

package sandbox

import (
	"errors"
	"os/exec"
)

// ABI reports that only Linux has Landlock.
func ABI() (int, error) { return 0, errors.New("Landlock is Linux-only") }

// ProtectSelf does nothing outside Linux.
func ProtectSelf() error { return nil }

// RunAs is Linux-only here.
func RunAs(*exec.Cmd, int, int) error {
	return errors.New("running a plugin as another user is supported on Linux only")
}
