# virtio-blk host benchmark: library instructions per polled 4 KiB read on
# the virtio-blk model, split (defaults) / plain (EVENT_IDX and indirect
# off) / packed, QD1 and QD32 (callgrind).
.PHONY: bench-vblk-host
$(BUILD)/bench/bench_vblk_host: tests/bench/bench_vblk_host.c $(LIB_SRCS) $(TEST_SUPPORT) $(LIB_HDRS) $(TEST_SUPPORT_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(HOST_CC) $(BENCH_CFLAGS) $< $(LIB_SRCS) $(TEST_SUPPORT) -o $@

bench-vblk-host: $(BUILD)/bench/bench_vblk_host
	$(Q)sh tests/bench/bench_vblk_host.sh $(BUILD)/bench/bench_vblk_host
