/* SPDX-License-Identifier: MIT */
/*
 * Data-integrity soak of the x86_64 example kernel (soak=<mode>): write and
 * read-verify self-describing blocks across a disk with many requests in
 * flight through the asynchronous API (ustor_block_submit, done callbacks,
 * ustor_block_poll), on every NVMe namespace and virtio-blk disk.
 *
 * Every block carries a 24-byte header (magic "USOK", generation, LBA,
 * seed, checksum of the whole block) and a payload derived from (lba, gen,
 * seed), so a block read back proves by itself what it is.
 *
 * Modes (the region is soak_blocks= blocks from LBA 0, default the whole disk):
 *   soak=run     passes of: write gen g over the region (request sizes and
 *                buffer offsets rotate), flush, read it back in other sizes
 *                and verify every block is gen g; odd passes visit the disk
 *                in a scattered order of 512-block chunks. soak_passes=
 *                (default 1) or soak_secs= (keep going until then).
 *   soak=fill    the power-cut writer: gen gen= (default 1), then gen+1, ...
 *                in checkpoints of soak_ckpt= blocks; after each checkpoint
 *                every request is complete, a flush succeeded, and the line
 *                `USTOR-FLUSHED <dev> gen G upto L` says: blocks [0, L) hold
 *                gen G durably, blocks from L on hold gen G-1 durably (or
 *                were never written, G = 1). Runs until killed or soak_secs=.
 *   soak=verify  after a power cut: gen=G upto=L from the last FLUSHED line;
 *                every block below L must be a valid block of gen >= G, every
 *                other one of gen >= G-1 (or all zeroes when G = 1).
 * Other options: soak_qd= requests in flight (default 32), soak_seed=,
 * hotplug=1 (power a hotplug slot off when its attention button is pressed,
 * hotplug.c), timeout= (main.c) bounds every request.
 *
 * Lines (and the scripts in tests/qemu/faults assert them):
 *   USTOR-FAULT <dev> <op> lba L+n: <status> (in flight: K)  a request failed
 *   USTOR-BADLBA <dev> <lba> <status>    a failed read, retried block by block
 *   USTOR-CORRUPT <dev> lba L: <why>     a read that succeeded with wrong data
 *   USTOR-SOAK <dev> ...                 progress and the summary figures
 *   USTOR-TEST <dev> soak PASS|FAIL      no fault and no corruption
 *   USTOR-TEST <dev> integrity PASS|FAIL no corruption and every request
 *                                        accounted for (completed or cancelled)
 */
#include "nvme_ctrls.h"
#include "soak.h"

#define SOAK_RUN 1
#define SOAK_FILL 2
#define SOAK_VERIFY 3

#define MAX_SLOTS 64
#define MAX_REQ_BYTES (128u * 1024u)
#define SLOT_BYTES (MAX_REQ_BYTES + 2u * PAGE_SIZE)
#define MAX_BISECT 64      /* failed reads retried block by block */
#define MAX_PRINT 16       /* lines of each kind printed per walk */
#define MAGIC 0x4b4f5355u  /* "USOK" */
#define HDR_BYTES 24u

static struct {
	int mode;
	uint32_t secs, passes, qd;
	uint64_t blocks, ckpt, upto;
	uint32_t gen, seed;
	int hotplug;
} so = { 0, 0, 1, 32, 0, 0, 0, 1, 0x5eed1234u, 0 };

static int parse_num(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > 0xffffffffffffull)
			return -1;
		v = v * 10u + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int is(const char *s, const char *end, const char *lit)
{
	size_t n = kstrlen(lit);
	return (size_t)(end - s) == n && memcmp(s, lit, n) == 0;
}

int soak_option(const char *key, const char *kend, const char *val, const char *vend)
{
	uint64_t v = 0;
	int num = parse_num(val, vend, &v) == 0;

	if (is(key, kend, "soak")) {
		so.mode = is(val, vend, "run") ? SOAK_RUN : is(val, vend, "fill") ? SOAK_FILL :
			  is(val, vend, "verify") ? SOAK_VERIFY : 0;
		if (so.mode == 0)
			kprintf("soak: unknown mode ignored (run, fill, verify)\n");
	} else if (is(key, kend, "soak_secs") && num) {
		so.secs = (uint32_t)v;
	} else if (is(key, kend, "soak_passes") && num && v >= 1) {
		so.passes = (uint32_t)v;
	} else if (is(key, kend, "soak_qd") && num && v >= 1) {
		so.qd = v > MAX_SLOTS ? MAX_SLOTS : (uint32_t)v;
	} else if (is(key, kend, "soak_blocks") && num) {
		so.blocks = v;
	} else if (is(key, kend, "soak_ckpt") && num) {
		so.ckpt = v;
	} else if (is(key, kend, "soak_seed") && num) {
		so.seed = (uint32_t)v;
	} else if (is(key, kend, "gen") && num && v >= 1 && v < 0xffffffffu) {
		so.gen = (uint32_t)v;
	} else if (is(key, kend, "upto") && num) {
		so.upto = v;
	} else if (is(key, kend, "hotplug") && num) {
		so.hotplug = v != 0;
	} else {
		return 0;
	}
	return 1;
}

int soak_wanted(void)
{
	return so.mode != 0;
}

/* ---- block format ------------------------------------------------------------ */
static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* FNV-1a over 64-bit words, the checksum field (bytes 20-23) counted as 0. */
static uint32_t block_sum(const uint8_t *b, uint32_t bs)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint32_t i = 0; i < bs; i += 8) {
		uint64_t w = get64(b + i);
		if (i == 16)
			w &= 0xffffffffull;
		h = (h ^ w) * 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static void block_fill(uint8_t *b, uint32_t bs, uint64_t lba, uint32_t gen)
{
	uint64_t x = (lba * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)gen << 32) ^ so.seed ^ 1u;

	put32(b, MAGIC);
	put32(b + 4, gen);
	put32(b + 8, (uint32_t)lba);
	put32(b + 12, (uint32_t)(lba >> 32));
	put32(b + 16, so.seed);
	put32(b + 20, 0);
	for (uint32_t i = HDR_BYTES; i < bs; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		put32(b + i, (uint32_t)x);
		put32(b + i + 4, (uint32_t)(x >> 32));
	}
	put32(b + 20, block_sum(b, bs));
}

/* What a block read back is: its generation (>= 1), 0 if all zeroes, or a
 * negative reason it is not a valid block of `lba`. */
#define BLK_BAD_MAGIC (-1)
#define BLK_BAD_LBA (-2)
#define BLK_BAD_SEED (-3)
#define BLK_BAD_SUM (-4)
static long block_check(const uint8_t *b, uint32_t bs, uint64_t lba)
{
	if (get32(b) != MAGIC) {
		for (uint32_t i = 0; i < bs; i++)
			if (b[i] != 0)
				return BLK_BAD_MAGIC;
		return 0;
	}
	if (get64(b + 8) != lba)
		return BLK_BAD_LBA;
	if (get32(b + 16) != so.seed)
		return BLK_BAD_SEED;
	if (get32(b + 20) != block_sum(b, bs) || get32(b + 4) == 0)
		return BLK_BAD_SUM;
	return (long)get32(b + 4);
}

static const char *check_text(long r)
{
	switch (r) {
	case 0: return "all zeroes (never written)";
	case BLK_BAD_MAGIC: return "no block header (foreign data)";
	case BLK_BAD_LBA: return "header names another LBA (misplaced write)";
	case BLK_BAD_SEED: return "header from another run (stale data)";
	case BLK_BAD_SUM: return "checksum mismatch (torn or corrupted block)";
	default: return "wrong generation";
	}
}

/* ---- the request pool ------------------------------------------------------------ */
struct slot {
	struct ustor_block_req req;
	uint8_t *mem;
	uint8_t *buf;
	uint64_t t_submit;
	int busy;               /* submitted, done() not yet seen */
	int dead;               /* cancelled: the device may still DMA into it */
	volatile int done;
};

struct soak {
	struct ustor_block_device *d;
	const char *name;
	struct slot slot[MAX_SLOTS];
	uint32_t nslots;
	uint8_t *unknown;       /* per block: the last write of it failed */
	uint64_t region;        /* blocks under test, from LBA 0 */
	uint32_t max_blocks;    /* per request */
	uint64_t timeout_ns;
	ustor_status broken;    /* timeout/fatal/gone: submit nothing more */
	unsigned rot;           /* size/offset rotation */
	uint16_t next_q;
	/* the walk in progress */
	uint8_t op;
	uint32_t gen;
	uint64_t lo_gen_below;  /* verify: blocks below this need gen >= gen, above gen-1 */
	int exact;              /* run mode: reads must be exactly gen */
	unsigned printed;       /* CORRUPT lines in this walk */
	unsigned fault_printed; /* FAULT lines in this walk */
	/* figures */
	uint64_t submitted, ok, failed, cancelled, busy_retries;
	uint32_t inflight, max_inflight;
	uint64_t blocks_written, blocks_read, verified, corrupt, unverifiable, bad_lbas;
	uint64_t per_gen[4];    /* verify: blocks of gen G-1, G, > G, zero */
	uint64_t lat_max_ns, lat_sum_ns, lat_n;
	unsigned bisected;
	int hotplug_done;
	uint32_t inflight_at_removal;
	uint64_t faults_after_first, ok_after_first;
	int seen_fault;
};

static struct soak S;

static void soak_done(struct ustor_block_req *r)
{
	struct slot *s = r->user;
	s->done = 1;
}

static const char *op_name(uint8_t op)
{
	return op == USTOR_BLOCK_READ ? "read" : op == USTOR_BLOCK_WRITE ? "write" :
	       op == USTOR_BLOCK_FLUSH ? "flush" : "other";
}

static int fatal_status(ustor_status st)
{
	return st == USTOR_ERR_TIMEOUT || st == USTOR_ERR_FATAL || st == USTOR_ERR_DEVICE_GONE ||
	       st == USTOR_ERR_BAD_DEVICE;
}

static void poll_all(struct soak *k)
{
	for (uint16_t q = 0; q < k->d->nqueues; q++)
		ustor_block_poll(k->d, q);
	if (so.hotplug && !k->hotplug_done && hotplug_poll()) {
		k->hotplug_done = 1;
		k->inflight_at_removal = k->inflight;
		kprintf("USTOR-HOTPLUG %s slot powered off with %u request(s) in flight "
			"(%llu submitted, %llu completed so far)\n", k->name, k->inflight,
			(unsigned long long)k->submitted, (unsigned long long)(k->ok + k->failed));
	}
}

/* Verify the blocks of a finished read. */
static void verify_blocks(struct soak *k, const uint8_t *buf, uint64_t lba, uint32_t n)
{
	uint32_t bs = k->d->block_size;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t b = lba + i;
		long r = block_check(buf + (size_t)i * bs, bs, b);
		int good;

		if (k->unknown[b]) {
			k->unverifiable++;
			continue;
		}
		if (k->exact) {
			good = r == (long)k->gen;
		} else {
			uint32_t need = b < k->lo_gen_below ? k->gen : k->gen - 1;
			good = need == 0 ? r >= 0 : r >= (long)need;
			if (r == 0)
				k->per_gen[3]++;
			else if (r > 0 && (uint32_t)r < k->gen)
				k->per_gen[0]++;
			else if (r == (long)k->gen)
				k->per_gen[1]++;
			else if (r > 0)
				k->per_gen[2]++;
		}
		if (good) {
			k->verified++;
			continue;
		}
		k->corrupt++;
		if (k->printed++ < MAX_PRINT)
			kprintf("USTOR-CORRUPT %s lba %llu: %s (read gen %ld, expected %s%u)\n", k->name,
				(unsigned long long)b, check_text(r), r > 0 ? r : 0L,
				k->exact ? "" : ">= ", k->exact || b < k->lo_gen_below ? k->gen : k->gen - 1);
	}
}

/* A read failed: retry its blocks one at a time to name the bad LBAs, and
 * verify the ones that read fine. */
static void bisect_read(struct soak *k, struct slot *s)
{
	struct ustor_block_req req;

	for (uint32_t i = 0; i < s->req.nblocks; i++) {
		uint64_t b = s->req.lba + i;
		ustor_status st = nvme_io(k->d, USTOR_BLOCK_READ, b, 1, s->buf, &req);

		if (st == USTOR_OK) {
			verify_blocks(k, s->buf, b, 1);
			continue;
		}
		k->bad_lbas++;
		if (k->bad_lbas <= MAX_PRINT * 4)
			kprintf("USTOR-BADLBA %s %llu %s\n", k->name, (unsigned long long)b,
				describe(st, &req));
		if (fatal_status(st)) {
			k->broken = st;
			return;
		}
	}
}

static void finish(struct soak *k, struct slot *s)
{
	uint64_t lat = time_now_ns() - s->t_submit;
	ustor_status st = s->req.status;

	s->busy = 0;
	s->done = 0;
	k->inflight--;
	if (lat > k->lat_max_ns)
		k->lat_max_ns = lat;
	k->lat_sum_ns += lat;
	k->lat_n++;
	if (st == USTOR_OK) {
		k->ok++;
		if (k->seen_fault)
			k->ok_after_first++;
		if (s->req.op == USTOR_BLOCK_READ) {
			k->blocks_read += s->req.nblocks;
			verify_blocks(k, s->buf, s->req.lba, s->req.nblocks);
		} else {
			k->blocks_written += s->req.nblocks;
		}
		return;
	}
	k->failed++;
	if (k->seen_fault)
		k->faults_after_first++;
	k->seen_fault = 1;
	if (k->fault_printed++ < MAX_PRINT)
		kprintf("USTOR-FAULT %s %s lba %llu+%u: %s (in flight: %u)\n", k->name,
			op_name(s->req.op), (unsigned long long)s->req.lba, s->req.nblocks,
			describe(st, &s->req), k->inflight + 1);
	if (fatal_status(st) && k->broken == USTOR_OK)
		k->broken = st;
	if (s->req.op == USTOR_BLOCK_WRITE) {
		for (uint32_t i = 0; i < s->req.nblocks; i++)
			k->unknown[s->req.lba + i] = 1;
	} else if (s->req.op == USTOR_BLOCK_READ) {
		if (k->broken == USTOR_OK && k->bisected < MAX_BISECT) {
			k->bisected++;
			bisect_read(k, s);
		} else {
			k->unverifiable += s->req.nblocks;
		}
	}
}

/* Requests older than the bound: cancel them (the library's verdict), and
 * never use their buffers again. */
static void expire(struct soak *k)
{
	uint64_t now = time_now_ns();

	for (uint32_t i = 0; i < k->nslots; i++) {
		struct slot *s = &k->slot[i];
		ustor_status st;

		if (!s->busy || s->done || now - s->t_submit < k->timeout_ns)
			continue;
		st = k->d->ops->cancel(k->d, &s->req);
		if (s->req.state == USTOR_REQ_STATE_DONE && st == s->req.status && !fatal_status(st)) {
			s->done = 1; /* it had completed: deliver it normally */
			continue;
		}
		s->busy = 0;
		s->dead = 1;
		k->inflight--;
		k->cancelled++;
		k->seen_fault = 1;
		if (k->fault_printed++ < MAX_PRINT)
			kprintf("USTOR-FAULT %s %s lba %llu+%u: no completion after %llu ms, cancel "
				"says %s (in flight: %u)\n", k->name, op_name(s->req.op),
				(unsigned long long)s->req.lba, s->req.nblocks,
				(unsigned long long)(k->timeout_ns / 1000000u), ustor_status_name(st),
				k->inflight + 1);
		if (k->broken == USTOR_OK)
			k->broken = fatal_status(st) ? st : USTOR_ERR_TIMEOUT;
		if (s->req.op == USTOR_BLOCK_WRITE)
			for (uint32_t j = 0; j < s->req.nblocks; j++)
				k->unknown[s->req.lba + j] = 1;
	}
}

static const uint32_t sizes[] = { 1, 8, 3, 64, 17, 256, 2, 128, 33, 5 };
static const uint32_t offsets[] = { 0, 4, 512, 2052, 3072, 8, 1024, 4092 };

static int submit_one(struct soak *k, struct slot *s, uint64_t lba, uint32_t n)
{
	ustor_status st;
	uint32_t bs = k->d->block_size;

	memset(&s->req, 0, sizeof(s->req));
	s->buf = s->mem + offsets[(k->rot + (k->op == USTOR_BLOCK_READ ? 3u : 0u)) %
				  (sizeof(offsets) / sizeof(offsets[0]))];
	if (k->op == USTOR_BLOCK_WRITE)
		for (uint32_t i = 0; i < n; i++)
			block_fill(s->buf + (size_t)i * bs, bs, lba + i, k->gen);
	else
		memset(s->buf, 0xee, (size_t)n * bs);
	s->req.op = k->op;
	s->req.lba = lba;
	s->req.nblocks = n;
	s->req.buf = s->buf;
	s->req.done = soak_done;
	s->req.user = s;
	s->req.queue = k->d->nqueues > 1 ? (uint16_t)(k->next_q++ % k->d->nqueues) : 0;
	s->done = 0;
	s->t_submit = time_now_ns();
	st = ustor_block_submit(k->d, &s->req);
	if (st == USTOR_ERR_BUSY) {
		k->busy_retries++;
		return 0;
	}
	k->submitted++;
	if (st != USTOR_OK) {
		/* refused at submit: counts as a failed request */
		s->req.status = st;
		s->busy = 1;
		k->inflight++;
		finish(k, s);
		return 1;
	}
	s->busy = 1;
	k->inflight++;
	if (k->inflight > k->max_inflight)
		k->max_inflight = k->inflight;
	return 1;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

#define WALK_CHUNK 512u /* blocks: the unit a scattered walk permutes */

/* One walk over [lo, hi) with `op`; returns when every request finished.
 * scatter = 0: in LBA order; else the region's WALK_CHUNK-block chunks are
 * visited in the order c = i * P mod nchunks, P coprime to nchunks and
 * picked from `scatter`, so requests land all over the disk. */
static void walk(struct soak *k, uint8_t op, uint64_t lo, uint64_t hi, uint64_t scatter)
{
	uint64_t nch = (hi - lo + WALK_CHUNK - 1) / WALK_CHUNK;
	uint64_t ci = 0, off = 0, stride = 1;
	uint32_t spins = 0;

	if (scatter != 0 && nch > 2) {
		stride = scatter % nch;
		while (stride < 2 || gcd(stride, nch) != 1)
			stride = stride + 1 >= nch ? 2 : stride + 1;
	}
	k->op = op;
	k->printed = 0;
	k->fault_printed = 0;
	for (;;) {
		int progress = 0;

		for (uint32_t i = 0; i < k->nslots && ci < nch && k->broken == USTOR_OK; i++) {
			struct slot *s = &k->slot[i];
			uint64_t base = lo + (ci * stride % nch) * WALK_CHUNK;
			uint64_t clen = hi - base < WALK_CHUNK ? hi - base : WALK_CHUNK;
			uint32_t n;

			if (s->busy || s->dead)
				continue;
			n = sizes[k->rot % (sizeof(sizes) / sizeof(sizes[0]))];
			if (n > k->max_blocks)
				n = k->max_blocks;
			if (n > clen - off)
				n = (uint32_t)(clen - off);
			if (!submit_one(k, s, base + off, n))
				break;
			k->rot++;
			off += n;
			if (off == clen) {
				ci++;
				off = 0;
			}
			progress = 1;
		}
		poll_all(k);
		for (uint32_t i = 0; i < k->nslots; i++)
			if (k->slot[i].busy && k->slot[i].done) {
				finish(k, &k->slot[i]);
				progress = 1;
			}
		expire(k);
		if (k->inflight == 0 && (ci >= nch || k->broken != USTOR_OK))
			return;
		if (!progress && ++spins > 64)
			cpu_relax();
	}
}

static ustor_status flush(struct soak *k)
{
	struct ustor_block_req req;
	ustor_status st;

	if (k->broken != USTOR_OK)
		return k->broken;
	st = nvme_io(k->d, USTOR_BLOCK_FLUSH, 0, 0, NULL, &req);
	k->submitted++;
	if (st == USTOR_OK)
		k->ok++;
	if (st != USTOR_OK) {
		kprintf("USTOR-FAULT %s flush: %s (in flight: 0)\n", k->name, describe(st, &req));
		k->failed++;
		k->seen_fault = 1;
		if (fatal_status(st))
			k->broken = st;
	}
	return st;
}

static void summary(struct soak *k, uint64_t t0)
{
	uint64_t ms = (time_now_ns() - t0) / 1000000u;
	uint64_t lost = k->submitted - k->ok - k->failed - k->cancelled - k->inflight;
	char sz[32];

	kprintf("USTOR-SOAK %s summary: %llu requests submitted, %llu ok, %llu failed, %llu "
		"cancelled, %u still in flight, %llu unaccounted; max in flight %u of %u; "
		"%llu blocks written, %llu read, %llu verified, %llu corrupt, %llu unverifiable, "
		"%llu bad LBAs; latency max %llu us avg %llu us; %llu busy retries; %llu ms\n",
		k->name, (unsigned long long)k->submitted, (unsigned long long)k->ok,
		(unsigned long long)k->failed, (unsigned long long)k->cancelled, k->inflight,
		(unsigned long long)lost, k->max_inflight, k->nslots,
		(unsigned long long)k->blocks_written, (unsigned long long)k->blocks_read,
		(unsigned long long)k->verified, (unsigned long long)k->corrupt,
		(unsigned long long)k->unverifiable, (unsigned long long)k->bad_lbas,
		(unsigned long long)(k->lat_max_ns / 1000u),
		(unsigned long long)(k->lat_n ? k->lat_sum_ns / k->lat_n / 1000u : 0),
		(unsigned long long)k->busy_retries, (unsigned long long)ms);
	if (k->seen_fault)
		kprintf("USTOR-SOAK %s after the first fault: %llu more failed request(s), %llu ok "
			"request(s); device %s\n", k->name, (unsigned long long)k->faults_after_first,
			(unsigned long long)k->ok_after_first,
			k->broken != USTOR_OK ? ustor_status_name(k->broken) :
			k->ok == 0 ? "failing (every request failed)" :
			"still in service (I/O carried on)");
	if (k->corrupt == 0 && lost == 0 && k->inflight == 0)
		report(k->name, "integrity", PASS, "no corrupt block, every request accounted for "
		       "(%llu verified of %s)", (unsigned long long)k->verified,
		       fmt_size(sz, sizeof(sz), k->region * k->d->block_size));
	else
		report(k->name, "integrity", FAIL, "%llu corrupt block(s), %llu request(s) unaccounted",
		       (unsigned long long)k->corrupt, (unsigned long long)(lost + k->inflight));
	if (!k->seen_fault && k->corrupt == 0 && k->broken == USTOR_OK)
		report(k->name, "soak", PASS, "%llu requests, %llu blocks verified, no fault",
		       (unsigned long long)k->submitted, (unsigned long long)k->verified);
	else
		report(k->name, "soak", FAIL, "%llu failed, %llu cancelled, %llu corrupt, %llu bad LBAs%s%s",
		       (unsigned long long)k->failed, (unsigned long long)k->cancelled,
		       (unsigned long long)k->corrupt, (unsigned long long)k->bad_lbas,
		       k->broken != USTOR_OK ? ", device out of service: " : "",
		       k->broken != USTOR_OK ? ustor_status_name(k->broken) : "");
}

static void soak_device(struct ustor_block_device *d)
{
	struct soak *k = &S;
	uint64_t t0 = time_now_ns();
	uint64_t deadline = so.secs ? t0 + (uint64_t)so.secs * 1000000000ull : 0;
	uint32_t timeout_ms = kopt.io_timeout_ms ? kopt.io_timeout_ms : d->timeout_ms;
	char sz[32];

	memset(k, 0, sizeof(*k));
	k->d = d;
	k->name = d->name;
	k->broken = *broken_of(d);
	if (k->broken != USTOR_OK || (d->flags & USTOR_BDEV_F_UNUSABLE)) {
		report(d->name, "soak", SKIP, "device not usable");
		return;
	}
	k->region = so.blocks && so.blocks < d->nblocks ? so.blocks : d->nblocks;
	k->max_blocks = MAX_REQ_BYTES >> d->block_shift;
	if (k->max_blocks == 0)
		k->max_blocks = 1;
	k->timeout_ns = (uint64_t)(timeout_ms ? timeout_ms : 30000u) * 1000000ull;
	k->unknown = page_alloc((size_t)((k->region + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1)),
				PAGE_SIZE);
	for (k->nslots = 0; k->nslots < so.qd; k->nslots++) {
		uint32_t bytes = (k->max_blocks << d->block_shift) + 2u * PAGE_SIZE;
		k->slot[k->nslots].mem = page_alloc(bytes, PAGE_SIZE);
		if (k->slot[k->nslots].mem == NULL)
			break;
	}
	if (k->unknown == NULL || k->nslots == 0) {
		report(d->name, "soak", FAIL, "out of memory for %u buffers", so.qd);
		return;
	}
	kprintf("USTOR-SOAK %s start: mode %s, %llu blocks x %u B (%s) from lba 0, %u request(s) "
		"in flight, sizes 1-%u blocks, timeout %u ms, seed %u, %u queue(s)%s\n", d->name,
		so.mode == SOAK_RUN ? "run" : so.mode == SOAK_FILL ? "fill" : "verify",
		(unsigned long long)k->region, d->block_size,
		fmt_size(sz, sizeof(sz), k->region * d->block_size), k->nslots, k->max_blocks,
		timeout_ms, so.seed, d->nqueues,
		(d->flags & USTOR_BDEV_F_READ_ONLY) ? ", read-only device" : "");

	if (so.mode == SOAK_VERIFY) {
		k->gen = so.gen;
		k->lo_gen_below = so.upto;
		walk(k, USTOR_BLOCK_READ, 0, k->region, 0);
		kprintf("USTOR-SOAK %s verify gen %u upto %llu: %llu blocks of gen < %u, %llu of gen %u, "
			"%llu newer, %llu never written; %llu violate what the flush promised\n",
			d->name, so.gen, (unsigned long long)so.upto,
			(unsigned long long)k->per_gen[0], so.gen, (unsigned long long)k->per_gen[1],
			so.gen, (unsigned long long)k->per_gen[2], (unsigned long long)k->per_gen[3],
			(unsigned long long)k->corrupt);
	} else if (so.mode == SOAK_FILL) {
		uint64_t ckpt = so.ckpt ? so.ckpt : k->region / 4 + 1;
		for (uint32_t g = so.gen; k->broken == USTOR_OK; g++) {
			k->gen = g;
			for (uint64_t lo = 0; lo < k->region && k->broken == USTOR_OK; lo += ckpt) {
				uint64_t hi = k->region - lo < ckpt ? k->region : lo + ckpt;
				walk(k, USTOR_BLOCK_WRITE, lo, hi, 0);
				if (k->failed || k->cancelled || flush(k) != USTOR_OK)
					break;
				kprintf("USTOR-FLUSHED %s gen %u upto %llu\n", d->name, g,
					(unsigned long long)hi);
			}
			if (k->failed || k->cancelled || (deadline && time_now_ns() > deadline))
				break;
		}
	} else {
		int read_only = (d->flags & USTOR_BDEV_F_READ_ONLY) != 0;
		for (uint32_t pass = 0; ; pass++) {
			k->gen = so.gen + pass;
			k->exact = 1;
			memset(k->unknown, 0, (size_t)k->region);
			if (read_only) {
				struct ustor_block_req req;
				ustor_status st;

				memset(&req, 0, sizeof(req));
				req.op = USTOR_BLOCK_WRITE;
				req.lba = 0;
				req.nblocks = 1;
				req.buf = k->slot[0].mem;
				st = ustor_block_submit(d, &req);
				kprintf("USTOR-SOAK %s read-only: a write is refused at submit with %s; "
					"reading only\n", d->name, ustor_status_name(st));
				memset(k->unknown, 1, (size_t)k->region);
			} else {
				walk(k, USTOR_BLOCK_WRITE, 0, k->region, (pass & 1) ? 0x9e3779b9u : 0);
				flush(k);
				kprintf("USTOR-SOAK %s pass %u: wrote gen %u (%s order), flushed\n", d->name,
					pass, k->gen, (pass & 1) ? "scattered" : "LBA");
			}
			walk(k, USTOR_BLOCK_READ, 0, k->region, (pass & 1) ? 0x7f4a7c15u : 0);
			kprintf("USTOR-SOAK %s pass %u: read back, %llu blocks verified so far, %llu "
				"corrupt\n", d->name, pass, (unsigned long long)k->verified,
				(unsigned long long)k->corrupt);
			if (k->broken != USTOR_OK || read_only)
				break;
			if (deadline ? time_now_ns() > deadline : pass + 1 >= so.passes)
				break;
		}
	}
	summary(k, t0);
	if (k->broken != USTOR_OK)
		*broken_of(d) = k->broken;
	/* Buffers of cancelled requests stay allocated (the device may still
	 * write them); the others go back. */
	for (uint32_t i = 0; i < k->nslots; i++)
		if (!k->slot[i].dead)
			page_free(k->slot[i].mem, (k->max_blocks << d->block_shift) + 2u * PAGE_SIZE);
	page_free(k->unknown, (size_t)((k->region + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1)));
}

unsigned soak_run(void)
{
	selftest_bring_up();
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].up)
			continue;
		if (so.hotplug && hotplug_watch(ctrls[i].pci.bdf, ctrls[i].name) != 0)
			kprintf("hotplug: %s is not below a hotplug-capable slot\n", ctrls[i].name);
		for (uint32_t n = 0; n < ustor_nvme_ns_count(&ctrls[i].ctrl); n++)
			soak_device(ustor_nvme_ns_bdev(&ctrls[i].ctrl, n));
		if (so.hotplug && hotplug_function_gone()) {
			kprintf("USTOR-GONE %s: pci %02x:%02x.%x no longer answers (vendor 0xffff): "
				"removed; not shutting it down\n", ctrls[i].name,
				PCI_BUS(ctrls[i].pci.bdf), PCI_DEV(ctrls[i].pci.bdf),
				PCI_FN(ctrls[i].pci.bdf));
			report(ctrls[i].name, "shutdown", SKIP, "device removed");
			ctrls[i].up = 0;
		}
	}
	for (unsigned i = 0; i < n_vblks; i++)
		if (vblks[i].up)
			soak_device(ustor_virtio_blk_bdev(&vblks[i].vb));
	selftest_shutdown();
	return selftest_done();
}
