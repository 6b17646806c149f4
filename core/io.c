/*
 * io.c: port and memory-mapped I/O dispatch.
 *
 * A space keeps its mapped regions in an array sorted by base, with the
 * running maximum of region ends beside it so a lookup is a binary search
 * plus a short backwards scan even when regions overlap. Regions may overlap
 * only when the access sizes the guest may use on them are disjoint (the
 * i440FX CONFIG_ADDRESS dword at 0xcf8 and PIIX3's reset control byte at
 * 0xcf9): dispatch then picks by size. Accesses wider than a handler
 * implements are split into little-endian pieces; narrower ones are widened
 * (reads extract their bytes, writes pass the value shifted into place with
 * no read-modify-write). An access crossing a region end is done byte by
 * byte. Sizes the guest may not use are treated as unclaimed.
 */
#include "hvmdm/io.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"
#include "hvmdm/trace.h"

struct dm_io_space {
    char *name;
    uint64_t limit;       /* addresses are below this */
    GPtrArray *regions;   /* struct dm_io_region *, sorted by base */
    GArray *max_end;      /* uint64_t: max end of regions[0..i] */
    uint64_t unclaimed;
};

static uint64_t dm_size_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ull << (size * 8)) - 1;
}

static unsigned dm_ops_min(unsigned v)
{
    return v ? v : 1;
}

static unsigned dm_ops_max(unsigned v)
{
    return v ? v : 4;
}

static bool dm_io_size_valid(const struct dm_io_region *r, unsigned size)
{
    return size >= dm_ops_min(r->ops->valid.min) &&
           size <= dm_ops_max(r->ops->valid.max);
}

/* Do the valid access sizes of A and B have nothing in common? */
static bool dm_io_sizes_disjoint(const struct dm_io_region *a,
                                 const struct dm_io_region *b)
{
    return dm_ops_max(a->ops->valid.max) < dm_ops_min(b->ops->valid.min) ||
           dm_ops_max(b->ops->valid.max) < dm_ops_min(a->ops->valid.min);
}

void dm_io_region_init(struct dm_io_region *r, const char *name,
                       const struct dm_io_ops *ops, void *opaque,
                       uint64_t size)
{
    r->name = name;
    r->ops = ops;
    r->opaque = opaque;
    r->base = 0;
    r->size = size;
    r->space = NULL;
}

struct dm_io_space *dm_io_space_new(const char *name, uint64_t limit)
{
    struct dm_io_space *s = g_new0(struct dm_io_space, 1);

    s->name = g_strdup(name);
    s->limit = limit;
    s->regions = g_ptr_array_new();
    s->max_end = g_array_new(false, false, sizeof(uint64_t));
    return s;
}

void dm_io_space_free(struct dm_io_space *s)
{
    if (!s) {
        return;
    }
    for (guint i = 0; i < s->regions->len; i++) {
        struct dm_io_region *r = g_ptr_array_index(s->regions, i);
        r->space = NULL;
    }
    g_ptr_array_free(s->regions, true);
    g_array_free(s->max_end, true);
    g_free(s->name);
    g_free(s);
}

static void dm_io_space_update_max_end(struct dm_io_space *s)
{
    uint64_t m = 0;

    g_array_set_size(s->max_end, s->regions->len);
    for (guint i = 0; i < s->regions->len; i++) {
        struct dm_io_region *r = g_ptr_array_index(s->regions, i);
        m = MAX(m, r->base + r->size);
        g_array_index(s->max_end, uint64_t, i) = m;
    }
}

/* Index of the last region with base <= ADDR, or -1. */
static int dm_io_last_at_or_below(struct dm_io_space *s, uint64_t addr)
{
    int lo = 0, hi = (int)s->regions->len - 1, found = -1;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        struct dm_io_region *r = g_ptr_array_index(s->regions, mid);

        if (r->base <= addr) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

bool dm_io_map(struct dm_io_space *space, struct dm_io_region *r,
               uint64_t base, GError **errp)
{
    guint pos;

    if (!r->size || !dm_range_ok(base, r->size, space->limit)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: region %s at 0x%" PRIx64 " size 0x%" PRIx64
                    " does not fit below 0x%" PRIx64,
                    space->name, r->name, base, r->size, space->limit);
        return false;
    }
    for (guint i = 0; i < space->regions->len; i++) {
        struct dm_io_region *o = g_ptr_array_index(space->regions, i);

        if (o == r || o->base >= base + r->size ||
            base >= o->base + o->size || dm_io_sizes_disjoint(o, r)) {
            continue;
        }
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: region %s at 0x%" PRIx64 "-0x%" PRIx64
                    " overlaps %s at 0x%" PRIx64 "-0x%" PRIx64,
                    space->name, r->name, base, base + r->size - 1, o->name,
                    o->base, o->base + o->size - 1);
        return false;
    }
    if (r->space) {
        dm_io_unmap(r);
    }
    r->base = base;
    r->space = space;
    for (pos = 0; pos < space->regions->len; pos++) {
        struct dm_io_region *o = g_ptr_array_index(space->regions, pos);
        if (o->base > base) {
            break;
        }
    }
    g_ptr_array_insert(space->regions, (gint)pos, r);
    dm_io_space_update_max_end(space);
    return true;
}

void dm_io_unmap(struct dm_io_region *r)
{
    struct dm_io_space *s = r->space;

    if (!s) {
        return;
    }
    g_ptr_array_remove(s->regions, r);
    dm_io_space_update_max_end(s);
    r->space = NULL;
}

/*
 * The region for an access of SIZE at ADDR: among those containing ADDR the
 * one whose valid sizes include SIZE, else the only one containing it.
 */
struct dm_io_region *dm_io_find(struct dm_io_space *s, uint64_t addr,
                                unsigned size)
{
    struct dm_io_region *any = NULL;
    unsigned nany = 0;

    for (int i = dm_io_last_at_or_below(s, addr);
         i >= 0 && g_array_index(s->max_end, uint64_t, i) > addr; i--) {
        struct dm_io_region *r = g_ptr_array_index(s->regions, i);

        if (addr - r->base >= r->size) {
            continue;
        }
        if (dm_io_size_valid(r, size)) {
            return r;
        }
        any = r;
        nany++;
    }
    return nany == 1 ? any : NULL;
}

uint64_t dm_io_unclaimed_count(struct dm_io_space *s)
{
    return s->unclaimed;
}

/*
 * Run an access of SIZE at region offset OFF through handlers implementing
 * sizes IMIN..IMAX: chunks of the clamped size, aligned down when widening.
 */
static void dm_io_dispatch(struct dm_io_region *r, uint64_t off,
                           unsigned size, bool is_write, uint64_t *val)
{
    const struct dm_io_ops *ops = r->ops;
    unsigned imin = dm_ops_min(ops->impl.min), imax = dm_ops_max(ops->impl.max);
    unsigned cs = size < imin ? imin : size > imax ? imax : size;
    uint64_t first = size < imin ? off & ~(uint64_t)(cs - 1) : off;
    uint64_t end = off + size;
    uint64_t result = 0;

    for (uint64_t c = first; c < end; c += cs) {
        uint64_t lo = MAX(c, off), hi = MIN(c + cs, end);
        uint64_t m = dm_size_mask((unsigned)(hi - lo));
        unsigned in_access = (unsigned)(lo - off) * 8;
        unsigned in_chunk = (unsigned)(lo - c) * 8;

        if (is_write) {
            if (ops->write) {
                uint64_t part = (*val >> in_access) & m;
                ops->write(r->opaque, c, part << in_chunk, cs);
            }
        } else {
            uint64_t w = ops->read ? ops->read(r->opaque, c, cs)
                                   : dm_size_mask(cs);
            result |= ((w >> in_chunk) & m) << in_access;
        }
    }
    if (!is_write) {
        *val = result & dm_size_mask(size);
    }
}

static void dm_io_unclaimed(struct dm_io_space *s, uint64_t addr,
                            unsigned size, bool is_write, uint64_t *val)
{
    s->unclaimed++;
    if (!is_write) {
        *val = dm_size_mask(size);
    }
}

bool dm_io_access(struct dm_io_space *s, uint64_t addr, unsigned size,
                  bool is_write, uint64_t *val)
{
    struct dm_io_region *r;

    if (size != 1 && size != 2 && size != 4 && size != 8) {
        dm_trace(io_invalid_size, "%s addr=0x%" PRIx64 " size=%u", s->name,
                 addr, size);
        dm_io_unclaimed(s, addr, size > 8 ? 8 : size, is_write, val);
        return false;
    }
    r = dm_io_find(s, addr, size);
    if (!r) {
        dm_trace(io_unclaimed, "%s %s addr=0x%" PRIx64 " size=%u val=0x%"
                 PRIx64, s->name, is_write ? "write" : "read", addr, size,
                 is_write ? *val : dm_size_mask(size));
        dm_io_unclaimed(s, addr, size, is_write, val);
        return false;
    }
    if (!dm_io_size_valid(r, size)) {
        dm_trace(io_invalid_size, "%s %s %s addr=0x%" PRIx64 " size=%u",
                 s->name, r->name, is_write ? "write" : "read", addr, size);
        dm_io_unclaimed(s, addr, size, is_write, val);
        return false;
    }
    if (size > r->size || addr - r->base > r->size - size) {
        /* Crosses the region's end: byte by byte, each to whoever owns it. */
        uint64_t result = 0;
        bool claimed = false;

        for (unsigned i = 0; i < size; i++) {
            uint64_t b = is_write ? (*val >> (i * 8)) & 0xff : 0;
            claimed |= dm_io_access(s, addr + i, 1, is_write, &b);
            result |= (b & 0xff) << (i * 8);
        }
        if (!is_write) {
            *val = result;
        }
        return claimed;
    }
    if (is_write) {
        *val &= dm_size_mask(size);
    }
    dm_io_dispatch(r, addr - r->base, size, is_write, val);
    return true;
}

void dm_io_pio(struct dm_machine *m, uint16_t port, unsigned size,
               bool is_write, uint32_t *val)
{
    uint64_t v = is_write ? *val : 0;

    dm_io_access(m->pio, port, size, is_write, &v);
    if (!is_write) {
        *val = (uint32_t)v;
    }
}

void dm_io_mmio(struct dm_machine *m, uint64_t gpa, unsigned size,
                bool is_write, uint64_t *val)
{
    if (is_write && size <= 8 && !dm_io_find(m->mmio, gpa, size) && m->mem) {
        uint8_t buf[8];

        for (unsigned i = 0; i < size; i++) {
            buf[i] = (uint8_t)(*val >> (i * 8));
        }
        if (dm_memory_mmio_write(m->mem, gpa, buf, size)) {
            return;
        }
    }
    dm_io_access(m->mmio, gpa, size, is_write, val);
}

static bool dm_io_string_size_ok(unsigned size)
{
    if (size == 1 || size == 2 || size == 4) {
        return true;
    }
    dm_guest_error("io: string i/o with element size %u", size);
    return false;
}

void dm_io_pio_string(struct dm_machine *m, uint16_t port, unsigned size,
                      bool is_write, void *data, uint32_t count)
{
    uint8_t *p = data;

    if (!dm_io_string_size_ok(size)) {
        return;
    }
    for (uint32_t i = 0; i < count; i++, p += size) {
        uint32_t v = 0;

        if (is_write) {
            for (unsigned b = 0; b < size; b++) {
                v |= (uint32_t)p[b] << (b * 8);
            }
            dm_io_pio(m, port, size, true, &v);
        } else {
            dm_io_pio(m, port, size, false, &v);
            for (unsigned b = 0; b < size; b++) {
                p[b] = (uint8_t)(v >> (b * 8));
            }
        }
    }
}

void dm_io_pio_string_guest(struct dm_machine *m, uint16_t port, unsigned size,
                            bool is_write, uint64_t gpa, uint32_t count,
                            bool df)
{
    if (!dm_io_string_size_ok(size)) {
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        /* Guest addresses wrap like the CPU's would. */
        uint64_t step = (uint64_t)i * size;
        uint64_t addr = df ? gpa - step : gpa + step;
        uint8_t buf[4] = { 0 };
        uint32_t v = 0;

        if (is_write) {
            dm_memory_rw(m, addr, buf, size, false);
            for (unsigned b = 0; b < size; b++) {
                v |= (uint32_t)buf[b] << (b * 8);
            }
            dm_io_pio(m, port, size, true, &v);
        } else {
            dm_io_pio(m, port, size, false, &v);
            for (unsigned b = 0; b < size; b++) {
                buf[b] = (uint8_t)(v >> (b * 8));
            }
            dm_memory_rw(m, addr, buf, size, true);
        }
    }
}
