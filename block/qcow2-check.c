/*
 * qcow2-check.c: looking inside qcow2 images for hvmdm-img: facts and the
 * snapshot list (info), where guest ranges are stored (map, convert), and the
 * consistency check with repair (check -r leaks|all).
 * Spec: QEMU docs/interop/qcow2.txt (versions 2 and 3), "Host cluster
 * management" and "Snapshots".
 *
 * The check recounts every reference from the header, refcount table and
 * blocks, the active and every snapshot's L1/L2 tables and the snapshot
 * table, then compares with the stored counts. Repair writes the image file
 * through its own descriptor. Left out: persistent bitmaps (their clusters
 * would count as leaked), extended L2 entries, external data files.
 */
#include <stdarg.h>

#include "hvmdm/bytes.h"
#include "hvmdm/log.h"
#include "qcow2.h"

#define QCOW2_SNAP_HDR_LEN 40
#define QCOW2_MAX_SNAP_TABLE (64 * DM_MiB)
#define QCOW2_CHECK_MAX_MESSAGES 1000
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

static struct qcow2 *qcow2_state(struct blk *b, GError **errp)
{
    if (b->drv != &blk_qcow2_driver) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "%s: not a qcow2 image",
                    b->filename);
        return NULL;
    }
    return b->drv_state;
}

/* ---- snapshot table -------------------------------------------------------- */

struct qcow2_snap {
    uint64_t l1_offset;
    uint32_t l1_size;
    struct qcow2_snapshot_info info;
};

static void qcow2_snap_info_clear(struct qcow2_snapshot_info *si)
{
    g_free(si->id);
    g_free(si->name);
}

/* Read the snapshot table: S->nb_snapshots entries into *OUT, the table's
 * length in bytes into *LEN. */
static bool qcow2_read_snapshots(struct qcow2 *s, struct qcow2_snap **out,
                                 uint64_t *len, GError **errp)
{
    struct qcow2_snap *sn = g_new0(struct qcow2_snap, MAX(s->nb_snapshots, 1));
    uint64_t pos = s->snapshots_offset, start = pos;
    uint8_t h[QCOW2_SNAP_HDR_LEN];
    uint32_t i;

    for (i = 0; i < s->nb_snapshots; i++) {
        struct qcow2_snapshot_info *si = &sn[i].info;
        uint32_t extra, idlen, namelen;
        uint8_t *var;
        uint64_t vlen;

        if (!dm_range_ok(pos, sizeof(h), s->file_end) ||
            blk_file_pread(s->f, pos, h, sizeof(h)) < 0) {
            goto bad;
        }
        sn[i].l1_offset = dm_ld_be64(h);
        sn[i].l1_size = dm_ld_be32(h + 8);
        idlen = dm_ld_be16(h + 12);
        namelen = dm_ld_be16(h + 14);
        si->date_sec = dm_ld_be32(h + 16);
        si->date_nsec = dm_ld_be32(h + 20);
        si->vm_clock_nsec = dm_ld_be64(h + 24);
        si->vm_state_size = dm_ld_be32(h + 32);
        extra = dm_ld_be32(h + 36);
        si->icount = UINT64_MAX;
        vlen = (uint64_t)extra + idlen + namelen;
        pos += sizeof(h);
        if (extra > 1024 || !dm_range_ok(pos, vlen, s->file_end) ||
            pos + vlen - start > QCOW2_MAX_SNAP_TABLE) {
            goto bad;
        }
        var = g_malloc(vlen + 1);
        if (blk_file_pread(s->f, pos, var, vlen) < 0) {
            g_free(var);
            goto bad;
        }
        if (extra >= 8) {
            si->vm_state_size = dm_ld_be64(var);
        }
        if (extra >= 24) {
            si->icount = dm_ld_be64(var + 16);
        }
        si->id = g_strndup((char *)var + extra, idlen);
        si->name = g_strndup((char *)var + extra + idlen, namelen);
        g_free(var);
        pos = dm_align_up(pos + vlen, 8);
    }
    *out = sn;
    *len = pos - start;
    return true;

bad:
    g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                "%s: qcow2 snapshot table: entry %u at 0x%" PRIx64
                " unreadable or past the end of the file",
                s->b->filename, i, pos);
    for (uint32_t k = 0; k <= i && k < s->nb_snapshots; k++) {
        qcow2_snap_info_clear(&sn[k].info);
    }
    g_free(sn);
    return false;
}

static void qcow2_snaps_free(struct qcow2_snap *sn, uint32_t n)
{
    for (uint32_t i = 0; sn && i < n; i++) {
        qcow2_snap_info_clear(&sn[i].info);
    }
    g_free(sn);
}

/* ---- info ------------------------------------------------------------------ */

bool qcow2_get_info(struct blk *b, struct qcow2_info *info, GError **errp)
{
    struct qcow2 *s = qcow2_state(b, errp);
    struct qcow2_snap *sn = NULL;
    uint64_t len;

    memset(info, 0, sizeof(*info));
    if (!s) {
        return false;
    }
    g_mutex_lock(&s->lock);
    if (!qcow2_read_snapshots(s, &sn, &len, errp)) {
        g_mutex_unlock(&s->lock);
        return false;
    }
    info->version = s->version;
    info->cluster_size = s->cluster_size;
    info->refcount_bits = 1u << s->refcount_order;
    info->lazy_refcounts = !!(s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS);
    info->dirty = !!(s->incompat & QCOW2_INCOMPAT_DIRTY);
    info->corrupt = !!(s->incompat & QCOW2_INCOMPAT_CORRUPT);
    info->compression = s->compression == QCOW2_COMPRESS_ZSTD ? "zstd" : "zlib";
    info->backing_file = g_strdup(s->backing_name);
    info->backing_format = g_strdup(s->backing_format);
    info->nb_snapshots = s->nb_snapshots;
    info->snapshots = g_new0(struct qcow2_snapshot_info, s->nb_snapshots);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        info->snapshots[i] = sn[i].info; /* takes the strings */
    }
    g_free(sn);
    g_mutex_unlock(&s->lock);
    return true;
}

void qcow2_info_clear(struct qcow2_info *info)
{
    for (unsigned i = 0; i < info->nb_snapshots; i++) {
        qcow2_snap_info_clear(&info->snapshots[i]);
    }
    g_free(info->snapshots);
    g_free(info->backing_file);
    g_free(info->backing_format);
    memset(info, 0, sizeof(*info));
}

/* ---- block status ---------------------------------------------------------- */

/* The active L2 table for L1 index I, loaded into the driver's cache (the
 * lock is held); *TBL NULL when none is allocated. */
static int qcow2_status_l2(struct qcow2 *s, uint64_t i, uint64_t **tbl)
{
    uint64_t e = qcow2_be(s->l1[i]), off = e & QCOW2_OFFSET_MASK;
    int ret;

    *tbl = s->l2[i];
    if (*tbl || !off) {
        return 0;
    }
    if ((e & QCOW2_L1E_RESERVED) || (off & (s->cluster_size - 1)) ||
        !dm_range_ok(off, s->cluster_size, s->file_end)) {
        qcow2_corrupt(s, "L1 entry %" PRIu64 " (0x%" PRIx64 ") invalid", i, e);
        return -EIO;
    }
    s->l2[i] = g_malloc(s->cluster_size);
    ret = blk_file_pread(s->f, off, s->l2[i], s->cluster_size);
    if (ret < 0) {
        g_free(s->l2[i]);
        s->l2[i] = NULL;
        return ret;
    }
    *tbl = s->l2[i];
    return 0;
}

static int qcow2_status_entry(struct qcow2 *s, uint64_t gc,
                              enum blk_alloc *kind, uint64_t *host)
{
    uint64_t *tbl, e;
    int ret = qcow2_status_l2(s, gc >> s->l2_bits, &tbl);

    *kind = BLK_ALLOC_UNALLOCATED;
    *host = 0;
    if (ret < 0 || !tbl) {
        return ret;
    }
    e = qcow2_be(tbl[gc & (s->l2_entries - 1)]);
    if (e & QCOW2_OFLAG_COMPRESSED) {
        *kind = BLK_ALLOC_COMPRESSED;
        return 0;
    }
    *host = e & QCOW2_OFFSET_MASK;
    if ((e & QCOW2_L2E_RESERVED) || (*host & (s->cluster_size - 1)) ||
        ((e & QCOW2_OFLAG_ZERO) && s->version < 3)) {
        qcow2_corrupt(s, "invalid L2 entry 0x%" PRIx64, e);
        return -EIO;
    }
    if (e & QCOW2_OFLAG_ZERO) {
        *kind = BLK_ALLOC_ZERO;
    } else if (*host) {
        *kind = BLK_ALLOC_DATA;
    }
    return 0;
}

int qcow2_block_status(struct blk *b, uint64_t off, uint64_t len,
                       uint64_t *pnum, enum blk_alloc *kind, uint64_t *host)
{
    struct qcow2 *s = qcow2_state(b, NULL);
    uint64_t cs, co, n, h;
    enum blk_alloc k;
    int ret;

    *pnum = 0;
    if (!s) {
        return -EINVAL;
    }
    if (!dm_range_ok(off, len, s->size) || len == 0) {
        return -EINVAL;
    }
    cs = s->cluster_size;
    co = off & (cs - 1);
    g_mutex_lock(&s->lock);
    ret = qcow2_status_entry(s, off >> s->cluster_bits, kind, host);
    n = MIN(len, cs - co);
    if (ret == 0 && *kind == BLK_ALLOC_DATA) {
        *host += co;
    }
    while (ret == 0 && n < len) {
        if (qcow2_status_entry(s, (off + n) >> s->cluster_bits, &k, &h) < 0 ||
            k != *kind || (k == BLK_ALLOC_DATA && h != *host + n)) {
            break;
        }
        n += MIN(len - n, cs);
    }
    g_mutex_unlock(&s->lock);
    *pnum = n;
    return ret;
}

/* ---- check ----------------------------------------------------------------- */

struct qcow2_chk {
    struct qcow2 *s;
    struct qcow2_check_result *res;
    enum qcow2_repair repair;
    struct blk_file *wf; /* writable file when repairing */
    uint64_t nb;         /* clusters the file holds */
    uint32_t *ref;       /* references found per cluster, saturating */
    uint8_t *tbl;        /* one cluster */
    uint64_t prev_data;  /* last data cluster of the active table (frag.) */
    bool need_rebuild;   /* refcounts -r all cannot fix in place */
};

static void G_GNUC_PRINTF(2, 3)
    chk_msg(struct qcow2_chk *c, const char *fmt, ...)
{
    GPtrArray *m = c->res->messages;
    va_list ap;

    if (m->len > QCOW2_CHECK_MAX_MESSAGES) {
        return;
    }
    if (m->len == QCOW2_CHECK_MAX_MESSAGES) {
        g_ptr_array_add(m, g_strdup("(more problems not listed)"));
        return;
    }
    va_start(ap, fmt);
    g_ptr_array_add(m, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static void chk_corrupt(struct qcow2_chk *c, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
static void chk_corrupt(struct qcow2_chk *c, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->res->corruptions++;
    chk_msg(c, "ERROR %s", msg);
    g_free(msg);
}

/* One more reference to each cluster of [off, off+len). */
static void chk_ref(struct qcow2_chk *c, uint64_t off, uint64_t len,
                    const char *what)
{
    unsigned bits = c->s->cluster_bits;

    if (len == 0) {
        return;
    }
    for (uint64_t k = off >> bits; k <= (off + len - 1) >> bits; k++) {
        if (k >= c->nb) {
            chk_corrupt(c,
                        "%s at 0x%" PRIx64 ": cluster 0x%" PRIx64
                        " lies past the end of the file",
                        what, off, k << bits);
            return;
        }
        if (c->ref[k] != UINT32_MAX) {
            c->ref[k]++;
        }
    }
}

/* Take back the references chk_ref counted for [off, off+len). */
static void chk_unref(struct qcow2_chk *c, uint64_t off, uint64_t len)
{
    unsigned bits = c->s->cluster_bits;

    for (uint64_t k = off >> bits; len && k <= (off + len - 1) >> bits; k++) {
        if (k < c->nb && c->ref[k] && c->ref[k] != UINT32_MAX) {
            c->ref[k]--;
        }
    }
}

static bool chk_read(struct qcow2_chk *c, uint64_t off, void *buf, size_t len,
                     const char *what)
{
    int ret = blk_file_pread(c->s->f, off, buf, len);

    if (ret < 0) {
        c->res->check_errors++;
        chk_msg(c, "ERROR reading %s at 0x%" PRIx64 ": %s", what, off,
                g_strerror(-ret));
        return false;
    }
    return true;
}

/* A table pointer (L2 table from L1, refcount block): aligned, in the file. */
static bool chk_table_ok(struct qcow2_chk *c, uint64_t off, const char *what,
                         const char *where)
{
    if (off & (c->s->cluster_size - 1)) {
        chk_corrupt(c,
                    "%s=0x%" PRIx64 ": table is not cluster aligned; %s "
                    "corrupted",
                    what, off, where);
        return false;
    }
    if (!dm_range_ok(off, c->s->cluster_size, c->s->file_end)) {
        chk_corrupt(c,
                    "%s=0x%" PRIx64 ": table lies past the end of the "
                    "file; %s corrupted",
                    what, off, where);
        return false;
    }
    return true;
}

static void chk_l2(struct qcow2_chk *c, const uint64_t *t, bool active)
{
    struct qcow2 *s = c->s;
    unsigned x = 62 - (s->cluster_bits - 8);

    for (uint64_t j = 0; j < s->l2_entries; j++) {
        uint64_t e = qcow2_be(t[j]), host;

        if (e & QCOW2_OFLAG_COMPRESSED) {
            uint64_t nsec = ((e >> x) & ((1ull << (s->cluster_bits - 8)) - 1));
            host = e & ((1ull << x) - 1);
            if (e & QCOW2_OFLAG_COPIED) {
                chk_corrupt(c,
                            "compressed cluster entry 0x%" PRIx64
                            " has OFLAG_COPIED set",
                            e);
            }
            chk_ref(c, host & ~511ull, (nsec + 1) * 512, "compressed cluster");
            if (active) {
                c->res->compressed_clusters++;
                c->res->allocated_clusters++;
            }
            continue;
        }
        host = e & QCOW2_OFFSET_MASK;
        if ((e & QCOW2_L2E_RESERVED) ||
            ((e & QCOW2_OFLAG_ZERO) && s->version < 3)) {
            chk_corrupt(c, "L2 entry 0x%" PRIx64 " has reserved bits set", e);
            continue;
        }
        if (host & (s->cluster_size - 1)) {
            chk_corrupt(c,
                        "offset=0x%" PRIx64 ": cluster is not properly "
                        "aligned; L2 entry corrupted",
                        host);
            continue;
        }
        if (!host) {
            continue;
        }
        chk_ref(c, host, s->cluster_size, "data cluster");
        if (active) {
            c->res->allocated_clusters++;
            if (c->prev_data && host != c->prev_data + s->cluster_size) {
                c->res->fragmented_clusters++;
            }
            c->prev_data = host;
        }
    }
}

/* References from an L1 table (BE entries) and the L2 tables it names. */
static void chk_l1(struct qcow2_chk *c, const uint64_t *l1, uint32_t n,
                   bool active)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t e = qcow2_be(l1[i]), off = e & QCOW2_OFFSET_MASK;

        if (e & QCOW2_L1E_RESERVED) {
            chk_corrupt(c,
                        "L1 entry %u (0x%" PRIx64 ") has reserved bits "
                        "set",
                        i, e);
        }
        if (!off || !chk_table_ok(c, off, "l2_offset", "L1 entry")) {
            continue;
        }
        chk_ref(c, off, c->s->cluster_size, "L2 table");
        if (chk_read(c, off, c->tbl, c->s->cluster_size, "an L2 table")) {
            chk_l2(c, (const uint64_t *)c->tbl, active);
        }
    }
}

static void chk_snapshots(struct qcow2_chk *c)
{
    struct qcow2 *s = c->s;
    struct qcow2_snap *sn;
    uint64_t len;
    GError *err = NULL;

    if (!s->nb_snapshots) {
        return;
    }
    if (!qcow2_read_snapshots(s, &sn, &len, &err)) {
        chk_corrupt(c, "%s", err->message);
        g_error_free(err);
        return;
    }
    chk_ref(c, s->snapshots_offset, len, "snapshot table");
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        uint64_t off = sn[i].l1_offset, bytes = (uint64_t)sn[i].l1_size * 8;
        uint64_t *l1;

        if (bytes > QCOW2_MAX_L1_BYTES || (off & (s->cluster_size - 1)) ||
            (bytes && !dm_range_ok(off, bytes, s->file_end))) {
            chk_corrupt(c,
                        "snapshot %s: L1 table at 0x%" PRIx64 " with %u "
                        "entries misaligned or past the end of the file",
                        sn[i].info.id, off, sn[i].l1_size);
            continue;
        }
        chk_ref(c, off, bytes, "snapshot L1 table");
        l1 = g_malloc(MAX(bytes, 8));
        if (chk_read(c, off, l1, bytes, "a snapshot L1 table")) {
            chk_l1(c, l1, sn[i].l1_size, false);
        }
        g_free(l1);
    }
    qcow2_snaps_free(sn, s->nb_snapshots);
}

/* References from the refcount table to refcount blocks. */
static void chk_reftable(struct qcow2_chk *c)
{
    struct qcow2 *s = c->s;

    chk_ref(c, s->rt_offset, (uint64_t)s->rt_clusters << s->cluster_bits,
            "refcount table");
    for (uint64_t t = 0; t < s->rt_size; t++) {
        uint64_t e = qcow2_be(s->rt[t]), off = e & ~0x1ffull;

        if (e & 0x1ff) {
            chk_corrupt(c,
                        "refcount table entry %" PRIu64 " (0x%" PRIx64
                        ") has reserved bits set",
                        t, e);
            c->need_rebuild = true;
        }
        if (!off) {
            continue;
        }
        if (!chk_table_ok(c, off, "refcount block offset",
                          "refcount table entry")) {
            c->need_rebuild = true;
            continue;
        }
        chk_ref(c, off, s->cluster_size, "refcount block");
    }
}

static uint64_t rc_get(unsigned order, const uint8_t *blk, uint64_t i)
{
    if (order >= 3) {
        unsigned bytes = 1u << (order - 3);
        uint64_t v = 0;
        for (unsigned k = 0; k < bytes; k++) {
            v = v << 8 | blk[i * bytes + k];
        }
        return v;
    }
    unsigned bits = 1u << order;
    uint64_t bit = i * bits;
    return (blk[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
}

static void rc_put(unsigned order, uint8_t *blk, uint64_t i, uint64_t v)
{
    if (order >= 3) {
        unsigned bytes = 1u << (order - 3);
        for (unsigned k = 0; k < bytes; k++) {
            blk[i * bytes + k] = (uint8_t)(v >> (8 * (bytes - 1 - k)));
        }
        return;
    }
    unsigned bits = 1u << order;
    uint64_t bit = i * bits;
    uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));
    blk[bit / 8] =
        (uint8_t)((blk[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
}

/* The refcount block of reftable index T, read into BUF; false if there is
 * none (or it is broken, already reported). */
static bool chk_load_block(struct qcow2_chk *c, uint64_t t, uint8_t *buf,
                           uint64_t *off)
{
    struct qcow2 *s = c->s;
    uint64_t e;

    if (t >= s->rt_size) {
        return false;
    }
    e = qcow2_be(s->rt[t]);
    *off = e & ~0x1ffull;
    if (!*off || (e & 0x1ff) || (*off & (s->cluster_size - 1)) ||
        !dm_range_ok(*off, s->cluster_size, s->file_end)) {
        return false;
    }
    return chk_read(c, *off, buf, s->cluster_size, "a refcount block");
}

/* Compare stored refcounts with the references found, fixing what REPAIR
 * allows in place. */
static int chk_compare(struct qcow2_chk *c)
{
    struct qcow2 *s = c->s;
    uint64_t per = 1ull << s->rb_bits;
    uint64_t nt = MAX(s->rt_size, (c->nb + per - 1) / per);
    uint8_t *blk = g_malloc(s->cluster_size);
    int ret = 0;

    for (uint64_t t = 0; t < nt && ret == 0; t++) {
        bool rebuild = c->need_rebuild && c->repair == QCOW2_REPAIR_ALL;
        uint64_t off = 0, c0 = t * per;
        bool have = chk_load_block(c, t, blk, &off), dirty = false;

        if (!have && c0 >= c->nb) {
            continue;
        }
        for (uint64_t i = 0; i < per; i++) {
            uint64_t k = c0 + i;
            uint64_t d = have ? rc_get(s->refcount_order, blk, i) : 0;
            uint64_t r = k < c->nb ? c->ref[k] : 0;

            if (d == r) {
                continue;
            }
            if (d > r) {
                c->res->leaks++;
                chk_msg(c,
                        "%s cluster %" PRIu64 " refcount=%" PRIu64
                        " reference=%" PRIu64,
                        c->repair ? "Repairing" : "Leaked", k, d, r);
                if (c->repair) {
                    rc_put(s->refcount_order, blk, i, r);
                    c->res->leaks_fixed++;
                    dirty = true;
                }
                continue;
            }
            c->res->corruptions++;
            chk_msg(c,
                    "%s cluster %" PRIu64 " refcount=%" PRIu64
                    " reference=%" PRIu64,
                    c->repair == QCOW2_REPAIR_ALL ? "Repairing" : "ERROR", k, d,
                    r);
            if (c->repair != QCOW2_REPAIR_ALL) {
                continue;
            }
            if (have && r <= s->refcount_max) {
                rc_put(s->refcount_order, blk, i, r);
                c->res->corruptions_fixed++;
                dirty = true;
            } else {
                c->need_rebuild = true;
            }
        }
        if (dirty && !rebuild) {
            ret = blk_file_pwrite(c->wf, off, blk, s->cluster_size);
        }
    }
    g_free(blk);
    if (ret == 0 && c->wf) {
        ret = blk_file_flush(c->wf);
    }
    return ret;
}

/*
 * A new refcount table and blocks after the end of the file, holding exactly
 * the references found (so old blocks and leaks become free), then the
 * header switched to it in one write.
 */
static int chk_rebuild(struct qcow2_chk *c)
{
    struct qcow2 *s = c->s;
    uint64_t cs = s->cluster_size, per = 1ull << s->rb_bits;
    uint64_t start = c->nb, nrb = 1, nrt = 1, total;
    uint64_t *rt;
    uint8_t *blk, hdr[12];
    int ret = 0;

    for (;;) {
        uint64_t all = start + nrb + nrt;
        uint64_t rb = (all + per - 1) / per, rtc = (rb * 8 + cs - 1) / cs;
        if (rb <= nrb && rtc <= nrt) {
            break;
        }
        nrb = MAX(nrb, rb);
        nrt = MAX(nrt, rtc);
    }
    if (nrt * cs > QCOW2_MAX_REFTABLE_BYTES) {
        return -EFBIG;
    }
    /* The old table and blocks are no longer used once the header moves. */
    chk_unref(c, s->rt_offset, (uint64_t)s->rt_clusters << s->cluster_bits);
    for (uint64_t t = 0; t < s->rt_size; t++) {
        uint64_t e = qcow2_be(s->rt[t]), off = e & ~0x1ffull;
        if (off && !(e & 0x1ff) && !(off & (cs - 1)) &&
            dm_range_ok(off, cs, s->file_end)) {
            chk_unref(c, off, cs);
        }
    }
    total = start + nrt + nrb;
    rt = g_malloc0(nrt * cs);
    blk = g_malloc(cs);
    for (uint64_t t = 0; t < nrb && ret == 0; t++) {
        memset(blk, 0, cs);
        for (uint64_t i = 0; i < per && t * per + i < total; i++) {
            uint64_t k = t * per + i;
            uint64_t v = k < c->nb ? MIN(c->ref[k], s->refcount_max) : 1;
            rc_put(s->refcount_order, blk, i, v);
        }
        rt[t] = GUINT64_TO_BE((start + nrt + t) * cs);
        ret = blk_file_pwrite(c->wf, (start + nrt + t) * cs, blk, cs);
    }
    if (ret == 0) {
        ret = blk_file_pwrite(c->wf, start * cs, rt, nrt * cs);
    }
    if (ret == 0) {
        ret = blk_file_flush(c->wf);
    }
    if (ret == 0) {
        uint64_t be = GUINT64_TO_BE(start * cs);
        uint32_t be32 = GUINT32_TO_BE((uint32_t)nrt);
        memcpy(hdr, &be, 8);
        memcpy(hdr + 8, &be32, 4);
        ret = blk_file_pwrite(c->wf, QCOW2_HDR_REFTABLE_OFFSET, hdr, 12);
    }
    if (ret == 0) {
        ret = blk_file_flush(c->wf);
    }
    g_free(rt);
    g_free(blk);
    return ret;
}

/* OFLAG_COPIED must be set exactly on active L1/L2 entries whose cluster has
 * one reference. Fixed with -r all. */
static int chk_copied(struct qcow2_chk *c)
{
    struct qcow2 *s = c->s;
    bool fix = c->repair == QCOW2_REPAIR_ALL;
    int ret = 0;

    for (uint32_t i = 0; i < s->l1_size && ret == 0; i++) {
        uint64_t e = qcow2_be(s->l1[i]), off = e & QCOW2_OFFSET_MASK;
        uint64_t *t = (uint64_t *)c->tbl;
        bool dirty = false, want;

        if (!off || (off & (s->cluster_size - 1)) ||
            !dm_range_ok(off, s->cluster_size, s->file_end)) {
            continue;
        }
        want = c->ref[off >> s->cluster_bits] == 1;
        if (want != !!(e & QCOW2_OFLAG_COPIED)) {
            chk_corrupt(
                c,
                "OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=0x%" PRIx64
                " refcount=%u",
                i, e, c->ref[off >> s->cluster_bits]);
            if (fix) {
                uint64_t ne = GUINT64_TO_BE(e ^ QCOW2_OFLAG_COPIED);
                ret = blk_file_pwrite(c->wf, s->l1_offset + i * 8ull, &ne, 8);
                c->res->corruptions_fixed += ret == 0;
            }
        }
        if (ret < 0 || !chk_read(c, off, t, s->cluster_size, "an L2 table")) {
            continue;
        }
        for (uint64_t j = 0; j < s->l2_entries; j++) {
            uint64_t le = qcow2_be(t[j]), h = le & QCOW2_OFFSET_MASK;
            if ((le & (QCOW2_OFLAG_COMPRESSED | QCOW2_L2E_RESERVED)) || !h ||
                (h & (s->cluster_size - 1)) ||
                (h >> s->cluster_bits) >= c->nb) {
                continue;
            }
            want = c->ref[h >> s->cluster_bits] == 1;
            if (want == !!(le & QCOW2_OFLAG_COPIED)) {
                continue;
            }
            chk_corrupt(c,
                        "OFLAG_COPIED data cluster: l2_entry=0x%" PRIx64
                        " refcount=%u",
                        le, c->ref[h >> s->cluster_bits]);
            if (fix) {
                t[j] = GUINT64_TO_BE(le ^ QCOW2_OFLAG_COPIED);
                dirty = true;
                c->res->corruptions_fixed++;
            }
        }
        if (dirty) {
            ret = blk_file_pwrite(c->wf, off, t, s->cluster_size);
        }
    }
    if (ret == 0 && c->wf) {
        ret = blk_file_flush(c->wf);
    }
    return ret;
}

/* After a repair that left nothing behind: drop the dirty bit (and with -r
 * all the corrupt bit). */
static int chk_clear_flags(struct qcow2_chk *c)
{
    struct qcow2 *s = c->s;
    struct qcow2_check_result *r = c->res;
    uint64_t inc = s->incompat, be;
    int ret;

    if (s->version < 3 || r->leaks != r->leaks_fixed ||
        r->corruptions != r->corruptions_fixed || r->check_errors) {
        return 0;
    }
    inc &= ~QCOW2_INCOMPAT_DIRTY;
    if (c->repair == QCOW2_REPAIR_ALL) {
        inc &= ~QCOW2_INCOMPAT_CORRUPT;
    }
    if (inc == s->incompat) {
        return 0;
    }
    be = GUINT64_TO_BE(inc);
    ret = blk_file_pwrite(c->wf, QCOW2_HDR_INCOMPAT, &be, 8);
    return ret == 0 ? blk_file_flush(c->wf) : ret;
}

static int chk_repair_tail(struct qcow2_chk *c)
{
    int ret = 0;

    if (c->need_rebuild && c->repair == QCOW2_REPAIR_ALL) {
        uint64_t before = c->res->corruptions_fixed;
        ret = chk_rebuild(c);
        if (ret == 0) {
            /* The new table holds exactly what was counted. */
            c->res->leaks_fixed = c->res->leaks;
            c->res->corruptions_fixed = c->res->corruptions;
        } else {
            c->res->corruptions_fixed = before;
        }
    }
    if (ret == 0) {
        ret = chk_copied(c);
    }
    if (ret == 0 && c->wf) {
        ret = chk_clear_flags(c);
    }
    return ret;
}

bool qcow2_check(struct blk *b, enum qcow2_repair repair,
                 struct qcow2_check_result *res, GError **errp)
{
    struct qcow2 *s = qcow2_state(b, errp);
    struct qcow2_chk c = { .s = s, .res = res, .repair = repair };
    struct blk_file wf;
    uint64_t nb;
    int ret;

    memset(res, 0, sizeof(*res));
    res->messages = g_ptr_array_new_with_free_func(g_free);
    if (!s) {
        return false;
    }
    nb = (s->file_end + s->cluster_size - 1) >> s->cluster_bits;
    if (nb > UINT32_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: image file too large to check (%" PRIu64 " clusters)",
                    b->filename, nb);
        return false;
    }
    if (repair != QCOW2_REPAIR_NONE) {
        if (!blk_file_open(&wf, b->filename, false, BLK_CACHE_WRITEBACK,
                           errp)) {
            return false;
        }
        c.wf = &wf;
    }
    g_mutex_lock(&s->lock);
    c.nb = nb;
    c.ref = g_new0(uint32_t, MAX(nb, 1));
    c.tbl = g_malloc(s->cluster_size);
    chk_ref(&c, 0, s->cluster_size, "header");
    chk_ref(&c, s->l1_offset, (uint64_t)s->l1_size * 8, "L1 table");
    chk_l1(&c, s->l1, s->l1_size, true);
    chk_snapshots(&c);
    chk_reftable(&c);
    ret = chk_compare(&c);
    if (ret == 0) {
        ret = chk_repair_tail(&c);
    }
    if (ret < 0) {
        res->check_errors++;
        chk_msg(&c, "ERROR writing repairs: %s", g_strerror(-ret));
    }
    res->total_clusters = (s->size + s->cluster_size - 1) >> s->cluster_bits;
    for (uint64_t k = nb; k > 0; k--) {
        if (c.ref[k - 1]) {
            res->image_end_offset = k << s->cluster_bits;
            break;
        }
    }
    g_mutex_unlock(&s->lock);
    g_free(c.ref);
    g_free(c.tbl);
    if (c.wf) {
        blk_file_close(&wf);
    }
    return true;
}

void qcow2_check_result_clear(struct qcow2_check_result *res)
{
    if (res->messages) {
        g_ptr_array_free(res->messages, true);
    }
    memset(res, 0, sizeof(*res));
}
