# Flashgate: build, run, test and benchmark on Debian 12 with Swift 6 on PATH.
#
#   make run ARGS="--port 9000"   serve with the embedded defaults (mock model without GEMINI_API_KEY)
#   make test                     Swift unit tests, then the Python end-to-end suite (release binary)
#   make release                  the optimised binary (.build/release/flashgate) deployments use
#   make bench                    wrk against nginx-as-Gemini, direct and through Flashgate
#   make bench-callgrind          instructions per request (callgrind); BASELINE=bin adds a baseline

SHELL := /bin/bash
.DEFAULT_GOAL := build

# System libraries the Swift targets link (CCurl, CLMDB, CZlib, CHiredis) and pkg-config to find them;
# redis-server for the shared-budget tests, which start their own servers on temporary ports.
DEB_PACKAGES := libcurl4-openssl-dev liblmdb-dev zlib1g-dev libhiredis-dev pkg-config redis-server
# python3-venv only where python3 cannot make a virtualenv with pip by itself (Debian's python3).
VENV_PACKAGE := $(shell python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || echo python3-venv)
# The e2e suite's headless browser (the dashboard test renders /dashboard in it).
E2E_PACKAGES := chromium
# The benchmark's fake Gemini and load generator.
# The echo module's echo_sleep plays a 200 ms upstream.
BENCH_PACKAGES := $(shell command -v nginx >/dev/null 2>&1 || echo nginx-light) \
                  $(shell command -v wrk >/dev/null 2>&1 || echo wrk) libnginx-mod-http-echo

ARGS ?=

# Release builds leave out Swift's run-time exclusivity checks in every module, SwiftNIO's
# included (each access to a class's stored property registered in a thread-local set, then
# looked up and removed again): ~5 % of a miss's instructions and ~7 % of a hit's. The
# compile-time checks stay, and the debug build the tests run keeps the run-time ones, so a
# violation still fails a test. deploy/Dockerfile passes the same flag.
RELEASE_FLAGS := -c release --product flashgate -Xswiftc -enforce-exclusivity=unchecked

.PHONY: deps build release run test unit-test e2e bench bench-callgrind clean

## deps: install the missing Debian packages (only those), with sudo when not root
deps:
	@.ci/apt-install-missing.sh $(DEB_PACKAGES) $(VENV_PACKAGE)

## build: debug build of every target
build:
	swift build

## release: the optimised binary, as deployments build it
release: deps
	swift build $(RELEASE_FLAGS)

## run: build, then serve in the foreground with the embedded defaults; ARGS go to `serve`
run: deps build
	"$$(swift build --show-bin-path)/flashgate" serve $(ARGS)

## test: Swift unit tests (swift-testing), then the Python end-to-end suite against the release
## binary, the one deployments run: the optimiser can break what the debug build gets right (a
## Swift 6.3 miscompile crashed release builds on requests with two remote images; the unit tests,
## built for debug, passed).
test: deps
	@.ci/apt-install-missing.sh $(E2E_PACKAGES)
	swift build --build-tests
	swift test
	swift build $(RELEASE_FLAGS)
	FLASHGATE_BIN="$$(swift build -c release --show-bin-path)/flashgate" Tests/e2e/run.sh

## e2e: just the Python end-to-end suite, against the last debug build
e2e:
	Tests/e2e/run.sh

## bench: release build and wrk runs; BENCH_SECONDS sets each run's length
bench: release
	@.ci/apt-install-missing.sh $(BENCH_PACKAGES)
	BENCH_SKIP_BUILD=1 Tests/bench/run.sh

## bench-callgrind: instructions per miss and per hit, counted by callgrind (repeatable on a shared
## machine); BASELINE=path/to/another/flashgate measures that binary first, in the same run
bench-callgrind: release
	@.ci/apt-install-missing.sh $(BENCH_PACKAGES) valgrind
	Tests/bench/callgrind.sh $(BASELINE) "$$(swift build -c release --show-bin-path)/flashgate"

## clean: remove build outputs and the e2e virtualenv (never the store in .flashgate/)
clean:
	rm -rf .build .venv-e2e
