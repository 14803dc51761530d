/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk model internals shared by virtio_blk_model.c (device status,
 * features, configuration space, interrupts, public API),
 * virtio_blk_model_transport.c (PCI configuration space, the PCI BAR and
 * the virtio-mmio register files) and virtio_blk_model_queue.c (split
 * virtqueues and block requests). Every constant here is taken from the
 * VIRTIO 1.2 specification and the PCI Local Bus 3.0 specification.
 */
#ifndef USTOR_TEST_VIRTIO_BLK_MODEL_INT_H
#define USTOR_TEST_VIRTIO_BLK_MODEL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "virtio_blk_model.h"

/* ---- Guest memory access, byte by byte ------------------------------- */

/*
 * `be` selects big-endian fields: only the legacy transport on a big-endian
 * host uses it (legacy virtio structures are in guest-native order, and
 * the guest is the host CPU). Modern transports are always little-endian.
 */
static inline uint16_t vbm_get16(int be, const uint8_t *p)
{
	return be ? (uint16_t)((p[0] << 8) | p[1])
		  : (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t vbm_get32(int be, const uint8_t *p)
{
	uint32_t a = vbm_get16(be, p), b = vbm_get16(be, p + 2);

	return be ? (a << 16) | b : a | (b << 16);
}

static inline uint64_t vbm_get64(int be, const uint8_t *p)
{
	uint64_t a = vbm_get32(be, p), b = vbm_get32(be, p + 4);

	return be ? (a << 32) | b : a | (b << 32);
}

static inline void vbm_put16(int be, uint8_t *p, uint16_t v)
{
	p[be ? 1 : 0] = (uint8_t)v;
	p[be ? 0 : 1] = (uint8_t)(v >> 8);
}

static inline void vbm_put32(int be, uint8_t *p, uint32_t v)
{
	vbm_put16(be, p + (be ? 2 : 0), (uint16_t)v);
	vbm_put16(be, p + (be ? 0 : 2), (uint16_t)(v >> 16));
}

static inline void vbm_put64(int be, uint8_t *p, uint64_t v)
{
	vbm_put32(be, p + (be ? 4 : 0), (uint32_t)v);
	vbm_put32(be, p + (be ? 0 : 4), (uint32_t)(v >> 32));
}

/* ---- Virtio core (VIRTIO 1.2 sections 2, 6) --------------------------- */

#define VBM_DEVICE_ID_BLOCK 2u

#define VBM_S_ACK USTOR_VIRTIO_BLK_MODEL_S_ACKNOWLEDGE
#define VBM_S_DRIVER USTOR_VIRTIO_BLK_MODEL_S_DRIVER
#define VBM_S_DRIVER_OK USTOR_VIRTIO_BLK_MODEL_S_DRIVER_OK
#define VBM_S_FEATURES_OK USTOR_VIRTIO_BLK_MODEL_S_FEATURES_OK
#define VBM_S_NEEDS_RESET USTOR_VIRTIO_BLK_MODEL_S_NEEDS_RESET
#define VBM_S_FAILED USTOR_VIRTIO_BLK_MODEL_S_FAILED

#define VBM_F_RO USTOR_VIRTIO_BLK_MODEL_F_RO
#define VBM_F_FLUSH USTOR_VIRTIO_BLK_MODEL_F_FLUSH
#define VBM_F_CONFIG_WCE USTOR_VIRTIO_BLK_MODEL_F_CONFIG_WCE
#define VBM_F_SIZE_MAX USTOR_VIRTIO_BLK_MODEL_F_SIZE_MAX
#define VBM_F_SEG_MAX USTOR_VIRTIO_BLK_MODEL_F_SEG_MAX
#define VBM_F_DISCARD USTOR_VIRTIO_BLK_MODEL_F_DISCARD
#define VBM_F_WRITE_ZEROES USTOR_VIRTIO_BLK_MODEL_F_WRITE_ZEROES
#define VBM_F_INDIRECT USTOR_VIRTIO_BLK_MODEL_F_INDIRECT_DESC
#define VBM_F_EVENT_IDX USTOR_VIRTIO_BLK_MODEL_F_EVENT_IDX
#define VBM_F_VERSION_1 USTOR_VIRTIO_BLK_MODEL_F_VERSION_1
#define VBM_F_RING_PACKED USTOR_VIRTIO_BLK_MODEL_F_RING_PACKED

/* Features the model implements: cfg.features may offer only these. */
#define VBM_F_IMPLEMENTED                                                      \
	(USTOR_VIRTIO_BLK_MODEL_FEATURES_DEFAULT |                             \
	 USTOR_VIRTIO_BLK_MODEL_F_GEOMETRY | USTOR_VIRTIO_BLK_MODEL_F_RO |     \
	 USTOR_VIRTIO_BLK_MODEL_F_ACCESS_PLATFORM | USTOR_VIRTIO_BLK_MODEL_F_RING_PACKED)

/* Split virtqueue (2.7). */
#define VBM_DESC_SIZE 16u
#define VBM_DESC_F_NEXT 1u
#define VBM_DESC_F_WRITE 2u
#define VBM_DESC_F_INDIRECT 4u
#define VBM_AVAIL_F_NO_INTERRUPT 1u
#define VBM_QUEUE_SIZE_LIMIT 32768u
#define VBM_NO_VECTOR 0xffffu

/* Packed virtqueue (2.8). */
#define VBM_PDESC_F_AVAIL 0x0080u
#define VBM_PDESC_F_USED 0x8000u
#define VBM_EVT_ENABLE 0u
#define VBM_EVT_DISABLE 1u
#define VBM_EVT_DESC 2u

/* Interrupt status / ISR bits. */
#define VBM_ISR_QUEUE 0x1u
#define VBM_ISR_CONFIG 0x2u

/* ---- Block device (5.2) ---------------------------------------------- */

#define VBM_T_IN 0u
#define VBM_T_OUT 1u
#define VBM_T_FLUSH 4u
#define VBM_T_FLUSH_OUT 5u /* legacy synonym of FLUSH */
#define VBM_T_GET_ID 8u
#define VBM_T_DISCARD 11u
#define VBM_T_WRITE_ZEROES 13u

#define VBM_BLK_S_OK 0u
#define VBM_BLK_S_IOERR 1u
#define VBM_BLK_S_UNSUPP 2u

#define VBM_REQ_HDR_SIZE 16u
#define VBM_DWZ_SEG_SIZE 16u
#define VBM_DWZ_F_UNMAP 1u
#define VBM_ID_BYTES 20u
#define VBM_SECTOR 512u

/* Device configuration layout (struct virtio_blk_config). */
#define VBM_CFG_CAPACITY 0
#define VBM_CFG_SIZE_MAX 8
#define VBM_CFG_SEG_MAX 12
#define VBM_CFG_CYLINDERS 16
#define VBM_CFG_HEADS 18
#define VBM_CFG_SECTORS 19
#define VBM_CFG_BLK_SIZE 20
#define VBM_CFG_PHYS_EXP 24
#define VBM_CFG_ALIGN_OFF 25
#define VBM_CFG_MIN_IO 26
#define VBM_CFG_OPT_IO 28
#define VBM_CFG_WRITEBACK 32
#define VBM_CFG_NUM_QUEUES 34
#define VBM_CFG_MAX_DISCARD_SECTORS 36
#define VBM_CFG_MAX_DISCARD_SEG 40
#define VBM_CFG_DISCARD_ALIGN 44
#define VBM_CFG_MAX_WZ_SECTORS 48
#define VBM_CFG_MAX_WZ_SEG 52
#define VBM_CFG_WZ_MAY_UNMAP 56
/* secure erase (60..71) and zoned (72..95) read as zero */
#define VBM_CFG_SIZE 96u

/* ---- virtio-mmio registers (4.2.2, 4.2.4) ----------------------------- */

#define VBM_MMIO_MAGIC 0x000
#define VBM_MMIO_VERSION 0x004
#define VBM_MMIO_DEVICE_ID 0x008
#define VBM_MMIO_VENDOR_ID 0x00c
#define VBM_MMIO_DEVICE_FEATURES 0x010
#define VBM_MMIO_DEVICE_FEATURES_SEL 0x014
#define VBM_MMIO_DRIVER_FEATURES 0x020
#define VBM_MMIO_DRIVER_FEATURES_SEL 0x024
#define VBM_MMIO_GUEST_PAGE_SIZE 0x028 /* legacy */
#define VBM_MMIO_QUEUE_SEL 0x030
#define VBM_MMIO_QUEUE_NUM_MAX 0x034
#define VBM_MMIO_QUEUE_NUM 0x038
#define VBM_MMIO_QUEUE_ALIGN 0x03c /* legacy */
#define VBM_MMIO_QUEUE_PFN 0x040   /* legacy */
#define VBM_MMIO_QUEUE_READY 0x044
#define VBM_MMIO_QUEUE_NOTIFY 0x050
#define VBM_MMIO_INTERRUPT_STATUS 0x060
#define VBM_MMIO_INTERRUPT_ACK 0x064
#define VBM_MMIO_STATUS 0x070
#define VBM_MMIO_QUEUE_DESC_LOW 0x080
#define VBM_MMIO_QUEUE_DESC_HIGH 0x084
#define VBM_MMIO_QUEUE_DRIVER_LOW 0x090
#define VBM_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VBM_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VBM_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VBM_MMIO_CONFIG_GENERATION 0x0fc
#define VBM_MMIO_CONFIG 0x100
#define VBM_MMIO_MAGIC_VALUE 0x74726976u
#define VBM_MMIO_WINDOW 0x200u

/* ---- virtio-pci (4.1) ------------------------------------------------- */

#define VBM_PCI_VENDOR 0x1af4u
#define VBM_PCI_DEVICE (0x1040u + VBM_DEVICE_ID_BLOCK)
#define VBM_PCI_REVISION 1u

#define VBM_PCI_CMD_MSE 0x0002u
#define VBM_PCI_CMD_BME 0x0004u
#define VBM_PCI_CMD_INTX_DISABLE 0x0400u
#define VBM_PCI_CMD_RW_MASK 0x0546u
#define VBM_PCI_STATUS_INTX 0x0008u
#define VBM_PCI_STATUS_CAP_LIST 0x0010u

#define VBM_PCI_CAP_ID_VNDR 0x09u
#define VBM_PCI_CAP_ID_MSIX 0x11u

#define VBM_PCI_CAP_COMMON_CFG 1u
#define VBM_PCI_CAP_NOTIFY_CFG 2u
#define VBM_PCI_CAP_ISR_CFG 3u
#define VBM_PCI_CAP_DEVICE_CFG 4u
#define VBM_PCI_CAP_PCI_CFG 5u

/* Where the capabilities sit in configuration space. */
#define VBM_PCFG_CAP_COMMON 0x40u /* 16 bytes */
#define VBM_PCFG_CAP_NOTIFY 0x50u /* 20 bytes */
#define VBM_PCFG_CAP_ISR 0x64u    /* 16 bytes */
#define VBM_PCFG_CAP_DEVICE 0x74u /* 16 bytes */
#define VBM_PCFG_CAP_PCICFG 0x84u /* 20 bytes */
#define VBM_PCFG_CAP_MSIX 0x98u   /* 12 bytes */
#define VBM_PCFG_SIZE 256u

/* The BAR: which structure lives where. */
#define VBM_BAR_INDEX 4
#define VBM_BAR_SIZE 0x4000u
#define VBM_BAR_COMMON 0x0000u
#define VBM_BAR_COMMON_LEN 0x40u
#define VBM_BAR_ISR 0x1000u
#define VBM_BAR_ISR_LEN 4u
#define VBM_BAR_DEVCFG 0x2000u
#define VBM_BAR_NOTIFY 0x3000u
#define VBM_BAR_MSIX_TABLE 0x3800u
#define VBM_BAR_MSIX_PBA 0x3c00u

/* Common configuration (struct virtio_pci_common_cfg). */
#define VBM_CC_DFSELECT 0x00
#define VBM_CC_DF 0x04
#define VBM_CC_GFSELECT 0x08
#define VBM_CC_GF 0x0c
#define VBM_CC_MSIX_CONFIG 0x10 /* + num_queues at 0x12 */
#define VBM_CC_STATUS 0x14      /* + config_generation 0x15, queue_select 0x16 */
#define VBM_CC_Q_SIZE 0x18      /* + queue_msix_vector 0x1a */
#define VBM_CC_Q_ENABLE 0x1c    /* + queue_notify_off 0x1e */
#define VBM_CC_Q_DESC 0x20
#define VBM_CC_Q_DRIVER 0x28
#define VBM_CC_Q_DEVICE 0x30
#define VBM_CC_Q_NOTIFY_DATA 0x38 /* + queue_reset 0x3a */
#define VBM_CC_ADMIN 0x3c

#define VBM_MSIX_CTRL_ENABLE 0x8000u
#define VBM_MSIX_CTRL_MASKALL 0x4000u
#define VBM_MSIX_ENTRY_SIZE 16u

/* ---- State ------------------------------------------------------------ */

struct ustor_vbm_queue {
	uint16_t num;        /* size in use */
	int enabled;         /* queue_enable / QueueReady / QueuePFN != 0 */
	uint64_t desc, driver, device; /* bus addresses of the three areas */
	uint16_t msix_vector;
	uint32_t pfn, align; /* legacy */
	uint16_t last_avail; /* next available ring slot to consume */
	uint16_t used_idx;   /* the device's used idx */
	uint8_t *inflight;   /* per descriptor: 1 while the device owns it */
	uint16_t *link;      /* recorded next of each in-flight descriptor */
	/* packed (2.8): last_avail / used_idx are ring positions */
	int packed;
	int avail_wrap, used_wrap; /* device's wrap counters, 1 after enable */
	uint32_t used_total;       /* descriptors skipped by used ones, ever */
	uint32_t outstanding;      /* ring descriptors held by the device */
	uint16_t *pk_id;           /* buffer ids held, pk_n of them */
	uint16_t *pk_ndesc;        /* and their ring descriptor counts */
	uint32_t pk_n;
};

/* A used element held by deferred mode. */
struct ustor_vbm_done {
	uint16_t q;
	uint16_t head;
	uint32_t id, len;
	uint16_t ndesc; /* packed: ring descriptors the chain took */
};

/* A piece of a chain, mapped to host memory. */
struct ustor_vbm_seg {
	uint8_t *host;
	uint32_t len;
	int write;
};

struct ustor_virtio_blk_model_priv {
	uint8_t *token; /* window token (MMIO registers or the PCI BAR) */
	size_t token_size;
	int legacy;     /* MMIO1 */
	int be;         /* legacy structures big-endian (legacy on a BE host) */

	/* features */
	uint64_t offered;
	uint64_t driver_features; /* as written by the driver */
	uint64_t negotiated;      /* in effect for the rings and requests */
	uint32_t dfsel, gfsel;
	int dfsel_written, gfsel_written;

	/* device */
	uint8_t status;
	uint8_t isr;
	uint32_t config_gen;
	uint32_t queue_sel;
	uint16_t config_msix_vector;
	int broken;
	uint8_t writeback;
	uint64_t capacity; /* sectors, current */
	uint32_t guest_page_size; /* legacy; 0 until written */
	struct ustor_vbm_queue q[USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES];

	/* PCI */
	uint16_t pci_cmd;
	uint8_t pci_int_line;
	uint32_t bar_lo, bar_hi;
	uint16_t msix_ctrl;
	uint8_t msix_table[USTOR_VIRTIO_BLK_MODEL_MAX_VECTORS *
			   VBM_MSIX_ENTRY_SIZE];
	uint64_t msix_pba;
	uint8_t pcicfg_bar;
	uint32_t pcicfg_off, pcicfg_len;
	uint8_t pcicfg_data[4];

	/* disk */
	uint8_t *disk;
	uint64_t disk_bytes;

	/* deferred used elements */
	struct ustor_vbm_done *done;
	size_t ndone, cap_done;

	/* violation text */
	char *viol;
	size_t viol_len, viol_cap;

	/* scratch: the chain being processed */
	struct ustor_vbm_seg *segs;
	size_t nsegs, cap_segs;
	uint8_t *visited; /* per descriptor of the main table */
	uint16_t *chain;  /* the direct descriptors of the chain, in order */
};

/* ---- Cross-file functions ------------------------------------------- */

/* Record a host violation (printf-style, one line). */
void ustor_vbm_violation(struct ustor_virtio_blk_model *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Host pointer for [bus, bus+len) or NULL after recording a violation. */
uint8_t *ustor_vbm_map(struct ustor_virtio_blk_model *m, uint64_t bus,
		       size_t len, const char *what);

/* Malformed ring/chain: stop processing until reset (see the header). */
void ustor_vbm_set_broken(struct ustor_virtio_blk_model *m, const char *why);

/* 1 if a feature is in effect. */
int ustor_vbm_has(const struct ustor_virtio_blk_model *m, uint64_t feature);

/* Modern transports (PCI, MMIO2). */
int ustor_vbm_modern(const struct ustor_virtio_blk_model *m);

/* Device status write (0 resets) and reset. */
void ustor_vbm_status_write(struct ustor_virtio_blk_model *m, uint8_t v);

/* Driver feature word `sel` written. */
void ustor_vbm_driver_features_write(struct ustor_virtio_blk_model *m,
				     uint32_t sel, uint32_t v);

/* Device feature word `sel` as presented. */
uint32_t ustor_vbm_device_features(const struct ustor_virtio_blk_model *m,
				   uint32_t sel);

/* Device configuration space: dword at `off` (a multiple of 4) as the
 * transport presents it (read side effects: config_gen_churn). */
uint32_t ustor_vbm_config_read(struct ustor_virtio_blk_model *m, uint32_t off);
void ustor_vbm_config_write(struct ustor_virtio_blk_model *m, uint32_t off,
			    uint32_t v);

/* Interrupts: queue `q` used buffers / configuration change. */
void ustor_vbm_signal_queue(struct ustor_virtio_blk_model *m, uint16_t q);
void ustor_vbm_signal_config(struct ustor_virtio_blk_model *m);

/* ISR / InterruptStatus read (clears it on PCI). */
uint8_t ustor_vbm_isr_read(struct ustor_virtio_blk_model *m, int clear);

/* Queue management: enable checks and index reset; disable. */
void ustor_vbm_queue_enable(struct ustor_virtio_blk_model *m, uint16_t q);
void ustor_vbm_queue_disable(struct ustor_virtio_blk_model *m, uint16_t q);

/* Available-buffer notification for queue `q` (validation + processing). */
void ustor_vbm_notify(struct ustor_virtio_blk_model *m, uint32_t q);

/* Forget every in-flight request and held used element (reset). */
void ustor_vbm_queues_reset(struct ustor_virtio_blk_model *m);

/* Execute the chain in priv->segs (head: for logs; split also tracks its
 * descriptors): status byte written; *out_len the bytes the device wrote.
 * -1 when the device broke. */
int ustor_vbm_execute(struct ustor_virtio_blk_model *m, uint16_t qi,
		      uint16_t head, uint32_t *out_len);

/* Append a chain segment to priv->segs (-1: out of memory). */
int ustor_vbm_seg_push(struct ustor_virtio_blk_model *m, uint8_t *host,
		       uint32_t len, int write);

/* Used element / descriptor for `id` (deferred mode holds it). */
void ustor_vbm_complete(struct ustor_virtio_blk_model *m, uint16_t qi,
			uint16_t head, uint32_t len, uint16_t ndesc);

/* DEVICE_NEEDS_RESET now; stopped: broken or needing a reset. */
void ustor_vbm_needs_reset(struct ustor_virtio_blk_model *m);
int ustor_vbm_stopped(const struct ustor_virtio_blk_model *m);

/* Packed rings (virtio_blk_model_packed.c). */
void ustor_vbm_packed_enable(struct ustor_virtio_blk_model *m, uint16_t qi);
void ustor_vbm_packed_process_avail(struct ustor_virtio_blk_model *m,
				    uint16_t qi);
int ustor_vbm_packed_post(struct ustor_virtio_blk_model *m, uint16_t qi,
			  uint32_t id, uint32_t len, uint16_t ndesc);
void ustor_vbm_packed_signal(struct ustor_virtio_blk_model *m, uint16_t qi,
			     uint32_t old_total);

/* Post held used elements; returns how many. */
unsigned ustor_vbm_process(struct ustor_virtio_blk_model *m);

/* MSI-X: deliver pending vectors that are no longer masked. */
void ustor_vbm_msix_unmasked(struct ustor_virtio_blk_model *m);

/* Transports. */
uint32_t ustor_vbm_mmio_read(void *dev, uint32_t off);
void ustor_vbm_mmio_write(void *dev, uint32_t off, uint32_t v);
uint32_t ustor_vbm_bar_read(void *dev, uint32_t off);
void ustor_vbm_bar_write(void *dev, uint32_t off, uint32_t v);
uint8_t ustor_vbm_bar_read8(void *dev, uint32_t off);
uint16_t ustor_vbm_bar_read16(void *dev, uint32_t off);
void ustor_vbm_bar_write8(void *dev, uint32_t off, uint8_t v);
void ustor_vbm_bar_write16(void *dev, uint32_t off, uint16_t v);
uint32_t ustor_vbm_pci_read(void *dev, uint32_t pci_addr, uint16_t off);
void ustor_vbm_pci_write(void *dev, uint32_t pci_addr, uint16_t off,
			 uint32_t v);

#endif
