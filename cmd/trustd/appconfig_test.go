package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadAppConfig(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	// No file: the defaults.
	s, err := loadAppConfig(home)
	if err != nil || s.keepRecent != defaultKeepRecent || s.snapshots.Interval != 1000 || s.softLimitMiB != defaultSoftLimitMiB {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	if err := writeAppConfig(home); err != nil {
		t.Fatal(err)
	}
	if s2, err := loadAppConfig(home); err != nil || s2 != s {
		t.Fatalf("the written file does not read back as the defaults: %+v %v", s2, err)
	}
	t.Setenv("TRUSTD_SNAPSHOTS_INTERVAL", "7")
	if s, err := loadAppConfig(home); err != nil || s.snapshots.Interval != 7 {
		t.Fatalf("environment override: %+v %v", s, err)
	}
	tests := []struct{ text, wantErr string }{
		{"[pruning]\nkeep_recent = 1\n", "keep_recent 1"},
		{"[memory]\nsoft_limit_mib = 10\n", "soft_limit_mib 10"},
		{"[pruning]\nkeep_recent = -3\n", "keep_recent -3"},
		{"[snapshots]\nchunk_bytes = 10\n", "chunk_bytes 10"},
		{"[snapshots]\nintervall = 10\n", "intervall"},
		{"[pruning\n", "read"},
	}
	t.Setenv("TRUSTD_SNAPSHOTS_INTERVAL", "")
	for _, tt := range tests {
		if err := os.WriteFile(appConfigPath(home), []byte(tt.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadAppConfig(home); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q: error %v, want one naming %q", tt.text, err, tt.wantErr)
		}
	}
}
