/* SPDX-License-Identifier: MIT */
/* Multiboot 1 boot information (Multiboot Specification 0.6.96, section 3.3):
 * only the fields this kernel reads. All addresses are physical. */
#ifndef MULTIBOOT_H
#define MULTIBOOT_H

#include <stdint.h>

#define MULTIBOOT_BOOT_MAGIC 0x2BADB002u /* in EAX at entry */

#define MULTIBOOT_INFO_MEMORY 0x001  /* mem_lower/mem_upper valid */
#define MULTIBOOT_INFO_CMDLINE 0x004 /* cmdline valid */
#define MULTIBOOT_INFO_MMAP 0x040    /* mmap_addr/mmap_length valid */

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
};

/* A memory map entry is `size` (of the rest, 4 bytes) followed by base
 * (8 bytes), length (8 bytes) and type (4 bytes), unaligned. */
#define MULTIBOOT_MMAP_AVAILABLE 1u

#endif
