/* SPDX-License-Identifier: MIT */
/*
 * uStor: VIRTIO 1.2 wire formats used by the virtio-blk driver: device
 * status and feature bits (2.1, 6), the split virtqueue (2.7), the virtio
 * over PCI capabilities and common configuration (4.1.4), the virtio-mmio
 * registers of versions 1 (legacy) and 2 (4.2.2, 4.2.4) and the block
 * device's configuration and requests (5.2).
 *
 * Registers (PCI common configuration, MMIO, device configuration) are
 * offsets read through the HAL; the structs below exist to pin those
 * offsets down with asserts. Ring memory and request headers are plain
 * fixed-width structs in DMA memory, little-endian for a modern device and
 * in the guest's own byte order for a legacy one (2.7.1 / 5.2.4 legacy
 * notes): every access goes through the driver's wire-order helpers.
 */
#ifndef USTOR_VIRTIO_SPEC_H
#define USTOR_VIRTIO_SPEC_H

#include <stddef.h>
#include <stdint.h>

/* ---- Device status (2.1) ----------------------------------------------- */

#define USTOR_VIRTIO_STATUS_ACKNOWLEDGE 0x01u
#define USTOR_VIRTIO_STATUS_DRIVER 0x02u
#define USTOR_VIRTIO_STATUS_DRIVER_OK 0x04u
#define USTOR_VIRTIO_STATUS_FEATURES_OK 0x08u
#define USTOR_VIRTIO_STATUS_NEEDS_RESET 0x40u
#define USTOR_VIRTIO_STATUS_FAILED 0x80u

/* ---- Reserved (transport-independent) feature bits (6) ------------------ */

#define USTOR_VIRTIO_F_INDIRECT_DESC 28
#define USTOR_VIRTIO_F_EVENT_IDX 29
#define USTOR_VIRTIO_F_VERSION_1 32
#define USTOR_VIRTIO_F_ACCESS_PLATFORM 33
#define USTOR_VIRTIO_F_RING_PACKED 34
#define USTOR_VIRTIO_F_IN_ORDER 35
#define USTOR_VIRTIO_F_ORDER_PLATFORM 36
#define USTOR_VIRTIO_F_SR_IOV 37
#define USTOR_VIRTIO_F_NOTIFICATION_DATA 38

/* Feature bit number -> 64-bit mask. */
#define USTOR_VIRTIO_FBIT(n) ((uint64_t)1 << (n))

/* ---- Device IDs (5) ------------------------------------------------------- */

#define USTOR_VIRTIO_ID_BLOCK 2u

/* ---- Split virtqueue (2.7) ---------------------------------------------- */

/* Largest queue size a split ring may have (2.7). */
#define USTOR_VIRTQ_MAX_SIZE 32768u

/* Descriptor flags. */
#define USTOR_VIRTQ_DESC_F_NEXT 1u     /* chain continues in `next` */
#define USTOR_VIRTQ_DESC_F_WRITE 2u    /* device writes (otherwise reads) */
#define USTOR_VIRTQ_DESC_F_INDIRECT 4u /* buffer holds a descriptor table */

/* Available ring flags: the driver does not want used-buffer interrupts. */
#define USTOR_VIRTQ_AVAIL_F_NO_INTERRUPT 1u
/* Split ring with EVENT_IDX (2.7.7, 2.7.10): used_event follows the
 * available ring's entries, avail_event the used ring's. */
#define USTOR_VIRTQ_USED_EVENT_OFF(size) (4u + ((uint32_t)(size) << 1))
#define USTOR_VIRTQ_AVAIL_EVENT_OFF(size) (4u + ((uint32_t)(size) << 3))
/* Used ring flags: the device does not need notifications (a hint). */
#define USTOR_VIRTQ_USED_F_NO_NOTIFY 1u

/* Descriptor table entry (2.7.5); the table is 16-byte aligned. */
struct ustor_virtq_desc {
	uint64_t addr; /* bus address */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct ustor_virtq_desc) == 16, "virtq desc is 16 bytes");
_Static_assert(offsetof(struct ustor_virtq_desc, len) == 8, "virtq desc len");
_Static_assert(offsetof(struct ustor_virtq_desc, flags) == 12, "virtq desc flags");
_Static_assert(offsetof(struct ustor_virtq_desc, next) == 14, "virtq desc next");

/* Available ring header (2.7.6): flags, idx, then ring[size] of le16 and
 * (with EVENT_IDX only) used_event. 2-byte aligned. */
struct ustor_virtq_avail {
	uint16_t flags;
	uint16_t idx;
};
_Static_assert(sizeof(struct ustor_virtq_avail) == 4, "virtq avail header is 4 bytes");
_Static_assert(offsetof(struct ustor_virtq_avail, idx) == 2, "virtq avail idx");

/* Used ring header (2.7.8): flags, idx, then ring[size] of used elements
 * and (with EVENT_IDX only) avail_event. 4-byte aligned. */
struct ustor_virtq_used {
	uint16_t flags;
	uint16_t idx;
};
_Static_assert(sizeof(struct ustor_virtq_used) == 4, "virtq used header is 4 bytes");
_Static_assert(offsetof(struct ustor_virtq_used, idx) == 2, "virtq used idx");

/* One used element: the head of a returned chain and the bytes written. */
struct ustor_virtq_used_elem {
	uint32_t id;
	uint32_t len;
};
_Static_assert(sizeof(struct ustor_virtq_used_elem) == 8, "virtq used element is 8 bytes");
_Static_assert(offsetof(struct ustor_virtq_used_elem, len) == 4, "virtq used element len");

/* Byte offsets of the parts of a ring laid out as the legacy interface
 * requires (2.7.2 legacy: descriptors, available ring, then the used ring
 * at the next multiple of `align`); uStor uses this layout for every
 * transport. */
#define USTOR_VIRTQ_AVAIL_OFF(size) ((uint32_t)(size) << 4)
#define USTOR_VIRTQ_AVAIL_BYTES(size) (6u + ((uint32_t)(size) << 1))
#define USTOR_VIRTQ_USED_BYTES(size) (6u + ((uint32_t)(size) << 3))

/* ---- Packed virtqueue (2.8) ----------------------------------------------- */

/* Packed descriptor flags besides NEXT/WRITE/INDIRECT (2.8.1). */
#define USTOR_PVIRTQ_DESC_F_AVAIL 0x0080u /* bit 7 */
#define USTOR_PVIRTQ_DESC_F_USED 0x8000u  /* bit 15 */

/* Event suppression flags (2.8.10). */
#define USTOR_PVIRTQ_EVENT_F_ENABLE 0u  /* events on */
#define USTOR_PVIRTQ_EVENT_F_DISABLE 1u /* events off */
#define USTOR_PVIRTQ_EVENT_F_DESC 2u    /* at the descriptor off_wrap names (EVENT_IDX) */
/* off_wrap: bits 0..14 a descriptor ring offset, bit 15 the wrap counter. */
#define USTOR_PVIRTQ_EVENT_WRAP_SHIFT 15u

/* Packed descriptor (2.8.13): the ring and indirect tables are arrays of
 * these, 16-byte aligned. */
struct ustor_pvirtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};
_Static_assert(sizeof(struct ustor_pvirtq_desc) == 16, "packed desc is 16 bytes");
_Static_assert(offsetof(struct ustor_pvirtq_desc, len) == 8, "packed desc len");
_Static_assert(offsetof(struct ustor_pvirtq_desc, id) == 12, "packed desc id");
_Static_assert(offsetof(struct ustor_pvirtq_desc, flags) == 14, "packed desc flags");

/* Driver and device event suppression areas (2.8.14), 4-byte aligned. */
struct ustor_pvirtq_event {
	uint16_t off_wrap;
	uint16_t flags;
};
_Static_assert(sizeof(struct ustor_pvirtq_event) == 4, "packed event area is 4 bytes");
_Static_assert(offsetof(struct ustor_pvirtq_event, flags) == 2, "packed event flags");

/* Largest packed queue size (2.8: 2^15). */
#define USTOR_PVIRTQ_MAX_SIZE 32768u

/* ---- Virtio over PCI (4.1) --------------------------------------------- */

#define USTOR_VIRTIO_PCI_VENDOR 0x1af4u
/* Modern device IDs are 0x1040 + device type; 0x1000..0x103f are
 * transitional ones (type in the subsystem device ID). */
#define USTOR_VIRTIO_PCI_DEVICE_MODERN_BASE 0x1040u
#define USTOR_VIRTIO_PCI_DEVICE_BLK_TRANSITIONAL 0x1001u

/* PCI capability ID of vendor-specific capabilities. */
#define USTOR_PCI_CAP_ID_VNDR 0x09u
/* Configuration space: status register bit "capabilities list", pointer. */
#define USTOR_PCI_STATUS_CAP_LIST 0x0010u
#define USTOR_PCI_CAP_PTR 0x34u

/* virtio_pci_cap.cfg_type (4.1.4). */
#define USTOR_VIRTIO_PCI_CAP_COMMON_CFG 1u
#define USTOR_VIRTIO_PCI_CAP_NOTIFY_CFG 2u
#define USTOR_VIRTIO_PCI_CAP_ISR_CFG 3u
#define USTOR_VIRTIO_PCI_CAP_DEVICE_CFG 4u
#define USTOR_VIRTIO_PCI_CAP_PCI_CFG 5u
#define USTOR_VIRTIO_PCI_CAP_SHARED_MEMORY_CFG 8u
#define USTOR_VIRTIO_PCI_CAP_VENDOR_CFG 9u

/* A virtio structure's location (4.1.4), as it sits in PCI configuration
 * space; the notify capability appends notify_off_multiplier. */
struct ustor_virtio_pci_cap {
	uint8_t cap_vndr; /* USTOR_PCI_CAP_ID_VNDR */
	uint8_t cap_next;
	uint8_t cap_len;
	uint8_t cfg_type; /* USTOR_VIRTIO_PCI_CAP_* */
	uint8_t bar;	  /* 0..5 */
	uint8_t id;
	uint8_t padding[2];
	uint32_t offset; /* within the BAR */
	uint32_t length;
};
_Static_assert(sizeof(struct ustor_virtio_pci_cap) == 16, "virtio_pci_cap is 16 bytes");
_Static_assert(offsetof(struct ustor_virtio_pci_cap, cfg_type) == 3, "virtio_pci_cap cfg_type");
_Static_assert(offsetof(struct ustor_virtio_pci_cap, bar) == 4, "virtio_pci_cap bar");
_Static_assert(offsetof(struct ustor_virtio_pci_cap, offset) == 8, "virtio_pci_cap offset");
_Static_assert(offsetof(struct ustor_virtio_pci_cap, length) == 12, "virtio_pci_cap length");

struct ustor_virtio_pci_notify_cap {
	struct ustor_virtio_pci_cap cap;
	uint32_t notify_off_multiplier;
};
_Static_assert(sizeof(struct ustor_virtio_pci_notify_cap) == 20,
	       "virtio_pci_notify_cap is 20 bytes");
_Static_assert(offsetof(struct ustor_virtio_pci_notify_cap, notify_off_multiplier) == 16,
	       "notify_off_multiplier");

/* Common configuration structure (4.1.4.3). 64-bit fields are two 32-bit
 * halves (the driver writes them that way), which keeps the layout the
 * same on every CPU. */
struct ustor_virtio_pci_common_cfg {
	uint32_t device_feature_select;
	uint32_t device_feature;
	uint32_t driver_feature_select;
	uint32_t driver_feature;
	uint16_t config_msix_vector;
	uint16_t num_queues;
	uint8_t device_status;
	uint8_t config_generation;
	uint16_t queue_select;
	uint16_t queue_size;
	uint16_t queue_msix_vector;
	uint16_t queue_enable;
	uint16_t queue_notify_off;
	uint32_t queue_desc_lo;
	uint32_t queue_desc_hi;
	uint32_t queue_driver_lo;
	uint32_t queue_driver_hi;
	uint32_t queue_device_lo;
	uint32_t queue_device_hi;
	uint16_t queue_notify_data;
	uint16_t queue_reset;
};
#define USTOR_VIRTIO_PCI_COMMON_DFSELECT 0x00u
#define USTOR_VIRTIO_PCI_COMMON_DF 0x04u
#define USTOR_VIRTIO_PCI_COMMON_GFSELECT 0x08u
#define USTOR_VIRTIO_PCI_COMMON_GF 0x0cu
#define USTOR_VIRTIO_PCI_COMMON_MSIX 0x10u
#define USTOR_VIRTIO_PCI_COMMON_NUMQ 0x12u
#define USTOR_VIRTIO_PCI_COMMON_STATUS 0x14u
#define USTOR_VIRTIO_PCI_COMMON_CFGGEN 0x15u
#define USTOR_VIRTIO_PCI_COMMON_Q_SELECT 0x16u
#define USTOR_VIRTIO_PCI_COMMON_Q_SIZE 0x18u
#define USTOR_VIRTIO_PCI_COMMON_Q_MSIX 0x1au
#define USTOR_VIRTIO_PCI_COMMON_Q_ENABLE 0x1cu
#define USTOR_VIRTIO_PCI_COMMON_Q_NOFF 0x1eu
#define USTOR_VIRTIO_PCI_COMMON_Q_DESCLO 0x20u
#define USTOR_VIRTIO_PCI_COMMON_Q_DESCHI 0x24u
#define USTOR_VIRTIO_PCI_COMMON_Q_AVAILLO 0x28u
#define USTOR_VIRTIO_PCI_COMMON_Q_AVAILHI 0x2cu
#define USTOR_VIRTIO_PCI_COMMON_Q_USEDLO 0x30u
#define USTOR_VIRTIO_PCI_COMMON_Q_USEDHI 0x34u
/* msix_config / queue_msix_vector: no vector (also the device's answer
 * when it refuses one, 4.1.5.1.2). */
#define USTOR_VIRTIO_MSI_NO_VECTOR 0xffffu
/* The part uStor uses ends with queue_device (VIRTIO 1.0 layout). */
#define USTOR_VIRTIO_PCI_COMMON_MIN_LEN 0x38u
_Static_assert(sizeof(struct ustor_virtio_pci_common_cfg) == 0x3c, "common cfg is 0x3c bytes");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, device_feature) ==
		       USTOR_VIRTIO_PCI_COMMON_DF,
	       "device_feature");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, driver_feature_select) ==
		       USTOR_VIRTIO_PCI_COMMON_GFSELECT,
	       "driver_feature_select");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, driver_feature) ==
		       USTOR_VIRTIO_PCI_COMMON_GF,
	       "driver_feature");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, num_queues) ==
		       USTOR_VIRTIO_PCI_COMMON_NUMQ,
	       "num_queues");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, device_status) ==
		       USTOR_VIRTIO_PCI_COMMON_STATUS,
	       "device_status");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, config_generation) ==
		       USTOR_VIRTIO_PCI_COMMON_CFGGEN,
	       "config_generation");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, queue_select) ==
		       USTOR_VIRTIO_PCI_COMMON_Q_SELECT,
	       "queue_select");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, queue_size) ==
		       USTOR_VIRTIO_PCI_COMMON_Q_SIZE,
	       "queue_size");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, queue_msix_vector) ==
		       USTOR_VIRTIO_PCI_COMMON_Q_MSIX,
	       "queue_msix_vector");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, queue_enable) ==
		       USTOR_VIRTIO_PCI_COMMON_Q_ENABLE,
	       "queue_enable");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, queue_notify_off) ==
		       USTOR_VIRTIO_PCI_COMMON_Q_NOFF,
	       "queue_notify_off");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, queue_desc_lo) ==
		       USTOR_VIRTIO_PCI_COMMON_Q_DESCLO,
	       "queue_desc");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, queue_driver_lo) ==
		       USTOR_VIRTIO_PCI_COMMON_Q_AVAILLO,
	       "queue_driver");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, queue_device_lo) ==
		       USTOR_VIRTIO_PCI_COMMON_Q_USEDLO,
	       "queue_device");
_Static_assert(offsetof(struct ustor_virtio_pci_common_cfg, queue_device_hi) + 4 ==
		       USTOR_VIRTIO_PCI_COMMON_MIN_LEN,
	       "common cfg minimum length");

/* ISR status bits (4.1.4.5; virtio-mmio InterruptStatus has the same). */
#define USTOR_VIRTIO_ISR_QUEUE 0x1u
#define USTOR_VIRTIO_ISR_CONFIG 0x2u

/* ---- Virtio over MMIO (4.2.2; legacy registers 4.2.4) ------------------- */

#define USTOR_VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */

#define USTOR_VIRTIO_MMIO_MAGIC_VALUE 0x000u
#define USTOR_VIRTIO_MMIO_VERSION 0x004u
#define USTOR_VIRTIO_MMIO_DEVICE_ID 0x008u
#define USTOR_VIRTIO_MMIO_VENDOR_ID 0x00cu
#define USTOR_VIRTIO_MMIO_DEVICE_FEATURES 0x010u
#define USTOR_VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014u
#define USTOR_VIRTIO_MMIO_DRIVER_FEATURES 0x020u
#define USTOR_VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024u
#define USTOR_VIRTIO_MMIO_GUEST_PAGE_SIZE 0x028u /* legacy only */
#define USTOR_VIRTIO_MMIO_QUEUE_SEL 0x030u
#define USTOR_VIRTIO_MMIO_QUEUE_NUM_MAX 0x034u
#define USTOR_VIRTIO_MMIO_QUEUE_NUM 0x038u
#define USTOR_VIRTIO_MMIO_QUEUE_ALIGN 0x03cu /* legacy only */
#define USTOR_VIRTIO_MMIO_QUEUE_PFN 0x040u   /* legacy only */
#define USTOR_VIRTIO_MMIO_QUEUE_READY 0x044u
#define USTOR_VIRTIO_MMIO_QUEUE_NOTIFY 0x050u
#define USTOR_VIRTIO_MMIO_INTERRUPT_STATUS 0x060u
#define USTOR_VIRTIO_MMIO_INTERRUPT_ACK 0x064u
#define USTOR_VIRTIO_MMIO_STATUS 0x070u
#define USTOR_VIRTIO_MMIO_QUEUE_DESC_LOW 0x080u
#define USTOR_VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084u
#define USTOR_VIRTIO_MMIO_QUEUE_AVAIL_LOW 0x090u
#define USTOR_VIRTIO_MMIO_QUEUE_AVAIL_HIGH 0x094u
#define USTOR_VIRTIO_MMIO_QUEUE_USED_LOW 0x0a0u
#define USTOR_VIRTIO_MMIO_QUEUE_USED_HIGH 0x0a4u
#define USTOR_VIRTIO_MMIO_CONFIG_GENERATION 0x0fcu
#define USTOR_VIRTIO_MMIO_CONFIG 0x100u

/* ---- Block device (5.2) ------------------------------------------------- */

#define USTOR_VIRTIO_BLK_F_SIZE_MAX 1
#define USTOR_VIRTIO_BLK_F_SEG_MAX 2
#define USTOR_VIRTIO_BLK_F_GEOMETRY 4
#define USTOR_VIRTIO_BLK_F_RO 5
#define USTOR_VIRTIO_BLK_F_BLK_SIZE 6
#define USTOR_VIRTIO_BLK_F_FLUSH 9 /* legacy name: WCE */
#define USTOR_VIRTIO_BLK_F_TOPOLOGY 10
#define USTOR_VIRTIO_BLK_F_CONFIG_WCE 11
#define USTOR_VIRTIO_BLK_F_MQ 12
#define USTOR_VIRTIO_BLK_F_DISCARD 13
#define USTOR_VIRTIO_BLK_F_WRITE_ZEROES 14
#define USTOR_VIRTIO_BLK_F_LIFETIME 15
#define USTOR_VIRTIO_BLK_F_SECURE_ERASE 16
#define USTOR_VIRTIO_BLK_F_ZONED 17

/* The protocol's sector is always 512 bytes, whatever blk_size says. */
#define USTOR_VIRTIO_BLK_SECTOR_SHIFT 9u

/* Request types (5.2.6). */
#define USTOR_VIRTIO_BLK_T_IN 0u
#define USTOR_VIRTIO_BLK_T_OUT 1u
#define USTOR_VIRTIO_BLK_T_FLUSH 4u
#define USTOR_VIRTIO_BLK_T_GET_ID 8u
#define USTOR_VIRTIO_BLK_T_GET_LIFETIME 10u
#define USTOR_VIRTIO_BLK_T_DISCARD 11u
#define USTOR_VIRTIO_BLK_T_WRITE_ZEROES 13u
#define USTOR_VIRTIO_BLK_T_SECURE_ERASE 14u

/* Request status byte (5.2.6). */
#define USTOR_VIRTIO_BLK_S_OK 0u
#define USTOR_VIRTIO_BLK_S_IOERR 1u
#define USTOR_VIRTIO_BLK_S_UNSUPP 2u

/* Bytes of the device ID string GET_ID returns (NUL-terminated if shorter). */
#define USTOR_VIRTIO_BLK_ID_BYTES 20u

/* Request header: the first, device-readable part of every request. */
struct ustor_virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved; /* ioprio in legacy; 0 */
	uint64_t sector;   /* 512-byte units; 0 unless IN/OUT */
};
_Static_assert(sizeof(struct ustor_virtio_blk_req_hdr) == 16, "virtio-blk header is 16 bytes");
_Static_assert(offsetof(struct ustor_virtio_blk_req_hdr, sector) == 8, "virtio-blk header sector");

/* One range of a DISCARD or WRITE_ZEROES request. */
struct ustor_virtio_blk_discard_write_zeroes {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags; /* bit 0: unmap (WRITE_ZEROES only) */
};
#define USTOR_VIRTIO_BLK_WZ_F_UNMAP 1u
_Static_assert(sizeof(struct ustor_virtio_blk_discard_write_zeroes) == 16,
	       "discard range is 16 bytes");
_Static_assert(offsetof(struct ustor_virtio_blk_discard_write_zeroes, num_sectors) == 8,
	       "discard range num_sectors");
_Static_assert(offsetof(struct ustor_virtio_blk_discard_write_zeroes, flags) == 12,
	       "discard range flags");

/* Device configuration layout (5.2.4), read field by field as registers. */
struct ustor_virtio_blk_config_space {
	uint64_t capacity;  /* 512-byte sectors */
	uint32_t size_max;  /* F_SIZE_MAX: bytes per segment */
	uint32_t seg_max;   /* F_SEG_MAX: data segments per request */
	uint16_t cylinders; /* F_GEOMETRY */
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;	    /* F_BLK_SIZE: logical block bytes */
	uint8_t physical_block_exp; /* F_TOPOLOGY: log2(physical / logical) */
	uint8_t alignment_offset;   /* in logical blocks */
	uint16_t min_io_size;	    /* in logical blocks */
	uint32_t opt_io_size;	    /* in logical blocks */
	uint8_t writeback;	    /* F_CONFIG_WCE: 1 = volatile write cache */
	uint8_t unused0;
	uint16_t num_queues;	      /* F_MQ */
	uint32_t max_discard_sectors; /* F_DISCARD */
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors; /* F_WRITE_ZEROES */
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
	uint32_t max_secure_erase_sectors; /* F_SECURE_ERASE */
	uint32_t max_secure_erase_seg;
	uint32_t secure_erase_sector_alignment;
	uint32_t zone_sectors; /* F_ZONED */
	uint32_t max_open_zones;
	uint32_t max_active_zones;
	uint32_t max_append_sectors;
	uint32_t write_granularity;
	uint8_t zone_model;
	uint8_t unused2[3];
};
#define USTOR_VIRTIO_BLK_CFG_CAPACITY 0u
#define USTOR_VIRTIO_BLK_CFG_SIZE_MAX 8u
#define USTOR_VIRTIO_BLK_CFG_SEG_MAX 12u
#define USTOR_VIRTIO_BLK_CFG_BLK_SIZE 20u
#define USTOR_VIRTIO_BLK_CFG_PHYS_EXP 24u
#define USTOR_VIRTIO_BLK_CFG_ALIGN_OFF 25u
#define USTOR_VIRTIO_BLK_CFG_MIN_IO 26u
#define USTOR_VIRTIO_BLK_CFG_OPT_IO 28u
#define USTOR_VIRTIO_BLK_CFG_WRITEBACK 32u
#define USTOR_VIRTIO_BLK_CFG_NUM_QUEUES 34u
#define USTOR_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36u
#define USTOR_VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40u
#define USTOR_VIRTIO_BLK_CFG_DISCARD_ALIGN 44u
#define USTOR_VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48u
#define USTOR_VIRTIO_BLK_CFG_MAX_WZ_SEG 52u
#define USTOR_VIRTIO_BLK_CFG_WZ_MAY_UNMAP 56u
_Static_assert(sizeof(struct ustor_virtio_blk_config_space) == 96, "virtio-blk config is 96 bytes");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, size_max) ==
		       USTOR_VIRTIO_BLK_CFG_SIZE_MAX,
	       "size_max");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, seg_max) ==
		       USTOR_VIRTIO_BLK_CFG_SEG_MAX,
	       "seg_max");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, blk_size) ==
		       USTOR_VIRTIO_BLK_CFG_BLK_SIZE,
	       "blk_size");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, physical_block_exp) ==
		       USTOR_VIRTIO_BLK_CFG_PHYS_EXP,
	       "physical_block_exp");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, alignment_offset) ==
		       USTOR_VIRTIO_BLK_CFG_ALIGN_OFF,
	       "alignment_offset");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, min_io_size) ==
		       USTOR_VIRTIO_BLK_CFG_MIN_IO,
	       "min_io_size");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, opt_io_size) ==
		       USTOR_VIRTIO_BLK_CFG_OPT_IO,
	       "opt_io_size");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, writeback) ==
		       USTOR_VIRTIO_BLK_CFG_WRITEBACK,
	       "writeback");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, num_queues) ==
		       USTOR_VIRTIO_BLK_CFG_NUM_QUEUES,
	       "num_queues");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, max_discard_sectors) ==
		       USTOR_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS,
	       "max_discard_sectors");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, max_discard_seg) ==
		       USTOR_VIRTIO_BLK_CFG_MAX_DISCARD_SEG,
	       "max_discard_seg");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, discard_sector_alignment) ==
		       USTOR_VIRTIO_BLK_CFG_DISCARD_ALIGN,
	       "discard_sector_alignment");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, max_write_zeroes_sectors) ==
		       USTOR_VIRTIO_BLK_CFG_MAX_WZ_SECTORS,
	       "max_write_zeroes_sectors");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, max_write_zeroes_seg) ==
		       USTOR_VIRTIO_BLK_CFG_MAX_WZ_SEG,
	       "max_write_zeroes_seg");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, write_zeroes_may_unmap) ==
		       USTOR_VIRTIO_BLK_CFG_WZ_MAY_UNMAP,
	       "write_zeroes_may_unmap");
_Static_assert(offsetof(struct ustor_virtio_blk_config_space, zone_sectors) == 72, "zoned");

#endif
