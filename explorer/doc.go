// Package explorer is trustledger's web explorer: the public history of relations between
// nodes, and who trusts whom as seen from any node, as server-rendered HTML and as JSON
// (docs on /api). It reads a node through package client only, the same client a remote
// program uses, so it is never behind the chain and holds no database of its own.
//
// Pages and their JSON twins (same parameters, same keyset cursors):
//
//	/                       network at a glance   /api/home
//	/blocks?before=H        blocks, newest first   /api/blocks
//	/block/H                a block and its txs   /api/block/H
//	/tx/HASH                a transaction         /api/tx/HASH
//	/node/KEY               a node, its timeline and counterparts   /api/node/KEY, …/events.csv
//	/relation/A/B           the relation of two nodes             /api/relation/A/B, …/events.csv
//	/trust/KEY              trust as KEY sees it, with its ego graph   /api/trust/KEY
//	/search?q=              node key, peer id, moniker, tx hash or height
//	/live                   server-sent events: each new height
//
// Rules it keeps (issue 15): it only reads; every user string goes through html/template;
// charts and graphs are SVG drawn on the server; the one script (live refresh) is tiny and
// optional; every asset is embedded, and the Content-Security-Policy allows only the explorer's
// own origin. Unknown ids and heights are 404 pages, malformed parameters 400, never 500.
//
// Import rule: like client, explorer links no storage engine and no node (client's
// imports_test.go checks this package too).
package explorer
