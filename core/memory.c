/*
 * memory.c: guest physical memory as the CPU and devices see it.
 *
 * RAM is one anonymous mapping: the first below_4g bytes at guest address 0
 * (less the VGA window 0xa0000-0xbffff, which is MMIO), the rest at 4 GiB.
 * ROMs are page-aligned host buffers mapped read-only. The legacy window
 * 0xc0000-0xfffff holds shadow segments, each with a ROM face and a RAM face,
 * switched by the chipset (i440FX PAM registers, datasheet 290549 section
 * 3.2.18). Every change rebuilds the flat slot list and tells the listener
 * (the accelerator) which slots went away and which are new; unchanged slots
 * keep their ids. Xen's map cache is not here yet.
 */
#include <sys/mman.h>

#include "hvmdm/io.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"
#include "hvmdm/trace.h"

#define DM_PAGE_SIZE 4096ull
#define DM_VGA_WINDOW_START 0xa0000ull
#define DM_4G (4 * DM_GiB)
#define DM_MAX_SLOT_IDS 4096

struct dm_rom {
    char *name;
    uint64_t gpa;
    uint64_t size;       /* rounded up to pages */
    uint8_t *host;       /* mmap'd, writable by us */
};

struct dm_shadow {
    uint64_t gpa;
    uint64_t size;
    uint8_t *rom_host;
    enum dm_shadow_mode mode;
};

/* Device memory mapped as RAM (dm_memory_map_ram). */
struct dm_devram {
    char *name;
    uint64_t gpa;
    uint64_t size;
    uint8_t *host;
    unsigned flags;
    unsigned long *dirty;      /* pages written through dm_memory_rw */
};

/* One piece of the CPU's view: a slot plus where writes go. */
struct dm_mem_area {
    struct dm_mem_slot slot;   /* host = what reads see */
    uint8_t *write_host;       /* NULL: writes are dropped (or exit) */
    bool dma;                  /* plain RAM, usable for DMA */
    struct dm_devram *devram;  /* device memory, or NULL */
};

#define DM_BITS_PER_LONG (sizeof(unsigned long) * 8)

struct dm_memory {
    uint64_t ram_size;
    uint64_t below_4g;
    uint8_t *ram;
    GPtrArray *roms;           /* struct dm_rom * */
    GArray *shadows;           /* struct dm_shadow, sorted by gpa */
    GPtrArray *devrams;        /* struct dm_devram * */
    GArray *areas;             /* struct dm_mem_area, sorted by gpa */
    struct dm_mem_listener listener;
    bool has_listener;
};

struct dm_memory *dm_memory_new(uint64_t ram_size, uint64_t below_4g,
                                GError **errp)
{
    struct dm_memory *mem;
    void *ram;

    if (!ram_size || ram_size % DM_PAGE_SIZE || below_4g % DM_PAGE_SIZE ||
        below_4g > DM_4G) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "memory: bad layout: ram 0x%" PRIx64 " bytes, 0x%" PRIx64
                    " below 4 GiB (need page multiples, at most 4 GiB below)",
                    ram_size, below_4g);
        return NULL;
    }
    ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "memory: cannot allocate %" PRIu64 " MiB of guest ram: %s",
                    (uint64_t)(ram_size / DM_MiB), g_strerror(errno));
        return NULL;
    }
    mem = g_new0(struct dm_memory, 1);
    mem->ram = ram;
    mem->ram_size = ram_size;
    mem->below_4g = MIN(ram_size, below_4g);
    mem->roms = g_ptr_array_new();
    mem->shadows = g_array_new(false, false, sizeof(struct dm_shadow));
    mem->devrams = g_ptr_array_new();
    mem->areas = g_array_new(false, false, sizeof(struct dm_mem_area));
    dm_memory_set_listener(mem, NULL, NULL);  /* builds the areas */
    return mem;
}

void dm_memory_free(struct dm_memory *mem)
{
    if (!mem) {
        return;
    }
    for (guint i = 0; i < mem->roms->len; i++) {
        struct dm_rom *rom = g_ptr_array_index(mem->roms, i);
        munmap(rom->host, rom->size);
        g_free(rom->name);
        g_free(rom);
    }
    g_ptr_array_free(mem->roms, true);
    for (guint i = 0; i < mem->devrams->len; i++) {
        struct dm_devram *d = g_ptr_array_index(mem->devrams, i);
        g_free(d->name);
        g_free(d->dirty);
        g_free(d);
    }
    g_ptr_array_free(mem->devrams, true);
    g_array_free(mem->shadows, true);
    g_array_free(mem->areas, true);
    munmap(mem->ram, mem->ram_size);
    g_free(mem);
}

uint64_t dm_memory_ram_size(struct dm_memory *mem)
{
    return mem->ram_size;
}

uint64_t dm_memory_below_4g(struct dm_memory *mem)
{
    return mem->below_4g;
}

uint64_t dm_memory_above_4g(struct dm_memory *mem)
{
    return mem->ram_size - mem->below_4g;
}

/* ---- the flat view ------------------------------------------------------ */

static void dm_area_add(GArray *a, uint64_t gpa, uint64_t size, void *host,
                        void *write_host, bool dma)
{
    struct dm_mem_area area = {
        .slot = { .gpa = gpa, .size = size, .host = host, .id = -1,
                  .flags = write_host == host ? 0 : DM_SLOT_READONLY },
        .write_host = write_host,
        .dma = dma,
    };

    if (size) {
        g_array_append_val(a, area);
    }
}

/* Plain RAM [gpa, end) below 4 GiB, clipped to the RAM that exists. */
static void dm_area_add_low_ram(struct dm_memory *mem, GArray *a, uint64_t gpa,
                                uint64_t end)
{
    end = MIN(end, mem->below_4g);
    if (gpa < end) {
        dm_area_add(a, gpa, end - gpa, mem->ram + gpa, mem->ram + gpa, true);
    }
}

static void dm_area_add_shadow(struct dm_memory *mem, GArray *a,
                               const struct dm_shadow *sh)
{
    uint8_t *ram = mem->ram + sh->gpa;

    switch (sh->mode) {
    case DM_SHADOW_ROM:
        dm_area_add(a, sh->gpa, sh->size, sh->rom_host, NULL, false);
        break;
    case DM_SHADOW_RAM_RO:
        dm_area_add(a, sh->gpa, sh->size, ram, NULL, false);
        break;
    case DM_SHADOW_RAM_WO:
        dm_area_add(a, sh->gpa, sh->size, sh->rom_host, ram, false);
        break;
    case DM_SHADOW_RAM_RW:
        dm_area_add(a, sh->gpa, sh->size, ram, ram, true);
        break;
    }
}

static gint dm_area_cmp(gconstpointer pa, gconstpointer pb)
{
    const struct dm_mem_area *a = pa, *b = pb;

    return a->slot.gpa < b->slot.gpa ? -1 : a->slot.gpa > b->slot.gpa;
}

/* The view as it should be now (slot ids not assigned). */
static GArray *dm_memory_build_areas(struct dm_memory *mem)
{
    GArray *a = g_array_new(false, false, sizeof(struct dm_mem_area));
    uint64_t pos = DM_LEGACY_WINDOW_START;

    dm_area_add_low_ram(mem, a, 0, DM_VGA_WINDOW_START);
    for (guint i = 0; i < mem->shadows->len; i++) {
        const struct dm_shadow *sh =
            &g_array_index(mem->shadows, struct dm_shadow, i);

        dm_area_add_low_ram(mem, a, pos, sh->gpa);
        dm_area_add_shadow(mem, a, sh);
        pos = sh->gpa + sh->size;
    }
    dm_area_add_low_ram(mem, a, pos, DM_4G);
    for (guint i = 0; i < mem->roms->len; i++) {
        struct dm_rom *rom = g_ptr_array_index(mem->roms, i);
        dm_area_add(a, rom->gpa, rom->size, rom->host, NULL, false);
    }
    if (mem->ram_size > mem->below_4g) {
        uint8_t *host = mem->ram + mem->below_4g;
        dm_area_add(a, DM_4G, mem->ram_size - mem->below_4g, host, host, true);
    }
    for (guint i = 0; i < mem->devrams->len; i++) {
        struct dm_devram *d = g_ptr_array_index(mem->devrams, i);
        struct dm_mem_area *x;

        dm_area_add(a, d->gpa, d->size, d->host, d->host, false);
        x = &g_array_index(a, struct dm_mem_area, a->len - 1);
        x->slot.flags |= d->flags & DM_SLOT_DIRTY_LOG;
        x->devram = d;
    }
    g_array_sort(a, dm_area_cmp);
    return a;
}

static bool dm_slot_same(const struct dm_mem_slot *a,
                         const struct dm_mem_slot *b)
{
    return a->gpa == b->gpa && a->size == b->size && a->host == b->host &&
           a->flags == b->flags;
}

static const struct dm_mem_area *dm_area_find_same(GArray *a,
                                                   const struct dm_mem_slot *s)
{
    for (guint i = 0; i < a->len; i++) {
        const struct dm_mem_area *x = &g_array_index(a, struct dm_mem_area, i);
        if (dm_slot_same(&x->slot, s)) {
            return x;
        }
    }
    return NULL;
}

static int dm_slot_free_id(GArray *a)
{
    for (int id = 0; id < DM_MAX_SLOT_IDS; id++) {
        bool used = false;

        for (guint i = 0; i < a->len && !used; i++) {
            used = g_array_index(a, struct dm_mem_area, i).slot.id == id;
        }
        if (!used) {
            return id;
        }
    }
    g_assert_not_reached();
}

/*
 * Make the view match the current layout: slots that disappeared are removed
 * from the listener first, then new ones are added, so the listener never
 * sees two slots overlap.
 */
static bool dm_memory_update(struct dm_memory *mem, GError **errp)
{
    GArray *old = mem->areas;
    GArray *new = dm_memory_build_areas(mem);
    bool ok = true;

    for (guint i = 0; i < new->len; i++) {
        struct dm_mem_area *n = &g_array_index(new, struct dm_mem_area, i);
        const struct dm_mem_area *o = dm_area_find_same(old, &n->slot);
        if (o) {
            n->slot.id = o->slot.id;
        }
    }
    for (guint i = 0; i < old->len; i++) {
        struct dm_mem_area *o = &g_array_index(old, struct dm_mem_area, i);

        if (!dm_area_find_same(new, &o->slot) && mem->has_listener && ok) {
            ok = mem->listener.slot_update(mem->listener.opaque, &o->slot,
                                           false, errp);
        }
    }
    for (guint i = 0; i < new->len; i++) {
        struct dm_mem_area *n = &g_array_index(new, struct dm_mem_area, i);

        if (n->slot.id >= 0) {
            continue;
        }
        n->slot.id = dm_slot_free_id(new);
        if (mem->has_listener && ok) {
            ok = mem->listener.slot_update(mem->listener.opaque, &n->slot,
                                           true, errp);
        }
    }
    mem->areas = new;
    g_array_free(old, true);
    return ok;
}

void dm_memory_set_listener(struct dm_memory *mem,
                            const struct dm_mem_listener *l, GError **errp)
{
    /* Forget the slots: the new listener (or none) gets them all fresh. */
    g_array_set_size(mem->areas, 0);
    mem->has_listener = l != NULL;
    if (l) {
        mem->listener = *l;
    }
    dm_memory_update(mem, errp);
}

unsigned dm_memory_slots(struct dm_memory *mem, struct dm_mem_slot *out,
                         unsigned max)
{
    for (guint i = 0; i < mem->areas->len && i < max; i++) {
        out[i] = g_array_index(mem->areas, struct dm_mem_area, i).slot;
    }
    return mem->areas->len;
}

/* Does [gpa, gpa+size) touch RAM, a ROM, device memory or a shadow
 * segment (those lie inside RAM)? */
static bool dm_memory_range_used(struct dm_memory *mem, uint64_t gpa,
                                 uint64_t size)
{
    uint64_t end = gpa + size;

    if (gpa < mem->below_4g) {
        return true;
    }
    if (mem->ram_size > mem->below_4g &&
        end > DM_4G && gpa < DM_4G + (mem->ram_size - mem->below_4g)) {
        return true;
    }
    for (guint i = 0; i < mem->roms->len; i++) {
        struct dm_rom *rom = g_ptr_array_index(mem->roms, i);
        if (gpa < rom->gpa + rom->size && rom->gpa < end) {
            return true;
        }
    }
    for (guint i = 0; i < mem->devrams->len; i++) {
        struct dm_devram *d = g_ptr_array_index(mem->devrams, i);
        if (gpa < d->gpa + d->size && d->gpa < end) {
            return true;
        }
    }
    return false;
}

void *dm_memory_add_rom(struct dm_memory *mem, const char *name, uint64_t gpa,
                        const void *data, uint64_t size, GError **errp)
{
    uint64_t alloc = dm_align_up(size, DM_PAGE_SIZE);
    struct dm_rom *rom;
    void *host;

    if (!size || gpa % DM_PAGE_SIZE || alloc < size ||
        !dm_range_ok(gpa, alloc, UINT64_MAX) ||
        dm_memory_range_used(mem, gpa, alloc)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "memory: rom %s at 0x%" PRIx64 " size 0x%" PRIx64
                    " is unaligned or overlaps ram or another rom",
                    name, gpa, size);
        return NULL;
    }
    host = mmap(NULL, alloc, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (host == MAP_FAILED) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "memory: rom %s: cannot allocate 0x%" PRIx64 " bytes: %s",
                    name, alloc, g_strerror(errno));
        return NULL;
    }
    if (data) {
        memcpy(host, data, size);
    }
    rom = g_new0(struct dm_rom, 1);
    rom->name = g_strdup(name);
    rom->gpa = gpa;
    rom->size = alloc;
    rom->host = host;
    g_ptr_array_add(mem->roms, rom);
    if (!dm_memory_update(mem, errp)) {
        return NULL;
    }
    return host;
}

static gint dm_shadow_cmp(gconstpointer pa, gconstpointer pb)
{
    const struct dm_shadow *a = pa, *b = pb;

    return a->gpa < b->gpa ? -1 : a->gpa > b->gpa;
}

bool dm_memory_add_shadow(struct dm_memory *mem, uint64_t gpa, uint64_t size,
                          void *rom_host, GError **errp)
{
    struct dm_shadow sh = {
        .gpa = gpa, .size = size, .rom_host = rom_host, .mode = DM_SHADOW_ROM,
    };
    bool ok = size && rom_host && gpa % DM_PAGE_SIZE == 0 &&
              size % DM_PAGE_SIZE == 0 && gpa >= DM_LEGACY_WINDOW_START &&
              gpa + size <= DM_LEGACY_WINDOW_END &&
              size <= DM_LEGACY_WINDOW_END &&
              mem->below_4g >= DM_LEGACY_WINDOW_END;

    for (guint i = 0; ok && i < mem->shadows->len; i++) {
        const struct dm_shadow *o =
            &g_array_index(mem->shadows, struct dm_shadow, i);
        ok = gpa >= o->gpa + o->size || o->gpa >= gpa + size;
    }
    if (!ok) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "memory: shadow segment at 0x%" PRIx64 " size 0x%" PRIx64
                    " is outside 0xc0000-0xfffff, unaligned, overlaps "
                    "another or has no ram behind it", gpa, size);
        return false;
    }
    g_array_append_val(mem->shadows, sh);
    g_array_sort(mem->shadows, dm_shadow_cmp);
    return dm_memory_update(mem, errp);
}

bool dm_memory_set_shadow_mode(struct dm_memory *mem, uint64_t gpa,
                               enum dm_shadow_mode mode)
{
    GError *err = NULL;

    for (guint i = 0; i < mem->shadows->len; i++) {
        struct dm_shadow *sh = &g_array_index(mem->shadows, struct dm_shadow, i);

        if (gpa < sh->gpa || gpa - sh->gpa >= sh->size) {
            continue;
        }
        if (sh->mode == mode) {
            return true;
        }
        dm_trace(memory_shadow_mode, "0x%" PRIx64 " size 0x%" PRIx64
                 " mode %d -> %d", sh->gpa, sh->size, sh->mode, mode);
        sh->mode = mode;
        if (!dm_memory_update(mem, &err)) {
            dm_error_report("memory: shadow segment 0x%" PRIx64 ": %s",
                            sh->gpa, err->message);
            g_error_free(err);
            return false;
        }
        return true;
    }
    return false;
}

/* ---- device memory ------------------------------------------------------ */

static struct dm_devram *dm_devram_find(struct dm_memory *mem, void *host)
{
    for (guint i = 0; i < mem->devrams->len; i++) {
        struct dm_devram *d = g_ptr_array_index(mem->devrams, i);
        if (d->host == host) {
            return d;
        }
    }
    return NULL;
}

bool dm_memory_map_ram(struct dm_memory *mem, const char *name, uint64_t gpa,
                       uint64_t size, void *host, unsigned flags,
                       GError **errp)
{
    struct dm_devram *d;
    uint64_t pages = size / DM_PAGE_SIZE;

    if (!size || !host || size % DM_PAGE_SIZE || gpa % DM_PAGE_SIZE ||
        (uintptr_t)host % DM_PAGE_SIZE || !dm_range_ok(gpa, size, UINT64_MAX) ||
        dm_devram_find(mem, host) || dm_memory_range_used(mem, gpa, size)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "memory: %s at 0x%" PRIx64 " size 0x%" PRIx64
                    " is unaligned, already mapped or overlaps other memory",
                    name, gpa, size);
        return false;
    }
    d = g_new0(struct dm_devram, 1);
    d->name = g_strdup(name);
    d->gpa = gpa;
    d->size = size;
    d->host = host;
    d->flags = flags & DM_SLOT_DIRTY_LOG;
    d->dirty = g_new0(unsigned long,
                      (pages + DM_BITS_PER_LONG - 1) / DM_BITS_PER_LONG);
    g_ptr_array_add(mem->devrams, d);
    return dm_memory_update(mem, errp);
}

void dm_memory_unmap_ram(struct dm_memory *mem, void *host)
{
    struct dm_devram *d = dm_devram_find(mem, host);
    GError *err = NULL;

    if (!d) {
        return;
    }
    g_ptr_array_remove(mem->devrams, d);
    if (!dm_memory_update(mem, &err)) {
        dm_error_report("memory: unmapping %s: %s", d->name, err->message);
        g_error_free(err);
    }
    g_free(d->name);
    g_free(d->dirty);
    g_free(d);
}

static void dm_devram_mark_dirty(struct dm_devram *d, uint64_t off,
                                 uint64_t len)
{
    for (uint64_t p = off / DM_PAGE_SIZE; p <= (off + len - 1) / DM_PAGE_SIZE;
         p++) {
        d->dirty[p / DM_BITS_PER_LONG] |= 1ul << (p % DM_BITS_PER_LONG);
    }
}

void dm_memory_get_dirty(struct dm_memory *mem, void *host, uint64_t size,
                         unsigned long *bitmap)
{
    struct dm_devram *d = dm_devram_find(mem, host);
    uint64_t pages = size / DM_PAGE_SIZE;
    uint64_t words = (pages + DM_BITS_PER_LONG - 1) / DM_BITS_PER_LONG;

    if (!d || !(d->flags & DM_SLOT_DIRTY_LOG) || d->size != size) {
        /* Nothing tracks it: everything may have changed. */
        for (uint64_t p = 0; p < pages; p++) {
            bitmap[p / DM_BITS_PER_LONG] |= 1ul << (p % DM_BITS_PER_LONG);
        }
        return;
    }
    for (uint64_t w = 0; w < words; w++) {
        bitmap[w] |= d->dirty[w];
        d->dirty[w] = 0;
    }
    if (!mem->has_listener || !mem->listener.sync_dirty) {
        return;
    }
    for (guint i = 0; i < mem->areas->len; i++) {
        struct dm_mem_area *x = &g_array_index(mem->areas, struct dm_mem_area, i);
        if (x->devram == d) {
            mem->listener.sync_dirty(mem->listener.opaque, &x->slot, bitmap);
            break;
        }
    }
}

/* ---- lookups ------------------------------------------------------------ */

/* The area containing GPA, or NULL; *NEXT gets the start of the next area
 * above GPA (UINT64_MAX when there is none). */
static const struct dm_mem_area *dm_memory_lookup(struct dm_memory *mem,
                                                  uint64_t gpa, uint64_t *next)
{
    GArray *a = mem->areas;
    int lo = 0, hi = (int)a->len - 1, found = -1;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;

        if (g_array_index(a, struct dm_mem_area, mid).slot.gpa <= gpa) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (next) {
        *next = (guint)(found + 1) < a->len
                    ? g_array_index(a, struct dm_mem_area, found + 1).slot.gpa
                    : UINT64_MAX;
    }
    if (found >= 0) {
        const struct dm_mem_area *x =
            &g_array_index(a, struct dm_mem_area, found);
        if (gpa - x->slot.gpa < x->slot.size) {
            return x;
        }
    }
    return NULL;
}

/* Host address of GPA for reads or writes, NULL when [gpa, gpa+len) is not
 * one host-contiguous run of such memory (DMA_ONLY: plain RAM only). */
static uint8_t *dm_memory_contig(struct dm_memory *mem, uint64_t gpa,
                                 uint64_t len, bool is_write, bool dma_only)
{
    uint8_t *start = NULL, *expect = NULL;

    if (!len || !dm_range_ok(gpa, len, UINT64_MAX)) {
        return NULL;
    }
    while (len) {
        const struct dm_mem_area *x = dm_memory_lookup(mem, gpa, NULL);
        uint8_t *host;
        uint64_t n;

        if (!x || (dma_only && !x->dma)) {
            return NULL;
        }
        host = is_write ? x->write_host : x->slot.host;
        if (!host) {
            return NULL;
        }
        host += gpa - x->slot.gpa;
        if (expect && host != expect) {
            return NULL;
        }
        start = start ? start : host;
        n = MIN(len, x->slot.size - (gpa - x->slot.gpa));
        expect = host + n;
        gpa += n;
        len -= n;
    }
    return start;
}

void *dm_memory_host_ptr(struct dm_memory *mem, uint64_t gpa, uint64_t len,
                         bool is_write)
{
    /* Writes need RAM; ROM and shadow faces are read-only to the CPU. */
    return dm_memory_contig(mem, gpa, len, is_write, is_write);
}

bool dm_memory_mmio_write(struct dm_memory *mem, uint64_t gpa,
                          const void *buf, unsigned size)
{
    const struct dm_mem_area *x = dm_memory_lookup(mem, gpa, NULL);
    uint8_t *host;

    /* Only write-only shadow segments: read-only slots whose writes land. */
    if (!x || !x->write_host || x->write_host == x->slot.host ||
        !(host = dm_memory_contig(mem, gpa, size, true, false))) {
        return false;
    }
    memcpy(host, buf, size);
    return true;
}

/* CPU-view access to MMIO: naturally aligned pieces of up to 8 bytes. */
static void dm_memory_rw_mmio(struct dm_machine *m, uint64_t gpa, uint8_t *p,
                              uint64_t len, bool is_write)
{
    while (len) {
        unsigned size = 8;
        uint64_t v = 0;

        while (size > len || (gpa & (size - 1))) {
            size /= 2;
        }
        if (is_write) {
            for (unsigned i = 0; i < size; i++) {
                v |= (uint64_t)p[i] << (i * 8);
            }
        }
        if (m->mmio) {
            dm_io_access(m->mmio, gpa, size, is_write, &v);
        } else if (!is_write) {
            v = UINT64_MAX;
        }
        if (!is_write) {
            for (unsigned i = 0; i < size; i++) {
                p[i] = (uint8_t)(v >> (i * 8));
            }
        }
        gpa += size;
        p += size;
        len -= size;
    }
}

void dm_memory_rw(struct dm_machine *m, uint64_t gpa, void *buf, uint64_t len,
                  bool is_write)
{
    uint8_t *p = buf;

    if (!m->mem) {
        dm_memory_rw_mmio(m, gpa, p, len, is_write);
        return;
    }
    while (len) {
        uint64_t next;
        const struct dm_mem_area *x = dm_memory_lookup(m->mem, gpa, &next);
        uint64_t n;

        if (!x) {
            /* MMIO up to the next area; an access that fits is one call. */
            n = next - gpa;
            n = MIN(len, n ? n : len);
            dm_memory_rw_mmio(m, gpa, p, n, is_write);
        } else {
            uint64_t off = gpa - x->slot.gpa;
            uint8_t *host = is_write ? x->write_host : x->slot.host;

            n = MIN(len, x->slot.size - off);
            if (!host) {
                /* Write to ROM: dropped, as the hardware does. */
            } else if (is_write) {
                memcpy(host + off, p, n);
                if (x->devram && (x->devram->flags & DM_SLOT_DIRTY_LOG)) {
                    dm_devram_mark_dirty(x->devram, off, n);
                }
            } else {
                memcpy(p, host + off, n);
            }
        }
        gpa += n;
        p += n;
        len -= n;
    }
}

/* ---- DMA ---------------------------------------------------------------- */

/* Is [gpa, gpa+len) all RAM? */
static bool dm_dma_ok(struct dm_memory *mem, uint64_t gpa, uint64_t len)
{
    uint64_t end;

    if (!dm_range_ok(gpa, len, UINT64_MAX)) {
        return false;
    }
    end = gpa + len;
    while (gpa < end) {
        const struct dm_mem_area *x = dm_memory_lookup(mem, gpa, NULL);

        if (!x || !x->dma) {
            return false;
        }
        gpa = x->slot.gpa + x->slot.size;
    }
    return true;
}

static int dm_dma_rw(struct dm_machine *m, uint64_t gpa, uint8_t *buf,
                     uint64_t len, bool is_write)
{
    if (!m->mem || !dm_dma_ok(m->mem, gpa, len)) {
        dm_trace(dma_fault, "%s gpa=0x%" PRIx64 " len=0x%" PRIx64,
                 is_write ? "write" : "read", gpa, len);
        return -EFAULT;
    }
    while (len) {
        const struct dm_mem_area *x = dm_memory_lookup(m->mem, gpa, NULL);
        uint64_t off = gpa - x->slot.gpa;
        uint64_t n = MIN(len, x->slot.size - off);

        if (is_write) {
            memcpy(x->write_host + off, buf, n);
        } else {
            memcpy(buf, x->slot.host + off, n);
        }
        gpa += n;
        buf += n;
        len -= n;
    }
    return 0;
}

int dm_dma_read(struct dm_machine *m, uint64_t gpa, void *buf, uint64_t len)
{
    return dm_dma_rw(m, gpa, buf, len, false);
}

int dm_dma_write(struct dm_machine *m, uint64_t gpa, const void *buf,
                 uint64_t len)
{
    return dm_dma_rw(m, gpa, (uint8_t *)buf, len, true);
}

int dm_dma_map(struct dm_machine *m, uint64_t gpa, uint64_t len, bool is_write,
               struct iovec *iov, int max)
{
    int n = 0;

    if (!m->mem || !dm_dma_ok(m->mem, gpa, len)) {
        dm_trace(dma_fault, "map gpa=0x%" PRIx64 " len=0x%" PRIx64, gpa, len);
        return -EFAULT;
    }
    while (len) {
        const struct dm_mem_area *x = dm_memory_lookup(m->mem, gpa, NULL);
        uint64_t off = gpa - x->slot.gpa;
        uint64_t chunk = MIN(len, x->slot.size - off);
        uint8_t *host = (uint8_t *)x->slot.host + off;

        /* Host-contiguous pieces merge, except across 4 GiB where RAM
         * changes region. */
        if (n > 0 && gpa != DM_4G &&
            (uint8_t *)iov[n - 1].iov_base + iov[n - 1].iov_len == host) {
            iov[n - 1].iov_len += chunk;
        } else {
            if (n == max) {
                return -E2BIG;
            }
            iov[n].iov_base = host;
            iov[n].iov_len = chunk;
            n++;
        }
        gpa += chunk;
        len -= chunk;
    }
    return n;
}

void dm_dma_unmap(struct dm_machine *m, struct iovec *iov, int n,
                  bool is_write)
{
    /* RAM is mapped for the machine's lifetime; KVM's dirty log sees guest
     * writes only, and no DMA target needs tracking yet. */
}
