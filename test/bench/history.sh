#!/usr/bin/env bash
# The load rows on an old network (issue 18), the last part of `make bench`, or alone:
# `bash test/bench/history.sh` (after `make build` and `go build -o bin/loadgen ./test/bench/loadgen`).
# One fresh single-validator node first takes BENCH_FILL (default 300s) of batched load (8 events
# a tx) from BENCH_FILL_SIGNERS (default 10,000) signers, each with a contract: about 10^6 events
# from 10^4 nodes. Then, on that node, the two ledger rows of the load table at saturation (1 event
# a tx, and BENCH_BATCH events a tx, each from BENCH_WORKERS new signers). Figures go between the
# bench:history markers of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
FILL=${BENCH_FILL:-300s}
FILL_SIGNERS=${BENCH_FILL_SIGNERS:-10000}
STEP=${BENCH_STEP:-12s}
WORKERS=${BENCH_WORKERS:-1000}
BATCH=${BENCH_BATCH:-8}
PORT=27657
out=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$out"
}
trap cleanup EXIT
if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then
	echo "port $PORT is in use: stop whatever listens there first" >&2
	exit 1
fi
for b in bin/trustd bin/loadgen; do
	[ -x "$b" ] || { echo "$b is missing: make build, and go build -o bin/loadgen ./test/bench/loadgen" >&2; exit 1; }
done

# drain: waits (at most 120 s) until the node's mempool is empty, so that a run does not start
# while the last one's txs are still being committed (its setup's requests would time out).
drain() {
	for _ in $(seq 240); do
		curl -s "http://127.0.0.1:$PORT/num_unconfirmed_txs" | grep -q '"n_txs":"0"' && return 0
		sleep 0.5
	done
	echo "history: the mempool did not drain within 120 s" >&2
	return 1
}

home="$out/node"
bin/trustd init --home "$home" --pow-difficulty 4 --rpc.laddr tcp://127.0.0.1:$PORT \
	--p2p.laddr tcp://127.0.0.1:$((PORT-1)) --instrumentation.prometheus_listen_addr "" > /dev/null
sed -i 's/^log_level = .*/log_level = "error"/' "$home/config/config.toml"
bin/trustd start --home "$home" > "$home.log" 2>&1 &
pid=$!
for _ in $(seq 100); do bin/trustd --node tcp://127.0.0.1:$PORT status > /dev/null 2>&1 && break; sleep 0.2; done
kill -0 "$pid" || { echo "history: the node exited; see its log:" >&2; cat "$home.log" >&2; exit 1; }

echo "== history: filling the ledger for $FILL from $FILL_SIGNERS signers" >&2
bin/loadgen -rpc tcp://127.0.0.1:$PORT -node-pid "$pid" -seed fill -workers "$FILL_SIGNERS" -mode ledger \
	-events-per-tx 8 -inflight 1 -duration "$FILL" > "$out/fill.json"
drain
height=$(bin/trustd --node tcp://127.0.0.1:$PORT status | grep -o 'height [0-9]*' | head -1 | cut -d' ' -f2)
echo "== history: ledger-1 on the old ledger" >&2
bin/loadgen -rpc tcp://127.0.0.1:$PORT -node-pid "$pid" -seed old-1 -workers "$WORKERS" -saturate -step "$STEP" \
	-mode ledger -events-per-tx 1 -inflight 1 -steps 1,2,4,8,16 > "$out/ledger-1.json"
drain
echo "== history: ledger-batch on the old ledger" >&2
bin/loadgen -rpc tcp://127.0.0.1:$PORT -node-pid "$pid" -seed old-batch -workers "$WORKERS" -saturate -step "$STEP" \
	-mode ledger -events-per-tx "$BATCH" -inflight 1 -steps 1,2,4,8 > "$out/ledger-batch.json"
rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
kill "$pid"; wait "$pid" || true
pid=""
disk=$(du -sk "$home/data" | cut -f1)
appdb=$(du -sk "$home/data/app.db" | cut -f1)

python3 - "$out" "$FILL" "$FILL_SIGNERS" "$STEP" "$WORKERS" "$height" "$rss" "$disk" "$appdb" <<'PY'
import json, re, sys, datetime
out, fill, signers, step, workers, height, rss, disk, appdb = sys.argv[1:10]
f = json.load(open(f"{out}/fill.json"))
# The ledger's events: the fill's setup (a registration and a contract a signer) and its load.
total = 2 * int(signers) + f["committed_events"]
lines = [f"Run {datetime.date.today()} (`bash test/bench/history.sh`, also the last part of `make bench`; `BENCH_FILL={fill} BENCH_FILL_SIGNERS={signers} BENCH_STEP={step} BENCH_WORKERS={workers}`): one fresh node, filled for {fill} by {signers} signers with 8 events a tx ({f['events_per_sec']:.0f} events/s, {f['errors']} errors), so that its ledger holds **{total:,} events from {int(signers):,} nodes** at height {height}; then the two ledger rows at saturation on it, each from {workers} new signers. Peak RSS {int(rss)/1024:.0f} MiB over the whole run; {int(disk)*1024/max(total,1):.0f} bytes on disk per event (app db {int(appdb)*1024/max(total,1):.0f}).",
         "", "| run on the old ledger | in flight | committed txs/s | events/s | commit p50 / p99 (ms) | CPU: node / loadgen / other | steps (txs/s) |", "|---|---|---|---|---|---|---|"]
for n in ("ledger-1", "ledger-batch"):
    x = json.load(open(f"{out}/{n}.json"))
    steps = " / ".join(f"{s['txs_per_sec']:.0f}" for s in x.get("steps", [])) or "-"
    if x.get("over_p99_limit"):
        steps += " (p99 over 2 s already at the first step)"
    lines.append(f"| {n} ({x['events_per_tx']} events/tx) | {x['inflight'] * x['workers']} | {x['txs_per_sec']:.0f} | {x['events_per_sec']:.0f} | {x['p50_ms']:.0f} / {x['p99_ms']:.0f} | {x.get('node_cores', 0):.2f} / {x.get('loadgen_cores', 0):.2f} / {x.get('other_cores', 0):.2f} | {steps} |")
md = open("BENCHMARKS.md").read()
section = "<!-- bench:history -->\n" + "\n".join(lines) + "\n<!-- /bench:history -->"
if "<!-- bench:history -->" not in md:
    sys.exit("BENCHMARKS.md has no bench:history markers")
md = re.sub(r"<!-- bench:history -->.*?<!-- /bench:history -->", lambda m: section, md, flags=re.S)
open("BENCHMARKS.md", "w").write(md)
print("\n".join(lines))
PY
