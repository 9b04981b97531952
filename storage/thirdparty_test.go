package storage

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// iavlPatched are the files of third_party/iavl that differ from iavl v1.3.5's release
// (third_party/iavl/PATCH.md); every other file must be the release's, byte for byte.
var iavlPatched = map[string]bool{
	"PATCH.md":          true, // new
	"orphan_records.go": true, // new
	"nodedb.go":         true,
	"mutable_tree.go":   true,
}

// TestPatchedIAVLIsTheRelease checks that the state tree this binary links is iavl v1.3.5 with
// nothing changed but the patch PATCH.md describes: the build uses third_party/iavl (go.mod's
// replace), each of its files is the release's own except the patched ones, and every non-test
// Go file of the release is there.
func TestPatchedIAVLIsTheRelease(t *testing.T) {
	mod, err := exec.Command("go", "list", "-m", "-f", "{{.Version}} {{with .Replace}}{{.Path}}{{end}}", "github.com/cosmos/iavl").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/cosmos/iavl: %v", err)
	}
	if got := strings.TrimSpace(string(mod)); got != "v1.3.5 ./third_party/iavl" {
		t.Fatalf("go.mod takes github.com/cosmos/iavl as %q, want v1.3.5 replaced by ./third_party/iavl", got)
	}
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/cosmos/iavl@v1.3.5").Output()
	if err != nil {
		t.Fatalf("go mod download github.com/cosmos/iavl@v1.3.5: %v\n%s", err, out)
	}
	var release struct{ Dir string }
	if err := json.Unmarshal(out, &release); err != nil || release.Dir == "" {
		t.Fatalf("go mod download: %v (%s)", err, out)
	}
	ours := filepath.Join("..", "third_party", "iavl")
	var have []string
	err = filepath.WalkDir(ours, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(ours, path)
		have = append(have, rel)
		mine, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		theirs, err := os.ReadFile(filepath.Join(release.Dir, rel))
		switch {
		case iavlPatched[rel] && bytes.Equal(mine, theirs):
			t.Errorf("%s is listed as patched but is the release's", rel)
		case !iavlPatched[rel] && err != nil:
			t.Errorf("%s is not in iavl v1.3.5 and not listed as patched: %v", rel, err)
		case !iavlPatched[rel] && !bytes.Equal(mine, theirs):
			t.Errorf("%s differs from iavl v1.3.5's and is not listed as patched (PATCH.md)", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(release.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(release.Dir, path)
		top := strings.Split(rel, string(filepath.Separator))[0]
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") && top != "benchmarks" && top != "mock" &&
			!slices.Contains(have, rel) {
			t.Errorf("iavl v1.3.5's %s is missing from third_party/iavl", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
