/*
 * fw_cfg.c: QEMU's firmware configuration device ("fw_cfg_io"), the channel
 * through which SeaBIOS learns the machine: RAM size, CPU count, e820 map,
 * boot order and named files.
 *
 * Interface as documented in QEMU's docs/specs/fw_cfg.rst: a 16-bit selector
 * at 0x510, a byte-wide data port at 0x511 streaming the selected item, and
 * the DMA interface at 0x514 (big-endian 64-bit address of an FWCfgDmaAccess,
 * high dword then low dword; writing the low dword runs it). Items are
 * read-only to the guest: writes through the data port are dropped and DMA
 * writes fail with the error bit. Left out: the MMIO variant, write callbacks.
 */
#include "hvmdm/dev.h"
#include "hvmdm/fw_cfg.h"
#include "hvmdm/io.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

#define FW_CFG_KEY_MASK (~FW_CFG_WRITE_CHANNEL & 0xffffu)
#define FW_CFG_DMA_ACCESS_SIZE 16
#define FW_CFG_DIR_ENTRY_SIZE (4 + 2 + 2 + FW_CFG_MAX_FILE_PATH)
#define FW_CFG_ZERO_CHUNK 4096

struct fw_cfg_file {
    char name[FW_CFG_MAX_FILE_PATH];
    uint16_t key;
};

struct dm_fw_cfg {
    struct dm_dev dev;
    uint16_t iobase;     /* property */
    uint16_t dma_iobase; /* property */
    bool dma_enabled;    /* property */
    struct dm_io_region ctl_region;
    struct dm_io_region dma_region;
    GHashTable *items; /* key (masked) -> GBytes */
    GPtrArray *files;  /* struct fw_cfg_file *, in order of adding */
    /* Guest-visible registers. */
    uint16_t selector;
    uint32_t offset; /* next byte of the selected item */
    uint64_t dma_addr;
};

static uint16_t fw_cfg_key(uint16_t key)
{
    return (uint16_t)(key & FW_CFG_KEY_MASK);
}

static uint32_t fw_cfg_be32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT32_FROM_BE(v);
}

static uint64_t fw_cfg_be64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT64_FROM_BE(v);
}

/* The bytes under KEY, or NULL when there is no such item. */
static const uint8_t *fw_cfg_lookup(struct dm_fw_cfg *s, uint16_t key,
                                    size_t *len)
{
    GBytes *b =
        g_hash_table_lookup(s->items, GUINT_TO_POINTER(fw_cfg_key(key)));
    gsize n = 0;
    const uint8_t *data;

    if (!b) {
        *len = 0;
        return NULL;
    }
    data = g_bytes_get_data(b, &n);
    *len = n;
    return data ? data : (const uint8_t *)"";
}

/* The selected item's bytes, or NULL when nothing is under the selector. */
static const uint8_t *fw_cfg_item(struct dm_fw_cfg *s, size_t *len)
{
    return fw_cfg_lookup(s, s->selector, len);
}

static void fw_cfg_select(struct dm_fw_cfg *s, uint16_t key)
{
    dm_trace(fw_cfg_select, "key 0x%x", key);
    s->selector = key;
    s->offset = 0;
}

static uint8_t fw_cfg_read_byte(struct dm_fw_cfg *s)
{
    size_t len;
    const uint8_t *data = fw_cfg_item(s, &len);

    if (!data || s->offset >= len) {
        return 0;
    }
    return data[s->offset++];
}

/* ---- items -------------------------------------------------------------- */

static void fw_cfg_put(struct dm_fw_cfg *s, uint16_t key, GBytes *b)
{
    g_hash_table_replace(s->items, GUINT_TO_POINTER(fw_cfg_key(key)), b);
}

void dm_fw_cfg_add_bytes(struct dm_fw_cfg *fw, uint16_t key, const void *data,
                         size_t len)
{
    g_assert(len <= UINT32_MAX);
    fw_cfg_put(fw, key, g_bytes_new(data, len));
}

void dm_fw_cfg_add_i16(struct dm_fw_cfg *fw, uint16_t key, uint16_t v)
{
    uint16_t le = GUINT16_TO_LE(v);

    dm_fw_cfg_add_bytes(fw, key, &le, sizeof(le));
}

void dm_fw_cfg_add_i32(struct dm_fw_cfg *fw, uint16_t key, uint32_t v)
{
    uint32_t le = GUINT32_TO_LE(v);

    dm_fw_cfg_add_bytes(fw, key, &le, sizeof(le));
}

void dm_fw_cfg_add_i64(struct dm_fw_cfg *fw, uint16_t key, uint64_t v)
{
    uint64_t le = GUINT64_TO_LE(v);

    dm_fw_cfg_add_bytes(fw, key, &le, sizeof(le));
}

static gint fw_cfg_file_cmp(gconstpointer a, gconstpointer b)
{
    const struct fw_cfg_file *fa = *(const struct fw_cfg_file *const *)a;
    const struct fw_cfg_file *fb = *(const struct fw_cfg_file *const *)b;

    return strcmp(fa->name, fb->name);
}

/* FW_CFG_FILE_DIR from the file list, sorted by name. */
static void fw_cfg_rebuild_dir(struct dm_fw_cfg *s)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();
    size_t len = 4 + (size_t)s->files->len * FW_CFG_DIR_ENTRY_SIZE;
    uint8_t *dir = g_malloc0(len);
    uint8_t *e = dir + 4;
    uint32_t count = GUINT32_TO_BE(s->files->len);

    for (guint i = 0; i < s->files->len; i++) {
        g_ptr_array_add(sorted, g_ptr_array_index(s->files, i));
    }
    g_ptr_array_sort(sorted, fw_cfg_file_cmp);
    memcpy(dir, &count, 4);
    for (guint i = 0; i < sorted->len; i++, e += FW_CFG_DIR_ENTRY_SIZE) {
        const struct fw_cfg_file *f = g_ptr_array_index(sorted, i);
        size_t flen = 0;
        uint32_t size_be;
        uint16_t key_be = GUINT16_TO_BE(f->key);

        fw_cfg_lookup(s, f->key, &flen);
        size_be = GUINT32_TO_BE((uint32_t)flen);
        memcpy(e, &size_be, 4);
        memcpy(e + 4, &key_be, 2);
        memcpy(e + 8, f->name, FW_CFG_MAX_FILE_PATH);
    }
    fw_cfg_put(s, FW_CFG_FILE_DIR, g_bytes_new_take(dir, len));
}

static struct fw_cfg_file *fw_cfg_find_file(struct dm_fw_cfg *s,
                                            const char *name)
{
    for (guint i = 0; i < s->files->len; i++) {
        struct fw_cfg_file *f = g_ptr_array_index(s->files, i);

        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    return NULL;
}

bool dm_fw_cfg_add_file(struct dm_fw_cfg *fw, const char *name,
                        const void *data, size_t len, GError **errp)
{
    struct fw_cfg_file *f;

    if (!*name || strlen(name) >= FW_CFG_MAX_FILE_PATH) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "fw_cfg: file name '%s' must be 1 to %d characters", name,
                    FW_CFG_MAX_FILE_PATH - 1);
        return false;
    }
    if (len > UINT32_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "fw_cfg: file %s: %zu bytes is too big", name, len);
        return false;
    }
    f = fw_cfg_find_file(fw, name);
    if (!f) {
        if (fw->files->len >= FW_CFG_MAX_FILES) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "fw_cfg: file %s: the directory is full (%d files)",
                        name, FW_CFG_MAX_FILES);
            return false;
        }
        f = g_new0(struct fw_cfg_file, 1);
        g_strlcpy(f->name, name, sizeof(f->name));
        f->key = (uint16_t)(FW_CFG_FILE_FIRST + fw->files->len);
        g_ptr_array_add(fw->files, f);
    }
    dm_fw_cfg_add_bytes(fw, f->key, data, len);
    fw_cfg_rebuild_dir(fw);
    return true;
}

const void *dm_fw_cfg_file(struct dm_fw_cfg *fw, const char *name, size_t *len)
{
    struct fw_cfg_file *f = fw_cfg_find_file(fw, name);
    size_t n = 0;
    const void *data;

    if (!f) {
        return NULL;
    }
    data = fw_cfg_lookup(fw, f->key, &n);
    if (len) {
        *len = n;
    }
    return data;
}

/* ---- selector and data ports --------------------------------------------- */

static uint64_t fw_cfg_ctl_read(void *opaque, uint64_t off, unsigned size)
{
    struct dm_fw_cfg *s = opaque;
    uint64_t val = 0;

    /* Any byte of the port pair reads the data stream. */
    for (unsigned i = 0; i < size; i++) {
        val |= (uint64_t)fw_cfg_read_byte(s) << (8 * i);
    }
    return val;
}

static void fw_cfg_ctl_write(void *opaque, uint64_t off, uint64_t val,
                             unsigned size)
{
    struct dm_fw_cfg *s = opaque;

    if (size == 2 && off == 0) {
        fw_cfg_select(s, (uint16_t)val);
    } else {
        dm_guest_error("fw_cfg: write of 0x%x to the read-only data port",
                       (unsigned)val);
    }
}

static const struct dm_io_ops fw_cfg_ctl_ops = {
    .read = fw_cfg_ctl_read,
    .write = fw_cfg_ctl_write,
    .valid = { .min = 1, .max = 2 },
    .impl = { .min = 1, .max = 2 },
};

/* ---- DMA ---------------------------------------------------------------- */

static bool fw_cfg_dma_zero(struct dm_machine *m, uint64_t gpa, uint64_t len)
{
    static const uint8_t zero[FW_CFG_ZERO_CHUNK];

    while (len) {
        uint64_t n = MIN(len, sizeof(zero));

        if (dm_dma_write(m, gpa, zero, n) < 0) {
            return false;
        }
        gpa += n;
        len -= n;
    }
    return true;
}

/* Carry out the FWCfgDmaAccess at DESC and write its status back. */
static void fw_cfg_dma_run(struct dm_fw_cfg *s, uint64_t desc)
{
    struct dm_machine *m = s->dev.m;
    uint8_t raw[FW_CFG_DMA_ACCESS_SIZE];
    uint32_t control, length, status;
    uint64_t address;
    bool read, write, error = false;

    if (dm_dma_read(m, desc, raw, sizeof(raw)) < 0) {
        dm_guest_error("fw_cfg: dma descriptor at 0x%" G_GINT64_MODIFIER
                       "x is not in ram",
                       desc);
        return;
    }
    control = fw_cfg_be32(raw);
    length = fw_cfg_be32(raw + 4);
    address = fw_cfg_be64(raw + 8);
    dm_trace(fw_cfg_dma,
             "control 0x%x length 0x%x address 0x%" G_GINT64_MODIFIER "x",
             control, length, address);

    if (control & FW_CFG_DMA_CTL_SELECT) {
        fw_cfg_select(s, (uint16_t)(control >> 16));
    }
    read = control & FW_CFG_DMA_CTL_READ;
    write = !read && (control & FW_CFG_DMA_CTL_WRITE);
    if (!read && !write && !(control & FW_CFG_DMA_CTL_SKIP)) {
        length = 0; /* select only */
    }
    while (length && !error) {
        size_t len;
        const uint8_t *data = fw_cfg_item(s, &len);
        uint32_t n;

        if (!data || s->offset >= len) {
            /* Past the item: reads return zeros, writes fail. */
            n = length;
            if (read) {
                error = !fw_cfg_dma_zero(m, address, n);
            } else if (write) {
                error = true;
            }
        } else {
            n = (uint32_t)MIN((size_t)length, len - s->offset);
            if (read) {
                error = dm_dma_write(m, address, data + s->offset, n) < 0;
            } else if (write) {
                error = true; /* items are read-only */
            }
            if (!error) {
                s->offset += n;
            }
        }
        address += n;
        length -= n;
    }
    if (error) {
        dm_guest_error("fw_cfg: dma to 0x%" G_GINT64_MODIFIER "x failed "
                       "(control 0x%x)",
                       address, control);
    }
    status = GUINT32_TO_BE(error ? FW_CFG_DMA_CTL_ERROR : 0);
    if (dm_dma_write(m, desc, &status, sizeof(status)) < 0) {
        dm_guest_error(
            "fw_cfg: cannot write dma status at 0x%" G_GINT64_MODIFIER "x",
            desc);
    }
}

static uint64_t fw_cfg_dma_read(void *opaque, uint64_t off, unsigned size)
{
    static const char sig[] = FW_CFG_DMA_SIGNATURE;
    uint64_t val = 0;

    /* The register reads as the big-endian signature "QEMU CFG". */
    for (unsigned i = 0; i < size && off + i < 8; i++) {
        val |= (uint64_t)(uint8_t)sig[off + i] << (8 * i);
    }
    return val;
}

static void fw_cfg_dma_write(void *opaque, uint64_t off, uint64_t val,
                             unsigned size)
{
    struct dm_fw_cfg *s = opaque;
    uint64_t desc;

    /* Bytes arrive in bus order; the register is big-endian. */
    if (size == 8 && off == 0) {
        s->dma_addr = GUINT64_FROM_BE(val);
    } else if (size == 4 && off == 0) {
        s->dma_addr = (uint64_t)GUINT32_FROM_BE((uint32_t)val) << 32 |
                      (s->dma_addr & 0xffffffffu);
        return;
    } else if (size == 4 && off == 4) {
        s->dma_addr =
            (s->dma_addr & ~0xffffffffull) | GUINT32_FROM_BE((uint32_t)val);
    } else {
        dm_guest_error("fw_cfg: dma register write of size %u at +%u", size,
                       (unsigned)off);
        return;
    }
    desc = s->dma_addr;
    s->dma_addr = 0;
    fw_cfg_dma_run(s, desc);
}

static const struct dm_io_ops fw_cfg_dma_ops = {
    .read = fw_cfg_dma_read,
    .write = fw_cfg_dma_write,
    .valid = { .min = 4, .max = 8 },
    .impl = { .min = 4, .max = 8 },
};

/* ---- device ------------------------------------------------------------- */

static void fw_cfg_reset(struct dm_dev *d)
{
    struct dm_fw_cfg *s = dm_container_of(d, struct dm_fw_cfg, dev);

    fw_cfg_select(s, FW_CFG_SIGNATURE);
    s->dma_addr = 0;
}

static bool fw_cfg_realize(struct dm_dev *d, GError **errp)
{
    struct dm_fw_cfg *s = dm_container_of(d, struct dm_fw_cfg, dev);
    struct dm_machine *m = d->m;
    uint32_t id = FW_CFG_VERSION;

    if (m->fw_cfg) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "fw_cfg_io[%s]: the machine has a fw_cfg device already",
                    d->id);
        return false;
    }
    s->items = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                     (GDestroyNotify)g_bytes_unref);
    s->files = g_ptr_array_new_with_free_func(g_free);

    dm_io_region_init(&s->ctl_region, "fw_cfg", &fw_cfg_ctl_ops, s, 2);
    if (!dm_io_map(m->pio, &s->ctl_region, s->iobase, errp)) {
        return false;
    }
    if (s->dma_enabled) {
        dm_io_region_init(&s->dma_region, "fw_cfg-dma", &fw_cfg_dma_ops, s, 8);
        if (!dm_io_map(m->pio, &s->dma_region, s->dma_iobase, errp)) {
            dm_io_unmap(&s->ctl_region);
            return false;
        }
        id |= FW_CFG_VERSION_DMA;
    }
    dm_fw_cfg_add_bytes(s, FW_CFG_SIGNATURE, "QEMU", 4);
    dm_fw_cfg_add_i32(s, FW_CFG_ID, id);
    fw_cfg_rebuild_dir(s);
    fw_cfg_reset(d);
    m->fw_cfg = s;
    return true;
}

static void fw_cfg_unrealize(struct dm_dev *d)
{
    struct dm_fw_cfg *s = dm_container_of(d, struct dm_fw_cfg, dev);

    if (d->m->fw_cfg == s) {
        d->m->fw_cfg = NULL;
    }
    if (dm_io_mapped(&s->ctl_region)) {
        dm_io_unmap(&s->ctl_region);
    }
    if (dm_io_mapped(&s->dma_region)) {
        dm_io_unmap(&s->dma_region);
    }
    g_clear_pointer(&s->items, g_hash_table_unref);
    g_clear_pointer(&s->files, g_ptr_array_unref);
}

static const struct dm_vmstate_field fw_cfg_vmstate_fields[] = {
    DM_VMS_UINT16(struct dm_fw_cfg, selector),
    DM_VMS_UINT32(struct dm_fw_cfg, offset),
    DM_VMS_UINT64(struct dm_fw_cfg, dma_addr),
    DM_VMS_END_OF_LIST,
};

/* The offset is checked against the item on every read: nothing to fix. */
static const struct dm_vmstate fw_cfg_vmstate = {
    .name = "fw_cfg",
    .version = 1,
    .min_version = 1,
    .fields = fw_cfg_vmstate_fields,
};

static const struct dm_prop fw_cfg_props[] = {
    DM_PROP(struct dm_fw_cfg, iobase, DM_PROP_U16, "0x510"),
    DM_PROP(struct dm_fw_cfg, dma_iobase, DM_PROP_U16, "0x514"),
    DM_PROP(struct dm_fw_cfg, dma_enabled, DM_PROP_BOOL, "on"),
    DM_PROP_END,
};

const struct dm_dev_type fw_cfg_io_type = {
    .name = "fw_cfg_io",
    .bus = DM_BUS_SYS,
    .size = sizeof(struct dm_fw_cfg),
    .props = fw_cfg_props,
    .realize = fw_cfg_realize,
    .reset = fw_cfg_reset,
    .unrealize = fw_cfg_unrealize,
    .vmsd = &fw_cfg_vmstate,
    .desc = "QEMU firmware configuration interface (ports 0x510-0x51b)",
};
