/* SPDX-License-Identifier: MIT */
/*
 * A small command shell on COM1, entered with shell=1 on the command line:
 * the controllers (and virtio-blk disks) are brought up as for the
 * self-test (the `init` lines), then the kernel prompts `ustor> ` and runs
 * one command per line until `exit`, which shuts them down (the `shutdown`
 * lines), prints USTOR-DONE and leaves QEMU through isa-debug-exit. `list`,
 * `dd`, `write` and `bench` work on virtio-blk disks (vblk0...) too; the
 * NVMe-only commands (nvmectl, ready, smart) leave them out.
 *
 * Input is polled: the UART's line status register says when a byte
 * waits (console_getc). Between polls the CPU sleeps in irq_wait() when
 * the local APIC timer runs (irq=1), so an idle shell does not spin; in
 * polling mode it spins with `pause`. Typed characters are echoed;
 * Backspace/DEL erase, Ctrl-U erases the line, Ctrl-C abandons it, CR, LF
 * or CR LF end it.
 *
 * Writes are guarded like the self-test's: only inside the scratch region
 * (scratch=, default the last 64 blocks) unless `force` is given, and never
 * with ro=1 or on a read-only namespace.
 */
#include "nvme_ctrls.h"
#include "shell_stats.h"

#define SHELL_LINE_MAX 160
#define SHELL_MAX_ARGS 8
#define SHELL_BUF_BYTES (64u * 1024u) /* DMA buffer for dd/write/bench */
#define SHELL_BENCH_MAX_S 60u /* as in cmd_help's text */

static uint8_t *shell_buf; /* page_alloc'd, identity-mapped: DMA-able as is */

/* ---- input ------------------------------------------------------------------- */

static void erase_chars(size_t n)
{
	while (n-- > 0)
		console_write("\b \b", 3);
}

/* One line from COM1, echoed, without its end-of-line. */
static void read_line(char *line, size_t size)
{
	static int after_cr; /* a LF right after a CR ends no second line */
	size_t n = 0;

	for (;;) {
		int c = console_getc();

		if (c < 0) {
			irq_wait(); /* <= 1 ms with the APIC timer; a pause otherwise */
			continue;
		}
		if (c == '\n' && after_cr) {
			after_cr = 0;
			continue;
		}
		after_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			console_write("\n", 1);
			line[n] = '\0';
			return;
		}
		if (c == 0x08 || c == 0x7f) { /* Backspace, DEL */
			if (n > 0) {
				n--;
				erase_chars(1);
			}
		} else if (c == 0x15) {       /* Ctrl-U */
			erase_chars(n);
			n = 0;
		} else if (c == 0x03) {       /* Ctrl-C */
			console_write("^C\n", 3);
			line[0] = '\0';
			return;
		} else if (c >= 0x20 && c < 0x7f && n + 1 < size) {
			char ch = (char)c;

			line[n++] = ch;
			console_write(&ch, 1);
		}
	}
}

static unsigned split(char *line, char *argv[], unsigned max)
{
	unsigned argc = 0;

	while (*line != '\0' && argc < max) {
		while (*line == ' ' || *line == '\t')
			*line++ = '\0';
		if (*line == '\0')
			break;
		argv[argc++] = line;
		while (*line != '\0' && *line != ' ' && *line != '\t')
			line++;
	}
	return argc;
}

static int str_eq(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* Decimal, or hexadecimal with 0x. */
static int parse_num(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -1;
		if (v > (~0ull - d) / base)
			return -1;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* A byte in hex: "a5", "0xa5", "5". */
static int parse_hex_byte(const char *s, uint8_t *out)
{
	char tmp[8] = "0x";
	uint64_t v;
	size_t n = kstrlen(s);

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		n -= 2;
	}
	if (n == 0 || n > 2)
		return -1;
	memcpy(tmp + 2, s, n + 1);
	if (parse_num(tmp, &v) != 0)
		return -1;
	*out = (uint8_t)v;
	return 0;
}

/* ---- lookups ------------------------------------------------------------------- */

static struct ustor_block_device *find_dev(const char *name)
{
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].up)
			continue;
		for (uint32_t k = 0; k < ustor_nvme_ns_count(&ctrls[i].ctrl); k++) {
			struct ustor_block_device *d = ustor_nvme_ns_bdev(&ctrls[i].ctrl, k);

			if (d != NULL && str_eq(d->name, name))
				return d;
		}
	}
	for (unsigned i = 0; i < n_vblks; i++)
		if (vblks[i].up && str_eq(vblks[i].vb.bdev.name, name))
			return ustor_virtio_blk_bdev(&vblks[i].vb);
	kprintf("no namespace \"%s\" (`list` shows them)\n", name);
	return NULL;
}

/* The controllers a command applies to: all, or the one named. */
static int ctrl_selected(const struct ctrl_slot *cs, const char *only)
{
	return only == NULL || str_eq(cs->name, only);
}

static int check_ctrl_name(const char *only)
{
	if (only == NULL)
		return 0;
	for (unsigned i = 0; i < n_ctrls; i++)
		if (str_eq(ctrls[i].name, only))
			return 0;
	kprintf("no controller \"%s\"\n", only);
	return -1;
}

/* nvme_io, then make sure a buffer the device may still write into (after
 * a timeout) is never used again. */
static ustor_status shell_io(struct ustor_block_device *d, uint8_t op, uint64_t lba, uint32_t n,
			     struct ustor_block_req *req)
{
	ustor_status st = nvme_io(d, op, lba, n, shell_buf, req);
	ustor_status broken = *broken_of(d);

	if (broken && st != USTOR_OK) {
		kprintf("%s: %s: the %s is out of service; this buffer is abandoned\n",
			d->name, ustor_status_name(broken), vblk_of(d) ? "device" : "controller");
		shell_buf = page_alloc(SHELL_BUF_BYTES, PAGE_SIZE);
	}
	return st;
}

static int need_buf(void)
{
	if (shell_buf != NULL)
		return 0;
	kprintf("out of DMA pages for the shell's buffer\n");
	return -1;
}

/* ---- commands ------------------------------------------------------------------- */

static void cmd_help(void)
{
	/* One kprintf per line: kprintf formats into a 512-byte line buffer. */
	static const char *const lines[] = {
		"commands:",
		"  nvmectl info [nvmeX]    controller identity, CAP fields, VS, MDTS, queues",
		"  ready                   controller status (CSTS) of every controller",
		"  list                    namespaces and virtio-blk disks: name, blocks x size,",
		"                          capacity, flags",
		"  smart [nvmeX]           SMART / health log, decoded",
		"  dd <dev> <lba> [count]  hex dump of blocks (default 1)",
		"  write <dev> <lba> <hex-byte> [force]",
		"                          fill one block with the byte, read it back; only in the",
		"                          scratch region unless `force`; never with ro=1",
		"  bench <dev> [seconds]   QD1 random 4 KiB reads (default 1 s, at most 60)",
		"  stats [dev] [reset]     uStor statistics per disk and queue: IOPS, MB/s,",
		"                          latency avg/p50/p99/p99.9, depth, errors, timeouts",
		"  help                    this list",
		"  exit                    shut the controllers down and leave (USTOR-DONE)",
		"numbers: decimal or 0x hex; <dev> as `list` names it (nvme0n1, vblk0)",
	};

	for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		kprintf("%s\n", lines[i]);
}

static const char *pow2_size(char *buf, size_t size, uint32_t shift)
{
	return fmt_size(buf, size, 1ull << shift);
}

static void cmd_nvmectl(unsigned argc, char *argv[])
{
	const char *only = argc >= 3 ? argv[2] : NULL;

	if (argc < 2 || !str_eq(argv[1], "info") || argc > 3) {
		kprintf("usage: nvmectl info [nvmeX]\n");
		return;
	}
	if (check_ctrl_name(only) != 0)
		return;
	for (unsigned i = 0; i < n_ctrls; i++) {
		struct ctrl_slot *cs = &ctrls[i];
		const struct ustor_nvme_ctrl *c = &cs->ctrl;
		const struct ustor_nvme_ctrl_info *in = &c->info;
		char a[32], b[32], sz[32];

		if (!ctrl_selected(cs, only))
			continue;
		if (!cs->up) {
			kprintf("%s: pci %02x:%02x.%x [%04x:%04x]: not running (see its init line)\n",
				cs->name, PCI_BUS(cs->pci.bdf), PCI_DEV(cs->pci.bdf),
				PCI_FN(cs->pci.bdf), cs->pci.vendor, cs->pci.device);
			continue;
		}
		uint64_t cap = c->cap;
		uint32_t css = USTOR_NVME_CAP_CSS(cap);
		kprintf("%s: model \"%s\" serial \"%s\" firmware \"%s\"\n", cs->name, in->model,
			in->serial, in->firmware);
		kprintf("  pci        %02x:%02x.%x [%04x:%04x] subsystem vendor 0x%04x, BAR0 0x%llx (%s)\n",
			PCI_BUS(cs->pci.bdf), PCI_DEV(cs->pci.bdf), PCI_FN(cs->pci.bdf), cs->pci.vendor,
			cs->pci.device, in->ssvid, (unsigned long long)cs->pci.bar0,
			fmt_size(sz, sizeof(sz), cs->pci.bar0_size));
		kprintf("  VS         0x%08x: NVMe %u.%u.%u\n", c->vs, c->vs >> 16, (c->vs >> 8) & 0xffu,
			c->vs & 0xffu);
		kprintf("  CAP        0x%016llx\n", (unsigned long long)cap);
		kprintf("             MQES %u (%u entries per queue), CQR %u (contiguous queues %s), "
			"AMS 0x%x\n", USTOR_NVME_CAP_MQES(cap), USTOR_NVME_CAP_MQES(cap) + 1u,
			USTOR_NVME_CAP_CQR(cap), USTOR_NVME_CAP_CQR(cap) ? "required" : "optional",
			(unsigned)((cap >> 17) & 3u));
		kprintf("             TO %u (ready within %u ms), DSTRD %u (doorbell stride %u bytes), "
			"NSSRS %u\n", USTOR_NVME_CAP_TO(cap), USTOR_NVME_CAP_TO(cap) * 500u,
			USTOR_NVME_CAP_DSTRD(cap), 4u << USTOR_NVME_CAP_DSTRD(cap),
			(unsigned)((cap >> 36) & 1u));
		/* CSS: which CC.CSS values the controller accepts (bit 0: NVM
		 * command set, bit 6: I/O command sets, bit 7: admin only). */
		kprintf("             CSS 0x%02x (%s%s%s), BPS %u, MPSMIN %s, MPSMAX %s, PMRS %u, "
			"CMBS %u\n", css, (css & USTOR_NVME_CAP_CSS_NVM) ? "NVM command set" : "",
			(css & USTOR_NVME_CAP_CSS_IOCS) ? "; I/O command sets" : "",
			(css & USTOR_NVME_CAP_CSS_ADMIN) ? "; admin-only mode" : "",
			(unsigned)((cap >> 45) & 1u),
			pow2_size(a, sizeof(a), 12u + USTOR_NVME_CAP_MPSMIN(cap)),
			pow2_size(b, sizeof(b), 12u + USTOR_NVME_CAP_MPSMAX(cap)),
			(unsigned)((cap >> 56) & 1u), (unsigned)((cap >> 57) & 1u));
		if (in->mdts != 0)
			kprintf("  transfer   MDTS %u (2^%u x MPSMIN = %s), max transfer %s per command; "
				"page size %s\n", in->mdts, in->mdts,
				pow2_size(a, sizeof(a), 12u + USTOR_NVME_CAP_MPSMIN(cap) + in->mdts),
				fmt_size(sz, sizeof(sz), c->max_transfer),
				fmt_size(b, sizeof(b), c->page_size));
		else
			kprintf("  transfer   MDTS 0 (no limit), max transfer %s per command (uStor's "
				"cap); page size %s\n", fmt_size(sz, sizeof(sz), c->max_transfer),
				fmt_size(b, sizeof(b), c->page_size));
		kprintf("  queues     admin %u entries, %u I/O queue pair(s) x %u entries\n",
			USTOR_NVME_ADMIN_QUEUE_DEPTH, c->nio, c->io_depth);
		if (cs->irq_on) {
			char per[160] = "";
			size_t len = 0;

			for (uint16_t q = 0; q < c->nio && q < cs->irq_queues; q++) {
				uint16_t e = ustor_nvme_irq_vector(c, q);

				if (len < sizeof(per))
					len += (size_t)ksnprintf(per + len, sizeof(per) - len,
								 "%squeue %u: %u", q ? ", " : "",
								 q, cs->irq_count[e]);
			}
			kprintf("  completion MSI-X wake-ups (table %u entries, vectors 0x%02x-0x%02x), "
				"interrupts so far: admin %u, %s\n", cs->msix.entries, cs->irq_vec_base,
				cs->irq_vec_base + ustor_nvme_irq_vector(c, (uint16_t)(cs->irq_queues - 1u)),
				cs->irq_count[0], per);
		} else {
			kprintf("  completion polled%s%s\n", cs->irq_none != NULL ? ": " : "",
				cs->irq_none != NULL ? cs->irq_none : "");
		}
		kprintf("  identify   VER 0x%08x, CNTLID %u, NN %u, OACS 0x%04x, ONCS 0x%04x, VWC %s, "
			"SGLS 0x%08x\n", in->ver, in->cntlid, in->nn, in->oacs, in->oncs,
			(in->vwc & 1u) ? "present" : "none", in->sgls);
		kprintf("  namespaces %u exposed%s\n", ustor_nvme_ns_count(c),
			c->ns_skipped ? " (more than USTOR_NVME_MAX_NAMESPACES: some skipped)" : "");
	}
}

static void cmd_ready(void)
{
	if (n_ctrls == 0)
		kprintf("no NVMe controller\n");
	for (unsigned i = 0; i < n_ctrls; i++) {
		struct ctrl_slot *cs = &ctrls[i];

		if (!cs->up) {
			kprintf("%s: not running\n", cs->name);
			continue;
		}
		ustor_status st = ustor_nvme_ctrl_check(&cs->ctrl);
		/* The raw register too, through the same HAL the library uses. */
		uint32_t csts = cs->hal.mmio_read32(cs->hal.ctx,
						    cs->ctrl.regs + USTOR_NVME_REG_CSTS);
		kprintf("%s: %s (CSTS 0x%08x: RDY %u, CFS %u, SHST %u, NSSRO %u, PP %u)%s%s\n",
			cs->name, st == USTOR_OK ? "ready" : ustor_status_name(st), csts,
			csts & 1u, (csts >> 1) & 1u, (csts >> 2) & 3u, (csts >> 4) & 1u,
			(csts >> 5) & 1u, cs->broken ? "; out of service after " : "",
			cs->broken ? ustor_status_name(cs->broken) : "");
	}
}

static void cmd_list(void)
{
	unsigned n = 0, nvb = 0;

	kprintf("%-10s %-22s %-10s %s\n", "NAME", "BLOCKS x SIZE", "CAPACITY", "FLAGS");
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].up)
			continue;
		for (uint32_t k = 0; k < ustor_nvme_ns_count(&ctrls[i].ctrl); k++) {
			struct ustor_block_device *d = ustor_nvme_ns_bdev(&ctrls[i].ctrl, k);
			struct ustor_nvme_ns *ns = d->driver;
			char geo[40], sz[32];

			ksnprintf(geo, sizeof(geo), "%llu x %u B", (unsigned long long)d->nblocks,
				  d->block_size);
			kprintf("%-10s %-22s %-10s nsid %u%s%s%s%s%s\n", d->name, geo,
				fmt_size(sz, sizeof(sz), d->nblocks << d->block_shift), ns->info.nsid,
				(d->flags & USTOR_BDEV_F_VOLATILE_CACHE) ? " write-cache" : "",
				(d->flags & USTOR_BDEV_F_DISCARD) ? " discard" : "",
				(d->flags & USTOR_BDEV_F_WRITE_ZEROES) ? " write-zeroes" : "",
				(d->flags & USTOR_BDEV_F_READ_ONLY) ? " read-only" : "",
				(d->flags & USTOR_BDEV_F_UNUSABLE) ? " UNUSABLE" : "");
			n++;
		}
	}
	for (unsigned i = 0; i < n_vblks; i++) {
		struct ustor_block_device *d = ustor_virtio_blk_bdev(&vblks[i].vb);
		char geo[40], sz[32];

		if (!vblks[i].up)
			continue;
		ksnprintf(geo, sizeof(geo), "%llu x %u B", (unsigned long long)d->nblocks,
			  d->block_size);
		kprintf("%-10s %-22s %-10s virtio-%s serial \"%s\"%s%s%s%s%s\n", d->name, geo,
			fmt_size(sz, sizeof(sz), d->nblocks << d->block_shift),
			vblks[i].on_pci ? "pci" : "mmio", d->serial,
			(d->flags & USTOR_BDEV_F_VOLATILE_CACHE) ? " write-cache" : "",
			(d->flags & USTOR_BDEV_F_DISCARD) ? " discard" : "",
			(d->flags & USTOR_BDEV_F_WRITE_ZEROES) ? " write-zeroes" : "",
			(d->flags & USTOR_BDEV_F_READ_ONLY) ? " read-only" : "",
			(d->flags & USTOR_BDEV_F_UNUSABLE) ? " UNUSABLE" : "");
		nvb++;
	}
	if (nvb != 0)
		kprintf("%u namespace(s), %u virtio-blk disk(s)\n", n, nvb);
	else
		kprintf("%u namespace(s)\n", n);
}

static void cmd_smart(unsigned argc, char *argv[])
{
	const char *only = argc >= 2 ? argv[1] : NULL;

	if (check_ctrl_name(only) != 0)
		return;
	for (unsigned i = 0; i < n_ctrls; i++) {
		struct ctrl_slot *cs = &ctrls[i];
		struct ustor_nvme_smart_info s;
		ustor_status st;
		char sz[32];

		if (!ctrl_selected(cs, only) || !cs->up)
			continue;
		st = ustor_nvme_get_smart(&cs->ctrl, 0xffffffffu, &s);
		if (st != USTOR_OK) {
			kprintf("%s: SMART log: %s\n", cs->name, describe(st, NULL));
			continue;
		}
		kprintf("%s: SMART / health information (log page 02h, controller-wide)\n", cs->name);
		char bits[96];

		smart_warning_text(s.critical_warning, bits, sizeof(bits));
		kprintf("  critical warning       0x%02x%s%s\n", s.critical_warning,
			s.critical_warning == 0 ? " (none)" : ":", bits);
		kprintf("  composite temperature  %d C (%u K)\n", (int)s.temperature_k - 273,
			s.temperature_k);
		kprintf("  available spare        %u%% (threshold %u%%)\n", s.avail_spare,
			s.spare_thresh);
		kprintf("  percentage used        %u%%\n", s.percent_used);
		/* Data units are thousands of 512-byte units (NVMe base spec, log 02h). */
		kprintf("  data units read        %llu (%s)\n", (unsigned long long)s.data_units_read,
			fmt_size(sz, sizeof(sz), s.data_units_read * 512000u));
		kprintf("  data units written     %llu (%s)\n",
			(unsigned long long)s.data_units_written,
			fmt_size(sz, sizeof(sz), s.data_units_written * 512000u));
		kprintf("  host read commands     %llu\n", (unsigned long long)s.host_reads);
		kprintf("  host write commands    %llu\n", (unsigned long long)s.host_writes);
		kprintf("  controller busy time   %llu min\n", (unsigned long long)s.ctrl_busy_minutes);
		kprintf("  power cycles           %llu\n", (unsigned long long)s.power_cycles);
		kprintf("  power-on hours         %llu\n", (unsigned long long)s.power_on_hours);
		kprintf("  unsafe shutdowns       %llu\n", (unsigned long long)s.unsafe_shutdowns);
		kprintf("  media errors           %llu\n", (unsigned long long)s.media_errors);
		kprintf("  error log entries      %llu\n", (unsigned long long)s.error_log_entries);
		kprintf("  warning temp. time     %u min\n", s.warning_temp_minutes);
		kprintf("  critical temp. time    %u min\n", s.critical_temp_minutes);
	}
}

/* hexdump -C style: offset, 16 bytes, ASCII; runs of identical lines as "*". */
static void hex_dump(const uint8_t *p, size_t len)
{
	int starred = 0;

	for (size_t off = 0; off < len; off += 16) {
		char line[96];
		size_t n = 0;

		if (off > 0 && off + 16 <= len && memcmp(p + off, p + off - 16, 16) == 0) {
			if (!starred)
				kprintf("*\n");
			starred = 1;
			continue;
		}
		starred = 0;
		n += (size_t)ksnprintf(line + n, sizeof(line) - n, "%08llx ", (unsigned long long)off);
		for (size_t i = 0; i < 16 && off + i < len; i++)
			n += (size_t)ksnprintf(line + n, sizeof(line) - n, "%s %02x", i == 8 ? " " : "",
					       p[off + i]);
		n += (size_t)ksnprintf(line + n, sizeof(line) - n, "  |");
		for (size_t i = 0; i < 16 && off + i < len; i++) {
			uint8_t c = p[off + i];
			line[n++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
		}
		line[n++] = '|';
		line[n] = '\0';
		kprintf("%s\n", line);
	}
	kprintf("%08llx\n", (unsigned long long)len);
}

static void cmd_dd(unsigned argc, char *argv[])
{
	struct ustor_block_device *d;
	struct ustor_block_req req;
	uint64_t lba, count = 1;

	if (argc < 3 || argc > 4 || parse_num(argv[2], &lba) != 0 ||
	    (argc == 4 && (parse_num(argv[3], &count) != 0 || count == 0))) {
		kprintf("usage: dd <dev> <lba> [count]\n");
		return;
	}
	d = find_dev(argv[1]);
	if (d == NULL || need_buf() != 0)
		return;
	uint64_t max = SHELL_BUF_BYTES >> d->block_shift;
	if (max == 0)
		max = 1; /* blocks above 64 KiB do not exist in NVMe (LBADS <= 16) */
	if (count > max) {
		kprintf("dd: at most %llu blocks of %u B at a time\n", (unsigned long long)max,
			d->block_size);
		return;
	}
	if (lba >= d->nblocks || count > d->nblocks - lba) {
		kprintf("dd: lba %llu+%llu is beyond the end (%llu blocks)\n",
			(unsigned long long)lba, (unsigned long long)count,
			(unsigned long long)d->nblocks);
		return;
	}
	ustor_status st = shell_io(d, USTOR_BLOCK_READ, lba, (uint32_t)count, &req);
	if (st != USTOR_OK) {
		kprintf("dd: %s lba %llu+%llu: %s\n", d->name, (unsigned long long)lba,
			(unsigned long long)count, describe(st, &req));
		return;
	}
	kprintf("%s: lba %llu, %llu block(s) x %u B (offsets from the start of lba %llu)\n",
		d->name, (unsigned long long)lba, (unsigned long long)count, d->block_size,
		(unsigned long long)lba);
	hex_dump(shell_buf, (size_t)count << d->block_shift);
}

static void cmd_write(unsigned argc, char *argv[])
{
	struct ustor_block_device *d;
	struct ustor_block_req req;
	uint64_t lba, s_lba, s_n;
	uint8_t byte;
	int force = 0;

	if (argc == 5 && str_eq(argv[4], "force"))
		force = 1;
	if (argc < 4 || argc > 5 || (argc == 5 && !force) || parse_num(argv[2], &lba) != 0 ||
	    parse_hex_byte(argv[3], &byte) != 0) {
		kprintf("usage: write <dev> <lba> <hex-byte> [force]\n");
		return;
	}
	d = find_dev(argv[1]);
	if (d == NULL || need_buf() != 0)
		return;
	/* The guards, strongest first: nothing overrides read-only. */
	if (kopt.read_only) {
		kprintf("write: refused: read-only mode (ro=1)\n");
		return;
	}
	if (d->flags & (USTOR_BDEV_F_READ_ONLY | USTOR_BDEV_F_UNUSABLE)) {
		kprintf("write: refused: %s is %s\n", d->name,
			(d->flags & USTOR_BDEV_F_READ_ONLY) ? "read-only" : "not usable by uStor");
		return;
	}
	if (lba >= d->nblocks) {
		kprintf("write: lba %llu is beyond the end (%llu blocks)\n", (unsigned long long)lba,
			(unsigned long long)d->nblocks);
		return;
	}
	const char *no_scratch = scratch_region(d, &s_lba, &s_n);
	int inside = no_scratch == NULL && lba >= s_lba && lba - s_lba < s_n;
	if (!inside && !force) {
		if (no_scratch != NULL)
			kprintf("write: refused: no scratch region (%s); append `force` to write "
				"anyway\n", no_scratch);
		else
			kprintf("write: refused: lba %llu is outside the scratch region (lba "
				"%llu+%llu); append `force` to write there anyway\n",
				(unsigned long long)lba, (unsigned long long)s_lba,
				(unsigned long long)s_n);
		return;
	}
	memset(shell_buf, byte, d->block_size);
	ustor_status st = shell_io(d, USTOR_BLOCK_WRITE, lba, 1, &req);
	if (st != USTOR_OK) {
		kprintf("write: %s lba %llu: %s\n", d->name, (unsigned long long)lba,
			describe(st, &req));
		return;
	}
	memset(shell_buf, (uint8_t)~byte, d->block_size); /* so a read that did nothing shows */
	st = shell_io(d, USTOR_BLOCK_READ, lba, 1, &req);
	if (st != USTOR_OK) {
		kprintf("write: written, but the read-back of lba %llu failed: %s\n",
			(unsigned long long)lba, describe(st, &req));
		return;
	}
	for (uint32_t i = 0; i < d->block_size; i++) {
		if (shell_buf[i] != byte) {
			kprintf("write: read-back of lba %llu differs at byte %u: 0x%02x, not 0x%02x\n",
				(unsigned long long)lba, i, shell_buf[i], byte);
			return;
		}
	}
	kprintf("write: %s lba %llu: %u bytes of 0x%02x written and read back identical%s\n",
		d->name, (unsigned long long)lba, d->block_size, byte,
		inside ? "" : " (forced: outside the scratch region)");
}

static void cmd_bench(unsigned argc, char *argv[])
{
	struct ustor_block_device *d;
	struct bench_result r;
	uint64_t secs = 1;

	if (argc < 2 || argc > 3 ||
	    (argc == 3 && (parse_num(argv[2], &secs) != 0 || secs == 0 || secs > SHELL_BENCH_MAX_S))) {
		kprintf("usage: bench <dev> [seconds 1-%u]\n", SHELL_BENCH_MAX_S);
		return;
	}
	d = find_dev(argv[1]);
	if (d == NULL || need_buf() != 0)
		return;
	if (d->flags & USTOR_BDEV_F_UNUSABLE) {
		kprintf("bench: %s is not usable by uStor\n", d->name);
		return;
	}
	bench_qd1_run(d, shell_buf, secs * 1000000000ull, &r);
	if (r.st != USTOR_OK) {
		kprintf("bench: %s: read failed after %llu reads: %s\n", d->name,
			(unsigned long long)r.reads, describe(r.st, &r.req));
		if (*broken_of(d))
			shell_buf = page_alloc(SHELL_BUF_BYTES, PAGE_SIZE); /* never reuse it */
		return;
	}
	kprintf("bench: %s: QD1 random %u-byte reads for %llu s: %llu IOPS, %llu.%02llu MiB/s, "
		"%llu us per read (%llu reads, completions %s)\n", d->name, r.io_bytes,
		(unsigned long long)secs, (unsigned long long)r.iops,
		(unsigned long long)(r.mibs100 / 100u), (unsigned long long)(r.mibs100 % 100u),
		(unsigned long long)r.lat_us, (unsigned long long)r.reads,
		slot_of(d) != NULL && slot_of(d)->irq_on ? "by MSI-X wake-up" : "polled");
}

unsigned shell_run(void)
{
	char line[SHELL_LINE_MAX];
	char *argv[SHELL_MAX_ARGS];
	unsigned nns = 0;

	selftest_bring_up();
	stats_enable_all(); /* `stats` (shell_stats.c) */
	shell_buf = page_alloc(SHELL_BUF_BYTES, PAGE_SIZE);
	unsigned nvb = 0;
	char vb_text[48] = "";

	for (unsigned i = 0; i < n_ctrls; i++)
		if (ctrls[i].up)
			nns += ustor_nvme_ns_count(&ctrls[i].ctrl);
	for (unsigned i = 0; i < n_vblks; i++)
		nvb += vblks[i].up ? 1u : 0u;
	if (nvb != 0)
		ksnprintf(vb_text, sizeof(vb_text), ", %u virtio-blk disk(s)", nvb);
	kprintf("uStor shell: %u controller(s), %u namespace(s)%s, %s mode; `help` lists the "
		"commands\n", n_ctrls, nns, vb_text, kopt.irq ? "interrupt" : "polling");
	for (;;) {
		unsigned argc;

		kprintf("ustor> ");
		read_line(line, sizeof(line));
		argc = split(line, argv, SHELL_MAX_ARGS);
		if (argc == 0)
			continue;
		if (str_eq(argv[0], "help") || str_eq(argv[0], "?"))
			cmd_help();
		else if (str_eq(argv[0], "nvmectl"))
			cmd_nvmectl(argc, argv);
		else if (str_eq(argv[0], "ready"))
			cmd_ready();
		else if (str_eq(argv[0], "list"))
			cmd_list();
		else if (str_eq(argv[0], "smart"))
			cmd_smart(argc, argv);
		else if (str_eq(argv[0], "dd"))
			cmd_dd(argc, argv);
		else if (str_eq(argv[0], "write"))
			cmd_write(argc, argv);
		else if (str_eq(argv[0], "bench"))
			cmd_bench(argc, argv);
		else if (str_eq(argv[0], "stats"))
			cmd_stats(argc, argv);
		else if (str_eq(argv[0], "exit"))
			break;
		else
			kprintf("unknown command \"%s\" (`help` lists them)\n", argv[0]);
	}
	kprintf("shell: shutting the controllers down\n");
	selftest_shutdown();
	return selftest_done();
}
