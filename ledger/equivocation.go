package ledger

import (
	"fmt"
)

// SignedReceipt is a receipt with one party's countersignature over its fields (the bytes of
// CountersignBytes): what a node hands out when it agrees to a receipt.
type SignedReceipt struct {
	Receipt Event // *StorageReceipt or *BandwidthReceipt
	Sig     Sig
}

// EncodeDoubleSignEvidence packs two conflicting signed receipts as the evidence bytes of a
// double_signed_receipt report (R-EVID-2).
func EncodeDoubleSignEvidence(a, b SignedReceipt) []byte {
	e := &encoder{}
	for _, r := range []SignedReceipt{a, b} {
		e.u8(uint8(r.Receipt.Kind()))
		r.Receipt.encodeFields(e)
		e.raw(r.Sig[:])
	}
	return e.buf
}

// receiptSlot is what names a receipt in its contract: its kind, contract and number.
type receiptSlot struct {
	kind     Kind
	contract ID
	number   uint64
}

// CheckDoubleSignEvidence verifies that evidence holds two receipts of the same kind, contract and
// number with different content, both signed by accused (R-EVID-2).
func CheckDoubleSignEvidence(chainID string, accused PubKey, evidence []byte) error {
	d := &decoder{buf: evidence}
	var rs [2]SignedReceipt
	var slots [2]receiptSlot
	for i := range rs {
		k := Kind(d.u8())
		if d.err != nil {
			break
		}
		if k != KindStorageReceipt && k != KindBandwidthReceipt {
			return fmt.Errorf("receipt %d has kind %s, want a storage or bandwidth receipt", i, k)
		}
		ev := newEvent(k)
		ev.decodeFields(d)
		d.fixed(rs[i].Sig[:])
		rs[i].Receipt = ev
		contract, number, _ := ReceiptSlot(ev)
		slots[i] = receiptSlot{k, contract, number}
	}
	if err := d.finish("double-sign evidence"); err != nil {
		return err
	}
	if slots[0] != slots[1] {
		return fmt.Errorf("the two receipts differ in kind, contract or number, so they do not conflict")
	}
	if contentHash(rs[0].Receipt) == contentHash(rs[1].Receipt) {
		return fmt.Errorf("the two receipts are the same, so they do not conflict")
	}
	for i, r := range rs {
		if !verify(accused, CountersignBytes(chainID, r.Receipt), r.Sig) {
			return fmt.Errorf("receipt %d is not signed by the accused %s", i, accused)
		}
	}
	return nil
}
