//go:build !linux

package main

import "time"

// treeCPU is measured only on Linux (from /proc).
func treeCPU(int) (time.Duration, bool) { return 0, false }

// systemCPU is measured only on Linux (from /proc/stat).
func systemCPU() (time.Duration, bool) { return 0, false }
