/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

unsigned harness_failures;
int harness_no_lock;
int harness_shadow_db;
const char *harness_current = "";
static unsigned harness_tests;
static unsigned harness_failed_tests;

void harness_fail(const char *file, int line, const char *what)
{
	harness_failures++;
	fprintf(stderr, "FAIL %s: %s:%d: %s\n", harness_current, file, line, what);
}

void harness_run(const char *name, void (*fn)(void))
{
	unsigned before = harness_failures;
	static char label[160];

	if (harness_no_lock || harness_shadow_db) {
		snprintf(label, sizeof(label), "%s (%s%s)", name, harness_no_lock ? "no HAL lock" : "",
			 harness_shadow_db ? (harness_no_lock ? ", shadow doorbells" : "shadow doorbells")
					   : "");
		name = label;
	}
	harness_current = name;
	harness_tests++;
	fn();
	if (harness_failures != before) {
		harness_failed_tests++;
		printf("not ok %s\n", name);
	} else {
		printf("ok %s\n", name);
	}
	fflush(stdout);
}

int harness_done(void)
{
	printf("%u tests, %u failed, %u failed checks\n", harness_tests, harness_failed_tests,
	       harness_failures);
	return harness_failures == 0 ? 0 : 1;
}

void harness_check_violations(const char *v)
{
	if (v[0] != '\0') {
		fprintf(stderr, "model host violations:\n%s", v);
		harness_fail(__FILE__, __LINE__, "host violations recorded by the model");
	}
}

void harness_check_leaks(const struct ustor_test_hal *h)
{
	if (ustor_test_hal_live_allocs(h) != 0) {
		fprintf(stderr, "%zu DMA allocations leaked\n", ustor_test_hal_live_allocs(h));
		harness_fail(__FILE__, __LINE__, "DMA memory leaked");
	}
	if (harness_failures != 0 && getenv("USTOR_TEST_VERBOSE") == NULL)
		fprintf(stderr, "--- library log ---\n%s", ustor_test_hal_log_text(h));
}

void fx_setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	ustor_test_hal_init(&f->h);
	ustor_nvme_model_cfg_default(&f->mcfg);
	ustor_nvme_config_default(&f->cfg);
	if (harness_no_lock) {
		f->h.hal.lock = NULL;
		f->h.hal.unlock = NULL;
	}
	f->cfg.shadow_doorbells = (uint8_t)harness_shadow_db;
	f->cfg.use_pci_cfg = 1;
	f->cfg.pci_addr = f->mcfg.pci_addr;
	f->ctrl = calloc(1, sizeof(*f->ctrl));
	if (f->ctrl == NULL)
		abort();
}

ustor_status fx_start(struct fixture *f)
{
	ustor_status st = ustor_nvme_model_init(&f->m, &f->h, &f->mcfg);

	if (st != USTOR_OK)
		return st;
	f->model_up = 1;
	return ustor_nvme_ctrl_init(f->ctrl, &f->h.hal, ustor_nvme_model_regs(&f->m), &f->cfg);
}

void fx_finish(struct fixture *f)
{
	unsigned i;

	if (f->ctrl->state == 1 /* ready */)
		CHECK_OK(ustor_nvme_ctrl_shutdown(f->ctrl));
	if (f->model_up) {
		harness_check_violations(ustor_nvme_model_violations(&f->m));
		ustor_nvme_model_fini(&f->m);
	}
	harness_check_leaks(&f->h);
	for (i = 0; i < f->nbufs; i++)
		free(f->bufs[i]);
	ustor_test_hal_fini(&f->h);
	free(f->ctrl);
	f->ctrl = NULL;
}

void *fx_buf(struct fixture *f, size_t len, size_t offset, int fill)
{
	uint8_t *raw;
	size_t total = len + offset + 4096;

	if (posix_memalign((void **)&raw, 4096, total) != 0 || f->nbufs == 32)
		abort();
	memset(raw, fill, total);
	f->bufs[f->nbufs++] = raw;
	if (ustor_test_hal_register(&f->h, raw, total) != USTOR_OK)
		abort();
	return raw + offset;
}

void *fx_plain(struct fixture *f, size_t len)
{
	void *p = malloc(len + 64);

	if (p == NULL || f->nbufs == 32)
		abort();
	f->bufs[f->nbufs++] = p;
	return p;
}

void fx_pattern(void *buf, size_t len, uint64_t lba, uint32_t block_size, uint32_t seed)
{
	uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		uint64_t blk = lba + i / block_size;
		b[i] = (uint8_t)((blk * 131u) ^ (i % block_size) ^ seed ^ ((i % block_size) >> 8));
	}
}
