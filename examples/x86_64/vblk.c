/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk disks: found on PCI (virtio-pci, modern interface) and in QEMU
 * microvm's virtio-mmio slots, brought up with the library
 * (ustor_virtio_blk_init_pci / _init_mmio), shut down at the end. Each
 * disk is one block device, named by the library ("vblk<index>"), that
 * selftest.c checks like an NVMe namespace.
 *
 * PCI (VIRTIO 1.2, 4.1): vendor 1AF4h, device 1042h (modern) or 1001h
 * (transitional; subsystem device ID 2). The virtio structures (common,
 * notify, ISR, device configuration) live in memory BARs that vendor
 * capabilities point to; QEMU puts them in a 64-bit BAR4, the MSI-X table
 * in BAR1, and gives a transitional device an I/O BAR0 for the legacy
 * interface, which uStor does not use. The kernel maps every memory BAR
 * uncached and hands the library their addresses; it picks what it needs.
 *
 * virtio-mmio (4.2): QEMU microvm has 24 transports (8 with acpi=off) at
 * 0xfeb00000 + n * 0x200, each 512 bytes: MagicValue "virt", Version (1:
 * legacy, QEMU's default; 2 with -global virtio-mmio.force-legacy=false),
 * DeviceID (0: nothing plugged in). QEMU fills them from the top, so the
 * first -device on its command line sits in the highest slot: the scan goes
 * downwards, and that device becomes vblk<first MMIO index>. The slots are
 * only read on a machine that has them (vmmio=auto): when the ACPI DSDT
 * names virtio-mmio devices (_HID LNRO0005), when QEMU put
 * virtio_mmio.device= on the command line (microvm with acpi=off), or when
 * there is no PCI at all; vmmio=1 / vmmio=0 force the scan on or off.
 * Elsewhere (q35, pc) that address range belongs to PCI, and reading
 * registers there could disturb a device.
 *
 * Interrupts (irq=1, virtio-pci only): before bring-up the function's
 * MSI-X table is programmed with the kernel's helpers (pci.c) - entry 0
 * for configuration changes, entry 1 + q for request queue q, each on IDT
 * vector VBLK_VEC_BASE + 8 * disk + entry - and the library is told to
 * ask for those vectors (cfg.msix) and to want interrupts (use_irq). It
 * reads each vector back from the device (ustor_virtio_blk_queue_vector:
 * NO_VECTOR means refused). The handler only counts: the library polls
 * when the HAL's yield returns, and polling alone works when no interrupt
 * ever arrives. The `irq` check at shutdown says how many arrived.
 * queues=N asks for N request queues (VIRTIO_BLK_F_MQ, capped by the
 * device's num_queues and the MSI-X table); the self-test rotates its
 * requests over them.
 */
#include "nvme_ctrls.h"

/* IDT vectors of virtio-blk MSI-X entries: 8 per disk, above NVMe's. */
#define VBLK_VEC_BASE 0xa0u
#define VBLK_VEC_PER_DISK 8u

/* Interrupt state of each disk (kept here, beside struct vblk_slot). */
static struct vblk_irq {
	struct pci_msix msix;
	int on;                        /* MSI-X programmed and enabled */
	unsigned vec_base;             /* IDT vector of entry 0 */
	uint32_t count[VBLK_VEC_PER_DISK];
	char why[112];                 /* why not, when !on */
} virqs[MAX_VBLKS];

struct vblk_slot vblks[MAX_VBLKS];
unsigned n_vblks;

struct vblk_slot *vblk_of(const struct ustor_block_device *d)
{
	for (unsigned i = 0; i < n_vblks && d != NULL; i++)
		if (d == &vblks[i].vb.bdev)
			return &vblks[i];
	return NULL;
}

static const char *transport_name(const struct vblk_slot *vs)
{
	if (vs->on_pci)
		return "virtio-pci (modern interface)";
	return vs->mmio_version == 1 ? "virtio-mmio version 1 (legacy)" : "virtio-mmio version 2";
}

/* vnarrow=0: no 8/16-bit MMIO in this device's HAL, so uStor takes the
 * aligned dword around each narrow virtio-pci register. */
static void vblk_narrow(struct ustor_hal *hal)
{
	if (!kopt.vnarrow_off)
		return;
	hal->mmio_read8 = NULL;
	hal->mmio_read16 = NULL;
	hal->mmio_write8 = NULL;
	hal->mmio_write16 = NULL;
}

static void vblk_config(struct ustor_virtio_blk_config *cfg, unsigned index)
{
	ustor_virtio_blk_config_default(cfg);
	cfg->index = (uint8_t)index;             /* names "vblk<index>" */
	if (kopt.depth != 0)                     /* a power of two >= 4 is used */
		cfg->queue_size = kopt.depth < 4 ? 4u : kopt.depth;
	if (kopt.io_timeout_ms != 0)
		cfg->io_timeout_ms = kopt.io_timeout_ms;
	if (kopt.queues != 0)                    /* VIRTIO_BLK_F_MQ when > 1 */
		cfg->num_queues = (uint16_t)(kopt.queues > 0xffffu ? 0xffffu : kopt.queues);
	cfg->use_irq = USTOR_VIRTIO_BLK_IRQ_OFF; /* polled; interrupts suppressed in the ring */
}

/* MSI-X interrupt handler: count only (see the header comment). */
static void vblk_msix_handler(void *arg, unsigned vector)
{
	struct vblk_irq *vi = arg;

	vi->count[(vector - vi->vec_base) % VBLK_VEC_PER_DISK]++;
}

/* irq=1 on virtio-pci: program the MSI-X table before bring-up, so no
 * completion's interrupt is lost, then let the library ask the device for
 * these entries. Anything missing leaves the disk polled (the irq check
 * says why). */
static void vblk_irq_setup(struct vblk_slot *vs, struct ustor_virtio_blk_config *cfg)
{
	unsigned index = (unsigned)(vs - vblks);
	struct vblk_irq *vi = &virqs[index];
	const char *err;
	uint16_t entries;
	uint64_t addr;

	memset(vi, 0, sizeof(*vi));
	if (!apic_active()) {
		ksnprintf(vi->why, sizeof(vi->why), "no local APIC; completions are polled");
		return;
	}
	err = pci_msix_init(vs->pci.bdf, &vi->msix);
	if (err != NULL) {
		ksnprintf(vi->why, sizeof(vi->why), "%s; completions are polled", err);
		return;
	}
	entries = vi->msix.entries < VBLK_VEC_PER_DISK ? vi->msix.entries :
							 (uint16_t)VBLK_VEC_PER_DISK;
	if (entries < 2) {
		ksnprintf(vi->why, sizeof(vi->why), "the MSI-X table has %u entry; completions "
			  "are polled", vi->msix.entries);
		return;
	}
	if (cfg->num_queues > entries - 1u)
		cfg->num_queues = (uint16_t)(entries - 1u); /* one entry per queue */
	/* Local APIC of this CPU, physical destination; fixed delivery, edge
	 * (as for NVMe in selftest.c). */
	addr = 0xfee00000ull | ((uint64_t)apic_id() << 12);
	vi->vec_base = VBLK_VEC_BASE + VBLK_VEC_PER_DISK * index;
	for (uint16_t e = 0; e < entries; e++) {
		irq_register(vi->vec_base + e, vblk_msix_handler, vi); /* handler first */
		pci_msix_set(&vi->msix, e, addr, vi->vec_base + e, 1);
	}
	pci_msix_enable(&vi->msix, 1);
	vi->on = 1;
	cfg->msix = 1;          /* configuration: entry 0; queue q: entry 1 + q */
	cfg->msix_base = 0;
	cfg->use_irq = USTOR_VIRTIO_BLK_IRQ_ON;
	kprintf("selftest: %s: MSI-X table %u entries at BAR%u+0x%x; entries 0-%u -> vectors "
		"0x%02x-0x%02x on APIC %u\n", vs->name, vi->msix.entries, vi->msix.bir,
		vi->msix.table_offset, entries - 1u, vi->vec_base, vi->vec_base + entries - 1u,
		apic_id());
}

/* irq: did queue interrupts arrive during the checks? */
static void vblk_check_irq(struct vblk_slot *vs)
{
	struct vblk_irq *vi = &virqs[vs - vblks];
	char per[200] = "";
	size_t len = 0;
	uint64_t io = 0;

	if (!kopt.irq) {
		report(vs->name, "irq", SKIP, "polling mode (irq=1 uses MSI-X interrupts)");
		return;
	}
	if (!vs->on_pci) {
		report(vs->name, "irq", SKIP, "virtio-mmio: one interrupt line, not wired up by this "
		       "kernel; completions are polled");
		return;
	}
	if (!vi->on) {
		report(vs->name, "irq", SKIP, "%s", vi->why[0] ? vi->why : "not set up");
		return;
	}
	for (uint16_t q = 0; q < vs->vb.nq; q++) {
		uint16_t e = ustor_virtio_blk_queue_vector(&vs->vb, q);

		if (e == USTOR_VIRTIO_MSI_NO_VECTOR || e >= VBLK_VEC_PER_DISK) {
			if (len < sizeof(per))
				len += (size_t)ksnprintf(per + len, sizeof(per) - len, "%squeue %u: "
							 "vector refused", q ? ", " : "", q);
			continue;
		}
		io += vi->count[e];
		if (len < sizeof(per))
			len += (size_t)ksnprintf(per + len, sizeof(per) - len, "%squeue %u entry %u "
						 "vector 0x%02x: %u", q ? ", " : "", q, e,
						 vi->vec_base + e, vi->count[e]);
	}
	if (io == 0)
		report(vs->name, "irq", FAIL, "no MSI-X interrupt arrived from the request queues "
		       "(%s); completions were polled", per);
	else
		report(vs->name, "irq", PASS, "%llu MSI-X interrupts from the request queues during "
		       "the checks (%s); configuration entry 0: %u", (unsigned long long)io, per,
		       vi->count[0]);
}

/* Bytes the library holds after a failed init (it frees everything unless
 * the device would not reset). */
static const char *leak_text(const struct vblk_slot *vs)
{
	static char leak[96];

	leak[0] = '\0';
	if (vs->port.dma_allocs != 0)
		ksnprintf(leak, sizeof(leak), "; uStor still holds %u DMA allocations",
			  vs->port.dma_allocs);
	return leak;
}

static void init_passed(struct vblk_slot *vs, const char *where)
{
	struct ustor_block_device *d = ustor_virtio_blk_bdev(&vs->vb);
	const struct ustor_virtio_blk_info *in = &vs->vb.info;
	char sz[32], mt[32];

	vs->up = 1;
	report(vs->name, "init", PASS,
	       "virtio-blk over %s, serial \"%s\", %llu blocks x %u B (%s), features 0x%llx accepted "
	       "of 0x%llx offered, queue %u of %u entries, max transfer %s, %u queue(s) (device "
	       "has %u), %s ring, event-idx %s, indirect %s, completions %s, %s",
	       transport_name(vs), d->serial, (unsigned long long)d->nblocks, d->block_size,
	       fmt_size(sz, sizeof(sz), d->nblocks << d->block_shift),
	       (unsigned long long)in->features, (unsigned long long)in->device_features,
	       in->queue_size, in->queue_max,
	       fmt_size(mt, sizeof(mt), (uint64_t)d->max_blocks << d->block_shift),
	       (unsigned)in->queues, (unsigned)in->num_queues, in->packed ? "packed" : "split",
	       in->event_idx ? "on" : "off", in->indirect ? "on" : "off",
	       vs->vb.cfg.use_irq ? "MSI-X interrupts + polling" : "polled", where);
}

static void vblk_bring_up_pci(struct vblk_slot *vs)
{
	const struct pci_vblk *p = &vs->pci;
	volatile void *bars[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
	struct ustor_virtio_blk_config cfg;
	char list[256] = "", notes[192] = "", where[64], sz[32];
	size_t ll = 0, nl = 0;
	ustor_status st;

	for (unsigned i = 0; i < 6; i++) {
		const struct pci_bar *b = &p->bar[i];

		if (b->io) {
			if (b->addr != 0 && ll < sizeof(list))
				ll += (size_t)ksnprintf(list + ll, sizeof(list) - ll, "%sBAR%u I/O 0x%llx "
							"(legacy interface, unused)", ll ? ", " : "", i,
							(unsigned long long)b->addr);
			continue;
		}
		if (b->size == 0)
			continue;          /* not implemented (or the upper half of a 64-bit BAR) */
		if (b->addr == 0) {
			if (nl < sizeof(notes))
				nl += (size_t)ksnprintf(notes + nl, sizeof(notes) - nl, "; BAR%u is not "
							"assigned (this kernel does not assign BARs)", i);
			continue;
		}
		/* Uncached; above 4 GiB (OVMF) mapped on demand, still 1:1. */
		if (mm_map_uncached(b->addr, b->size) != 0) {
			if (nl < sizeof(notes))
				nl += (size_t)ksnprintf(notes + nl, sizeof(notes) - nl, "; BAR%u at "
							"0x%llx cannot be mapped", i,
							(unsigned long long)b->addr);
			continue;
		}
		bars[i] = (volatile void *)(uintptr_t)b->addr;
		if (ll < sizeof(list))
			ll += (size_t)ksnprintf(list + ll, sizeof(list) - ll, "%sBAR%u 0x%llx (%s, %s%s)",
						ll ? ", " : "", i, (unsigned long long)b->addr,
						fmt_size(sz, sizeof(sz), b->size),
						b->is64 ? "64-bit" : "32-bit",
						b->prefetch ? ", prefetchable" : "");
	}
	kprintf("pci: %02x:%02x.%x [%04x:%04x] virtio-blk (%s), %s -> %s\n", PCI_BUS(p->bdf),
		PCI_DEV(p->bdf), PCI_FN(p->bdf), p->vendor, p->device,
		p->device == 0x1001u ? "transitional" : "modern", ll ? list : "no memory BAR",
		vs->name);
	ksnprintf(where, sizeof(where), "pci %02x:%02x.%x [%04x:%04x]", PCI_BUS(p->bdf),
		  PCI_DEV(p->bdf), PCI_FN(p->bdf), p->vendor, p->device);

	vblk_config(&cfg, (unsigned)(vs - vblks));
	if (kopt.irq)
		vblk_irq_setup(vs, &cfg);
	port_hal_init(&vs->hal, &vs->port, kopt.log_level, virqs[vs - vblks].on);
	vs->port.index = (unsigned)(vs - vblks);
	vblk_narrow(&vs->hal);
	st = ustor_virtio_blk_init_pci(&vs->vb, &vs->hal, p->bdf, bars, &cfg);
	if (st != USTOR_OK) {
		const char *hint = "";

		if (st == USTOR_ERR_UNSUPPORTED && p->device == 0x1001u)
			hint = "; a transitional device without the modern interface (QEMU "
			       "disable-modern=on?): uStor drives virtio-pci 1.0+ only";
		report(vs->name, "init", FAIL, "ustor_virtio_blk_init_pci at %s: %s%s%s%s", where,
		       describe(st, NULL), notes, hint, leak_text(vs));
		return;
	}
	init_passed(vs, where);
}

static void vblk_bring_up_mmio(struct vblk_slot *vs)
{
	struct ustor_virtio_blk_config cfg;
	char where[64];
	ustor_status st;

	kprintf("virtio-mmio: slot %u at 0x%llx: version %u, device type 2 (block) -> %s\n",
		vs->mmio_slot, (unsigned long long)vs->mmio_base, vs->mmio_version, vs->name);
	ksnprintf(where, sizeof(where), "mmio slot %u at 0x%llx", vs->mmio_slot,
		  (unsigned long long)vs->mmio_base);
	vblk_config(&cfg, (unsigned)(vs - vblks));
	port_hal_init(&vs->hal, &vs->port, kopt.log_level, 0);
	vs->port.index = (unsigned)(vs - vblks);
	st = ustor_virtio_blk_init_mmio(&vs->vb, &vs->hal,
					(volatile void *)(uintptr_t)vs->mmio_base, &cfg);
	if (st != USTOR_OK) {
		report(vs->name, "init", FAIL, "ustor_virtio_blk_init_mmio at %s: %s%s", where,
		       describe(st, NULL), leak_text(vs));
		return;
	}
	init_passed(vs, where);
}

/* Why the virtio-mmio slots are scanned, or NULL when they are not. */
static const char *vmmio_reason(void)
{
	if (kopt.vmmio < 0)
		return NULL;
	if (kopt.vmmio > 0)
		return "vmmio=1";
	if (kopt.cmdline_vmmio)
		return "virtio_mmio.device= on the command line: QEMU microvm, acpi=off";
	if (acpi_dsdt_contains("LNRO0005"))
		return "the ACPI DSDT lists virtio-mmio transports (LNRO0005)";
	if (!pci_present())
		return "no PCI on this machine";
	return NULL;
}

static void vblk_find_mmio(void)
{
	const char *why = vmmio_reason();
	struct ustor_hal hal;
	struct port_ctx ctx;
	unsigned transports = 0, found = 0;

	if (why == NULL)
		return;
	if (mm_map_uncached(VIRTIO_MMIO_BASE, (uint64_t)VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_STRIDE) != 0) {
		kprintf("virtio-mmio: cannot map 0x%llx\n", (unsigned long long)VIRTIO_MMIO_BASE);
		return;
	}
	memset(&ctx, 0, sizeof(ctx));
	port_hal_init(&hal, &ctx, kopt.log_level, 0); /* the probe only reads registers */
	for (unsigned n = VIRTIO_MMIO_SLOTS; n-- > 0;) {
		uint64_t base = VIRTIO_MMIO_BASE + (uint64_t)n * VIRTIO_MMIO_STRIDE;
		uint32_t type = 0, version = 0;
		ustor_status st = ustor_virtio_mmio_probe(&hal, (volatile void *)(uintptr_t)base,
							  &type, &version);

		if (st != USTOR_OK) {
			if (version != 0) /* MagicValue right, Version not 1 or 2 */
				kprintf("virtio-mmio: slot %u at 0x%llx: version %u, not 1 or 2: left "
					"alone\n", n, (unsigned long long)base, version);
			continue;
		}
		transports++;
		if (type == 0)
			continue; /* an empty transport */
		if (type != USTOR_VIRTIO_ID_BLOCK) {
			kprintf("virtio-mmio: slot %u at 0x%llx: version %u, device type %u (not a "
				"block device): left alone\n", n, (unsigned long long)base, version,
				type);
			continue;
		}
		found++;
		if (n_vblks >= MAX_VBLKS) {
			kprintf("virtio-mmio: slot %u: more than %u virtio-blk devices, not used\n", n,
				MAX_VBLKS);
			continue;
		}
		struct vblk_slot *vs = &vblks[n_vblks++];
		memset(vs, 0, sizeof(*vs));
		vs->mmio_base = base;
		vs->mmio_slot = n;
		vs->mmio_version = version;
	}
	kprintf("virtio-mmio: %u slots at 0x%llx scanned (%s): %u transport(s), %u block "
		"device(s)\n", VIRTIO_MMIO_SLOTS, (unsigned long long)VIRTIO_MMIO_BASE, why,
		transports, found);
}

void vblk_bring_up_all(void)
{
	struct pci_vblk found[MAX_VBLKS];
	unsigned npci = pci_find_virtio_blk(found, MAX_VBLKS);

	n_vblks = 0;
	for (unsigned i = 0; i < npci; i++) {
		memset(&vblks[i], 0, sizeof(vblks[i]));
		vblks[i].on_pci = 1;
		vblks[i].pci = found[i];
	}
	n_vblks = npci;
	vblk_find_mmio();
	kprintf("selftest: %u virtio-blk device(s): %u on PCI, %u on virtio-mmio\n", n_vblks, npci,
		n_vblks - npci);
	for (unsigned i = 0; i < n_vblks; i++) {
		struct vblk_slot *vs = &vblks[i];

		/* The library's name for cfg.index = i, known before init. */
		ksnprintf(vs->name, sizeof(vs->name), "vblk%u", i);
		if (vs->on_pci)
			vblk_bring_up_pci(vs);
		else
			vblk_bring_up_mmio(vs);
		if (vs->up && kstrlen(vs->vb.bdev.name) < sizeof(vs->name))
			memcpy(vs->name, vs->vb.bdev.name, kstrlen(vs->vb.bdev.name) + 1);
	}
}

void vblk_shutdown_all(void)
{
	for (unsigned i = 0; i < n_vblks; i++) {
		struct vblk_slot *vs = &vblks[i];
		ustor_status st;

		if (!vs->up)
			continue;
		vblk_check_irq(vs);
		vs->up = 0;
		/* Reset (the device stops touching memory), end anything still
		 * outstanding, free every DMA allocation. */
		st = ustor_virtio_blk_shutdown(&vs->vb);
		if (st != USTOR_OK) {
			report(vs->name, "shutdown", FAIL, "ustor_virtio_blk_shutdown: %s",
			       describe(st, NULL));
			continue;
		}
		if (vs->port.dma_allocs != 0 || vs->port.bad_frees != 0) {
			report(vs->name, "shutdown", FAIL, "device reset, but uStor still holds %u DMA "
			       "allocations (%llu bytes) and made %u bad frees", vs->port.dma_allocs,
			       (unsigned long long)vs->port.dma_bytes, vs->port.bad_frees);
			continue;
		}
		report(vs->name, "shutdown", PASS, "device reset; all %u DMA allocations returned",
		       vs->port.dma_total);
	}
	for (unsigned i = 0; i < n_vblks; i++)
		if (virqs[i].on) {
			pci_msix_enable(&virqs[i].msix, 0);
			virqs[i].on = 0;
		}
}
