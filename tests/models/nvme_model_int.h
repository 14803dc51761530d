/* SPDX-License-Identifier: MIT */
/*
 * NVMe model internals shared by nvme_model.c (registers, queues),
 * nvme_model_admin.c and nvme_model_io.c. Every constant here is taken from
 * the NVMe base specification (1.4 / 2.0) and the NVM command set
 * specification, independently of include/ustor/nvme_spec.h.
 */
#ifndef USTOR_TEST_NVME_MODEL_INT_H
#define USTOR_TEST_NVME_MODEL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nvme_model.h"

/* ---- Little-endian access to host memory, byte by byte ------------- */

static inline uint16_t mdl_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t mdl_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	       ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t mdl_get64(const uint8_t *p)
{
	return (uint64_t)mdl_get32(p) | ((uint64_t)mdl_get32(p + 4) << 32);
}

static inline void mdl_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void mdl_put32(uint8_t *p, uint32_t v)
{
	mdl_put16(p, (uint16_t)v);
	mdl_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void mdl_put64(uint8_t *p, uint64_t v)
{
	mdl_put32(p, (uint32_t)v);
	mdl_put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- Controller registers (base spec 3.1) ---------------------------- */

#define MDL_REG_CAP 0x00
#define MDL_REG_VS 0x08
#define MDL_REG_INTMS 0x0c
#define MDL_REG_INTMC 0x10
#define MDL_REG_CC 0x14
#define MDL_REG_CSTS 0x1c
#define MDL_REG_NSSR 0x20
#define MDL_REG_AQA 0x24
#define MDL_REG_ASQ 0x28
#define MDL_REG_ACQ 0x30
#define MDL_REG_DB_BASE 0x1000

#define MDL_CC_EN 0x1u
#define MDL_CC_CSS(cc) (((cc) >> 4) & 0x7u)
#define MDL_CC_MPS(cc) (((cc) >> 7) & 0xfu)
#define MDL_CC_AMS(cc) (((cc) >> 11) & 0x7u)
#define MDL_CC_SHN(cc) (((cc) >> 14) & 0x3u)
#define MDL_CC_IOSQES(cc) (((cc) >> 16) & 0xfu)
#define MDL_CC_IOCQES(cc) (((cc) >> 20) & 0xfu)
/* Fields that must not change while CC.EN=1. */
#define MDL_CC_FIXED_WHILE_EN 0x3ff0u

#define MDL_CSTS_RDY 0x1u
#define MDL_CSTS_CFS 0x2u
#define MDL_CSTS_SHST_DONE (2u << 2)
#define MDL_CSTS_NSSRO 0x10u

/* ---- PCI configuration space (PCI local bus 3.0) ------------------- */

#define MDL_PCI_CMD_MSE 0x0002u
#define MDL_PCI_CMD_BME 0x0004u
#define MDL_PCI_CMD_RW_MASK 0x0546u /* MSE, BME, PERR, SERR, INTx off */

/* ---- Opcodes -------------------------------------------------------- */

#define MDL_ADM_DELETE_SQ 0x00
#define MDL_ADM_CREATE_SQ 0x01
#define MDL_ADM_GET_LOG 0x02
#define MDL_ADM_DELETE_CQ 0x04
#define MDL_ADM_CREATE_CQ 0x05
#define MDL_ADM_IDENTIFY 0x06
#define MDL_ADM_ABORT 0x08
#define MDL_ADM_SET_FEATURES 0x09
#define MDL_ADM_GET_FEATURES 0x0a
#define MDL_ADM_AER 0x0c
#define MDL_ADM_DBBUF 0x7c
#define MDL_ADM_VENDOR_ECHO 0xc0

#define MDL_IO_FLUSH 0x00
#define MDL_IO_WRITE 0x01
#define MDL_IO_READ 0x02
#define MDL_IO_WRITE_ZEROES 0x08
#define MDL_IO_DSM 0x09
#define MDL_IO_VENDOR_ECHO 0xc1

/* ---- Status (CQE DW3 31:16, phase bit clear) ---------------------- */

#define MDL_DNR 0x8000u
#define MDL_ST(sct, sc) USTOR_NVME_MODEL_STATUS(sct, sc, 0)
#define MDL_STD(sct, sc) USTOR_NVME_MODEL_STATUS(sct, sc, 1)

#define MDL_SC_OK 0
#define MDL_SC_INVALID_OPCODE MDL_STD(0, 0x01)
#define MDL_SC_INVALID_FIELD MDL_STD(0, 0x02)
#define MDL_SC_DATA_XFER MDL_ST(0, 0x04)
#define MDL_SC_INVALID_NS MDL_STD(0, 0x0b)
#define MDL_SC_CMD_SEQ MDL_STD(0, 0x0c)
#define MDL_SC_PRP_OFFSET MDL_STD(0, 0x13)
#define MDL_SC_LBA_RANGE MDL_STD(0, 0x80)
#define MDL_SC_WRITE_PROTECTED MDL_STD(0, 0x20)
#define MDL_SC_CQ_INVALID MDL_STD(1, 0x00)
#define MDL_SC_INVALID_QID MDL_STD(1, 0x01)
#define MDL_SC_INVALID_QSIZE MDL_STD(1, 0x02)
#define MDL_SC_AER_LIMIT MDL_STD(1, 0x05)
#define MDL_SC_INVALID_IV MDL_STD(1, 0x08)
#define MDL_SC_INVALID_LOG MDL_STD(1, 0x09)
#define MDL_SC_INVALID_QDEL MDL_STD(1, 0x0c)
#define MDL_SC_NOT_SAVEABLE MDL_STD(1, 0x0d)

/* ---- Sizes -------------------------------------------------------- */

#define MDL_SQE_SIZE 64u
#define MDL_CQE_SIZE 16u
#define MDL_IDENTIFY_SIZE 4096u
#define MDL_ERR_ENTRIES 64u /* ELPE + 1 */
#define MDL_ERR_ENTRY_SIZE 64u
#define MDL_AERL 3u         /* 4 outstanding AERs */
#define MDL_NSID_ALL 0xffffffffu

/* ---- State -------------------------------------------------------- */

struct ustor_mdl_sq {
	int exists;
	uint64_t base;
	uint32_t size, head, tail;
	uint16_t cqid;
};

struct ustor_mdl_cq {
	int exists;
	uint64_t base;
	uint32_t size, head, tail;
	uint16_t phase;
	int ien;
	uint16_t iv;
	unsigned nsq;   /* SQs bound to this CQ */
	unsigned nheld; /* completions waiting for space */
};

struct ustor_mdl_ns {
	uint32_t nsid;
	uint64_t nblocks;
	uint32_t bs;
	uint8_t lbads;
	uint16_t ms;
	int extended;
	int write_protected;
	uint8_t *data; /* nblocks * bs */
	uint8_t *meta; /* nblocks * ms */
};

struct ustor_mdl_cqe {
	uint16_t cqid, sqid, cid, status;
	uint32_t dw0, dw1;
	uint32_t sqhd; /* SQ head when completed (if the SQ is gone later) */
};

struct ustor_mdl_cqe_vec {
	struct ustor_mdl_cqe *v;
	size_t n, cap;
};

struct ustor_mdl_err_entry {
	uint64_t count;
	uint16_t sqid, cid, status;
	uint32_t nsid;
	uint64_t lba;
};

/* A piece of a data transfer, already mapped to host memory. */
struct ustor_mdl_seg {
	uint8_t *host;
	uint32_t len;
};

/* A fetched command, decoded, plus what the executor returns. */
struct ustor_mdl_cmd {
	uint16_t sqid;
	uint8_t opc, fuse, psdt;
	uint16_t cid;
	uint32_t nsid;
	uint64_t mptr, prp1, prp2;
	uint32_t cdw[16]; /* cdw[10]..cdw[15] used; raw dwords */
	/* results */
	uint32_t dw0, dw1;
	int hold;         /* no completion now (AER) */
	uint64_t err_lba; /* LBA for the error log */
};

struct ustor_nvme_model_priv {
	uint8_t *bar_token;
	size_t bar_size;
	uint32_t stride;
	uint16_t nq; /* queue ids 0..nq-1 */

	/* registers */
	uint64_t cap;
	uint32_t cc, intms, aqa;
	uint64_t asq, acq;
	int cfs, shst_done, nssro;
	int rdy, rdy_target;
	uint64_t rdy_at;
	int enable_ignored;
	int aqa_written, asq_written, acq_written;
	int disable_pending;
	uint64_t disabled_at;
	uint32_t page_size; /* from CC.MPS at enable */

	/* Doorbell Buffer Config */
	int dbbuf;
	uint64_t dbs_bus, eis_bus;

	/* PCI */
	uint16_t pci_cmd;
	uint8_t pci_int_line;
	uint32_t bar0_lo, bar0_hi, bar_mask;

	/* queues */
	struct ustor_mdl_sq *sq;
	struct ustor_mdl_cq *cq;
	uint16_t nsqa, ncqa; /* granted I/O queues, 0-based */
	unsigned aer_held;
	struct ustor_mdl_cqe_vec deferred, held;

	/* features: current and saved */
	uint32_t arb, arb_saved, irqc, irqc_saved;
	int wce, wce_saved;

	/* namespaces */
	struct ustor_mdl_ns ns[USTOR_NVME_MODEL_MAX_NS];
	unsigned nns;
	uint32_t nn;

	/* commands held by hold_commands (fetched, not executed) */
	struct ustor_mdl_cmd held_cmds[USTOR_NVME_MODEL_MAX_HELD];
	unsigned nheld_cmds;

	/* error log ring; err_count is also the last entry's Error Count */
	struct ustor_mdl_err_entry err[MDL_ERR_ENTRIES];
	uint64_t err_count;

	/* violation text */
	char *viol;
	size_t viol_len, viol_cap;

	/* scratch */
	struct ustor_mdl_seg *segs;
	size_t nsegs, segs_cap;
	uint8_t page[MDL_IDENTIFY_SIZE];
};

/* ---- Cross-file functions ----------------------------------------- */

/* Record a host violation (printf-style, one line). */
void ustor_nvme_mdl_violation(struct ustor_nvme_model *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set CSTS.CFS: the controller stops processing commands. */
void ustor_nvme_mdl_set_fatal(struct ustor_nvme_model *m, const char *why);

/* Host pointer for [bus, bus+len) or NULL after recording a violation. */
uint8_t *ustor_nvme_mdl_map(struct ustor_nvme_model *m, uint64_t bus,
			    size_t len, const char *what);

/* Namespace by id, or NULL if not configured (inactive). */
struct ustor_mdl_ns *ustor_nvme_mdl_ns(struct ustor_nvme_model *m,
				       uint32_t nsid);

/* Number of existing I/O queues (SQs plus CQs). */
unsigned ustor_nvme_mdl_io_queue_count(const struct ustor_nvme_model *m);

/* Doorbell Buffer Config (nvme_model.c): accept the two pages. */
uint16_t ustor_nvme_mdl_dbbuf_config(struct ustor_nvme_model *m, const struct ustor_mdl_cmd *c);

/* Forget completions held for a CQ that is being deleted. */
void ustor_nvme_mdl_drop_held(struct ustor_nvme_model *m, uint16_t cqid);

/*
 * Map the PRPs of a `len`-byte transfer into priv->segs / priv->nsegs,
 * checking MDTS, every PRP rule and that all of it is mapped. Returns
 * MDL_SC_OK or the status to complete the command with (a violation is
 * recorded).
 */
uint16_t ustor_nvme_mdl_prp_map(struct ustor_nvme_model *m,
				const struct ustor_mdl_cmd *c, uint64_t len);

/* Controller-to-host transfer of `src_len` bytes padded with zeros to
 * `len`, through the command's PRPs. */
uint16_t ustor_nvme_mdl_xfer_out(struct ustor_nvme_model *m,
				 const struct ustor_mdl_cmd *c, const void *src,
				 size_t src_len, uint64_t len);

/* Host-to-controller transfer of `len` bytes through the command's PRPs. */
uint16_t ustor_nvme_mdl_xfer_in(struct ustor_nvme_model *m,
				const struct ustor_mdl_cmd *c, void *dst,
				uint64_t len);

/* Execute an admin / I/O command; returns its status. */
uint16_t ustor_nvme_mdl_admin_exec(struct ustor_nvme_model *m,
				   struct ustor_mdl_cmd *c);
uint16_t ustor_nvme_mdl_io_exec(struct ustor_nvme_model *m,
				struct ustor_mdl_cmd *c);

#endif
