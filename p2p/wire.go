package p2p

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-msgio"
)

// MaxMessage is the largest request or reply of the request/reply protocols, in bytes (P-3):
// a longer length prefix ends the stream before anything is read into memory.
const MaxMessage = 16 << 10

// ErrBadMessage: a message that is too long, not one JSON object, or has fields the protocol
// does not define.
var ErrBadMessage = errors.New("bad message")

// Reply is the answer of every request/reply protocol (P-4): OK with a body, or a refusal with
// a code a program can branch on and a reason a person can read.
type Reply struct {
	OK     bool            `json:"ok"`
	Code   string          `json:"code,omitempty"`
	Reason string          `json:"reason,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
	// answered: the handler wrote its reply itself (a reply followed by a stream of bytes).
	answered bool
}

// Refusal codes (specs/p2p.md P-4).
const (
	CodeUnregistered = "unregistered" // the asking peer is not a registered node
	CodeBadRequest   = "bad_request"  // the request is malformed or contradicts itself
	CodeNotForMe     = "not_for_me"   // the request names another supplier
	CodeNoSpace      = "no_space"     // more bytes than the supplier has free
	CodePrice        = "price"        // below the supplier's price
	CodeDuration     = "duration"     // a duration the supplier does not accept
	CodeDuplicate    = "duplicate"    // a contract id the supplier already agreed to
	CodeUnavailable  = "unavailable"  // the supplier cannot answer now (the ledger is unreachable)
	CodeNoContract   = "no_contract"  // no contract agreed between the two for this request
	CodeNoShard      = "no_shard"     // the supplier holds no such shard
	CodeMismatch     = "mismatch"     // the bytes sent do not hash to the root announced
	CodeFailed       = "failed"       // the supplier failed on its side (disk, journal)
	CodeReceiptDue   = "receipt_due"  // more bytes read than bandwidth receipts cover (P-8)
)

// ErrRefused wraps every refusal a peer answered; RefusedError carries its code.
var ErrRefused = errors.New("refused")

// RefusedError is a peer's refusal.
type RefusedError struct {
	Code, Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused (%s): %s", e.Code, e.Reason)
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// writeMsg writes v as one length-prefixed JSON message.
func writeMsg(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > MaxAnswer {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadMessage, len(b), MaxAnswer)
	}
	return msgio.NewVarintWriter(w).WriteMsg(b)
}

// MaxAnswer is the largest audit reply: MaxChallengeLeaves leaves of up to 1 KiB with their
// paths, in JSON.
const MaxAnswer = 256 << 10

// readMsg reads one length-prefixed JSON message into v, strictly: at most MaxMessage bytes,
// one object, no fields v does not define.
func readMsg(r io.Reader, v any) error { return readMsgMax(r, MaxMessage, v) }

// readMsgMax is readMsg with another size limit.
func readMsgMax(r io.Reader, limit int, v any) error {
	mr := msgio.NewVarintReaderSize(r, limit)
	b, err := mr.ReadMsg()
	if err != nil {
		if errors.Is(err, msgio.ErrMsgTooLarge) {
			return fmt.Errorf("%w: longer than %d bytes", ErrBadMessage, limit)
		}
		return err
	}
	defer mr.ReleaseMsg(b)
	return strictJSON(b, v)
}

// strictJSON decodes b into v: one object, no fields v does not define.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: more than one JSON value", ErrBadMessage)
	}
	return nil
}
