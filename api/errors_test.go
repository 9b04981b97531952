package api

import (
	"errors"
	"fmt"
	"testing"
)

// TestQueryErrorIs: each query code matches its sentinel and no other, also when wrapped.
func TestQueryErrorIs(t *testing.T) {
	sentinels := []error{ErrBadRequest, ErrNotFound, ErrInternal, ErrServiceStopped}
	cases := []struct {
		code uint32
		want error
	}{
		{CodeBadRequest, ErrBadRequest},
		{CodeNotFound, ErrNotFound},
		{CodeInternal, ErrInternal},
		{CodeServiceStopped, ErrServiceStopped},
		{7, nil}, // a ledger rejection code: no query sentinel
	}
	for _, c := range cases {
		err := fmt.Errorf("asking the node: %w", &QueryError{Path: PathNode, Code: c.code, Log: "x"})
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == c.want) {
				t.Errorf("code %d: errors.Is(err, %v) = %v, want %v", c.code, s, got, s == c.want)
			}
		}
	}
	if got := (&QueryError{Path: PathTx, Code: CodeNotFound}).Error(); got != "query /tx failed with code 101" {
		t.Errorf("empty log: got %q", got)
	}
}
