// Package sandbox confines plugin processes to the files they need, with
// Landlock on Linux, and closes the host's own /proc entries to them.
//
// A plugin runs as the host's user, so without it a plugin could read another
// plugin's data directory, the dev issuer's signing key, or the host's
// environment. Wrap makes a command start through a trampoline: the host's
// own executable (/proc/self/exe), which this package's init recognises by a
// private environment variable, confines itself and then executes the real
// plugin with the rest of the environment. Landlock is per thread and is
// inherited across execve, so restricting the trampoline's (locked) main
// thread right before it executes the plugin confines the plugin and all its
// children, and no goroutine of the host ever runs restricted. Restricting a
// locked thread of the host itself and forking from it is not an option in
// Go: os/exec forks from whichever thread runs the call, and the fork would
// copy a half-restricted runtime.
package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Policy is what a confined process may reach in the filesystem. Everything
// else (every file Landlock can guard) is refused with EACCES. Network access
// is not restricted.
type Policy struct {
	// Read lists files and directories it may read and execute (a directory:
	// everything beneath it).
	Read []string `json:"read"`
	// Write lists files and directories it may also write, create and remove
	// entries in.
	Write []string `json:"write"`
}

// SystemRead is what every sandboxed plugin may read: the system's programs
// and libraries, TLS roots, name resolution, and its own /proc entry (the
// trampoline resolves /proc/self to the plugin's pid). /tmp is deliberately
// absent: it holds other processes' files (test data directories, sockets);
// a plugin keeps scratch files in its data directory, and the host gives each
// plugin a private directory for its go-plugin socket.
var SystemRead = []string{
	"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin",
	"/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/resolv.conf", "/etc/hosts",
	"/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf", "/etc/services", "/etc/protocols",
	"/etc/localtime", "/etc/ld.so.cache", "/etc/mime.types",
	"/dev/urandom", "/dev/random", "/dev/zero",
	"/proc/self", "/proc/meminfo", "/proc/cpuinfo", "/proc/stat",
	"/sys/devices/system/cpu",
}

// SystemWrite is what every sandboxed plugin may write.
var SystemWrite = []string{"/dev/null"}

// envSpec carries the trampoline's instructions. It is removed before the
// plugin starts, so the plugin's environment stays exactly what the host gave.
const envSpec = "_MCPHOST_SANDBOX_SPEC"

// spec is what the trampoline reads from envSpec.
type spec struct {
	Policy
	// Path is the program to execute once confined.
	Path string `json:"path"`
}

// self is the executable that runs the trampoline. /proc/self/exe, not
// os.Executable: it is the very file the host runs even after a deploy
// replaced or deleted it, and the kernel reaches it without walking the
// directories above it (a plugin run as another user may not be allowed to).
const self = "/proc/self/exe"

// Wrap rewrites cmd (built with exec.Command, its Env set) so the process
// confines itself to pol before it becomes cmd.Path. Arguments, directory,
// SysProcAttr and pipes are kept; argv[0] stays the plugin's path, so ps and
// /proc/<pid>/cmdline show the plugin.
func Wrap(cmd *exec.Cmd, pol Policy) error {
	if cmd.Path == "" || !filepath.IsAbs(cmd.Path) {
		return fmt.Errorf("sandbox: plugin path %q is not absolute", cmd.Path)
	}
	raw, err := json.Marshal(spec{Policy: pol, Path: cmd.Path})
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	cmd.Env = append([]string{envSpec + "=" + string(raw)}, cmd.Env...)
	cmd.Path = self
	return nil
}

// withoutSpec is env minus the trampoline's variable.
func withoutSpec(env []string) []string {
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, envSpec+"=") })
}

// Interpreters lists the programs the kernel runs for path: the interpreter
// named by its #! line, and that one's, if it is a script too. A script
// plugin needs them executable, and they are not always under /usr (a node
// installed elsewhere).
func Interpreters(path string) []string {
	var out []string
	for range 4 { // the kernel allows a few levels of nesting too
		interp := shebang(path)
		if interp == "" || slices.Contains(out, interp) {
			break
		}
		out = append(out, interp)
		path = interp
	}
	return out
}

// shebang is the interpreter path of a "#!" first line, or "".
func shebang(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := f.Read(buf)
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	rest, ok := bytes.CutPrefix(line, []byte("#!"))
	if !ok {
		return ""
	}
	fields := strings.Fields(string(rest))
	if len(fields) == 0 || !filepath.IsAbs(fields[0]) {
		return ""
	}
	return fields[0]
}

// Existing keeps the paths that exist, so a policy names only what this
// machine has (not every system has /lib64 or /etc/pki).
func Existing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}
