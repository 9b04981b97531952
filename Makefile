# trustledger. `make run` starts a single-validator node with everything on loopback;
# `make test` is what CI runs.
GO       ?= go
TAGS     := badgerdb
BIN      := bin/trustd
HOME_DIR ?= $(CURDIR)/.home
# Tests that start real nodes share the two cores; one package at a time keeps them calm.
TESTFLAGS ?= -count=1 -p 1 -timeout 15m

.PHONY: build run test vet fmt fuzz clean

# The commit the binary is built from (git's; "unknown" outside a checkout), with "-dirty" when the
# work tree has uncommitted changes: `trustd version` prints it.
COMMIT   := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

build:
	$(GO) build -tags $(TAGS) -ldflags "-X main.commit=$(COMMIT)" -o $(BIN) ./cmd/trustd

run: build
	$(BIN) start --init --home $(HOME_DIR)

vet:
	$(GO) vet -tags $(TAGS) ./...

fmt:
	gofmt -l -w .

test: build vet
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	TRUSTD_BIN=$(CURDIR)/$(BIN) $(GO) test -tags $(TAGS) $(TESTFLAGS) ./...
	$(GO) test -race -short -tags $(TAGS) -count=1 ./abci ./storage ./node/... ./client ./p2p ./explorer
	$(GO) test -tags $(TAGS) -count=1 -run '^$$' -fuzz FuzzCheckTx -fuzztime 400000x ./ledger
	# Each benchmark of `make bench` once, so that none stops running unnoticed.
	$(GO) test -tags $(TAGS) -count=1 -run '^$$' -bench . -benchtime 1x ./reputation ./ledger ./ledger/shard ./storage
	$(GO) test -tags $(TAGS) -count=1 -run '^$$' -fuzz FuzzAuditEvidence -fuzztime 150000x ./ledger

fuzz:
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz FuzzCheckTx -fuzztime 5m ./ledger
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz FuzzAuditEvidence -fuzztime 2m ./ledger

clean:
	rm -rf bin .home .testnet

# A local 4-validator network in .testnet (generated once), each node in the background.
TESTNET ?= $(CURDIR)/.testnet

.PHONY: testnet testnet-stop
testnet: build
	@test -f $(TESTNET)/testnet.json || $(BIN) testnet --validators 4 --output $(TESTNET)
	@for d in $(TESTNET)/node*/; do n=$$(basename $$d); \
	  if [ -f $(TESTNET)/$$n.pid ] && kill -0 $$(cat $(TESTNET)/$$n.pid) 2>/dev/null; then echo "$$n already running"; continue; fi; \
	  nohup $(BIN) start --home $$d > $(TESTNET)/$$n.log 2>&1 & echo $$! > $(TESTNET)/$$n.pid; \
	  echo "$$n started (pid $$(cat $(TESTNET)/$$n.pid), log $(TESTNET)/$$n.log)"; done

testnet-stop:
	@for p in $(TESTNET)/node*.pid; do [ -f $$p ] || continue; pid=$$(cat $$p); \
	  if kill $$pid 2>/dev/null; then for i in $$(seq 100); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; echo "stopped $$(basename $$p .pid)"; fi; \
	  rm -f $$p; done

# Benchmarks: Go micro-benchmarks and load runs (ours vs the kvstore baseline); updates BENCHMARKS.md.
.PHONY: bench
bench:
	bash test/bench/run.sh
