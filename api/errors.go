package api

import (
	"errors"
	"fmt"
)

// Sentinel errors for query codes: a *QueryError matches the one of its code with errors.Is, so
// callers branch with errors.Is(err, api.ErrNotFound) rather than on message text.
var (
	// ErrNotFound: the node has nothing under the key, hash or id asked (CodeNotFound).
	ErrNotFound = errors.New("not found")
	// ErrBadRequest: the node refused the request as malformed (CodeBadRequest).
	ErrBadRequest = errors.New("bad request")
	// ErrServiceStopped: the node's service behind the path is stopped (CodeServiceStopped);
	// `trustd services start NAME` on that node starts it again.
	ErrServiceStopped = errors.New("service stopped")
	// ErrInternal: the node failed on its own state (CodeInternal); its log says more.
	ErrInternal = errors.New("internal error")
)

// QueryError is a query that the node answered with a non-zero code.
type QueryError struct {
	Path string
	Code uint32
	Log  string
}

func (e *QueryError) Error() string {
	if e.Log == "" {
		return fmt.Sprintf("query %s failed with code %d", e.Path, e.Code)
	}
	return e.Log
}

// Is matches the sentinel of the error's code.
func (e *QueryError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == CodeNotFound
	case ErrBadRequest:
		return e.Code == CodeBadRequest
	case ErrServiceStopped:
		return e.Code == CodeServiceStopped
	case ErrInternal:
		return e.Code == CodeInternal
	}
	return false
}
