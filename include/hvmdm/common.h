/*
 * common.h: the few definitions every hvmdm file uses: integer types, GLib,
 * container_of, the error domain and small arithmetic helpers.
 */
#ifndef HVMDM_COMMON_H
#define HVMDM_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#define DM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define dm_container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

#define DM_KiB (1024ull)
#define DM_MiB (1024ull * 1024)
#define DM_GiB (1024ull * 1024 * 1024)

/* GError domain for every error hvmdm reports through GError. */
#define DM_ERROR dm_error_quark()
GQuark dm_error_quark(void);

enum dm_error_code {
    DM_ERROR_FAILED,   /* generic failure, message says what */
    DM_ERROR_INVALID,  /* bad option, property or file contents */
    DM_ERROR_IO,       /* host I/O failure */
};

/* True when [base, base + size) lies inside [0, limit) without overflow. */
static inline bool dm_range_ok(uint64_t base, uint64_t size, uint64_t limit)
{
    return base <= limit && size <= limit - base;
}

static inline uint64_t dm_align_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) & ~(align - 1);
}

struct dm_machine;

#endif
