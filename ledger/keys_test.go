package ledger

import (
	"bytes"
	"testing"
)

// TestNodeKeys: every key under a node is told apart by ParseNodeKey, and what a receipt changes
// (the supplier's aggregate, the pair's aggregate, the contract) shares the supplier's prefix
// (specs/state.md §2).
func TestNodeKeys(t *testing.T) {
	var supplier, customer PubKey
	supplier[0], customer[0] = 0xb0, 0xa0
	id := ID{1, 2, 3}
	cases := []struct {
		name string
		key  []byte
		part NodeKeyPart
		node PubKey
	}{
		{"record", NodeKey(supplier), PartRecord, supplier},
		{"aggregate", NodeAggKey(supplier), PartAggregate, supplier},
		{"pair", PairAggKey(supplier, customer), PartPair, supplier},
		{"contract", ContractKey(id, customer, supplier), PartContract, supplier},
		{"truncated", NodeKey(supplier)[:20], PartUnknown, PubKey{}},
		{"unknown part", append(NodeKey(supplier), 'z'), PartUnknown, supplier},
		{"pair cut short", PairAggKey(supplier, customer)[:40], PartUnknown, supplier},
		{"another prefix", ContractIDKey(id), PartUnknown, PubKey{}},
	}
	for _, c := range cases {
		part, node := ParseNodeKey(c.key)
		if part != c.part || (part != PartUnknown && node != c.node) {
			t.Errorf("%s: ParseNodeKey(%x) = %v, %s; want %v, %s", c.name, c.key, part, node, c.part, c.node)
		}
	}
	for _, k := range [][]byte{NodeAggKey(supplier), PairAggKey(supplier, customer), ContractKey(id, customer, supplier)} {
		if !bytes.HasPrefix(k, NodeKey(supplier)) {
			t.Errorf("key %x is not under the supplier's node key", k)
		}
	}
}
