package node

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// ErrRunning is returned when another process holds the home: a node runs there.
var ErrRunning = errors.New("a node is already running on this home")

// homeLock is an exclusive flock on the home's lock file, held while a node runs. The kernel
// drops it when the process dies, even by SIGKILL, so a stale file never blocks a restart.
type homeLock struct{ f *os.File }

// lockHome takes the home's lock, or returns ErrRunning naming the holder's process id.
func lockHome(home Home) (*homeLock, error) {
	f, err := os.OpenFile(home.LockFile(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s, pid %s): `trustd services --home %s` talks to it; stop it before this command",
				ErrRunning, home, holder(home), home)
		}
		return nil, fmt.Errorf("lock %s: %w", home.LockFile(), err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &homeLock{f: f}, nil
}

// holder is the process id written in the lock file, or "unknown".
func holder(home Home) string {
	b, err := os.ReadFile(home.LockFile())
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return "unknown"
	}
	return string(bytes.TrimSpace(b))
}

func (l *homeLock) release() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}

// EnsureStopped returns ErrRunning (naming the process) if a node runs on home; operator
// commands that open the databases directly call it first.
func EnsureStopped(home Home) error {
	l, err := lockHome(home)
	if err != nil {
		return err
	}
	l.release()
	return nil
}
