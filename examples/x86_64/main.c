/* SPDX-License-Identifier: MIT */
/*
 * uStor x86_64 example kernel: boots under multiboot1 (QEMU -kernel on q35,
 * pc and microvm, GRUB `multiboot`) or multiboot2 (GRUB `multiboot2`, BIOS
 * or UEFI), finds every NVMe controller and virtio-blk device on PCI and
 * every virtio-blk in QEMU microvm's virtio-mmio slots, runs the self-test
 * of the test contract (selftest.c) on each and exits QEMU through
 * isa-debug-exit.
 *
 * Command line (QEMU -append), space-separated key=value:
 *   log=debug|info|warn|error   library log level (default warn)
 *   scratch=<lba>+<nblocks>     region the write checks may use (default:
 *                               the last 64 blocks of each namespace)
 *   ro=1                        read-only: every write-type check SKIPs
 *   queues=N depth=N            I/O queue pairs and entries per queue
 *   timeout=<ms>                bound of each I/O command (default 30 s)
 *   poll=1 | irq=1              completion mode: polling (default), or NVMe MSI-X
 *                               interrupts waking a halted CPU (still polled)
 *   irq=masked                  as irq=1 but the I/O queues' MSI-X entries stay
 *                               masked: no interrupt ever comes (tests the timer
 *                               backstop; the irq check FAILs by design)
 *   bench=qd1|none              4 KiB random-read QD1 loop (~1 s) per namespace
 *   bench=fio                   the benchmark mode instead of the checks (bench.c:
 *                               bench_ms=, jobs=qd1,qd32,seq128k,randrw,mq, raw=,
 *                               ustor=, smp=, rounds=, stats=, raw_batch=, raw_lazy=,
 *                               lockless=)
 *   peek=<lba>                  also read <lba> and show the text found there
 *   vmmio=auto|1|0              scan QEMU microvm's virtio-mmio slots: when the
 *                               machine has them (default auto), always, never
 *   vnarrow=1|0                 8/16-bit MMIO for narrow virtio registers (default 1);
 *                               0 leaves uStor its 32-bit fallback
 *   shell=1                     after bring-up, a command shell on COM1 instead of
 *                               the checks (shell.c; `exit` shuts down and leaves)
 *   soak=run|fill|verify        data-integrity soak instead of the checks (soak.c,
 *                               which lists its own options)
 */
#include "kernel.h"
#include "nvme_ctrls.h" /* nvme_knob_parse */
#include "soak.h"

extern char __kernel_start[], __kernel_end[];

struct kernel_options kopt;

static int parse_u64(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (~0ull - 9u) / 10u)
			return -1;
		v = v * 10u + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int streq(const char *s, const char *end, const char *lit)
{
	size_t n = kstrlen(lit);
	return (size_t)(end - s) == n && memcmp(s, lit, n) == 0;
}

static void option(const char *key, const char *kend, const char *val, const char *vend)
{
	uint64_t v;

	if (streq(key, kend, "log")) {
		if (streq(val, vend, "debug"))
			kopt.log_level = USTOR_LOG_DEBUG;
		else if (streq(val, vend, "info"))
			kopt.log_level = USTOR_LOG_INFO;
		else if (streq(val, vend, "warn"))
			kopt.log_level = USTOR_LOG_WARN;
		else if (streq(val, vend, "error"))
			kopt.log_level = USTOR_LOG_ERROR;
		else
			goto bad;
	} else if (streq(key, kend, "scratch")) {
		const char *plus = val;
		uint64_t lba, n;

		while (plus < vend && *plus != '+')
			plus++;
		if (plus == vend || parse_u64(val, plus, &lba) || parse_u64(plus + 1, vend, &n) ||
		    n == 0)
			goto bad;
		kopt.scratch_set = 1;
		kopt.scratch_lba = lba;
		kopt.scratch_nblocks = n;
	} else if (streq(key, kend, "ro")) {
		if (parse_u64(val, vend, &v) || v > 1)
			goto bad;
		kopt.read_only = (int)v;
	} else if (streq(key, kend, "queues")) {
		if (parse_u64(val, vend, &v) || v < 1 || v > 65535)
			goto bad;
		kopt.queues = (uint32_t)v;
	} else if (streq(key, kend, "depth")) {
		if (parse_u64(val, vend, &v) || v < 2 || v > 65536)
			goto bad;
		kopt.depth = (uint32_t)v;
	} else if (streq(key, kend, "timeout")) {
		if (parse_u64(val, vend, &v) || v < 1 || v > 3600000)
			goto bad;
		kopt.io_timeout_ms = (uint32_t)v;
	} else if (streq(key, kend, "poll")) {
		if (parse_u64(val, vend, &v) || v > 1)
			goto bad;
		kopt.irq = !v;
		kopt.irq_masked = 0;
	} else if (streq(key, kend, "irq")) {
		if (streq(val, vend, "masked")) {
			kopt.irq = 1;     /* test of the backstop: MSI-X set up, I/O entries */
			kopt.irq_masked = 1; /* left masked, so no interrupt ever arrives */
		} else if (parse_u64(val, vend, &v) || v > 1) {
			goto bad;
		} else {
			kopt.irq = (int)v;
			kopt.irq_masked = 0;
		}
	} else if (streq(key, kend, "bench")) {
		if (streq(val, vend, "qd1"))
			kopt.bench_qd1 = 1;
		else if (streq(val, vend, "none"))
			kopt.bench_qd1 = 0;
		else if (streq(val, vend, "fio"))
			kopt.bench_fio = 1; /* bench.c: the benchmark mode */
		else
			goto bad;
	} else if (streq(key, kend, "shell")) {
		if (parse_u64(val, vend, &v) || v > 1)
			goto bad;
		kopt.shell = (int)v;
	} else if (streq(key, kend, "vmmio")) {
		if (streq(val, vend, "auto"))
			kopt.vmmio = 0;
		else if (parse_u64(val, vend, &v) || v > 1)
			goto bad;
		else
			kopt.vmmio = v ? 1 : -1;
	} else if (streq(key, kend, "vnarrow")) {
		if (parse_u64(val, vend, &v) || v > 1)
			goto bad;
		kopt.vnarrow_off = !v;
	} else if (streq(key, kend, "virtio_mmio.device")) {
		/* Linux syntax, <size>@<base>:<irq>: QEMU microvm adds one per
		 * virtio-mmio transport with acpi=off. The slot scan finds them. */
		kopt.cmdline_vmmio = 1;
	} else if (streq(key, kend, "peek")) {
		if (parse_u64(val, vend, &v))
			goto bad;
		kopt.peek_set = 1;
		kopt.peek_lba = v;
	} else if (bench_option(key, kend, val, vend)) {
		/* bench_ms=, jobs=, raw=, ustor=, smp=, ... (bench.c) */
	} else if ((v = (uint64_t)(int64_t)nvme_knob_parse(key, kend, val, vend)) != 0) {
		if (v != 1) /* dbbuf=, completion= (nvme_knobs.c) */
			goto bad;
	} else if (soak_option(key, kend, val, vend)) { /* soak.c: soak= and its options */
	} else {
		kprintf("cmdline: unknown option ignored: ");
		console_write(key, (size_t)(vend - key));
		kprintf("\n");
	}
	return;
bad:
	kprintf("cmdline: bad value ignored: ");
	console_write(key, (size_t)(vend - key));
	kprintf("\n");
}

/* "key=value key=value ...": words without '=' (QEMU puts the kernel's file
 * name first) are ignored. */
static void parse_cmdline(const char *s)
{
	kopt.log_level = USTOR_LOG_WARN;
	while (*s != '\0') {
		while (*s == ' ')
			s++;
		const char *word = s;
		const char *eq = NULL;

		while (*s != '\0' && *s != ' ') {
			if (*s == '=' && eq == NULL)
				eq = s;
			s++;
		}
		if (eq != NULL)
			option(word, eq, eq + 1, s);
	}
}

void kmain(uint32_t magic, uint32_t mbi_addr);

void kmain(uint32_t magic, uint32_t mbi_addr)
{
	console_init();
	trap_init();
	kprintf("\nuStor x86_64 example kernel\n");
	/* Copy what the loader gave before anything can overwrite it. */
	if (bootinfo_parse(magic, mbi_addr) != 0) {
		kprintf("boot: not started by a multiboot1 or multiboot2 loader (EAX=0x%x, "
			"EBX=0x%x)\n", magic, mbi_addr);
		kernel_exit(KERNEL_EXIT_FAIL);
	}
	kprintf("boot: %s%s%s%s, %u memory map entries%s\n", boot_info.protocol,
		boot_info.loader[0] ? " from \"" : "", boot_info.loader,
		boot_info.loader[0] ? "\"" : "", boot_info.nmmap,
		boot_info.mmap_truncated ? " (truncated)" : "");
	kprintf("boot: command line \"%s\"\n", boot_info.cmdline);
	parse_cmdline(boot_info.cmdline);

	if (mm_init(&boot_info, (uintptr_t)__kernel_end) != 0)
		kernel_exit(KERNEL_EXIT_FAIL);
	kprintf("boot: kernel %p-%p, DMA pages %p-%p (%u KiB)\n", (void *)__kernel_start,
		(void *)__kernel_end, (void *)mm_region_start(), (void *)mm_region_end(),
		mm_pages_total() * (PAGE_SIZE / 1024u));

	time_init();
	uint64_t mhz = time_tsc_hz() / 1000000u;
	kprintf("time: TSC %llu.%02llu GHz (calibrated against %s)\n",
		(unsigned long long)(mhz / 1000u), (unsigned long long)(mhz % 1000u / 10u),
		time_source());

	/* Interrupt mode: local APIC and its 1 ms timer (the backstop of every
	 * sleep); without an APIC the kernel stays in polling mode. */
	if (kopt.irq && apic_init(1000) != 0)
		kprintf("apic: interrupt mode unavailable; polling\n");

	pci_init();
	kprintf("pci: %s\n", pci_method());

	unsigned failures = kopt.bench_fio ? bench_run() : kopt.shell ? shell_run()
			    : soak_wanted() ? soak_run() : selftest_run();
	selftest_shutdown(); /* idempotent: every disk still up gets CC.SHN / a virtio reset before power-off */
	kernel_exit(failures == 0 ? KERNEL_EXIT_PASS : KERNEL_EXIT_FAIL);
}
