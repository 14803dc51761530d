# libFuzzer targets where the device is the attacker (tests/fuzz, issue 6).
#   make fuzz                 every target for FUZZ_SECONDS (default 60) each
#   make fuzz-<name>          one target, e.g. make fuzz-nvme_cqe FUZZ_SECONDS=600
#   make fuzz-short           every target for FUZZ_SHORT_SECONDS (part of make test)
#   make fuzz-build           just build them (build/fuzz/fuzz_<name>)
# Needs clang with libFuzzer (Debian: clang, libclang-rt-14-dev); without it
# fuzz-short fails, it does not skip. New corpus entries go to
# build/fuzz/corpus/<name> (seeds: tests/fuzz/corpus/<name>), crashes to
# build/fuzz/artifacts/. See docs/FUZZING.md.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SHORT_SECONDS ?= 10
FUZZ_ARGS ?=
FUZZ_SAN := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(TEST_CFLAGS) -Itests/fuzz
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_SUPPORT := hal/hosted/hosted_hal.c $(MODEL_SRCS)

.PHONY: fuzz fuzz-short fuzz-build fuzz-check-tools $(patsubst %,fuzz-%,$(FUZZ_NAMES))

fuzz-check-tools:
	$(Q)mkdir -p $(BUILD)/fuzz
	$(Q)printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
		> $(BUILD)/fuzz/probe.c
	$(Q)if ! $(FUZZ_CC) $(FUZZ_SAN) $(BUILD)/fuzz/probe.c -o $(BUILD)/fuzz/probe >$(BUILD)/fuzz/probe.log 2>&1; then \
		echo "FAIL fuzz: '$(FUZZ_CC) -fsanitize=fuzzer' does not work; install clang and libclang-rt-14-dev (Debian 12)" >&2; \
		cat $(BUILD)/fuzz/probe.log >&2; exit 1; fi

# The library and the device models are compiled once for all targets.
FUZZ_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRCS) $(FUZZ_SUPPORT))
.SECONDARY: $(FUZZ_OBJS)

$(BUILD)/fuzz/obj/%.o: %.c $(LIB_HDRS) $(TEST_SUPPORT_HDRS) | fuzz-check-tools
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_OBJS) | fuzz-check-tools
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) $< $(FUZZ_OBJS) -o $@

fuzz-build: $(FUZZ_BINS)

$(patsubst %,fuzz-%,$(FUZZ_NAMES)): fuzz-%: $(BUILD)/fuzz/fuzz_%
	$(Q)sh tests/fuzz/run.sh $(BUILD) $* $(FUZZ_SECONDS) $(FUZZ_ARGS)

fuzz: $(FUZZ_BINS)
	$(Q)for n in $(FUZZ_NAMES); do sh tests/fuzz/run.sh $(BUILD) $$n $(FUZZ_SECONDS) $(FUZZ_ARGS) || exit 1; done

fuzz-short: $(FUZZ_BINS)
	$(Q)for n in $(FUZZ_NAMES); do sh tests/fuzz/run.sh $(BUILD) $$n $(FUZZ_SHORT_SECONDS) $(FUZZ_ARGS) || exit 1; done
	@echo "OK  fuzz-short: $(FUZZ_NAMES), $(FUZZ_SHORT_SECONDS) s each, no crash"

TEST_EXTRA += fuzz-short
HELP_EXTRA += "make fuzz        libFuzzer targets (device as attacker), FUZZ_SECONDS each; docs/FUZZING.md"

# The regression test includes the targets' sources: rebuild it when they change.
FUZZ_SRCS := $(wildcard tests/fuzz/*.c tests/fuzz/*.h)
$(BUILD)/host/test_regress_fuzz $(BUILD)/m68k-user/test_regress_fuzz: $(FUZZ_SRCS)
