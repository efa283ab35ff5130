# kernel-lab: two commands for a fresh machine.
#   make lab    host packages, npm ci, then the unpatched base end to end
#   make test   unit + integration tests (real kernels in QEMU)
SHELL := /bin/bash
PATCH ?= none
DEB_PACKAGES := qemu-system-x86 build-essential bc bison flex libelf-dev libssl-dev \
	ccache busybox-static liburing-dev fio dwarves clang llvm lld libbpf-dev bpftool cpio \
	e2fsprogs kmod rsync xz-utils zstd git python3 perl util-linux openssh-client openssh-server b4 \
	curl dpkg-dev makedumpfile iproute2 ibverbs-providers ibverbs-utils rdmacm-utils perftest qperf

.PHONY: all deps lava-deps npm lab test test-unit test-lava nightly typecheck workflows clean-cache

all: lab

# Debian packages the lab needs; idempotent (installs only what is missing).
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		$$( [ $$(id -u) -eq 0 ] || echo sudo ) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$( [ $$(id -u) -eq 0 ] || echo sudo ) apt-get install -y -qq $$missing; \
	else echo "deps: all Debian packages present"; fi
	@# Upstream suites' sources (suites/*/fetch.mjs: Debian source packages, sha256-pinned)
	@# into the lab cache now, so no run needs the network for them.
	@for f in suites/*/fetch.mjs; do node $$f > /dev/null || exit 3; done; echo "deps: upstream suite sources cached"

# LAVA (Debian bookworm's 2023.01): lava-common for its job schema check (lava-schema.py),
# lava-dispatcher for lava-run, which runs an exported job on this machine (export-lava,
# import-lava). Not part of deps: it is about 130 packages (systemd, libguestfs, bpfcc).
# lava-dispatcher imports guestfs at load time, so python3-guestfs comes with it.
LAVA_PACKAGES := lava-common lava-dispatcher python3-jinja2 python3-voluptuous python3-yaml qemu-system-x86
lava-deps:
	@missing=$$(for p in $(LAVA_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		$$( [ $$(id -u) -eq 0 ] || echo sudo ) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$( [ $$(id -u) -eq 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "lava-deps: all LAVA packages present"; fi
	@command -v lava-run > /dev/null && test -f /usr/share/lava-common/lava-schema.py && echo "lava-deps: lava-run and lava-schema.py present"

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

npm: node_modules/.package-lock.json

lab: deps npm
	npm run lab -- --patch $(PATCH)

typecheck: npm
	npx tsc --noEmit -p .

# The CI workflows against GitHub's workflow schema (action-validator, from npm).
workflows: npm
	@for f in .github/workflows/*.yml; do npx action-validator $$f || exit 1; done; echo "workflows: valid"

# What the tests and the lab runs they start write to the temporary directory (results dirs,
# images, scratch trees) goes in one directory per invocation: removed when the tests pass,
# kept and named when they fail, so a machine running CI every night does not fill /tmp.
in_test_tmp = tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/kl-test-XXXXXX") && \
	if TMPDIR=$$tmp $(1); then rm -rf "$$tmp"; \
	else rc=$$?; echo "make: the tests' temporary files are kept in $$tmp"; exit $$rc; fi

test: deps lava-deps npm typecheck workflows
	@$(call in_test_tmp,npx ava)

test-unit: npm
	@$(call in_test_tmp,npx ava 'test/unit/**/*.test.ts')

# export-lava / lava-run / import-lava alone (make test runs them too): the job passes
# lava-common's strict schema; jobs really run under Debian's lava-run (root, TCG).
# --lava-server against a stand-in of the server's REST API (no LAVA package needed).
test-lava: deps lava-deps npm
	npx ava test/lava/schema.test.ts test/lava/roundtrip.test.ts test/lava/rest-client.test.ts

# The full matrix (harness/matrix.ts): each patch set alone, the stacked set, --debug,
# benchmarks, liburing and kselftest-mm. SHARD=i/n runs one share of it (as CI does).
nightly: deps npm
	npm run -s lab -- nightly $(if $(SHARD),--shard $(SHARD))

clean-cache:
	rm -rf $${KERNEL_LAB_CACHE:-$$HOME/.cache/kernel-lab}
