package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestTreeLog (specs/state.md §4.2): records come back in order across segments; an open cuts
// the records above the committed height and a torn last record, and refuses a gap or a bad
// record in an earlier segment; truncateAfter and dropThrough leave exactly the versions they
// should, and the log goes on from there.
func TestTreeLog(t *testing.T) {
	defer func(n int64) { logSegmentBytes = n }(logSegmentBytes)
	logSegmentBytes = 100
	dir := t.TempDir()
	payload := func(v int64) []byte { return fmt.Appendf(nil, "writes of version %d", v) }
	open := func(committed, from int64) (*treeLog, []int64, error) {
		var got []int64
		l, err := openTreeLog(dir, committed, from, func(v int64, p []byte) error {
			if string(p) != string(payload(v)) {
				return fmt.Errorf("version %d reads back %q", v, p)
			}
			got = append(got, v)
			return nil
		})
		return l, got, err
	}
	want := func(from, to int64) []int64 {
		var out []int64
		for v := from; v <= to; v++ {
			out = append(out, v)
		}
		return out
	}
	l, got, err := open(0, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty log: %v %v", got, err)
	}
	for v := int64(5); v <= 20; v++ {
		if err := l.append(v, payload(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.append(22, payload(22)); err == nil {
		t.Fatal("a gap was appended")
	}
	if len(l.segs) < 4 {
		t.Fatalf("segments %v: the log did not rotate", l.segs)
	}
	l.close()

	// Replayed from a checkpoint at 9; the records above the committed 18 are cut.
	l, got, err = open(18, 9)
	if err != nil || !slices.Equal(got, want(10, 18)) || l.last != 18 {
		t.Fatalf("replay: %v, last %d, %v", got, l.last, err)
	}
	// A torn append at the end is cut too.
	last := filepath.Join(dir, logSegmentName(l.segs[len(l.segs)-1]))
	l.close()
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 0, 0, 0, 0, 19, 0, 0})
	f.Close()
	l, got, err = open(18, 0)
	if err != nil || !slices.Equal(got, want(5, 18)) {
		t.Fatalf("after a torn append: %v %v", got, err)
	}
	if err := l.append(19, payload(19)); err != nil {
		t.Fatal(err)
	}
	// A rollback to 12, then the log goes on from 13.
	if err := l.truncateAfter(12); err != nil || l.last != 12 {
		t.Fatalf("truncate after 12: last %d, %v", l.last, err)
	}
	if err := l.append(13, payload(13)); err != nil {
		t.Fatal(err)
	}
	// Segments entirely at or below a checkpoint at 11 go; the last one always stays.
	if err := l.dropThrough(11); err != nil {
		t.Fatal(err)
	}
	if l.segs[0] > 12 || (len(l.segs) > 1 && l.segs[1]-1 <= 11) {
		t.Fatalf("segments %v after dropping through 11", l.segs)
	}
	first := l.segs[0]
	l.close()
	l, got, err = open(13, 0)
	if err != nil || !slices.Equal(got, want(first, 13)) {
		t.Fatalf("after the rollback and the drop: %v %v (first segment %d)", got, err, first)
	}
	// A damaged record in a segment that is not the last one is corruption, not a torn tail.
	for v := int64(14); v <= 20; v++ {
		if err := l.append(v, payload(v)); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.segs) < 2 {
		t.Fatalf("segments %v: need two", l.segs)
	}
	early := filepath.Join(dir, logSegmentName(l.segs[0]))
	l.close()
	b, err := os.ReadFile(early)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.WriteFile(early, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := open(20, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a damaged earlier segment: %v", err)
	}
}
