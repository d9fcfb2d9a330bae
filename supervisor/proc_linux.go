package supervisor

import (
	"os/exec"
	"syscall"
)

// setProcessAttrs puts a plugin in its own process group, so a Ctrl-C meant for
// the host does not kill plugins before in-flight calls drain, and makes the kernel
// kill it if the host dies without a chance to stop it, so it is never orphaned.
func setProcessAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killProcessGroup kills what is left of a plugin's process group: the plugin if
// it ignored a graceful stop, and any children it started.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
