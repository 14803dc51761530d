/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the NVMe device lies in its admin answers during bring-up.
 *
 * A controller is brought up against the NVMe model, with a spy on the
 * admin SQ tail doorbell. Each admin command runs in the model as usual;
 * right after, before the driver looks, the spy rewrites what the device
 * returned, as the fuzz input says: fields of Identify Controller (MDTS,
 * NN, SQES/CQES, VWC, ONCS, version, SGLS, ...), Identify Namespace (NSZE,
 * NCAP, NUSE, NLBAF, FLBAS, LBA formats, NSATTR), the active namespace
 * list, raw bytes anywhere in the page, a whole page of input, and the
 * completion's result dword (Number of Queues granted) or status.
 *
 * Then, if bring-up succeeded, the rest of the input drives synchronous
 * reads and writes (any LBA, any length that fits the buffer) on the
 * namespaces the driver exposed, and SMART / error / firmware-slot log
 * reads whose pages the spy rewrites the same way; the model's real namespace is 2048 x 512
 * bytes whatever the identify data claimed.
 *
 * Invariants beyond "no crash, nothing written outside a buffer" (ASan):
 * bring-up either fails cleanly (no DMA memory left allocated) or exposes
 * at most USTOR_NVME_MAX_NAMESPACES namespaces, in ascending NSID order,
 * each with a power-of-two block size of 512..64 KiB, block_shift to
 * match, NUL-terminated names and strings; I/O past the exposed capacity
 * is refused; shutdown of a controller that came up frees everything.
 */
#include <string.h>

#include "fuzz_common.h"
#include "nvme_model.h"
#include "ustor/block.h"
#include "ustor/endian.h"
#include "ustor/nvme.h"

#define NID_BUF (128u * 1024u)

struct nid {
	struct ustor_test_hal h;
	struct ustor_nvme_model m;
	struct ustor_nvme_ctrl ctrl;
	struct ustor_test_hal_mmio *win;
	void (*model_write32)(void *dev, uint32_t off, uint32_t val);
	struct fuzz_in in;
	uint16_t sq_seen;
	uint8_t *buf;
};

static struct nid *nid_cur;

/* Known fields: offset and width, per CNS. */
struct nid_field {
	uint16_t off;
	uint8_t width;
};

static const struct nid_field nid_ctrl_fields[] = {
	{ 0, 2 },    /* VID */
	{ 4, 8 },    /* SN */
	{ 24, 8 },   /* MN */
	{ 64, 8 },   /* FR */
	{ 77, 1 },   /* MDTS */
	{ 78, 2 },   /* CNTLID */
	{ 80, 4 },   /* VER */
	{ 256, 2 },  /* OACS */
	{ 258, 1 },  /* ACL */
	{ 259, 1 },  /* AERL */
	{ 260, 1 },  /* FRMW */
	{ 261, 1 },  /* LPA */
	{ 262, 1 },  /* ELPE */
	{ 512, 1 },  /* SQES */
	{ 513, 1 },  /* CQES */
	{ 514, 2 },  /* MAXCMD */
	{ 516, 4 },  /* NN */
	{ 520, 2 },  /* ONCS */
	{ 525, 1 },  /* VWC */
	{ 536, 4 },  /* SGLS */
};

static const struct nid_field nid_ns_fields[] = {
	{ 0, 8 },   /* NSZE */
	{ 8, 8 },   /* NCAP */
	{ 16, 8 },  /* NUSE */
	{ 24, 1 },  /* NSFEAT */
	{ 25, 1 },  /* NLBAF */
	{ 26, 1 },  /* FLBAS */
	{ 27, 1 },  /* MC */
	{ 33, 1 },  /* DLFEAT */
	{ 99, 1 },  /* NSATTR */
	{ 128, 4 }, /* LBAF0 */
	{ 130, 1 }, /* LBAF0.LBADS */
	{ 132, 4 }, /* LBAF1 */
	{ 134, 1 }, /* LBAF1.LBADS */
};

static void nid_put(uint8_t *page, uint32_t off, uint32_t width, uint64_t v)
{
	uint32_t i;

	for (i = 0; i < width && off + i < 4096u; i++)
		page[off + i] = (uint8_t)(v >> (8 * i));
}

/* Rewrite one identify page as the input says. */
static void nid_patch_page(struct fuzz_in *in, uint8_t *page, uint8_t cns)
{
	uint8_t mode = fuzz_u8(in);
	unsigned k, n = 1u + (mode >> 2) % 8u;

	switch (mode & 3u) {
	case 0:
		return;
	case 1: /* known fields */
		for (k = 0; k < n; k++) {
			uint8_t sel = fuzz_u8(in);
			struct nid_field f;

			if (cns == 1) {
				f = nid_ctrl_fields[sel % (sizeof(nid_ctrl_fields) / sizeof(nid_ctrl_fields[0]))];
			} else if (cns == 0 && sel < 0xc0) {
				f = nid_ns_fields[sel % (sizeof(nid_ns_fields) / sizeof(nid_ns_fields[0]))];
			} else if (cns == 0) {
				f.off = (uint16_t)(128u + 4u * (sel & 63u)); /* LBA format */
				f.width = 4;
			} else {
				f.off = (uint16_t)(4u * (sel % 1024u)); /* list entry */
				f.width = 4;
			}
			nid_put(page, f.off, f.width, fuzz_u64(in));
		}
		return;
	case 2: /* raw bytes */
		for (k = 0; k < n; k++) {
			uint16_t off = fuzz_u16(in) % 4096u;

			page[off] = fuzz_u8(in);
		}
		return;
	default: { /* a whole page of input (zeroes past its end) */
		uint32_t i;

		for (i = 0; i < 4096u; i++)
			page[i] = fuzz_u8(in);
		return;
	}
	}
}

/* After the model ran the admin command `sqe`: let the input change its
 * data and completion. */
static void nid_tamper(struct nid *x, const uint8_t *sqe)
{
	struct ustor_nvme_queue *q = &x->ctrl.admin;
	uint8_t opc = sqe[0];
	uint16_t cid = (uint16_t)(sqe[2] | (sqe[3] << 8));
	uint64_t prp1 = ustor_le64_to_cpu(*(const uint64_t *)(const void *)(sqe + 24));
	uint32_t cdw10 = ustor_le32_to_cpu(*(const uint32_t *)(const void *)(sqe + 40));
	volatile struct ustor_nvme_cqe *e = &q->ring.cq[q->ring.cq_head];
	uint8_t cpl;

	if (opc == 0x06 || opc == 0x02) { /* Identify, Get Log Page */
		uint8_t *page = ustor_test_hal_bus_to_virt(&x->h, prp1, 4096);

		if (page != NULL)
			nid_patch_page(&x->in, page, opc == 0x06 ? (uint8_t)cdw10 : 0xffu);
	}
	cpl = fuzz_u8(&x->in);
	if ((cpl & 0x0fu) == 0x01 && ustor_le16_to_cpu(e->cid) == cid)
		e->dw0 = ustor_cpu_to_le32(fuzz_u32(&x->in)); /* e.g. queues granted */
	if ((cpl & 0xf0u) == 0xf0 && ustor_le16_to_cpu(e->cid) == cid) {
		uint16_t st = ustor_le16_to_cpu(e->status);

		e->status = ustor_cpu_to_le16((uint16_t)((fuzz_u16(&x->in) & 0xfffeu) | (st & 1u)));
	}
}

static void nid_write32(void *dev, uint32_t off, uint32_t val)
{
	struct nid *x = nid_cur;
	struct ustor_nvme_queue *q = &x->ctrl.admin;
	uint16_t from = x->sq_seen;

	x->model_write32(dev, off, val);
	if (off == 0x14u) /* CC: queues start over after a reset */
		x->sq_seen = 0;
	if (off != 0x1000u || q->ring.sq == NULL || val >= q->ring.depth)
		return;
	while (from != val) {
		nid_tamper(x, q->ring.sq + (size_t)from * 64u);
		from = (uint16_t)((from + 1u) % q->ring.depth);
	}
	x->sq_seen = (uint16_t)val;
}

static void nid_check_str(const char *s, size_t cap)
{
	FUZZ_ASSERT(memchr(s, 0, cap) != NULL);
}

static void nid_check(struct nid *x)
{
	uint32_t n = ustor_nvme_ns_count(&x->ctrl);
	uint32_t i, prev = 0;

	FUZZ_ASSERT(n <= USTOR_NVME_MAX_NAMESPACES);
	nid_check_str(x->ctrl.info.serial, sizeof(x->ctrl.info.serial));
	nid_check_str(x->ctrl.info.model, sizeof(x->ctrl.info.model));
	nid_check_str(x->ctrl.info.firmware, sizeof(x->ctrl.info.firmware));
	FUZZ_ASSERT(x->ctrl.nio >= 1 && x->ctrl.nio <= USTOR_NVME_MAX_IO_QUEUES);
	for (i = 0; i < n; i++) {
		struct ustor_block_device *b = ustor_nvme_ns_bdev(&x->ctrl, i);
		struct ustor_nvme_ns *ns;

		FUZZ_ASSERT(b != NULL);
		ns = b->driver;
		FUZZ_ASSERT(ns->info.nsid > prev);
		prev = ns->info.nsid;
		FUZZ_ASSERT(b->block_size >= 512u && b->block_size <= 65536u &&
			    (b->block_size & (b->block_size - 1u)) == 0);
		FUZZ_ASSERT((1u << b->block_shift) == b->block_size);
		FUZZ_ASSERT(b->nqueues >= 1);
		nid_check_str(b->name, sizeof(b->name));
		nid_check_str(b->model, sizeof(b->model));
		nid_check_str(b->serial, sizeof(b->serial));
		nid_check_str(b->firmware, sizeof(b->firmware));
	}
	FUZZ_ASSERT(ustor_nvme_ns_bdev(&x->ctrl, n) == NULL);
}

static void nid_io(struct nid *x)
{
	uint32_t n = ustor_nvme_ns_count(&x->ctrl);
	unsigned steps;

	for (steps = 0; steps < 64 && fuzz_more(&x->in) && n != 0; steps++) {
		uint8_t op = fuzz_u8(&x->in);
		struct ustor_block_device *b = ustor_nvme_ns_bdev(&x->ctrl, fuzz_u8(&x->in) % n);
		uint32_t most = NID_BUF >> b->block_shift;
		uint32_t nb = 1u + fuzz_u16(&x->in) % (most != 0 ? most : 1u);
		uint64_t lba = fuzz_u8(&x->in) & 1u ? fuzz_u64(&x->in)
						    : (b->nblocks > nb ? b->nblocks - nb : 0) +
							      (fuzz_u8(&x->in) % 3u);
		ustor_status st;

		if ((op & 0x70u) == 0x70u) { /* log pages, hostile too */
			struct ustor_nvme_smart_info smart;
			struct ustor_nvme_error_info errs[4];
			struct ustor_nvme_fw_info fw;
			uint32_t cnt = 99, k;

			switch (op % 3u) {
			case 0:
				(void)ustor_nvme_get_smart(&x->ctrl, 0xffffffffu, &smart);
				break;
			case 1:
				if (ustor_nvme_get_error_log(&x->ctrl, errs, 4, &cnt) == USTOR_OK)
					FUZZ_ASSERT(cnt <= 4);
				break;
			default:
				if (ustor_nvme_get_fw_slots(&x->ctrl, &fw) == USTOR_OK)
					for (k = 0; k < 7; k++)
						FUZZ_ASSERT(memchr(fw.revision[k], 0, 9) != NULL);
				break;
			}
			continue;
		}
		switch (op % 4u) {
		case 0:
			st = ustor_block_read(b, lba, nb, x->buf);
			break;
		case 1:
			st = ustor_block_write(b, lba, nb, x->buf);
			break;
		case 2:
			st = ustor_block_flush(b);
			break;
		default:
			st = ustor_block_write_zeroes(b, lba, nb);
			break;
		}
		if (op % 4u != 2 && (lba + nb > b->nblocks || lba + nb < lba))
			FUZZ_ASSERT(st != USTOR_OK);
		if (op & 0x80u)
			(void)ustor_nvme_ctrl_check(&x->ctrl);
	}
}

static int nid_one(const uint8_t *data, size_t size)
{
	struct nid *x = calloc(1, sizeof(*x));
	struct ustor_nvme_model_cfg mcfg;
	struct ustor_nvme_config cfg;
	ustor_status st;
	uint8_t setup;

	if (x == NULL)
		abort();
	nid_cur = x;
	x->in.p = data;
	x->in.n = size;
	setup = fuzz_u8(&x->in);
	ustor_test_hal_init(&x->h);
	if (setup & 1u) {
		x->h.hal.lock = NULL;
		x->h.hal.unlock = NULL;
	}
	ustor_nvme_model_cfg_default(&mcfg);
	if (setup & 2u) { /* a second namespace, and a gap */
		mcfg.num_ns = 2;
		mcfg.ns[1] = mcfg.ns[0];
		mcfg.ns[1].nsid = 3;
		mcfg.ns[1].lbads = 12;
		mcfg.ns[1].nblocks = 256;
	}
	ustor_nvme_config_default(&cfg);
	cfg.use_pci_cfg = 1;
	cfg.pci_addr = mcfg.pci_addr;
	cfg.io_queues = 1u + ((setup >> 2) & 3u);
	cfg.io_queue_depth = 16;
	cfg.admin_timeout_ms = 100;
	cfg.io_timeout_ms = 100;
	x->buf = calloc(1, NID_BUF);
	if (x->buf == NULL || ustor_test_hal_register(&x->h, x->buf, NID_BUF) != USTOR_OK)
		abort();
	if (ustor_nvme_model_init(&x->m, &x->h, &mcfg) != USTOR_OK)
		abort();
	x->win = fuzz_window(&x->h, ustor_nvme_model_regs(&x->m));
	x->model_write32 = x->win->write32;
	x->win->write32 = nid_write32;

	st = ustor_nvme_ctrl_init(&x->ctrl, &x->h.hal, ustor_nvme_model_regs(&x->m), &cfg);
	if (st == USTOR_OK) {
		nid_check(x);
		nid_io(x);
		st = ustor_nvme_ctrl_shutdown(&x->ctrl);
		if (st == USTOR_OK)
			FUZZ_ASSERT(ustor_test_hal_live_allocs(&x->h) == 0);
	} else {
		/* A failed bring-up frees what it took (it may keep memory
		 * only when the controller would not stop). */
		if (!x->m.priv || ustor_nvme_model_peek_reg(&x->m, 0x1c) == 0)
			FUZZ_ASSERT(ustor_test_hal_live_allocs(&x->h) == 0);
	}
	x->win->write32 = x->model_write32;
	ustor_nvme_model_fini(&x->m);
	ustor_test_hal_unregister(&x->h, x->buf);
	free(x->buf);
	ustor_test_hal_fini(&x->h);
	nid_cur = NULL;
	free(x);
	return 0;
}

FUZZ_ENTRY(nid_one)
