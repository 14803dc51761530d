/* SPDX-License-Identifier: MIT */
/*
 * uStor virtio core: the transports (virtio-pci modern, virtio-mmio version
 * 2, legacy virtio-mmio version 1) behind one interface, device bring-up
 * (reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK, DRIVER_OK)
 * and the split virtqueue shared by every transport.
 *
 * A kernel normally uses only virtio_blk.h; this header is what it holds
 * (struct ustor_virtio_dev and struct ustor_virtq live inside struct
 * ustor_virtio_blk) plus ustor_virtio_mmio_probe for scanning MMIO slots.
 * The functions are the building blocks of the library's virtio drivers.
 *
 * Register access: every register goes through hal->mmio_read32/write32.
 * The VIRTIO spec asks for accesses of a field's own width in virtio-pci's
 * common configuration (8- and 16-bit fields) and in device configuration
 * spaces; uStor uses the HAL's optional hal->mmio_read8/16 and
 * mmio_write8/16 for the PCI common configuration, the ISR byte and the
 * queue notification. Without them uStor uses the aligned 32-bit access
 * containing the field (a read-modify-write for stores). QEMU decodes such
 * an access by its start offset, which covers everything a single-queue
 * device needs (queue_select stays 0 and is never written); other queues
 * need the 8/16-bit HAL members.
 */
#ifndef USTOR_VIRTIO_H
#define USTOR_VIRTIO_H

#include <stdint.h>

#include "hal.h"
#include "status.h"
#include "virtio_spec.h"

/* Largest queue size uStor asks for: bounds the per-queue DMA memory
 * (rings plus 64 bytes per descriptor of request headers). A power of two,
 * 4..32768. The device's maximum and the driver config may lower it. */
#ifndef USTOR_VIRTIO_MAX_QUEUE_SIZE
#define USTOR_VIRTIO_MAX_QUEUE_SIZE 1024
#endif
#if USTOR_VIRTIO_MAX_QUEUE_SIZE < 4 || USTOR_VIRTIO_MAX_QUEUE_SIZE > 32768 || \
	(USTOR_VIRTIO_MAX_QUEUE_SIZE & (USTOR_VIRTIO_MAX_QUEUE_SIZE - 1)) != 0
#error "USTOR_VIRTIO_MAX_QUEUE_SIZE must be a power of two within 4..32768"
#endif

/* Transports (ustor_virtio_dev.transport). */
#define USTOR_VIRTIO_TRANSPORT_PCI 1	     /* virtio-pci, modern interface */
#define USTOR_VIRTIO_TRANSPORT_MMIO 2	     /* virtio-mmio version 2 */
#define USTOR_VIRTIO_TRANSPORT_MMIO_LEGACY 3 /* virtio-mmio version 1 (legacy) */

/* Guest page size and used-ring alignment uStor programs into a legacy
 * virtio-mmio device (GuestPageSize, QueueAlign); the queue's bus address
 * divided by it goes into the 32-bit QueuePFN. */
#define USTOR_VIRTIO_LEGACY_PAGE 4096u

struct ustor_virtio_dev;
struct ustor_virtq;

/*
 * What a transport does; one constant table per transport. Register values
 * are in CPU order. Only the library calls these.
 */
struct ustor_virtio_transport_ops {
	/* Device feature bits (legacy: the low 32 only). */
	uint64_t (*get_features)(struct ustor_virtio_dev *dev);
	/* Write the driver's accepted feature bits. */
	void (*set_features)(struct ustor_virtio_dev *dev, uint64_t features);
	/* Device status; 0xffffffff when the device does not answer. */
	uint32_t (*get_status)(struct ustor_virtio_dev *dev);
	/* Write the device status (0 resets the device). */
	void (*set_status)(struct ustor_virtio_dev *dev, uint8_t status);
	/* One aligned dword of device configuration at `off` (a multiple
	 * of 4), as a little-endian register: byte `off` in bits 7:0. */
	uint32_t (*config_read32)(struct ustor_virtio_dev *dev, uint32_t off);
	/* Configuration generation (legacy: always 0). */
	uint32_t (*config_generation)(struct ustor_virtio_dev *dev);
	/* Read and acknowledge the interrupt status (ISR bits). */
	uint32_t (*isr)(struct ustor_virtio_dev *dev);
	/* Largest size of queue `index`; 0 if the queue does not exist. */
	uint32_t (*queue_max)(struct ustor_virtio_dev *dev, uint16_t index);
	/* Program vq's size and ring addresses, compute its notify address,
	 * and enable it. */
	ustor_status (*queue_enable)(struct ustor_virtio_dev *dev, struct ustor_virtq *vq);
	/* Log the registers that explain a failure, with a reason. */
	void (*log_regs)(struct ustor_virtio_dev *dev, const char *why);
	/* PCI: ask for MSI-X vector `vector` for configuration changes and
	 * return what the device kept (USTOR_VIRTIO_MSI_NO_VECTOR: refused).
	 * NULL on transports without vectors. */
	uint16_t (*config_vector)(struct ustor_virtio_dev *dev, uint16_t vector);
};

/* One virtio device as its transport sees it. */
struct ustor_virtio_dev {
	const struct ustor_hal *hal;
	const struct ustor_virtio_transport_ops *ops;
	const char *name;			  /* for logs, e.g. "vblk0" */
	uint8_t transport;			  /* USTOR_VIRTIO_TRANSPORT_* */
	uint8_t legacy;				  /* rings and headers in CPU order, no VERSION_1 */
	uint16_t rsvd;
	uint32_t version;   /* MMIO Version register; 1 for PCI modern... */
	uint32_t device_id; /* virtio device type (2: block) */
	uint32_t vendor_id; /* MMIO VendorID or PCI vendor */

	/* MMIO: the register window. */
	volatile uint8_t *base;

	/* PCI: the structures the capabilities point to (mapped BARs). */
	uint32_t pci_addr;
	volatile uint8_t *common;
	volatile uint8_t *notify;
	volatile uint8_t *isr_reg;
	volatile uint8_t *device; /* device configuration */
	uint32_t common_len;
	uint32_t notify_len;
	uint32_t notify_mult; /* notify_off_multiplier */
	uint32_t isr_len;

	uint32_t config_len;	  /* device configuration bytes (0: unknown) */
	uint64_t device_features; /* offered */
	uint64_t features;	  /* negotiated */
};

/* Per chain head (split: head descriptor; packed: buffer id), kept by the
 * driver (never read back from the ring). */
struct ustor_virtq_head {
	uint32_t in_len; /* device-writable bytes the chain offered */
	uint16_t ndesc;	 /* ring descriptors the chain holds; 0: not posted */
	uint16_t last;	 /* split direct: its last descriptor */
};

/* How to set a queue up (ustor_virtq_init). */
struct ustor_virtq_opts {
	uint16_t size;	      /* entries, a power of two */
	uint16_t ind_max;     /* descriptors per indirect table (0: no indirect) */
	uint16_t msix_vector; /* PCI: MSI-X vector to ask for (USTOR_VIRTIO_MSI_NO_VECTOR: none) */
	uint8_t packed;	      /* VIRTIO_F_RING_PACKED negotiated */
	uint8_t event_idx;    /* VIRTIO_F_EVENT_IDX negotiated */
	uint8_t no_interrupt; /* start with used-buffer interrupts suppressed */
	uint8_t rsvd[3];
};

/*
 * One virtqueue, split (VIRTIO 1.2 section 2.7) or packed (2.8). The ring
 * memory is one DMA allocation: split in the legacy layout (descriptors,
 * available ring, used ring at the next 4 KiB), usable by every transport;
 * packed as the descriptor ring, the driver event suppression area and the
 * device's on a cache line of its own. The descriptor links and chain
 * bookkeeping live in a private shadow, so nothing the device can write is
 * ever used as an index: a used element's id must name a head (split) or
 * buffer id (packed) the driver posted and its len must not exceed what
 * that chain offered. With indirect descriptors every chain takes one ring
 * descriptor pointing at the per-head table (ind + head * ind_stride).
 */
struct ustor_virtq {
	/* Hot fields. */
	volatile struct ustor_virtq_desc *desc;	   /* split ring / packed ring (same memory) */
	volatile struct ustor_pvirtq_desc *pdesc;
	volatile uint16_t *avail_ring; /* split: size entries */
	volatile uint16_t *avail_idx;
	volatile struct ustor_virtq_used_elem *used_ring;
	volatile uint16_t *used_idx;
	volatile uint16_t *used_event;	/* split + EVENT_IDX: written by the driver */
	volatile uint16_t *avail_event; /* split + EVENT_IDX: written by the device */
	volatile struct ustor_pvirtq_event *drv_evt; /* packed: driver event suppression */
	volatile struct ustor_pvirtq_event *dev_evt; /* packed: device event suppression */
	uint16_t *next;			/* shadow: split desc[].next and free list;
					 * packed: free buffer ids */
	struct ustor_virtq_head *heads; /* shadow, per head / buffer id */
	uint8_t *ind;			/* indirect tables (NULL: none) */
	ustor_bus_addr ind_bus;
	const struct ustor_hal *hal;
	volatile void *notify_addr; /* where a notification is written */
	uint32_t notify_val;	    /* the value written (queue index) */
	uint16_t size;		    /* power of two */
	uint16_t mask;		    /* size - 1 */
	uint16_t free_head;
	uint16_t num_free;	  /* free ring descriptors */
	uint16_t avail_shadow;	  /* split: next avail idx to publish; packed: next ring position */
	uint16_t avail_published; /* split: last value written to avail->idx */
	uint16_t last_used;	  /* split: next used idx to consume; packed: next ring position */
	uint16_t pending;	  /* packed: descriptors made available since the last notify */
	uint16_t ind_max;	  /* descriptors per indirect table */
	uint16_t ind_stride;	  /* bytes per indirect table */
	uint8_t legacy;		  /* CPU order instead of little-endian */
	uint8_t notify16;	  /* notification is a 16-bit write */
	uint8_t sync;		  /* hal->dma_sync set */
	uint8_t packed;		  /* packed ring */
	uint8_t event_idx;	  /* EVENT_IDX negotiated */
	uint8_t avail_wrap;	  /* packed: driver ring wrap counter */
	uint8_t used_wrap;	  /* packed: used wrap counter */
	uint8_t irq_on;		  /* used-buffer interrupts requested */
	uint16_t index;		  /* queue index on the device */
	uint16_t msix_vector;	  /* PCI: vector in use (USTOR_VIRTIO_MSI_NO_VECTOR: none) */

	/* Cold. */
	uint8_t *ring; /* the DMA allocation */
	ustor_bus_addr ring_bus;
	uint32_t ring_bytes;
	uint32_t avail_off; /* byte offset of the available ring / driver area */
	uint32_t used_off;  /* byte offset of the used ring / device area */
	void *shadow_mem;   /* next[] + heads[] allocation */
	uint32_t shadow_bytes;
	uint32_t ind_bytes;
	uint32_t bad_used;	 /* used elements refused */
	uint32_t notifies;	 /* notifications written */
	uint32_t notifies_saved; /* notifications the device said it did not need */
};

/* Result of taking one used element (ustor_virtq_get_used). */
#define USTOR_VIRTQ_USED_NONE 0	   /* nothing new */
#define USTOR_VIRTQ_USED_OK 1	   /* *head, *len valid; chain freed */
#define USTOR_VIRTQ_USED_BAD_LEN 2 /* *head valid, len above what was offered; chain freed */
#define USTOR_VIRTQ_USED_BAD_ID \
	3 /* id not a posted head, or the used idx jumped: the ring is broken */

/* ---- Transports -------------------------------------------------------- */

/*
 * Look at a virtio-mmio register window: USTOR_OK if MagicValue is "virt"
 * and Version is 1 or 2; *out_device_id (0: an empty slot) and
 * *out_version may be NULL. USTOR_ERR_UNSUPPORTED otherwise (no log);
 * *out_version is written whenever the magic matches, even for an
 * unsupported version, so a caller can tell that from an empty window.
 */
ustor_status ustor_virtio_mmio_probe(const struct ustor_hal *hal, volatile void *base,
				     uint32_t *out_device_id, uint32_t *out_version);

/* Set up `dev` for the virtio-mmio window at `base` (version 1 or 2);
 * checks MagicValue, Version and that DeviceID is `want_device_id`. */
ustor_status ustor_virtio_mmio_attach(struct ustor_virtio_dev *dev, const struct ustor_hal *hal,
				      volatile void *base, uint32_t want_device_id);

/*
 * Set up `dev` for the virtio-pci function `pci_addr`: checks vendor 1af4
 * and the device type (modern 0x1040 + type or a transitional ID), switches
 * on Memory Space and Bus Master Enable, and walks the vendor capabilities
 * for the common, notify, ISR and device configuration structures, which
 * must lie in BARs the kernel mapped (`bars[i]` = virtual address of BAR i,
 * NULL if not mapped) and, where `bar_bytes` (may be NULL) gives BAR i's
 * size (0: unknown), inside it. Needs hal->pci_cfg_read32.
 */
ustor_status ustor_virtio_pci_attach(struct ustor_virtio_dev *dev, const struct ustor_hal *hal,
				     uint32_t pci_addr, volatile void *const bars[6],
				     const uint32_t *bar_bytes, uint32_t want_device_id);

/* ---- Device bring-up ----------------------------------------------------- */

/*
 * Reset the device (status 0) and wait, up to timeout_ms, for the status to
 * read 0. USTOR_ERR_TIMEOUT or USTOR_ERR_DEVICE_GONE (all-ones) otherwise.
 */
ustor_status ustor_virtio_reset(struct ustor_virtio_dev *dev, uint32_t timeout_ms);

/*
 * Reset, ACKNOWLEDGE, DRIVER, then negotiate: accept the offered bits of
 * `wanted` (VERSION_1 is required and added on modern transports; legacy
 * transports see only bits 0..31), then FEATURES_OK and check it stuck.
 * Leaves dev->features. On failure FAILED is set and the error says why
 * (UNSUPPORTED: VERSION_1 missing or features refused).
 */
ustor_status ustor_virtio_negotiate(struct ustor_virtio_dev *dev, uint64_t wanted,
				    uint32_t reset_timeout_ms);

/* Set DRIVER_OK and check the device did not ask for a reset (FATAL). */
ustor_status ustor_virtio_driver_ok(struct ustor_virtio_dev *dev);

/* Set FAILED (the driver gave up on the device). */
void ustor_virtio_fail(struct ustor_virtio_dev *dev);

/* Read `width` (1, 2, 4 or 8) bytes of device configuration at `off`,
 * decoded from the device's byte order (little-endian; legacy: CPU). */
uint64_t ustor_virtio_config_read(struct ustor_virtio_dev *dev, uint32_t off, uint32_t width);

/* ---- Virtqueue ------------------------------------------------------------ */

/*
 * Allocate queue `index` for `dev` as `opts` says (split or packed, with
 * per-head indirect tables of opts->ind_max descriptors if non-zero, its
 * transport's byte order), fill the free list, and let the transport
 * program and enable it (PCI: with opts->msix_vector, read back into
 * vq->msix_vector).
 */
ustor_status ustor_virtq_init(struct ustor_virtq *vq, struct ustor_virtio_dev *dev, uint16_t index,
			      const struct ustor_virtq_opts *opts);

/* Free the queue's memory. Only once the device was reset (or never saw
 * the queue): it may write the rings until then. Safe on a zeroed queue. */
void ustor_virtq_fini(struct ustor_virtq *vq);

#endif
