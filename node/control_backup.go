package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"

	"github.com/trustledger/trustledger/p2p"
)

// The backups on the control channel: POST /v1/backup/{op} with a JSON backupRequest, for op
// put, ls, get, rm, status, audit and restore; and the supplier's, POST /v1/supplier/{op} for
// contracts and quit (the contract id in "id"). The answer is a stream of JSON lines: progress
// lines, then one line with the result or with the error (its code names the sentinel, so that
// errors.Is works across the socket). Paths are absolute: the node's working directory is not
// the caller's.

type backupRequest struct {
	Paths []string `json:"paths,omitempty"` // put
	ID    string   `json:"id,omitempty"`    // get, rm
	Out   string   `json:"out,omitempty"`   // get
	To    string   `json:"to,omitempty"`    // restore ("": the index only)
	// Reason is a fire's.
	Reason string `json:"reason,omitempty"`
}

type backupLine struct {
	Progress *BackupProgress `json:"progress,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
	Code     string          `json:"code,omitempty"`
}

// backupErrors are the sentinels a backup error may wrap, by their code on the wire.
var backupErrors = []struct {
	code string
	err  error
}{
	{"customer_off", ErrCustomerOff}, {"no_such_backup", ErrNoSuchBackup}, {"ambiguous_id", ErrAmbiguousID},
	{"too_few_suppliers", ErrTooFewSuppliers}, {"exists", ErrExists}, {"file_lost", p2p.ErrFileLost}, {"no_index", p2p.ErrNoIndex},
	{"supplier_off", ErrSupplierOff}, {"not_a_supplier", ErrNotASupplier},
}

func backupCode(err error) string {
	for _, b := range backupErrors {
		if errors.Is(err, b.err) {
			return b.code
		}
	}
	return ""
}

func backupSentinel(code string) error {
	for _, b := range backupErrors {
		if b.code == code {
			return b.err
		}
	}
	return nil
}

func requireAbs(what string, paths ...string) error {
	for _, p := range paths {
		if p != "" && !filepath.IsAbs(p) {
			return fmt.Errorf("%s %q is not an absolute path", what, p)
		}
	}
	return nil
}

// serveBackup answers one backup operation on the control channel.
func serveBackup(b Backups, w http.ResponseWriter, r *http.Request) {
	serveLines(w, r, func(ctx context.Context, op string, req backupRequest, progress func(BackupProgress)) (any, error) {
		switch op {
		case "put":
			return b.Put(ctx, req.Paths, progress)
		case "ls":
			return b.List(ctx)
		case "get":
			return b.Get(ctx, req.ID, req.Out, progress)
		case "rm":
			return b.Remove(ctx, req.ID)
		case "status":
			return b.Status(ctx)
		case "audit":
			return b.Audit(ctx)
		case "restore":
			return b.Restore(ctx, req.To, progress)
		case "suppliers":
			return b.Suppliers(ctx)
		case "fire":
			return b.Fire(ctx, req.ID, req.Reason)
		case "history":
			return b.History(ctx)
		}
		return nil, fmt.Errorf("no backup operation %q: want put, ls, get, rm, status, audit, restore, suppliers, fire or history", op)
	})
}

// serveSupplier answers one supplier operation on the control channel.
func serveSupplier(sup *supplierService, w http.ResponseWriter, r *http.Request) {
	serveLines(w, r, func(ctx context.Context, op string, req backupRequest, _ func(BackupProgress)) (any, error) {
		switch op {
		case "contracts":
			return sup.SupplierContracts(ctx)
		case "quit":
			return sup.Quit(ctx, req.ID)
		}
		return nil, fmt.Errorf("no supplier operation %q: want contracts or quit", op)
	})
}

// serveLines decodes an operation's request, runs it, and answers with JSON lines: progress,
// then the result or the error (with a partial result, if any).
func serveLines(w http.ResponseWriter, r *http.Request, run func(context.Context, string, backupRequest, func(BackupProgress)) (any, error)) {
	var req backupRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(l backupLine) {
		_ = enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	progress := func(p BackupProgress) { send(backupLine{Progress: &p}) }
	fail := func(err error) { send(backupLine{Error: err.Error(), Code: backupCode(err)}) }
	if err := dec.Decode(&req); err != nil {
		fail(fmt.Errorf("request: %w", err))
		return
	}
	if err := errors.Join(requireAbs("path", req.Paths...), requireAbs("output", req.Out), requireAbs("target", req.To)); err != nil {
		fail(err)
		return
	}
	res, err := run(r.Context(), r.PathValue("op"), req, progress)
	raw, merr := json.Marshal(res)
	// A partial result (what a put placed before it failed) goes with the error.
	switch {
	case err != nil:
		send(backupLine{Result: raw, Error: err.Error(), Code: backupCode(err)})
	case merr != nil:
		fail(merr)
	default:
		send(backupLine{Result: raw})
	}
}

// backup runs one operation on the node: it sends req, passes progress lines on, and decodes
// the result into out (also when there is an error: a partial result).
func (c *Control) backup(ctx context.Context, op string, req backupRequest, progress func(BackupProgress), out any) error {
	return c.lines(ctx, "/v1/backup/"+op, req, progress, out)
}

// lines runs one operation of the JSON-lines kind at path.
func (c *Control) lines(ctx context.Context, path string, req backupRequest, progress func(BackupProgress), out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://trustd"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	// A put or a get takes as long as its bytes do: the context bounds it, not a timeout.
	res, err := (&http.Client{Transport: c.http.Transport}).Do(hreq)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("%w (%s; start it with `trustd start --home %s`)", ErrNotRunning, c.home, c.home)
		}
		return fmt.Errorf("control socket %s: %w", c.home.ControlSocket(), err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("control socket: %s (a node older than this command?)", res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var l backupLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("control socket answered with bad JSON: %w", err)
		}
		if l.Progress != nil {
			if progress != nil {
				progress(*l.Progress)
			}
			continue
		}
		if len(l.Result) > 0 && string(l.Result) != "null" {
			if err := json.Unmarshal(l.Result, out); err != nil {
				return fmt.Errorf("control socket answered with a bad result: %w", err)
			}
		}
		if l.Error != "" {
			if s := backupSentinel(l.Code); s != nil {
				return remoteError{l.Error, s}
			}
			return errors.New(l.Error)
		}
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	return errors.New("control socket: the node ended the answer without a result (did it stop?)")
}

func absAll(paths []string) ([]string, error) {
	out := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// Put asks the node to back up the files at paths (see Backups).
func (c *Control) Put(ctx context.Context, paths []string, progress func(BackupProgress)) (BackupPutResult, error) {
	var res BackupPutResult
	abs, err := absAll(paths)
	if err != nil {
		return res, err
	}
	return res, c.backup(ctx, "put", backupRequest{Paths: abs}, progress, &res)
}

// List returns the node's catalogue of backed-up files.
func (c *Control) List(ctx context.Context) ([]BackupFile, error) {
	var res []BackupFile
	return res, c.backup(ctx, "ls", backupRequest{}, nil, &res)
}

// Get asks the node to write file id to out, verified.
func (c *Control) Get(ctx context.Context, id, out string, progress func(BackupProgress)) (string, error) {
	var res string
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	return res, c.backup(ctx, "get", backupRequest{ID: id, Out: abs}, progress, &res)
}

// Remove asks the node to delete file id from its suppliers and its catalogue.
func (c *Control) Remove(ctx context.Context, id string) (BackupRemoveResult, error) {
	var res BackupRemoveResult
	return res, c.backup(ctx, "rm", backupRequest{ID: id}, nil, &res)
}

// Status asks the node for its backups' health.
func (c *Control) Status(ctx context.Context) (BackupStatus, error) {
	var res BackupStatus
	return res, c.backup(ctx, "status", backupRequest{}, nil, &res)
}

// Audit asks the node to audit each of its suppliers now.
func (c *Control) Audit(ctx context.Context) (BackupAuditResult, error) {
	var res BackupAuditResult
	return res, c.backup(ctx, "audit", backupRequest{}, nil, &res)
}

// Restore asks the node to find its index on its suppliers, and with to, write every file there.
func (c *Control) Restore(ctx context.Context, to string, progress func(BackupProgress)) (BackupRestoreResult, error) {
	var res BackupRestoreResult
	if to != "" {
		abs, err := filepath.Abs(to)
		if err != nil {
			return res, err
		}
		to = abs
	}
	return res, c.backup(ctx, "restore", backupRequest{To: to}, progress, &res)
}

// SupplierContracts lists the node's contracts as a supplier.
func (c *Control) SupplierContracts(ctx context.Context) ([]p2p.SupplierContract, error) {
	var res []p2p.SupplierContract
	return res, c.lines(ctx, "/v1/supplier/contracts", backupRequest{}, nil, &res)
}

// Quit asks the node's supplier to leave a contract: the close committed, then its shards
// deleted.
func (c *Control) Quit(ctx context.Context, contract string) (p2p.SupplierContract, error) {
	var res p2p.SupplierContract
	return res, c.lines(ctx, "/v1/supplier/quit", backupRequest{ID: contract}, nil, &res)
}

// Suppliers lists the customer's suppliers with this node's view of each.
func (c *Control) Suppliers(ctx context.Context) ([]HiredSupplier, error) {
	var res []HiredSupplier
	return res, c.backup(ctx, "suppliers", backupRequest{}, nil, &res)
}

// Fire asks the node to drop a supplier (its key), repairing every file onto a replacement.
func (c *Control) Fire(ctx context.Context, supplier, reason string) (FireResult, error) {
	var res FireResult
	return res, c.backup(ctx, "fire", backupRequest{ID: supplier, Reason: reason}, nil, &res)
}

// History lists the customer's hires and fires with their reasons.
func (c *Control) History(ctx context.Context) ([]SupplierDecision, error) {
	var res []SupplierDecision
	return res, c.backup(ctx, "history", backupRequest{}, nil, &res)
}
