/* SPDX-License-Identifier: MIT */
/*
 * What the boot loader told us, in one format whatever the protocol:
 * multiboot 1 (QEMU -kernel, GRUB `multiboot`) or multiboot 2 (GRUB
 * `multiboot2`, under BIOS or UEFI). See multiboot.h for both layouts.
 *
 * Everything needed later is COPIED into `boot_info` here, first thing in
 * kmain: the loader's structures live in RAM the kernel does not reserve
 * (the DMA page allocator may hand the same pages out and zero them).
 */
#include "kernel.h"
#include "multiboot.h"

struct boot_info boot_info;

static void copy_string(char *dst, size_t size, const char *src, size_t max)
{
	size_t i = 0;

	while (i + 1 < size && i < max && src[i] != '\0') {
		dst[i] = src[i];
		i++;
	}
	dst[i] = '\0';
}

static void add_mmap(uint64_t base, uint64_t len, uint32_t type)
{
	if (boot_info.nmmap >= BOOT_MMAP_MAX) {
		boot_info.mmap_truncated = 1;
		return;
	}
	boot_info.mmap[boot_info.nmmap].base = base;
	boot_info.mmap[boot_info.nmmap].len = len;
	boot_info.mmap[boot_info.nmmap].type = type;
	boot_info.nmmap++;
}

static void parse_mb1(const struct multiboot_info *mbi)
{
	boot_info.protocol = "multiboot1";
	if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
		copy_string(boot_info.cmdline, sizeof(boot_info.cmdline),
			    (const char *)(uintptr_t)mbi->cmdline, ~(size_t)0);
	if (mbi->flags & MULTIBOOT_INFO_LOADER)
		copy_string(boot_info.loader, sizeof(boot_info.loader),
			    (const char *)(uintptr_t)mbi->boot_loader_name, ~(size_t)0);
	if (mbi->flags & MULTIBOOT_INFO_MEMORY) {
		boot_info.have_mem_upper = 1;
		boot_info.mem_upper_kib = mbi->mem_upper;
	}
	if (mbi->flags & MULTIBOOT_INFO_MMAP) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)mbi->mmap_addr;
		const uint8_t *stop = p + mbi->mmap_length;

		/* Entries are `size` + 20 bytes, unaligned: copy field by field. */
		while (p + 24 <= stop) {
			uint32_t size, type;
			uint64_t base, len;

			memcpy(&size, p, 4);
			memcpy(&base, p + 4, 8);
			memcpy(&len, p + 12, 8);
			memcpy(&type, p + 20, 4);
			add_mmap(base, len, type);
			p += size + 4u;
		}
	}
}

static void parse_mb2(const uint8_t *mbi)
{
	uint32_t total;

	boot_info.protocol = "multiboot2";
	memcpy(&total, mbi, 4);
	/* Tags start after total_size and reserved; each is 8-byte aligned. */
	for (uint32_t off = 8; off + 8 <= total;) {
		const uint8_t *t = mbi + off;
		uint32_t type, size;

		memcpy(&type, t, 4);
		memcpy(&size, t + 4, 4);
		if (type == MB2_TAG_END || size < 8 || size > total - off)
			break;
		switch (type) {
		case MB2_TAG_CMDLINE:
			copy_string(boot_info.cmdline, sizeof(boot_info.cmdline), (const char *)t + 8,
				    size - 8u);
			break;
		case MB2_TAG_LOADER_NAME:
			copy_string(boot_info.loader, sizeof(boot_info.loader), (const char *)t + 8,
				    size - 8u);
			break;
		case MB2_TAG_BASIC_MEMINFO:
			if (size >= 16) {
				uint32_t upper;

				memcpy(&upper, t + 12, 4);
				boot_info.have_mem_upper = 1;
				boot_info.mem_upper_kib = upper;
			}
			break;
		case MB2_TAG_MMAP: {
			uint32_t esize;

			memcpy(&esize, t + 8, 4);
			if (esize < 20) /* base, length, type at least */
				break;
			for (uint32_t e = 16; e + esize <= size; e += esize) {
				uint64_t base, len;
				uint32_t etype;

				memcpy(&base, t + e, 8);
				memcpy(&len, t + e + 8, 8);
				memcpy(&etype, t + e + 16, 4);
				add_mmap(base, len, etype);
			}
			break;
		}
		case MB2_TAG_ACPI_OLD:
		case MB2_TAG_ACPI_NEW: {
			/* A copy of the RSDP itself (not a pointer to it). The
			 * 2.0+ one wins: it carries the XSDT address. */
			uint32_t len = size - 8u;

			if (len > sizeof(boot_info.rsdp))
				len = sizeof(boot_info.rsdp);
			if (type == MB2_TAG_ACPI_OLD && boot_info.rsdp_len > 20)
				break;
			memcpy(boot_info.rsdp, t + 8, len);
			boot_info.rsdp_len = len;
			boot_info.rsdp_tag = type;
			break;
		}
		default:
			break;
		}
		off += (size + 7u) & ~7u;
	}
}

int bootinfo_parse(uint32_t magic, uint32_t info_addr)
{
	memset(&boot_info, 0, sizeof(boot_info));
	if (magic == MULTIBOOT_BOOT_MAGIC) {
		parse_mb1((const struct multiboot_info *)(uintptr_t)info_addr);
	} else if (magic == MULTIBOOT2_BOOT_MAGIC) {
		if ((info_addr & 7u) != 0)
			return -1; /* the specification promises 8-byte alignment */
		parse_mb2((const uint8_t *)(uintptr_t)info_addr);
	} else {
		return -1;
	}
	return 0;
}
