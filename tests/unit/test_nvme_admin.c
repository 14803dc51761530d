/* SPDX-License-Identifier: MIT */
/* NVMe admin commands against the model: identify, namespaces, features,
 * log pages, passthrough, status decoding and admin fault knobs. */
#include <string.h>

#include "harness.h"

static void test_identify_ctrl(void)
{
	struct fixture f;
	struct ustor_nvme_ctrl_info info;

	fx_setup(&f);
	strcpy(f.mcfg.sn, "SN-1234");
	strcpy(f.mcfg.mn, "uStor Model Controller");
	strcpy(f.mcfg.fr, "1.2.3");
	f.mcfg.mdts = 5;
	f.mcfg.oncs = 0x000c;
	f.mcfg.vwc = 1;
	CHECK_OK(fx_start(&f));
	CHECK_OK(ustor_nvme_identify_ctrl(f.ctrl, &info));
	CHECK(strcmp(info.serial, "SN-1234") == 0);
	CHECK(strcmp(info.model, "uStor Model Controller") == 0);
	CHECK(strcmp(info.firmware, "1.2.3") == 0);
	CHECK_EQ(info.mdts, 5);
	CHECK_EQ(info.oncs, 0x000c);
	CHECK_EQ(info.vwc & 1, 1);
	CHECK_EQ(info.nn, 1);
	CHECK_EQ(info.vid, f.mcfg.vid);
	/* MDTS 5 with 4 KiB MPSMIN = 128 KiB per command. */
	CHECK_EQ(f.ctrl->max_transfer, 128 * 1024);
	CHECK(strcmp(ustor_nvme_ns_bdev(f.ctrl, 0)->model, "uStor Model Controller") == 0);
	fx_finish(&f);
}

static void test_namespaces_with_gaps(void)
{
	struct fixture f;
	struct ustor_nvme_ns *ns;
	struct ustor_nvme_ns_info info;
	uint32_t ids[8];
	uint32_t n;

	fx_setup(&f);
	f.mcfg.num_ns = 3;
	f.mcfg.ns[0] = (struct ustor_nvme_model_ns_cfg){ .nsid = 1, .nblocks = 1024, .lbads = 9 };
	f.mcfg.ns[1] = (struct ustor_nvme_model_ns_cfg){ .nsid = 3, .nblocks = 256, .lbads = 12 };
	f.mcfg.ns[2] = (struct ustor_nvme_model_ns_cfg){ .nsid = 7, .nblocks = 64, .lbads = 9, .ms = 8 };
	f.mcfg.nn = 8;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(ustor_nvme_ns_count(f.ctrl), 3);
	CHECK_OK(ustor_nvme_active_ns_list(f.ctrl, 0, ids, 8, &n));
	CHECK_EQ(n, 3);
	CHECK(ids[0] == 1 && ids[1] == 3 && ids[2] == 7);
	CHECK_OK(ustor_nvme_active_ns_list(f.ctrl, 3, ids, 8, &n));
	CHECK(n == 1 && ids[0] == 7);

	CHECK_OK(ustor_nvme_ns_find(f.ctrl, 3, &ns));
	CHECK_EQ(ns->bdev.block_size, 4096);
	CHECK_EQ(ns->bdev.nblocks, 256);
	CHECK(strcmp(ns->bdev.name, "nvme0n3") == 0);
	CHECK_ST(ustor_nvme_ns_find(f.ctrl, 2, &ns), USTOR_ERR_NO_NAMESPACE);
	CHECK(ns == NULL);
	CHECK_ST(ustor_nvme_ns_find(f.ctrl, 9, &ns), USTOR_ERR_NO_NAMESPACE);
	CHECK_ST(ustor_nvme_identify_ns(f.ctrl, 2, &info), USTOR_ERR_NO_NAMESPACE);
	CHECK_ST(ustor_nvme_identify_ns(f.ctrl, 0, &info), USTOR_ERR_NO_NAMESPACE);
	CHECK_ST(ustor_nvme_identify_ns(f.ctrl, 100, &info), USTOR_ERR_NO_NAMESPACE);

	/* Identify Namespace decodes every format and the one in use. */
	CHECK_OK(ustor_nvme_identify_ns(f.ctrl, 7, &info));
	CHECK(info.nlbaf >= 2);
	CHECK_EQ(info.ms, 8);
	CHECK_EQ(info.block_size, 512);
	CHECK_EQ(info.nsze, 64);
	CHECK_EQ(info.ncap, 64);
	/* The metadata namespace is listed but refuses I/O (HARDWARE.md 10). */
	CHECK_OK(ustor_nvme_ns_find(f.ctrl, 7, &ns));
	CHECK(ns->bdev.flags & USTOR_BDEV_F_UNUSABLE);
	{
		uint8_t *buf = fx_buf(&f, 4096, 0, 0x77);
		uint64_t bytes;
		uint8_t *disk = ustor_nvme_model_ns_data(&f.m, 7, &bytes);
		CHECK_ST(ustor_block_write(&ns->bdev, 0, 1, buf), USTOR_ERR_UNSUPPORTED);
		CHECK_ST(ustor_block_read(&ns->bdev, 0, 1, buf), USTOR_ERR_UNSUPPORTED);
		CHECK(disk != NULL && disk[0] == 0);
		CHECK_EQ(f.m.io_cmds[0x01] + f.m.io_cmds[0x02], 0);
	}
	fx_finish(&f);
}

/* NSATTR write protection makes the block device read-only: writes are
 * refused before anything is sent. Interrupt vectors follow the queue. */
static void test_write_protected_and_irq(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *buf;

	fx_setup(&f);
	f.mcfg.ns[0].write_protected = 1;
	f.cfg.use_irq = 1;
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	CHECK(d->flags & USTOR_BDEV_F_READ_ONLY);
	buf = fx_buf(&f, 512, 0, 1);
	CHECK_ST(ustor_block_write(d, 0, 1, buf), USTOR_ERR_READ_ONLY);
	CHECK_OK(ustor_block_read(d, 0, 1, buf));
	CHECK_EQ(f.m.io_cmds[0x01], 0);
	CHECK_EQ(ustor_nvme_irq_vector(f.ctrl, 0), 1);
	CHECK_EQ(f.ctrl->irq_on, 1);
	fx_finish(&f);

	/* Three vectors: the admin queue's plus two, so two I/O queues. */
	fx_setup(&f);
	f.cfg.use_irq = 1;
	f.cfg.irq_vectors = 3;
	f.cfg.io_queues = 4;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->nio, 2);
	fx_finish(&f);

	/* One vector: no room for I/O queue interrupts, polling it is. */
	fx_setup(&f);
	f.cfg.use_irq = 1;
	f.cfg.irq_vectors = 1;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->irq_on, 0);
	CHECK(ustor_test_hal_log_contains(&f.h, "polling"));
	fx_finish(&f);
}

static void test_features(void)
{
	struct fixture f;
	int on = -1;
	uint16_t nsq = 0, ncq = 0;
	uint32_t dw0 = 0;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	CHECK_OK(ustor_nvme_set_write_cache(f.ctrl, 0));
	CHECK_OK(ustor_nvme_get_write_cache(f.ctrl, &on));
	CHECK_EQ(on, 0);
	CHECK_OK(ustor_nvme_set_write_cache(f.ctrl, 1));
	CHECK_OK(ustor_nvme_get_write_cache(f.ctrl, &on));
	CHECK_EQ(on, 1);
	/* Number of Queues is only valid before I/O queues exist (init asked
	 * already, see test_multiple_queues for the grant): the device says so. */
	CHECK_ST(ustor_nvme_set_num_queues(f.ctrl, 64, 64, &nsq, &ncq), USTOR_ERR_DEVICE);
	CHECK(ustor_test_hal_log_contains(&f.h, "Command Sequence Error"));
	CHECK_ST(ustor_nvme_set_num_queues(f.ctrl, 0, 1, &nsq, &ncq), USTOR_ERR_INVALID_ARG);
	CHECK_OK(ustor_nvme_set_arbitration(f.ctrl, 3, 1, 2, 4));
	CHECK_OK(ustor_nvme_get_features(f.ctrl, USTOR_NVME_FEAT_ARBITRATION, 0, &dw0));
	CHECK_EQ(dw0, 0x04020103u);
	CHECK_OK(ustor_nvme_set_irq_coalescing(f.ctrl, 7, 10));
	CHECK_OK(ustor_nvme_get_features(f.ctrl, USTOR_NVME_FEAT_IRQ_COALESCE, 0, &dw0));
	CHECK_EQ(dw0 & 0xffff, 0x0a07);
	fx_finish(&f);

	fx_setup(&f);
	f.mcfg.vwc = 0;
	CHECK_OK(fx_start(&f));
	CHECK_ST(ustor_nvme_set_write_cache(f.ctrl, 1), USTOR_ERR_UNSUPPORTED);
	CHECK_ST(ustor_nvme_get_write_cache(f.ctrl, &on), USTOR_ERR_UNSUPPORTED);
	CHECK(!(ustor_nvme_ns_bdev(f.ctrl, 0)->flags & USTOR_BDEV_F_VOLATILE_CACHE));
	/* Asked of the device anyway, it says Invalid Field: decoded. */
	CHECK_ST(ustor_nvme_set_features(f.ctrl, USTOR_NVME_FEAT_VOLATILE_WC, 1, NULL),
		 USTOR_ERR_DEVICE);
	CHECK(ustor_test_hal_log_contains(&f.h, "Invalid Field in Command"));
	fx_finish(&f);
}

static void test_smart_log(void)
{
	struct fixture f;
	struct ustor_nvme_smart_info s;
	uint8_t *buf;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	f.m.smart_critical_warning = USTOR_NVME_SMART_CW_TEMPERATURE;
	f.m.smart_temperature = 330;
	buf = fx_buf(&f, 4096, 0, 3);
	CHECK_OK(ustor_block_write(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 8, buf));
	CHECK_OK(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 8, buf));
	CHECK_OK(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s));
	CHECK_EQ(s.critical_warning, USTOR_NVME_SMART_CW_TEMPERATURE);
	CHECK_EQ(s.temperature_k, 330);
	CHECK_EQ(s.host_writes, 1);
	CHECK_EQ(s.host_reads, 1);
	CHECK(ustor_test_hal_log_contains(&f.h, "SMART critical warning 02: temperature"));
	CHECK(strcmp(ustor_nvme_smart_warning_name(USTOR_NVME_SMART_CW_READ_ONLY), "read-only") == 0);
	CHECK(ustor_nvme_smart_warning_name(0x80) == NULL);
	fx_finish(&f);
}

static void test_error_and_fw_logs(void)
{
	struct fixture f;
	struct ustor_nvme_error_info e[4];
	struct ustor_nvme_fw_info fw;
	uint32_t n = 0;
	uint8_t *buf;

	fx_setup(&f);
	strcpy(f.mcfg.fr, "FWREV01");
	CHECK_OK(fx_start(&f));
	buf = fx_buf(&f, 512, 0, 0);
	/* LBA past the end, sent raw so the block layer's own check is bypassed. */
	{
		struct ustor_nvme_cmd cmd;
		struct ustor_nvme_cpl cpl;
		memset(&cmd, 0, sizeof(cmd));
		cmd.opcode = USTOR_NVME_CMD_READ;
		cmd.nsid = 1;
		cmd.cdw10 = 5000;
		CHECK_ST(ustor_nvme_io_passthrough(f.ctrl, 0, &cmd, buf, 512, &cpl),
			 USTOR_ERR_OUT_OF_RANGE);
		CHECK_EQ(USTOR_NVME_STATUS_SC(cpl.status), USTOR_NVME_SC_LBA_RANGE);
		CHECK(ustor_test_hal_log_contains(&f.h, "LBA Out of Range"));
	}
	CHECK_OK(ustor_nvme_get_error_log(f.ctrl, e, 4, &n));
	CHECK(n >= 1);
	CHECK(e[0].error_count >= 1);
	CHECK_EQ(USTOR_NVME_STATUS_SC(e[0].status), USTOR_NVME_SC_LBA_RANGE);
	CHECK_EQ(e[0].sqid, 1);
	CHECK_OK(ustor_nvme_get_fw_slots(f.ctrl, &fw));
	CHECK(fw.active_slot >= 1 && fw.active_slot <= 7);
	CHECK(strcmp(fw.revision[fw.active_slot - 1], "FWREV01") == 0);
	fx_finish(&f);
}

static void test_passthrough(void)
{
	struct fixture f;
	struct ustor_nvme_cmd cmd;
	struct ustor_nvme_cpl cpl;
	uint8_t page[4096];

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = 0xc0; /* model's vendor echo */
	cmd.cdw12 = 0xfeedf00d;
	CHECK_OK(ustor_nvme_admin_passthrough(f.ctrl, &cmd, NULL, 0, 0, &cpl));
	CHECK_EQ(cpl.dw0, 0xfeedf00d);
	cmd.opcode = 0xc1;
	cmd.nsid = 1;
	CHECK_OK(ustor_nvme_io_passthrough(f.ctrl, 0, &cmd, NULL, 0, &cpl));
	CHECK_EQ(cpl.dw0, 0xfeedf00d);
	/* Identify through passthrough into a plain (non-DMA) buffer. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = USTOR_NVME_ADMIN_IDENTIFY;
	cmd.cdw10 = USTOR_NVME_CNS_CTRL;
	CHECK_OK(ustor_nvme_admin_passthrough(f.ctrl, &cmd, page, sizeof(page), 0, &cpl));
	CHECK(memcmp(page + 24, f.mcfg.mn, strlen(f.mcfg.mn)) == 0);
	/* Unknown opcode: decoded Invalid Opcode, mapped to UNSUPPORTED. */
	cmd.opcode = 0xbf;
	CHECK_ST(ustor_nvme_admin_passthrough(f.ctrl, &cmd, NULL, 0, 0, &cpl),
		 USTOR_ERR_UNSUPPORTED);
	CHECK(ustor_test_hal_log_contains(&f.h, "Invalid Command Opcode"));
	CHECK_ST(ustor_nvme_admin_passthrough(f.ctrl, &cmd, page, 8192, 0, &cpl),
		 USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_nvme_io_passthrough(f.ctrl, 5, &cmd, NULL, 0, &cpl), USTOR_ERR_INVALID_ARG);
	fx_finish(&f);
}

static void test_status_decoding(void)
{
	uint16_t st = USTOR_NVME_STATUS(USTOR_NVME_SCT_MEDIA, USTOR_NVME_SC_UNRECOVERED_READ);

	CHECK(strcmp(ustor_nvme_status_name(st), "Unrecovered Read Error") == 0);
	CHECK(strcmp(ustor_nvme_sct_name(st), "Media and Data Integrity Errors") == 0);
	CHECK_ST(ustor_nvme_status_to_ustor(st), USTOR_ERR_MEDIA);
	st = (uint16_t)(USTOR_NVME_STATUS(USTOR_NVME_SCT_GENERIC, 0x13) | (1u << 14) | (1u << 13));
	CHECK(strcmp(ustor_nvme_status_name(st), "PRP Offset Invalid") == 0);
	CHECK_EQ(USTOR_NVME_STATUS_DNR(st), 1);
	CHECK_EQ(USTOR_NVME_STATUS_MORE(st), 1);
	CHECK(strcmp(ustor_nvme_status_name(USTOR_NVME_STATUS(1, 0x02)), "Invalid Queue Size") == 0);
	CHECK(strcmp(ustor_nvme_status_name(USTOR_NVME_STATUS(7, 0x99)), "Vendor Specific") == 0);
	CHECK(strcmp(ustor_nvme_status_name(USTOR_NVME_STATUS(0, 0x7f)), "Unknown Status Code") == 0);
	CHECK_ST(ustor_nvme_status_to_ustor(0), USTOR_OK);
	CHECK_ST(ustor_nvme_status_to_ustor(USTOR_NVME_STATUS(0, 0x80)), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_nvme_status_to_ustor(USTOR_NVME_STATUS(0, 0x0b)), USTOR_ERR_NO_NAMESPACE);
	CHECK_ST(ustor_nvme_status_to_ustor(USTOR_NVME_STATUS(1, 0x01)), USTOR_ERR_DEVICE);
}

/* Fault knobs on the admin path. */
static void test_admin_injected_status(void)
{
	struct fixture f;
	struct ustor_nvme_smart_info s;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = 0, .opcode = 0x02,
		.status = USTOR_NVME_MODEL_STATUS(0, 0x06, 1) | 0x4000u, .count = 1 };
	CHECK_ST(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s), USTOR_ERR_DEVICE);
	CHECK(ustor_test_hal_log_contains(&f.h, "Internal Error"));
	CHECK(ustor_test_hal_log_contains(&f.h, "do not retry"));
	CHECK(ustor_test_hal_log_contains(&f.h, "more in error log"));
	CHECK_OK(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s)); /* count was 1 */
	fx_finish(&f);
}

static void test_admin_dropped_completion(void)
{
	struct fixture f;
	struct ustor_nvme_smart_info s;
	uint64_t t0;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	f.m.drop_completions = 1;
	t0 = ustor_test_hal_time(&f.h);
	CHECK_ST(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s), USTOR_ERR_TIMEOUT);
	CHECK(ustor_test_hal_time(&f.h) - t0 >= 5000000000ull); /* admin timeout 5 s */
	CHECK(ustor_test_hal_time(&f.h) - t0 < 7000000000ull);
	CHECK(ustor_test_hal_log_contains(&f.h, "timed out"));
	CHECK(ustor_test_hal_log_contains(&f.h, "CSTS="));
	/* The controller keeps working afterwards. */
	CHECK_OK(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s));
	fx_finish(&f);
}

static void test_admin_wrong_cid(void)
{
	struct fixture f;
	struct ustor_nvme_smart_info s;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	f.m.wrong_cid = 1;
	CHECK_ST(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s), USTOR_ERR_TIMEOUT);
	CHECK_EQ(f.ctrl->admin.bad_cqe, 1);
	CHECK(ustor_test_hal_log_contains(&f.h, "unknown command id"));
	CHECK_OK(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s));
	fx_finish(&f);
}

static void test_admin_fatal(void)
{
	struct fixture f;
	struct ustor_nvme_smart_info s;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	f.m.fatal_after = 0;
	CHECK_ST(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s), USTOR_ERR_FATAL);
	CHECK_ST(ustor_nvme_ctrl_check(f.ctrl), USTOR_ERR_FATAL);
	CHECK(ustor_test_hal_log_contains(&f.h, "(fatal status)"));
	/* Shutdown still ends, bounded, and frees everything. */
	(void)ustor_nvme_ctrl_shutdown(f.ctrl);
	CHECK_EQ(ustor_test_hal_live_allocs(&f.h), 0);
	fx_finish(&f);
}

static void test_garbage_identify(void)
{
	unsigned seed;

	for (seed = 1; seed <= 20; seed++) {
		struct fixture f;
		ustor_status st;
		uint32_t i;

		fx_setup(&f);
		CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
		f.model_up = 1;
		f.m.garbage_identify = 1;
		f.m.garbage_seed = seed * 7919u;
		st = ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg);
		/* Either a clear error or a controller whose every exposed
		 * namespace has sane geometry; never a crash or overrun. */
		if (st == USTOR_OK) {
			for (i = 0; i < ustor_nvme_ns_count(f.ctrl); i++) {
				struct ustor_block_device *d = ustor_nvme_ns_bdev(f.ctrl, i);
				CHECK(d->block_size >= 512 && d->block_size <= 65536);
				CHECK(strlen(d->model) <= 40);
			}
		} else {
			CHECK(st == USTOR_ERR_BAD_DEVICE || st == USTOR_ERR_DEVICE ||
			      st == USTOR_ERR_NO_NAMESPACE || st == USTOR_ERR_UNSUPPORTED);
		}
		f.m.garbage_identify = 0;
		ustor_nvme_model_clear_violations(&f.m);
		fx_finish(&f);
	}
}

int main(void)
{
	RUN(test_identify_ctrl);
	RUN(test_namespaces_with_gaps);
	RUN(test_write_protected_and_irq);
	RUN(test_features);
	RUN(test_smart_log);
	RUN(test_error_and_fw_logs);
	RUN(test_passthrough);
	RUN(test_status_decoding);
	RUN(test_admin_injected_status);
	RUN(test_admin_dropped_completion);
	RUN(test_admin_wrong_cid);
	RUN(test_admin_fatal);
	RUN(test_garbage_identify);
	return harness_done();
}
