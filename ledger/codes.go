package ledger

import (
	"errors"
	"fmt"
)

// Code is the ABCI response code of a rejected transaction. Each rejection has its own code, so a
// client can branch on it; the table is mirrored in specs/events.md §6. Codes never change meaning.
type Code uint32

const (
	CodeOK               Code = 0
	CodeMalformed        Code = 1  // bytes do not decode as a transaction
	CodeOversized        Code = 2  // transaction larger than max_tx_bytes
	CodeTooManyEvents    Code = 3  // more events than max_events_per_tx
	CodeUnknownKind      Code = 4  // an event kind this ledger does not know
	CodeWrongChainID     Code = 5  // signed for another chain
	CodeBadSignature     Code = 6  // the signer's signature does not verify
	CodeBadCountersig    Code = 7  // countersignature missing or forged
	CodeReplayedTx       Code = 8  // sequence already used (a replay)
	CodeSequenceGap      Code = 9  // sequence skips ahead of the next expected one
	CodeUnregistered     Code = 10 // the signer is not a registered node
	CodeInsufficientPoW  Code = 11 // registration proof of work below the genesis difficulty
	CodeAlreadyExists    Code = 12 // node already registered, or contract id already used
	CodeReplayedReceipt  Code = 13 // receipt number or payment id already recorded
	CodeUnknownContract  Code = 14 // the contract id was never opened
	CodeContractClosed   Code = 15 // the contract is closed
	CodeNotAParty        Code = 16 // the signer or named parties do not match the contract/event
	CodeInvalidField     Code = 17 // a field is out of range or inconsistent
	CodeSignerBlockCap   Code = 18 // more txs from one signer in one block than allowed
	CodeUnknownNode      Code = 19 // a named counterparty is not registered
	CodeBadEvidence      Code = 20 // attached evidence does not verify
	CodeReservedKind     Code = 21 // a misconduct kind only the ledger itself may record
	CodeIDConflict       Code = 22 // different content under an existing event id
	CodeNoQuorum         Code = 23 // a validator update without more than 2/3 of the voting power
	CodeReceiptTooOld    Code = 24 // receipt number 64 or more below its contract's highest recorded
	CodeNumberTooFar     Code = 25 // a receipt or audit number more than 2^16 above its contract's highest recorded
	CodeReplayedAudit    Code = 26 // an audit number already recorded in its contract
	CodeAuditTooOld      Code = 27 // an audit number 64 or more below its contract's highest recorded
	codeInternalSentinel Code = 99 // never sent; marks internal errors in tests
)

var codeNames = map[Code]string{
	CodeOK:              "ok",
	CodeMalformed:       "malformed",
	CodeOversized:       "oversized",
	CodeTooManyEvents:   "too_many_events",
	CodeUnknownKind:     "unknown_kind",
	CodeWrongChainID:    "wrong_chain_id",
	CodeBadSignature:    "bad_signature",
	CodeBadCountersig:   "bad_countersignature",
	CodeReplayedTx:      "replayed_tx",
	CodeSequenceGap:     "sequence_gap",
	CodeUnregistered:    "unregistered_signer",
	CodeInsufficientPoW: "insufficient_pow",
	CodeAlreadyExists:   "already_exists",
	CodeReplayedReceipt: "replayed_receipt",
	CodeUnknownContract: "unknown_contract",
	CodeContractClosed:  "contract_closed",
	CodeNotAParty:       "not_a_party",
	CodeInvalidField:    "invalid_field",
	CodeSignerBlockCap:  "signer_block_cap",
	CodeUnknownNode:     "unknown_node",
	CodeBadEvidence:     "bad_evidence",
	CodeReservedKind:    "reserved_kind",
	CodeIDConflict:      "id_conflict",
	CodeNoQuorum:        "no_quorum",
	CodeReceiptTooOld:   "receipt_too_old",
	CodeNumberTooFar:    "number_too_far",
	CodeReplayedAudit:   "replayed_audit",
	CodeAuditTooOld:     "audit_too_old",
}

func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code(%d)", uint32(c))
}

// RejectError is a transaction rejection: the transaction is invalid, the node is fine.
type RejectError struct {
	Code Code
	Msg  string
}

func (e *RejectError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Msg) }

func reject(code Code, format string, args ...any) *RejectError {
	return &RejectError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the rejection code of err, or 0 if err is nil or not a rejection.
func CodeOf(err error) Code {
	var r *RejectError
	if errors.As(err, &r) {
		return r.Code
	}
	return CodeOK
}

// MessageOf returns a rejection's message without its code name (the code travels separately),
// or the whole error text for any other error.
func MessageOf(err error) string {
	var r *RejectError
	if errors.As(err, &r) {
		return r.Msg
	}
	return err.Error()
}
