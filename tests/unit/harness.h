/* SPDX-License-Identifier: MIT */
/* Tiny test harness: checks that report and carry on, and a fixture that
 * wires the hosted HAL, the NVMe model and a controller together. */
#ifndef USTOR_TEST_HARNESS_H
#define USTOR_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>

#include "hosted_hal.h"
#include "nvme_model.h"
#include "ustor/nvme.h"

extern unsigned harness_failures;
/* When set, fixtures use a HAL without lock/unlock (a single-CPU kernel),
 * which sends the driver down its lock-less fast paths. */
extern int harness_no_lock;
/* When set, fixtures ask for NVMe shadow doorbells (the model offers them). */
extern int harness_shadow_db;
extern const char *harness_current;

void harness_fail(const char *file, int line, const char *what);

#define CHECK(cond)                                                  \
	do {                                                         \
		if (!(cond))                                         \
			harness_fail(__FILE__, __LINE__, #cond);     \
	} while (0)

#define CHECK_EQ(a, b)                                                                  \
	do {                                                                            \
		unsigned long long a_ = (unsigned long long)(a);                        \
		unsigned long long b_ = (unsigned long long)(b);                        \
		if (a_ != b_) {                                                         \
			char m_[256];                                                   \
			snprintf(m_, sizeof(m_), "%s == %s (%llu vs %llu)", #a, #b, a_, b_); \
			harness_fail(__FILE__, __LINE__, m_);                           \
		}                                                                       \
	} while (0)

#define CHECK_ST(st, want)                                                              \
	do {                                                                            \
		ustor_status s_ = (st);                                                 \
		ustor_status w_ = (want);                                               \
		if (s_ != w_) {                                                         \
			char m_[256];                                                   \
			snprintf(m_, sizeof(m_), "%s: got %s, want %s", #st,            \
				 ustor_status_name(s_), ustor_status_name(w_));         \
			harness_fail(__FILE__, __LINE__, m_);                           \
		}                                                                       \
	} while (0)

#define CHECK_OK(st) CHECK_ST(st, USTOR_OK)

/* Run one test function and report it. */
#define RUN(fn) harness_run(#fn, fn)
void harness_run(const char *name, void (*fn)(void));
/* Summary line; returns the process exit status. */
int harness_done(void);

struct fixture {
	struct ustor_test_hal h;
	struct ustor_nvme_model m;
	struct ustor_nvme_model_cfg mcfg;
	struct ustor_nvme_config cfg;
	struct ustor_nvme_ctrl *ctrl;
	int model_up;
	void *bufs[32];
	unsigned nbufs;
};

/* Teardown checks every fixture shares: the model recorded no host
 * violations (`v` is its text), and the HAL has no DMA memory left
 * allocated (the library log is printed when anything failed). */
void harness_check_violations(const char *v);
void harness_check_leaks(const struct ustor_test_hal *h);

/* HAL and default configs (model: one 2048 x 512 namespace; driver:
 * defaults plus PCI enable through the model's config space). */
void fx_setup(struct fixture *f);
/* Build the model from f->mcfg and bring the controller up with f->cfg. */
ustor_status fx_start(struct fixture *f);
/* Shut down (if up), check: no host violations, no leaked DMA memory. */
void fx_finish(struct fixture *f);
/* A DMA-able (registered) test buffer of len bytes at `offset` past a page
 * boundary, filled with `fill`; freed by fx_finish. */
void *fx_buf(struct fixture *f, size_t len, size_t offset, int fill);
/* A plain heap buffer the HAL does not know (not DMA-able). */
void *fx_plain(struct fixture *f, size_t len);
/* Deterministic pattern: byte i of block `lba` for a given seed. */
void fx_pattern(void *buf, size_t len, uint64_t lba, uint32_t block_size, uint32_t seed);

#endif
