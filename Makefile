# The test command of the README and of CI.
GO ?= go
# Time each fuzz target runs in `make fuzz`.
FUZZTIME ?= 30s

# Real servers and tools the tests start (Debian package names).
TEST_PACKAGES = haproxy socat graphite-carbon graphite-web prometheus \
	prometheus-node-exporter mtr-tiny iproute2 iptables tmux dnsmasq-base \
	nagios4-core monitoring-plugins-basic icinga2 prometheus-alertmanager \
	nginx-light munin-node ganglia-monitor

.PHONY: test deps vet fmt build bench fuzz eval scale

test: deps vet fmt
	$(GO) test -race -count=1 -timeout 40m ./...

deps:
	@TEST_PACKAGES="$(TEST_PACKAGES)" sh .ci/install-deps

vet:
	$(GO) vet ./...

fmt:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o opsview ./cmd/opsview

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The engine's figures the README quotes: NAB (three profiles), PetShop
# (the engine's ranking, and counted as the dataset's rca_task.py does)
# and the scenario corpus, from OPSVIEW_SHARED_DATA or ../shared/data
# beside the checkout. It fails when a figure misses its goal or the data
# is missing under CI=true.
eval:
	@out="$$($(GO) test ./correlate -count=1 -v -run 'TestPetShopRootCauseRanking|TestScenarioCorpusAccuracy|TestNABNeighbourDetectorTwoFold' 2>&1)"; st=$$?; \
		printf '%s\n' "$$out" | grep -E 'pooled|without layers:|with Sustain 3:|PetShop rca_task|scenario corpus:|: NAB |--- (PASS|FAIL|SKIP)|^(ok|FAIL)|_test.go:[0-9]+: .*(goal|missing)'; exit $$st

# The README's Scale figures: 1k, 10k and 100k series from a synthetic
# exporter on loopback (peak RSS, CPU per poll, rank time).
scale:
	$(GO) run ./internal/scale/run

# Every fuzz target of the module (found by name, so a new one runs too),
# one after the other, for FUZZTIME each: 36 targets, about 20 minutes at
# the default 30 s. CI runs it with FUZZTIME=3s (see .ci/run). A crasher
# is left under its package's testdata/fuzz/ to commit as a seed.
fuzz:
	GO="$(GO)" FUZZTIME="$(FUZZTIME)" bash .ci/fuzz
