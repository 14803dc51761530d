/* SPDX-License-Identifier: MIT */
/*
 * uStor NVMe driver: controller bring-up, admin commands, I/O queues and
 * namespaces exposed as block devices.
 *
 * Typical use (a kernel found an NVMe function and mapped BAR0 uncached):
 *
 *   static struct ustor_nvme_ctrl ctrl;          // any memory, zeroed or not
 *   struct ustor_nvme_config cfg;
 *   ustor_nvme_config_default(&cfg);
 *   if (ustor_nvme_ctrl_init(&ctrl, &hal, bar0, &cfg) == USTOR_OK) {
 *       struct ustor_block_device *d = ustor_nvme_ns_bdev(&ctrl, 0);
 *       ustor_block_read(d, 0, 1, sector);
 *   }
 *
 * One controller object is driven by one CPU at a time unless the HAL
 * supplies lock/unlock, which makes the I/O queues safe to share, or
 * cfg.lockless_io_queues gives each CPU its own I/O queue (no lock); admin
 * calls (identify, features, logs, passthrough, init, shutdown) share one
 * data page and must still come from one CPU at a time, as must the
 * synchronous block calls that bounce. Nothing here waits without a bound:
 * every wait is a deadline on hal->now_ns.
 */
#ifndef USTOR_NVME_H
#define USTOR_NVME_H

#include <stdint.h>

#include "block.h"
#include "config.h"
#include "hal.h"
#include "nvme_spec.h"
#include "sqcq.h"
#include "status.h"

/*
 * Time some controllers need after CC.EN is cleared before CSTS may be read
 * (HGST, WDC SN200, Samsung PM1725, Memblaze, Seagate Nytro freeze
 * otherwise; Linux and FreeBSD wait this long). Put it in
 * ustor_nvme_config.post_disable_delay_ms for such drives, or let
 * ustor_nvme_quirks() pick it from the PCI IDs.
 */
#define USTOR_NVME_QUIRK_DISABLE_DELAY_MS 2300u

/*
 * How I/O completions are noticed (ustor_nvme_config.completion).
 * POLL: CQs without interrupts; the kernel calls ustor_block_poll.
 * IRQ: CQs with interrupts (vector ustor_nvme_irq_vector); the kernel polls
 *   the queue from its handler or after waking. Polling still works when no
 *   interrupt ever arrives.
 * ADAPTIVE: as IRQ, but a queue with at least adaptive_high commands in
 *   flight has its vector masked (hal->irq_mask) and is served by polling
 *   alone, until its in-flight count falls to adaptive_low, when the vector
 *   is unmasked. The check runs in submit and poll, so the kernel MUST keep
 *   polling while it has I/O outstanding on a masked queue (it gets no
 *   interrupt then). Without hal->irq_mask it behaves as IRQ.
 */
enum ustor_nvme_completion {
	USTOR_NVME_COMPLETION_POLL = 0,
	USTOR_NVME_COMPLETION_IRQ = 1,
	USTOR_NVME_COMPLETION_ADAPTIVE = 2
};

/* Default adaptive thresholds (commands in flight on one queue). */
#define USTOR_NVME_ADAPTIVE_HIGH 8u
#define USTOR_NVME_ADAPTIVE_LOW 2u

/* Runtime settings for one controller; start from ustor_nvme_config_default. */
struct ustor_nvme_config {
	uint32_t io_queues;            /* I/O queue pairs to ask for (1..MAX) */
	uint32_t io_queue_depth;       /* entries per I/O queue (clamped to CAP.MQES+1) */
	uint32_t max_transfer_bytes;   /* cap on one command's data (0 = MDTS only) */
	uint32_t post_disable_delay_ms;/* wait after CC.EN=0 before reading CSTS */
	uint32_t min_ready_timeout_ms; /* floor under CAP.TO for enable/disable waits */
	uint32_t admin_timeout_ms;     /* bound of each admin command */
	uint32_t io_timeout_ms;        /* bound of each synchronous block call */
	uint32_t shutdown_timeout_ms;  /* bound of the CC.SHN wait */
	uint32_t io_retries;           /* retries of a failed command whose DNR is clear */
	uint32_t bounce_bytes;         /* synchronous bounce buffer (0 = refuse untranslatable buffers) */
	uint32_t pci_addr;             /* handle for hal->pci_cfg_*; used when use_pci_cfg */
	uint8_t use_pci_cfg;           /* switch on Memory Space + Bus Master Enable */
	uint8_t use_mmio64;            /* 64-bit register access instead of 32-bit halves */
	uint8_t index;                 /* controller number, for names ("nvme<index>n<nsid>") */
	uint8_t use_irq;               /* create I/O CQs with interrupts on (see ustor_nvme_irq_vector) */
	uint32_t irq_vectors;          /* MSI-X table size (0 = unknown): caps I/O queues at vectors-1;
					* fewer than 2 means no interrupts (polling) */
	uint32_t bar_bytes;            /* size of the mapped BAR0 (0 = unknown): doorbells that
					* CAP.DSTRD would put beyond it are refused */
	/* Per-CPU queues: each I/O queue is used by one CPU only (the kernel
	 * gives CPU n queue n, e.g. USTOR_SCHED_CPU), so the I/O path never
	 * calls hal->lock even when the HAL has one; the admin queue still
	 * locks. 0 (default): I/O queues are shared and locked when the HAL
	 * has a lock. Passthrough and cancel on a queue must then come from
	 * its CPU too. */
	uint8_t lockless_io_queues;
	uint8_t completion;            /* enum ustor_nvme_completion (default POLL; use_irq = IRQ) */
	/* Shadow doorbells: Doorbell Buffer Config (7Ch) when Identify OACS
	 * bit 8 offers it. Doorbell values go to a shadow page and the MMIO
	 * doorbell is written only when the controller's EventIdx asks. Off by
	 * default: under QEMU TCG it measured no gain (bench README). */
	uint8_t shadow_doorbells;
	uint8_t irq_coalesce;          /* set Interrupt Coalescing (08h) at init with the two below */
	uint8_t irq_coalesce_threshold;/* aggregation threshold, 0-based entries */
	uint8_t irq_coalesce_time_100us; /* aggregation time, 100 us units */
	uint16_t adaptive_high;        /* ADAPTIVE: mask at this many in flight (0 = default 8) */
	uint16_t adaptive_low;         /* ADAPTIVE: unmask at this many or fewer (default 2) */
	uint16_t rsvd_cfg;
	/* Recovery (docs/ARCHITECTURE.md "Recovery"). */
	uint32_t cmd_timeout_ms;       /* per-command deadline of I/O commands, checked on the
					* poll path (0 = off: only the synchronous bound applies);
					* clamped to io_timeout_ms / 3 so that abort, reset and
					* re-submission fit inside one synchronous call */
	uint32_t max_resets;           /* controller resets allowed within reset_window_ms; one
					* more fails the controller (every waiter: DEVICE_GONE or
					* FATAL). 0 = never reset: a timeout fails the controller */
	uint32_t reset_window_ms;      /* resets further apart than this do not add up */
	uint32_t not_ready_delay_ms;   /* wait before retrying "Namespace Not Ready" without CRD */
	uint32_t max_retry_delay_ms;   /* cap on any retry delay (CRD from CRDT1-3); at most 30 s */
};

/* Fill `cfg` with defaults: 1 I/O queue of 256, 5 s admin, 30 s I/O, ... */
void ustor_nvme_config_default(struct ustor_nvme_config *cfg);

/* Pick known quirks (e.g. the post-disable delay) from PCI vendor/device IDs. */
void ustor_nvme_quirks(struct ustor_nvme_config *cfg, uint16_t vendor, uint16_t device);

/* Decoded Identify Controller fields uStor keeps. */
struct ustor_nvme_ctrl_info {
	uint16_t vid;
	uint16_t ssvid;
	char serial[21];   /* NUL-terminated, trailing spaces trimmed */
	char model[41];
	char firmware[9];
	uint8_t mdts;      /* raw: log2 in MPSMIN units, 0 = no limit */
	uint8_t vwc;       /* bit 0: volatile write cache present */
	uint16_t cntlid;
	uint32_t ver;      /* from Identify, else the VS register */
	uint16_t oacs;
	uint16_t oncs;
	uint32_t nn;       /* highest namespace id */
	uint32_t sgls;
	uint8_t frmw;
	uint8_t lpa;
	uint8_t elpe;      /* error log entries - 1 */
	uint8_t rsvd;
	uint16_t crdt[3];  /* Command Retry Delay Times 1-3, 100 ms units (CRD in a status) */
	uint16_t rsvd2;
};

/* Decoded Identify Namespace fields. */
struct ustor_nvme_ns_info {
	uint32_t nsid;
	uint64_t nsze;
	uint64_t ncap;
	uint64_t nuse;
	uint8_t nlbaf;             /* number of formats (1-based here) */
	uint8_t flbas_index;       /* format in use */
	uint8_t extended_md;       /* metadata at the end of each block's data */
	uint8_t dlfeat;
	uint32_t lbaf[USTOR_NVME_MAX_LBAF]; /* raw formats: see USTOR_NVME_LBAF_* */
	uint32_t block_size;       /* data bytes per block of the format in use */
	uint16_t ms;               /* metadata bytes per block of the format in use */
	uint8_t lbads;             /* log2(block_size) */
	uint8_t write_protected;   /* NSATTR bit 0 */
};

/* Decoded SMART / health log (02h). 128-bit counters saturate at 2^64-1. */
struct ustor_nvme_smart_info {
	uint8_t critical_warning;  /* USTOR_NVME_SMART_CW_* bits */
	uint8_t avail_spare;       /* percent */
	uint8_t spare_thresh;      /* percent */
	uint8_t percent_used;
	uint16_t temperature_k;    /* composite, kelvin */
	uint16_t rsvd;
	uint64_t data_units_read;  /* thousands of 512-byte units */
	uint64_t data_units_written;
	uint64_t host_reads;
	uint64_t host_writes;
	uint64_t ctrl_busy_minutes;
	uint64_t power_cycles;
	uint64_t power_on_hours;
	uint64_t unsafe_shutdowns;
	uint64_t media_errors;
	uint64_t error_log_entries;
	uint32_t warning_temp_minutes;
	uint32_t critical_temp_minutes;
};

/* Decoded error information log entry (01h). */
struct ustor_nvme_error_info {
	uint64_t error_count;      /* 0: entry unused */
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;           /* status field without phase */
	uint16_t param_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint32_t rsvd;
};

/* Decoded firmware slot log (03h). */
struct ustor_nvme_fw_info {
	uint8_t active_slot;       /* 1..7 */
	uint8_t next_slot;         /* 0: no change at next reset */
	char revision[7][9];       /* per slot 1..7, NUL-terminated, "" if empty */
};

/* A raw command for passthrough: fields in CPU order; cid and PRPs are set
 * by the library; `flags` (FUSE/PSDT) is not sent: PRPs only, no fused
 * commands. */
struct ustor_nvme_cmd {
	uint8_t opcode;
	uint8_t flags;
	uint16_t rsvd;
	uint32_t nsid;
	uint32_t cdw2, cdw3;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};

/* A raw completion: dw0 result and status field (no phase). */
struct ustor_nvme_cpl {
	uint32_t dw0;
	uint16_t status;
	uint16_t rsvd;
};

/* Per-command bookkeeping, one per queue slot (internal layout). */
struct ustor_nvme_slot {
	void *owner;             /* request being served; NULL = free or abandoned */
	uint64_t lba;            /* chunk served, for retries and error reports */
	uint32_t nblocks;
	uint32_t buf_off;        /* offset of the chunk inside the request buffer */
	uint8_t kind;            /* free, block chunk, raw, abandoned */
	uint8_t retries_left;
	uint8_t opcode;
	uint8_t rsvd;
	uint16_t gen;            /* generation: bits 15:10 of the command id, in place
				  * (advanced by 0x400, wrapping at 16 bits) */
	uint16_t stamp;          /* watchdog epoch at issue; due time (ns >> 20, 16 bits)
				  * when DELAYED */
};

/* One queue pair with its slots and PRP list pool. */
struct ustor_nvme_queue {
	struct ustor_sqcq ring;
	struct ustor_nvme_slot *slots;  /* depth entries (HAL memory) */
	uint16_t *free_ids;             /* stack of free slot indices */
	uint16_t nfree;
	uint8_t irq_masked;             /* ADAPTIVE: vector masked, polling only */
	uint8_t rsvd;
	uint32_t prp_area_bytes;        /* PRP list bytes per slot */
	uint8_t *prp_pool;              /* depth * prp_area_bytes, page aligned */
	ustor_bus_addr prp_pool_bus;
	uint8_t *dsm_page;              /* page-aligned DSM range buffer */
	ustor_bus_addr dsm_bus;
	void *dsm_owner;                /* slot using the DSM page, NULL = free */
	struct ustor_block_req *waiting;/* requests with chunks not yet issued */
	struct ustor_block_req *waiting_tail;
	struct ustor_block_req *done_head;  /* finished, callbacks not yet run */
	struct ustor_block_req *done_tail;
	uint32_t bad_cqe;               /* completions with an unknown command id */
	volatile uint32_t lock_word;    /* for hal->lock */
	void *bookkeeping;              /* slots + free_ids allocation */
	uint32_t bookkeeping_bytes;
	uint32_t prp_pool_bytes;
	/* Watchdog (nvme_recover.c): commands are stamped with wd_epoch (fast
	 * path ones by the first tick that sees them), which advances every
	 * cmd_timeout_ms / 4 while commands are in flight. */
	uint16_t wd_epoch;              /* 16 bits: ages are compared modulo 2^16 */
	uint16_t wd_abort_epoch;        /* epoch the last aborts were sent in */
	uint64_t wd_next_ns;            /* next epoch tick */
	uint16_t wd_cq_head;            /* CQ head at the last tick (progress check) */
	uint8_t wd_aborting;            /* aborts sent for overdue commands */
	uint8_t rsvd_wd8;
	uint16_t ndelayed;              /* slots holding a delayed retry */
	uint16_t rsvd_wd;
};

struct ustor_nvme_ctrl;

/* One namespace, seen by the kernel through `bdev`. */
struct ustor_nvme_ns {
	struct ustor_block_device bdev;
	struct ustor_nvme_ctrl *ctrl;
	struct ustor_nvme_ns_info info;
	uint32_t max_chunk_blocks;      /* blocks per read/write command */
	uint32_t fast_end;              /* the submit fast path takes a read/write whose
					 * page offset + length is at most this:
					 * min(2 pages, max_chunk_blocks bytes) */
};

struct ustor_nvme_ctrl {
	const struct ustor_hal *hal;
	volatile uint8_t *regs;
	struct ustor_nvme_config cfg;
	uint64_t cap;
	uint32_t vs;
	uint32_t dstrd;
	uint32_t page_size;             /* chosen CC.MPS in bytes */
	uint8_t page_shift;
	uint8_t state;                  /* internal lifecycle state */
	uint8_t irq_on;                 /* I/O CQs created with interrupts enabled */
	uint8_t io_retries;             /* cfg.io_retries, clamped to 255 */
	uint32_t mqes1;                 /* CAP.MQES + 1 (32-bit: MQES may be 0xFFFF) */
	uint32_t ready_timeout_ms;      /* from CAP.TO, with the configured floor */
	uint32_t max_transfer;          /* bytes per command after MDTS and the cap */
	struct ustor_nvme_ctrl_info info;

	struct ustor_nvme_queue admin;
	uint8_t *admin_buf;             /* one page for identify/log/feature data */
	ustor_bus_addr admin_buf_bus;

	struct ustor_nvme_queue io[USTOR_NVME_MAX_IO_QUEUES];
	uint16_t nio;                   /* I/O queues created */
	uint16_t io_depth;

	uint8_t *bounce;                /* sync bounce buffer shared by namespaces */
	ustor_bus_addr bounce_bus;

	/* Shadow doorbells (Doorbell Buffer Config): one page each. */
	uint8_t *dbbuf_shadow;
	uint8_t *dbbuf_evt;
	ustor_bus_addr dbbuf_shadow_bus;
	ustor_bus_addr dbbuf_evt_bus;
	uint8_t dbbuf_on;               /* the controller accepted the pages */
	uint8_t adaptive;               /* ADAPTIVE mode with hal->irq_mask: I/O rings carry
					 * USTOR_NVME_QF_ADAPTIVE */
	uint16_t adaptive_high;
	uint16_t adaptive_low;
	uint16_t rsvd_ctrl;

	struct ustor_nvme_ns ns[USTOR_NVME_MAX_NAMESPACES];
	uint32_t nns;                   /* namespaces exposed */
	uint32_t ns_skipped;            /* active namespaces beyond the array */

	/* Recovery (nvme_recover.c). */
	uint8_t recover_on;             /* init finished: timeouts may reset the controller */
	uint8_t stopped;                /* failed with the controller disabled (memory may go) */
	uint16_t rsvd_rec;
	ustor_status failed_status;     /* why the controller failed (state FAILED) */
	ustor_status reset_pending;     /* an admin timeout asks the next I/O poll for a reset */
	uint32_t resets_recent;         /* resets within cfg.reset_window_ms */
	uint64_t last_reset_ns;
	uint32_t resets;                /* controller resets done (statistics) */
	uint32_t aborts;                /* Abort commands sent */
	uint32_t requeued;              /* requests re-submitted after a reset */
	uint32_t retries_delayed;       /* retries that waited (CRD, Namespace Not Ready) */
};

/*
 * Bring a controller up: PCI enable, disable, admin queue, enable, Identify,
 * Number of Queues, I/O queues, and every active namespace as a block
 * device. `regs` is BAR0 mapped uncached. On failure the log says why (with
 * CAP/CC/CSTS) and everything allocated is freed, unless the controller
 * would not stop (then its memory is kept: it may still write there).
 */
ustor_status ustor_nvme_ctrl_init(struct ustor_nvme_ctrl *ctrl, const struct ustor_hal *hal,
				  volatile void *regs, const struct ustor_nvme_config *cfg);

/*
 * Orderly shutdown: delete I/O queues (SQs then CQs), CC.SHN normal, wait
 * for CSTS.SHST complete (bounded), disable, then end every request still
 * outstanding with USTOR_ERR_SHUT_DOWN (callbacks run) and free all memory
 * (kept if the controller would not stop). Block devices of this
 * controller refuse I/O afterwards.
 */
ustor_status ustor_nvme_ctrl_shutdown(struct ustor_nvme_ctrl *ctrl);

/*
 * Reset and re-initialise a READY controller (CC.EN=0, wait, enable, admin
 * and every I/O queue with the same count and depth, re-identify the
 * namespaces: one whose size or format changed becomes USTOR_BDEV_F_UNUSABLE
 * with USTOR_ERR_NO_NAMESPACE). Block requests in flight are re-submitted
 * from their first block (reads, writes, flush, discard and write-zeroes are
 * idempotent); raw and admin commands in flight fail with USTOR_ERR_DEVICE
 * ("Command Aborted By Host"). Counts against cfg.max_resets: past it, or if
 * re-initialisation fails, the controller is failed and every request ends
 * with USTOR_ERR_DEVICE_GONE or USTOR_ERR_FATAL (callbacks run). Polls
 * call this by themselves on a timeout or CSTS.CFS (cfg.cmd_timeout_ms).
 */
ustor_status ustor_nvme_ctrl_reset(struct ustor_nvme_ctrl *ctrl);

/* Read CSTS: USTOR_OK, USTOR_ERR_FATAL (CFS), USTOR_ERR_DEVICE_GONE (all ones)
 * or USTOR_ERR_NOT_READY (RDY clear). */
ustor_status ustor_nvme_ctrl_check(struct ustor_nvme_ctrl *ctrl);

/*
 * Interrupt vector (MSI-X table index) of I/O queue `queue` when
 * cfg.use_irq is set: queue + 1; vector 0 belongs to the admin queue, which
 * the library always polls. Program and unmask the vector BEFORE
 * ustor_nvme_ctrl_init, or the first completion's interrupt is lost
 * (HARDWARE.md item 8); `ctrl` may be uninitialised then (it is not read).
 * Give cfg.irq_vectors the table size so no queue gets a vector the
 * controller lacks. Polling keeps working whether or not interrupts arrive.
 */
uint16_t ustor_nvme_irq_vector(const struct ustor_nvme_ctrl *ctrl, uint16_t queue);

/* Number of namespaces exposed as block devices. */
uint32_t ustor_nvme_ns_count(const struct ustor_nvme_ctrl *ctrl);

/* Block device of the idx-th exposed namespace (ascending NSID), or NULL. */
struct ustor_block_device *ustor_nvme_ns_bdev(struct ustor_nvme_ctrl *ctrl, uint32_t idx);

/* Namespace object by NSID; USTOR_ERR_NO_NAMESPACE if not active/exposed. */
ustor_status ustor_nvme_ns_find(struct ustor_nvme_ctrl *ctrl, uint32_t nsid,
				struct ustor_nvme_ns **out_ns);

/* ---- Admin commands (synchronous, bounded by cfg.admin_timeout_ms) ---- */

/* Identify Controller, decoded into *out. */
ustor_status ustor_nvme_identify_ctrl(struct ustor_nvme_ctrl *ctrl,
				      struct ustor_nvme_ctrl_info *out);

/* Identify Namespace `nsid`, decoded and validated into *out. */
ustor_status ustor_nvme_identify_ns(struct ustor_nvme_ctrl *ctrl, uint32_t nsid,
				    struct ustor_nvme_ns_info *out);

/* Active namespace IDs greater than `start` (CNS 02h), ascending, at most `max`. */
ustor_status ustor_nvme_active_ns_list(struct ustor_nvme_ctrl *ctrl, uint32_t start,
				       uint32_t *out_ids, uint32_t max, uint32_t *out_count);

/* Get Features `fid` (cdw11 as given); the result dword in *out_dw0. */
ustor_status ustor_nvme_get_features(struct ustor_nvme_ctrl *ctrl, uint8_t fid, uint32_t cdw11,
				     uint32_t *out_dw0);

/* Set Features `fid` to `cdw11`; the result dword (may be NULL) in *out_dw0. */
ustor_status ustor_nvme_set_features(struct ustor_nvme_ctrl *ctrl, uint8_t fid, uint32_t cdw11,
				     uint32_t *out_dw0);

/* Volatile write cache on/off (Feature 06h); UNSUPPORTED when VWC absent. */
ustor_status ustor_nvme_set_write_cache(struct ustor_nvme_ctrl *ctrl, int enable);
ustor_status ustor_nvme_get_write_cache(struct ustor_nvme_ctrl *ctrl, int *out_enabled);

/* Ask for nsq/ncq I/O queues (1-based); granted counts (1-based) returned. */
ustor_status ustor_nvme_set_num_queues(struct ustor_nvme_ctrl *ctrl, uint16_t nsq, uint16_t ncq,
				       uint16_t *out_nsq, uint16_t *out_ncq);

/* Arbitration (01h): burst as log2 (7 = unlimited) and weights. */
ustor_status ustor_nvme_set_arbitration(struct ustor_nvme_ctrl *ctrl, uint8_t burst_log2,
					uint8_t low, uint8_t medium, uint8_t high);

/* Interrupt coalescing (08h): threshold (entries, 0-based) and time (100 us units). */
ustor_status ustor_nvme_set_irq_coalescing(struct ustor_nvme_ctrl *ctrl, uint8_t threshold,
					   uint8_t time_100us);

/* SMART / health log for `nsid` (0xFFFFFFFF = controller-wide), decoded. */
ustor_status ustor_nvme_get_smart(struct ustor_nvme_ctrl *ctrl, uint32_t nsid,
				  struct ustor_nvme_smart_info *out);

/* Name of one SMART critical-warning bit (a USTOR_NVME_SMART_CW_* value),
 * e.g. "temperature"; NULL for a bit the spec does not define. */
const char *ustor_nvme_smart_warning_name(uint8_t bit);

/* Up to `max` error log entries (newest first as the device returns them). */
ustor_status ustor_nvme_get_error_log(struct ustor_nvme_ctrl *ctrl,
				      struct ustor_nvme_error_info *out, uint32_t max,
				      uint32_t *out_count);

/* Firmware slot information, decoded. */
ustor_status ustor_nvme_get_fw_slots(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_fw_info *out);

/* Create/delete one I/O CQ or SQ on the controller (used by init/shutdown). */
ustor_status ustor_nvme_create_io_cq(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q);
ustor_status ustor_nvme_create_io_sq(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q);
ustor_status ustor_nvme_delete_io_queue(struct ustor_nvme_ctrl *ctrl, uint8_t opcode, uint16_t qid);

/*
 * Raw admin command for what the library does not wrap. `buf` (may be NULL)
 * of `len` bytes, at most one page, is copied through the library's admin
 * page in the direction `to_device` says. *out gets dw0 and status.
 */
ustor_status ustor_nvme_admin_passthrough(struct ustor_nvme_ctrl *ctrl,
					  const struct ustor_nvme_cmd *cmd, void *buf,
					  uint32_t len, int to_device, struct ustor_nvme_cpl *out);

/*
 * Raw I/O command on I/O queue `queue`; `buf` (may be NULL) must be
 * translatable by the HAL and at most max_transfer bytes; PRPs are built by
 * the library. Synchronous, bounded by cfg.io_timeout_ms.
 */
ustor_status ustor_nvme_io_passthrough(struct ustor_nvme_ctrl *ctrl, uint16_t queue,
				       const struct ustor_nvme_cmd *cmd, void *buf, uint32_t len,
				       struct ustor_nvme_cpl *out);

/* ---- Status decoding ---- */

/* Readable name of an NVMe status field (SCT/SC), e.g. "LBA Out of Range". */
const char *ustor_nvme_status_name(uint16_t status);

/* Readable name of a status code type, e.g. "Media and Data Integrity". */
const char *ustor_nvme_sct_name(uint16_t status);

/* Map an NVMe status field to the library's enum (0 -> USTOR_OK). */
ustor_status ustor_nvme_status_to_ustor(uint16_t status);

#endif
