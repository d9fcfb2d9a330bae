package host

import (
	"os/exec"
	"syscall"
)

// setProcessAttrs makes the kernel kill a plugin if the host dies without a chance
// to stop it (SIGKILL, crash), so plugins are never orphaned.
func setProcessAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
