/* SPDX-License-Identifier: MIT */
/*
 * NVMe controller model for hosted tests (NVMe base spec 1.4 / 2.0, PCIe
 * transport), behind the hosted HAL.
 *
 * It is written from the specification independently of the library's
 * nvme_spec.h, so a wrong offset or opcode in the library cannot hide behind
 * a shared header. All DMA goes through ustor_test_hal_bus_to_virt() and all
 * DMA memory is read and written byte-wise as little-endian, so it behaves
 * the same on a big-endian host.
 *
 * Behaviour in one paragraph: registers are a BAR0 window attached to the
 * HAL; doorbell writes are processed synchronously inside the MMIO write
 * (fetch, execute, post completion); completions are held, never
 * overwritten, while a CQ is full; `deferred` queues completions until
 * ustor_nvme_model_process(). Namespaces are RAM disks. Everything the host
 * does wrong (bad PRPs, bad doorbells, DMA to unmapped memory, DMA with Bus
 * Master Enable off, register writes at the wrong time) is a "host
 * violation": counted, described in a text log, and answered as a real
 * controller would (error status, ignored write, or fatal status).
 *
 * Model choices where the spec leaves room:
 *   - Identify Namespace (CNS 0) for an nsid <= NN that is not configured
 *     returns an all-zero page (allocated-but-inactive); nsid 0, nsid > NN
 *     and FFFFFFFFh fail with Invalid Namespace or Format (0Bh).
 *   - Number of Queues need not be set before creating I/O queues: until a
 *     Set Features (07h) the grant is the maximum.
 *   - Create I/O SQ/CQ while CC.IOSQES != 6 / CC.IOCQES != 4 fails with
 *     Invalid Queue Size (SCT 1, SC 02h) and is a host violation.
 *   - A PRP list pointer (PRP2) must be qword aligned; every other PRP
 *     entry after PRP1, including a chain pointer, must be page aligned.
 *   - PCI Memory Space Enable off: register reads return all-ones, writes
 *     are dropped, both are host violations. Bus Master Enable off: doorbell
 *     values are stored but no command is fetched (host violation).
 *   - Model-generated error statuses set DNR, except Data Transfer Error.
 *   - Invalid CC at enable (MPS outside CAP, unsupported CSS, bad or
 *     unmapped admin queues) sets CSTS.CFS and is a host violation.
 *   - RDY transitions (both ways) take `ready_delay_ns` of virtual time,
 *     evaluated lazily when CSTS is read. CC.EN 0->1 while RDY is still 1
 *     is a host violation (the host must wait for RDY=0 after a reset).
 *   - An SQ or CQ entry at an unmapped bus address cannot be answered:
 *     host violation and CSTS.CFS.
 *   - Abort completes with dw0 bit 0 set (not aborted). Asynchronous Event
 *     Requests are accepted (AERL 3) and never complete.
 *   - Doorbell Buffer Config (7Ch, OACS bit 8): PRP1 shadow page, PRP2
 *     EventIdx page, both page aligned and mapped (else Invalid Field). It
 *     covers I/O queues only (the admin queue keeps MMIO doorbells, as
 *     Linux assumes). From then on the model reads an I/O SQ's tail from
 *     the shadow page whenever it processes that SQ (any doorbell write, or
 *     process()); the shadow value wins over an MMIO one (the host writes
 *     the shadow first), as in QEMU. It writes the SQ's EventIdx = the tail it processed up to,
 *     reads a CQ's head from the shadow page before posting, and writes
 *     the CQ's EventIdx = its head only while it holds completions for
 *     lack of room (it wants to hear about space, nothing else). A value
 *     beyond the queue is a host violation. A controller reset ends it.
 *   - The hosted HAL has one PCI handler: the model initialised last owns
 *     hal.pci_cfg_read32/write32 (other models: set cfg.pci_command).
 */
#ifndef USTOR_TEST_NVME_MODEL_H
#define USTOR_TEST_NVME_MODEL_H

#include <stdint.h>

#include "../../hal/hosted/hosted_hal.h"

#define USTOR_NVME_MODEL_MAX_NS 16
#define USTOR_NVME_MODEL_MAX_INJECT 4
#define USTOR_NVME_MODEL_MAX_HELD 16

/*
 * A completion status as the model places it in CQE DW3 bits 31:16 with
 * the phase bit (bit 0) clear: SC in bits 8:1, SCT in 11:9, DNR in 15.
 */
#define USTOR_NVME_MODEL_STATUS(sct, sc, dnr)                                  \
	((uint16_t)((((unsigned)(sct)&7u) << 9) | (((unsigned)(sc)&0xffu) << 1) | \
		    ((dnr) ? 0x8000u : 0u)))

/* One namespace: a RAM disk of nblocks blocks of 2^lbads bytes. */
struct ustor_nvme_model_ns_cfg {
	uint32_t nsid;    /* 1..0xFFFFFFFE; gaps allowed */
	uint64_t nblocks; /* NSZE = NCAP = NUSE */
	uint8_t lbads;    /* log2 of the block size, 9..16 */
	uint16_t ms;      /* metadata bytes per block (0: none) */
	int extended;     /* metadata interleaved with data (FLBAS bit 4) */
	int write_protected; /* NSATTR bit 0: writes fail with 20h */
};

struct ustor_nvme_model_cfg {
	/* CAP */
	uint16_t mqes;  /* max queue entries, 0-based (>= 1); default 1023 */
	uint8_t dstrd;  /* doorbell stride 4 << dstrd; default 0 */
	uint8_t to;     /* ready timeout, 500 ms units; default 20 */
	uint8_t mpsmin; /* default 0 (4 KiB) */
	uint8_t mpsmax; /* default 4 (64 KiB) */
	uint8_t css;    /* CAP.CSS bits; default 0x41 (NVM + I/O sets) */
	uint32_t vs;    /* default 0x00010400 (1.4.0) */

	/* Identify Controller */
	uint8_t mdts;          /* 2^mdts pages of 2^(12+mpsmin); 0 unlimited */
	uint16_t oncs;         /* default 0x001c: DSM, Write Zeroes, Save */
	uint16_t oacs;         /* default 0x0100: Doorbell Buffer Config (7Ch) */
	uint8_t vwc;           /* raw VWC byte; bit 0 cache present; 1 */
	uint16_t cntlid;       /* default 1 */
	char sn[21], mn[41], fr[9];
	uint32_t nn;           /* 0: the highest configured nsid */

	/* I/O queue pairs supported (1..65535); default 4 */
	uint16_t max_io_queues;

	/* PCI function */
	uint32_t pci_addr;     /* handle the HAL passes; default 0x0800 */
	uint16_t vid, did, ssvid, ssid; /* default 1b36:0010, 1af4:1100 */
	uint16_t pci_command;  /* initial Command register; default 0 */

	/* At init CC.EN=1 and RDY=1 with stale admin queue registers, as
	 * firmware may leave a controller (HARDWARE.md item 1). */
	int handoff_enabled;

	/* No RAM backing: reads and writes parse PRPs but move no data. */
	int no_copy;

	unsigned num_ns;
	struct ustor_nvme_model_ns_cfg ns[USTOR_NVME_MODEL_MAX_NS];
};

/* Complete a matching command with `status` instead of executing it (no
 * data moves). init sets every rule to qid -1, opcode -1, count 0. */
struct ustor_nvme_model_inject {
	int qid;         /* -1 any, 0 admin, n I/O SQ n */
	int opcode;      /* -1 any */
	uint16_t status; /* USTOR_NVME_MODEL_STATUS(); bit 0 ignored */
	int count;       /* times left: 0 off, -1 forever */
};

struct ustor_nvme_model_priv;

struct ustor_nvme_model {
	/* ---- Knobs: init sets the default in brackets; change any time -- */

	int never_ready;             /* [0] RDY never becomes 1 */
	uint64_t ready_delay_ns;     /* [0] virtual time per RDY transition */
	/* [0] a CC.EN 0->1 is ignored (RDY never comes) unless AQA, ASQ and
	 * ACQ were all written since the last reset (HARDWARE.md item 1) */
	int needs_admin_regs_before_enable;
	/* [0] reading CSTS less than this long after CC.EN 1->0 freezes the
	 * controller: every register reads all-ones from then on (item 2) */
	uint64_t csts_freeze_window_ns;
	int deferred;                /* [0] CQEs wait for process() */
	int reorder;                 /* [0] process() posts newest first */
	unsigned drop_completions;   /* [0] silently drop the next N CQEs... */
	int drop_qid;                /* [-1] ...of this SQ id only (-1 any) */
	int drop_opcode;             /* [-1] ...of this opcode only (-1 any) */
	unsigned wrong_cid;          /* [0] next N CQEs carry ~cid */
	/* [-1] off; N > 0: CSTS.CFS after N more commands; 0: at the next
	 * fetch or CSTS read. A fatal controller fetches nothing until reset. */
	int fatal_after;
	struct ustor_nvme_model_inject inject[USTOR_NVME_MODEL_MAX_INJECT];
	int garbage_identify;        /* [0] Identify data is random bytes */
	uint32_t garbage_seed;       /* [0x12345678] */
	/* [0] shadow doorbells: never write the EventIdx page (the host then
	 * skips MMIO doorbells; commands wait until process() or any other
	 * doorbell write makes the model look at the shadow page) */
	int dbbuf_stale_eventidx;
	uint8_t smart_critical_warning; /* [0] SMART byte 0 */
	uint16_t smart_temperature;  /* [310] Kelvin, SMART bytes 2:1 */
	/* [0] the next N I/O commands matching hold_qid/hold_opcode are
	 * fetched, then neither executed nor completed (a hung command): an
	 * Abort naming them (SQID, CID) completes them with Command Abort
	 * Requested (00h/07h, DNR clear) unless abort_ignored; a controller
	 * reset forgets them. At most USTOR_NVME_MODEL_MAX_HELD at a time. */
	unsigned hold_commands;
	int hold_qid;                /* [-1] any I/O SQ */
	int hold_opcode;             /* [-1] any */
	int abort_ignored;           /* [0] Abort answers "not aborted", held stay held */
	uint16_t crdt[3];            /* [0] Identify Controller CRDT1-3 (100 ms units) */
	unsigned bad_sqhd;           /* [0] next N CQEs carry SQ head FFFFh */
	/* [0] Identify Namespace lies: 1 NLBAF 255, 2 FLBAS index past NLBAF,
	 * 3 LBADS 30 in the format in use, 4 NCAP > NSZE */
	int hostile_id_ns;
	/* Surprise removal: set `frozen` (below) to 1; every register then
	 * reads all-ones and nothing is fetched or completed. */

	/* ---- State and counters (read only) ---------------------------- */

	int frozen;                   /* froze after an early CSTS read */
	uint64_t admin_cmds[256];     /* fetched admin commands by opcode */
	uint64_t io_cmds[256];        /* fetched I/O commands by opcode */
	uint64_t doorbell_writes;
	uint64_t completions_posted;  /* CQEs written to host memory */
	uint64_t completions_dropped; /* by drop_completions */
	uint64_t host_violations;
	uint64_t enables;             /* CC.EN 0->1 writes */
	uint64_t resets;              /* CC.EN 1->0 writes */
	uint64_t shutdowns;           /* CC.SHN 00 -> non-zero */
	uint64_t shutdowns_with_io_queues; /* ... while I/O queues existed */
	uint64_t host_read_cmds, host_write_cmds;
	uint64_t data_bytes_read, data_bytes_written; /* no metadata */
	uint64_t commands_held;       /* by hold_commands */
	uint64_t commands_aborted;    /* held commands an Abort completed */
	uint64_t held_dropped_by_reset; /* held commands a reset forgot */
	uint64_t dbbuf_configs;       /* Doorbell Buffer Config commands accepted */
	uint64_t shadow_updates;      /* new SQ tails / CQ heads seen only in the shadow page */

	/* ---- Private -------------------------------------------------- */

	struct ustor_nvme_model_cfg cfg;
	struct ustor_test_hal *h;
	struct ustor_nvme_model_priv *priv;
};

/* Defaults as listed on the cfg fields; one namespace: nsid 1, 2048 blocks
 * of 512 bytes. */
void ustor_nvme_model_cfg_default(struct ustor_nvme_model_cfg *cfg);

/*
 * Build the controller and attach its BAR0 window and PCI config space to
 * `h`. USTOR_ERR_INVALID_ARG for an inconsistent cfg, USTOR_ERR_NO_MEMORY if
 * the host heap cannot hold the namespaces.
 */
ustor_status ustor_nvme_model_init(struct ustor_nvme_model *m,
				   struct ustor_test_hal *h,
				   const struct ustor_nvme_model_cfg *cfg);

/* Detach from the HAL and free everything. */
void ustor_nvme_model_fini(struct ustor_nvme_model *m);

/* BAR0 base to hand to the driver (an address token in the HAL). */
volatile void *ustor_nvme_model_regs(struct ustor_nvme_model *m);

/* BAR0 window size in bytes: 0x1000 + 2 * (max_io_queues+1) * stride. */
size_t ustor_nvme_model_regs_size(const struct ustor_nvme_model *m);

/* Set PCI Memory Space and Bus Master Enable, for tests that skip PCI. */
void ustor_nvme_model_pci_enable(struct ustor_nvme_model *m);

/* Register value at `off` without side effects (no freeze, no violation,
 * no lazy RDY update); for test assertions. */
uint32_t ustor_nvme_model_peek_reg(const struct ustor_nvme_model *m,
				   uint32_t off);

/* Deferred mode: post queued completions (reversed if `reorder`); returns
 * how many were written to host memory (the rest wait for CQ space). With
 * shadow doorbells on, first fetch what the shadow SQ tails announce (a
 * controller's polling thread waking up). */
unsigned ustor_nvme_model_process(struct ustor_nvme_model *m);

/* Completions not yet in host memory (deferred or waiting for CQ space). */
unsigned ustor_nvme_model_pending(const struct ustor_nvme_model *m);

/* Host violations so far, one line each; "" when there were none. */
const char *ustor_nvme_model_violations(const struct ustor_nvme_model *m);

/* Forget recorded violations (the counter too). */
void ustor_nvme_model_clear_violations(struct ustor_nvme_model *m);

/* RAM backing of a namespace's data (nblocks << lbads bytes) and of its
 * metadata (nblocks * ms bytes); NULL for an unknown nsid, no metadata, or
 * no_copy. */
uint8_t *ustor_nvme_model_ns_data(struct ustor_nvme_model *m, uint32_t nsid,
				  uint64_t *out_bytes);
uint8_t *ustor_nvme_model_ns_meta(struct ustor_nvme_model *m, uint32_t nsid,
				  uint64_t *out_bytes);

#endif
