package client

import "context"

// TxResult is txResult, for the tests of package client_test.
type TxResult = txResult

// BlockOutcomes is what the follower reads of block h: its transactions and their outcomes,
// through plain HTTP when the client can (plain) or through CometBFT's RPC client.
func (c *Client) BlockOutcomes(ctx context.Context, h int64, plain bool) ([][]byte, []TxResult, error) {
	cc := &Client{src: c.src, name: c.name, remote: c.remote}
	if plain {
		cc.http = c.http
	}
	if cc.plainHTTP() != plain {
		panic("the client cannot read its node the way asked")
	}
	txs, err := cc.blockTxs(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	res, err := cc.txResults(ctx, h)
	return txs, res, err
}
