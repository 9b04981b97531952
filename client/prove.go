package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	lightdb "github.com/cometbft/cometbft/light/store/db"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	rpcclient "github.com/cometbft/cometbft/rpc/client"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

// TrustingPeriod is how long a verified header stays a valid starting point for the light client.
const TrustingPeriod = 14 * 24 * time.Hour

// VerifyOptions configures a Verifier.
type VerifyOptions struct {
	// Dir keeps the light client's verified headers and the trust root taken on first use
	// (trust-<chain>.json); a node home's light/ directory.
	Dir string
	// TrustHeight and TrustHash name a header the caller trusts; zero: header 1, trusted on
	// first use and remembered in Dir.
	TrustHeight int64
	TrustHash   string
	// Witnesses are other nodes' RPC addresses that cross-check headers; none: the queried node
	// is its own witness.
	Witnesses []string
}

// trustRoot is the header the light client starts from.
type trustRoot struct {
	ChainID string `json:"chain_id"`
	Height  int64  `json:"height"`
	Hash    string `json:"hash"`
}

// Verification is what a proved answer carries.
type Verification struct {
	Verified bool   `json:"verified"`
	Height   int64  `json:"height"`   // the state read
	AppHash  string `json:"app_hash"` // committed by Height, from header Height+1
	Header   int64  `json:"header"`
	Note     string `json:"note,omitempty"` // said once when a trust root is taken on first use
}

// Verifier checks query answers against headers that CometBFT's light client verified. Close it.
type Verifier struct {
	c    *Client
	lc   *light.Client
	db   dbm.DB
	note string
}

// remote makes an in-process RPC client usable as a light-client provider.
type remote struct {
	rpcclient.Client
	name string
}

func (r remote) Remote() string { return r.name }

// NewVerifier starts a light client for c's chain.
func NewVerifier(ctx context.Context, c *Client, o VerifyOptions) (*Verifier, error) {
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	v := &Verifier{c: c}
	root, err := v.trustRoot(ctx, chainID, o)
	if err != nil {
		return nil, err
	}
	hash, err := hex.DecodeString(root.Hash)
	if err != nil {
		return nil, fmt.Errorf("trust hash %q is not hex", root.Hash)
	}
	var primary provider.Provider
	if c.remote != "" {
		if primary, err = lighthttp.New(chainID, c.remote); err != nil {
			return nil, err
		}
	} else {
		rpc, err := c.src()
		if err != nil {
			return nil, err
		}
		primary = lighthttp.NewWithClient(chainID, remote{rpc, c.name})
	}
	witnesses := []provider.Provider{primary}
	if len(o.Witnesses) > 0 {
		witnesses = nil
	}
	for _, w := range o.Witnesses {
		p, err := lighthttp.New(chainID, w)
		if err != nil {
			return nil, fmt.Errorf("witness %s: %w", w, err)
		}
		witnesses = append(witnesses, p)
	}
	if v.db, err = dbm.NewGoLevelDB("light-"+chainID, o.Dir); err != nil {
		return nil, fmt.Errorf("open light client store: %w", err)
	}
	v.lc, err = light.NewClient(ctx, chainID, light.TrustOptions{Period: TrustingPeriod, Height: root.Height, Hash: hash},
		primary, witnesses, lightdb.New(v.db, chainID))
	if err != nil {
		v.db.Close()
		return nil, fmt.Errorf("light client: %w", err)
	}
	return v, nil
}

// Close releases the light client's store.
func (v *Verifier) Close() {
	if v.db != nil {
		v.db.Close()
	}
}

func (v *Verifier) trustRoot(ctx context.Context, chainID string, o VerifyOptions) (trustRoot, error) {
	if o.TrustHeight > 0 {
		if o.TrustHash == "" {
			return trustRoot{}, errors.New("a trust height needs its header hash")
		}
		return trustRoot{ChainID: chainID, Height: o.TrustHeight, Hash: o.TrustHash}, nil
	}
	path := filepath.Join(o.Dir, "trust-"+chainID+".json")
	if b, err := os.ReadFile(path); err == nil {
		var r trustRoot
		if err := json.Unmarshal(b, &r); err != nil {
			return r, fmt.Errorf("%s: %w", path, err)
		}
		return r, nil
	}
	rpc, err := v.c.src()
	if err != nil {
		return trustRoot{}, err
	}
	h := int64(1)
	cm, err := rpc.Commit(ctx, &h)
	if err != nil {
		return trustRoot{}, v.c.wrap(err)
	}
	r := trustRoot{ChainID: chainID, Height: 1, Hash: hex.EncodeToString(cm.Header.Hash())}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return r, err
	}
	v.note = fmt.Sprintf("trusting header 1 (%s) of %s on first use; saved in %s", r.Hash, chainID, path)
	return r, nil
}

// appHashAfter returns the app hash committed by height, read from the verified header height+1,
// waiting up to 15 s for that header to exist.
func (v *Verifier) appHashAfter(ctx context.Context, height int64) ([]byte, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := v.c.Status(ctx)
		if err != nil {
			return nil, err
		}
		if st.SyncInfo.LatestBlockHeight > height {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("header %d, which commits the answer at height %d, did not appear", height+1, height)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	lb, err := v.lc.VerifyLightBlockAtHeight(ctx, height+1, time.Now())
	if err != nil {
		return nil, fmt.Errorf("light client could not verify header %d: %w", height+1, err)
	}
	return lb.AppHash, nil
}

// Proved is one state value whose proof was checked (Value nil: the key's absence was proven).
type Proved struct {
	Key   []byte
	Value []byte
}

// Keys reads keys with proofs at one height and verifies each against the app hash of the
// light-client-verified header height+1. A value that does not verify wraps api.ErrProofInvalid.
func (v *Verifier) Keys(ctx context.Context, keys ...[]byte) ([]Proved, Verification, error) {
	var height int64
	var out []Proved
	var proofs []*cmtcrypto.ProofOps
	for i, k := range keys {
		res, err := v.c.Query(ctx, api.PathStore, k, height, true)
		if err != nil {
			return nil, Verification{}, err
		}
		if i == 0 {
			height = res.Height
		}
		if res.ProofOps == nil || len(res.ProofOps.Ops) == 0 {
			return nil, Verification{}, fmt.Errorf("%w: node returned no proof for key %x", api.ErrProofInvalid, k)
		}
		out = append(out, Proved{Key: k, Value: res.Value})
		proofs = append(proofs, res.ProofOps)
	}
	appHash, err := v.appHashAfter(ctx, height)
	if err != nil {
		return nil, Verification{}, err
	}
	for i := range out {
		if err := api.VerifyProof(appHash, out[i].Key, out[i].Value, proofs[i]); err != nil {
			return nil, Verification{}, fmt.Errorf("answer at height %d: %w", height, err)
		}
	}
	ver := Verification{Verified: true, Height: height, AppHash: hex.EncodeToString(appHash), Header: height + 1, Note: v.note}
	v.note = ""
	return out, ver, nil
}

// Node is Client.Node, proved; an unregistered node's absence is proven and wraps api.ErrNotFound.
func (v *Verifier) Node(ctx context.Context, n ledger.PubKey) (api.NodeView, Verification, error) {
	vals, ver, err := v.Keys(ctx, ledger.NodeKey(n), ledger.NodeAggKey(n))
	if err != nil {
		return api.NodeView{}, ver, err
	}
	if vals[0].Value == nil {
		return api.NodeView{}, ver, fmt.Errorf("node %s is not registered (absence verified at height %d): %w", n, ver.Height, api.ErrNotFound)
	}
	view := api.NodeView{Node: n}
	if view.Record, err = ledger.DecodeNodeRecord(vals[0].Value); err != nil {
		return view, ver, err
	}
	if vals[1].Value != nil {
		if view.Aggregate, err = ledger.DecodeAggregate(vals[1].Value); err != nil {
			return view, ver, err
		}
	}
	return view, ver, nil
}

// Relation is Client.Relation, proved.
func (v *Verifier) Relation(ctx context.Context, a, b ledger.PubKey) (api.RelationView, Verification, error) {
	view := api.RelationView{A: a, B: b}
	vals, ver, err := v.Keys(ctx, ledger.PairAggKey(a, b), ledger.PairAggKey(b, a))
	if err != nil {
		return view, ver, err
	}
	for i, dst := range []**ledger.Aggregate{&view.AbB, &view.BbA} {
		if vals[i].Value != nil {
			if *dst, err = ledger.DecodeAggregate(vals[i].Value); err != nil {
				return view, ver, err
			}
		}
	}
	return view, ver, nil
}

// Contract is Client.Contract, proved.
func (v *Verifier) Contract(ctx context.Context, id ledger.ID) (api.ContractView, Verification, error) {
	// Where the record is comes from its parties (ContractIDKey), which never change once
	// written: read them plainly, then prove them and the record together.
	raw, _, err := v.c.Store(ctx, ledger.ContractIDKey(id), 0)
	if err != nil {
		return api.ContractView{}, Verification{}, err
	}
	keys := [][]byte{ledger.ContractIDKey(id)}
	var parties ledger.ContractParties
	if raw != nil {
		if parties, err = ledger.DecodeContractParties(raw); err != nil {
			return api.ContractView{}, Verification{}, fmt.Errorf("contract %s: %w", id, err)
		}
		keys = append(keys, ledger.ContractKey(id, parties.Customer, parties.Supplier))
	}
	vals, ver, err := v.Keys(ctx, keys...)
	if err != nil {
		return api.ContractView{}, ver, err
	}
	if !bytes.Equal(vals[0].Value, raw) {
		return api.ContractView{}, ver, fmt.Errorf("%w: contract %s: the node named its parties %x, its proof says %x", api.ErrProofInvalid, id, raw, vals[0].Value)
	}
	var record []byte
	if len(vals) > 1 {
		if record = vals[1].Value; record == nil {
			return api.ContractView{}, ver, missingRecord(id, ver.Height)
		}
	}
	cv, err := decodeContract(id, record, fmt.Sprintf(" (absence verified at height %d)", ver.Height))
	return cv, ver, err
}
