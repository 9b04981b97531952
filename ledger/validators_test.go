package ledger

import (
	"crypto/ed25519"
	"testing"
)

// validatorWorld is a world whose chain has four validators of power 10 (keys v0..v3).
func validatorWorld(t *testing.T, zeroOnDuplicate bool) (*world, []ed25519.PrivateKey) {
	w := &world{harness: &harness{t: t, store: memStore{}, params: testParams(), seq: map[PubKey]uint64{}},
		alice: key("alice"), bob: key("bob"), carol: key("carol"), mallory: key("mallory")}
	w.params.ZeroPowerOnDuplicateVote = zeroOnDuplicate
	vals := []ed25519.PrivateKey{key("v0"), key("v1"), key("v2"), key("v3")}
	var set []ValidatorPower
	for _, v := range vals {
		set = append(set, ValidatorPower{PubKey: pub(v), Power: 10})
	}
	if err := InitGenesis(w.store, testChain, w.params, set); err != nil {
		t.Fatal(err)
	}
	w.register(w.alice, "alice")
	return w, vals
}

func valUpdate(id string, who PubKey, power uint64, approvers ...ed25519.PrivateKey) *ValidatorUpdate {
	u := &ValidatorUpdate{ProposalID: sha(id), Validator: who, Power: power}
	for _, a := range approvers {
		u.Approvals = append(u.Approvals, Approval{Validator: pub(a), Sig: Sig(ed25519.Sign(a, ValidatorUpdateBytes(testChain, u)))})
	}
	return u
}

func sha(s string) ID { return id(s) }

func currentSet(t *testing.T, w *world) ValidatorSet {
	s, err := DecodeValidatorSet(w.store[string(ValidatorsKey())])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidatorUpdates(t *testing.T) {
	newcomer := pub(key("new"))
	cases := []struct {
		name  string
		build func(vals []ed25519.PrivateKey) *ValidatorUpdate
		want  Code
		power uint64 // the newcomer's power afterwards
	}{
		{"3 of 4 approve (75% > 2/3): added", func(v []ed25519.PrivateKey) *ValidatorUpdate { return valUpdate("p", newcomer, 7, v[0], v[1], v[2]) }, CodeOK, 7},
		{"2 of 4 approve (50%): no quorum", func(v []ed25519.PrivateKey) *ValidatorUpdate { return valUpdate("p", newcomer, 7, v[0], v[1]) }, CodeNoQuorum, 0},
		{"approval by a non-validator", func(v []ed25519.PrivateKey) *ValidatorUpdate {
			return valUpdate("p", newcomer, 7, v[0], v[1], key("outsider"))
		}, CodeNoQuorum, 0},
		{"approval over other fields", func(v []ed25519.PrivateKey) *ValidatorUpdate {
			u := valUpdate("p", newcomer, 7, v[0], v[1], v[2])
			u.Power = 1000 // the approvals were for 7
			return u
		}, CodeBadSignature, 0},
		{"removing a non-validator", func(v []ed25519.PrivateKey) *ValidatorUpdate { return valUpdate("p", newcomer, 0, v[0], v[1], v[2]) }, CodeInvalidField, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, vals := validatorWorld(t, false)
			before := w.store.snapshot()
			b := NewBlock(w.store, testChain, w.params, BlockInfo{Height: 10, Time: 1}, true)
			r := b.ApplyTx(w.tx(w.alice, c.build(vals)).Encode(), nil)
			if _, err := b.Finish(); err != nil {
				t.Fatal(err)
			}
			if r.Code != c.want {
				t.Fatalf("got %s (%s), want %s", r.Code, r.Log, c.want)
			}
			if got := currentSet(t, w).Power(newcomer); got != c.power {
				t.Errorf("newcomer power %d, want %d", got, c.power)
			}
			changes := b.ValidatorChanges()
			if c.want == CodeOK && (len(changes) != 1 || changes[0].Power != c.power) {
				t.Errorf("block's validator changes: %+v", changes)
			}
			if c.want != CodeOK && len(w.store.snapshot()) != len(before) {
				t.Error("a rejected update changed the state")
			}
		})
	}
}

func TestValidatorUpdateCannotEmptyTheSetOrReplay(t *testing.T) {
	w, vals := validatorWorld(t, false)
	for i := 0; i < 3; i++ { // remove v3, v2, v1
		u := valUpdate(string(rune('a'+i)), pub(vals[3-i]), 0, vals[:4-i]...) // every current validator approves
		w.mustApply(w.tx(w.alice, u))
	}
	if s := currentSet(t, w); len(s) != 1 || s.Power(pub(vals[0])) != 10 {
		t.Fatalf("set after removals: %+v", s)
	}
	last := valUpdate("z", pub(vals[0]), 0, vals[0])
	if r := w.block(w.tx(w.alice, last).Encode())[0]; r.Code != CodeInvalidField {
		t.Fatalf("removing the last validator: %s (%s)", r.Code, r.Log)
	}
	again := valUpdate("a", pub(vals[3]), 5, vals[0])
	if r := w.block(w.tx(w.alice, again).Encode())[0]; r.Code != CodeReplayedReceipt && r.Code != CodeIDConflict {
		t.Fatalf("reusing a proposal id: %s (%s)", r.Code, r.Log)
	}
}

func TestDuplicateVoteZeroesPowerByParameter(t *testing.T) {
	for _, zero := range []bool{false, true} {
		w, vals := validatorWorld(t, zero)
		b := NewBlock(w.store, testChain, w.params, BlockInfo{Height: 20, Time: 1}, true)
		b.RecordConsensusMisbehavior(pub(vals[1]), MisconductDuplicateVote, id("ev"))
		if _, err := b.Finish(); err != nil {
			t.Fatal(err)
		}
		want := uint64(10)
		if zero {
			want = 0
		}
		if got := currentSet(t, w).Power(pub(vals[1])); got != want {
			t.Errorf("zero_power_on_duplicate_vote=%v: power %d, want %d", zero, got, want)
		}
		if zero && (len(b.ValidatorChanges()) != 1 || b.ValidatorChanges()[0].Power != 0) {
			t.Errorf("no power-0 update emitted: %+v", b.ValidatorChanges())
		}
	}
}
