//go:build unix

package supervisor

import (
	"os"
	"syscall"
)

// traversable reports whether uid (primary group gid) may pass through dir.
func traversable(dir string, uid, gid int) bool {
	st, err := os.Stat(dir)
	if err != nil {
		return false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	perm := st.Mode().Perm()
	switch {
	case uid == 0:
		return true
	case int(sys.Uid) == uid:
		return perm&0o100 != 0
	case int(sys.Gid) == gid:
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}
