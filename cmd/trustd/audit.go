package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/ledger/shard"
	"github.com/trustledger/trustledger/node/journal"
	"github.com/trustledger/trustledger/node/keystore"
)

// journal is the home's signing journal (R-EVID-3).
func (g *globals) journal() *journal.Journal { return journal.Open(g.homeDir().JournalDir()) }

// testExitAfterJournal is fault injection for the journal's crash test (test/e2e): with
// TRUSTD_TEST_EXIT_AFTER_JOURNAL set, the process dies after the statement is journaled and
// before it is signed.
func testExitAfterJournal() {
	if os.Getenv("TRUSTD_TEST_EXIT_AFTER_JOURNAL") != "" {
		fmt.Fprintln(os.Stderr, "test hook: exiting after the journal write, before signing")
		os.Exit(3)
	}
}

// writeJSON prints v as indented JSON to --output-file, or standard output.
func writeJSON(cmd *cobra.Command, path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" || path == "-" {
		_, err = cmd.OutOrStdout().Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// buildTree hashes a shard file.
func buildTree(path string, leafSize uint32) (*shard.Tree, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--shard: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	t, err := shard.Build(bufio.NewReaderSize(io.NewSectionReader(f, 0, st.Size()), 1<<20), uint64(st.Size()), leafSize)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("--shard %s: %w", path, err)
	}
	return t, f, nil
}

func newSignCommitmentCmd(g *globals) *cobra.Command {
	var from, chainID, customer, contract, shardPath, shardID, out string
	var leafSize uint32
	var pp keystore.Passphrase
	cmd := &cobra.Command{
		Use:   "commitment --from SUPPLIER --customer C --contract-id ID --shard FILE",
		Short: "As a supplier, sign a storage commitment to exactly the bytes of a shard you keep (specs/audit.md)",
		Long: "Sign a storage commitment: the Merkle root (RFC 6962) over the shard's leaves, its size and leaf size,\n" +
			"for a contract with a customer. Give it to the customer; every later audit is checked against it.\n" +
			"The commitment is journaled first: you never sign two different commitments to one shard of one contract.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || shardPath == "" {
				return fmt.Errorf("--from and --shard are required")
			}
			chain, err := chainIDFlag(cmd, g, chainID)
			if err != nil {
				return err
			}
			c := ledger.StorageCommitment{LeafSize: leafSize}
			if c.ContractID, err = parseID("contract-id", contract); err != nil {
				return err
			}
			if c.Customer, err = g.resolve(customer); err != nil {
				return fmt.Errorf("--customer: %w", err)
			}
			t, f, err := buildTree(shardPath, leafSize)
			if err != nil {
				return err
			}
			defer f.Close()
			c.Size = t.Size
			copy(c.Root[:], t.Root())
			if shardID == "" {
				h := sha256.New()
				if _, err := io.Copy(h, io.NewSectionReader(f, 0, int64(t.Size))); err != nil {
					return err
				}
				copy(c.ShardID[:], h.Sum(nil))
			} else if c.ShardID, err = parseID("shard-id", shardID); err != nil {
				return err
			}
			priv, err := g.keys().Unlock(from, pp)
			if err != nil {
				return err
			}
			c.Supplier = keystore.PubKey(priv)
			if err := c.Check(); err != nil {
				return err
			}
			if err := g.journal().Record(c.Supplier, journal.Commitment(chain, &c)); err != nil {
				return err
			}
			testExitAfterJournal()
			ledger.SignCommitment(priv, chain, &c)
			return writeJSON(cmd, out, &c)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "your key: the supplier (required)")
	f.StringVar(&customer, "customer", "", "the customer: local key name or hex (required)")
	f.StringVar(&contract, "contract-id", "", "the contract (required)")
	f.StringVar(&shardPath, "shard", "", "the shard as you store it (required)")
	f.StringVar(&shardID, "shard-id", "", "the shard's name in the contract: 64 hex digits or text (default: SHA-256 of its bytes)")
	f.Uint32Var(&leafSize, "leaf-size", shard.DefaultLeafSize, "leaf size in bytes: 64, 128, 256, 512 or 1024")
	f.StringVar(&chainID, "chain-id", "", "chain id (default: asked from the node)")
	f.StringVar(&out, "output-file", "", "write the signed commitment here (default: standard output)")
	f.StringVar(&pp.File, "passphrase-file", "", "read the passphrase from this file")
	return cmd
}

func newSignAuditAnswerCmd(g *globals) *cobra.Command {
	var from, chainID, commitment, challengeFile, shardPath, out string
	var pp keystore.Passphrase
	cmd := &cobra.Command{
		Use:   "audit-answer --from SUPPLIER --commitment FILE --challenge-file FILE --shard FILE",
		Short: "As a supplier, answer an audit challenge: the leaves it picks and their Merkle paths, signed",
		Long: "Answer a challenge from the shard as you store it now. An answer that does not match your commitment\n" +
			"proves, to everyone, that you lost or changed those bytes. The answer is journaled first: you never sign\n" +
			"two different answers to one challenge.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || shardPath == "" {
				return fmt.Errorf("--from and --shard are required")
			}
			chain, err := chainIDFlag(cmd, g, chainID)
			if err != nil {
				return err
			}
			var c ledger.StorageCommitment
			var ch ledger.AuditChallenge
			if err := readJSONFile("commitment", commitment, &c); err != nil {
				return err
			}
			if err := readJSONFile("challenge-file", challengeFile, &ch); err != nil {
				return err
			}
			if ch.Commitment != c.Digest(chain) {
				return fmt.Errorf("the challenge names commitment %s, not this one (%s)", ch.Commitment, c.Digest(chain))
			}
			if ch.Count == 0 || ch.Count > ledger.MaxChallengeLeaves {
				return fmt.Errorf("the challenge asks %d leaves; a challenge asks 1 to %d", ch.Count, ledger.MaxChallengeLeaves)
			}
			priv, err := g.keys().Unlock(from, pp)
			if err != nil {
				return err
			}
			if keystore.PubKey(priv) != c.Supplier {
				return fmt.Errorf("key %q is not the commitment's supplier %s", from, c.Supplier)
			}
			t, f, err := buildTree(shardPath, c.LeafSize)
			if err != nil {
				return err
			}
			defer f.Close()
			if t.Size != c.Size || !bytes.Equal(t.Root(), c.Root[:]) {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the shard no longer matches your commitment (%d bytes, root %x; committed %d bytes, root %s): "+
					"this answer proves it\n", t.Size, t.Root(), c.Size, c.Root)
			}
			a := ledger.AuditAnswer{Challenge: ch}
			for _, i := range ch.Indices(shard.LeafCount(c.Size, c.LeafSize)) {
				if i >= t.Leaves() {
					return fmt.Errorf("the challenge picks leaf %d; the shard has %d", i, t.Leaves())
				}
				leaf, path, err := t.Prove(f, i)
				if err != nil {
					return err
				}
				p := ledger.LeafProof{Index: i, Leaf: leaf}
				for _, h := range path {
					p.Path = append(p.Path, ledger.ID(h))
				}
				a.Proofs = append(a.Proofs, p)
			}
			if err := g.journal().Record(c.Supplier, journal.Answer(chain, &a)); err != nil {
				return err
			}
			testExitAfterJournal()
			ledger.SignAnswer(priv, chain, &a)
			return writeJSON(cmd, out, &a)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "your key: the supplier (required)")
	f.StringVar(&commitment, "commitment", "", "your signed commitment to the shard (required)")
	f.StringVar(&challengeFile, "challenge-file", "", "the customer's challenge (required)")
	f.StringVar(&shardPath, "shard", "", "the shard as you store it (required)")
	f.StringVar(&chainID, "chain-id", "", "chain id (default: asked from the node)")
	f.StringVar(&out, "output-file", "", "write the signed answer here (default: standard output)")
	f.StringVar(&pp.File, "passphrase-file", "", "read the passphrase from this file")
	return cmd
}

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "A customer's side of audits: challenge a supplier, check its commitment and answers"}
	var commitment, chainID, out, shardPath, challengeFile, answer string
	var count uint8
	var number uint64
	challenge := &cobra.Command{
		Use:   "challenge --commitment FILE",
		Short: "Make a challenge: a fresh random nonce that picks --count leaves of the committed shard",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			chain, err := chainIDFlag(cmd, g, chainID)
			if err != nil {
				return err
			}
			var c ledger.StorageCommitment
			if err := readJSONFile("commitment", commitment, &c); err != nil {
				return err
			}
			if count == 0 || count > ledger.MaxChallengeLeaves {
				return fmt.Errorf("--count %d: ask 1 to %d leaves", count, ledger.MaxChallengeLeaves)
			}
			if number == 0 {
				cl, err := g.client()
				if err != nil {
					return err
				}
				cv, err := cl.Contract(cmd.Context(), c.ContractID)
				if err != nil {
					return fmt.Errorf("the next audit number of contract %s (or give --number): %w", c.ContractID, err)
				}
				number = cv.Receipts["audits"].Next
			}
			ch := ledger.AuditChallenge{Commitment: c.Digest(chain), Number: number, Count: count}
			if _, err := rand.Read(ch.Nonce[:]); err != nil {
				return err
			}
			return writeJSON(cmd, out, &ch)
		},
	}
	challenge.Flags().StringVar(&commitment, "commitment", "", "the supplier's signed commitment (required)")
	challenge.Flags().Uint8Var(&count, "count", ledger.MaxChallengeLeaves, "leaves to ask for (1 to 16)")
	challenge.Flags().Uint64Var(&number, "number", 0, "the audit's number in its contract (default: the next one, asked from the node)")
	challenge.Flags().StringVar(&out, "output-file", "", "write the challenge here (default: standard output)")
	challenge.Flags().StringVar(&chainID, "chain-id", "", "chain id (default: asked from the node)")

	check := &cobra.Command{
		Use:   "check --commitment FILE [--shard FILE] [--challenge-file FILE --answer FILE]",
		Short: "Check a supplier's commitment (signature; with --shard, that it commits to your copy) or its answer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			chain, err := chainIDFlag(cmd, g, chainID)
			if err != nil {
				return err
			}
			var c ledger.StorageCommitment
			if err := readJSONFile("commitment", commitment, &c); err != nil {
				return err
			}
			if err := c.Check(); err != nil {
				return err
			}
			if !ledger.VerifyCommitment(chain, &c) {
				return fmt.Errorf("the commitment is not signed by its supplier %s", c.Supplier)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "commitment %s: signed by supplier %s, %d bytes in leaves of %d, root %s\n", c.Digest(chain), c.Supplier, c.Size, c.LeafSize, c.Root)
			if shardPath != "" {
				t, f, err := buildTree(shardPath, c.LeafSize)
				if err != nil {
					return err
				}
				f.Close()
				if t.Size != c.Size || !bytes.Equal(t.Root(), c.Root[:]) {
					return fmt.Errorf("the commitment is not to your copy of the shard (%d bytes, root %x)", t.Size, t.Root())
				}
				fmt.Fprintln(w, "it commits to exactly your copy of the shard")
			}
			if answer == "" {
				return nil
			}
			var ch ledger.AuditChallenge
			var a ledger.AuditAnswer
			if err := readJSONFile("challenge-file", challengeFile, &ch); err != nil {
				return err
			}
			if err := readJSONFile("answer", answer, &a); err != nil {
				return err
			}
			failing, err := a.Check(chain, &c, ch)
			switch {
			case err != nil:
				return fmt.Errorf("not the supplier's answer to this challenge: %v", err)
			case failing >= 0:
				return fmt.Errorf("leaf %d (place %d of the answer) does not verify against the commitment: the audit failed, with proof", a.Proofs[failing].Index, failing)
			}
			fmt.Fprintf(w, "all %d leaves verify: the audit passed\n", len(a.Proofs))
			return nil
		},
	}
	cf := check.Flags()
	cf.StringVar(&commitment, "commitment", "", "the supplier's signed commitment (required)")
	cf.StringVar(&shardPath, "shard", "", "your copy of the shard, to check the commitment is to it")
	cf.StringVar(&challengeFile, "challenge-file", "", "the challenge you sent")
	cf.StringVar(&answer, "answer", "", "the supplier's answer to it")
	cf.StringVar(&chainID, "chain-id", "", "chain id (default: asked from the node)")
	cmd.AddCommand(challenge, check)
	return cmd
}
