package node

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestLoadAppConfig(t *testing.T) {
	home := Home(t.TempDir())
	if err := os.MkdirAll(home.ConfigDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	// No file: the defaults.
	s, err := LoadAppConfig(home)
	if err != nil || s.Pruning.KeepRecent != 10 || s.Snapshots.Interval != 1000 || s.Memory.SoftLimitMiB != 768 || !s.ServiceEnabled(ServiceTrust) {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	if err := WriteAppConfig(home); err != nil {
		t.Fatal(err)
	}
	s2, err := LoadAppConfig(home)
	if err != nil || s2.Pruning != s.Pruning || s2.Snapshots != s.Snapshots || s2.Memory != s.Memory || len(s2.Services) != len(ServiceNames()) {
		t.Fatalf("the written file does not read back as the defaults: %+v %v", s2, err)
	}
	t.Setenv("TRUSTD_SNAPSHOTS_INTERVAL", "7")
	t.Setenv("TRUSTD_SERVICES_TRUST", "false")
	if s, err := LoadAppConfig(home); err != nil || s.Snapshots.Interval != 7 || s.ServiceEnabled(ServiceTrust) {
		t.Fatalf("environment override: %+v %v", s, err)
	}
	tests := []struct{ text, wantErr string }{
		{"[pruning]\nkeep_recent = 1\n", "keep_recent 1"},
		{"[memory]\nsoft_limit_mib = 10\n", "soft_limit_mib 10"},
		{"[pruning]\nkeep_recent = -3\n", "keep_recent -3"},
		{"[snapshots]\nchunk_bytes = 10\n", "chunk_bytes 10"},
		{"[snapshots]\nintervall = 10\n", "intervall"},
		{"[services]\nconsensos = false\n", "[services] consensos: no such service"},
		{"[services]\ntrust = \"maybe\"\n", "trust"},
		{"[pruning\n", "read"},
		{"[manager]\ngrace = \"30m\"\n", "trust.toml's [manager] grace"},
	}
	// An app.toml written before the grace period moved to trust.toml has its old default,
	// which is ignored.
	if err := os.WriteFile(home.AppConfigFile(), []byte("[manager]\ncheck_every = \"1m\"\ngrace = \"1h\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAppConfig(home); err != nil {
		t.Fatalf("an older app.toml with grace = \"1h\": %v", err)
	}
	t.Setenv("TRUSTD_SNAPSHOTS_INTERVAL", "")
	t.Setenv("TRUSTD_SERVICES_TRUST", "")
	for _, tt := range tests {
		if err := os.WriteFile(home.AppConfigFile(), []byte(tt.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadAppConfig(home); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q: error %v, want one naming %q", tt.text, err, tt.wantErr)
		}
	}
}

// TestSetServiceEnabled: enable/disable edits [services] in place, keeps the rest of the file
// (comments too), adds the section or the key when missing, and refuses unknown services
// without touching the file.
func TestSetServiceEnabled(t *testing.T) {
	home := Home(t.TempDir())
	if err := os.MkdirAll(home.ConfigDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteAppConfig(home); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(home.AppConfigFile())
	if err := SetServiceEnabled(home, ServiceSnapshots, false); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(home.AppConfigFile())
	if c, err := LoadAppConfig(home); err != nil || c.ServiceEnabled(ServiceSnapshots) || !c.ServiceEnabled(ServiceTrust) {
		t.Fatalf("after disable: %+v %v", c.Services, err)
	}
	if got, want := strings.Count(string(after), "\n"), strings.Count(string(before), "\n"); got != want ||
		!strings.Contains(string(after), "# State-sync snapshots") || !strings.Contains(string(after), "snapshots = false") {
		t.Errorf("the edit changed more than one line (%d lines, was %d):\n%s", got, want, after)
	}
	if err := SetServiceEnabled(home, ServiceSnapshots, true); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(home.AppConfigFile()); string(again) != string(before) {
		t.Errorf("enable after disable does not give the original file back:\n%s", again)
	}
	// A file without the section, and one with the section but not the key.
	for _, text := range []string{"[pruning]\nkeep_recent = 4\n", "[services]\n# nothing yet\n\n[pruning]\nkeep_recent = 4\n"} {
		if err := os.WriteFile(home.AppConfigFile(), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := SetServiceEnabled(home, ServiceMetrics, false); err != nil {
			t.Fatal(err)
		}
		c, err := LoadAppConfig(home)
		if err != nil || c.ServiceEnabled(ServiceMetrics) || c.Pruning.KeepRecent != 4 {
			b, _ := os.ReadFile(home.AppConfigFile())
			t.Errorf("from %q: %+v %v\n%s", text, c, err, b)
		}
	}
	kept, _ := os.ReadFile(home.AppConfigFile())
	if err := SetServiceEnabled(home, "explorerr", true); !errors.Is(err, ErrUnknownService) {
		t.Errorf("unknown service: %v, want ErrUnknownService", err)
	}
	if now, _ := os.ReadFile(home.AppConfigFile()); string(now) != string(kept) {
		t.Error("a refused edit changed the file")
	}
}
