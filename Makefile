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

# Fuzzing is bounded by executions, not wall-clock time: a duration -fuzztime
# can fail with "context deadline exceeded" and no crasher when the deadline
# races the coordinator (golang/go#51484, #75804), most often on a loaded
# machine. The counts take about 30 s each on two cores (FuzzProbeImage more
# as its cached corpus grows: each new input is re-run first). -fuzzminimizetime
# stays a short duration: FuzzProbeImage runs ffmpeg for some inputs, and
# minimizing one by count could stall.
FUZZ_SMARTRESIZE ?= 500000x
FUZZ_PROBEIMAGE  ?= 3000x

fuzz:
	$(GO) test ./tokens -run '^$$' -fuzz FuzzSmartResize -fuzztime $(FUZZ_SMARTRESIZE) -fuzzminimizetime 2s
	$(GO) test ./media -run '^$$' -fuzz FuzzProbeImage -fuzztime $(FUZZ_PROBEIMAGE) -fuzzminimizetime 2s

demo: build
	scripts/demo.sh $(BIN)

tidy:
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum
