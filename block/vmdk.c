/*
 * vmdk.c: VMware virtual disks: the descriptor (a text file or embedded in a
 * monolithic sparse extent) and its extents (FLAT/VMFS, SPARSE, ZERO with
 * RW/RDONLY/NOACCESS), reads and writes split across extents, sparse grains
 * allocated on write, and the parent disk named by parentFileNameHint.
 * Spec: VMware Virtual Disk Format 1.1. Sparse extents: vmdk-sparse.c;
 * descriptor text: vmdk-desc.c; creating images: vmdk-create.c.
 *
 * Left out: writing stream-optimized images, ESX COWD/SE sparse extents,
 * raw device map extents, discard of sparse grains (discard is passed to
 * flat extents only).
 */
#include <sys/stat.h>
#include <unistd.h>

#include "hvmdm/log.h"
#include "hvmdm/trace.h"
#include "vmdk.h"

#define BAD(...)                                                    \
    do {                                                            \
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, __VA_ARGS__); \
        return false;                                               \
    } while (0)

#define VMDK_COWD_MAGIC "COWD"

/* ---- open and close ----------------------------------------------------- */

static void vmdk_free(struct vmdk *s)
{
    for (unsigned i = 0; i < s->n_ext; i++) {
        struct vmdk_extent *e = &s->ext[i];
        if (e->sp) {
            vmdk_sparse_close(e->sp);
            g_free(e->sp);
        }
        if (e->own_open) {
            blk_file_close(&e->own);
        }
    }
    g_free(s->ext);
    g_free(s->desc_text);
    blk_close(s->parent);
    vmdk_desc_free(&s->desc);
    g_mutex_clear(&s->lock);
    g_free(s);
}

static bool vmdk_read_embedded_desc(struct vmdk *s, struct vmdk_sparse *sp,
                                    GError **errp)
{
    size_t len = (size_t)(sp->desc_size * VMDK_SECTOR);
    char *text = g_malloc(len);
    int ret = blk_file_pread(sp->f, sp->desc_offset * VMDK_SECTOR, text, len);
    bool ok;

    if (ret < 0) {
        g_free(text);
        g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                    "%s: cannot read the vmdk descriptor: %s", s->b->filename,
                    g_strerror(-ret));
        return false;
    }
    ok = vmdk_desc_parse(&s->desc, s->b->filename, text, len, errp);
    s->has_desc = ok;
    s->desc_text = g_strndup(text, len);
    s->desc_pos = sp->desc_offset * VMDK_SECTOR;
    s->desc_room = len;
    s->desc_embedded = true;
    g_free(text);
    return ok;
}

/* A monolithic sparse image: the file is the only extent, its embedded
 * descriptor (if any) gives the parent and the CIDs. */
static bool vmdk_open_monolithic(struct vmdk *s, GError **errp)
{
    struct vmdk_extent *e;

    s->ext = g_new0(struct vmdk_extent, 1);
    s->n_ext = 1;
    e = &s->ext[0];
    e->type = VMDK_EXTENT_SPARSE;
    e->access = VMDK_ACCESS_RW;
    e->f = &s->b->file;
    e->sp = g_new0(struct vmdk_sparse, 1);
    if (!vmdk_sparse_open(e->sp, e->f, s->b->filename, !s->b->read_only,
                          errp)) {
        return false;
    }
    e->len = e->sp->capacity * VMDK_SECTOR;
    if (e->sp->desc_offset && !vmdk_read_embedded_desc(s, e->sp, errp)) {
        return false;
    }
    return true;
}

static bool same_file(struct blk_file *a, struct blk_file *b)
{
    struct stat sa, sb;

    return fstat(a->fd, &sa) == 0 && fstat(b->fd, &sb) == 0 &&
           sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Refuse an extent that is the descriptor itself, or a sparse extent file
 * that another extent uses too (two maps over one file). */
static bool vmdk_check_extent_file(struct vmdk *s, unsigned n, GError **errp)
{
    struct vmdk_extent *e = &s->ext[n];

    if (same_file(e->f, &s->b->file)) {
        BAD("%s: vmdk extent %u \"%s\" is the descriptor file itself",
            s->b->filename, n + 1, s->desc.extents[n].filename);
    }
    for (unsigned i = 0; i < n; i++) {
        struct vmdk_extent *o = &s->ext[i];
        if (o->own_open && same_file(e->f, o->f) &&
            (e->type == VMDK_EXTENT_SPARSE || o->type == VMDK_EXTENT_SPARSE)) {
            BAD("%s: vmdk extents %u and %u use the same file \"%s\"",
                s->b->filename, i + 1, n + 1, s->desc.extents[n].filename);
        }
    }
    return true;
}

static bool vmdk_open_extent(struct vmdk *s, unsigned n, GError **errp)
{
    const struct vmdk_desc_extent *d = &s->desc.extents[n];
    struct vmdk_extent *e = &s->ext[n];
    bool ro = s->b->read_only || d->access != VMDK_ACCESS_RW;
    char *path;
    bool ok;

    e->type = d->type;
    e->access = d->access;
    e->len = d->sectors * VMDK_SECTOR;
    e->flat_off = d->offset * VMDK_SECTOR;
    if (d->type == VMDK_EXTENT_ZERO || d->access == VMDK_ACCESS_NOACCESS) {
        return true;
    }
    if (g_path_is_absolute(d->filename)) {
        path = g_strdup(d->filename);
    } else {
        char *dir = g_path_get_dirname(s->b->filename);
        path = g_build_filename(dir, d->filename, NULL);
        g_free(dir);
    }
    ok = blk_file_open(&e->own, path, ro, s->b->opts.cache, errp);
    g_free(path);
    if (!ok) {
        return false;
    }
    e->own_open = true;
    e->f = &e->own;
    if (!vmdk_check_extent_file(s, n, errp)) {
        return false;
    }
    if (d->type != VMDK_EXTENT_SPARSE) {
        return true;
    }
    e->sp = g_new0(struct vmdk_sparse, 1);
    if (!vmdk_sparse_open(e->sp, e->f, e->own.filename, !ro, errp)) {
        return false;
    }
    if (e->sp->capacity < d->sectors) {
        BAD("%s: vmdk descriptor line %u: extent of %" PRIu64 " sectors, but "
            "the capacity of \"%s\" is %" PRIu64 " sectors",
            s->b->filename, d->line, d->sectors, d->filename, e->sp->capacity);
    }
    return true;
}

/* A descriptor file naming its extents. */
static bool vmdk_open_descriptor(struct vmdk *s, uint64_t fsize, GError **errp)
{
    const char *fn = s->b->filename;
    uint64_t start = 0;
    char *text;
    int ret;

    if (fsize > VMDK_DESC_MAX) {
        BAD("%s: not a vmdk image: no sparse extent magic, and %" PRIu64
            " bytes is too large for a descriptor",
            fn, fsize);
    }
    text = g_malloc(MAX(fsize, 1));
    ret = blk_file_pread(&s->b->file, 0, text, fsize);
    if (ret < 0) {
        g_free(text);
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot read: %s", fn,
                    g_strerror(-ret));
        return false;
    }
    s->has_desc = vmdk_desc_parse(&s->desc, fn, text, fsize, errp);
    s->desc_text = g_strndup(text, fsize);
    s->desc_room = VMDK_DESC_MAX;
    g_free(text);
    if (!s->has_desc) {
        return false;
    }
    if (!s->desc.create_type) {
        BAD("%s: vmdk descriptor: createType missing", fn);
    }
    if (s->desc.n_extents == 0) {
        BAD("%s: vmdk descriptor (createType %s) lists no extents", fn,
            s->desc.create_type);
    }
    s->ext = g_new0(struct vmdk_extent, s->desc.n_extents);
    for (unsigned i = 0; i < s->desc.n_extents; i++) {
        s->n_ext = i + 1;
        s->ext[i].start = start;
        if (!vmdk_open_extent(s, i, errp)) {
            return false;
        }
        start += s->ext[i].len;
        if (start > VMDK_MAX_SECTORS * VMDK_SECTOR) {
            BAD("%s: vmdk descriptor: extents add up to more than 64 TiB", fn);
        }
    }
    return true;
}

static bool vmdk_open_parent(struct vmdk *s, GError **errp)
{
    const char *hint = s->has_desc ? s->desc.parent_hint : NULL;
    struct vmdk *p;
    char *path;

    if (!hint) {
        return true;
    }
    if (g_path_is_absolute(hint)) {
        path = g_strdup(hint);
    } else {
        char *dir = g_path_get_dirname(s->b->filename);
        path = g_build_filename(dir, hint, NULL);
        g_free(dir);
    }
    s->parent = blk_open_backing(s->b, path, BLK_FORMAT_VMDK, errp);
    g_free(path);
    if (!s->parent) {
        g_prefix_error(errp, "%s: parentFileNameHint: ", s->b->filename);
        return false;
    }
    p = s->parent->drv_state;
    if (s->desc.parent_cid != VMDK_NO_CID && p->has_desc && p->desc.has_cid &&
        p->desc.cid != s->desc.parent_cid) {
        BAD("%s: vmdk descriptor: parentCID %08x does not match the CID "
            "%08x of the parent \"%s\" (the parent changed after this image "
            "was made)",
            s->b->filename, s->desc.parent_cid, p->desc.cid, hint);
    }
    return true;
}

static bool vmdk_open(struct blk *b, GError **errp)
{
    struct vmdk *s = g_new0(struct vmdk, 1);
    uint8_t magic[4] = { 0 };
    int64_t fsize = blk_file_size(&b->file);
    bool ok;
    int ret;

    s->b = b;
    g_mutex_init(&s->lock);
    if (fsize < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot get size: %s",
                    b->filename, g_strerror((int)-fsize));
        vmdk_free(s);
        return false;
    }
    ret = blk_file_pread(&b->file, 0, magic, sizeof(magic));
    if (ret < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot read: %s",
                    b->filename, g_strerror(-ret));
        vmdk_free(s);
        return false;
    }
    if (memcmp(magic, "KDMV", 4) == 0) {
        ok = vmdk_open_monolithic(s, errp);
    } else if (memcmp(magic, VMDK_COWD_MAGIC, 4) == 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: ESX sparse (COWD) vmdk extents are not supported",
                    b->filename);
        ok = false;
    } else {
        ok = vmdk_open_descriptor(s, (uint64_t)fsize, errp);
    }
    ok = ok && vmdk_open_parent(s, errp);
    if (!ok) {
        vmdk_free(s);
        return false;
    }
    b->size =
        s->n_ext ? s->ext[s->n_ext - 1].start + s->ext[s->n_ext - 1].len : 0;
    b->drv_state = s;
    dm_trace(vmdk_open, "%s type=%s extents=%u parent=%s", b->filename,
             s->has_desc && s->desc.create_type ? s->desc.create_type : "-",
             s->n_ext, s->parent ? blk_filename(s->parent) : "-");
    return true;
}

static void vmdk_close(struct blk *b)
{
    struct vmdk *s = b->drv_state;

    if (!b->read_only) {
        g_mutex_lock(&s->lock);
        for (unsigned i = 0; i < s->n_ext; i++) {
            struct vmdk_extent *e = &s->ext[i];
            if (e->sp && e->access == VMDK_ACCESS_RW &&
                (vmdk_sparse_trim(e->sp) < 0 || blk_file_flush(e->f) < 0)) {
                dm_warn("%s: writing vmdk extent %u on close failed",
                        b->filename, i + 1);
            }
        }
        g_mutex_unlock(&s->lock);
    }
    vmdk_free(s);
}

/* ---- requests ----------------------------------------------------------- */

/* The extent holding byte OFF (< the disk size). */
static struct vmdk_extent *vmdk_find(struct vmdk *s, uint64_t off)
{
    unsigned lo = 0, hi = s->n_ext;

    while (hi - lo > 1) {
        unsigned mid = lo + (hi - lo) / 2;
        if (s->ext[mid].start <= off) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    /* skip empty extents that share a start with the next one */
    while (lo + 1 < s->n_ext && off >= s->ext[lo].start + s->ext[lo].len) {
        lo++;
    }
    return &s->ext[lo];
}

/* Bytes [off, off+len) of the parent disk, zeros where it has none. */
static int vmdk_read_parent(struct vmdk *s, uint64_t off,
                            const struct iovec *iov, int niov, uint64_t len)
{
    uint64_t psize = s->parent ? blk_size(s->parent) : 0;
    uint64_t n = off < psize ? MIN(len, psize - off) : 0;
    int ret;

    if (n) {
        struct iovec *sub = g_new(struct iovec, niov);
        int nsub = blk_iov_slice(iov, niov, 0, n, sub);
        ret = blk_preadv_sync(s->parent, off, sub, nsub);
        g_free(sub);
        if (ret < 0) {
            return ret;
        }
    }
    blk_iov_memset(iov, niov, n, 0, len - n);
    return 0;
}

/* Bytes [off, off+len) of sparse extent E (offsets inside the extent);
 * the lock is held. */
static int vmdk_read_sparse(struct vmdk *s, struct vmdk_extent *e, uint64_t off,
                            const struct iovec *iov, int niov, uint64_t len)
{
    struct vmdk_sparse *sp = e->sp;
    struct iovec *sub = g_new(struct iovec, niov);
    uint64_t pos = 0;
    int ret = 0;

    while (pos < len && ret == 0) {
        uint64_t x = off + pos, g = x / sp->grain_bytes;
        uint64_t co = x % sp->grain_bytes,
                 n = MIN(len - pos, sp->grain_bytes - co);
        enum vmdk_grain_kind kind, k2;
        uint64_t sector, s2;
        int nsub;

        ret = vmdk_sparse_lookup(sp, g, &kind, &sector);
        if (ret < 0) {
            break;
        }
        /* Extend over following grains that read the same way. */
        while (kind != VMDK_GRAIN_COMPRESSED && pos + n < len &&
               vmdk_sparse_lookup(sp, (x + n) / sp->grain_bytes, &k2, &s2) ==
                   0 &&
               k2 == kind &&
               (kind != VMDK_GRAIN_NORMAL ||
                s2 * VMDK_SECTOR == sector * VMDK_SECTOR + co + n)) {
            n += MIN(len - pos - n, sp->grain_bytes);
        }
        nsub = blk_iov_slice(iov, niov, pos, n, sub);
        switch (kind) {
        case VMDK_GRAIN_UNALLOCATED:
            ret = vmdk_read_parent(s, e->start + x, sub, nsub, n);
            break;
        case VMDK_GRAIN_ZERO:
            blk_iov_memset(sub, nsub, 0, 0, n);
            break;
        case VMDK_GRAIN_NORMAL:
            ret = blk_file_preadv(sp->f, sector * VMDK_SECTOR + co, sub, nsub);
            break;
        case VMDK_GRAIN_COMPRESSED:
            ret = vmdk_sparse_load_compressed(sp, g, sector);
            if (ret == 0) {
                blk_iov_from_buf(sub, nsub, 0, sp->gbuf + co, n);
            }
            break;
        }
        pos += n;
    }
    g_free(sub);
    return ret;
}

/* Allocate grain G of sparse extent E and write [co, co+n) of it from IOV;
 * the rest comes from the parent (unallocated) or is zero. */
static int vmdk_alloc_grain(struct vmdk *s, struct vmdk_extent *e, uint64_t g,
                            enum vmdk_grain_kind kind, uint64_t co,
                            const struct iovec *iov, int niov, uint64_t n)
{
    struct vmdk_sparse *sp = e->sp;
    uint8_t *buf = g_malloc0(sp->grain_bytes);
    uint64_t gstart = g * sp->grain_bytes;
    int ret = 0;

    if (n < sp->grain_bytes && kind == VMDK_GRAIN_UNALLOCATED && s->parent) {
        /* only the part of the grain inside the extent has a parent */
        uint64_t in = MIN(sp->grain_bytes, e->len - gstart);
        struct iovec v = { .iov_base = buf, .iov_len = in };
        ret = vmdk_read_parent(s, e->start + gstart, &v, 1, in);
    }
    if (ret == 0) {
        blk_iov_to_buf(iov, niov, 0, buf + co, n);
        ret = vmdk_sparse_write_new_grain(sp, g, buf);
    }
    g_free(buf);
    return ret;
}

static int vmdk_write_sparse(struct vmdk *s, struct vmdk_extent *e,
                             uint64_t off, const struct iovec *iov, int niov,
                             uint64_t len)
{
    struct vmdk_sparse *sp = e->sp;
    struct iovec *sub = g_new(struct iovec, niov);
    uint64_t pos = 0;
    int ret = 0;

    while (pos < len && ret == 0) {
        uint64_t x = off + pos, g = x / sp->grain_bytes;
        uint64_t co = x % sp->grain_bytes,
                 n = MIN(len - pos, sp->grain_bytes - co);
        enum vmdk_grain_kind kind, k2;
        uint64_t sector, s2;
        int nsub;

        ret = vmdk_sparse_lookup(sp, g, &kind, &sector);
        if (ret < 0) {
            break;
        }
        if (kind == VMDK_GRAIN_COMPRESSED) {
            ret = -EROFS; /* refused at open; kept as a guard */
            break;
        }
        while (
            kind == VMDK_GRAIN_NORMAL && pos + n < len &&
            vmdk_sparse_lookup(sp, (x + n) / sp->grain_bytes, &k2, &s2) == 0 &&
            k2 == kind && s2 * VMDK_SECTOR == sector * VMDK_SECTOR + co + n) {
            n += MIN(len - pos - n, sp->grain_bytes);
        }
        nsub = blk_iov_slice(iov, niov, pos, n, sub);
        if (kind == VMDK_GRAIN_NORMAL) {
            ret = blk_file_pwritev(sp->f, sector * VMDK_SECTOR + co, sub, nsub);
        } else {
            ret = vmdk_alloc_grain(s, e, g, kind, co, sub, nsub, n);
        }
        pos += n;
    }
    g_free(sub);
    return ret;
}

/* Like VMware, give the disk a new CID before its first write after open:
 * children made from the old contents see their parentCID no longer
 * match. The lock is held. */
static int vmdk_update_cid(struct vmdk *s)
{
    struct blk_file *f = &s->b->file;
    uint32_t cid;
    char *text;
    size_t len;
    int ret;

    if (s->cid_updated || !s->desc_text || !s->desc.has_cid) {
        s->cid_updated = true;
        return 0;
    }
    do {
        cid = g_random_int();
    } while (cid == s->desc.cid || cid >= 0xfffffffeu);
    text = vmdk_desc_set_cid(s->desc_text, cid);
    len = text ? strlen(text) : 0;
    if (!text || len > s->desc_room) {
        g_free(text);
        s->cid_updated = true; /* keep the old CID rather than fail */
        return 0;
    }
    if (s->desc_embedded) {
        char *room = g_malloc0(s->desc_room);
        memcpy(room, text, len);
        ret = blk_file_pwrite(f, s->desc_pos, room, s->desc_room);
        g_free(room);
    } else {
        ret = blk_file_pwrite(f, 0, text, len);
        if (ret == 0 && ftruncate(f->fd, (off_t)len) < 0) {
            ret = -errno;
        }
    }
    if (ret == 0) {
        ret = blk_file_flush(f);
    }
    if (ret < 0) {
        g_free(text);
        return ret;
    }
    dm_trace(vmdk_cid, "%s CID %08x -> %08x", s->b->filename, s->desc.cid, cid);
    g_free(s->desc_text);
    s->desc_text = text;
    s->desc.cid = cid;
    s->cid_updated = true;
    return 0;
}

static int vmdk_rw(struct blk *b, bool write, uint64_t off,
                   const struct iovec *iov, int niov, uint64_t len)
{
    struct vmdk *s = b->drv_state;
    struct iovec *sub = g_new(struct iovec, niov);
    uint64_t pos = 0;
    int ret = 0;

    if (write) {
        g_mutex_lock(&s->lock);
        ret = vmdk_update_cid(s);
        g_mutex_unlock(&s->lock);
    }
    while (pos < len && ret == 0) {
        struct vmdk_extent *e = vmdk_find(s, off + pos);
        uint64_t x = off + pos - e->start, n = MIN(len - pos, e->len - x);
        int nsub = blk_iov_slice(iov, niov, pos, n, sub);

        if (e->access == VMDK_ACCESS_NOACCESS) {
            ret = -EIO;
        } else if (write && (e->access == VMDK_ACCESS_RDONLY ||
                             e->type == VMDK_EXTENT_ZERO)) {
            ret = -EROFS;
        } else if (e->type == VMDK_EXTENT_ZERO) {
            blk_iov_memset(sub, nsub, 0, 0, n);
        } else if (e->type == VMDK_EXTENT_FLAT) {
            ret = write ? blk_file_pwritev(e->f, e->flat_off + x, sub, nsub)
                        : blk_file_preadv(e->f, e->flat_off + x, sub, nsub);
        } else {
            g_mutex_lock(&s->lock);
            ret = write ? vmdk_write_sparse(s, e, x, sub, nsub, n)
                        : vmdk_read_sparse(s, e, x, sub, nsub, n);
            g_mutex_unlock(&s->lock);
        }
        pos += n;
    }
    g_free(sub);
    return ret;
}

static int vmdk_preadv(struct blk *b, uint64_t off, const struct iovec *iov,
                       int niov, uint64_t len)
{
    return vmdk_rw(b, false, off, iov, niov, len);
}

static int vmdk_pwritev(struct blk *b, uint64_t off, const struct iovec *iov,
                        int niov, uint64_t len)
{
    return vmdk_rw(b, true, off, iov, niov, len);
}

static int vmdk_flush(struct blk *b)
{
    struct vmdk *s = b->drv_state;
    int ret = blk_file_flush(&b->file);

    for (unsigned i = 0; i < s->n_ext && ret == 0; i++) {
        if (s->ext[i].own_open && !s->ext[i].own.read_only) {
            ret = blk_file_flush(&s->ext[i].own);
        }
    }
    return ret;
}

/* Discard is advisory: flat extents punch holes, sparse grains stay. */
static int vmdk_discard(struct blk *b, uint64_t off, uint64_t len)
{
    struct vmdk *s = b->drv_state;
    uint64_t pos = 0;

    while (pos < len) {
        struct vmdk_extent *e = vmdk_find(s, off + pos);
        uint64_t x = off + pos - e->start, n = MIN(len - pos, e->len - x);

        if (e->type == VMDK_EXTENT_FLAT && e->access == VMDK_ACCESS_RW) {
            blk_file_discard(e->f, e->flat_off + x, n);
        }
        pos += n;
    }
    return 0;
}

const struct blk_driver blk_vmdk_driver = {
    .name = "vmdk",
    .format = BLK_FORMAT_VMDK,
    .native_async = false,
    .open = vmdk_open,
    .close = vmdk_close,
    .preadv = vmdk_preadv,
    .pwritev = vmdk_pwritev,
    .flush = vmdk_flush,
    .discard = vmdk_discard,
};
