package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// init is the trampoline: started by a command Wrap rewrote, it confines this
// process and executes the plugin, before any other code of the host runs
// main. It only returns when the variable is absent (the host itself).
func init() {
	raw, ok := os.LookupEnv(envSpec)
	if !ok {
		return
	}
	// Landlock and no_new_privs apply to the calling thread; execve keeps that
	// thread's credentials, so the restriction and the exec must happen on the
	// same one (during init the main goroutine is on the main thread anyway).
	runtime.LockOSThread()
	err := trampoline(raw)
	fmt.Fprintf(os.Stderr, "mcphost sandbox: %v\n", err)
	os.Exit(126) // the shell's "cannot execute"; the host shows the line above
}

func trampoline(raw string) error {
	var s spec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return fmt.Errorf("bad %s: %w", envSpec, err)
	}
	abi, err := ABI()
	if err != nil {
		return err
	}
	if err := restrict(s.Policy, abi); err != nil {
		return err
	}
	err = syscall.Exec(s.Path, os.Args, withoutSpec(os.Environ()))
	return fmt.Errorf("exec %s: %w", s.Path, err)
}

// ABI is the Landlock ABI version the kernel offers, or an error saying why
// it offers none. The answer is the kernel's, so it is asked once.
func ABI() (int, error) { return abiOnce() }

var abiOnce = sync.OnceValues(func() (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch {
	case errno == unix.ENOSYS:
		return 0, errors.New("this kernel has no Landlock (Linux 5.13 or later with CONFIG_SECURITY_LANDLOCK)")
	case errno == unix.EOPNOTSUPP:
		return 0, errors.New("Landlock is disabled on this kernel (add landlock to the lsm= boot parameter)")
	case errno != 0:
		return 0, fmt.Errorf("Landlock: %w", errno)
	}
	return int(v), nil
})

// Rights by ABI version: each version handles more, and a right the ruleset
// handles but no rule grants is refused.
const (
	fileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	readRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	allV1      = 1<<13 - 1 // EXECUTE .. MAKE_SYM
)

func handledFS(abi int) uint64 {
	h := uint64(allV1)
	if abi >= 2 {
		h |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		h |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		h |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return h
}

// rulesetAttr is the kernel's struct landlock_ruleset_attr up to ABI 6 (the
// kernel accepts a shorter struct than its own, and zeros past what it knows).
type rulesetAttr struct {
	handledFS  uint64
	handledNet uint64
	scoped     uint64
}

// restrict confines the calling thread to pol.
func restrict(pol Policy, abi int) error {
	attr := rulesetAttr{handledFS: handledFS(abi)}
	if abi >= 6 {
		// Nor may it signal processes outside its sandbox (the host, other
		// plugins) or reach their abstract unix sockets.
		attr.scoped = unix.LANDLOCK_SCOPE_SIGNAL | unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return fmt.Errorf("Landlock ruleset: %w", errno)
	}
	defer unix.Close(int(fd))
	for _, r := range []struct {
		paths  []string
		access uint64
	}{{pol.Read, readRights}, {pol.Write, attr.handledFS}} {
		for _, p := range r.paths {
			if err := addRule(int(fd), p, r.access&attr.handledFS); err != nil {
				return err
			}
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return fmt.Errorf("Landlock restrict: %w", errno)
	}
	return nil
}

// addRule allows access beneath path (a file gets only the rights a file has).
func addRule(ruleset int, path string, access uint64) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("allow %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("allow %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		access &= fileRights
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(fd)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("allow %s: %w", path, errno)
	}
	return nil
}

// ProtectSelf makes this process non-dumpable: its /proc/<pid>/environ, mem
// and maps are closed to other processes of the same user (plugins among
// them), and it cannot be ptraced by them or leave a core dump. The process
// still reads its own /proc/self.
func ProtectSelf() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_DUMPABLE: %w", err)
	}
	return nil
}

// RunAs makes cmd start as uid and gid, with no supplementary groups (the
// host's, root's, are not the plugin's business).
func RunAs(cmd *exec.Cmd, uid, gid int) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	return nil
}
