/* SPDX-License-Identifier: MIT */
/*
 * Boot information of the two protocols this kernel accepts, only the parts
 * it reads. All addresses are physical (and, before paging is changed, also
 * virtual: the kernel identity-maps the low 4 GiB).
 *
 *   Multiboot 1 (specification 0.6.96, section 3.3): QEMU -kernel, GRUB's
 *   `multiboot` command. EAX = 0x2BADB002, EBX -> struct multiboot_info.
 *
 *   Multiboot 2 (specification 2.0, section 3.6): GRUB's `multiboot2`
 *   command, under BIOS and UEFI. EAX = 0x36D76289, EBX -> a list of tags:
 *   u32 total_size, u32 reserved, then tags, each 8-byte aligned, each
 *   starting with u32 type, u32 size (size excludes the padding), ended by
 *   a tag of type 0.
 */
#ifndef MULTIBOOT_H
#define MULTIBOOT_H

#include <stdint.h>

/* ---- Multiboot 1 ------------------------------------------------------------ */
#define MULTIBOOT_BOOT_MAGIC 0x2BADB002u /* in EAX at entry */

#define MULTIBOOT_INFO_MEMORY 0x001  /* mem_lower/mem_upper valid */
#define MULTIBOOT_INFO_CMDLINE 0x004 /* cmdline valid */
#define MULTIBOOT_INFO_MMAP 0x040    /* mmap_addr/mmap_length valid */
#define MULTIBOOT_INFO_LOADER 0x200  /* boot_loader_name valid */

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB below 1 MiB */
	uint32_t mem_upper; /* KiB above 1 MiB, up to the first hole */
	uint32_t boot_device;
	uint32_t cmdline;   /* NUL-terminated string */
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length;
	uint32_t mmap_addr;
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name; /* NUL-terminated string */
};

/* A memory map entry is `size` (of the rest, 4 bytes) followed by base
 * (8 bytes), length (8 bytes) and type (4 bytes), unaligned. */
#define MULTIBOOT_MMAP_AVAILABLE 1u

/* ---- Multiboot 2 ------------------------------------------------------------ */
#define MULTIBOOT2_BOOT_MAGIC 0x36D76289u /* in EAX at entry */

#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1       /* u32 type, u32 size, NUL-terminated string */
#define MB2_TAG_LOADER_NAME 2   /* same layout as CMDLINE */
#define MB2_TAG_BASIC_MEMINFO 4 /* u32 mem_lower, u32 mem_upper (KiB), as multiboot 1 */
#define MB2_TAG_MMAP 6          /* u32 entry_size, u32 entry_version, entries */
#define MB2_TAG_ACPI_OLD 14     /* a copy of the ACPI 1.0 RSDP (20 bytes) */
#define MB2_TAG_ACPI_NEW 15     /* a copy of the ACPI 2.0+ RSDP (36 bytes) */

/* One memory map entry (entry_size may be larger in later versions: step
 * by entry_size, never by sizeof). Type 1 = available RAM, as multiboot 1. */
struct mb2_mmap_entry {
	uint64_t base;
	uint64_t length;
	uint32_t type;
	uint32_t reserved;
};

#endif
