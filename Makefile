# The README's two commands are `make demo` (the main job, on a sample image) and `make test`.
SWIFT ?= swift

.PHONY: setup build test vm-test bench demo clean

setup:
	bash scripts/setup

build: setup
	$(SWIFT) build

test: setup
	$(SWIFT) test

clean:
	rm -rf .build .build-*
