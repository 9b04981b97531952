package main

import (
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

	"github.com/trustledger/trustledger/api"
)

// trustingPeriod is how long a verified header stays a valid starting point for the light client.
const trustingPeriod = 14 * 24 * time.Hour

// trustRoot is the header the light client starts from: given with --trust-height/--trust-hash,
// or taken on first use from the node and kept in <home>/light/trust.json.
type trustRoot struct {
	ChainID string `json:"chain_id"`
	Height  int64  `json:"height"`
	Hash    string `json:"hash"`
}

type proveOptions struct {
	trustHeight int64
	trustHash   string
	witnesses   []string
}

// verifier checks query answers against headers that CometBFT's light client verified.
type verifier struct {
	client *rpc
	lc     *light.Client
	db     dbm.DB
	note   string // said once when a trust root is taken on first use
}

func newVerifier(ctx context.Context, g *globals, client *rpc, chainID string, o proveOptions) (*verifier, error) {
	dir := filepath.Join(g.home, "light")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	v := &verifier{client: client}
	root, err := v.trustRoot(ctx, dir, chainID, o)
	if err != nil {
		return nil, err
	}
	hash, err := hex.DecodeString(root.Hash)
	if err != nil {
		return nil, fmt.Errorf("trust hash %q is not hex", root.Hash)
	}
	primary, err := lighthttp.New(chainID, client.addr)
	if err != nil {
		return nil, err
	}
	witnesses := []provider.Provider{primary}
	for _, w := range o.witnesses {
		p, err := lighthttp.New(chainID, w)
		if err != nil {
			return nil, fmt.Errorf("witness %s: %w", w, err)
		}
		witnesses = append(witnesses, p)
	}
	if len(o.witnesses) > 0 {
		witnesses = witnesses[1:]
	}
	if v.db, err = dbm.NewGoLevelDB("light-"+chainID, dir); err != nil {
		return nil, fmt.Errorf("open light client store: %w", err)
	}
	v.lc, err = light.NewClient(ctx, chainID, light.TrustOptions{Period: trustingPeriod, Height: root.Height, Hash: hash},
		primary, witnesses, lightdb.New(v.db, chainID))
	if err != nil {
		v.db.Close()
		return nil, fmt.Errorf("light client: %w", err)
	}
	return v, nil
}

func (v *verifier) Close() {
	if v.db != nil {
		v.db.Close()
	}
}

func (v *verifier) trustRoot(ctx context.Context, dir, chainID string, o proveOptions) (trustRoot, error) {
	if o.trustHeight > 0 {
		if o.trustHash == "" {
			return trustRoot{}, errors.New("--trust-height needs --trust-hash")
		}
		return trustRoot{ChainID: chainID, Height: o.trustHeight, Hash: o.trustHash}, nil
	}
	path := filepath.Join(dir, "trust-"+chainID+".json")
	if b, err := os.ReadFile(path); err == nil {
		var r trustRoot
		if err := json.Unmarshal(b, &r); err != nil {
			return r, fmt.Errorf("%s: %w", path, err)
		}
		return r, nil
	}
	h := int64(1)
	c, err := v.client.c.Commit(ctx, &h)
	if err != nil {
		return trustRoot{}, v.client.wrap(err)
	}
	r := trustRoot{ChainID: chainID, Height: 1, Hash: hex.EncodeToString(c.Header.Hash())}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return r, err
	}
	v.note = fmt.Sprintf("trusting header 1 (%s) of %s on first use; saved in %s", r.Hash, chainID, path)
	return r, nil
}

// appHashAfter returns the app hash committed by height, read from the verified header height+1.
// It waits briefly for that header to exist.
func (v *verifier) appHashAfter(ctx context.Context, height int64) ([]byte, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := v.client.c.Status(ctx)
		if err != nil {
			return nil, v.client.wrap(err)
		}
		if st.SyncInfo.LatestBlockHeight > height {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("header %d, which commits the answer at height %d, did not appear", height+1, height)
		}
		time.Sleep(200 * time.Millisecond)
	}
	lb, err := v.lc.VerifyLightBlockAtHeight(ctx, height+1, time.Now())
	if err != nil {
		return nil, fmt.Errorf("light client could not verify header %d: %w", height+1, err)
	}
	return lb.AppHash, nil
}

// provedValue is a state value with the proof that it was checked.
type provedValue struct {
	Key   []byte
	Value []byte
}

// proveKeys reads keys with proofs at one height and verifies each against the app hash of the
// light-client-verified header height+1. It returns the values, the height and the app hash.
func (v *verifier) proveKeys(ctx context.Context, keys ...[]byte) ([]provedValue, int64, []byte, error) {
	var height int64
	var out []provedValue
	var proofs []*cmtcrypto.ProofOps
	for i, k := range keys {
		res, err := v.client.query(ctx, api.PathStore, k, height, true)
		if err != nil {
			return nil, 0, nil, err
		}
		if i == 0 {
			height = res.Height
		}
		if res.ProofOps == nil || len(res.ProofOps.Ops) == 0 {
			return nil, 0, nil, fmt.Errorf("node returned no proof for key %x", k)
		}
		out = append(out, provedValue{Key: k, Value: res.Value})
		proofs = append(proofs, res.ProofOps)
	}
	appHash, err := v.appHashAfter(ctx, height)
	if err != nil {
		return nil, 0, nil, err
	}
	for i := range out {
		if err := api.VerifyProof(appHash, out[i].Key, out[i].Value, proofs[i]); err != nil {
			return nil, 0, nil, fmt.Errorf("answer at height %d: %w", height, err)
		}
	}
	return out, height, appHash, nil
}
