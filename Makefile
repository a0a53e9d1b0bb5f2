# Thin wrapper around Meson. `make run` and `make test` work on a fresh
# Debian machine: they install what is missing, configure and build.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 600
JOBS       ?= $(shell nproc)
UAPI_DIR   ?= build-deps/linux-uapi

DEBS = meson ninja-build pkg-config gcc clang libclang-rt-14-dev \
       libcmocka-dev libjson-c-dev openmpi-bin libopenmpi-dev liburcu-dev libssl-dev gnuplot-nox python3

.PHONY: all deps build run bench test fuzz clean

all: build

deps:
	@sh scripts/install-debs.sh $(DEBS)
	@# Linux 6.12 uAPI headers for libiopf-preload, into the tree only.
	@sh scripts/fetch-uapi-headers.sh $(UAPI_DIR)

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/tools/iopf bench uadk

bench: build
	./$(BUILD)/tools/iopf bench ground

$(BUILD_ASAN)/build.ninja: | deps
	meson setup $(BUILD_ASAN) --buildtype=debug -Dwerror=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dsuites=all

$(BUILD_TSAN)/build.ninja: | deps
	meson setup $(BUILD_TSAN) --buildtype=debugoptimized -Db_sanitize=thread \
		-Dsuites=stress

$(BUILD_FUZZ)/build.ninja: | deps
	CC=clang meson setup $(BUILD_FUZZ) --buildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false -Dsuites=fuzz \
		-Dfuzzer=true -Dfuzz_seconds=60

# Every suite runs even if an earlier one failed; the summary decides.
test: build $(BUILD_ASAN)/build.ninja $(BUILD_TSAN)/build.ninja $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_ASAN) -j $(JOBS)
	ninja -C $(BUILD_TSAN) -j $(JOBS)
	ninja -C $(BUILD_FUZZ) -j $(JOBS)
	rm -f $(BUILD)/meson-logs/testlog.json $(BUILD_ASAN)/meson-logs/testlog.json \
	      $(BUILD_TSAN)/meson-logs/testlog.json $(BUILD_FUZZ)/meson-logs/testlog.json
	-meson test -C $(BUILD) --suite unit --suite docs --print-errorlogs
	-ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	 meson test -C $(BUILD_ASAN) --suite unit --suite stress --suite explore \
	 --print-errorlogs
	-TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	 meson test -C $(BUILD_TSAN) --suite stress --print-errorlogs \
	 --timeout-multiplier 3
	-ASAN_OPTIONS=detect_leaks=1 meson test -C $(BUILD_FUZZ) --suite fuzz \
	 --print-errorlogs
	@python3 scripts/test-summary.py $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) \
		$(BUILD_FUZZ)

# A longer coverage-guided run, on demand (FUZZ_SECONDS, default 600).
fuzz: $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ) -j $(JOBS)
	mkdir -p $(BUILD_FUZZ)/fuzz-long
	cd $(BUILD_FUZZ) && ASAN_OPTIONS=detect_leaks=1 ./tests/fuzz_container \
		-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-jobs=$(JOBS) -workers=$(JOBS) fuzz-long ../tests/fuzz/corpus
	@grep -h '^Done' $(BUILD_FUZZ)/fuzz-*.log

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_FUZZ)

# Every conformance check shown first on Linux itself: Debian's 6.12
# kernel built with iommufd and vfio-pci, booted under Debian's QEMU 10
# (software emulation, an emulated Intel IOMMU, an e1000e bound to
# vfio-pci), running tests/uapi's programs. Kernel, QEMU and busybox are
# fetched and cached in $(ORACLE); only the kernel's build tools below
# are installed. Not part of `make test`.
ORACLE      ?= build-oracle
ORACLE_DEBS  = flex bison bc libelf-dev libssl-dev gcc libc6-dev xz-utils python3

.PHONY: kernel-oracle
kernel-oracle:
	@sh scripts/install-debs.sh $(ORACLE_DEBS)
	@sh scripts/fetch-uapi-headers.sh $(UAPI_DIR)
	sh scripts/kernel-oracle/fetch.sh $(ORACLE)
	sh scripts/kernel-oracle/kernel.sh $(ORACLE)
	sh scripts/kernel-oracle/initramfs.sh $(ORACLE) $(UAPI_DIR)/usr/include
	sh scripts/kernel-oracle/run.sh $(ORACLE)
