# Block layer (scheduler, statistics, conformance): `make test-block` runs
# just its hosted tests; they are part of test-host and test-be anyway.
BLOCK_TESTS := test_stats test_sched test_block_conformance
.PHONY: test-block
test-block: $(addprefix $(BUILD)/host/,$(BLOCK_TESTS))
	$(Q)for t in $^; do echo "== $$t"; $$t || exit 1; done
