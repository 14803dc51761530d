/* SPDX-License-Identifier: MIT */
/*
 * PCI configuration space and NVMe discovery.
 *
 * Access method: PCI Express ECAM when the ACPI MCFG table names a window
 * (QEMU q35: 0xb0000000), else the legacy configuration mechanism #1 through
 * ports 0xCF8/0xCFC (QEMU pc has no MCFG; it reaches only the first 256
 * bytes of each function, which is all this kernel needs).
 *
 * ACPI (spec 6.5, 5.2.5 - 5.2.8): a multiboot2 loader hands over a copy of
 * the RSDP (tags 14/15); otherwise, on BIOS machines, it sits on a 16-byte
 * boundary in the first KiB of the EBDA or in 0xE0000-0xFFFFF (under UEFI
 * that scan finds nothing: the firmware publishes it only in its
 * configuration table, which GRUB copies into the tag). Revision 2+ adds
 * the 64-bit XSDT address. Every table starts with a 36-byte header (signature, length,
 * ..., checksum: all bytes sum to 0). MCFG entries (PCI Firmware spec 3.3,
 * 4.1.2) start at offset 44: base (8), segment (2), start bus, end bus, 4
 * reserved.
 */
#include "kernel.h"

static uint64_t ecam_base; /* 0: no ECAM, use ports */
static const char *rsdp_source = "not found";
static uint8_t ecam_bus_start, ecam_bus_end;

static uint32_t rd32u(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4); /* ACPI tables are byte-packed */
	return v;
}

static uint64_t rd64u(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static int acpi_checksum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t sum = 0;

	for (uint32_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum == 0;
}

static const uint8_t *acpi_find_rsdp_in(uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a + 20 <= end; a += 16) {
		const uint8_t *p = (const uint8_t *)a;

		if (memcmp(p, "RSD PTR ", 8) == 0 && acpi_checksum_ok(p, 20))
			return p;
	}
	return NULL;
}

/* A pointer to a fixed low physical address. The empty asm hides the
 * constant from GCC, which otherwise treats addresses below 4 KiB as offsets
 * from a null pointer (-Warray-bounds). */
static const volatile void *low_phys(uintptr_t addr)
{
	__asm__("" : "+r"(addr));
	return (const volatile void *)addr;
}

static const uint8_t *acpi_find_rsdp(void)
{
	uintptr_t ebda;
	const uint8_t *rsdp = NULL;

	/* The loader's copy first (multiboot2 tag 14 or 15). */
	if (boot_info.rsdp_len >= 20 && memcmp(boot_info.rsdp, "RSD PTR ", 8) == 0 &&
	    acpi_checksum_ok(boot_info.rsdp, 20)) {
		rsdp_source = boot_info.rsdp_tag == 15 ? "from multiboot2 tag 15 (ACPI 2.0+)"
						       : "from multiboot2 tag 14 (ACPI 1.0)";
		return boot_info.rsdp;
	}
	/* The EBDA segment is at 0x40E in the BIOS data area. */
	ebda = (uintptr_t)(*(const volatile uint16_t *)low_phys(0x40e)) << 4;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		rsdp = acpi_find_rsdp_in(ebda, ebda + 1024);
	if (rsdp == NULL)
		rsdp = acpi_find_rsdp_in(0xe0000, 0x100000);
	if (rsdp != NULL)
		rsdp_source = "found in the BIOS area";
	return rsdp;
}

/* A table header at a physical address, if it is mapped and sane. */
static const uint8_t *acpi_table(uint64_t addr)
{
	if (addr == 0 || addr + 36 > KERNEL_IDENTITY_MAP_END)
		return NULL;
	const uint8_t *t = (const uint8_t *)(uintptr_t)addr;
	uint32_t len = rd32u(t + 4);
	if (len < 36 || addr + len > KERNEL_IDENTITY_MAP_END || !acpi_checksum_ok(t, len))
		return NULL;
	return t;
}

static const uint8_t *acpi_find_table(const char sig[4])
{
	const uint8_t *rsdp = acpi_find_rsdp();
	const uint8_t *root;
	uint32_t entry_size;

	if (rsdp == NULL)
		return NULL;
	/* Revision 2+: prefer the XSDT (64-bit entries), checksum over 36 bytes
	 * (a 20-byte copy from multiboot2 tag 14 has no XSDT field). */
	if (rsdp[15] >= 2 && (rsdp != boot_info.rsdp || boot_info.rsdp_len >= 36) &&
	    acpi_checksum_ok(rsdp, 36) && rd64u(rsdp + 24) != 0) {
		root = acpi_table(rd64u(rsdp + 24));
		entry_size = 8;
	} else {
		root = acpi_table(rd32u(rsdp + 16));
		entry_size = 4;
	}
	if (root == NULL)
		return NULL;
	uint32_t len = rd32u(root + 4);
	for (uint32_t off = 36; off + entry_size <= len; off += entry_size) {
		uint64_t a = entry_size == 8 ? rd64u(root + off) : rd32u(root + off);
		const uint8_t *t = acpi_table(a);

		if (t != NULL && memcmp(t, sig, 4) == 0)
			return t;
	}
	return NULL;
}

/* Does the DSDT (from the FADT, "FACP": DSDT at offset 40, X_DSDT at 140
 * since ACPI 2.0) contain these bytes? A plain byte search, no AML
 * parsing: enough to learn that the firmware describes a kind of device
 * (e.g. "LNRO0005", the _HID of virtio-mmio transports on QEMU microvm). */
const uint8_t *acpi_table_find(const char sig[4])
{
	return acpi_find_table(sig);
}

int acpi_dsdt_contains(const char *needle)
{
	const uint8_t *fadt = acpi_find_table("FACP");
	const uint8_t *dsdt = NULL;
	size_t n = kstrlen(needle);

	if (fadt == NULL || n == 0)
		return 0;
	uint32_t flen = rd32u(fadt + 4);
	if (flen >= 148 && rd64u(fadt + 140) != 0)
		dsdt = acpi_table(rd64u(fadt + 140));
	if (dsdt == NULL && flen >= 44)
		dsdt = acpi_table(rd32u(fadt + 40));
	if (dsdt == NULL)
		return 0;
	uint32_t len = rd32u(dsdt + 4);
	for (uint32_t off = 36; off + n <= len; off++)
		if (memcmp(dsdt + off, needle, n) == 0)
			return 1;
	return 0;
}

void pci_init(void)
{
	const uint8_t *mcfg = acpi_find_table("MCFG");

	kprintf("acpi: RSDP %s\n", rsdp_source);
	ecam_base = 0;
	if (mcfg == NULL)
		return;
	uint32_t len = rd32u(mcfg + 4);
	for (uint32_t off = 44; off + 16 <= len; off += 16) {
		uint64_t base = rd64u(mcfg + off);
		uint16_t segment = (uint16_t)(mcfg[off + 8] | (mcfg[off + 9] << 8));
		uint8_t bus0 = mcfg[off + 10];
		uint8_t bus1 = mcfg[off + 11];
		uint64_t size = ((uint64_t)bus1 - bus0 + 1u) << 20;

		if (segment != 0 || bus1 < bus0)
			continue; /* this kernel handles segment group 0 only */
		if (mm_map_uncached(base, size) != 0) {
			kprintf("pci: ECAM at 0x%llx cannot be mapped; using ports\n",
				(unsigned long long)base);
			return;
		}
		ecam_base = base;
		ecam_bus_start = bus0;
		ecam_bus_end = bus1;
		return;
	}
}

const char *pci_method(void)
{
	static char desc[96];

	if (ecam_base == 0)
		return "legacy ports 0xCF8/0xCFC (no ACPI MCFG table)";
	ksnprintf(desc, sizeof(desc), "ECAM at 0x%llx, buses %u-%u (ACPI MCFG)",
		  (unsigned long long)ecam_base, ecam_bus_start, ecam_bus_end);
	return desc;
}

static volatile uint32_t *ecam_addr(uint32_t bdf, uint16_t offset)
{
	uint32_t bus = PCI_BUS(bdf);

	if (ecam_base == 0 || bus < ecam_bus_start || bus > ecam_bus_end)
		return NULL;
	return (volatile uint32_t *)(uintptr_t)(ecam_base + ((uint64_t)(bus - ecam_bus_start) << 20) +
						 ((uint64_t)(bdf & 0xffu) << 12) + (offset & 0xffcu));
}

static uint32_t legacy_address(uint32_t bdf, uint16_t offset)
{
	/* Enable bit, bus, device, function, register (dword aligned). */
	return 0x80000000u | (bdf << 8) | (offset & 0xfcu);
}

uint32_t pci_cfg_read32(uint32_t bdf, uint16_t offset)
{
	volatile uint32_t *p = ecam_addr(bdf, offset);

	if (p != NULL)
		return *p;
	if (offset >= 256)
		return 0xffffffffu; /* not reachable through the ports */
	outl(0xcf8, legacy_address(bdf, offset));
	return inl(0xcfc);
}

void pci_cfg_write32(uint32_t bdf, uint16_t offset, uint32_t val)
{
	volatile uint32_t *p = ecam_addr(bdf, offset);

	if (p != NULL) {
		*p = val;
		return;
	}
	if (offset >= 256)
		return;
	outl(0xcf8, legacy_address(bdf, offset));
	outl(0xcfc, val);
}

/* Memory BAR `index`: address, width and size. Sizing writes all ones to
 * the BAR with memory decoding off (PCI Local Bus 3.0, 6.2.5.1), then
 * restores both. An I/O BAR is only flagged (this kernel drives no device
 * through port I/O). Returns the BAR slots it spans: 2 for a 64-bit BAR,
 * else 1. */
unsigned pci_bar_decode(uint32_t bdf, unsigned index, struct pci_bar *b)
{
	uint16_t reg = (uint16_t)(0x10 + 4 * index);
	uint32_t lo, hi = 0;

	memset(b, 0, sizeof(*b));
	if (index > 5)
		return 1;
	lo = pci_cfg_read32(bdf, reg);
	if (lo & 1u) {
		b->io = 1;
		b->addr = lo & ~0x3u;
		return 1;
	}
	b->is64 = ((lo >> 1) & 3u) == 2u && index < 5;
	b->prefetch = (lo >> 3) & 1u;
	if (b->is64)
		hi = pci_cfg_read32(bdf, (uint16_t)(reg + 4));
	b->addr = ((uint64_t)hi << 32) | (lo & ~0xfu);

	uint32_t cmd = pci_cfg_read32(bdf, 0x04) & 0xffffu;
	pci_cfg_write32(bdf, 0x04, cmd & ~0x2u); /* memory decoding off while sizing */
	pci_cfg_write32(bdf, reg, 0xffffffffu);
	uint64_t mask = pci_cfg_read32(bdf, reg) & ~0xfu;
	pci_cfg_write32(bdf, reg, lo);
	if (b->is64) {
		pci_cfg_write32(bdf, (uint16_t)(reg + 4), 0xffffffffu);
		mask |= (uint64_t)pci_cfg_read32(bdf, (uint16_t)(reg + 4)) << 32;
		pci_cfg_write32(bdf, (uint16_t)(reg + 4), hi);
	} else {
		mask |= 0xffffffff00000000ull;
	}
	pci_cfg_write32(bdf, 0x04, cmd); /* status half written as 0: RW1C bits untouched */
	/* An unimplemented BAR reads back 0 after the ones were written. */
	if (b->is64)
		b->size = mask != 0 ? ~mask + 1u : 0;
	else
		b->size = (mask & 0xffffffffu) != 0 ? ~mask + 1u : 0;
	return b->is64 ? 2u : 1u;
}

static void pci_decode_bar0(struct pci_nvme *n)
{
	struct pci_bar b;

	pci_bar_decode(n->bdf, 0, &b);
	if (b.io) {
		n->bar0_io = 1;
		return;
	}
	n->bar0_64bit = b.is64;
	n->bar0 = b.addr;
	n->bar0_size = b.size;
}

/* Every function on every bus, in bus order: fn(bdf, vendor/device dword). */
static void pci_each_function(void (*fn)(uint32_t bdf, uint32_t id, void *arg), void *arg)
{
	for (uint32_t bus = 0; bus < 256; bus++) {
		for (uint32_t dev = 0; dev < 32; dev++) {
			uint32_t nfn = 1;

			for (uint32_t f = 0; f < nfn; f++) {
				uint32_t bdf = PCI_BDF(bus, dev, f);
				uint32_t id = pci_cfg_read32(bdf, 0x00);

				if ((id & 0xffffu) == 0xffffu || (id & 0xffffu) == 0)
					continue; /* no function (0: nothing decodes config space) */
				/* Header type bit 7: a multi-function device. */
				if (f == 0 && (pci_cfg_read32(bdf, 0x0c) & 0x00800000u))
					nfn = 8;
				fn(bdf, id, arg);
			}
		}
	}
}

struct nvme_scan {
	struct pci_nvme *out;
	unsigned max, found;
};

static void nvme_match(uint32_t bdf, uint32_t id, void *arg)
{
	struct nvme_scan *s = arg;
	uint32_t class = pci_cfg_read32(bdf, 0x08) >> 8;

	if (class != 0x010802u || s->found >= s->max)
		return;
	struct pci_nvme *n = &s->out[s->found++];
	memset(n, 0, sizeof(*n));
	n->bdf = bdf;
	n->vendor = (uint16_t)id;
	n->device = (uint16_t)(id >> 16);
	pci_decode_bar0(n);
}

unsigned pci_find_nvme(struct pci_nvme *out, unsigned max)
{
	struct nvme_scan s = { out, max, 0 };

	pci_each_function(nvme_match, &s);
	return s.found;
}

/* virtio-blk (VIRTIO 1.2, 4.1.2): vendor 1AF4h, device 1042h (modern:
 * 1040h + type 2), or the transitional 1001h whose subsystem device ID
 * (config offset 2Eh) is the virtio type, 2. */
struct vblk_scan {
	struct pci_vblk *out;
	unsigned max, found;
};

static void vblk_match(uint32_t bdf, uint32_t id, void *arg)
{
	struct vblk_scan *s = arg;
	uint16_t vendor = (uint16_t)id, device = (uint16_t)(id >> 16);
	uint16_t subsys = (uint16_t)(pci_cfg_read32(bdf, 0x2c) >> 16);

	if (vendor != 0x1af4u || s->found >= s->max)
		return;
	if (device != 0x1042u && !(device == 0x1001u && subsys == 2u))
		return;
	struct pci_vblk *v = &s->out[s->found++];
	memset(v, 0, sizeof(*v));
	v->bdf = bdf;
	v->vendor = vendor;
	v->device = device;
	v->subsys = subsys;
	for (unsigned i = 0; i < 6;)
		i += pci_bar_decode(bdf, i, &v->bar[i]);
}

unsigned pci_find_virtio_blk(struct pci_vblk *out, unsigned max)
{
	struct vblk_scan s = { out, max, 0 };

	pci_each_function(vblk_match, &s);
	return s.found;
}

int pci_present(void)
{
	uint32_t id = pci_cfg_read32(PCI_BDF(0, 0, 0), 0x00);

	return (id & 0xffffu) != 0xffffu && (id & 0xffffu) != 0;
}

/* ---- Capabilities and MSI-X ---------------------------------------------------
 * Capability list (PCI Local Bus 3.0, 6.7): Status bit 4 says there is one;
 * its head is at 0x34; each entry is id (byte 0), next (byte 1).
 * MSI-X capability (6.8.2, id 0x11): message control at +2 (bits 10:0 table
 * size - 1, bit 14 Function Mask, bit 15 MSI-X Enable), table offset | BIR
 * at +4 (BIR = bits 2:0: which BAR; the rest: offset into it). Each table
 * entry is 16 bytes: message address low, high, data, vector control (bit 0
 * masked). */
#define MSIX_CTRL_ENABLE (1u << 31)   /* bit 15 of message control, in the dword at +0 */
#define MSIX_CTRL_FN_MASK (1u << 30)  /* bit 14 */
#define MSIX_ENTRY_MASKED 1u

uint16_t pci_find_cap(uint32_t bdf, uint8_t id)
{
	if (!(pci_cfg_read32(bdf, 0x04) & (1u << 20))) /* Status: capabilities list */
		return 0;
	uint16_t off = (uint16_t)(pci_cfg_read32(bdf, 0x34) & 0xfcu);
	for (unsigned n = 0; off >= 0x40 && n < 48; n++) { /* bounded: a looped list ends */
		uint32_t v = pci_cfg_read32(bdf, off);

		if ((v & 0xffu) == id)
			return off;
		off = (uint16_t)((v >> 8) & 0xfcu);
	}
	return 0;
}

uint64_t pci_bar_address(uint32_t bdf, unsigned index)
{
	uint32_t lo;

	if (index > 5)
		return 0;
	lo = pci_cfg_read32(bdf, (uint16_t)(0x10 + 4 * index));
	if (lo & 1u)
		return 0; /* an I/O BAR */
	if (((lo >> 1) & 3u) == 2u && index < 5)
		return ((uint64_t)pci_cfg_read32(bdf, (uint16_t)(0x14 + 4 * index)) << 32) |
		       (lo & ~0xfu);
	return lo & ~0xfu;
}

const char *pci_msix_init(uint32_t bdf, struct pci_msix *m)
{
	static char why[96];
	uint32_t ctrl, tbl;
	uint64_t bar;

	memset(m, 0, sizeof(*m));
	m->bdf = bdf;
	m->cap = pci_find_cap(bdf, 0x11);
	if (m->cap == 0)
		return "no MSI-X capability";
	ctrl = pci_cfg_read32(bdf, m->cap);
	tbl = pci_cfg_read32(bdf, (uint16_t)(m->cap + 4));
	m->entries = (uint16_t)(((ctrl >> 16) & 0x7ffu) + 1u);
	m->bir = (uint8_t)(tbl & 7u);
	m->table_offset = tbl & ~7u;
	bar = pci_bar_address(bdf, m->bir);
	if (bar == 0) {
		ksnprintf(why, sizeof(why), "MSI-X table BAR%u is not an assigned memory BAR", m->bir);
		return why;
	}
	m->table_phys = bar + m->table_offset;
	if (mm_map_uncached(m->table_phys, (uint64_t)m->entries * 16u) != 0) {
		ksnprintf(why, sizeof(why), "cannot map the MSI-X table at 0x%llx",
			  (unsigned long long)m->table_phys);
		return why;
	}
	m->table = (volatile uint8_t *)(uintptr_t)m->table_phys;
	/* The table is in memory space: decoding must be on to reach it
	 * (firmware may leave it off, HARDWARE.md item 9). The status half is
	 * written as zeroes, which leaves its write-1-to-clear bits alone. */
	pci_cfg_write32(bdf, 0x04, (pci_cfg_read32(bdf, 0x04) & 0xffffu) | 0x2u);
	/* Start from a known state: MSI-X off, every entry masked. */
	pci_cfg_write32(bdf, m->cap, ctrl & ~(MSIX_CTRL_ENABLE | MSIX_CTRL_FN_MASK));
	for (unsigned i = 0; i < m->entries; i++)
		*(volatile uint32_t *)(m->table + 16u * i + 12u) = MSIX_ENTRY_MASKED;
	return NULL;
}

void pci_msix_set(struct pci_msix *m, uint16_t entry, uint64_t addr, uint32_t data, int unmask)
{
	volatile uint32_t *e = (volatile uint32_t *)(m->table + 16u * entry);

	if (entry >= m->entries)
		return;
	e[3] = MSIX_ENTRY_MASKED;     /* never fire half-programmed */
	e[0] = (uint32_t)addr;
	e[1] = (uint32_t)(addr >> 32);
	e[2] = data;
	if (unmask)
		e[3] = 0;
}

void pci_msix_enable(struct pci_msix *m, int on)
{
	uint32_t ctrl = pci_cfg_read32(m->bdf, m->cap) & ~(MSIX_CTRL_ENABLE | MSIX_CTRL_FN_MASK);

	if (!on) {
		/* Mask every entry first, then switch MSI-X off. */
		for (unsigned i = 0; i < m->entries; i++)
			*(volatile uint32_t *)(m->table + 16u * i + 12u) = MSIX_ENTRY_MASKED;
	}
	pci_cfg_write32(m->bdf, m->cap, ctrl | (on ? MSIX_CTRL_ENABLE : 0u));
}
