package main

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	cases := []struct {
		line string
		pid  int
		want [3]int
		ok   bool
	}{
		{"42 (mcphost) S 7 42 42 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 9 0 1234 0 0\n", 42, [3]int{7, 250, 31}, true},
		{"43 (a b) (c)) R 42 43 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 0 0\n", 43, [3]int{42, 5, 6}, true},
		{"44 (short) S 1 2 3\n", 0, [3]int{}, false},
		{"garbage", 0, [3]int{}, false},
	}
	for _, tc := range cases {
		pid, got, ok := parseStat([]byte(tc.line))
		if ok != tc.ok || (ok && (pid != tc.pid || got != tc.want)) {
			t.Errorf("parseStat(%q) = %d, %v, %v; want %d, %v, %v", tc.line, pid, got, ok, tc.pid, tc.want, tc.ok)
		}
	}
	if _, ok := treeCPU(os.Getpid()); !ok {
		t.Error("treeCPU(own pid): not found in /proc")
	}
	if _, ok := systemCPU(); !ok {
		t.Error("systemCPU: /proc/stat unreadable")
	}
}
