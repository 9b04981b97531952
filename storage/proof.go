package storage

import (
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// ErrProofInvalid is returned when a proof does not tie the value to the app hash.
var ErrProofInvalid = errors.New("proof does not verify against the app hash")

// VerifyProof checks an ICS23 proof from AppStore.Prove against an app hash: that key holds
// value in the tree with that root, or, when value is nil, that key is absent.
func VerifyProof(appHash, key, value []byte, proof *ics23.CommitmentProof) error {
	if proof == nil {
		return fmt.Errorf("%w: no proof", ErrProofInvalid)
	}
	spec := ics23.IavlSpec
	if value == nil {
		if !ics23.VerifyNonMembership(spec, appHash, proof, key) {
			return fmt.Errorf("%w: absence of key %x", ErrProofInvalid, key)
		}
		return nil
	}
	if !ics23.VerifyMembership(spec, appHash, proof, key, value) {
		return fmt.Errorf("%w: key %x", ErrProofInvalid, key)
	}
	return nil
}
