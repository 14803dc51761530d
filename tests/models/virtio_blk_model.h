/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk device model for hosted tests (VIRTIO 1.2: block device, split
 * or packed virtqueues), behind the hosted HAL, over one of three transports chosen
 * at init:
 *   - PCI: virtio-pci modern (non-transitional, 1af4:1042, revision 1) with
 *     vendor capabilities for common / notify / ISR / device configuration
 *     and PCI configuration access, an MSI-X capability, and one 16 KiB
 *     64-bit memory BAR (BAR4) holding all of it;
 *   - MMIO2: virtio-mmio version 2;
 *   - MMIO1: legacy virtio-mmio version 1 (GuestPageSize, QueueAlign,
 *     QueuePFN), QEMU's default on several boards.
 *
 * It is written from the specification independently of the library's own
 * headers, so a wrong offset or constant in the library cannot hide behind
 * a shared definition. All DMA goes through ustor_test_hal_bus_to_virt()
 * and all guest memory is read and written byte-wise: little-endian for the
 * modern transports, guest-native order for the legacy one (where the guest
 * is the host CPU running the test, so big-endian under qemu-m68k).
 *
 * Behaviour in one paragraph: registers are one MMIO window attached to the
 * HAL. An available-buffer notification is processed synchronously inside
 * the MMIO write: every new available chain is walked, validated and
 * executed against a RAM disk, its status byte written and its used element
 * posted, then one used-buffer notification is sent unless suppressed
 * (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with RING_EVENT_IDX).
 * `deferred` holds used elements until ustor_virtio_blk_model_process().
 * Everything the driver does wrong is a "host violation": counted,
 * described in a text log, and answered as a real device would (ignored
 * write, IOERR status, refused FEATURES_OK, or a broken device).
 *
 * Model choices where the spec leaves room:
 *   - Register access width. virtio-pci's common configuration and every
 *     device configuration space have 8- and 16-bit fields that the spec
 *     says to access at their natural width. The PCI BAR window takes the
 *     hosted HAL's 8/16-bit accesses (ustor_test_hal_attach_mmio_narrow)
 *     as accesses of one field. The model decodes a 32-bit access by
 *     byte lanes: a read returns every field in the dword, a write updates
 *     every writable field in it (common cfg: queue_select before
 *     device_status; a lane equal to the field's current value is no
 *     change, so read-modify-write works; read-only lanes are ignored).
 *     Real devices differ here: QEMU decodes a common-cfg access by its
 *     start offset only. `strict_access_width` reports every dword access
 *     that spans more than one field as a violation, to find such code.
 *   - Malformed rings or chains (avail idx jumping by more than the queue
 *     size, head or next index out of range, a loop or a chain longer than
 *     the queue size, bad indirect tables, unmapped ring or buffer memory,
 *     no 16-byte header or no status byte, a descriptor reused while the
 *     device owns it) make the device "broken", as QEMU does: the chain is
 *     not completed, nothing more is processed until reset, and with
 *     VIRTIO_F_VERSION_1 negotiated DEVICE_NEEDS_RESET is set and a
 *     configuration change notification sent.
 *   - Request-level mistakes (data length not a multiple of 512, range past
 *     capacity, bad discard/write-zeroes segments, command not negotiated)
 *     complete with IOERR or UNSUPP and are violations; data in the wrong
 *     direction (IN with readable data, OUT with writable data before the
 *     status byte) is a violation and otherwise ignored.
 *   - Framing is free on modern transports (header and status found in the
 *     byte streams); on MMIO1 (VIRTIO_F_ANY_LAYOUT never offered) a header
 *     not in one 16-byte descriptor or a status not in its own 1-byte
 *     descriptor is a violation (`strict_framing` applies it everywhere).
 *   - MMIO1 keeps legacy byte order everywhere the spec says so: rings,
 *     descriptors, request headers, discard segments and the device
 *     configuration are guest-native. A 32-bit register read presents
 *     configuration bytes like every register (the little-endian value of
 *     the four bytes), so on a big-endian host a driver turns the value
 *     back into bytes (little-endian store) and reads the field natively.
 *   - Descriptor ownership is tracked: from the moment a chain is
 *     consumed until its used element is written, making any of its
 *     (direct) descriptors available again is a violation that breaks the
 *     device. `never_complete` therefore leaves them owned until reset.
 *   - blk_size does not change the protocol: sectors are 512 bytes and
 *     requests not aligned to blk_size succeed (counted); `strict_blk_size`
 *     fails them with IOERR as QEMU does with 4K logical blocks.
 *   - VIRTIO_BLK_F_FLUSH offered: FLUSH succeeds even if not negotiated;
 *     not offered: UNSUPP. GET_LIFETIME, SECURE_ERASE, zone and SCSI
 *     commands: UNSUPP. Discard leaves data as it was (`discard_fill`).
 *   - writeback follows QEMU: without CONFIG_WCE negotiated it becomes 1 if
 *     FLUSH was negotiated, else 0; with CONFIG_WCE but not FLUSH it is 0.
 *   - Queue size after reset is queue_num_max on every transport (MMIO1 and
 *     MMIO2 use it if QueueNum is never written). Enabling a queue starts
 *     its indices at 0. queue_notify_off of queue i is i.
 *   - A queue used-buffer notification always sets ISR bit 0 (as QEMU
 *     does); on PCI it then goes to the queue's MSI-X vector when MSI-X is
 *     enabled (NO_VECTOR: none), else to INTx (PCI Status bit 3 = ISR != 0).
 *   - PCI Memory Space Enable off: BAR reads return all-ones and writes are
 *     dropped (violations). Bus Master Enable off: notifications are not
 *     processed (violation); the next one after BME is set processes all.
 *   - The BAR register initially holds the window's host address, so an
 *     identity-mapping kernel can use it; the window never moves.
 *   - Packed rings (VIRTIO_F_RING_PACKED, 2.8): the driver area is the
 *     driver event suppression structure, the device area the device's.
 *     A chain is available when its first descriptor's AVAIL bit equals
 *     the device's wrap counter and USED differs; the buffer id is taken
 *     from the chain's last descriptor (indirect: the one descriptor).
 *     One used descriptor per chain is written at the used position (id,
 *     len, then flags AVAIL = USED = used wrap counter), which then skips
 *     the chain's descriptor count. Violations: a buffer id the device
 *     still holds, more descriptors outstanding than the ring has, a
 *     DESC event flag without EVENT_IDX. With EVENT_IDX the device area
 *     asks for a notification at the next available position
 *     (DESC + off_wrap); without, it stays ENABLE. An interrupt is sent
 *     unless the driver area says DISABLE, or DESC names a position
 *     outside the batch of used descriptors just written.
 *   - The hosted HAL has one PCI handler: the model initialised last owns
 *     hal.pci_cfg_read32/write32. It answers only cfg.pci_addr.
 */
#ifndef USTOR_TEST_VIRTIO_BLK_MODEL_H
#define USTOR_TEST_VIRTIO_BLK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../../hal/hosted/hosted_hal.h"

/* Limits of the model. */
#define USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES 16
#define USTOR_VIRTIO_BLK_MODEL_MAX_VECTORS 64

/* Feature bits (VIRTIO 1.2 sections 5.2.3 and 6). */
#define USTOR_VIRTIO_BLK_MODEL_F_SIZE_MAX (1ULL << 1)
#define USTOR_VIRTIO_BLK_MODEL_F_SEG_MAX (1ULL << 2)
#define USTOR_VIRTIO_BLK_MODEL_F_GEOMETRY (1ULL << 4)
#define USTOR_VIRTIO_BLK_MODEL_F_RO (1ULL << 5)
#define USTOR_VIRTIO_BLK_MODEL_F_BLK_SIZE (1ULL << 6)
#define USTOR_VIRTIO_BLK_MODEL_F_FLUSH (1ULL << 9)
#define USTOR_VIRTIO_BLK_MODEL_F_TOPOLOGY (1ULL << 10)
#define USTOR_VIRTIO_BLK_MODEL_F_CONFIG_WCE (1ULL << 11)
#define USTOR_VIRTIO_BLK_MODEL_F_MQ (1ULL << 12)
#define USTOR_VIRTIO_BLK_MODEL_F_DISCARD (1ULL << 13)
#define USTOR_VIRTIO_BLK_MODEL_F_WRITE_ZEROES (1ULL << 14)
#define USTOR_VIRTIO_BLK_MODEL_F_INDIRECT_DESC (1ULL << 28)
#define USTOR_VIRTIO_BLK_MODEL_F_EVENT_IDX (1ULL << 29)
#define USTOR_VIRTIO_BLK_MODEL_F_VERSION_1 (1ULL << 32)
#define USTOR_VIRTIO_BLK_MODEL_F_ACCESS_PLATFORM (1ULL << 33)
#define USTOR_VIRTIO_BLK_MODEL_F_RING_PACKED (1ULL << 34) /* not offered by default */

/* Offered by default (MMIO1 drops every bit >= 32, VERSION_1 included). */
#define USTOR_VIRTIO_BLK_MODEL_FEATURES_DEFAULT                                \
	(USTOR_VIRTIO_BLK_MODEL_F_VERSION_1 |                                  \
	 USTOR_VIRTIO_BLK_MODEL_F_SIZE_MAX | USTOR_VIRTIO_BLK_MODEL_F_SEG_MAX |  \
	 USTOR_VIRTIO_BLK_MODEL_F_BLK_SIZE | USTOR_VIRTIO_BLK_MODEL_F_FLUSH |    \
	 USTOR_VIRTIO_BLK_MODEL_F_TOPOLOGY |                                   \
	 USTOR_VIRTIO_BLK_MODEL_F_CONFIG_WCE |                                 \
	 USTOR_VIRTIO_BLK_MODEL_F_DISCARD |                                    \
	 USTOR_VIRTIO_BLK_MODEL_F_WRITE_ZEROES | USTOR_VIRTIO_BLK_MODEL_F_MQ |  \
	 USTOR_VIRTIO_BLK_MODEL_F_EVENT_IDX |                                  \
	 USTOR_VIRTIO_BLK_MODEL_F_INDIRECT_DESC)

/* Device status bits (VIRTIO 1.2 section 2.1). */
#define USTOR_VIRTIO_BLK_MODEL_S_ACKNOWLEDGE 0x01u
#define USTOR_VIRTIO_BLK_MODEL_S_DRIVER 0x02u
#define USTOR_VIRTIO_BLK_MODEL_S_DRIVER_OK 0x04u
#define USTOR_VIRTIO_BLK_MODEL_S_FEATURES_OK 0x08u
#define USTOR_VIRTIO_BLK_MODEL_S_NEEDS_RESET 0x40u
#define USTOR_VIRTIO_BLK_MODEL_S_FAILED 0x80u

enum ustor_virtio_blk_model_transport {
	USTOR_VIRTIO_BLK_MODEL_PCI = 0,   /* virtio-pci modern */
	USTOR_VIRTIO_BLK_MODEL_MMIO2 = 1, /* virtio-mmio version 2 */
	USTOR_VIRTIO_BLK_MODEL_MMIO1 = 2  /* legacy virtio-mmio version 1 */
};

struct ustor_virtio_blk_model_cfg {
	enum ustor_virtio_blk_model_transport transport; /* [PCI] */

	/* RAM disk: capacity in 512-byte sectors (a multiple of
	 * blk_size / 512) [2048: 1 MiB]; blk_size a power of two 512..65536
	 * [512]; read_only offers VIRTIO_BLK_F_RO [0]. */
	uint64_t capacity_sectors;
	uint32_t blk_size;
	int read_only;

	/* Queues: queue_num_max a power of two 1..32768 [128]; num_queues
	 * 1..USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES [1] (all of them exist; the
	 * num_queues config field and MQ say how many the driver may use). */
	uint16_t queue_num_max;
	uint16_t num_queues;

	/* Offered features [USTOR_VIRTIO_BLK_MODEL_FEATURES_DEFAULT]; only
	 * the USTOR_VIRTIO_BLK_MODEL_F_* bits above are implemented (others:
	 * init fails). ACCESS_PLATFORM changes nothing in the model. */
	uint64_t features;

	/* Device configuration fields (VIRTIO 1.2 5.2.4). */
	uint32_t size_max;        /* [65536] */
	uint32_t seg_max;         /* [queue_num_max - 2, at least 1] */
	uint16_t cylinders;       /* [capacity / (16 * 63), at most 65535] */
	uint8_t heads;            /* [16] */
	uint8_t sectors;          /* [63] */
	uint8_t physical_block_exp; /* [0] */
	uint8_t alignment_offset; /* [0] */
	uint16_t min_io_size;     /* [1] in blk_size blocks */
	uint32_t opt_io_size;     /* [0] */
	uint8_t writeback;        /* [1] writeback value after reset */
	uint32_t max_discard_sectors;      /* [32768] */
	uint32_t max_discard_seg;          /* [8] */
	uint32_t discard_sector_alignment; /* [blk_size / 512] */
	uint32_t max_write_zeroes_sectors; /* [32768] */
	uint32_t max_write_zeroes_seg;     /* [8] */
	uint8_t write_zeroes_may_unmap;    /* [1] */
	char serial[21]; /* GET_ID string, NUL-padded to 20 ["USTOR-VIRTIO-BLK-01"] */

	/* MMIO transports: VendorID register [0x554d4551]. */
	uint32_t vendor_id;

	/* PCI transport. */
	uint32_t pci_addr;      /* handle the HAL passes [0x0900] */
	uint16_t pci_command;   /* initial Command register [0] */
	uint8_t pci_subclass;   /* class 01/<subclass>: 0x00 or 0x80 [0x00] */
	uint16_t subsys_vendor; /* [0x1af4] */
	uint16_t subsys_id;     /* [0x1100] */
	uint16_t msix_vectors;  /* MSI-X table size 1..64 [num_queues + 1] */
	/* 0 (one address for all queues) or a multiple of 4 [4] */
	uint32_t notify_off_multiplier;
};

struct ustor_virtio_blk_model_priv;

struct ustor_virtio_blk_model {
	/* ---- Knobs: init sets the default in brackets; change any time -- */

	int refuse_features;     /* [0] FEATURES_OK never sticks */
	/* [-1] off; N > 0: DEVICE_NEEDS_RESET (+ configuration change
	 * notification) after N more requests; 0: at the next notification.
	 * Nothing is processed from then until reset. */
	int needs_reset_after;
	unsigned bad_used_id;    /* [0] next N used ids = queue size + 5 */
	unsigned bad_used_len;   /* [0] next N used lens = 0xffffffff */
	/* [0, 0] requests touching [first, first + count) fail with IOERR */
	uint64_t ioerr_sector_first;
	uint64_t ioerr_sector_count;
	/* [0] requests are executed (data, status byte) but their used
	 * elements are never written; the descriptors stay device-owned */
	int never_complete;
	/* [0] as never_complete, until the driver resets the device (a hung
	 * device that a reset brings back) */
	int stall_until_reset;
	/* [0] surprise removal: every register and config read returns
	 * all-ones (PCI config space excepted) */
	int gone;
	int deferred;            /* [0] used elements wait for process() */
	int reorder;             /* [0] process() posts newest first */
	/* [0] the next N device configuration reads each change
	 * config_generation, so a driver's generation loop must retry */
	unsigned config_gen_churn;
	int strict_access_width; /* [0] see "Register access width" above */
	int strict_framing;      /* [0] legacy framing rules on every transport */
	int strict_blk_size;     /* [0] IN/OUT not aligned to blk_size: IOERR */
	int discard_fill;        /* [-1] keep data; 0..255: fill discarded bytes */

	/* ---- Counters (read only) --------------------------------------- */

	uint64_t notifications;   /* available-buffer notifications written */
	uint64_t requests;        /* chains consumed (all types) */
	uint64_t reads, writes, flushes, get_ids, discards, write_zeroes;
	uint64_t unsupported;     /* other request types */
	uint64_t ioerr_completions, unsupp_completions;
	uint64_t bytes_read;      /* disk -> driver */
	uint64_t bytes_written;   /* driver -> disk */
	uint64_t indirect_tables; /* indirect descriptors followed */
	uint64_t misaligned_requests; /* IN/OUT not aligned to blk_size */
	uint64_t ro_rejects;      /* writes refused because RO was offered */
	/* OUT / WRITE_ZEROES / DISCARD completed while writeback was 1 since
	 * the last FLUSH (a flush resets it to 0) */
	uint64_t unflushed_writes;
	uint64_t used_posted;     /* used elements written to the ring */
	uint64_t used_notifications;   /* queue interrupts sent */
	uint64_t notifications_unneeded; /* EVENT_IDX: notifications the device did not ask for */
	uint64_t used_suppressed; /* NO_INTERRUPT, used_event or NO_VECTOR */
	uint64_t config_notifications; /* configuration change interrupts */
	uint64_t msix_messages[USTOR_VIRTIO_BLK_MODEL_MAX_VECTORS];
	uint64_t msix_masked;     /* messages left pending by a mask */
	uint64_t isr_reads;       /* ISR / InterruptStatus reads */
	uint64_t resets;          /* status writes of 0 (PCI: if status was not 0) */
	uint64_t features_ok_accepted, features_ok_refused;
	uint64_t host_violations;

	/* ---- Private ---------------------------------------------------- */

	struct ustor_virtio_blk_model_cfg cfg;
	struct ustor_test_hal *h;
	struct ustor_virtio_blk_model_priv *priv;
};

/* Defaults as listed on the cfg fields. */
void ustor_virtio_blk_model_cfg_default(struct ustor_virtio_blk_model_cfg *cfg);

/*
 * Build the device and attach its register window (and, for PCI, its
 * configuration space) to `h`. Config fields left 0 that have a derived
 * default (seg_max, cylinders, discard_sector_alignment, msix_vectors) get
 * it. USTOR_ERR_INVALID_ARG for an inconsistent cfg, USTOR_ERR_NO_MEMORY if
 * the host heap cannot hold the disk.
 */
ustor_status ustor_virtio_blk_model_init(struct ustor_virtio_blk_model *m,
					 struct ustor_test_hal *h,
					 const struct ustor_virtio_blk_model_cfg *cfg);

/* Detach from the HAL and free everything. */
void ustor_virtio_blk_model_fini(struct ustor_virtio_blk_model *m);

/* MMIO transports: register window base (0x200 bytes); NULL for PCI. */
volatile void *ustor_virtio_blk_model_mmio_base(struct ustor_virtio_blk_model *m);

/* PCI: BAR `index` window base (only BAR4 exists; 16 KiB); else NULL. */
volatile void *ustor_virtio_blk_model_bar(struct ustor_virtio_blk_model *m,
					  int index);

/* PCI: the function's handle (cfg.pci_addr). */
uint32_t ustor_virtio_blk_model_pci_addr(const struct ustor_virtio_blk_model *m);

/* PCI: set Memory Space and Bus Master Enable, for tests that skip PCI. */
void ustor_virtio_blk_model_pci_enable(struct ustor_virtio_blk_model *m);

/* Deferred mode: post held used elements (reversed if `reorder`) and send
 * the notifications they call for; returns how many were posted. */
unsigned ustor_virtio_blk_model_process(struct ustor_virtio_blk_model *m);

/* Used elements held by `deferred`, not yet in the ring. */
unsigned ustor_virtio_blk_model_pending(const struct ustor_virtio_blk_model *m);

/* Host violations so far, one line each; "" when there were none. */
const char *ustor_virtio_blk_model_violations(
	const struct ustor_virtio_blk_model *m);

/* Forget recorded violations (the counter too). */
void ustor_virtio_blk_model_clear_violations(struct ustor_virtio_blk_model *m);

/* RAM disk backing: capacity_sectors * 512 bytes as configured. */
uint8_t *ustor_virtio_blk_model_disk(struct ustor_virtio_blk_model *m,
				     uint64_t *out_bytes);

/* Configuration change: bump config_generation, set ISR bit 1 and send a
 * configuration change notification (MSI-X: the config vector). */
void ustor_virtio_blk_model_config_change(struct ustor_virtio_blk_model *m);

/* Change the capacity (at most the configured one) and signal it as a
 * configuration change. USTOR_ERR_INVALID_ARG if too large or not a
 * multiple of blk_size / 512. */
ustor_status ustor_virtio_blk_model_set_capacity(
	struct ustor_virtio_blk_model *m, uint64_t sectors);

/* State, without side effects (for test assertions). */
uint8_t ustor_virtio_blk_model_status(const struct ustor_virtio_blk_model *m);
uint8_t ustor_virtio_blk_model_isr(const struct ustor_virtio_blk_model *m);
/* Modern: the features accepted at FEATURES_OK (0 before); MMIO1: the
 * driver features as last written, limited to the offered ones. */
uint64_t ustor_virtio_blk_model_features(const struct ustor_virtio_blk_model *m);
uint8_t ustor_virtio_blk_model_writeback(const struct ustor_virtio_blk_model *m);
/* 1 after a malformed ring or chain until reset (see above). */
int ustor_virtio_blk_model_broken(const struct ustor_virtio_blk_model *m);

#endif
