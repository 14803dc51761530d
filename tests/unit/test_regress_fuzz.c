/* SPDX-License-Identifier: MIT */
/*
 * Replays the fuzz targets' inputs as an ordinary hosted test, so they run
 * under GCC's ASan/UBSan (`make test-host`) and big-endian under qemu-m68k
 * (`make test-be`) without clang or libFuzzer:
 *   - every file in tests/fuzz/corpus/<target>/ (the seeds) and in
 *     tests/fuzz/regress/<target>/ (inputs that once found a bug or a
 *     harness mistake: each must now run clean);
 *   - a fixed set of pseudo-random inputs per target.
 * A broken invariant aborts inside the target (FUZZ_ASSERT), which fails
 * this test. Run from the repository root (make does).
 */
#define FUZZ_NO_ENTRY 1
/* 64-bit directory offsets: readdir under qemu-m68k fails without. */
#define _FILE_OFFSET_BITS 64

#include <dirent.h>
#include <string.h>

#include "../fuzz/fuzz_nvme_cqe.c"
#include "../fuzz/fuzz_nvme_identify.c"
#include "../fuzz/fuzz_virtio_config.c"
#include "../fuzz/fuzz_virtio_used.c"
#include "harness.h"

#ifdef __m68k__
#define RANDOM_INPUTS 24u /* qemu-user is slow */
#else
#define RANDOM_INPUTS 200u
#endif

typedef int (*target_fn)(const uint8_t *data, size_t size);

/* Run every regular file of `dir`; returns how many ran. A missing
 * directory counts 0 (the caller decides whether that is allowed). */
static unsigned replay_dir(const char *dir, target_fn fn)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[512];
		uint8_t *data;
		FILE *f;
		long len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		if (f == NULL)
			continue;
		if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
			fclose(f);
			continue;
		}
		data = malloc((size_t)len + 1u);
		if (data == NULL || fread(data, 1, (size_t)len, f) != (size_t)len) {
			free(data);
			fclose(f);
			CHECK(!"cannot read a fuzz input");
			continue;
		}
		fclose(f);
		fn(data, (size_t)len);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

static void replay(const char *name, target_fn fn)
{
	char dir[256];
	uint32_t seed = 0x2545f491u;
	uint8_t buf[768];
	unsigned i, seeds;

	snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", name);
	seeds = replay_dir(dir, fn);
	CHECK(seeds > 0); /* run from the repository root, seeds present */
	snprintf(dir, sizeof(dir), "tests/fuzz/regress/%s", name);
	(void)replay_dir(dir, fn);
	for (i = 0; i < RANDOM_INPUTS; i++) {
		size_t len, k;

		seed = seed * 1103515245u + 12345u;
		len = 16u + (seed >> 16) % (sizeof(buf) - 16u);
		for (k = 0; k < len; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[k] = (uint8_t)(seed >> 23);
		}
		fn(buf, len);
	}
}

static void test_nvme_cqe(void)
{
	replay("nvme_cqe", ncqe_one);
}

static void test_nvme_identify(void)
{
	replay("nvme_identify", nid_one);
}

static void test_virtio_used(void)
{
	replay("virtio_used", vu_one);
}

static void test_virtio_config(void)
{
	replay("virtio_config", vc_one);
}

int main(void)
{
	RUN(test_nvme_cqe);
	RUN(test_nvme_identify);
	RUN(test_virtio_used);
	RUN(test_virtio_config);
	return harness_done();
}
