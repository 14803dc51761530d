/* SPDX-License-Identifier: MIT */
/*
 * The NVMe controllers this kernel drives, shared by selftest.c (which
 * finds them, brings them up, checks and shuts them down) and shell.c
 * (which works on them interactively with shell=1).
 */
#ifndef NVME_CTRLS_H
#define NVME_CTRLS_H

#include "kernel.h"
#include "ustor/nvme.h"

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

/* The controller a namespace's block device belongs to. */
struct ctrl_slot *slot_of(struct ustor_block_device *d);

/* One synchronous command through the asynchronous request API, keeping the
 * NVMe status and failing LBA in *req. No scratch-region guard: callers
 * decide what they may write. Refuses everything once the controller had a
 * timeout/fatal error (its buffers may still be DMA targets). */
ustor_status nvme_io(struct ustor_block_device *d, uint8_t op, uint64_t lba, uint32_t nblocks,
		     void *buf, struct ustor_block_req *req);

/* The region write checks (and the shell's unforced `write`) may touch:
 * scratch= from the command line, else the last 64 blocks. NULL, or why
 * there is none (scratch= outside this namespace). */
const char *scratch_region(const struct ustor_block_device *d, uint64_t *lba, uint64_t *nblocks);

/* "USTOR_ERR_MEDIA (text), NVMe status 0x0281 SCT 2 SC 0x81 ..." (static buffer). */
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

/* Phases of the self-test (selftest_run does all four in order). */
unsigned selftest_bring_up(void);  /* find and start every controller; returns how many */
void selftest_checks(void);        /* namespace checks, irq, smart */
void selftest_shutdown(void);      /* shutdown check of every controller that is up */
unsigned selftest_done(void);      /* USTOR-DONE line; returns the number of failures */

#endif
