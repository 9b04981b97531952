package api

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cometbft/cometbft/crypto/merkle"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	ics23 "github.com/cosmos/ics23/go"
)

// ProofOpType names our proof operator in a /store answer's ProofOps.
const ProofOpType = "ics23:iavl"

// ErrProofInvalid is returned when a proof does not tie the value to the app hash.
var ErrProofInvalid = errors.New("proof does not verify against the app hash")

// ICS23Op is a CometBFT merkle.ProofOperator for one ICS23 proof in our single IAVL tree: Run
// takes the value (or nothing, for absence) and returns the tree root the proof commits to.
type ICS23Op struct {
	Key   []byte
	Proof *ics23.CommitmentProof
}

var _ merkle.ProofOperator = ICS23Op{}

// GetKey is the key this operator proves, matched against the last key of the key path.
func (op ICS23Op) GetKey() []byte { return op.Key }

// Run checks the proof for the key and the given value (args = [value]) or for absence
// (args = []), and returns the root it computes.
func (op ICS23Op) Run(args [][]byte) ([][]byte, error) {
	spec := ics23.IavlSpec
	switch len(args) {
	case 0:
		np := op.Proof.GetNonexist()
		if np == nil {
			return nil, fmt.Errorf("%w: not an absence proof for key %x", ErrProofInvalid, op.Key)
		}
		root, err := np.Calculate()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProofInvalid, err)
		}
		if !ics23.VerifyNonMembership(spec, root, op.Proof, op.Key) {
			return nil, fmt.Errorf("%w: absence of key %x", ErrProofInvalid, op.Key)
		}
		return [][]byte{root}, nil
	case 1:
		ep := op.Proof.GetExist()
		if ep == nil || !bytes.Equal(ep.Key, op.Key) {
			return nil, fmt.Errorf("%w: not an existence proof for key %x", ErrProofInvalid, op.Key)
		}
		root, err := ep.Calculate()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProofInvalid, err)
		}
		if !ics23.VerifyMembership(spec, root, op.Proof, op.Key, args[0]) {
			return nil, fmt.Errorf("%w: key %x does not hold that value", ErrProofInvalid, op.Key)
		}
		return [][]byte{root}, nil
	}
	return nil, fmt.Errorf("%w: %d arguments, want 0 or 1", ErrProofInvalid, len(args))
}

// ProofOp encodes the operator for a query answer.
func (op ICS23Op) ProofOp() cmtcrypto.ProofOp {
	data, _ := op.Proof.Marshal()
	return cmtcrypto.ProofOp{Type: ProofOpType, Key: op.Key, Data: data}
}

func decodeICS23Op(pop cmtcrypto.ProofOp) (merkle.ProofOperator, error) {
	if pop.Type != ProofOpType {
		return nil, fmt.Errorf("proof op type %q, want %q", pop.Type, ProofOpType)
	}
	p := &ics23.CommitmentProof{}
	if err := p.Unmarshal(pop.Data); err != nil {
		return nil, fmt.Errorf("decode %s proof: %w", ProofOpType, err)
	}
	return ICS23Op{Key: pop.Key, Proof: p}, nil
}

// ProofRuntime returns CometBFT's proof runtime with our operator registered.
func ProofRuntime() *merkle.ProofRuntime {
	prt := merkle.NewProofRuntime()
	prt.RegisterOpDecoder(ProofOpType, decodeICS23Op)
	return prt
}

// KeyPath is the merkle key path of a state key: one hex-encoded segment, since the app hash is
// the root of a single tree.
func KeyPath(key []byte) string {
	return merkle.KeyPath{}.AppendKey(key, merkle.KeyEncodingHex).String()
}

// VerifyProof checks proof ops from a /store answer against an app hash: that key holds value,
// or, when value is nil, that key is absent. A failure wraps ErrProofInvalid.
func VerifyProof(appHash, key, value []byte, ops *cmtcrypto.ProofOps) error {
	if ops == nil || len(ops.Ops) == 0 {
		return fmt.Errorf("%w: no proof", ErrProofInvalid)
	}
	prt := ProofRuntime()
	var err error
	if value == nil {
		err = prt.VerifyAbsence(ops, appHash, KeyPath(key))
	} else {
		err = prt.VerifyValue(ops, appHash, KeyPath(key), value)
	}
	if err != nil && !errors.Is(err, ErrProofInvalid) {
		err = fmt.Errorf("%w: %v", ErrProofInvalid, err)
	}
	return err
}

// ProofOps wraps an ICS23 proof of key as CometBFT proof ops.
func ProofOps(key []byte, p *ics23.CommitmentProof) *cmtcrypto.ProofOps {
	return &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{ICS23Op{Key: key, Proof: p}.ProofOp()}}
}
