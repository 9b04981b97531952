#!/usr/bin/env bash
# `make bench`: Go micro-benchmarks, then load runs against a fresh single-validator node of ours
# (1 event per tx, and batched) and against CometBFT's kvstore example with txs of the same size,
# run in-process the same way, and last the ledger rows again on a node whose ledger already holds
# about 10^6 events (history.sh). Figures go between the bench markers of BENCHMARKS.md.
# The single-node rows are measured at saturation (issue 18): loadgen -saturate raises the txs in
# flight step by step until committed txs/s stops rising or the commit p99 passes 2 s, and the
# row is the best step, with the CPU of the node, of the generator and of the rest beside it.
# Knobs: BENCH_DURATION (the testnet row's measured time; default 60s), BENCH_STEP (each
# saturation step's measured time; default 12s), BENCH_WORKERS (default 1000), BENCH_BATCH
# (default 8), BENCH_RUNS (rounds of the load runs, each row reported by its median round,
# the lower of two; default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${BENCH_DURATION:-60s}
STEP=${BENCH_STEP:-12s}
WORKERS=${BENCH_WORKERS:-1000}
BATCH=${BENCH_BATCH:-8}
RUNS=${BENCH_RUNS:-2}
PORT=27657   # below the ephemeral range (32768-60999), so client connections never hold it
out=$(mktemp -d)
started=()
cleanup() {
	for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$out"
}
trap cleanup EXIT
# A node left over on these ports would silently take the load: refuse to start.
for port in $PORT $((PORT-1)) 27700 27701 27711 27721 27731; do
	if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
		echo "port $port is in use: stop whatever listens there first" >&2
		exit 1
	fi
done

go build -tags badgerdb -o bin/trustd ./cmd/trustd
go build -tags badgerdb -o bin/kvnode ./test/bench/kvnode
go build -o bin/loadgen ./test/bench/loadgen

echo "== go benchmarks" >&2
go test -tags badgerdb ./reputation ./ledger ./ledger/shard ./storage -run '^$' -bench . -benchmem -benchtime 5x -count 3 > "$out/go-bench.txt"
# Compared with the previous run's figures (kept in test/bench/go-bench.txt) by benchstat.
if [ -f test/bench/go-bench.txt ]; then
	go run golang.org/x/perf/cmd/benchstat@v0.0.0-20250813145418-2f7363a06fe1 test/bench/go-bench.txt "$out/go-bench.txt" > "$out/benchstat.txt" 2>&1 || true
else
	echo "(no previous run in test/bench/go-bench.txt)" > "$out/benchstat.txt"
fi
cp "$out/go-bench.txt" test/bench/go-bench.txt

# annotate JSON RSS-KIB DATA-KIB APP-DB-KIB: adds the node's peak RSS and disk to a load report.
annotate() {
	python3 - "$@" <<'PY'
import json, sys
p = sys.argv[1]; r = json.load(open(p)); r["peak_rss_mib"] = int(sys.argv[2]) / 1024; r["data_kib"] = int(sys.argv[3]); r["app_kib"] = int(sys.argv[4])
json.dump(r, open(p, "w"))
PY
}

# run NAME BINARY-ARGS... -- LOADGEN-ARGS...: a fresh home, the node in the background, the load,
# then the node's peak RSS and its data directory's allocated size.
run() {
	local name=$1; shift
	local home="$out/$name"
	bin/trustd init --home "$home" --pow-difficulty 4 --rpc.laddr tcp://127.0.0.1:$PORT \
		--p2p.laddr tcp://127.0.0.1:$((PORT-1)) --instrumentation.prometheus_listen_addr "" > /dev/null
	sed -i 's/^log_level = .*/log_level = "error"/' "$home/config/config.toml"
	local node=() load=()
	while [ "$1" != "--" ]; do node+=("$1"); shift; done; shift
	load=("$@")
	"${node[@]}" "$home" > "$home.log" 2>&1 &
	local pid=$!
	started+=("$pid")
	for _ in $(seq 100); do bin/trustd --node tcp://127.0.0.1:$PORT status > /dev/null 2>&1 && break; sleep 0.2; done
	kill -0 "$pid" || { echo "$name: the node exited; see $home.log" >&2; cat "$home.log" >&2; exit 1; }
	echo "== $name" >&2
	bin/loadgen -rpc tcp://127.0.0.1:$PORT -workers "$WORKERS" -node-pid "$pid" -saturate -step "$STEP" "${load[@]}" > "$out/$name.json"
	local rss; rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
	kill $pid; wait $pid || true
	local disk; disk=$(du -sk "$home/data" | cut -f1)
	local appdb=0 d
	for d in "$home/data/app.db" "$home/data/kvstore"; do
		if [ -d "$d" ]; then appdb=$((appdb + $(du -sk "$d" | cut -f1))); fi
	done
	annotate "$out/$name.json" "$rss" "$disk" "$appdb"
}

# A 4-validator testnet on this machine (issue 4): the same load spread over the four RPCs.
testnet() {
	local name=$1
	echo "== $name" >&2
	rm -rf "$out/net"
	bin/trustd testnet --validators 4 --output "$out/net" --base-port 27700 --pow-difficulty 4 --chain-id bench-testnet > /dev/null
	pids=()
	for i in 0 1 2 3; do
		sed -i 's/^log_level = .*/log_level = "error"/' "$out/net/node$i/config/config.toml"
		bin/trustd start --home "$out/net/node$i" > "$out/net/node$i.log" 2>&1 &
		pids+=($!)
		started+=($!)
	done
	for i in 0 1 2 3; do
		ok=""
		for _ in $(seq 300); do
			if bin/trustd --node tcp://127.0.0.1:277${i}1 status 2>/dev/null | grep -q "height [1-9]"; then ok=1; break; fi
			sleep 0.2
		done
		if [ -z "$ok" ]; then
			echo "$name: node$i did not commit a block within 60 s" >&2
			tail -20 "$out/net/node$i.log" >&2
			exit 1
		fi
	done
	bin/loadgen -rpc tcp://127.0.0.1:27701,tcp://127.0.0.1:27711,tcp://127.0.0.1:27721,tcp://127.0.0.1:27731 \
		-chain-id bench-testnet -duration "$DURATION" -workers "$WORKERS" -mode ledger -events-per-tx 1 -inflight 1 > "$out/$name.json"
	rss=$(for p in "${pids[@]}"; do awk '/VmHWM/ {print $2}' /proc/$p/status; done | sort -n | tail -1)
	kill "${pids[@]}"; wait "${pids[@]}" || true
	annotate "$out/$name.json" "$rss" "$(du -sk "$out/net/node0/data" | cut -f1)" "$(du -sk "$out/net/node0/data/app.db" | cut -f1)"
}

# The rounds interleave the rows, so a slow spell of the machine does not fall on one row only.
for i in $(seq "$RUNS"); do
	run ledger-1-$i bin/trustd start --home -- -mode ledger -events-per-tx 1 -inflight 1 -steps 1,2,4,8,16,32
	run ledger-batch-$i bin/trustd start --home -- -mode ledger -events-per-tx "$BATCH" -inflight 1 -steps 1,2,4,8,16
	size=$(python3 -c "import json; print(json.load(open('$out/ledger-1-1.json'))['tx_bytes'])")
	run kvstore-$i bin/kvnode -home -- -mode kvstore -tx-size "$size" -inflight 1 -steps 1,2,4,8,16,32
	testnet testnet-4-$i
done

echo "== scale" >&2
go build -o bin/scale ./test/bench/scale
bin/scale > "$out/scale.md"
python3 - "$out/scale.md" <<'PY'
import re, sys
table = open(sys.argv[1]).read().strip()
md = open("BENCHMARKS.md").read()
md = re.sub(r"(<!-- bench:scale -->.*?\n\n).*?(\n<!-- /bench:scale -->)", lambda m: m.group(1) + table + m.group(2), md, flags=re.S)
open("BENCHMARKS.md", "w").write(md)
PY

python3 - "$out" "$DURATION" "$WORKERS" "$STEP" "$BATCH" "$RUNS" <<'PY'
import json, re, subprocess, sys, datetime
out, duration, workers, step, batch, rounds = sys.argv[1:7]
runs = ("ledger-1", "ledger-batch", "kvstore", "testnet-4")
# Each row is its median round, by the figure the row is about (events/s for the batched run,
# txs/s for the others); the spread of that figure over the rounds is printed beside it.
r, spread = {}, {}
for n in runs:
    key = "events_per_sec" if n == "ledger-batch" else "txs_per_sec"
    all_runs = sorted((json.load(open(f"{out}/{n}-{i}.json")) for i in range(1, int(rounds) + 1)), key=lambda x: x[key])
    r[n] = all_runs[(len(all_runs) - 1) // 2]
    spread[n] = " / ".join(f"{x[key]:.0f}" for x in all_runs)
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
lines = [f"Run {datetime.date.today()} on {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; {go}.",
         f"`make bench` (`BENCH_STEP={step} BENCH_DURATION={duration} BENCH_WORKERS={workers} BENCH_BATCH={batch} BENCH_RUNS={rounds}`): one fresh single-validator node per row, {workers} signers (kvstore: concurrent clients). The single-node rows are at saturation (`loadgen -saturate`): the txs in flight rise step by step ({workers}, then twice as many, and so on), each step measured for {step} after 3 s of settling, until committed txs/s rises less than 5% or the commit p99 passes 2 s; the row is the best step within 2 s, and *steps* lists txs/s at every step. testnet-4: four validators on this machine, load spread over their RPCs, 1 tx in flight per signer for {duration} (RSS of the largest, disk of one). Node settings are `trustd init`'s defaults (app.toml: pruning keep_recent 10, Go heap soft limit 768 MiB).",
         "Commit latency: from broadcast to the median precommit timestamp of the tx's block (consensus commit); seen: until the load generator's block follower saw it (50 ms polling and RPC on the same two cores included). CPU in cores over the measured step: the node's process, the load generator's, and the rest of the machine.",
         f"Each row is the median of {rounds} rounds (the lower of two; the rounds interleave the rows) by its main figure, events/s for ledger-batch and txs/s for the others; *rounds* lists that figure in every round, lowest first.",
         "", "| run | tx bytes | in flight | committed txs/s | events/s | commit p50 / p99 (ms) | CPU: node / loadgen / other | steps (txs/s) | peak RSS (MiB) | bytes on disk per event (all / app db) | rounds |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
for n in runs:
    x = r[n]; ev = x["committed_events"] or x["committed_txs"]
    inflight = x["inflight"] * x["workers"]
    steps = " / ".join(f"{s['txs_per_sec']:.0f}" for s in x.get("steps", [])) or "-"
    if x.get("over_p99_limit"):
        steps += " (p99 over 2 s already at the first step)"
    lines.append(f"| {n} ({x['events_per_tx']} events/tx) | {x['tx_bytes']} | {inflight} | {x['txs_per_sec']:.0f} | {x['events_per_sec']:.0f} | {x['p50_ms']:.0f} / {x['p99_ms']:.0f} | {x.get('node_cores', 0):.2f} / {x.get('loadgen_cores', 0):.2f} / {x.get('other_cores', 0):.2f} | {steps} | {x['peak_rss_mib']:.0f} | {x['data_kib']*1024/max(ev,1):.0f} / {x.get('app_kib', 0)*1024/max(ev,1):.0f} | {spread[n]} |")
ratio = r["ledger-1"]["txs_per_sec"] / r["kvstore"]["txs_per_sec"]
lines += ["", f"Ours ÷ kvstore, each at its saturation, at the same tx size: **{ratio:.2f}** (issue 18's goal ≥ 0.8; batched ≥ 10,000 events/s, commit p99 < 2 s at both).",
          "", "Go benchmarks of this run, against the previous run (`benchstat test/bench/go-bench.txt new.txt`; old = the figures committed before this run, new = this run):", "", "```", open(f"{out}/benchstat.txt").read().strip(), "```"]
md = open("BENCHMARKS.md").read()
section = "<!-- bench:load -->\n" + "\n".join(lines) + "\n<!-- /bench:load -->"
if "<!-- bench:load -->" in md:
    md = re.sub(r"<!-- bench:load -->.*?<!-- /bench:load -->", lambda m: section, md, flags=re.S)
else:
    md += "\n## Load: a single validator against the kvstore baseline (issue 5)\n\n" + section + "\n"
open("BENCHMARKS.md", "w").write(md)
print("\n".join(lines[:10 + 3]))
PY

# The same ledger rows on an old network: a node whose ledger holds about 10^6 events (issue 18).
bash test/bench/history.sh
