# make bench / make bench-compare (tests/bench/bench-kernel, tests/bench/bench-compare).
# Benchmarks, not tests: not part of make test.
#   make bench [BOOTS=3] [BENCH_MS=2000] [JOBS=qd1,qd32,seq128k,randrw,mq] [DEVICES=nvme,virtio]
#   make bench-compare [JOBS=qd1,qd32,seq128k,randrw] [DEVICES=nvme,virtio] [ENGINES=...] [RUNTIME=10]
.PHONY: bench bench-compare

bench: $(KERNEL_ELF32)
	$(Q)BUILD=$(BUILD) KERNEL=$(KERNEL_ELF32) sh tests/bench/bench-kernel

bench-compare: $(KERNEL_ELF32)
	$(Q)BUILD=$(BUILD) KERNEL=$(KERNEL_ELF32) sh tests/bench/bench-compare
