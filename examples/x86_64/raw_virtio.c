/* SPDX-License-Identifier: MIT */
/*
 * The raw virtio-blk engine of bench=fio: the ceiling of the rig. No uStor
 * code: the legacy I/O-port interface of a transitional virtio-blk-pci
 * (BAR0; the fastest path on this rig per /work/shared/bench/README.md),
 * no feature accepted but VIRTIO_BLK_F_MQ (with two CPUs and at least two
 * queues offered: a queue per CPU for the mq job), per queue a split ring
 * of the device's size with
 * pre-built descriptor chains (slot s owns descriptors 3s, 3s+1, 3s+2:
 * header, data, status; only the header's type and sector and the data
 * descriptor's direction change), interrupts suppressed
 * (VRING_AVAIL_F_NO_INTERRUPT), and one avail index store plus at most one
 * notification per pass over the used ring, skipped while the device says
 * VRING_USED_F_NO_NOTIFY.
 *
 * A device without the legacy interface (disable-legacy=on, or a modern-only
 * 1042h) is skipped with a note.
 */
#include "bench.h"
#include "nvme_ctrls.h"

#define RV_MAX_QD 32u

#define VIO_HOST_FEATURES 0x00
#define VIO_GUEST_FEATURES 0x04
#define VIO_QUEUE_PFN 0x08
#define VIO_QUEUE_SIZE 0x0c
#define VIO_QUEUE_SEL 0x0e
#define VIO_QUEUE_NOTIFY 0x10
#define VIO_STATUS 0x12
#define VIO_CONFIG 0x14 /* MSI-X off */

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ __volatile__("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ __volatile__("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
struct vhdr {
	uint32_t type, rsvd;
	uint64_t sector;
};

#define RV_MAX_Q 2u

struct rvq {
	uint16_t index;
	uint8_t *ring;             /* desc, avail, used: the legacy layout */
	struct vdesc *desc;
	volatile uint16_t *avail;  /* flags, idx, ring[] */
	volatile uint16_t *used;   /* flags, idx, then {u32 id, u32 len}[] */
	struct vhdr *hdr;
	volatile uint8_t *status;
	uint16_t avail_idx, last_used;
	const struct bench_job *j;
	uint32_t per;
	uint64_t range, next, rnd;
	uint64_t t0[RV_MAX_QD];
	uint8_t op[RV_MAX_QD];
	struct bench_res res;
};

struct rv {
	uint16_t io;
	uint16_t qsize;
	uint32_t ring_bytes;
	uint64_t capacity;         /* 512-byte sectors */
	unsigned nq;
	struct rvq q[RV_MAX_Q];
};

static struct rv v;

static inline void rv_put(struct rvq *q, unsigned s)
{
	uint64_t r = bench_rand(&q->rnd), lba;
	int wr = q->j->write_pct != 0 && ((r & 0xffffu) * 100u >> 16) < q->j->write_pct;

	if (q->j->seq) {
		lba = q->next;
		q->next += q->per;
		if (q->next + q->per > v.capacity)
			q->next = 0;
	} else {
		lba = ((r >> 32) * q->range >> 32) * q->per;
	}
	q->hdr[s].type = wr ? 1u : 0u;
	q->hdr[s].sector = lba;
	q->desc[3u * s + 1u].flags = wr ? 1u : 3u; /* NEXT, plus WRITE (device writes) for a read */
	q->op[s] = (uint8_t)wr;
	q->avail[2u + (q->avail_idx & (v.qsize - 1u))] = (uint16_t)(3u * s);
	q->avail_idx++;
}

static inline void rv_publish(struct rvq *q)
{
	__asm__ __volatile__("" : : : "memory");
	q->avail[1] = q->avail_idx;
	__asm__ __volatile__("mfence" : : : "memory"); /* idx visible before reading used->flags */
	if ((q->used[0] & 1u) == 0)
		outw((uint16_t)(v.io + VIO_QUEUE_NOTIFY), q->index);
}

static void rv_job_run(void *arg)
{
	struct rvq *q = arg;
	uint32_t qd = q->j->qd, inflight;
	uint64_t start, end, give_up;

	start = rdtsc();
	end = start + bench_job_cycles();
	give_up = end + time_tsc_hz() * 10u;
	for (unsigned s = 0; s < qd; s++) {
		q->t0[s] = rdtsc();
		rv_put(q, s);
	}
	inflight = qd;
	rv_publish(q);
	while (inflight != 0) {
		unsigned subs = 0;
		uint64_t now = rdtsc();
		uint16_t used_idx = q->used[1];

		__asm__ __volatile__("" : : : "memory");
		while (q->last_used != used_idx) {
			const volatile uint32_t *e =
				(const volatile uint32_t *)(q->used + 2) + 2u * (q->last_used & (v.qsize - 1u));
			uint32_t id = e[0];
			unsigned s = id / 3u;

			q->last_used++;
			if (id % 3u != 0 || s >= qd) {
				q->res.errors++;
				continue;
			}
			now = rdtsc();
			if (q->status[s] != 0)
				q->res.errors++;
			if (now < end) {
				bench_lat_add(&q->res.lat, now - q->t0[s]);
				q->res.ios++;
				if (q->op[s])
					q->res.writes++;
				else
					q->res.reads++;
				q->t0[s] = now;
				rv_put(q, s);
				subs++;
				if (!bench_raw_batch)
					rv_publish(q);
			} else {
				inflight--;
			}
		}
		if (subs != 0 && bench_raw_batch)
			rv_publish(q);
		if (now > give_up)
			break;
	}
	q->res.cycles = end - start;
}

static void rv_job(const char *dev, const struct bench_job *j)
{
	struct bench_res total;

	if (j->cpus > smp_cpus() || j->cpus > v.nq) {
		kprintf("bench: raw %s %s skipped: needs %u CPUs and queues (have %u CPUs, %u "
			"queues)\n", dev, j->name, j->cpus, smp_cpus(), v.nq);
		return;
	}
	for (unsigned c = 0; c < j->cpus; c++) {
		struct rvq *q = &v.q[c];

		q->j = j;
		memset(&q->res, 0, sizeof(q->res));
		bench_lat_reset(&q->res.lat);
		q->per = j->bs / 512u;
		q->range = v.capacity / q->per;
		if (q->range > 0xffffffffull)
			q->range = 0xffffffffull;
		q->next = 0;
		q->rnd = 0x9e3779b97f4a7c15ull ^ rdtsc() ^ ((uint64_t)c << 48);
		for (unsigned s = 0; s < j->qd; s++)
			q->desc[3u * s + 1u].len = j->bs;
	}
	for (unsigned c = 1; c < j->cpus; c++)
		smp_run_on(c, rv_job_run, &v.q[c]);
	rv_job_run(&v.q[0]);
	for (unsigned c = 1; c < j->cpus; c++)
		smp_wait(c);
	memset(&total, 0, sizeof(total));
	bench_lat_reset(&total.lat);
	for (unsigned c = 0; c < j->cpus; c++) {
		struct bench_res *r = &v.q[c].res;

		total.ios += r->ios;
		total.reads += r->reads;
		total.writes += r->writes;
		total.errors += r->errors;
		if (r->cycles > total.cycles)
			total.cycles = r->cycles;
		bench_lat_merge(&total.lat, &r->lat);
	}
	bench_report("raw", dev, j, &total);
}

/* Queue `index`: its ring (legacy layout, 4 KiB aligned) and pre-built chains;
 * buffers at bufs + slot * 128 KiB (each CPU its own 32-slot area). */
static const char *rv_queue_up(struct rvq *q, uint16_t index, uint8_t *bufs)
{
	uint16_t size;

	q->index = index;
	outw((uint16_t)(v.io + VIO_QUEUE_SEL), index);
	size = inw((uint16_t)(v.io + VIO_QUEUE_SIZE));
	if (index == 0)
		v.qsize = size;
	if (size != v.qsize || size < 3u * RV_MAX_QD || (size & (size - 1u)) != 0 || size > 1024u)
		return "queue size unusable";
	uint32_t avail_off = 16u * v.qsize;
	uint32_t used_off = (avail_off + 6u + 2u * v.qsize + 4095u) & ~4095u;
	v.ring_bytes = used_off + ((6u + 8u * v.qsize + 4095u) & ~4095u);
	q->ring = page_alloc(v.ring_bytes, 4096);
	q->hdr = page_alloc(4096, 4096);
	if (q->ring == NULL || q->hdr == NULL)
		return "out of memory";
	q->status = (volatile uint8_t *)q->hdr + 2048;
	q->desc = (struct vdesc *)q->ring;
	q->avail = (volatile uint16_t *)(q->ring + avail_off);
	q->used = (volatile uint16_t *)(q->ring + used_off);
	q->avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT */
	for (unsigned s = 0; s < RV_MAX_QD; s++) {
		struct vdesc *d = &q->desc[3u * s];

		d[0].addr = (uintptr_t)&q->hdr[s];
		d[0].len = 16;
		d[0].flags = 1; /* NEXT */
		d[0].next = (uint16_t)(3u * s + 1u);
		d[1].addr = (uintptr_t)(bufs + (size_t)s * 131072u);
		d[1].next = (uint16_t)(3u * s + 2u);
		d[2].addr = (uintptr_t)&q->status[s];
		d[2].len = 1;
		d[2].flags = 2; /* WRITE */
	}
	outl((uint16_t)(v.io + VIO_QUEUE_PFN), (uint32_t)((uintptr_t)q->ring >> 12));
	return NULL;
}

static const char *rv_bring_up(const struct pci_vblk *p, uint8_t *bufs)
{
	uint32_t cmd, features, accept = 0;
	uint16_t io, nq = 1;
	const char *why;

	if (!p->bar[0].io || p->bar[0].addr == 0 || p->bar[0].addr > 0xffffu)
		return "no legacy I/O BAR0 (modern-only device)";
	io = (uint16_t)p->bar[0].addr;
	memset(&v, 0, sizeof(v));
	v.io = io;
	cmd = pci_cfg_read32(p->bdf, 0x04);
	pci_cfg_write32(p->bdf, 0x04, (cmd & 0xffffu) | 0x5u); /* I/O space, bus master */
	outb((uint16_t)(io + VIO_STATUS), 0);                  /* reset */
	outb((uint16_t)(io + VIO_STATUS), 1);                  /* ACKNOWLEDGE */
	outb((uint16_t)(io + VIO_STATUS), 3);                  /* DRIVER */
	features = inl((uint16_t)(io + VIO_HOST_FEATURES));
	/* VIRTIO_BLK_F_MQ (bit 12): a queue per CPU when there are two. */
	if ((features & (1u << 12)) && smp_cpus() > 1) {
		nq = inw((uint16_t)(io + VIO_CONFIG + 34)); /* num_queues */
		if (nq >= 2) {
			accept |= 1u << 12;
			nq = 2;
		} else {
			nq = 1;
		}
	}
	outl((uint16_t)(io + VIO_GUEST_FEATURES), accept);
	for (uint16_t i = 0; i < nq; i++) {
		why = rv_queue_up(&v.q[i], i, bufs + (size_t)i * RV_MAX_QD * 131072u);
		if (why != NULL)
			return why;
		v.nq = i + 1u;
	}
	outb((uint16_t)(io + VIO_STATUS), 7);                  /* DRIVER_OK */
	v.capacity = (uint64_t)inl((uint16_t)(io + VIO_CONFIG)) |
		     (uint64_t)inl((uint16_t)(io + VIO_CONFIG + 4)) << 32;
	if (v.capacity < 256)
		return "disk too small";
	return NULL;
}

void raw_virtio_run_all(void)
{
	struct pci_vblk found[MAX_VBLKS];
	unsigned n = pci_find_virtio_blk(found, MAX_VBLKS);
	/* Per queue 32 slots x 128 KiB apart: each slot's buffer fits the largest job. */
	size_t bytes = RV_MAX_Q * RV_MAX_QD * 131072u;
	uint8_t *bufs = page_alloc(bytes, 4096);

	if (bufs == NULL) {
		kprintf("bench: raw virtio: no memory for buffers\n");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		char dev[16];
		const char *why;

		ksnprintf(dev, sizeof(dev), "vblk%u", i);
		why = rv_bring_up(&found[i], bufs);
		if (why != NULL)
			kprintf("bench: raw %s: %s\n", dev, why);
		else
			for (unsigned k = 0; k < BENCH_NJOBS; k++)
				if (bench_job_selected(k))
					rv_job(dev, &bench_jobs[k]);
		if (v.io != 0)
			outb((uint16_t)(v.io + VIO_STATUS), 0); /* reset: the rings are free again */
		for (unsigned k = 0; k < RV_MAX_Q; k++) {
			if (v.q[k].ring != NULL)
				page_free(v.q[k].ring, v.ring_bytes);
			if (v.q[k].hdr != NULL)
				page_free(v.q[k].hdr, 4096);
		}
		memset(&v, 0, sizeof(v));
	}
	page_free(bufs, bytes);
}
