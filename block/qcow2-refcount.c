/*
 * qcow2-refcount.c: qcow2 reference counts and cluster allocation.
 *
 * Refcount blocks are loaded on demand and kept; changes are written back in
 * an order that survives a crash at any instant with at most leaked clusters:
 * frees only after the table that dropped the reference is on disk, new
 * refcount blocks before the reftable entry naming them, and increments
 * before anything references the cluster. Clusters are preallocated in
 * batches so a sequential writer pays one flush per batch, not per cluster.
 * Spec: QEMU docs/interop/qcow2.txt, "Host cluster management".
 */
#include <assert.h>

#include "hvmdm/log.h"
#include "qcow2.h"

#define QCOW2_ALLOC_BATCH_BYTES (4 * DM_MiB)
#define QCOW2_ALLOC_BATCH_MAX 4096

static uint64_t rb_get(const struct qcow2 *s, const uint8_t *blk, uint64_t i)
{
    switch (s->refcount_order) {
    case 3:
        return blk[i];
    case 4:
        return (uint64_t)blk[2 * i] << 8 | blk[2 * i + 1];
    case 5: {
        uint32_t v;
        memcpy(&v, blk + 4 * i, 4);
        return GUINT32_FROM_BE(v);
    }
    case 6: {
        uint64_t v;
        memcpy(&v, blk + 8 * i, 8);
        return GUINT64_FROM_BE(v);
    }
    default: { /* 1, 2 or 4 bits, least significant first */
        unsigned bits = 1u << s->refcount_order;
        uint64_t bit = i * bits;
        return (blk[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
    }
    }
}

static void rb_set(const struct qcow2 *s, uint8_t *blk, uint64_t i, uint64_t v)
{
    switch (s->refcount_order) {
    case 3:
        blk[i] = (uint8_t)v;
        break;
    case 4:
        blk[2 * i] = (uint8_t)(v >> 8);
        blk[2 * i + 1] = (uint8_t)v;
        break;
    case 5: {
        uint32_t be = GUINT32_TO_BE((uint32_t)v);
        memcpy(blk + 4 * i, &be, 4);
        break;
    }
    case 6: {
        uint64_t be = GUINT64_TO_BE(v);
        memcpy(blk + 8 * i, &be, 8);
        break;
    }
    default: {
        unsigned bits = 1u << s->refcount_order;
        uint64_t bit = i * bits;
        uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));
        blk[bit / 8] =
            (uint8_t)((blk[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
        break;
    }
    }
}

bool qcow2_refcount_init(struct qcow2 *s, GError **errp)
{
    size_t bytes = (size_t)s->rt_clusters << s->cluster_bits;
    int ret;

    s->rt_size = bytes / 8;
    s->rt = g_malloc(bytes);
    ret = blk_file_pread(s->f, s->rt_offset, s->rt, bytes);
    if (ret < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                    "%s: cannot read the refcount table: %s", s->b->filename,
                    g_strerror(-ret));
        return false;
    }
    s->rb = g_new0(uint8_t *, s->rt_size);
    s->rb_dirty = g_new0(bool, s->rt_size);
    s->refcount_max = s->refcount_order == 6
                          ? UINT64_MAX
                          : (1ull << (1u << s->refcount_order)) - 1;
    s->rb_bits = s->cluster_bits + 3 - s->refcount_order;
    s->rt_dirty_lo = UINT64_MAX;
    s->rt_dirty_hi = 0;
    return true;
}

void qcow2_refcount_free(struct qcow2 *s)
{
    for (uint64_t i = 0; s->rb && i < s->rt_size; i++) {
        g_free(s->rb[i]);
    }
    g_free(s->rb);
    g_free(s->rb_dirty);
    g_free(s->rt);
}

/* The refcount block for reftable index T, loaded; *BLK NULL if absent. */
static int rb_load(struct qcow2 *s, uint64_t t, uint8_t **blk)
{
    uint64_t e, off;
    int ret;

    *blk = NULL;
    if (t >= s->rt_size) {
        return 0;
    }
    if (s->rb[t]) {
        *blk = s->rb[t];
        return 0;
    }
    e = qcow2_be(s->rt[t]);
    off = e & ~0x1ffull;
    if (!off) {
        return 0;
    }
    if ((e & 0x1ff) || (off & (s->cluster_size - 1)) ||
        !dm_range_ok(off, s->cluster_size, s->file_end)) {
        qcow2_corrupt(s,
                      "refcount block %" PRIu64 " at 0x%" PRIx64
                      " misaligned or past the end of the file",
                      t, off);
        return -EIO;
    }
    s->rb[t] = g_malloc(s->cluster_size);
    ret = blk_file_pread(s->f, off, s->rb[t], s->cluster_size);
    if (ret < 0) {
        g_free(s->rb[t]);
        s->rb[t] = NULL;
        return ret;
    }
    *blk = s->rb[t];
    return 0;
}

int qcow2_get_refcount(struct qcow2 *s, uint64_t cluster, uint64_t *rc)
{
    uint8_t *blk;
    int ret = rb_load(s, cluster >> s->rb_bits, &blk);

    *rc = 0;
    if (ret == 0 && blk) {
        *rc = rb_get(s, blk, cluster & ((1ull << s->rb_bits) - 1));
    }
    return ret;
}

/* Set a refcount whose block is loaded. */
static void rc_set(struct qcow2 *s, uint64_t cluster, uint64_t v)
{
    uint64_t t = cluster >> s->rb_bits;

    assert(t < s->rt_size && s->rb[t]);
    rb_set(s, s->rb[t], cluster & ((1ull << s->rb_bits) - 1), v);
    s->rb_dirty[t] = true;
}

static void rt_mark_dirty(struct qcow2 *s, uint64_t t)
{
    s->rt_dirty_lo = MIN(s->rt_dirty_lo, t);
    s->rt_dirty_hi = MAX(s->rt_dirty_hi, t + 1);
}

static void note_end(struct qcow2 *s, uint64_t end)
{
    s->file_end = MAX(s->file_end, end);
}

int qcow2_refcount_sync(struct qcow2 *s)
{
    bool wrote = false;
    int ret;

    for (uint64_t t = 0; t < s->rt_size; t++) {
        uint64_t off;
        if (!s->rb_dirty[t]) {
            continue;
        }
        if (s->freed_since_flush) {
            /* Tables that dropped references reach the disk first. */
            ret = blk_file_flush(s->f);
            if (ret < 0) {
                return ret;
            }
            s->freed_since_flush = false;
        }
        off = qcow2_be(s->rt[t]) & ~0x1ffull;
        ret = blk_file_pwrite(s->f, off, s->rb[t], s->cluster_size);
        if (ret < 0) {
            return ret;
        }
        note_end(s, off + s->cluster_size);
        s->rb_dirty[t] = false;
        wrote = true;
    }
    if (wrote) {
        ret = blk_file_flush(s->f);
        if (ret < 0) {
            return ret;
        }
    }
    if (s->rt_dirty_lo < s->rt_dirty_hi) {
        uint64_t lo = s->rt_dirty_lo, n = s->rt_dirty_hi - lo;
        ret = blk_file_pwrite(s->f, s->rt_offset + lo * 8, s->rt + lo, n * 8);
        if (ret < 0) {
            return ret;
        }
        s->rt_dirty_lo = UINT64_MAX;
        s->rt_dirty_hi = 0;
        ret = blk_file_flush(s->f);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/*
 * Grow the reftable so it has an entry T. The new table and the refcount
 * blocks describing it go to the first clusters no existing block covers
 * (all free): table first, then its blocks, which cover themselves.
 */
static int rt_grow(struct qcow2 *s, uint64_t t)
{
    uint64_t old = s->rt_size, per = 1ull << s->rb_bits;
    uint64_t c0 = old << s->rb_bits, n = MAX(old * 2, t + 1), tc, k;
    uint64_t old_off = s->rt_offset, old_bytes;
    uint64_t *nrt;
    uint8_t hdr[12];
    int ret;

    for (;;) {
        tc = (n * 8 + s->cluster_size - 1) >> s->cluster_bits;
        for (k = 1; k * per < tc + k; k++) {
        }
        if (n >= old + k) {
            break;
        }
        n = old + k;
    }
    if ((tc << s->cluster_bits) > QCOW2_MAX_REFTABLE_BYTES ||
        ((c0 + tc + k) << s->cluster_bits) > QCOW2_OFFSET_MASK) {
        return -EFBIG;
    }
    ret = qcow2_refcount_sync(s);
    if (ret < 0) {
        return ret;
    }
    n = (tc << s->cluster_bits) / 8;
    nrt = g_malloc0(tc << s->cluster_bits);
    memcpy(nrt, s->rt, old * 8);
    s->rb = g_renew(uint8_t *, s->rb, n);
    s->rb_dirty = g_renew(bool, s->rb_dirty, n);
    for (uint64_t i = old; i < n; i++) {
        s->rb[i] = NULL;
        s->rb_dirty[i] = false;
    }
    for (uint64_t j = 0; j < k; j++) {
        s->rb[old + j] = g_malloc0(s->cluster_size);
        nrt[old + j] = GUINT64_TO_BE((c0 + tc + j) << s->cluster_bits);
    }
    old_bytes = (uint64_t)s->rt_clusters << s->cluster_bits;
    g_free(s->rt);
    s->rt = nrt;
    s->rt_size = n;
    for (uint64_t c = c0; c < c0 + tc + k; c++) {
        rc_set(s, c, 1);
    }
    for (uint64_t j = 0; j < k; j++) {
        uint64_t off = (c0 + tc + j) << s->cluster_bits;
        ret = blk_file_pwrite(s->f, off, s->rb[old + j], s->cluster_size);
        if (ret < 0) {
            return ret;
        }
        s->rb_dirty[old + j] = false;
    }
    ret = blk_file_pwrite(s->f, c0 << s->cluster_bits, nrt,
                          tc << s->cluster_bits);
    if (ret == 0) {
        ret = blk_file_flush(s->f);
    }
    if (ret < 0) {
        return ret;
    }
    note_end(s, (c0 + tc + k) << s->cluster_bits);
    /* Switch the header to the new table in one 12-byte write. */
    {
        uint64_t be_off = GUINT64_TO_BE(c0 << s->cluster_bits);
        uint32_t be_cl = GUINT32_TO_BE((uint32_t)tc);
        memcpy(hdr, &be_off, 8);
        memcpy(hdr + 8, &be_cl, 4);
    }
    ret = blk_file_pwrite(s->f, QCOW2_HDR_REFTABLE_OFFSET, hdr, sizeof(hdr));
    if (ret == 0) {
        ret = blk_file_flush(s->f);
    }
    if (ret < 0) {
        return ret;
    }
    s->rt_offset = c0 << s->cluster_bits;
    s->rt_clusters = (uint32_t)tc;
    return qcow2_free_range(s, old_off, old_bytes);
}

/* Make sure refcount blocks exist for clusters [start, start+n). Returns 1
 * if clusters were taken for new metadata (the caller must look again). */
static int ensure_blocks(struct qcow2 *s, uint64_t start, uint64_t n)
{
    int created = 0;

    for (uint64_t t = start >> s->rb_bits; t <= (start + n - 1) >> s->rb_bits;
         t++) {
        uint8_t *blk;
        uint64_t c;
        int ret;

        if (t >= s->rt_size) {
            ret = rt_grow(s, t);
            if (ret < 0) {
                return ret;
            }
            return 1;
        }
        ret = rb_load(s, t, &blk);
        if (ret < 0) {
            return ret;
        }
        if (blk) {
            continue;
        }
        /* No block yet: nothing in its range is in use, so the block can
         * live in the first cluster it describes. */
        c = t << s->rb_bits;
        if (c == 0) {
            qcow2_corrupt(s, "refcount table has no block for cluster 0");
            return -EIO;
        }
        s->rb[t] = g_malloc0(s->cluster_size);
        s->rt[t] = GUINT64_TO_BE(c << s->cluster_bits);
        rt_mark_dirty(s, t);
        rc_set(s, c, 1);
        created = 1;
    }
    return created;
}

/* First run of N free clusters at or after the free hint. */
static int64_t find_free_run(struct qcow2 *s, uint64_t n)
{
    uint64_t idx = s->free_hint, run = 0, start = idx;
    bool first = true;

    while (run < n) {
        uint64_t rc;
        int ret = qcow2_get_refcount(s, idx, &rc);
        if (ret < 0) {
            return ret;
        }
        if (rc == 0) {
            if (first) {
                s->free_hint = idx;
                first = false;
            }
            if (run == 0) {
                start = idx;
            }
            run++;
        } else {
            run = 0;
        }
        idx++;
        if ((idx << s->cluster_bits) > QCOW2_OFFSET_MASK) {
            return -ENOSPC;
        }
    }
    return (int64_t)start;
}

int qcow2_release_reserve(struct qcow2 *s)
{
    for (uint64_t c = s->reserve_lo; c < s->reserve_hi; c++) {
        rc_set(s, c, 0);
    }
    if (s->reserve_lo < s->reserve_hi) {
        s->free_hint = MIN(s->free_hint, s->reserve_lo);
    }
    s->reserve_lo = s->reserve_hi = 0;
    return 0;
}

int64_t qcow2_alloc_clusters(struct qcow2 *s, uint64_t n)
{
    uint64_t want, batch = QCOW2_ALLOC_BATCH_BYTES >> s->cluster_bits;
    int64_t start;
    int ret;

    if (s->reserve_hi - s->reserve_lo >= n) {
        start = (int64_t)s->reserve_lo;
        s->reserve_lo += n;
        note_end(s, (uint64_t)(start + (int64_t)n) << s->cluster_bits);
        return start << s->cluster_bits;
    }
    qcow2_release_reserve(s);
    /* A run must fit between the refcount blocks placed at the start of
     * each block's range, or the search below would never end. */
    if (n >= (1ull << s->rb_bits)) {
        return -EINVAL;
    }
    want = MAX(n, MIN(MAX(batch, (uint64_t)1), QCOW2_ALLOC_BATCH_MAX));
    want = MIN(want, qcow2_max_alloc(s));
    for (;;) {
        start = find_free_run(s, want);
        if (start < 0) {
            return start;
        }
        ret = ensure_blocks(s, (uint64_t)start, want);
        if (ret < 0) {
            return ret;
        }
        if (ret == 0) {
            break;
        }
    }
    for (uint64_t c = (uint64_t)start; c < (uint64_t)start + want; c++) {
        rc_set(s, c, 1);
    }
    ret = qcow2_refcount_sync(s);
    if (ret < 0) {
        return ret;
    }
    s->reserve_lo = (uint64_t)start + n;
    s->reserve_hi = (uint64_t)start + want;
    note_end(s, ((uint64_t)start + n) << s->cluster_bits);
    return start << s->cluster_bits;
}

int qcow2_free_range(struct qcow2 *s, uint64_t off, uint64_t len)
{
    if (len == 0) {
        return 0;
    }
    for (uint64_t c = off >> s->cluster_bits;
         c <= (off + len - 1) >> s->cluster_bits; c++) {
        uint64_t rc;
        int ret = qcow2_get_refcount(s, c, &rc);
        if (ret < 0) {
            return ret;
        }
        if (rc == 0) {
            qcow2_corrupt(
                s, "freeing cluster 0x%" PRIx64 " whose refcount is already 0",
                c << s->cluster_bits);
            return -EIO;
        }
        rc_set(s, c, rc - 1);
        if (rc == 1) {
            s->free_hint = MIN(s->free_hint, c);
        }
        s->freed_since_flush = true;
    }
    return 0;
}
