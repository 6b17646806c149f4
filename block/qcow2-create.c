/*
 * qcow2-create.c: making new qcow2 images and growing existing ones.
 * Spec: QEMU docs/interop/qcow2.txt (versions 2 and 3).
 *
 * A new image is laid out in one pass: header cluster (header, extensions,
 * backing file name), refcount table, refcount blocks, L1 table and, with
 * metadata preallocation, every L2 table and data cluster. Growing rewrites
 * the L1 table in place when it has room, else moves it, before the header
 * names the new size. Left out: encryption, external data files, extended
 * L2, lazy refcounts, shrinking, preallocation of data (falloc, full).
 */
#include <fcntl.h>
#include <unistd.h>

#include "hvmdm/bytes.h"
#include "hvmdm/log.h"
#include "qcow2.h"

#define QCOW2_EXT_BACKING_FMT 0xe2792acau
#define QCOW2_V3_HDR_LEN 112 /* with compression_type and padding */
#define QCOW2_DEFAULT_CLUSTER (64 * DM_KiB)

static uint64_t div_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* Where everything of a new image goes, in clusters. */
struct qcow2_layout {
    unsigned cluster_bits;
    uint64_t cs;
    unsigned refcount_order;
    uint64_t l1_size; /* entries */
    uint64_t rt_start, rt_clusters;
    uint64_t rb_start, rb_count;
    uint64_t l1_start, l1_clusters;
    uint64_t l2_start, l2_count;
    uint64_t data_start, data_count;
    uint64_t total;
};

static bool qcow2_plan(const struct qcow2_create_opts *o,
                       struct qcow2_layout *l, GError **errp)
{
    uint64_t cs = o->cluster_size ? o->cluster_size : QCOW2_DEFAULT_CLUSTER;
    unsigned rbits = o->refcount_bits ? o->refcount_bits : 16;
    uint64_t span, per_rb, fixed;

    memset(l, 0, sizeof(*l));
    if (cs < 512 || cs > 2 * DM_MiB || (cs & (cs - 1))) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "cluster_size=%" PRIu64 ": must be a power of two "
                    "between 512 and 2097152",
                    cs);
        return false;
    }
    if (rbits > 64 || (rbits & (rbits - 1))) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "refcount_bits=%u: must be a power of two up to 64", rbits);
        return false;
    }
    if (o->version == 2 && rbits != 16) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "refcount_bits=%u: compat=0.10 images only have 16", rbits);
        return false;
    }
    l->cs = cs;
    l->cluster_bits = (unsigned)__builtin_ctzll(cs);
    l->refcount_order = (unsigned)__builtin_ctz(rbits);
    span = cs * (cs / 8); /* guest bytes one L2 table maps */
    l->l1_size = div_up(o->size, span);
    if (o->size > (1ull << 62) || l->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "size %" PRIu64 " too large for cluster_size=%" PRIu64,
                    o->size, cs);
        return false;
    }
    l->l1_clusters = div_up(l->l1_size * 8, cs);
    if (o->prealloc_metadata) {
        l->l2_count = l->l1_size;
        l->data_count = div_up(o->size, cs);
    }
    /* Refcount blocks and table must cover everything, themselves too. */
    per_rb = cs * 8 / rbits;
    fixed = 1 + l->l1_clusters + l->l2_count + l->data_count;
    l->rb_count = 1;
    l->rt_clusters = 1;
    for (;;) {
        uint64_t all = fixed + l->rb_count + l->rt_clusters;
        uint64_t rb = div_up(all, per_rb), rt = div_up(rb * 8, cs);
        if (rb <= l->rb_count && rt <= l->rt_clusters) {
            break;
        }
        l->rb_count = MAX(rb, l->rb_count);
        l->rt_clusters = MAX(rt, l->rt_clusters);
    }
    if ((l->rt_clusters << l->cluster_bits) > QCOW2_MAX_REFTABLE_BYTES) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "size %" PRIu64 " needs a refcount table larger than "
                    "%" PRIu64 " bytes; use a larger cluster_size",
                    o->size, (uint64_t)QCOW2_MAX_REFTABLE_BYTES);
        return false;
    }
    l->rt_start = 1;
    l->rb_start = l->rt_start + l->rt_clusters;
    l->l1_start = l->rb_start + l->rb_count;
    l->l2_start = l->l1_start + l->l1_clusters;
    l->data_start = l->l2_start + l->l2_count;
    l->total = l->data_start + l->data_count;
    return true;
}

/* The header cluster: header, extensions, backing file name. */
static bool qcow2_build_header(const struct qcow2_create_opts *o,
                               const struct qcow2_layout *l, uint8_t *h,
                               GError **errp)
{
    unsigned version = o->version ? o->version : 3;
    uint32_t hlen = version == 3 ? QCOW2_V3_HDR_LEN : QCOW2_HDR_V2_LEN;
    size_t pos = hlen, blen = o->backing_file ? strlen(o->backing_file) : 0;
    size_t flen = o->backing_format ? strlen(o->backing_format) : 0;

    if (blen > QCOW2_MAX_BACKING_NAME) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "backing file name longer than %d bytes",
                    QCOW2_MAX_BACKING_NAME);
        return false;
    }
    if (flen > 16) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "backing_fmt=%s: name too long", o->backing_format);
        return false;
    }
    if (hlen + 8 + dm_align_up(flen, 8) + 8 + blen > l->cs) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "backing file name does not fit in a %" PRIu64
                    " byte cluster; use a larger cluster_size",
                    l->cs);
        return false;
    }
    dm_st_be32(h, QCOW2_MAGIC);
    dm_st_be32(h + 4, version);
    dm_st_be32(h + 20, l->cluster_bits);
    dm_st_be64(h + 24, o->size);
    dm_st_be32(h + 36, (uint32_t)l->l1_size);
    dm_st_be64(h + 40, l->l1_start << l->cluster_bits);
    dm_st_be64(h + 48, l->rt_start << l->cluster_bits);
    dm_st_be32(h + 56, (uint32_t)l->rt_clusters);
    if (version == 3) {
        dm_st_be32(h + 96, l->refcount_order);
        dm_st_be32(h + 100, hlen);
    }
    if (flen) {
        dm_st_be32(h + pos, QCOW2_EXT_BACKING_FMT);
        dm_st_be32(h + pos + 4, (uint32_t)flen);
        memcpy(h + pos + 8, o->backing_format, flen);
        pos += 8 + dm_align_up(flen, 8);
    }
    pos += 8; /* end of extensions: type 0, length 0 */
    if (blen) {
        memcpy(h + pos, o->backing_file, blen);
        dm_st_be64(h + 8, pos);
        dm_st_be32(h + 16, (uint32_t)blen);
    }
    return true;
}

static void rb_put(uint8_t *blk, unsigned order, uint64_t i, uint64_t v)
{
    if (order >= 3) {
        unsigned bytes = 1u << (order - 3);
        for (unsigned k = 0; k < bytes; k++) {
            blk[i * bytes + k] = (uint8_t)(v >> (8 * (bytes - 1 - k)));
        }
    } else {
        unsigned bits = 1u << order;
        uint64_t bit = i * bits;
        blk[bit / 8] |= (uint8_t)((v & ((1u << bits) - 1)) << (bit % 8));
    }
}

/* Write COUNT clusters starting at cluster START: table contents built by
 * FILL (index of the cluster in the run, buffer) or zeros when FILL is NULL,
 * in chunks of at most 1 MiB. */
static int qcow2_write_run(int fd, const struct qcow2_layout *l, uint64_t start,
                           uint64_t count,
                           void (*fill)(const struct qcow2_layout *l,
                                        uint64_t idx, uint8_t *buf))
{
    uint64_t per = MAX((uint64_t)1, DM_MiB >> l->cluster_bits);
    uint8_t *buf = g_malloc(per << l->cluster_bits);
    int ret = 0;

    for (uint64_t i = 0; i < count && ret == 0; i += per) {
        uint64_t n = MIN(per, count - i);
        size_t len = n << l->cluster_bits;
        memset(buf, 0, len);
        for (uint64_t k = 0; fill && k < n; k++) {
            fill(l, i + k, buf + (k << l->cluster_bits));
        }
        if (pwrite(fd, buf, len, (off_t)((start + i) << l->cluster_bits)) !=
            (ssize_t)len) {
            ret = errno ? -errno : -EIO;
        }
    }
    g_free(buf);
    return ret;
}

static void fill_reftable(const struct qcow2_layout *l, uint64_t idx,
                          uint8_t *buf)
{
    uint64_t per = l->cs / 8;
    for (uint64_t k = 0; k < per; k++) {
        uint64_t rb = idx * per + k;
        if (rb < l->rb_count) {
            dm_st_be64(buf + 8 * k, (l->rb_start + rb) << l->cluster_bits);
        }
    }
}

static void fill_refblock(const struct qcow2_layout *l, uint64_t idx,
                          uint8_t *buf)
{
    uint64_t per = l->cs * 8 >> l->refcount_order, first = idx * per;
    for (uint64_t c = first; c < l->total && c < first + per; c++) {
        rb_put(buf, l->refcount_order, c - first, 1);
    }
}

static void fill_l1(const struct qcow2_layout *l, uint64_t idx, uint8_t *buf)
{
    uint64_t per = l->cs / 8;
    for (uint64_t k = 0; l->l2_count && k < per; k++) {
        uint64_t i = idx * per + k;
        if (i < l->l1_size) {
            dm_st_be64(buf + 8 * k, ((l->l2_start + i) << l->cluster_bits) |
                                        QCOW2_OFLAG_COPIED);
        }
    }
}

static void fill_l2(const struct qcow2_layout *l, uint64_t idx, uint8_t *buf)
{
    uint64_t per = l->cs / 8;
    for (uint64_t k = 0; k < per; k++) {
        uint64_t gc = idx * per + k;
        if (gc < l->data_count) {
            dm_st_be64(buf + 8 * k, ((l->data_start + gc) << l->cluster_bits) |
                                        QCOW2_OFLAG_COPIED);
        }
    }
}

bool qcow2_create(const char *filename, const struct qcow2_create_opts *o,
                  GError **errp)
{
    struct qcow2_layout l;
    uint8_t *h;
    int fd, ret;

    if (o->version != 0 && o->version != 2 && o->version != 3) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "qcow2 version %u: only 2 (compat=0.10) and 3 "
                    "(compat=1.1) exist",
                    o->version);
        return false;
    }
    if (!qcow2_plan(o, &l, errp)) {
        return false;
    }
    h = g_malloc0(l.cs);
    if (!qcow2_build_header(o, &l, h, errp)) {
        g_free(h);
        return false;
    }
    fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: %s", filename,
                    g_strerror(errno));
        g_free(h);
        return false;
    }
    /* Metadata first, the header last: a half-written file is no image. */
    ret = qcow2_write_run(fd, &l, l.rt_start, l.rt_clusters, fill_reftable);
    if (ret == 0) {
        ret = qcow2_write_run(fd, &l, l.rb_start, l.rb_count, fill_refblock);
    }
    if (ret == 0) {
        ret = qcow2_write_run(fd, &l, l.l1_start, l.l1_clusters, fill_l1);
    }
    if (ret == 0) {
        ret = qcow2_write_run(fd, &l, l.l2_start, l.l2_count, fill_l2);
    }
    if (ret == 0 && ftruncate(fd, (off_t)(l.total << l.cluster_bits)) < 0) {
        ret = -errno;
    }
    if (ret == 0 && fdatasync(fd) < 0) {
        ret = -errno;
    }
    if (ret == 0 && pwrite(fd, h, l.cs, 0) != (ssize_t)l.cs) {
        ret = errno ? -errno : -EIO;
    }
    if (ret == 0 && fdatasync(fd) < 0) {
        ret = -errno;
    }
    if (close(fd) < 0 && ret == 0) {
        ret = -errno;
    }
    g_free(h);
    if (ret < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot write: %s",
                    filename, g_strerror(-ret));
        unlink(filename);
        return false;
    }
    return true;
}

/* ---- growing ------------------------------------------------------------- */

/* Point the header at an L1 table of L1_SIZE entries at L1_OFF and give the
 * image SIZE bytes, in one write of header bytes 24..47. */
static int qcow2_write_geometry(struct qcow2 *s, uint64_t size,
                                uint32_t l1_size, uint64_t l1_off)
{
    uint8_t g[24];
    int ret;

    memset(g, 0, sizeof(g));
    dm_st_be64(g, size);         /* 24: size */
    dm_st_be32(g + 8, 0);        /* 32: crypt_method (none, checked at open) */
    dm_st_be32(g + 12, l1_size); /* 36: l1_size */
    dm_st_be64(g + 16, l1_off);  /* 40: l1_table_offset */
    ret = blk_file_pwrite(s->f, 24, g, sizeof(g));
    if (ret == 0) {
        ret = blk_file_flush(s->f);
    }
    return ret;
}

/* A bigger L1 table of NEW_SIZE entries: in place when its clusters have
 * room, else in new clusters. The header still names the old one. */
static int qcow2_grow_l1(struct qcow2 *s, uint64_t new_size, uint64_t *off)
{
    uint64_t cs = s->cluster_size;
    uint64_t old_bytes = (uint64_t)s->l1_size * 8;
    uint64_t have = dm_align_up(old_bytes, cs), need = new_size * 8;
    uint64_t *l1 = g_new0(uint64_t, new_size);
    int64_t noff;
    int ret;

    memcpy(l1, s->l1, old_bytes);
    if (s->l1_size && need <= have) {
        *off = s->l1_offset;
        ret = blk_file_pwrite(s->f, s->l1_offset + old_bytes, l1 + s->l1_size,
                              need - old_bytes);
    } else {
        if (div_up(need, cs) > qcow2_max_alloc(s)) {
            g_free(l1);
            return -EFBIG; /* one refcount block must cover the table */
        }
        noff = qcow2_alloc_clusters(s, div_up(need, cs));
        if (noff < 0) {
            g_free(l1);
            return (int)noff;
        }
        *off = (uint64_t)noff;
        ret = blk_file_pwrite(s->f, *off, l1, need);
    }
    if (ret == 0) {
        ret = blk_file_flush(s->f);
    }
    if (ret < 0) {
        g_free(l1);
        return ret;
    }
    g_free(s->l1);
    s->l1 = l1;
    s->l2 = g_renew(uint64_t *, s->l2, new_size);
    for (uint64_t i = s->l1_size; i < new_size; i++) {
        s->l2[i] = NULL;
    }
    return 0;
}

bool qcow2_grow(struct blk *b, uint64_t size, GError **errp)
{
    struct qcow2 *s = b->drv_state;
    uint64_t span, l1_need, l1_off, old_off;
    uint32_t old_l1_size;
    int ret = 0;

    if (b->drv != &blk_qcow2_driver || b->read_only) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: not a writable qcow2 image", b->filename);
        return false;
    }
    g_mutex_lock(&s->lock);
    if (size < s->size) {
        g_mutex_unlock(&s->lock);
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: shrinking qcow2 images is not supported", b->filename);
        return false;
    }
    span = s->cluster_size * s->l2_entries;
    l1_need = div_up(size, span);
    if (size > (1ull << 62) || l1_need * 8 > QCOW2_MAX_L1_BYTES) {
        g_mutex_unlock(&s->lock);
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: size %" PRIu64 " too large for its cluster size",
                    b->filename, size);
        return false;
    }
    old_off = s->l1_offset;
    old_l1_size = s->l1_size;
    l1_off = s->l1_offset;
    if (l1_need > s->l1_size) {
        ret = qcow2_grow_l1(s, l1_need, &l1_off);
    }
    if (ret == 0) {
        ret = qcow2_write_geometry(s, size, (uint32_t)MAX(l1_need, s->l1_size),
                                   l1_off);
    }
    if (ret == 0 && l1_need > s->l1_size) {
        s->l1_size = (uint32_t)l1_need;
        s->l1_offset = l1_off;
        if (l1_off != old_off && old_l1_size) {
            ret = qcow2_free_range(
                s, old_off,
                dm_align_up((uint64_t)old_l1_size * 8, s->cluster_size));
        }
    }
    if (ret == 0) {
        s->size = size;
        b->size = size;
        ret = qcow2_refcount_sync(s);
    }
    g_mutex_unlock(&s->lock);
    if (ret == -EFBIG) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: size %" PRIu64 " needs an L1 table larger than this "
                    "image's cluster size allows to move; convert it to a "
                    "larger cluster_size first",
                    b->filename, size);
        return false;
    }
    if (ret < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot resize: %s",
                    b->filename, g_strerror(-ret));
        return false;
    }
    return true;
}
