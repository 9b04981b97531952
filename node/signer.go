package node

import (
	"crypto/ed25519"
	"sync"

	"github.com/trustledger/trustledger/client"
)

// keySubmitter shares one client.Submitter of the node's key among the services that sign with
// it (supplier and customer): two submitters of one key would each pick the next sequence
// without seeing the other's transactions in flight, and one of them would be rejected
// (replayed_tx). The submitter exists while at least one service holds it.
type keySubmitter struct {
	chainID string
	key     ed25519.PrivateKey
	ledger  *client.Client

	mu    sync.Mutex
	sub   *client.Submitter
	users int
}

// acquire returns the shared submitter, made on first use; each acquire needs a release.
func (k *keySubmitter) acquire() (*client.Submitter, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sub == nil {
		sub, err := client.NewSubmitter(client.SubmitterConfig{ChainID: k.chainID, Key: k.key, Endpoints: []*client.Client{k.ledger}})
		if err != nil {
			return nil, err
		}
		k.sub = sub
	}
	k.users++
	return k.sub, nil
}

// release gives the submitter back; the last release closes it.
func (k *keySubmitter) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.users--; k.users == 0 && k.sub != nil {
		k.sub.Close()
		k.sub = nil
	}
}
