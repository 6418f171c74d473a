# Every target is a plain go command or a short script.
GO      ?= go
BIN     ?= bin/vision
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test race lint bench fuzz demo tidy

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/vision

test:
	$(GO) test ./...

race:
	$(GO) test -race ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: build
	scripts/bench.sh

fuzz:
	$(GO) test ./tokens -run '^$$' -fuzz FuzzSmartResize -fuzztime 30s -fuzzminimizetime 2s
	$(GO) test ./media -run '^$$' -fuzz FuzzProbeImage -fuzztime 30s -fuzzminimizetime 2s

demo: build
	scripts/demo.sh $(BIN)

tidy:
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum
