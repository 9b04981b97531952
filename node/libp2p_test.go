package node

import (
	"strings"
	"testing"
)

func TestParseLibP2PPeers(t *testing.T) {
	const id = "12D3KooWM1xEujFWBeLx6Vm5VKtR97X72jocbs8CgVaVqCHBEFso"
	tests := []struct {
		in      string
		want    int
		wantErr string
	}{
		{in: "", want: 0},
		{in: id + "@127.0.0.1:26656", want: 1},
		{in: id + "@127.0.0.1:26656, " + id + "@127.0.0.1:26666", want: 2},
		{in: "127.0.0.1:26656", wantErr: "want peerid@host:port"},
		{in: "nonsense@127.0.0.1:26656", wantErr: "decode id"},
		{in: id + "@127.0.0.1", wantErr: "port is empty"},
	}
	for _, tt := range tests {
		got, err := ParseLibP2PPeers(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != tt.want {
			t.Errorf("%q: %d peers, %v; want %d", tt.in, len(got), err, tt.want)
		}
		for _, p := range got {
			if !p.Persistent || p.ID != id {
				t.Errorf("%q: peer %+v", tt.in, p)
			}
		}
	}
}
