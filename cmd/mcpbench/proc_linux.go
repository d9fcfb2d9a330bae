package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// treeCPU is the user plus system CPU time of process pid and every process
// descended from it (mcphost and its plugins), read from /proc. Processes that
// exited are not counted; the targets measured keep theirs for the whole run.
func treeCPU(pid int) (time.Duration, bool) {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	type proc struct{ ppid, ticks int }
	procs := map[int]proc{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // it exited meanwhile
		}
		id, pr, ok := parseStat(data)
		if ok {
			procs[id] = proc{ppid: pr[0], ticks: pr[1] + pr[2]}
		}
	}
	if _, ok := procs[pid]; !ok {
		return 0, false
	}
	var total int
	for id, pr := range procs {
		for a := id; a > 0; a = procs[a].ppid {
			if a == pid {
				total += pr.ticks
				break
			}
			if _, ok := procs[a]; !ok {
				break
			}
		}
	}
	return time.Duration(total) * time.Second / clockTicks, true
}

// parseStat reads pid and (ppid, utime, stime) from a /proc/<pid>/stat line.
// The command name is in parentheses and may itself contain them, so fields
// are counted from the last ')'.
func parseStat(data []byte) (int, [3]int, bool) {
	var out [3]int
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open < 1 || end < open {
		return 0, out, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return 0, out, false
	}
	f := bytes.Fields(data[end+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, out, false
	}
	for i, idx := range []int{1, 11, 12} { // ppid (4), utime (14), stime (15)
		if out[i], err = strconv.Atoi(string(f[idx])); err != nil {
			return 0, out, false
		}
	}
	return pid, out, true
}

// systemCPU is the CPU time all cores spent busy (user, nice, system, irq,
// softirq) plus the time the hypervisor stole, from the first line of
// /proc/stat.
func systemCPU() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, false
	}
	var ticks int
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		n, err := strconv.Atoi(string(f[i]))
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, true
}

// procRSS is the resident set size of process pid (VmRSS in
// /proc/<pid>/status), in bytes.
func procRSS(pid int) (int64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v) // "12345 kB"
			if len(f) != 2 || string(f[1]) != "kB" {
				return 0, false
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// procFDs is the number of open file descriptors of process pid (entries of
// /proc/<pid>/fd). mcphost is non-dumpable, so this needs root or
// CAP_SYS_PTRACE; otherwise it reports false and callers use the host's own
// process_open_fds metric.
func procFDs(pid int) (int, bool) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0, false
	}
	return len(ents), true
}

// procParent is the parent pid of process pid.
func procParent(pid int) (int, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	_, f, ok := parseStat(data)
	return f[0], ok
}
