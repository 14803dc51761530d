/* SPDX-License-Identifier: MIT */
/*
 * The self-test of the test contract (docs: "The example kernel's test
 * contract"): on every NVMe controller and every namespace, and on every
 * virtio-blk disk, one line per check
 *
 *   USTOR-TEST <device> <check> PASS|FAIL|SKIP <detail>
 *
 * then `USTOR-DONE pass=N fail=M skip=K`. Controller checks: init, irq
 * (SKIP in polling mode), smart, shutdown. Namespace checks: identify, read0, peek
 * (only with peek=), write-verify, flush, write-zeroes, discard, bench (only
 * with bench=qd1, and only a line when it fails; results go to USTOR-BENCH).
 * A virtio-blk disk (vblk.c) is its own controller and namespace: init, the
 * namespace checks, shutdown.
 *
 * Data safety: every write-type command goes through io(), which refuses
 * anything outside the namespace's scratch region; write checks save the
 * region first and write the saved contents back afterwards.
 */
#include "nvme_ctrls.h"
#include "bench.h"

#define CHUNK_BYTES (256u * 1024u) /* per buffer; write checks walk the region in chunks */
#define BENCH_NS 1000000000ull

struct ctrl_slot ctrls[MAX_CTRLS];
unsigned n_ctrls;
static unsigned n_pass, n_fail, n_skip;

/* The region write-type commands may touch, for the namespace under test. */
static uint64_t scratch_lba, scratch_nblocks;
static unsigned next_queue;

void report(const char *dev, const char *check, enum result r, const char *fmt, ...)
{
	static const char *const names[] = { "PASS", "FAIL", "SKIP" };
	char detail[400];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	kprintf("USTOR-TEST %s %s %s %s\n", dev, check, names[r], detail);
	if (r == PASS)
		n_pass++;
	else if (r == FAIL)
		n_fail++;
	else
		n_skip++;
}

/* "USTOR_ERR_DEVICE (text), NVMe status 0x0280 SCT 2 SC 0x80 \"Write Fault\"...",
 * or for a virtio-blk request "..., virtio-blk status 1 IOERR, lba 0": the
 * library leaves the status byte the device wrote in req->dev_status (0 for
 * OK, so only a failed request shows it; NVMe requests leave it 0). */
const char *describe(ustor_status st, const struct ustor_block_req *req)
{
	static char buf[256];
	int n = ksnprintf(buf, sizeof(buf), "%s (%s)", ustor_status_name(st), ustor_status_text(st));

	if (req != NULL && req->nvme_status == 0 && req->dev_status != 0 && n > 0 &&
	    (size_t)n < sizeof(buf)) {
		if (req->dev_status == USTOR_VIRTIO_BLK_RAW_BAD_LEN)
			ksnprintf(buf + n, sizeof(buf) - (size_t)n, ", the virtio-blk device claimed "
				  "more bytes than the request offered, lba %llu",
				  (unsigned long long)req->error_lba);
		else
			ksnprintf(buf + n, sizeof(buf) - (size_t)n, ", virtio-blk status %u %s, lba %llu",
				  req->dev_status, ustor_virtio_blk_status_name((uint8_t)req->dev_status),
				  (unsigned long long)req->error_lba);
		return buf;
	}
	if (req != NULL && req->nvme_status != 0 && n > 0 && (size_t)n < sizeof(buf))
		ksnprintf(buf + n, sizeof(buf) - (size_t)n,
			  ", NVMe status 0x%04x SCT %u SC 0x%02x \"%s\" [%s]%s, lba %llu",
			  req->nvme_status, USTOR_NVME_STATUS_SCT(req->nvme_status),
			  USTOR_NVME_STATUS_SC(req->nvme_status),
			  ustor_nvme_status_name(req->nvme_status),
			  ustor_nvme_sct_name(req->nvme_status),
			  USTOR_NVME_STATUS_DNR(req->nvme_status) ? ", DNR" : "",
			  (unsigned long long)req->error_lba);
	return buf;
}

const char *fmt_size(char *buf, size_t size, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned u = 0;
	uint64_t tenths = bytes * 10u;

	if (bytes > (~0ull / 10u)) { /* huge: drop precision first */
		tenths = bytes;
		while (tenths >= 10240u * 1024u && u < 5) {
			tenths >>= 10;
			u++;
		}
		tenths *= 10u;
	}
	while (tenths >= 10240u && u < 5) {
		tenths >>= 10;
		u++;
	}
	if (tenths % 10u == 0)
		ksnprintf(buf, size, "%llu %s", (unsigned long long)(tenths / 10u), units[u]);
	else
		ksnprintf(buf, size, "%llu.%llu %s", (unsigned long long)(tenths / 10u),
			  (unsigned long long)(tenths % 10u), units[u]);
	return buf;
}

struct ctrl_slot *slot_of(struct ustor_block_device *d)
{
	struct ustor_nvme_ns *ns = d->driver;

	if (vblk_of(d) != NULL)
		return NULL; /* d->driver is a struct ustor_virtio_blk */
	for (unsigned i = 0; i < MAX_CTRLS; i++)
		if (&ctrls[i].ctrl == ns->ctrl)
			return &ctrls[i];
	return NULL;
}

ustor_status *broken_of(struct ustor_block_device *d)
{
	static ustor_status none;
	struct vblk_slot *vs = vblk_of(d);
	struct ctrl_slot *cs;

	if (vs != NULL)
		return &vs->broken;
	cs = slot_of(d);
	if (cs != NULL)
		return &cs->broken;
	none = USTOR_OK;
	return &none;
}

static int is_write_type(uint8_t op)
{
	return op == USTOR_BLOCK_WRITE || op == USTOR_BLOCK_WRITE_ZEROES ||
	       op == USTOR_BLOCK_DISCARD;
}

ustor_status nvme_io(struct ustor_block_device *d, uint8_t op, uint64_t lba, uint32_t nblocks,
		     void *buf, struct ustor_block_req *req)
{
	ustor_status *broken = broken_of(d);
	ustor_status st;

	memset(req, 0, sizeof(*req));
	/* Rotate over the I/O queues so queues=N exercises all of them. */
	req->queue = d->nqueues > 1 ? (uint16_t)(next_queue++ % d->nqueues) : 0;
	req->op = op;
	req->lba = lba;
	req->nblocks = nblocks;
	req->buf = buf;
	if (*broken)
		return *broken; /* a command timed out: send nothing more */
	st = ustor_block_run(d, req);
	if (st == USTOR_ERR_TIMEOUT || st == USTOR_ERR_FATAL || st == USTOR_ERR_DEVICE_GONE)
		*broken = st; /* the device may still DMA into buf: stop here */
	return st;
}

/* The self-test's path for every command: nvme_io() behind a guard that
 * refuses any write-type command outside the current scratch region. */
static ustor_status io(struct ustor_block_device *d, uint8_t op, uint64_t lba, uint32_t nblocks,
		       void *buf, struct ustor_block_req *req)
{
	if (is_write_type(op) &&
	    (lba < scratch_lba || nblocks > scratch_nblocks ||
	     lba - scratch_lba > scratch_nblocks - nblocks)) {
		memset(req, 0, sizeof(*req));
		kprintf("selftest: BUG: refusing a write outside the scratch region (lba %llu+%u)\n",
			(unsigned long long)lba, nblocks);
		return USTOR_ERR_INVALID_ARG;
	}
	return nvme_io(d, op, lba, nblocks, buf, req);
}

const char *scratch_region(const struct ustor_block_device *d, uint64_t *lba, uint64_t *nblocks)
{
	static char msg[128];

	if (kopt.scratch_set) {
		if (kopt.scratch_lba >= d->nblocks ||
		    kopt.scratch_nblocks > d->nblocks - kopt.scratch_lba) {
			ksnprintf(msg, sizeof(msg), "scratch=%llu+%llu lies outside the namespace "
				  "(%llu blocks)", (unsigned long long)kopt.scratch_lba,
				  (unsigned long long)kopt.scratch_nblocks,
				  (unsigned long long)d->nblocks);
			*lba = 0;
			*nblocks = 0;
			return msg;
		}
		*lba = kopt.scratch_lba;
		*nblocks = kopt.scratch_nblocks;
		return NULL;
	}
	*nblocks = d->nblocks < DEFAULT_SCRATCH_BLOCKS ? d->nblocks : DEFAULT_SCRATCH_BLOCKS;
	*lba = d->nblocks - *nblocks;
	return NULL;
}

/* Deterministic per-run pattern: every 8-byte word differs by LBA, position
 * and run, so stale data or a misplaced block never compares equal. */
static void fill_pattern(uint8_t *buf, uint64_t lba, uint32_t nblocks, uint32_t block_size,
			 uint64_t seed)
{
	for (uint32_t b = 0; b < nblocks; b++) {
		uint64_t *w = (uint64_t *)(void *)(buf + (size_t)b * block_size);

		for (uint32_t i = 0; i < block_size / 8u; i++) {
			uint64_t x = seed ^ ((lba + b) << 20) ^ i;

			x *= 0x9e3779b97f4a7c15ull;
			x ^= x >> 31;
			w[i] = x;
		}
	}
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static size_t first_difference(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* Buffers for one namespace's checks. */
struct bufs {
	uint8_t *save, *data, *check;
	size_t bytes;
	uint32_t chunk_blocks;
};

/* Write `save` back over [lba, lba+n) and verify it. 0 on success. */
static int restore(struct ustor_block_device *d, struct bufs *b, uint64_t lba, uint32_t n,
		   char *why, size_t why_len)
{
	struct ustor_block_req req;
	size_t bytes = (size_t)n << d->block_shift;
	ustor_status st = io(d, USTOR_BLOCK_WRITE, lba, n, b->save, &req);

	if (st == USTOR_OK)
		st = io(d, USTOR_BLOCK_READ, lba, n, b->check, &req);
	if (st != USTOR_OK) {
		ksnprintf(why, why_len, "ORIGINAL CONTENTS NOT RESTORED at lba %llu+%u: %s",
			  (unsigned long long)lba, n, describe(st, &req));
		return -1;
	}
	if (memcmp(b->check, b->save, bytes) != 0) {
		ksnprintf(why, why_len,
			  "ORIGINAL CONTENTS NOT RESTORED at lba %llu+%u: read-back differs at byte %zu",
			  (unsigned long long)lba, n, first_difference(b->check, b->save, bytes));
		return -1;
	}
	return 0;
}

/* After a failed write-type command: if the region still holds the saved
 * contents (read back and compared), leave it; else write them back. The
 * outcome goes to `tail` for the report. */
static void undo(struct ustor_block_device *d, struct bufs *b, uint64_t lba, uint32_t n,
		 char *tail, size_t tail_len)
{
	struct ustor_block_req req;
	size_t bytes = (size_t)n << d->block_shift;

	if (io(d, USTOR_BLOCK_READ, lba, n, b->check, &req) == USTOR_OK &&
	    memcmp(b->check, b->save, bytes) == 0) {
		ksnprintf(tail, tail_len, "region unchanged (read back and compared)");
		return;
	}
	if (restore(d, b, lba, n, tail, tail_len) == 0)
		ksnprintf(tail, tail_len, "original contents restored");
}

/* write-verify over the whole scratch region, chunk by chunk. Returns 1 if
 * the device refused a write (so later write checks are pointless). */
static int check_write_verify(struct ustor_block_device *d, struct bufs *b, uint64_t seed)
{
	char why[256];
	struct ustor_block_req req;
	uint64_t done = 0;
	char sz[32];

	while (done < scratch_nblocks) {
		uint64_t lba = scratch_lba + done;
		uint32_t n = scratch_nblocks - done < b->chunk_blocks ? (uint32_t)(scratch_nblocks - done)
								      : b->chunk_blocks;
		size_t bytes = (size_t)n << d->block_shift;
		ustor_status st;

		st = io(d, USTOR_BLOCK_READ, lba, n, b->save, &req);
		if (st != USTOR_OK) {
			report(d->name, "write-verify", FAIL, "reading the original at lba %llu+%u: %s",
			       (unsigned long long)lba, n, describe(st, &req));
			return 0;
		}
		fill_pattern(b->data, lba, n, d->block_size, seed);
		st = io(d, USTOR_BLOCK_WRITE, lba, n, b->data, &req);
		if (st != USTOR_OK) {
			char err[256];

			ksnprintf(err, sizeof(err), "%s", describe(st, &req));
			undo(d, b, lba, n, why, sizeof(why));
			report(d->name, "write-verify", FAIL, "write lba %llu+%u: %s; %s",
			       (unsigned long long)lba, n, err, why);
			return st == USTOR_ERR_DEVICE || st == USTOR_ERR_MEDIA ||
			       st == USTOR_ERR_READ_ONLY;
		}
		st = io(d, USTOR_BLOCK_READ, lba, n, b->check, &req);
		if (st != USTOR_OK || memcmp(b->check, b->data, bytes) != 0) {
			char what[300];

			if (st != USTOR_OK) {
				ksnprintf(what, sizeof(what), "read-back of lba %llu+%u: %s",
					  (unsigned long long)lba, n, describe(st, &req));
			} else {
				size_t off = first_difference(b->check, b->data, bytes);
				ksnprintf(what, sizeof(what),
					  "read-back differs at lba %llu byte %zu: wrote 0x%02x read 0x%02x",
					  (unsigned long long)(lba + (off >> d->block_shift)),
					  off & (d->block_size - 1u), b->data[off], b->check[off]);
			}
			if (restore(d, b, lba, n, why, sizeof(why)) != 0)
				report(d->name, "write-verify", FAIL, "%s; %s", what, why);
			else
				report(d->name, "write-verify", FAIL, "%s; original contents restored",
				       what);
			return 0;
		}
		if (restore(d, b, lba, n, why, sizeof(why)) != 0) {
			report(d->name, "write-verify", FAIL, "%s", why);
			return 0;
		}
		done += n;
	}
	uint32_t per = d->max_blocks != 0 ? d->max_blocks : 1u;
	report(d->name, "write-verify", PASS,
	       "%llu blocks at lba %llu (%s): pattern written, read back identical, original "
	       "contents restored (up to %u blocks per command, %u I/O queue(s))",
	       (unsigned long long)scratch_nblocks, (unsigned long long)scratch_lba,
	       fmt_size(sz, sizeof(sz), scratch_nblocks << d->block_shift), per,
	       d->nqueues != 0 ? d->nqueues : 1u);
	return 0;
}

/* write-zeroes / discard on the first chunk of the scratch region. */
static void check_zeroes_or_discard(struct ustor_block_device *d, struct bufs *b, uint64_t seed,
				    uint8_t op)
{
	const char *check = op == USTOR_BLOCK_WRITE_ZEROES ? "write-zeroes" : "discard";
	uint32_t n = scratch_nblocks < b->chunk_blocks ? (uint32_t)scratch_nblocks : b->chunk_blocks;
	size_t bytes = (size_t)n << d->block_shift;
	uint64_t lba = scratch_lba;
	struct ustor_block_req req;
	char why[256];
	ustor_status st;

	st = io(d, USTOR_BLOCK_READ, lba, n, b->save, &req);
	if (st != USTOR_OK) {
		report(d->name, check, FAIL, "reading the original at lba %llu+%u: %s",
		       (unsigned long long)lba, n, describe(st, &req));
		return;
	}
	/* Non-zero data first, so zeroes afterwards prove the command worked. */
	fill_pattern(b->data, lba, n, d->block_size, seed ^ op);
	st = io(d, USTOR_BLOCK_WRITE, lba, n, b->data, &req);
	if (st == USTOR_OK)
		st = io(d, op, lba, n, NULL, &req);
	if (st != USTOR_OK) {
		char err[256];

		ksnprintf(err, sizeof(err), "%s", describe(st, &req));
		undo(d, b, lba, n, why, sizeof(why));
		report(d->name, check, FAIL, "lba %llu+%u: %s; %s", (unsigned long long)lba, n, err,
		       why);
		return;
	}
	st = io(d, USTOR_BLOCK_READ, lba, n, b->check, &req);
	int zero = st == USTOR_OK && all_zero(b->check, bytes);
	int old = st == USTOR_OK && memcmp(b->check, b->data, bytes) == 0;
	char readback[300];
	if (st != USTOR_OK)
		ksnprintf(readback, sizeof(readback), "read-back failed: %s", describe(st, &req));
	else
		ksnprintf(readback, sizeof(readback), "%s",
			  zero ? "reads back as zeroes" : old ? "reads back the old data" :
			  "reads back other data");
	int restored = restore(d, b, lba, n, why, sizeof(why)) == 0;

	if (st != USTOR_OK || (op == USTOR_BLOCK_WRITE_ZEROES && !zero) || !restored)
		report(d->name, check, FAIL, "%u blocks at lba %llu: %s; %s", n,
		       (unsigned long long)lba, readback,
		       restored ? "original contents restored" : why);
	else
		report(d->name, check, PASS, "%u blocks at lba %llu %s (%s), original contents restored",
		       n, (unsigned long long)lba,
		       op == USTOR_BLOCK_WRITE_ZEROES ? "zeroed" : "deallocated", readback);
}

static void check_read0(struct ustor_block_device *d, struct bufs *b)
{
	struct ustor_block_req req;
	ustor_status st = io(d, USTOR_BLOCK_READ, 0, 1, b->check, &req);
	char parts[200] = "";
	size_t len = 0;

	if (st != USTOR_OK) {
		report(d->name, "read0", FAIL, "%s", describe(st, &req));
		return;
	}
	if (b->check[510] != 0x55 || b->check[511] != 0xaa) {
		report(d->name, "read0", PASS, "no MBR signature (bytes 510-511 are %02x %02x)",
		       b->check[510], b->check[511]);
		return;
	}
	/* MBR partition table: four 16-byte entries at 446 (type at +4,
	 * first LBA at +8, sector count at +12, little-endian). */
	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *e = b->check + 446 + 16 * i;
		uint32_t start = (uint32_t)e[8] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 |
				 (uint32_t)e[11] << 24;
		uint32_t count = (uint32_t)e[12] | (uint32_t)e[13] << 8 | (uint32_t)e[14] << 16 |
				 (uint32_t)e[15] << 24;

		if (e[4] == 0 || len >= sizeof(parts))
			continue;
		len += (size_t)ksnprintf(parts + len, sizeof(parts) - len,
					 "; partition %u type 0x%02x%s lba %u+%u", i + 1, e[4],
					 e[4] == 0xee ? " (GPT protective)" : "", start, count);
	}
	report(d->name, "read0", PASS, "MBR signature 55AA present%s", parts[0] ? parts :
	       "; no partitions");
}

static void check_peek(struct ustor_block_device *d, struct bufs *b)
{
	struct ustor_block_req req;
	char text[64];
	unsigned n = 0;
	ustor_status st;

	if (kopt.peek_lba >= d->nblocks) {
		report(d->name, "peek", SKIP, "lba %llu is beyond the end (%llu blocks)",
		       (unsigned long long)kopt.peek_lba, (unsigned long long)d->nblocks);
		return;
	}
	st = io(d, USTOR_BLOCK_READ, kopt.peek_lba, 1, b->check, &req);
	if (st != USTOR_OK) {
		report(d->name, "peek", FAIL, "lba %llu: %s", (unsigned long long)kopt.peek_lba,
		       describe(st, &req));
		return;
	}
	while (n + 1 < sizeof(text) && b->check[n] >= 0x20 && b->check[n] < 0x7f) {
		text[n] = (char)b->check[n];
		n++;
	}
	text[n] = '\0';
	if (n >= 4)
		report(d->name, "peek", PASS, "lba %llu holds \"%s\"", (unsigned long long)kopt.peek_lba,
		       text);
	else
		report(d->name, "peek", PASS, "lba %llu holds no text (starts %02x %02x %02x %02x)",
		       (unsigned long long)kopt.peek_lba, b->check[0], b->check[1], b->check[2],
		       b->check[3]);
}

void bench_qd1_run(struct ustor_block_device *d, void *buf, uint64_t ns, struct bench_result *r)
{
	uint32_t per = d->block_size >= 4096u ? 1u : 4096u / d->block_size;
	uint64_t slots = d->nblocks / per;
	uint64_t x = 0x2545f4914f6cdd1dull ^ time_now_ns(); /* xorshift64 state */
	uint64_t t0, t;

	memset(r, 0, sizeof(*r));
	r->io_bytes = per << d->block_shift;
	if (slots == 0) {
		r->st = USTOR_ERR_INVALID_ARG;
		return;
	}
	t0 = time_now_ns();
	do {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t lba = (x % slots) * per;
		r->st = nvme_io(d, USTOR_BLOCK_READ, lba, per, buf, &r->req);
		if (r->st != USTOR_OK)
			return;
		r->reads++;
		t = time_now_ns();
	} while (t - t0 < ns);
	r->ns = t - t0;
	r->iops = r->reads * 1000000000ull / r->ns;
	/* In KiB first: bytes * 100 * 1e9 would overflow 64 bits past ~180 MB. */
	r->mibs100 = ((r->reads * r->io_bytes) >> 10) * 100000000000ull / r->ns >> 10;
	r->lat_us = r->ns / 1000u / r->reads;
}

/* QD1 4 KiB random reads for about a second: a USTOR-BENCH line. */
static void bench_qd1(struct ustor_block_device *d, struct bufs *b)
{
	struct bench_result r;

	if (d->block_size < 4096u && d->nblocks < 4096u / d->block_size) {
		report(d->name, "bench", SKIP, "namespace smaller than one 4 KiB read");
		return;
	}
	bench_qd1_run(d, b->check, BENCH_NS, &r);
	if (r.st != USTOR_OK) {
		report(d->name, "bench", FAIL, "read lba %llu+%u after %llu reads: %s",
		       (unsigned long long)r.req.lba, r.req.nblocks, (unsigned long long)r.reads,
		       describe(r.st, &r.req));
		return;
	}
	kprintf("USTOR-BENCH %s qd1 iops=%llu mibs=%llu.%02llu bs=%u reads=%llu ms=%llu "
		"lat_us=%llu\n", d->name, (unsigned long long)r.iops,
		(unsigned long long)(r.mibs100 / 100u), (unsigned long long)(r.mibs100 % 100u),
		r.io_bytes, (unsigned long long)r.reads, (unsigned long long)(r.ns / 1000000u),
		(unsigned long long)r.lat_us);
}

/* The identify line: geometry and what the device offers. */
static void check_identify(struct ustor_block_device *d, struct vblk_slot *vs)
{
	char sz[32];
	char flags[96] = "";

	ksnprintf(flags, sizeof(flags), "%s%s%s%s",
		  (d->flags & USTOR_BDEV_F_VOLATILE_CACHE) ? " write-cache" : "",
		  (d->flags & USTOR_BDEV_F_DISCARD) ? " discard" : "",
		  (d->flags & USTOR_BDEV_F_WRITE_ZEROES) ? " write-zeroes" : "",
		  (d->flags & USTOR_BDEV_F_READ_ONLY) ? " read-only" : "");
	if (vs != NULL) {
		/* virtio-blk: capacity in 512-byte sectors, blk_size, topology,
		 * segment limits (VIRTIO 1.2 5.2.4), as the library decoded them. */
		const struct ustor_virtio_blk_info *in = &vs->vb.info;
		char topo[64] = "";

		if (in->physical_block_exp != 0 || in->min_io_size != 0 || in->opt_io_size != 0)
			ksnprintf(topo, sizeof(topo), ", physical block %u B, I/O size min %u opt %u blocks",
				  d->block_size << in->physical_block_exp, in->min_io_size,
				  in->opt_io_size);
		report(d->name, "identify", PASS, "%llu blocks x %u B = %s (%llu sectors), serial "
		       "\"%s\"%s, %u blocks per request (seg_max %u, size_max %u), features:%s",
		       (unsigned long long)d->nblocks, d->block_size,
		       fmt_size(sz, sizeof(sz), d->nblocks << d->block_shift),
		       (unsigned long long)in->capacity_sectors, d->serial, topo, d->max_blocks,
		       in->seg_max, in->size_max, flags[0] ? flags : " none");
		return;
	}
	struct ustor_nvme_ns *ns = d->driver;
	char md[48] = "";
	if (ns->info.ms != 0)
		ksnprintf(md, sizeof(md), " + %u metadata bytes%s", ns->info.ms,
			  ns->info.extended_md ? " (extended)" : "");
	report(d->name, "identify", PASS, "%llu blocks x %u B%s = %s, nsid %u, LBA format %u, "
	       "%u blocks per command, features:%s",
	       (unsigned long long)d->nblocks, d->block_size, md,
	       fmt_size(sz, sizeof(sz), d->nblocks << d->block_shift), ns->info.nsid,
	       ns->info.flbas_index, d->max_blocks, flags[0] ? flags : " none");
}

/* A read-only device: a write must be refused by uStor before it reaches
 * the device. The probe writes back the data just read from the first
 * scratch block, so even a write that went through changes nothing. */
static void check_ro_refusal(struct ustor_block_device *d, struct bufs *b, const char *why)
{
	struct ustor_block_req req;
	ustor_status st = io(d, USTOR_BLOCK_READ, scratch_lba, 1, b->save, &req);

	if (st != USTOR_OK) {
		report(d->name, "write-verify", SKIP, "%s", why);
		return;
	}
	st = io(d, USTOR_BLOCK_WRITE, scratch_lba, 1, b->save, &req);
	if (st == USTOR_ERR_READ_ONLY)
		report(d->name, "write-verify", SKIP, "%s; a write of lba %llu was refused by uStor "
		       "(USTOR_ERR_READ_ONLY) without reaching the device", why,
		       (unsigned long long)scratch_lba);
	else if (st == USTOR_OK)
		report(d->name, "write-verify", FAIL, "%s, yet uStor carried out a write of lba %llu "
		       "(it wrote back the data read there)", why, (unsigned long long)scratch_lba);
	else
		report(d->name, "write-verify", FAIL, "%s; a write of lba %llu reached the device, "
		       "which answered %s", why, (unsigned long long)scratch_lba, describe(st, &req));
}

static void test_namespace(struct ustor_block_device *d)
{
	static const char *const io_checks[] = { "read0", "write-verify", "flush", "write-zeroes",
						 "discard" };
	struct vblk_slot *vs = vblk_of(d);
	ustor_status *broken = broken_of(d);
	const char *failed_earlier = vs != NULL ? "device failed earlier" : "controller failed earlier";
	struct bufs b;
	uint64_t seed = rdtsc() ^ 0x7553746f72ull; /* differs every run */
	const char *no_write = NULL;
	int device_ro = 0;
	int writes_refused = 0;

	check_identify(d, vs);
	if (d->flags & USTOR_BDEV_F_UNUSABLE) {
		const struct ustor_nvme_ns *ns = vs == NULL ? d->driver : NULL;

		for (unsigned i = 0; i < sizeof(io_checks) / sizeof(io_checks[0]); i++)
			report(d->name, io_checks[i], SKIP, "%s I/O refused by uStor: %s%s",
			       vs != NULL ? "device" : "namespace", ustor_status_name(d->unusable_reason),
			       ns != NULL && ns->info.ms ? " (LBA format with metadata)" : "");
		return;
	}

	b.bytes = d->block_size > CHUNK_BYTES ? d->block_size : CHUNK_BYTES;
	b.chunk_blocks = (uint32_t)(b.bytes >> d->block_shift);
	b.save = page_alloc(b.bytes, PAGE_SIZE);
	b.data = page_alloc(b.bytes, PAGE_SIZE);
	b.check = page_alloc(b.bytes, PAGE_SIZE);
	if (b.save == NULL || b.data == NULL || b.check == NULL) {
		report(d->name, "read0", FAIL, "out of DMA pages for test buffers");
		goto out;
	}

	/* The scratch region: from the command line, else the last 64 blocks. */
	no_write = scratch_region(d, &scratch_lba, &scratch_nblocks);
	if (kopt.read_only) {
		no_write = "read-only mode (ro=1)";
	} else if (d->flags & USTOR_BDEV_F_READ_ONLY) {
		device_ro = no_write == NULL;
		no_write = vs != NULL ? "the device is read-only (VIRTIO_BLK_F_RO)"
				      : "the namespace is read-only";
	}

	check_read0(d, &b);
	if (kopt.peek_set && !*broken)
		check_peek(d, &b);

	if (*broken)
		report(d->name, "write-verify", SKIP, "%s: %s", failed_earlier,
		       ustor_status_name(*broken));
	else if (device_ro)
		check_ro_refusal(d, &b, no_write);
	else if (no_write != NULL)
		report(d->name, "write-verify", SKIP, "%s", no_write);
	else
		writes_refused = check_write_verify(d, &b, seed);

	if (*broken) {
		report(d->name, "flush", SKIP, "%s: %s", failed_earlier, ustor_status_name(*broken));
	} else {
		struct ustor_block_req req;
		ustor_status st = io(d, USTOR_BLOCK_FLUSH, 0, 0, NULL, &req);

		if (st == USTOR_OK)
			report(d->name, "flush", PASS, "%s",
			       (d->flags & USTOR_BDEV_F_VOLATILE_CACHE)
				       ? "volatile write cache flushed"
				       : "completed (no volatile write cache)");
		else
			report(d->name, "flush", FAIL, "%s", describe(st, &req));
	}

	static const uint8_t ops[] = { USTOR_BLOCK_WRITE_ZEROES, USTOR_BLOCK_DISCARD };
	for (unsigned i = 0; i < 2; i++) {
		const char *check = ops[i] == USTOR_BLOCK_WRITE_ZEROES ? "write-zeroes" : "discard";
		uint32_t flag = ops[i] == USTOR_BLOCK_WRITE_ZEROES ? USTOR_BDEV_F_WRITE_ZEROES
								   : USTOR_BDEV_F_DISCARD;

		if (!(d->flags & flag) && vs != NULL)
			report(d->name, check, SKIP, "not offered by the device (VIRTIO_BLK_F_%s)",
			       ops[i] == USTOR_BLOCK_WRITE_ZEROES ? "WRITE_ZEROES" : "DISCARD");
		else if (!(d->flags & flag))
			report(d->name, check, SKIP, "not supported by the device (Identify ONCS)");
		else if (*broken)
			report(d->name, check, SKIP, "%s: %s", failed_earlier, ustor_status_name(*broken));
		else if (no_write != NULL)
			report(d->name, check, SKIP, "%s", no_write);
		else if (writes_refused)
			report(d->name, check, SKIP, "the device refused writes (see write-verify)");
		else
			check_zeroes_or_discard(d, &b, seed, ops[i]);
	}

	if (kopt.bench_qd1 && !*broken)
		bench_qd1(d, &b);
out:
	if (*broken) {
		/* A command timed out and was abandoned: the device may still DMA
		 * into these pages. Never reuse them. */
		kprintf("selftest: %s: keeping the test buffers allocated after %s\n", d->name,
			ustor_status_name(*broken));
		return;
	}
	if (b.save != NULL)
		page_free(b.save, b.bytes);
	if (b.data != NULL)
		page_free(b.data, b.bytes);
	if (b.check != NULL)
		page_free(b.check, b.bytes);
}

/* MSI-X interrupt handler: count and return (irq_dispatch sends the EOI).
 * It does NOT poll the queue: interrupts only fire inside irq_wait(), i.e.
 * inside the HAL's yield, called from a library wait loop that polls again
 * as soon as the CPU wakes. Polling from here would re-enter the library. */
static void nvme_msix_handler(void *arg, unsigned vector)
{
	struct ctrl_slot *cs = arg;

	cs->irq_count[(vector - cs->irq_vec_base) % IRQ_VEC_NVME_PER_CTRL]++;
}

/* Interrupt mode: program the controller's MSI-X table BEFORE
 * ustor_nvme_ctrl_init creates its I/O completion queues with interrupts
 * enabled (HARDWARE.md item 8: a vector set up afterwards can lose the
 * first completion's interrupt). With cfg.use_irq the library creates I/O
 * CQ q on vector ustor_nvme_irq_vector(ctrl, q); entry 0 is the admin
 * queue's (always interrupt-enabled by the NVMe spec; the library polls it,
 * its interrupt just ends irq_wait() sooner). On any problem the controller
 * stays in polling mode and the irq check says why. */
static void ctrl_irq_setup(struct ctrl_slot *cs, unsigned index, struct ustor_nvme_config *cfg)
{
	const char *err;
	uint16_t nq = 0;

	if (!apic_active()) {
		cs->irq_none = "no local APIC (see the apic: line); completions are polled";
		return;
	}
	err = pci_msix_init(cs->pci.bdf, &cs->msix);
	if (err != NULL) {
		ksnprintf(cs->irq_why, sizeof(cs->irq_why), "%s; completions are polled", err);
		cs->irq_none = cs->irq_why;
		return;
	}
	/* How many I/O queues have a table entry (and one of our IDT vectors)?
	 * Ask no more of the library than that. ustor_nvme_irq_vector() only
	 * does arithmetic on the queue index, so it may be called before init. */
	while (nq < USTOR_NVME_MAX_IO_QUEUES) {
		uint16_t e = ustor_nvme_irq_vector(&cs->ctrl, nq);

		if (e >= cs->msix.entries || e >= IRQ_VEC_NVME_PER_CTRL)
			break;
		nq++;
	}
	if (nq == 0) {
		ksnprintf(cs->irq_why, sizeof(cs->irq_why), "the MSI-X table has only %u entry; "
			  "completions are polled", cs->msix.entries);
		cs->irq_none = cs->irq_why;
		return;
	}
	if (cfg->io_queues > nq) {
		kprintf("selftest: %s: MSI-X table has %u entries: asking for %u I/O queue(s), "
			"not %u\n", cs->name, cs->msix.entries, nq, cfg->io_queues);
		cfg->io_queues = nq;
	}

	/* Message address: the local APIC of this CPU, physical destination
	 * mode (Intel SDM vol. 3A, 11.11.1). Data: fixed delivery, edge
	 * trigger, our vector (11.11.2). */
	uint64_t addr = 0xfee00000ull | ((uint64_t)apic_id() << 12);
	uint16_t last = ustor_nvme_irq_vector(&cs->ctrl, (uint16_t)(nq - 1u));

	cs->irq_vec_base = IRQ_VEC_NVME_BASE + IRQ_VEC_NVME_PER_CTRL * index;
	for (uint16_t e = 0; e <= last; e++) {
		irq_register(cs->irq_vec_base + e, nvme_msix_handler, cs); /* handler first */
		/* then unmask (irq=masked: only the admin entry) */
		pci_msix_set(&cs->msix, e, addr, cs->irq_vec_base + e, e == 0 || !kopt.irq_masked);
	}
	pci_msix_enable(&cs->msix, 1);   /* MSI-X Enable on, Function Mask off */
	cs->irq_queues = nq;
	cs->irq_on = 1;
	cfg->use_irq = 1;                /* now the library may create CQs with IEN=1 */
	cfg->irq_vectors = (uint32_t)nq + 1u; /* entries we programmed: the library never
					      * creates an I/O CQ on a vector beyond them */
	kprintf("selftest: %s: MSI-X table %u entries at BAR%u+0x%x (0x%llx); entries 0-%u -> "
		"vectors 0x%02x-0x%02x on APIC %u%s\n", cs->name, cs->msix.entries, cs->msix.bir,
		cs->msix.table_offset, (unsigned long long)cs->msix.table_phys, last,
		cs->irq_vec_base, cs->irq_vec_base + last, apic_id(),
		kopt.irq_masked ? " (irq=masked: I/O entries left masked)" : "");
}

static void ctrl_irq_off(struct ctrl_slot *cs)
{
	if (cs->irq_on)
		pci_msix_enable(&cs->msix, 0);
	cs->irq_on = 0;
}

static void ctrl_bring_up(struct ctrl_slot *cs, unsigned index)
{
	const struct pci_nvme *p = &cs->pci;
	struct ustor_nvme_config cfg;
	char sz[32];
	ustor_status st;

	ksnprintf(cs->name, sizeof(cs->name), "nvme%u", index);
	kprintf("pci: %02x:%02x.%x [%04x:%04x] NVMe controller, BAR0 0x%llx (%s, %s) -> %s\n",
		PCI_BUS(p->bdf), PCI_DEV(p->bdf), PCI_FN(p->bdf), p->vendor, p->device,
		(unsigned long long)p->bar0, fmt_size(sz, sizeof(sz), p->bar0_size),
		p->bar0_io ? "I/O" : p->bar0_64bit ? "64-bit" : "32-bit", cs->name);
	if (p->bar0_io) {
		report(cs->name, "init", FAIL, "BAR0 is an I/O BAR; NVMe registers need memory");
		return;
	}
	if (p->bar0 == 0 || p->bar0_size == 0) {
		report(cs->name, "init", FAIL, "BAR0 is not assigned (firmware left it at 0; this "
		       "kernel does not assign BARs)");
		return;
	}
	/* Map the register file uncached; refuse what the identity map cannot reach. */
	if (mm_map_uncached(p->bar0, p->bar0_size) != 0) {
		report(cs->name, "init", FAIL, "BAR0 0x%llx lies above the 4 GiB identity map",
		       (unsigned long long)p->bar0);
		return;
	}

	ustor_nvme_config_default(&cfg);
	cfg.index = (uint8_t)index;      /* names "nvme<index>n<nsid>" */
	cfg.use_pci_cfg = 1;             /* let uStor switch on Memory Space + Bus Master */
	cfg.pci_addr = p->bdf;           /* handed back to hal.pci_cfg_* */
	cfg.bar_bytes = p->bar0_size > 0xffffffffu ? 0xffffffffu : (uint32_t)p->bar0_size;
					 /* doorbells must fit the BAR we mapped */
	if (kopt.queues != 0)
		cfg.io_queues = kopt.queues;
	if (kopt.depth != 0)
		cfg.io_queue_depth = kopt.depth;
	if (kopt.io_timeout_ms != 0)
		cfg.io_timeout_ms = kopt.io_timeout_ms;
	ustor_nvme_quirks(&cfg, p->vendor, p->device);
	if (kopt.irq)
		ctrl_irq_setup(cs, index, &cfg); /* sets cfg.use_irq when it worked */

	/* yield sleeps only when this controller's interrupts can wake us:
	 * otherwise every wait would last a whole timer tick. */
	port_hal_init(&cs->hal, &cs->port, kopt.log_level, cs->irq_on);
	cs->port.index = index;
	nvme_knobs_apply(cs, &cfg);      /* dbbuf=, completion= */
	bench_nvme_config(&cfg);         /* bench=fio: per-CPU queues (bench.c) */
	st = ustor_nvme_ctrl_init(&cs->ctrl, &cs->hal, (volatile void *)(uintptr_t)p->bar0, &cfg);
	if (st != USTOR_OK) {
		char leak[96] = "";

		ctrl_irq_off(cs);
		if (cs->port.dma_allocs != 0)
			ksnprintf(leak, sizeof(leak), "; uStor still holds %u DMA allocations",
				  cs->port.dma_allocs);
		report(cs->name, "init", FAIL, "ustor_nvme_ctrl_init: %s%s", describe(st, NULL), leak);
		return;
	}
	cs->up = 1;
	const struct ustor_nvme_ctrl_info *in = &cs->ctrl.info;
	uint32_t ver = in->ver != 0 ? in->ver : cs->ctrl.vs;
	report(cs->name, "init", PASS,
	       "model \"%s\" serial \"%s\" firmware \"%s\", NVMe %u.%u.%u, %u namespace(s), "
	       "%u I/O queue(s) x %u entries, max transfer %s, pci %02x:%02x.%x [%04x:%04x]",
	       in->model, in->serial, in->firmware, ver >> 16, (ver >> 8) & 0xffu, ver & 0xffu,
	       ustor_nvme_ns_count(&cs->ctrl), cs->ctrl.nio, cs->ctrl.io_depth,
	       fmt_size(sz, sizeof(sz), cs->ctrl.max_transfer), PCI_BUS(p->bdf), PCI_DEV(p->bdf),
	       PCI_FN(p->bdf), p->vendor, p->device);
	if (cs->ctrl.ns_skipped != 0)
		kprintf("selftest: %s: %u more namespace(s) than USTOR_NVME_MAX_NAMESPACES, not "
			"tested\n", cs->name, cs->ctrl.ns_skipped);
}

/* irq: did MSI-X interrupts from the I/O queues actually arrive during the
 * namespace checks? (Counted per MSI-X entry by nvme_msix_handler.) */
static void check_irq(struct ctrl_slot *cs)
{
	char per[200] = "";
	size_t len = 0;
	uint64_t io = 0;

	if (!kopt.irq) {
		report(cs->name, "irq", SKIP, "polling mode (irq=1 uses MSI-X interrupts)");
		return;
	}
	if (!cs->irq_on) {
		report(cs->name, "irq", SKIP, "%s", cs->irq_none != NULL ? cs->irq_none : "not set up");
		return;
	}
	for (uint16_t q = 0; q < cs->ctrl.nio && q < cs->irq_queues; q++) {
		uint16_t e = ustor_nvme_irq_vector(&cs->ctrl, q);

		io += cs->irq_count[e];
		if (len < sizeof(per))
			len += (size_t)ksnprintf(per + len, sizeof(per) - len, "%squeue %u entry %u "
						 "vector 0x%02x: %u", q ? ", " : "", q, e,
						 cs->irq_vec_base + e, cs->irq_count[e]);
	}
	if (io == 0)
		report(cs->name, "irq", FAIL, "no MSI-X interrupt arrived from the I/O queues (%s); "
		       "completions were polled, the LAPIC timer woke the CPU %llu times "
		       "(HARDWARE.md item 8)", per, (unsigned long long)apic_timer_ticks());
	else
		report(cs->name, "irq", PASS, "%llu MSI-X interrupts from the I/O queues during the "
		       "checks (%s); admin queue entry 0: %u; LAPIC timer interrupts %llu, unexpected "
		       "interrupts %llu", (unsigned long long)io, per, cs->irq_count[0],
		       (unsigned long long)apic_timer_ticks(), (unsigned long long)irq_unexpected());
}

static void check_smart(struct ctrl_slot *cs)
{
	struct ustor_nvme_smart_info s;
	ustor_status st;
	char warn[160] = "";

	if (cs->broken) {
		report(cs->name, "smart", SKIP, "controller failed earlier: %s",
		       ustor_status_name(cs->broken));
		return;
	}
	st = ustor_nvme_get_smart(&cs->ctrl, 0xffffffffu, &s);
	if (st != USTOR_OK) {
		report(cs->name, "smart", FAIL, "ustor_nvme_get_smart: %s", describe(st, NULL));
		return;
	}
	if (s.critical_warning != 0) {
		char bits[96];

		smart_warning_text(s.critical_warning, bits, sizeof(bits));
		ksnprintf(warn, sizeof(warn), "CRITICAL WARNING 0x%02x:%s (reported, not a "
			  "test failure); ", s.critical_warning, bits);
	}
	report(cs->name, "smart", PASS,
	       "%scritical warning 0x%02x, temperature %d C, spare %u%% (threshold %u%%), used %u%%, "
	       "power-on %llu h, power cycles %llu, unsafe shutdowns %llu, media errors %llu, "
	       "host reads %llu, host writes %llu",
	       warn, s.critical_warning, (int)s.temperature_k - 273, s.avail_spare, s.spare_thresh,
	       s.percent_used, (unsigned long long)s.power_on_hours,
	       (unsigned long long)s.power_cycles, (unsigned long long)s.unsafe_shutdowns,
	       (unsigned long long)s.media_errors, (unsigned long long)s.host_reads,
	       (unsigned long long)s.host_writes);
}

static void check_shutdown(struct ctrl_slot *cs)
{
	ustor_status st = ustor_nvme_ctrl_shutdown(&cs->ctrl);

	ctrl_irq_off(cs); /* queues are gone: mask the entries, MSI-X off */
	if (st != USTOR_OK) {
		report(cs->name, "shutdown", FAIL, "ustor_nvme_ctrl_shutdown: %s", describe(st, NULL));
		return;
	}
	if (cs->port.dma_allocs != 0 || cs->port.bad_frees != 0) {
		report(cs->name, "shutdown", FAIL, "controller stopped, but uStor still holds %u DMA "
		       "allocations (%llu bytes) and made %u bad frees", cs->port.dma_allocs,
		       (unsigned long long)cs->port.dma_bytes, cs->port.bad_frees);
		return;
	}
	report(cs->name, "shutdown", PASS, "CSTS.SHST complete; all %u DMA allocations returned",
	       cs->port.dma_total);
}

unsigned selftest_bring_up(void)
{
	struct pci_nvme found[MAX_CTRLS];

	n_ctrls = pci_find_nvme(found, MAX_CTRLS);
	kprintf("selftest: %u NVMe controller(s); options: scratch=%s ro=%d queues=%u depth=%u "
		"mode=%s bench=%s\n", n_ctrls, kopt.scratch_set ? "custom" : "last-64-blocks",
		kopt.read_only, kopt.queues, kopt.depth, kopt.irq ? "irq (MSI-X)" : "poll",
		kopt.bench_qd1 ? "qd1" : "none");

	/* Bring every controller up first: they then work side by side. */
	for (unsigned i = 0; i < n_ctrls; i++) {
		ctrls[i].pci = found[i];
		ctrl_bring_up(&ctrls[i], i);
	}
	vblk_bring_up_all();
	if (n_ctrls == 0 && n_vblks == 0)
		report("pci", "discovery", FAIL, "no NVMe controller (class 01h/08h/02h) and no "
		       "virtio-blk device found");
	return n_ctrls;
}

void selftest_checks(void)
{
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].up)
			continue;
		for (uint32_t k = 0; k < ustor_nvme_ns_count(&ctrls[i].ctrl); k++)
			test_namespace(ustor_nvme_ns_bdev(&ctrls[i].ctrl, k));
		if (ustor_nvme_ns_count(&ctrls[i].ctrl) == 0)
			kprintf("selftest: %s has no active namespace\n", ctrls[i].name);
	}
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].up)
			continue;
		check_irq(&ctrls[i]);
		nvme_knobs_check(&ctrls[i]);
		check_smart(&ctrls[i]);
	}
	for (unsigned i = 0; i < n_vblks; i++)
		if (vblks[i].up)
			test_namespace(ustor_virtio_blk_bdev(&vblks[i].vb));
}

void selftest_shutdown(void)
{
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].up)
			continue;
		check_shutdown(&ctrls[i]);
		ctrls[i].up = 0;
	}
	vblk_shutdown_all();
}

unsigned selftest_done(void)
{
	kprintf("USTOR-DONE pass=%u fail=%u skip=%u\n", n_pass, n_fail, n_skip);
	return n_fail;
}

unsigned selftest_run(void)
{
	selftest_bring_up();
	selftest_checks();
	selftest_shutdown();
	return selftest_done();
}

void smart_warning_text(uint8_t cw, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned b = 0; b < 8; b++) {
		const char *name = ustor_nvme_smart_warning_name((uint8_t)(1u << b));

		if ((cw & (1u << b)) && len < size)
			len += (size_t)ksnprintf(buf + len, size - len, " %s",
						 name != NULL ? name : "reserved-bit");
	}
}
