# SPDX-License-Identifier: GPL-2.0
#
# lowdown: software dirty tracking for iommufd, a PRE_COPY engine for VFIO
# variant drivers, and the tools to measure live-migration downtime.
#
#   make check        build everything, run every test in one VM boot (CI)
#   make check-full   every suite, also the slow ones, and lowdown's own
#                     suites again on a KASAN kernel
#   make bench        the downtime benchmark (see README.md)
#
# Every target first runs 'make deps' (idempotent; installs packages as root).

SHELL := /bin/bash
TOP := $(CURDIR)
KBUILD_DIRS := $(shell $(TOP)/kernel/build --dirs)
SRC := $(patsubst SRC=%,%,$(filter SRC=%,$(KBUILD_DIRS)))
OBJ := $(patsubst OBJ=%,%,$(filter OBJ=%,$(KBUILD_DIRS)))
KSFT := $(OBJ)/kselftest
BIN := $(OBJ)/lowdown/bin
KHDR := -isystem $(OBJ)/usr/include
VM := $(TOP)/tools/testing/vm/run
VM_TIMEOUT ?= 3600

.PHONY: all deps kernel kernel-kasan guest selftests tools checkpatch check check-full \
	vm-shell vm-run bench bench-dirty bench-trace cache-clean help
all: kernel selftests tools

help:
	@sed -n '3,12s/^# \{0,1\}//p' Makefile

deps:
	@$(TOP)/kernel/deps

kernel: deps
	@$(TOP)/kernel/build

# The L2 test guest of the qemu_igb suite (kernel/build-guest)
guest: kernel
	@$(TOP)/kernel/build-guest >/dev/null

# Upstream iommu selftests (with the 6.12 compat hook patch) and ours, built
# from the overlaid source tree against our kernel's uAPI headers.
selftests: kernel
	@for t in iommu lowdown; do \
		mkdir -p $(KSFT)/$$t && \
		$(MAKE) -s -C $(SRC)/tools/testing/selftests/$$t \
			OUTPUT=$(KSFT)/$$t KHDR_INCLUDES="$(KHDR)" all || exit 1; \
		cp -f $(SRC)/tools/testing/selftests/$$t/*.sh $(KSFT)/$$t/ 2>/dev/null; \
	done; true
	@# the shell suites' KTAP lines come from kselftest's helpers
	@mkdir -p $(KSFT)/kselftest && \
		cp -f $(SRC)/tools/testing/selftests/kselftest/ktap_helpers.sh $(KSFT)/kselftest/

tools: deps kernel
	@mkdir -p $(BIN)
	@$(MAKE) -s -C $(TOP)/tools/qmp OUTPUT=$(BIN)
	@$(MAKE) -s -C $(TOP)/tools/migctl OUTPUT=$(BIN) KHDR_INCLUDES="$(KHDR)"
	@$(CC) -O2 -Wall -Wextra -Werror -o $(BIN)/linkbw $(TOP)/bench/linkbw.c
	@$(CC) -O2 -Wall -Wextra -Werror -o $(BIN)/memimg $(TOP)/bench/memimg.c
	@$(CC) -O2 -Wall -Wextra -Werror -o $(BIN)/pinger $(TOP)/bench/pinger.c
	@$(CC) -m32 -ffreestanding -nostdlib -static -fno-pic -no-pie \
		-fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
		-fno-toplevel-reorder -O2 -Wall -Wextra -Werror -Wl,-n \
		-Wl,-Ttext=0x100000 -Wl,--build-id=none -Wl,-z,noexecstack \
		-Wl,--no-warn-rwx-segments -o $(BIN)/ramdirty $(TOP)/bench/ramdirty.c

checkpatch: kernel
	@$(TOP)/kernel/checkpatch

check: kernel guest selftests tools checkpatch
	$(VM) -t $(VM_TIMEOUT) -- $(TOP)/tools/testing/check

# The KASAN kernel of make check-full: the same fragment plus
# kernel/kasan.config, in its own object tree
KASAN_CONFIG := $(TOP)/kernel/kasan.config
KASAN_DIRS = $(shell LOWDOWN_CONFIG=$(KASAN_CONFIG) $(TOP)/kernel/build --dirs)
kernel-kasan: deps
	@LOWDOWN_CONFIG=$(KASAN_CONFIG) $(TOP)/kernel/build

check-full: kernel guest selftests tools checkpatch kernel-kasan
	$(VM) -t $(VM_TIMEOUT) -- $(TOP)/tools/testing/check \
		$$($(TOP)/tools/testing/check --list)
	$(VM) -t $(VM_TIMEOUT) -W \
		-k $(patsubst OBJ=%,%,$(filter OBJ=%,$(KASAN_DIRS)))/arch/x86/boot/bzImage \
		-M $(patsubst MODROOT=%,%,$(filter MODROOT=%,$(KASAN_DIRS))) \
		-- $(TOP)/tools/testing/check --kasan

# make vm-run CMD='tools/testing/check vm_sanity'
vm-run: kernel selftests tools
	$(VM) -t $(VM_TIMEOUT) -- bash -c '$(CMD)'

vm-shell: kernel selftests tools
	$(VM) -i

# The software dirty log's micro-benchmark (ratios from one run, in the VM)
bench-dirty: kernel selftests
	$(VM) -t $(VM_TIMEOUT) -- bash -c \
		'echo 512 >/proc/sys/vm/nr_hugepages; $(KSFT)/lowdown/iommufd_dirty_bench'

# What the tracepoints cost, events off against on (ratios from one run)
bench-trace: kernel selftests tools
	$(VM) -t $(VM_TIMEOUT) -- $(TOP)/bench/trace_overhead.sh

# The downtime benchmark: the default matrix in the VM; results (JSON,
# markdown, PNG) in $(BENCH_OUT).  MATRIX=quick|default|full,
# BASELINE=FILE.json to fail on regressions.
BENCH_OUT ?= $(TOP)/bench/out
MATRIX ?= default
bench: kernel guest selftests tools
	@mkdir -p $(BENCH_OUT)
	$(VM) -q -t $(VM_TIMEOUT) -o $(BENCH_OUT) -- $(TOP)/bench/downtime \
		-m $(MATRIX) $(if $(BASELINE),-c $(abspath $(BASELINE)))
	@cat $(BENCH_OUT)/downtime.md

cache-clean:
	rm -rf $(OBJ)
