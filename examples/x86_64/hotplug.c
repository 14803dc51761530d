/* SPDX-License-Identifier: MIT */
/*
 * PCIe native hotplug, the guest's half, for one slot: the root (or
 * downstream) port above an NVMe function. QEMU's `device_del` of a device
 * behind a hotplug-capable port presses the slot's attention button (Slot
 * Status ABP); QEMU completes the removal only when the guest then turns the
 * slot's power off: Slot Control Power Controller Control = 1 (off) together
 * with the Power Indicator off, a change from a powered state. The kernel
 * polls Slot Status from its I/O loop (no interrupt needed).
 *
 * Registers (PCIe Base spec, PCI Express capability, ID 10h): Capabilities
 * +02h bit 8 Slot Implemented; Slot Capabilities +14h: bit 0 Attention
 * Button Present, bit 1 Power Controller Present, bit 6 Hot-Plug Capable;
 * Slot Control +18h: bits 7:6 Attention Indicator, 9:8 Power Indicator
 * (01b on, 10b blink, 11b off), bit 10 Power Controller Control (1 = off);
 * Slot Status +1Ah: bit 0 Attention Button Pressed (RW1C), bit 6 Presence
 * Detect State.
 */
#include "kernel.h"
#include "soak.h"

#define PCI_CAP_EXP 0x10
#define EXP_FLAGS 0x02
#define EXP_FLAGS_SLOT 0x0100u
#define EXP_SLTCAP 0x14
#define SLTCAP_ABP 0x01u
#define SLTCAP_PCP 0x02u
#define SLTCAP_HPC 0x40u
#define EXP_SLTCTL 0x18 /* Slot Status is the upper half of this dword */
#define SLTCTL_AIC 0x00c0u
#define SLTCTL_AIC_OFF 0x00c0u
#define SLTCTL_PIC 0x0300u
#define SLTCTL_PIC_OFF 0x0300u
#define SLTCTL_PCC 0x0400u
#define SLTSTA_ABP 0x0001u
#define SLTSTA_PDS 0x0040u

static struct {
	int on;
	uint32_t port;          /* bdf of the port with the slot */
	uint16_t cap;           /* its PCI Express capability */
	uint32_t fn;            /* the function below it */
	int powered_off;
	const char *name;
} hp;

int hotplug_watch(uint32_t bdf, const char *name)
{
	uint32_t bus = PCI_BUS(bdf);

	hp.on = 0;
	for (uint32_t b = 0; b < 256; b++)
		for (uint32_t dev = 0; dev < 32; dev++)
			for (uint32_t f = 0; f < 8; f++) {
				uint32_t p = PCI_BDF(b, dev, f);
				uint32_t id = pci_cfg_read32(p, 0);
				uint32_t hdr, busreg, flags, cap;
				uint16_t off;

				if ((id & 0xffffu) == 0xffffu) {
					if (f == 0)
						break;
					continue;
				}
				hdr = (pci_cfg_read32(p, 0x0c) >> 16) & 0x7fu;
				busreg = pci_cfg_read32(p, 0x18);
				if (hdr != 1 || ((busreg >> 8) & 0xffu) != bus)
					continue;
				off = pci_find_cap(p, PCI_CAP_EXP);
				if (off == 0)
					return -1;
				flags = pci_cfg_read32(p, off) >> 16;
				cap = pci_cfg_read32(p, (uint16_t)(off + EXP_SLTCAP));
				kprintf("hotplug: %s is below port %02x:%02x.%x: slot %s, slot capabilities "
					"0x%08x (attention button %s, power controller %s, hotplug %s), "
					"slot control/status 0x%08x\n", name, b, dev, f,
					(flags & EXP_FLAGS_SLOT) ? "implemented" : "absent", cap,
					(cap & SLTCAP_ABP) ? "yes" : "no", (cap & SLTCAP_PCP) ? "yes" : "no",
					(cap & SLTCAP_HPC) ? "capable" : "no",
					pci_cfg_read32(p, (uint16_t)(off + EXP_SLTCTL)));
				if (!(flags & EXP_FLAGS_SLOT) || !(cap & SLTCAP_HPC))
					return -1;
				hp.on = 1;
				hp.port = p;
				hp.cap = off;
				hp.fn = bdf;
				hp.powered_off = 0;
				hp.name = name;
				return 0;
			}
	return -1;
}

int hotplug_poll(void)
{
	uint32_t v, ctl, sta;

	if (!hp.on || hp.powered_off)
		return 0;
	v = pci_cfg_read32(hp.port, (uint16_t)(hp.cap + EXP_SLTCTL));
	ctl = v & 0xffffu;
	sta = v >> 16;
	if (v == 0xffffffffu || !(sta & SLTSTA_ABP))
		return 0;
	kprintf("hotplug: %s: attention button pressed (slot control 0x%04x, status 0x%04x): "
		"powering the slot off\n", hp.name, ctl, sta);
	ctl = (ctl & ~(SLTCTL_AIC | SLTCTL_PIC)) | SLTCTL_AIC_OFF | SLTCTL_PIC_OFF | SLTCTL_PCC;
	/* Status bits are RW1C: write back only ABP, to acknowledge it. */
	pci_cfg_write32(hp.port, (uint16_t)(hp.cap + EXP_SLTCTL), ctl | (uint32_t)SLTSTA_ABP << 16);
	hp.powered_off = 1;
	return 1;
}

int hotplug_function_gone(void)
{
	return hp.on && (pci_cfg_read32(hp.fn, 0) & 0xffffu) == 0xffffu;
}
