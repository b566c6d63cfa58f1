# The README's two commands are `make demo` (the main job, on a sample image) and `make test`.
SWIFT ?= swift
DOC_TARGETS = NBDCore HostSystem ImageLayout NBDProtocol QemuTools ImageMount ImageAttach Builder PackerRPC

.PHONY: setup build test vm-test bench demo clean docs embed-check cross-arch-debian release

setup:
	bash scripts/setup

build: setup
	$(SWIFT) build

# Serial: many tests block on real processes and devices, and on 2 cores parallel blocking tests starve
# Swift Testing's cooperative pool until their time limits expire.
test: setup
	$(SWIFT) test --no-parallel

# The main job on a sample image the project makes itself (scripts/demo says what it checks).
demo:
	bash scripts/demo

clean:
	rm -rf .build .build-*

# An outside package (examples/embedding) built against a tagged clone of HEAD by version, run on a sample image.
embed-check: setup
	bash scripts/embed-check

# The DocC archives of the library modules, in .build/plugins/Swift-DocC/outputs/; a broken link fails it.
docs:
	$(SWIFT) package generate-documentation --warnings-as-errors $(foreach t,$(DOC_TARGETS),--target $(t))

# Every scripts/bench/*.sh, each writing its section under docs/benchmarks/; then docs/benchmarks.md.
bench: setup
	$(SWIFT) build -c release
	for b in scripts/bench/*.sh; do bash $$b || exit 1; done
	bash scripts/bench/collect

# Kernel-nbd tests inside a VM running Debian's stock kernel (this host has no nbd driver).
vm-test: setup
	$(SWIFT) build --build-tests
	bash scripts/vm-nbd test

# A Debian arm64 image provisioned with apt through qemu-aarch64-static (docs/cross-arch.md); slow.
cross-arch-debian: setup
	$(SWIFT) build
	bash scripts/cross-arch-debian

# The Packer plugin as a GitHub release for `packer init` (dist/: the zip and its SHA256SUMS; scripts/release).
release: setup
	bash scripts/release
