/* SPDX-License-Identifier: MIT */
/*
 * uStor compile-time options. Every option has a default here; override any
 * of them with -D on the compiler command line (the same value for the
 * library and for the code that includes its headers, since several size
 * structures the caller allocates). Runtime settings live in the driver
 * config structs (see nvme.h); these only bound memory.
 */
#ifndef USTOR_CONFIG_H
#define USTOR_CONFIG_H

/* Bumped whenever an option changes meaning, so a port can check that its
 * copy of this header matches the library it builds against. */
#define USTOR_CONFIG_REVISION 1

/* Namespaces one NVMe controller object can expose as block devices. */
#ifndef USTOR_NVME_MAX_NAMESPACES
#define USTOR_NVME_MAX_NAMESPACES 16
#endif

/* I/O queue pairs one NVMe controller object can hold: one per CPU for a
 * kernel of up to 16 CPUs (cfg.lockless_io_queues). Each costs about 200
 * bytes inside struct ustor_nvme_ctrl; the rings and slots are allocated
 * only for the queues cfg.io_queues asks for. */
#ifndef USTOR_NVME_MAX_IO_QUEUES
#define USTOR_NVME_MAX_IO_QUEUES 16
#endif

/* Upper bound on any queue's depth: the command id keeps the slot index in
 * its low 10 bits and a generation counter in the high 6, so a stale or
 * forged completion is recognised. Cannot exceed 1024. */
#ifndef USTOR_NVME_MAX_QUEUE_DEPTH
#define USTOR_NVME_MAX_QUEUE_DEPTH 1024
#endif

/* Admin queue depth (entries). */
#ifndef USTOR_NVME_ADMIN_QUEUE_DEPTH
#define USTOR_NVME_ADMIN_QUEUE_DEPTH 32
#endif

/* Compile out the log formatter to save space (errors are still returned). */
#ifndef USTOR_ENABLE_LOG
#define USTOR_ENABLE_LOG 1
#endif

#if USTOR_NVME_MAX_QUEUE_DEPTH > 1024 || USTOR_NVME_MAX_QUEUE_DEPTH < 2
#error "USTOR_NVME_MAX_QUEUE_DEPTH must be within 2..1024"
#endif
#if USTOR_NVME_ADMIN_QUEUE_DEPTH < 2 || USTOR_NVME_ADMIN_QUEUE_DEPTH > 4096
#error "USTOR_NVME_ADMIN_QUEUE_DEPTH must be within 2..4096 (AQA is 12 bits)"
#endif
#if USTOR_NVME_MAX_IO_QUEUES < 1 || USTOR_NVME_MAX_IO_QUEUES > 64
#error "USTOR_NVME_MAX_IO_QUEUES must be within 1..64"
#endif
#if USTOR_NVME_MAX_NAMESPACES < 1 || USTOR_NVME_MAX_NAMESPACES > 1024
#error "USTOR_NVME_MAX_NAMESPACES must be within 1..1024"
#endif

#endif
