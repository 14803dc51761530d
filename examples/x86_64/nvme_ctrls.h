/* SPDX-License-Identifier: MIT */
/*
 * The NVMe controllers and virtio-blk disks this kernel drives, shared by
 * selftest.c (which brings them up, checks and shuts them down), vblk.c
 * (which finds and starts the virtio-blk disks) and shell.c (which works on
 * them interactively with shell=1).
 */
#ifndef NVME_CTRLS_H
#define NVME_CTRLS_H

#include "kernel.h"
#include "ustor/nvme.h"
#include "ustor/virtio_blk.h"

#define MAX_CTRLS 8
#define DEFAULT_SCRATCH_BLOCKS 64u

struct ctrl_slot {
	struct pci_nvme pci;
	struct ustor_nvme_ctrl ctrl;
	struct ustor_hal hal;       /* one HAL per controller: its own ctx */
	struct port_ctx port;
	char name[16];              /* "nvme0" */
	int up;                     /* ustor_nvme_ctrl_init succeeded */
	ustor_status broken;        /* a timeout/fatal/gone error: stop using it */

	/* Interrupt mode (irq=1): MSI-X entry e raises IDT vector
	 * IRQ_VEC_NVME_BASE + 8 * index + e; the handler counts per entry. */
	struct pci_msix msix;
	int irq_on;                 /* MSI-X programmed and enabled, cfg.use_irq set */
	const char *irq_none;       /* why not, when irq=1 but irq_on is 0 */
	char irq_why[96];           /* irq_none's text when it is built */
	uint16_t irq_queues;        /* I/O queues the MSI-X table has entries for */
	unsigned irq_vec_base;      /* IDT vector of entry 0 */
	volatile uint32_t irq_count[IRQ_VEC_NVME_PER_CTRL];
};

extern struct ctrl_slot ctrls[MAX_CTRLS];
extern unsigned n_ctrls;        /* controllers found on PCI */

/* ---- virtio-blk disks (vblk.c) ---------------------------------------------------- */
#define MAX_VBLKS 8
#define VIRTIO_MMIO_BASE 0xfeb00000ull /* QEMU microvm: slot n at base + n * 0x200 */
#define VIRTIO_MMIO_STRIDE 0x200u
#define VIRTIO_MMIO_SLOTS 24u          /* 24 with ACPI, 8 with acpi=off */

struct vblk_slot {
	int on_pci;                 /* 1: virtio-pci (pci below), 0: virtio-mmio */
	struct pci_vblk pci;
	uint64_t mmio_base;         /* virtio-mmio register window */
	unsigned mmio_slot;
	uint32_t mmio_version;      /* 1 legacy, 2 modern */
	struct ustor_virtio_blk vb; /* the library's device; vb.bdev is the disk */
	struct ustor_hal hal;       /* one HAL per device: its own ctx */
	struct port_ctx port;
	char name[16];              /* "vblk0", as the library names it */
	int up;                     /* ustor_virtio_blk_init_* succeeded */
	ustor_status broken;        /* a timeout/fatal/gone error: stop using it */
};

extern struct vblk_slot vblks[MAX_VBLKS];
extern unsigned n_vblks;        /* virtio-blk devices found (PCI, then MMIO) */

/* Find every virtio-blk on PCI and, on a machine with virtio-mmio
 * (microvm), in its slots; bring each up. Prints one `init` line each. */
void vblk_bring_up_all(void);
/* The `shutdown` check of every virtio-blk that is up. */
void vblk_shutdown_all(void);
/* The virtio-blk a block device is, or NULL (an NVMe namespace). */
struct vblk_slot *vblk_of(const struct ustor_block_device *d);

/* ---- shared helpers ------------------------------------------------------------------ */

/* One line of the test contract: USTOR-TEST <dev> <check> PASS|FAIL|SKIP <detail>. */
enum result { PASS, FAIL, SKIP };
void report(const char *dev, const char *check, enum result r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The controller an NVMe namespace's block device belongs to; NULL for a
 * virtio-blk disk. */
struct ctrl_slot *slot_of(struct ustor_block_device *d);

/* Where a disk's "out of service" status lives: its controller's (NVMe) or
 * its own (virtio-blk). */
ustor_status *broken_of(struct ustor_block_device *d);

/* One synchronous command through the asynchronous request API, keeping the
 * device status (NVMe status or virtio-blk status byte) and failing LBA in
 * *req. No scratch-region guard: callers decide what they may write.
 * Refuses everything once the device had a timeout/fatal error (its buffers
 * may still be DMA targets). Works on NVMe namespaces and virtio-blk disks. */
ustor_status nvme_io(struct ustor_block_device *d, uint8_t op, uint64_t lba, uint32_t nblocks,
		     void *buf, struct ustor_block_req *req);

/* The region write checks (and the shell's unforced `write`) may touch:
 * scratch= from the command line, else the last 64 blocks. NULL, or why
 * there is none (scratch= outside this namespace). */
const char *scratch_region(const struct ustor_block_device *d, uint64_t *lba, uint64_t *nblocks);

/* "USTOR_ERR_MEDIA (text), NVMe status 0x0281 SCT 2 SC 0x81 ..." or
 * "..., virtio-blk status 1 IOERR, lba 0" (static buffer). */
const char *describe(ustor_status st, const struct ustor_block_req *req);
/* "64 MiB", "1.5 GiB" into buf. */
const char *fmt_size(char *buf, size_t size, uint64_t bytes);

/* QD1 random 4 KiB reads (one block if blocks are larger) for `ns` of time
 * into `buf` (at least 4 KiB or one block). */
struct bench_result {
	ustor_status st;            /* USTOR_OK, or the failing read's status */
	struct ustor_block_req req; /* the failing read */
	uint64_t reads, ns, iops, mibs100, lat_us;
	uint32_t io_bytes;
};
void bench_qd1_run(struct ustor_block_device *d, void *buf, uint64_t ns, struct bench_result *r);

/* ---- NVMe queue knobs (nvme_knobs.c) ------------------------------------------------ */
/*
 * Command line:
 *   dbbuf=0|1                   shadow doorbells (Doorbell Buffer Config) off / on
 *   completion=poll|irq|adaptive  NVMe completion mode; irq and adaptive need irq=1
 *                               too (MSI-X set up); adaptive masks a queue's
 *                               MSI-X entry while it has many commands in flight
 * When either is given, the checks add a `dbbuf` / `adaptive` line per controller
 * from a burst of 32 reads in flight on the first namespace.
 */
struct nvme_knobs {
	int dbbuf;                  /* -1 not given, 0 off, 1 on */
	int completion;             /* -1 not given, else enum ustor_nvme_completion */
	uint32_t masks, unmasks;    /* hal.irq_mask calls (adaptive) */
};
extern struct nvme_knobs nvme_knobs;
/* 1: `key=val` was one of the knobs above (stored), -1: ours with a bad value,
 * 0: not ours. */
int nvme_knob_parse(const char *key, const char *kend, const char *val, const char *vend);
/* Apply the knobs to a controller's config and HAL (after port_hal_init). */
void nvme_knobs_apply(struct ctrl_slot *cs, struct ustor_nvme_config *cfg);
/* The dbbuf / adaptive checks of one controller that is up. */
void nvme_knobs_check(struct ctrl_slot *cs);

/* Phases of the self-test (selftest_run does all four in order). */
unsigned selftest_bring_up(void);  /* find and start every NVMe controller and virtio-blk
				    * disk; returns how many NVMe controllers */
void selftest_checks(void);        /* namespace and disk checks, irq, smart */
void selftest_shutdown(void);      /* shutdown check of every device that is up */
unsigned selftest_done(void);      /* USTOR-DONE line; returns the number of failures */

#endif
