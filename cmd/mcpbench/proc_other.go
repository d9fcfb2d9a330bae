//go:build !linux

package main

import "time"

// treeCPU is measured only on Linux (from /proc).
func treeCPU(int) (time.Duration, bool) { return 0, false }

// systemCPU is measured only on Linux (from /proc/stat).
func systemCPU() (time.Duration, bool) { return 0, false }

// procRSS, procFDs and procParent read /proc, on Linux only; elsewhere the
// soak uses the host's process_* metrics and cannot check a pid's parent.
func procRSS(int) (int64, bool) { return 0, false }

func procFDs(int) (int, bool) { return 0, false }

func procParent(int) (int, bool) { return 0, false }
