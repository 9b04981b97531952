package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The canonical encoding (specs/events.md §2) is deliberately small: fixed-width big-endian
// integers, byte strings prefixed with a big-endian uint32 length, fixed-size arrays written raw.
// There is exactly one encoding of every value, so "decode then re-encode" gives back the input
// bytes, and signatures cover bytes that every node reproduces identically.

// ErrTruncated is returned by the decoder when the input ends inside a field.
var ErrTruncated = errors.New("input ends inside a field")

// encoder appends canonical fields to a byte slice.
type encoder struct{ buf []byte }

func (e *encoder) u8(v uint8)   { e.buf = append(e.buf, v) }
func (e *encoder) u32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }
func (e *encoder) raw(b []byte) { e.buf = append(e.buf, b...) }
func (e *encoder) bytes(b []byte) {
	e.u32(uint32(len(b)))
	e.buf = append(e.buf, b...)
}
func (e *encoder) str(s string) { e.bytes([]byte(s)) }
func (e *encoder) boolean(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// decoder reads canonical fields; the first error sticks and later reads return zero values.
type decoder struct {
	buf []byte
	off int
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.buf)-d.off < n {
		d.fail(fmt.Errorf("%w at byte %d (need %d, have %d)", ErrTruncated, d.off, n, len(d.buf)-d.off))
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

func (d *decoder) u8() uint8 {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (d *decoder) i64() int64 { return int64(d.u64()) }

// bytes reads a length-prefixed byte string of at most max bytes, copied out of the input.
func (d *decoder) bytes(field string, max int) []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		d.fail(fmt.Errorf("%s is %d bytes, more than the limit of %d", field, n, max))
		return nil
	}
	b := d.take(int(n))
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func (d *decoder) str(field string, max int) string { return string(d.bytes(field, max)) }

func (d *decoder) boolean(field string) bool {
	switch v := d.u8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail(fmt.Errorf("%s must be 0 or 1, got %d", field, v))
		return false
	}
}

func (d *decoder) fixed(dst []byte) {
	if b := d.take(len(dst)); b != nil {
		copy(dst, b)
	}
}

// finish reports the first error, or an error if bytes remain after the last field.
func (d *decoder) finish(what string) error {
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", what, d.err)
	}
	if d.off != len(d.buf) {
		return fmt.Errorf("decode %s: %d trailing bytes after the last field", what, len(d.buf)-d.off)
	}
	return nil
}
