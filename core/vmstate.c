/*
 * vmstate.c: the one serializer for device state (save/restore, migration).
 *
 * Stream layout, all integers little-endian:
 *   "HVMDMSTA" u32:format
 *   section    := 'S' str:type str:id u32:version body
 *   body       := { field | subsection } 'E'
 *   field      := 'F' str:name u8:kind u32:elem_size u32:count u32:len payload
 *   subsection := 'U' str:name u32:version body
 *   u32:crc32 of everything before it
 * str is u8:len (at most 64) and the bytes. A DM_VMS_STRUCT payload is
 * u32:version then COUNT bodies. Fields are loaded by name, so fields added in
 * a later version or dropped since load under the version rules. Every size,
 * count and nesting level read back is capped; a field whose kind, size or
 * count differs from the table is refused with the device and field named.
 * Nothing is written into a device until the whole section has been checked.
 */
#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#ifdef CONFIG_ZLIB
#include <zlib.h>
#endif

#include "hvmdm/vmstate.h"

#define VMS_MAGIC "HVMDMSTA"
#define VMS_MAGIC_LEN 8
#define VMS_FORMAT 1
#define VMS_NAME_MAX 64
#define VMS_PAYLOAD_MAX (16 * DM_MiB)
#define VMS_SECTIONS_MAX 1024
#define VMS_DEPTH_MAX 8

#define VMS_TAG_SECTION 'S'
#define VMS_TAG_FIELD 'F'
#define VMS_TAG_SUB 'U'
#define VMS_TAG_END 'E'

struct dm_vmstate_stream {
    bool writing;
    GByteArray *buf;       /* writer */
    unsigned nsections;
    GBytes *data;          /* reader */
    const uint8_t *p;
    size_t pos, end;       /* end: start of the CRC */
};

/* ---- CRC32 (IEEE 802.3, as zlib's crc32) --------------------------------- */

static uint32_t vms_crc32(const uint8_t *p, size_t len)
{
#ifdef CONFIG_ZLIB
    uLong crc = crc32(0L, Z_NULL, 0);

    while (len) {
        uInt n = len > UINT_MAX ? UINT_MAX : (uInt)len;

        crc = crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)crc;
#else
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
        }
    }
    return ~crc;
#endif
}

/* ---- writing ------------------------------------------------------------- */

static void put_u8(GByteArray *b, uint8_t v)
{
    g_byte_array_append(b, &v, 1);
}

static void put_le(GByteArray *b, uint64_t v, unsigned size)
{
    uint8_t tmp[8];

    for (unsigned i = 0; i < size; i++) {
        tmp[i] = (uint8_t)(v >> (8 * i));
    }
    g_byte_array_append(b, tmp, size);
}

static void put_u32(GByteArray *b, uint32_t v)
{
    put_le(b, v, 4);
}

static void patch_u32(GByteArray *b, size_t at, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        b->data[at + i] = (uint8_t)(v >> (8 * i));
    }
}

static bool put_str(GByteArray *b, const char *s, const char *what,
                    GError **errp)
{
    size_t n = strlen(s);

    if (n > VMS_NAME_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: name '%s' longer than %d bytes", what, s,
                    VMS_NAME_MAX);
        return false;
    }
    put_u8(b, (uint8_t)n);
    g_byte_array_append(b, (const uint8_t *)s, (guint)n);
    return true;
}

/* Host integer of SIZE bytes at P. */
static uint64_t host_uint(const void *p, size_t size)
{
    switch (size) {
    case 1: return *(const uint8_t *)p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static void host_set_uint(void *p, size_t size, uint64_t v)
{
    switch (size) {
    case 1: *(uint8_t *)p = (uint8_t)v; break;
    case 2: { uint16_t t = (uint16_t)v; memcpy(p, &t, 2); break; }
    case 4: { uint32_t t = (uint32_t)v; memcpy(p, &t, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

static bool int_size_ok(size_t size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

static bool save_body(GByteArray *b, const struct dm_vmstate *vmsd,
                      void *opaque, const char *path, int depth,
                      GError **errp);

static bool save_field(GByteArray *b, const struct dm_vmstate_field *f,
                       void *opaque, const char *path, int depth,
                       GError **errp)
{
    uint8_t *base = (uint8_t *)opaque + f->offset;
    size_t len_at, start;
    uint64_t len;

    put_u8(b, VMS_TAG_FIELD);
    if (!put_str(b, f->name, path, errp)) {
        return false;
    }
    put_u8(b, (uint8_t)f->kind);
    put_u32(b, f->kind == DM_VMS_STRUCT ? 0 : (uint32_t)f->size);
    put_u32(b, f->count);
    len_at = b->len;
    put_u32(b, 0);
    start = b->len;
    switch (f->kind) {
    case DM_VMS_UINT:
    case DM_VMS_INT:
        assert(int_size_ok(f->size));
        for (unsigned i = 0; i < f->count; i++) {
            put_le(b, host_uint(base + i * f->size, f->size),
                   (unsigned)f->size);
        }
        break;
    case DM_VMS_BOOL:
        for (unsigned i = 0; i < f->count; i++) {
            put_u8(b, *(bool *)(base + i * f->size) ? 1 : 0);
        }
        break;
    case DM_VMS_BUFFER:
        g_byte_array_append(b, base, (guint)(f->size * f->count));
        break;
    case DM_VMS_STRUCT:
        assert(f->vmsd);
        put_u32(b, (uint32_t)f->vmsd->version);
        for (unsigned i = 0; i < f->count; i++) {
            g_autofree char *sub = g_strdup_printf("%s.%s[%u]", path,
                                                   f->name, i);

            if (!save_body(b, f->vmsd, base + i * f->size, sub, depth + 1,
                           errp)) {
                return false;
            }
        }
        break;
    default:
        g_assert_not_reached();
    }
    len = b->len - start;
    if (len > VMS_PAYLOAD_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: field '%s': %" PRIu64 " bytes, more than the %u "
                    "a stream may hold", path, f->name, len,
                    (unsigned)VMS_PAYLOAD_MAX);
        return false;
    }
    patch_u32(b, len_at, (uint32_t)len);
    return true;
}

static bool save_body(GByteArray *b, const struct dm_vmstate *vmsd,
                      void *opaque, const char *path, int depth,
                      GError **errp)
{
    assert(depth <= VMS_DEPTH_MAX);
    if (vmsd->pre_save && !vmsd->pre_save(opaque, errp)) {
        return false;
    }
    for (const struct dm_vmstate_field *f = vmsd->fields;
         f && f->kind != DM_VMS_END; f++) {
        if (!save_field(b, f, opaque, path, depth, errp)) {
            return false;
        }
    }
    for (const struct dm_vmstate *const *s = vmsd->subsections; s && *s; s++) {
        g_autofree char *sub = NULL;

        if ((*s)->needed && !(*s)->needed(opaque)) {
            continue;
        }
        sub = g_strdup_printf("%s.%s", path, (*s)->name);
        put_u8(b, VMS_TAG_SUB);
        if (!put_str(b, (*s)->name, path, errp)) {
            return false;
        }
        put_u32(b, (uint32_t)(*s)->version);
        if (!save_body(b, *s, opaque, sub, depth + 1, errp)) {
            return false;
        }
    }
    put_u8(b, VMS_TAG_END);
    return true;
}

struct dm_vmstate_stream *dm_vmstate_writer_new(void)
{
    struct dm_vmstate_stream *w = g_new0(struct dm_vmstate_stream, 1);

    w->writing = true;
    w->buf = g_byte_array_new();
    g_byte_array_append(w->buf, (const uint8_t *)VMS_MAGIC, VMS_MAGIC_LEN);
    put_u32(w->buf, VMS_FORMAT);
    return w;
}

bool dm_vmstate_save_section(struct dm_vmstate_stream *w, const char *name,
                             const char *id, const struct dm_vmstate *vmsd,
                             void *opaque, GError **errp)
{
    g_autofree char *path = g_strdup_printf("%s[%s]", name, id ? id : "");
    guint start = w->buf->len;

    assert(w->writing);
    if (w->nsections >= VMS_SECTIONS_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: more than %d sections in one stream", path,
                    VMS_SECTIONS_MAX);
        return false;
    }
    put_u8(w->buf, VMS_TAG_SECTION);
    if (!put_str(w->buf, name, path, errp) ||
        !put_str(w->buf, id ? id : "", path, errp)) {
        g_byte_array_set_size(w->buf, start);
        return false;
    }
    put_u32(w->buf, (uint32_t)vmsd->version);
    if (!save_body(w->buf, vmsd, opaque, path, 0, errp)) {
        g_byte_array_set_size(w->buf, start);
        return false;
    }
    w->nsections++;
    return true;
}

GBytes *dm_vmstate_writer_finish(struct dm_vmstate_stream *w)
{
    GByteArray *b = w->buf;

    assert(w->writing);
    put_u32(b, vms_crc32(b->data, b->len));
    g_free(w);
    return g_byte_array_free_to_bytes(b);
}

/* ---- reading: a bounded cursor ------------------------------------------- */

struct vms_cur {
    const uint8_t *p;
    size_t pos, end;
};

static bool cur_need(struct vms_cur *c, size_t n, GError **errp)
{
    if (c->end - c->pos < n) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "state stream truncated at offset %zu", c->pos);
        return false;
    }
    return true;
}

static bool cur_u8(struct vms_cur *c, uint8_t *v, GError **errp)
{
    if (!cur_need(c, 1, errp)) {
        return false;
    }
    *v = c->p[c->pos++];
    return true;
}

static uint64_t le_get(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static bool cur_u32(struct vms_cur *c, uint32_t *v, GError **errp)
{
    if (!cur_need(c, 4, errp)) {
        return false;
    }
    *v = (uint32_t)le_get(c->p + c->pos, 4);
    c->pos += 4;
    return true;
}

/* A str: returns a NUL-terminated copy in OUT (VMS_NAME_MAX + 1 bytes). */
static bool cur_str(struct vms_cur *c, char *out, GError **errp)
{
    uint8_t n;

    if (!cur_u8(c, &n, errp)) {
        return false;
    }
    if (n > VMS_NAME_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "state stream: name of %u bytes at offset %zu (at most "
                    "%d)", n, c->pos - 1, VMS_NAME_MAX);
        return false;
    }
    if (!cur_need(c, n, errp)) {
        return false;
    }
    memcpy(out, c->p + c->pos, n);
    out[n] = '\0';
    c->pos += n;
    return true;
}

/* ---- reading: a body parsed into records --------------------------------- */

struct vms_field_rec {
    char name[VMS_NAME_MAX + 1];
    uint8_t kind;
    uint32_t esize, count, len;
    const uint8_t *payload;
};

struct vms_body;

struct vms_sub_rec {
    char name[VMS_NAME_MAX + 1];
    uint32_t version;
    struct vms_body *body;
};

struct vms_body {
    GArray *fields;  /* struct vms_field_rec */
    GArray *subs;    /* struct vms_sub_rec */
};

static void vms_body_free(struct vms_body *b)
{
    if (!b) {
        return;
    }
    for (guint i = 0; i < b->subs->len; i++) {
        vms_body_free(g_array_index(b->subs, struct vms_sub_rec, i).body);
    }
    g_array_free(b->fields, TRUE);
    g_array_free(b->subs, TRUE);
    g_free(b);
}

static bool body_has(struct vms_body *b, const char *name)
{
    for (guint i = 0; i < b->fields->len; i++) {
        if (!strcmp(g_array_index(b->fields, struct vms_field_rec, i).name,
                    name)) {
            return true;
        }
    }
    for (guint i = 0; i < b->subs->len; i++) {
        if (!strcmp(g_array_index(b->subs, struct vms_sub_rec, i).name,
                    name)) {
            return true;
        }
    }
    return false;
}

static struct vms_body *parse_body(struct vms_cur *c, int depth,
                                   GError **errp)
{
    struct vms_body *b = g_new0(struct vms_body, 1);

    b->fields = g_array_new(FALSE, TRUE, sizeof(struct vms_field_rec));
    b->subs = g_array_new(FALSE, TRUE, sizeof(struct vms_sub_rec));
    if (depth > VMS_DEPTH_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "state stream: nesting deeper than %d at offset %zu",
                    VMS_DEPTH_MAX, c->pos);
        goto fail;
    }
    for (;;) {
        uint8_t tag;

        if (!cur_u8(c, &tag, errp)) {
            goto fail;
        }
        if (tag == VMS_TAG_END) {
            return b;
        }
        if (tag == VMS_TAG_FIELD) {
            struct vms_field_rec f = { { 0 } };

            if (!cur_str(c, f.name, errp) || !cur_u8(c, &f.kind, errp) ||
                !cur_u32(c, &f.esize, errp) || !cur_u32(c, &f.count, errp) ||
                !cur_u32(c, &f.len, errp)) {
                goto fail;
            }
            if (f.len > VMS_PAYLOAD_MAX) {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "state stream: field '%s' of %u bytes (at most "
                            "%u)", f.name, f.len, (unsigned)VMS_PAYLOAD_MAX);
                goto fail;
            }
            if (!cur_need(c, f.len, errp)) {
                goto fail;
            }
            f.payload = c->p + c->pos;
            c->pos += f.len;
            if (body_has(b, f.name)) {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "state stream: field '%s' twice", f.name);
                goto fail;
            }
            g_array_append_val(b->fields, f);
        } else if (tag == VMS_TAG_SUB) {
            struct vms_sub_rec s = { { 0 } };

            if (!cur_str(c, s.name, errp) || !cur_u32(c, &s.version, errp)) {
                goto fail;
            }
            if (body_has(b, s.name)) {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "state stream: subsection '%s' twice", s.name);
                goto fail;
            }
            s.body = parse_body(c, depth + 1, errp);
            if (!s.body) {
                goto fail;
            }
            g_array_append_val(b->subs, s);
        } else {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "state stream: unknown record 0x%x at offset %zu", tag,
                        c->pos - 1);
            goto fail;
        }
    }
fail:
    vms_body_free(b);
    return NULL;
}

/* ---- reading: applying a body to a state table --------------------------- */

static bool check_version(const struct dm_vmstate *vmsd, uint32_t v,
                          const char *path, GError **errp)
{
    if (v > INT_MAX || (int)v > vmsd->version) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: stream version %u is newer than %d, the newest this "
                    "build loads", path, v, vmsd->version);
        return false;
    }
    if ((int)v < vmsd->min_version) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: stream version %u is older than %d, the oldest this "
                    "build loads", path, v, vmsd->min_version);
        return false;
    }
    return true;
}

static bool load_body(const struct dm_vmstate *vmsd, int version,
                      struct vms_body *b, void *opaque, bool apply,
                      const char *path, int depth, GError **errp);

static bool load_struct_field(const struct dm_vmstate_field *f,
                              const struct vms_field_rec *r, uint8_t *base,
                              bool apply, const char *path, int depth,
                              GError **errp)
{
    struct vms_cur c = { .p = r->payload, .pos = 0, .end = r->len };
    uint32_t v;
    bool ok = true;
    g_autofree char *fpath = g_strdup_printf("%s.%s", path, f->name);

    if (!cur_u32(&c, &v, errp) || !check_version(f->vmsd, v, fpath, errp)) {
        return false;
    }
    for (unsigned i = 0; ok && i < f->count; i++) {
        g_autofree char *epath = g_strdup_printf("%s[%u]", fpath, i);
        struct vms_body *eb = parse_body(&c, depth + 1, errp);

        ok = eb && load_body(f->vmsd, (int)v, eb, base + i * f->size, apply,
                             epath, depth + 1, errp);
        vms_body_free(eb);
    }
    if (ok && c.pos != c.end) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: %zu unexpected bytes after the elements", fpath,
                    c.end - c.pos);
        ok = false;
    }
    return ok;
}

static const char *kind_name(unsigned k)
{
    static const char *const names[] = {
        [DM_VMS_UINT] = "uint", [DM_VMS_INT] = "int", [DM_VMS_BOOL] = "bool",
        [DM_VMS_BUFFER] = "buffer", [DM_VMS_STRUCT] = "struct",
    };

    return k < DM_ARRAY_SIZE(names) && names[k] ? names[k] : "unknown";
}

static bool load_field(const struct dm_vmstate_field *f,
                       const struct vms_field_rec *r, void *opaque,
                       bool apply, const char *path, int depth, GError **errp)
{
    uint8_t *base = (uint8_t *)opaque + f->offset;

    if (r->kind != f->kind) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: field '%s': %s in stream, %s expected", path,
                    f->name, kind_name(r->kind), kind_name(f->kind));
        return false;
    }
    if (r->count != f->count) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: field '%s': %u elements in stream, %u expected", path,
                    f->name, r->count, f->count);
        return false;
    }
    if (f->kind == DM_VMS_STRUCT) {
        return load_struct_field(f, r, base, apply, path, depth, errp);
    }
    if (r->esize != f->size) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: field '%s': size %u in stream, %zu expected", path,
                    f->name, r->esize, f->size);
        return false;
    }
    if ((uint64_t)r->esize * r->count != r->len) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: field '%s': %u bytes in stream, %" PRIu64 " expected",
                    path, f->name, r->len, (uint64_t)r->esize * r->count);
        return false;
    }
    switch (f->kind) {
    case DM_VMS_UINT:
    case DM_VMS_INT:
        for (unsigned i = 0; apply && i < f->count; i++) {
            host_set_uint(base + i * f->size, f->size,
                          le_get(r->payload + i * f->size, (unsigned)f->size));
        }
        break;
    case DM_VMS_BOOL:
        for (unsigned i = 0; i < f->count; i++) {
            uint8_t v = r->payload[i];

            if (v > 1) {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "%s: field '%s'[%u]: 0x%x is not a bool", path,
                            f->name, i, v);
                return false;
            }
            if (apply) {
                *(bool *)(base + i * f->size) = v;
            }
        }
        break;
    case DM_VMS_BUFFER:
        if (apply) {
            memcpy(base, r->payload, r->len);
        }
        break;
    default:
        g_assert_not_reached();
    }
    return true;
}

static const struct vms_field_rec *body_field(struct vms_body *b,
                                              const char *name)
{
    for (guint i = 0; i < b->fields->len; i++) {
        struct vms_field_rec *r =
            &g_array_index(b->fields, struct vms_field_rec, i);

        if (strcmp(r->name, name) == 0) {
            return r;
        }
    }
    return NULL;
}

static bool load_body(const struct dm_vmstate *vmsd, int version,
                      struct vms_body *b, void *opaque, bool apply,
                      const char *path, int depth, GError **errp)
{
    for (const struct dm_vmstate_field *f = vmsd->fields;
         f && f->kind != DM_VMS_END; f++) {
        const struct vms_field_rec *r;

        if (f->version > version) {
            continue;  /* added later: keeps its reset value */
        }
        r = body_field(b, f->name);
        if (!r) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: field '%s' missing from the stream (version %d)",
                        path, f->name, version);
            return false;
        }
        if (!load_field(f, r, opaque, apply, path, depth, errp)) {
            return false;
        }
    }
    /* Stream fields the table no longer has were removed: ignored. */
    for (guint i = 0; i < b->subs->len; i++) {
        struct vms_sub_rec *s = &g_array_index(b->subs, struct vms_sub_rec, i);
        const struct dm_vmstate *sd = NULL;
        g_autofree char *spath = g_strdup_printf("%s.%s", path, s->name);

        for (const struct dm_vmstate *const *t = vmsd->subsections; t && *t;
             t++) {
            if (strcmp((*t)->name, s->name) == 0) {
                sd = *t;
                break;
            }
        }
        if (!sd) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: unknown subsection '%s'", path, s->name);
            return false;
        }
        if (!check_version(sd, s->version, spath, errp) ||
            !load_body(sd, (int)s->version, s->body, opaque, apply, spath,
                       depth + 1, errp)) {
            return false;
        }
    }
    if (apply && vmsd->post_load) {
        GError *err = NULL;

        if (!vmsd->post_load(opaque, version, &err)) {
            if (err) {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "%s: %s", path,
                            err->message);
                g_error_free(err);
            } else {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "%s: loaded state refused", path);
            }
            return false;
        }
    }
    return true;
}

struct dm_vmstate_stream *dm_vmstate_reader_new(GBytes *data, GError **errp)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(data, &len);
    struct dm_vmstate_stream *r;
    uint32_t format, crc;

    if (!p || len < VMS_MAGIC_LEN + 8) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "state stream too short (%zu bytes)", (size_t)len);
        return NULL;
    }
    if (memcmp(p, VMS_MAGIC, VMS_MAGIC_LEN) != 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "not an hvmdm state stream (bad magic)");
        return NULL;
    }
    format = (uint32_t)le_get(p + VMS_MAGIC_LEN, 4);
    if (format != VMS_FORMAT) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "state stream format %u, this build reads %d", format,
                    VMS_FORMAT);
        return NULL;
    }
    crc = (uint32_t)le_get(p + len - 4, 4);
    if (crc != vms_crc32(p, len - 4)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "state stream corrupt: CRC mismatch (0x%x stored, 0x%x "
                    "computed)", crc, vms_crc32(p, len - 4));
        return NULL;
    }
    r = g_new0(struct dm_vmstate_stream, 1);
    r->data = g_bytes_ref(data);
    r->p = p;
    r->pos = VMS_MAGIC_LEN + 4;
    r->end = len - 4;
    return r;
}

bool dm_vmstate_load_section(struct dm_vmstate_stream *r, const char *name,
                             const char *id, const struct dm_vmstate *vmsd,
                             void *opaque, GError **errp)
{
    g_autofree char *path = g_strdup_printf("%s[%s]", name, id ? id : "");
    struct vms_cur c = { .p = r->p, .pos = r->pos, .end = r->end };
    char sname[VMS_NAME_MAX + 1], sid[VMS_NAME_MAX + 1];
    struct vms_body *b;
    uint32_t version;
    uint8_t tag;
    bool ok;

    assert(!r->writing);
    if (c.pos == c.end) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: missing from the state stream", path);
        return false;
    }
    if (r->nsections >= VMS_SECTIONS_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "state stream: more than %d sections", VMS_SECTIONS_MAX);
        return false;
    }
    if (!cur_u8(&c, &tag, errp)) {
        return false;
    }
    if (tag != VMS_TAG_SECTION) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "state stream: unknown record 0x%x at offset %zu", tag,
                    c.pos - 1);
        return false;
    }
    if (!cur_str(&c, sname, errp) || !cur_str(&c, sid, errp) ||
        !cur_u32(&c, &version, errp)) {
        return false;
    }
    if (strcmp(sname, name) != 0 || strcmp(sid, id ? id : "") != 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: the state stream has %s[%s] in its place", path,
                    sname, sid);
        return false;
    }
    if (!check_version(vmsd, version, path, errp)) {
        return false;
    }
    b = parse_body(&c, 0, errp);
    if (!b) {
        g_prefix_error(errp, "%s: ", path);
        return false;
    }
    /* Check everything, then write: a refused stream leaves the device as
     * it was. */
    ok = load_body(vmsd, (int)version, b, opaque, false, path, 0, errp) &&
         load_body(vmsd, (int)version, b, opaque, true, path, 0, errp);
    vms_body_free(b);
    if (ok) {
        r->pos = c.pos;
        r->nsections++;
    }
    return ok;
}

bool dm_vmstate_reader_at_end(struct dm_vmstate_stream *r)
{
    return r->pos == r->end;
}

void dm_vmstate_stream_free(struct dm_vmstate_stream *s)
{
    if (!s) {
        return;
    }
    if (s->buf) {
        g_byte_array_free(s->buf, TRUE);
    }
    if (s->data) {
        g_bytes_unref(s->data);
    }
    g_free(s);
}

/* ---- text dump ----------------------------------------------------------- */

#define DUMP_ELEMS_MAX 64
#define DUMP_BYTES_MAX 64

static void dump_value(GString *out, const struct vms_field_rec *f)
{
    bool many = f->count != 1;
    unsigned n = f->count;

    if (f->kind == DM_VMS_BUFFER) {
        unsigned shown = MIN(f->len, DUMP_BYTES_MAX);

        for (unsigned i = 0; i < shown; i++) {
            g_string_append_printf(out, "%02x", f->payload[i]);
        }
        if (shown < f->len) {
            g_string_append_printf(out, "... (%u bytes, crc32 0x%08x)",
                                   f->len, vms_crc32(f->payload, f->len));
        }
        return;
    }
    if (many) {
        g_string_append_c(out, '{');
    }
    for (unsigned i = 0; i < n && i < DUMP_ELEMS_MAX; i++) {
        const uint8_t *e = f->payload + (size_t)i * f->esize;
        uint64_t v = le_get(e, f->esize);

        if (i) {
            g_string_append(out, ", ");
        }
        if (f->kind == DM_VMS_BOOL) {
            g_string_append(out, v == 0 ? "false" : v == 1 ? "true" : "?");
        } else if (f->kind == DM_VMS_INT) {
            int64_t s = f->esize == 8 ? (int64_t)v
                        : (int64_t)(v << (64 - 8 * f->esize)) >>
                              (64 - 8 * f->esize);
            g_string_append_printf(out, "%" PRId64, s);
        } else {
            g_string_append_printf(out, "0x%" PRIx64, v);
        }
    }
    if (n > DUMP_ELEMS_MAX) {
        g_string_append_printf(out, ", ... (%u elements)", n);
    }
    if (many) {
        g_string_append_c(out, '}');
    }
}

static bool dump_body(GString *out, struct vms_cur *c, const char *prefix,
                      int depth, GError **errp);

static bool dump_field(GString *out, const struct vms_field_rec *f,
                       const char *prefix, int depth, GError **errp)
{
    struct vms_cur sc = { .p = f->payload, .pos = 0, .end = f->len };
    uint32_t v;

    if (f->kind == DM_VMS_STRUCT) {
        if (!cur_u32(&sc, &v, errp)) {
            return false;
        }
        for (uint32_t i = 0; i < f->count; i++) {
            g_autofree char *p =
                f->count == 1 ? g_strdup_printf("%s.%s", prefix, f->name)
                              : g_strdup_printf("%s.%s[%u]", prefix, f->name,
                                                i);

            if (!dump_body(out, &sc, p, depth + 1, errp)) {
                return false;
            }
        }
        return true;
    }
    g_string_append_printf(out, "%s.%s = ", prefix, f->name);
    if (f->kind > DM_VMS_STRUCT ||
        (f->kind != DM_VMS_BUFFER &&
         (!int_size_ok(f->esize) || (uint64_t)f->esize * f->count > f->len))) {
        g_string_append_printf(out, "<%u bytes of kind %u>", f->len, f->kind);
    } else {
        dump_value(out, f);
    }
    g_string_append_c(out, '\n');
    return true;
}

static bool dump_body(GString *out, struct vms_cur *c, const char *prefix,
                      int depth, GError **errp)
{
    /* Parse first so a malformed body is refused as a loader would. */
    size_t start = c->pos;
    struct vms_body *b = parse_body(c, depth, errp);
    struct vms_cur rc;

    if (!b) {
        return false;
    }
    vms_body_free(b);
    rc = (struct vms_cur){ .p = c->p, .pos = start, .end = c->pos };
    for (;;) {
        uint8_t tag;
        struct vms_field_rec f = { { 0 } };
        char name[VMS_NAME_MAX + 1];
        uint32_t v;

        cur_u8(&rc, &tag, NULL);
        if (tag == VMS_TAG_END) {
            return true;
        }
        if (tag == VMS_TAG_SUB) {
            g_autofree char *p = NULL;

            cur_str(&rc, name, NULL);
            cur_u32(&rc, &v, NULL);
            p = g_strdup_printf("%s.%s", prefix, name);
            g_string_append_printf(out, "# %s version %u\n", p, v);
            if (!dump_body(out, &rc, p, depth + 1, errp)) {
                return false;
            }
            continue;
        }
        cur_str(&rc, f.name, NULL);
        cur_u8(&rc, &f.kind, NULL);
        cur_u32(&rc, &f.esize, NULL);
        cur_u32(&rc, &f.count, NULL);
        cur_u32(&rc, &f.len, NULL);
        f.payload = rc.p + rc.pos;
        rc.pos += f.len;
        if (!dump_field(out, &f, prefix, depth, errp)) {
            return false;
        }
    }
}

char *dm_vmstate_dump(GBytes *data, GError **errp)
{
    struct dm_vmstate_stream *r = dm_vmstate_reader_new(data, errp);
    GString *out;

    if (!r) {
        return NULL;
    }
    out = g_string_new(NULL);
    while (r->pos < r->end) {
        struct vms_cur c = { .p = r->p, .pos = r->pos, .end = r->end };
        char name[VMS_NAME_MAX + 1], id[VMS_NAME_MAX + 1];
        g_autofree char *prefix = NULL;
        uint32_t version;
        uint8_t tag;

        if (!cur_u8(&c, &tag, errp)) {
            goto fail;
        }
        if (tag != VMS_TAG_SECTION) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "state stream: unknown record 0x%x at offset %zu",
                        tag, c.pos - 1);
            goto fail;
        }
        if (!cur_str(&c, name, errp) || !cur_str(&c, id, errp) ||
            !cur_u32(&c, &version, errp)) {
            goto fail;
        }
        prefix = g_strdup_printf("%s[%s]", name, id);
        g_string_append_printf(out, "# %s version %u\n", prefix, version);
        if (!dump_body(out, &c, prefix, 0, errp)) {
            goto fail;
        }
        if (++r->nsections > VMS_SECTIONS_MAX) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "state stream: more than %d sections",
                        VMS_SECTIONS_MAX);
            goto fail;
        }
        r->pos = c.pos;
    }
    dm_vmstate_stream_free(r);
    return g_string_free(out, FALSE);
fail:
    dm_vmstate_stream_free(r);
    g_string_free(out, TRUE);
    return NULL;
}
