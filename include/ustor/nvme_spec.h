/* SPDX-License-Identifier: MIT */
/*
 * NVMe wire formats: controller registers, command and completion entries,
 * identify and log pages, opcodes and status codes (NVM Express Base
 * Specification 2.0 / NVM Command Set 1.0). Only what uStor reads or writes.
 *
 * Rules: fields are plain fixed-width integers in little-endian order, read
 * and written only through the helpers of endian.h; no bitfields; every
 * structure has a size assert and an offset assert for every field the code
 * reads, so a target ABI that packs differently (m68k aligns 32/64-bit
 * integers to 2 bytes, i386 aligns 64-bit to 4) fails to compile instead of
 * misreading the device.
 */
#ifndef USTOR_NVME_SPEC_H
#define USTOR_NVME_SPEC_H

#include <stddef.h>
#include <stdint.h>

/* ---- Controller registers (Base spec 3.1, offsets into BAR0) ------------ */
#define USTOR_NVME_REG_CAP 0x00   /* 64-bit: capabilities */
#define USTOR_NVME_REG_VS 0x08    /* version */
#define USTOR_NVME_REG_INTMS 0x0c /* interrupt mask set */
#define USTOR_NVME_REG_INTMC 0x10 /* interrupt mask clear */
#define USTOR_NVME_REG_CC 0x14    /* controller configuration */
#define USTOR_NVME_REG_CSTS 0x1c  /* controller status */
#define USTOR_NVME_REG_NSSR 0x20  /* NVM subsystem reset */
#define USTOR_NVME_REG_AQA 0x24   /* admin queue attributes */
#define USTOR_NVME_REG_ASQ 0x28   /* 64-bit: admin SQ base */
#define USTOR_NVME_REG_ACQ 0x30   /* 64-bit: admin CQ base */
#define USTOR_NVME_REG_DBS 0x1000 /* first doorbell */

/* CAP fields, on the 64-bit value. */
#define USTOR_NVME_CAP_MQES(cap) ((uint32_t)((cap) & 0xffff))
#define USTOR_NVME_CAP_CQR(cap) ((uint32_t)(((cap) >> 16) & 0x1))
#define USTOR_NVME_CAP_TO(cap) ((uint32_t)(((cap) >> 24) & 0xff))
#define USTOR_NVME_CAP_DSTRD(cap) ((uint32_t)(((cap) >> 32) & 0xf))
#define USTOR_NVME_CAP_CSS(cap) ((uint32_t)(((cap) >> 37) & 0xff))
#define USTOR_NVME_CAP_MPSMIN(cap) ((uint32_t)(((cap) >> 48) & 0xf))
#define USTOR_NVME_CAP_MPSMAX(cap) ((uint32_t)(((cap) >> 52) & 0xf))
#define USTOR_NVME_CAP_CSS_NVM 0x01   /* bit 0: NVM command set */
#define USTOR_NVME_CAP_CSS_IOCS 0x40  /* bit 6: I/O command sets */
#define USTOR_NVME_CAP_CSS_ADMIN 0x80 /* bit 7: admin only */

/* CC fields. */
#define USTOR_NVME_CC_EN 0x1u
#define USTOR_NVME_CC_CSS_SHIFT 4
#define USTOR_NVME_CC_CSS_NVM 0x0u
#define USTOR_NVME_CC_CSS_IOCS 0x6u
#define USTOR_NVME_CC_MPS_SHIFT 7
#define USTOR_NVME_CC_AMS_SHIFT 11
#define USTOR_NVME_CC_SHN_SHIFT 14
#define USTOR_NVME_CC_SHN_MASK (0x3u << 14)
#define USTOR_NVME_CC_SHN_NORMAL (0x1u << 14)
#define USTOR_NVME_CC_IOSQES_SHIFT 16
#define USTOR_NVME_CC_IOCQES_SHIFT 20

/* CSTS fields. */
#define USTOR_NVME_CSTS_RDY 0x1u
#define USTOR_NVME_CSTS_CFS 0x2u
#define USTOR_NVME_CSTS_SHST_MASK (0x3u << 2)
#define USTOR_NVME_CSTS_SHST_NORMAL (0x0u << 2)
#define USTOR_NVME_CSTS_SHST_OCCURRING (0x1u << 2)
#define USTOR_NVME_CSTS_SHST_COMPLETE (0x2u << 2)

/* ---- Submission and completion entries (Base spec 4.2, 4.6) ------------- */
struct ustor_nvme_sqe {
	uint32_t cdw0; /* opcode 7:0, fuse 9:8, psdt 15:14, cid 31:16 */
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	uint64_t prp1;
	uint64_t prp2;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};
_Static_assert(sizeof(struct ustor_nvme_sqe) == 64, "SQE is 64 bytes");
_Static_assert(offsetof(struct ustor_nvme_sqe, nsid) == 4, "nsid");
_Static_assert(offsetof(struct ustor_nvme_sqe, mptr) == 16, "mptr");
_Static_assert(offsetof(struct ustor_nvme_sqe, prp1) == 24, "prp1");
_Static_assert(offsetof(struct ustor_nvme_sqe, prp2) == 32, "prp2");
_Static_assert(offsetof(struct ustor_nvme_sqe, cdw10) == 40, "cdw10");
_Static_assert(offsetof(struct ustor_nvme_sqe, cdw15) == 60, "cdw15");

struct ustor_nvme_cqe {
	uint32_t dw0;    /* command specific result */
	uint32_t dw1;
	uint16_t sqhd;   /* SQ head pointer */
	uint16_t sqid;
	uint16_t cid;
	uint16_t status; /* phase bit 0, SC 8:1, SCT 11:9, CRD 13:12, M 14, DNR 15 */
};
_Static_assert(sizeof(struct ustor_nvme_cqe) == 16, "CQE is 16 bytes");
_Static_assert(offsetof(struct ustor_nvme_cqe, sqhd) == 8, "sqhd");
_Static_assert(offsetof(struct ustor_nvme_cqe, cid) == 12, "cid");
_Static_assert(offsetof(struct ustor_nvme_cqe, status) == 14, "status");

#define USTOR_NVME_SQE_SIZE_LOG2 6
#define USTOR_NVME_CQE_SIZE_LOG2 4

/*
 * Status field as uStor keeps it: the CQE status halfword shifted right by
 * one (phase bit dropped), so 0 means success.
 */
#define USTOR_NVME_STATUS_SC(st) ((uint32_t)(st) & 0xff)
#define USTOR_NVME_STATUS_SCT(st) (((uint32_t)(st) >> 8) & 0x7)
#define USTOR_NVME_STATUS_CRD(st) (((uint32_t)(st) >> 11) & 0x3)
#define USTOR_NVME_STATUS_MORE(st) (((uint32_t)(st) >> 13) & 0x1)
#define USTOR_NVME_STATUS_DNR(st) (((uint32_t)(st) >> 14) & 0x1)
#define USTOR_NVME_STATUS(sct, sc) ((uint16_t)(((sct) << 8) | (sc)))
/* Success is SCT 0 / SC 0; the More and CRD bits may still be set. */
#define USTOR_NVME_STATUS_FAILED(st) (((uint32_t)(st) & 0x7ffu) != 0)

/* Status code types. */
#define USTOR_NVME_SCT_GENERIC 0x0
#define USTOR_NVME_SCT_CMD_SPECIFIC 0x1
#define USTOR_NVME_SCT_MEDIA 0x2
#define USTOR_NVME_SCT_PATH 0x3
#define USTOR_NVME_SCT_VENDOR 0x7

/* Generic status codes used by the code (full table in nvme_status.c). */
#define USTOR_NVME_SC_SUCCESS 0x00
#define USTOR_NVME_SC_INVALID_OPCODE 0x01
#define USTOR_NVME_SC_INVALID_FIELD 0x02
#define USTOR_NVME_SC_INTERNAL 0x06
#define USTOR_NVME_SC_ABORT_REQUESTED 0x07
#define USTOR_NVME_SC_INVALID_NS 0x0b
#define USTOR_NVME_SC_PRP_OFFSET_INVALID 0x13
#define USTOR_NVME_SC_LBA_RANGE 0x80
#define USTOR_NVME_SC_NS_NOT_READY 0x82
/* Media errors (SCT 2). */
#define USTOR_NVME_SC_WRITE_FAULT 0x80
#define USTOR_NVME_SC_UNRECOVERED_READ 0x81

/* ---- Opcodes ------------------------------------------------------------ */
#define USTOR_NVME_ADMIN_DELETE_SQ 0x00
#define USTOR_NVME_ADMIN_CREATE_SQ 0x01
#define USTOR_NVME_ADMIN_GET_LOG_PAGE 0x02
#define USTOR_NVME_ADMIN_DELETE_CQ 0x04
#define USTOR_NVME_ADMIN_CREATE_CQ 0x05
#define USTOR_NVME_ADMIN_IDENTIFY 0x06
#define USTOR_NVME_ADMIN_ABORT 0x08
#define USTOR_NVME_ADMIN_SET_FEATURES 0x09
#define USTOR_NVME_ADMIN_GET_FEATURES 0x0a
#define USTOR_NVME_ADMIN_DBBUF_CONFIG 0x7c /* Doorbell Buffer Config: PRP1 shadow, PRP2 EventIdx */

/* Identify Controller OACS bits uStor reads. */
#define USTOR_NVME_OACS_DBBUF (1u << 8) /* Doorbell Buffer Config supported */

#define USTOR_NVME_CMD_FLUSH 0x00
#define USTOR_NVME_CMD_WRITE 0x01
#define USTOR_NVME_CMD_READ 0x02
#define USTOR_NVME_CMD_WRITE_ZEROES 0x08
#define USTOR_NVME_CMD_DSM 0x09

/* Identify CNS values (cdw10 7:0). */
#define USTOR_NVME_CNS_NS 0x00
#define USTOR_NVME_CNS_CTRL 0x01
#define USTOR_NVME_CNS_ACTIVE_NS_LIST 0x02

/* Feature identifiers. */
#define USTOR_NVME_FEAT_ARBITRATION 0x01
#define USTOR_NVME_FEAT_POWER_MGMT 0x02
#define USTOR_NVME_FEAT_VOLATILE_WC 0x06
#define USTOR_NVME_FEAT_NUM_QUEUES 0x07
#define USTOR_NVME_FEAT_IRQ_COALESCE 0x08

/* Log page identifiers. */
#define USTOR_NVME_LOG_ERROR 0x01
#define USTOR_NVME_LOG_SMART 0x02
#define USTOR_NVME_LOG_FW_SLOT 0x03

/* Command dword bits. */
#define USTOR_NVME_CREATE_CQ_PC 0x1u         /* physically contiguous */
#define USTOR_NVME_CREATE_CQ_IEN 0x2u        /* interrupts enabled */
#define USTOR_NVME_CREATE_SQ_PC 0x1u
#define USTOR_NVME_RW_FUA (1u << 30)
#define USTOR_NVME_WZ_DEAC (1u << 25)        /* write zeroes: deallocate */
#define USTOR_NVME_DSM_AD (1u << 2)          /* DSM: attribute deallocate */

/* ONCS (optional NVM command support) bits. */
#define USTOR_NVME_ONCS_COMPARE 0x0001
#define USTOR_NVME_ONCS_WRITE_UNC 0x0002
#define USTOR_NVME_ONCS_DSM 0x0004
#define USTOR_NVME_ONCS_WRITE_ZEROES 0x0008
#define USTOR_NVME_ONCS_SAVE_FEAT 0x0010
#define USTOR_NVME_ONCS_COPY 0x0100

/* VWC bit 0: a volatile write cache is present. */
#define USTOR_NVME_VWC_PRESENT 0x01

/* ---- Identify Controller data (CNS 01h), 4096 bytes --------------------- */
struct ustor_nvme_id_ctrl {
	uint16_t vid;
	uint16_t ssvid;
	char sn[20];
	char mn[40];
	char fr[8];
	uint8_t rab;
	uint8_t ieee[3];
	uint8_t cmic;
	uint8_t mdts;     /* log2 of max transfer, in CAP.MPSMIN units; 0 = none */
	uint16_t cntlid;
	uint32_t ver;
	uint8_t rsvd84[172];
	uint16_t oacs;    /* offset 256 */
	uint8_t acl;
	uint8_t aerl;
	uint8_t frmw;
	uint8_t lpa;
	uint8_t elpe;
	uint8_t npss;
	uint8_t rsvd264[248];
	uint8_t sqes;     /* offset 512 */
	uint8_t cqes;
	uint16_t maxcmd;
	uint32_t nn;
	uint16_t oncs;
	uint16_t fuses;
	uint8_t fna;
	uint8_t vwc;
	uint16_t awun;
	uint16_t awupf;
	uint8_t nvscc;
	uint8_t nwpc;
	uint16_t acwu;
	uint16_t rsvd534;
	uint32_t sgls;
	uint8_t rsvd540[3556];
};
_Static_assert(sizeof(struct ustor_nvme_id_ctrl) == 4096, "id ctrl size");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, sn) == 4, "sn");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, mn) == 24, "mn");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, fr) == 64, "fr");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, mdts) == 77, "mdts");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, cntlid) == 78, "cntlid");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, ver) == 80, "ver");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, oacs) == 256, "oacs");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, frmw) == 260, "frmw");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, lpa) == 261, "lpa");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, elpe) == 262, "elpe");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, sqes) == 512, "sqes");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, cqes) == 513, "cqes");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, nn) == 516, "nn");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, oncs) == 520, "oncs");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, vwc) == 525, "vwc");
_Static_assert(offsetof(struct ustor_nvme_id_ctrl, sgls) == 536, "sgls");

/* ---- Identify Namespace data (CNS 00h), 4096 bytes ---------------------- */
#define USTOR_NVME_MAX_LBAF 64 /* NVMe 2.0: up to 64 formats */

struct ustor_nvme_id_ns {
	uint64_t nsze;   /* size in logical blocks */
	uint64_t ncap;   /* capacity in logical blocks */
	uint64_t nuse;   /* blocks in use */
	uint8_t nsfeat;
	uint8_t nlbaf;   /* number of LBA formats, zero-based */
	uint8_t flbas;   /* format in use: 3:0 low, 6:5 high bits; 4 = extended */
	uint8_t mc;
	uint8_t dpc;
	uint8_t dps;
	uint8_t nmic;
	uint8_t rescap;
	uint8_t fpi;
	uint8_t dlfeat;
	uint8_t rsvd34[65];
	uint8_t nsattr;  /* offset 99: bit 0 = namespace write protected */
	uint8_t rsvd100[28];
	uint32_t lbaf[USTOR_NVME_MAX_LBAF]; /* offset 128: ms 15:0, lbads 23:16, rp 25:24 */
	uint8_t rsvd384[3712];
};
_Static_assert(sizeof(struct ustor_nvme_id_ns) == 4096, "id ns size");
_Static_assert(offsetof(struct ustor_nvme_id_ns, ncap) == 8, "ncap");
_Static_assert(offsetof(struct ustor_nvme_id_ns, nuse) == 16, "nuse");
_Static_assert(offsetof(struct ustor_nvme_id_ns, nsfeat) == 24, "nsfeat");
_Static_assert(offsetof(struct ustor_nvme_id_ns, nlbaf) == 25, "nlbaf");
_Static_assert(offsetof(struct ustor_nvme_id_ns, flbas) == 26, "flbas");
_Static_assert(offsetof(struct ustor_nvme_id_ns, dlfeat) == 33, "dlfeat");
_Static_assert(offsetof(struct ustor_nvme_id_ns, nsattr) == 99, "nsattr");
_Static_assert(offsetof(struct ustor_nvme_id_ns, lbaf) == 128, "lbaf");

#define USTOR_NVME_LBAF_MS(v) ((uint32_t)(v) & 0xffff)
#define USTOR_NVME_LBAF_LBADS(v) (((uint32_t)(v) >> 16) & 0xff)
#define USTOR_NVME_LBAF_RP(v) (((uint32_t)(v) >> 24) & 0x3)
#define USTOR_NVME_FLBAS_INDEX(f) (((uint32_t)(f) & 0xf) | ((((uint32_t)(f) >> 5) & 0x3) << 4))
#define USTOR_NVME_FLBAS_EXTENDED 0x10

/* ---- Dataset Management range (NVM spec 3.2.3), 16 bytes --------------- */
struct ustor_nvme_dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
};
_Static_assert(sizeof(struct ustor_nvme_dsm_range) == 16, "dsm range");
_Static_assert(offsetof(struct ustor_nvme_dsm_range, slba) == 8, "slba");

/* ---- Log pages ---------------------------------------------------------- */
/* SMART / Health Information (02h), 512 bytes. 128-bit counters are kept as
 * 16 raw bytes; several fields are unaligned on the wire. */
struct ustor_nvme_smart_log {
	uint8_t critical_warning;
	uint8_t temperature[2];  /* kelvin, unaligned */
	uint8_t avail_spare;
	uint8_t spare_thresh;
	uint8_t percent_used;
	uint8_t endu_grp_crit_warn;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16];    /* offset 32, units of 1000 x 512 bytes */
	uint8_t data_units_written[16];
	uint8_t host_reads[16];
	uint8_t host_writes[16];
	uint8_t ctrl_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time;     /* offset 192 */
	uint32_t crit_comp_time;
	uint16_t temp_sensor[8];
	uint8_t rsvd216[296];
};
_Static_assert(sizeof(struct ustor_nvme_smart_log) == 512, "smart log");
_Static_assert(offsetof(struct ustor_nvme_smart_log, avail_spare) == 3, "spare");
_Static_assert(offsetof(struct ustor_nvme_smart_log, data_units_read) == 32, "dur");
_Static_assert(offsetof(struct ustor_nvme_smart_log, power_on_hours) == 128, "poh");
_Static_assert(offsetof(struct ustor_nvme_smart_log, unsafe_shutdowns) == 144, "unsafe");
_Static_assert(offsetof(struct ustor_nvme_smart_log, media_errors) == 160, "media");
_Static_assert(offsetof(struct ustor_nvme_smart_log, num_err_log_entries) == 176, "errs");
_Static_assert(offsetof(struct ustor_nvme_smart_log, warning_temp_time) == 192, "wtt");
_Static_assert(offsetof(struct ustor_nvme_smart_log, temp_sensor) == 200, "ts");

#define USTOR_NVME_SMART_CW_SPARE 0x01
#define USTOR_NVME_SMART_CW_TEMPERATURE 0x02
#define USTOR_NVME_SMART_CW_RELIABILITY 0x04
#define USTOR_NVME_SMART_CW_READ_ONLY 0x08
#define USTOR_NVME_SMART_CW_VOLATILE_BACKUP 0x10
#define USTOR_NVME_SMART_CW_PMR 0x20

/* Error Information log entry (01h), 64 bytes each. */
struct ustor_nvme_error_log {
	uint64_t error_count;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;   /* status field with phase in bit 0, as in a CQE */
	uint16_t param_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs;
	uint8_t trtype;
	uint8_t rsvd30[2];
	uint64_t cs;
	uint16_t trtype_spec_info;
	uint8_t rsvd42[22];
};
_Static_assert(sizeof(struct ustor_nvme_error_log) == 64, "error log entry");
_Static_assert(offsetof(struct ustor_nvme_error_log, sqid) == 8, "sqid");
_Static_assert(offsetof(struct ustor_nvme_error_log, status) == 12, "status");
_Static_assert(offsetof(struct ustor_nvme_error_log, lba) == 16, "lba");
_Static_assert(offsetof(struct ustor_nvme_error_log, nsid) == 24, "nsid");

/* Firmware Slot Information (03h), 512 bytes. */
struct ustor_nvme_fw_slot_log {
	uint8_t afi;       /* 2:0 active slot, 6:4 slot at next reset */
	uint8_t rsvd1[7];
	char frs[7][8];    /* revision in slots 1..7, ASCII, space padded */
	uint8_t rsvd64[448];
};
_Static_assert(sizeof(struct ustor_nvme_fw_slot_log) == 512, "fw slot log");
_Static_assert(offsetof(struct ustor_nvme_fw_slot_log, frs) == 8, "frs");

#endif
