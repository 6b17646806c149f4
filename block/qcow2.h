/*
 * qcow2.h: state shared by qcow2.c (header, mapping, data paths) and
 * qcow2-refcount.c (refcounts and cluster allocation).
 * Format: QEMU's docs/interop/qcow2.txt (versions 2 and 3).
 */
#ifndef HVMDM_BLOCK_QCOW2_H
#define HVMDM_BLOCK_QCOW2_H

#include "block-int.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */

/* Header field offsets (big-endian) */
#define QCOW2_HDR_REFTABLE_OFFSET 48 /* u64, then u32 clusters at 56 */
#define QCOW2_HDR_INCOMPAT 72
#define QCOW2_HDR_AUTOCLEAR 88
#define QCOW2_HDR_V2_LEN 72
#define QCOW2_HDR_V3_LEN 104

/* Incompatible feature bits */
#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)

/* L1 / L2 entries */
#define QCOW2_OFLAG_COPIED (1ull << 63) /* refcount is exactly one */
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO (1ull << 0)            /* v3: reads as zeros */
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull /* bits 9..55 */
#define QCOW2_L1E_RESERVED 0x7f000000000001ffull
#define QCOW2_L2E_RESERVED 0x3f000000000001feull

#define QCOW2_MAX_L1_BYTES (32 * DM_MiB)
#define QCOW2_MAX_REFTABLE_BYTES (8 * DM_MiB)
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_MAX_BACKING_NAME 1023

enum qcow2_compression {
    QCOW2_COMPRESS_ZLIB = 0,
    QCOW2_COMPRESS_ZSTD = 1,
};

struct qcow2 {
    struct blk *b;
    struct blk_file *f;
    GMutex lock; /* one request at a time touches metadata */

    uint32_t version;
    unsigned cluster_bits;
    uint64_t cluster_size;
    unsigned l2_bits; /* log2 of entries per L2 table */
    uint64_t l2_entries;
    uint64_t size;
    uint64_t incompat, compat, autoclear;
    uint32_t header_length;
    enum qcow2_compression compression;

    uint32_t l1_size;
    uint64_t l1_offset;
    uint64_t *l1;  /* big-endian, as on disk */
    uint64_t **l2; /* per L1 index: loaded table (big-endian) */

    unsigned refcount_order;
    uint64_t refcount_max;
    unsigned rb_bits; /* log2 of refcount entries per block */
    uint64_t rt_offset;
    uint32_t rt_clusters;
    uint64_t rt_size; /* entries */
    uint64_t *rt;     /* big-endian */
    uint8_t **rb;     /* per reftable index: loaded refcount block */
    bool *rb_dirty;
    uint64_t rt_dirty_lo, rt_dirty_hi; /* reftable entries to write */

    uint64_t free_hint;              /* no free cluster below this index */
    uint64_t reserve_lo, reserve_hi; /* preallocated, refcount 1, unused */
    bool freed_since_flush;
    uint64_t file_end; /* bytes, grows with allocation */

    uint32_t nb_snapshots;
    uint64_t snapshots_offset;

    char *backing_name;
    char *backing_format;
    struct blk *backing;

    uint64_t zcache_off; /* host offset of the cluster in zcache, or 0 */
    uint8_t *zcache;     /* last decompressed cluster */
};

static inline uint64_t qcow2_be(uint64_t v)
{
    return GUINT64_FROM_BE(v);
}

/* Most clusters one allocation may ask for. */
static inline uint64_t qcow2_max_alloc(const struct qcow2 *s)
{
    return (1ull << s->rb_bits) - 1;
}

/* qcow2-refcount.c */
bool qcow2_refcount_init(struct qcow2 *s, GError **errp);
void qcow2_refcount_free(struct qcow2 *s);
int qcow2_get_refcount(struct qcow2 *s, uint64_t cluster, uint64_t *rc);
/* N contiguous clusters with refcount 1, durable before return (so metadata
 * may point at them). Returns the host offset or -errno. */
int64_t qcow2_alloc_clusters(struct qcow2 *s, uint64_t n);
/* Drop one reference to each cluster of [off, off+len) (lazily written). */
int qcow2_free_range(struct qcow2 *s, uint64_t off, uint64_t len);
/* Write refcount changes made since the last sync, in crash-safe order. */
int qcow2_refcount_sync(struct qcow2 *s);
/* Give back unused preallocated clusters (on close). */
int qcow2_release_reserve(struct qcow2 *s);

void qcow2_corrupt(struct qcow2 *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#endif
