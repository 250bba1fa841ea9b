# The test command of the README and of CI.
GO ?= go

# Real servers and tools the tests start (Debian package names).
TEST_PACKAGES = haproxy socat graphite-carbon graphite-web prometheus \
	prometheus-node-exporter mtr-tiny iproute2 iptables tmux dnsmasq-base \
	nginx-light munin-node ganglia-monitor

.PHONY: test deps vet fmt build bench fuzz

test: deps vet fmt
	$(GO) test -race -count=1 ./...

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
