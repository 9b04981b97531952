package api

// Query paths (specs/state.md §5). Data is raw bytes for /store, /node, /relation and /tx, and
// JSON for /events and /trust/*. Answers are JSON except /store, which returns the raw state value.
const (
	PathStore    = "/store"         // data: a state key; with prove, an ICS23 proof (ProofOp type ProofOpType)
	PathNode     = "/node"          // data: node key (32 bytes) → NodeView
	PathRelation = "/relation"      // data: key A || key B (64 bytes) → RelationView
	PathEvents   = "/events"        // data: EventsRequest → Page
	PathNewest   = "/events/newest" // data: EventsRequest (its filter) → NewestAnswer
	PathTx       = "/tx"            // data: tx hash (32 bytes) → []ledger.EventRecord
	PathParams   = "/params"        // → ParamsView

	// The trust service's paths: the node computes trust for any observer named, from public
	// history and its own policy (specs/trust.md). They answer CodeServiceStopped while the
	// node's trust service is stopped.
	PathTrustScore  = "/trust/score"  // data: TrustRequest with subject → ScoreAnswer
	PathTrustTop    = "/trust/top"    // data: TrustRequest with limit → TopAnswer
	PathTrustPolicy = "/trust/policy" // → reputation.Policy
)

// MaxPageSize caps a listing's page (/events limit).
const MaxPageSize = 1000

// MaxTopLimit caps /trust/top's limit.
const MaxTopLimit = 1000

// Query codes, beside the ledger's rejection codes (specs/events.md §6), in a query answer's
// Code. Codespace is always Codespace.
const (
	CodeBadRequest     uint32 = 100 // the request is malformed; the log says which part
	CodeNotFound       uint32 = 101 // nothing is stored under what was asked
	CodeInternal       uint32 = 102 // the node failed to read or encode its own state
	CodeServiceStopped uint32 = 103 // the service that answers this path is stopped on that node
)

// Codespace names trustledger's codes in ABCI answers.
const Codespace = "trustledger"
