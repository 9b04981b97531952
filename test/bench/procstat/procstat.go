// Package procstat reads CPU time from Linux's /proc for the benchmark tools: the whole
// machine's busy time, a process's, and this process's own, so that a figure can say what else
// ran beside it.
package procstat

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// clockTick is the kernel's USER_HZ, the unit of /proc's CPU times (100 on Linux everywhere).
const clockTick = 100

// Machine is the busy time of every core so far (user, nice, system, irq, softirq and steal:
// everything but idle and iowait); 0 if /proc/stat cannot be read.
func Machine() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	// The first line adds up every core: user nice system idle iowait irq softirq steal ...
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	var busy int64
	for i := 1; i < len(f) && i <= 8; i++ {
		if i == 4 || i == 5 {
			continue // idle and iowait
		}
		var v int64
		fmt.Sscan(f[i], &v)
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTick
}

// Process is the CPU time (user and system) process pid used so far; 0 if it cannot be read.
func Process(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces, in parentheses): utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	var u, k int64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &k)
	return time.Duration(u+k) * time.Second / clockTick
}

// Self is the CPU time (user and system) this process used so far.
func Self() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
