package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
)

// batchLine is one line of a `trustd tx batch` file: an event kind and its fields, in the JSON
// form that `trustd query events -o json` prints (keys, ids and signatures as hex).
type batchLine struct {
	Kind  string          `json:"kind"`
	Event json.RawMessage `json:"event"`
}

// readBatch reads JSON lines of events; any bad line rejects the whole file.
func readBatch(r io.Reader) ([]ledger.Event, error) {
	var evs []ledger.Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		var bl batchLine
		if err := json.Unmarshal([]byte(text), &bl); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		ev, err := ledger.DecodeEventJSON(bl.Kind, bl.Event)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("no events")
	}
	return evs, nil
}

// batchHelp documents the batch file: one line per event, and the fields of every kind, read
// from the event types themselves (so this help cannot fall behind them).
func batchHelp() string {
	var b strings.Builder
	b.WriteString("Sign many events as one transaction (at most max_events_per_tx). The file has one event a line,\n" +
		"{\"kind\": KIND, \"event\": {FIELDS}}, in the JSON form `trustd query events -o json` prints: keys, ids\n" +
		"and signatures as hex, byte strings (a leaf, evidence) as base64. Blank lines and lines starting with #\n" +
		"are skipped; a bad line rejects the whole file, naming its line and the field. The fields by kind,\n" +
		"in their order (an audit's evidence: specs/audit.md §4):\n\n")
	for _, k := range ledger.AllKinds {
		t := reflect.TypeOf(ledger.NewEvent(k)).Elem()
		var names []string
		for i := 0; i < t.NumField(); i++ {
			name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if strings.Contains(opts, "omitempty") {
				name += " (optional)"
			}
			names = append(names, name)
		}
		fmt.Fprintf(&b, "  %-19s %s\n", k, strings.Join(names, ", "))
	}
	b.WriteString("\nFor example (one receipt, countersigned by the customer with `trustd sign receipt`):\n" +
		"  {\"kind\":\"storage_receipt\",\"event\":{\"contract_id\":\"<64 hex>\",\"number\":1,\"customer\":\"<key>\",\"supplier\":\"<key>\",\n" +
		"   \"period_start\":1764583200,\"period_end\":1764586800,\"byte_seconds\":3774873600,\"countersig\":\"<128 hex>\"}}\n")
	return b.String()
}

func newTxBatchCmd(g *globals) *cobra.Command {
	var from, file string
	var timeout time.Duration
	var pp keystore.Passphrase
	cmd := &cobra.Command{
		Use:   "batch --from NAME --file EVENTS.jsonl",
		Short: "Sign many events (one JSON object a line: {\"kind\":…,\"event\":{…}}) as one transaction",
		Long:  batchHelp(),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || file == "" {
				return fmt.Errorf("--from and --file are required")
			}
			var r io.Reader = os.Stdin
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			evs, err := readBatch(r)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			priv, c, params, err := g.signer(cmd, from, pp)
			if err != nil {
				return err
			}
			if len(evs) > int(params.Params.MaxEventsPerTx) {
				return fmt.Errorf("%s has %d events; this chain allows %d per transaction", file, len(evs), params.Params.MaxEventsPerTx)
			}
			res, err := submit(cmd.Context(), c, params.ChainID, priv, 0, timeout, evs...)
			if err != nil {
				return err
			}
			return printOut(cmd, g, res, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "committed %d events at height %d (tx %s)\n", len(evs), res.Height, res.TxHash)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "local key that signs the transaction (required)")
	f.StringVar(&file, "file", "", "JSON lines of events, or - for standard input (required)")
	f.StringVar(&pp.File, "passphrase-file", "", "read the passphrase from this file")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the commit")
	return cmd
}
