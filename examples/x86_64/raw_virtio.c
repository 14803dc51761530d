/* SPDX-License-Identifier: MIT */
/*
 * The raw virtio-blk engine of bench=fio: the ceiling of the rig. No uStor
 * code: the legacy I/O-port interface of a transitional virtio-blk-pci
 * (BAR0; the fastest path on this rig per /work/shared/bench/README.md),
 * no feature accepted, one split ring of the device's size with
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

struct rv {
	uint16_t io;
	uint16_t qsize;
	uint8_t *ring;             /* desc, avail, used: the legacy layout */
	struct vdesc *desc;
	volatile uint16_t *avail;  /* flags, idx, ring[] */
	volatile uint16_t *used;   /* flags, idx, then {u32 id, u32 len}[] */
	struct vhdr *hdr;
	volatile uint8_t *status;
	uint16_t avail_idx, last_used;
	uint64_t capacity;         /* 512-byte sectors */
	const struct bench_job *j;
	uint32_t per;
	uint64_t range, next, rnd;
	uint64_t t0[RV_MAX_QD];
	uint8_t op[RV_MAX_QD];
	struct bench_res res;
	uint32_t ring_bytes;
};

static struct rv v;

static inline void rv_put(unsigned s)
{
	uint64_t r = bench_rand(&v.rnd), lba;
	int wr = v.j->write_pct != 0 && ((r & 0xffffu) * 100u >> 16) < v.j->write_pct;

	if (v.j->seq) {
		lba = v.next;
		v.next += v.per;
		if (v.next + v.per > v.capacity)
			v.next = 0;
	} else {
		lba = ((r >> 32) * v.range >> 32) * v.per;
	}
	v.hdr[s].type = wr ? 1u : 0u;
	v.hdr[s].sector = lba;
	v.desc[3u * s + 1u].flags = wr ? 1u : 3u; /* NEXT, plus WRITE (device writes) for a read */
	v.op[s] = (uint8_t)wr;
	v.avail[2u + (v.avail_idx & (v.qsize - 1u))] = (uint16_t)(3u * s);
	v.avail_idx++;
}

static inline void rv_publish(void)
{
	__asm__ __volatile__("" : : : "memory");
	v.avail[1] = v.avail_idx;
	__asm__ __volatile__("mfence" : : : "memory"); /* idx visible before reading used->flags */
	if ((v.used[0] & 1u) == 0)
		outw((uint16_t)(v.io + VIO_QUEUE_NOTIFY), 0);
}

static void rv_job(const char *dev, const struct bench_job *j)
{
	uint32_t qd = j->qd, inflight;
	uint64_t start, end, give_up;

	if (j->cpus > 1) {
		kprintf("bench: raw %s %s skipped: one queue on the legacy interface\n", dev, j->name);
		return;
	}
	v.j = j;
	memset(&v.res, 0, sizeof(v.res));
	bench_lat_reset(&v.res.lat);
	v.per = j->bs / 512u;
	v.range = v.capacity / v.per;
	if (v.range > 0xffffffffull)
		v.range = 0xffffffffull;
	v.next = 0;
	v.rnd = 0x9e3779b97f4a7c15ull ^ rdtsc();
	for (unsigned s = 0; s < qd; s++)
		v.desc[3u * s + 1u].len = j->bs;
	start = rdtsc();
	end = start + bench_job_cycles();
	give_up = end + time_tsc_hz() * 10u;
	for (unsigned s = 0; s < qd; s++) {
		v.t0[s] = rdtsc();
		rv_put(s);
	}
	inflight = qd;
	rv_publish();
	while (inflight != 0) {
		unsigned subs = 0;
		uint64_t now = rdtsc();
		uint16_t used_idx = v.used[1];

		__asm__ __volatile__("" : : : "memory");
		while (v.last_used != used_idx) {
			const volatile uint32_t *e =
				(const volatile uint32_t *)(v.used + 2) + 2u * (v.last_used & (v.qsize - 1u));
			uint32_t id = e[0];
			unsigned s = id / 3u;

			v.last_used++;
			if (id % 3u != 0 || s >= qd) {
				v.res.errors++;
				continue;
			}
			now = rdtsc();
			if (v.status[s] != 0)
				v.res.errors++;
			if (now < end) {
				bench_lat_add(&v.res.lat, now - v.t0[s]);
				v.res.ios++;
				if (v.op[s])
					v.res.writes++;
				else
					v.res.reads++;
				v.t0[s] = now;
				rv_put(s);
				subs++;
				if (!bench_raw_batch)
					rv_publish();
			} else {
				inflight--;
			}
		}
		if (subs != 0 && bench_raw_batch)
			rv_publish();
		if (now > give_up)
			break;
	}
	v.res.cycles = end - start;
	bench_report("raw", dev, j, &v.res);
}

static const char *rv_bring_up(const struct pci_vblk *p, uint8_t *bufs)
{
	uint32_t cmd;
	uint16_t io;

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
	(void)inl((uint16_t)(io + VIO_HOST_FEATURES));
	outl((uint16_t)(io + VIO_GUEST_FEATURES), 0);
	outw((uint16_t)(io + VIO_QUEUE_SEL), 0);
	v.qsize = inw((uint16_t)(io + VIO_QUEUE_SIZE));
	if (v.qsize < 3u * RV_MAX_QD || (v.qsize & (v.qsize - 1u)) != 0 || v.qsize > 1024u)
		return "queue size unusable";
	uint32_t avail_off = 16u * v.qsize;
	uint32_t used_off = (avail_off + 6u + 2u * v.qsize + 4095u) & ~4095u;
	v.ring_bytes = used_off + ((6u + 8u * v.qsize + 4095u) & ~4095u);
	v.ring = page_alloc(v.ring_bytes, 4096);
	v.hdr = page_alloc(4096, 4096);
	if (v.ring == NULL || v.hdr == NULL)
		return "out of memory";
	v.status = (volatile uint8_t *)v.hdr + 2048;
	v.desc = (struct vdesc *)v.ring;
	v.avail = (volatile uint16_t *)(v.ring + avail_off);
	v.used = (volatile uint16_t *)(v.ring + used_off);
	v.avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT */
	for (unsigned s = 0; s < RV_MAX_QD; s++) {
		struct vdesc *d = &v.desc[3u * s];

		d[0].addr = (uintptr_t)&v.hdr[s];
		d[0].len = 16;
		d[0].flags = 1; /* NEXT */
		d[0].next = (uint16_t)(3u * s + 1u);
		d[1].addr = (uintptr_t)(bufs + (size_t)s * 131072u);
		d[1].next = (uint16_t)(3u * s + 2u);
		d[2].addr = (uintptr_t)&v.status[s];
		d[2].len = 1;
		d[2].flags = 2; /* WRITE */
	}
	outl((uint16_t)(io + VIO_QUEUE_PFN), (uint32_t)((uintptr_t)v.ring >> 12));
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
	/* 32 slots x 128 KiB apart: each slot's buffer fits the largest job. */
	uint8_t *bufs = page_alloc(RV_MAX_QD * 131072u, 4096);

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
			outb((uint16_t)(v.io + VIO_STATUS), 0); /* reset: the ring is free again */
		if (v.ring != NULL)
			page_free(v.ring, v.ring_bytes);
		if (v.hdr != NULL)
			page_free(v.hdr, 4096);
		memset(&v, 0, sizeof(v));
	}
	page_free(bufs, RV_MAX_QD * 131072u);
}
