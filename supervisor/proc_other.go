//go:build !linux

package supervisor

import "os/exec"

func setProcessAttrs(*exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
