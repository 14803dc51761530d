/* SPDX-License-Identifier: MIT */
/* Core helpers: status names, the log formatter, identity strings, LE helpers, HAL check. */
#include <string.h>

#include "../../src/core/log.h"
#include "harness.h"
#include "ustor/endian.h"

static void test_status_names(void)
{
	CHECK(strcmp(ustor_status_name(USTOR_OK), "USTOR_OK") == 0);
	CHECK(strcmp(ustor_status_name(USTOR_ERR_TIMEOUT), "USTOR_ERR_TIMEOUT") == 0);
	CHECK(strcmp(ustor_status_name((ustor_status)12345), "USTOR_ERR_UNKNOWN") == 0);
	CHECK(strstr(ustor_status_text(USTOR_ERR_OUT_OF_RANGE), "past the end") != NULL);
	/* Groups: caller < 32 <= resources < 64 <= device < 96 <= lifecycle. */
	CHECK(USTOR_ERR_READ_ONLY < 32 && USTOR_ERR_BUSY >= 32 && USTOR_ERR_BUSY < 64);
	CHECK(USTOR_ERR_TIMEOUT >= 64 && USTOR_ERR_NOT_READY >= 96);
}

static void test_fmt(void)
{
	char buf[64];

	ustor_fmt(buf, sizeof(buf), "%u %x %08x %s %c %d", 42u, 0xbeefu, 0x12u, "ok", 'z', -7);
	CHECK(strcmp(buf, "42 beef 00000012 ok z -7") == 0);
	ustor_fmt(buf, sizeof(buf), "%llu %llx", 18446744073709551615ull, 0x123456789abcdefull);
	CHECK(strcmp(buf, "18446744073709551615 123456789abcdef") == 0);
	ustor_fmt(buf, 8, "%s", "truncate me please");
	CHECK(strcmp(buf, "truncat") == 0);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-overflow"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
	/* Robustness: NULL string and an unknown conversion. */
	ustor_fmt(buf, sizeof(buf), "%s %q", (const char *)NULL);
#pragma GCC diagnostic pop
	CHECK(strcmp(buf, "(null) ?") == 0);
}

static void test_id_string(void)
{
	char out[9];

	ustor_copy_id_string(out, "FW 1.0  ", 8);
	CHECK(strcmp(out, "FW 1.0") == 0);
	ustor_copy_id_string(out, "AB\x01\xff" "CD  ", 8);
	CHECK(strcmp(out, "AB??CD") == 0);
	ustor_copy_id_string(out, "        ", 8);
	CHECK(strcmp(out, "") == 0);
	ustor_copy_id_string(out, "12345678", 8);
	CHECK(strcmp(out, "12345678") == 0);
}

static void test_endian(void)
{
	uint8_t b[8];

	ustor_put_le32(b, 0x11223344u);
	CHECK(b[0] == 0x44 && b[3] == 0x11);
	ustor_put_le64(b, 0x0102030405060708ull);
	CHECK(b[0] == 0x08 && b[7] == 0x01);
	CHECK_EQ(ustor_get_le64(b), 0x0102030405060708ull);
	CHECK_EQ(ustor_get_le16(b), 0x0708);
	{
		uint32_t v = ustor_cpu_to_le32(0xaabbccddu);
		uint8_t raw[4];
		memcpy(raw, &v, 4);
		CHECK(raw[0] == 0xdd && raw[3] == 0xaa);
		CHECK_EQ(ustor_le32_to_cpu(v), 0xaabbccddu);
	}
}

static void test_hal_check(void)
{
	struct ustor_test_hal h;
	struct ustor_hal copy;

	ustor_test_hal_init(&h);
	CHECK_OK(ustor_hal_check(&h.hal));
	copy = h.hal;
	copy.now_ns = NULL;
	CHECK_ST(ustor_hal_check(&copy), USTOR_ERR_INVALID_ARG);
	CHECK(ustor_test_hal_log_contains(&h, "missing required callback now_ns"));
	copy = h.hal;
	copy.log = NULL; /* optional */
	copy.pci_cfg_read32 = NULL;
	copy.yield = NULL;
	CHECK_OK(ustor_hal_check(&copy));
	CHECK_ST(ustor_hal_check(NULL), USTOR_ERR_INVALID_ARG);
	ustor_test_hal_fini(&h);
}

int main(void)
{
	RUN(test_status_names);
	RUN(test_fmt);
	RUN(test_id_string);
	RUN(test_endian);
	RUN(test_hal_check);
	return harness_done();
}
