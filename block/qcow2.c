/*
 * qcow2.c: QEMU copy-on-write images, versions 2 and 3: header and extension
 * validation, L1/L2 mapping, reads (backing chain, zero and compressed
 * clusters), allocating writes with copy-on-write, discard.
 * Spec: QEMU docs/interop/qcow2.txt (version 3 with compression_type).
 *
 * Every field read from the file is checked before use; a bad image is
 * refused at open with one line naming the file and the field. Metadata is
 * written through (refcounts by qcow2-refcount.c) in crash-safe order: data,
 * refcounts, L2, L1. Left out: encryption, external data files, extended L2,
 * lazy refcounts (dirty images open read-only), writing compressed clusters,
 * bitmaps (their autoclear bit is cleared on writable opens), snapshot use.
 */
#include <stdarg.h>
#ifdef CONFIG_ZLIB
#include <zlib.h>
#endif
#ifdef CONFIG_ZSTD
#include <zstd.h>
#endif

#include "hvmdm/bytes.h"
#include "hvmdm/log.h"
#include "hvmdm/trace.h"
#include "qcow2.h"

/* Header extension types */
#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_BACKING_FMT 0xe2792acau
#define QCOW2_EXT_FEATURES 0x6803f857u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_DATA_FILE 0x44415441u

#define QCOW2_SUPPORTED_INCOMPAT \
    (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_COMPRESSION)

enum qcow2_kind {
    QCOW2_UNALLOCATED,
    QCOW2_ZERO,
    QCOW2_NORMAL,
    QCOW2_COMPRESSED,
};

void qcow2_corrupt(struct qcow2 *s, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    dm_warn("%s: corrupt qcow2 image: %s", s->b->filename, msg);
    g_free(msg);
}

/* ---- open -------------------------------------------------------------------- */

#define BAD(...)                                                    \
    do {                                                            \
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, __VA_ARGS__); \
        return false;                                               \
    } while (0)

/* A table of COUNT entries of ESIZE bytes at OFF: aligned, inside the file.
 * OFF_FIELD and COUNT_FIELD name the header fields for messages. */
static bool qcow2_check_table(struct qcow2 *s, const char *off_field,
                              uint64_t off, const char *count_field,
                              uint64_t count, uint64_t esize, uint64_t max,
                              GError **errp)
{
    const char *fn = s->b->filename;

    if (count > max / esize) {
        BAD("%s: qcow2 header: %s %" PRIu64 " too large (limit %" PRIu64 ")",
            fn, count_field, count, max / esize);
    }
    if (count && (off & (s->cluster_size - 1))) {
        BAD("%s: qcow2 header: %s 0x%" PRIx64 " is not aligned to the "
            "cluster size",
            fn, off_field, off);
    }
    if (count && off == 0) {
        BAD("%s: qcow2 header: %s 0x0 overlaps the header", fn, off_field);
    }
    if (!dm_range_ok(off, count * esize, s->file_end)) {
        BAD("%s: qcow2 header: %s 0x%" PRIx64 " with %s %" PRIu64
            " lies past the end of the file (0x%" PRIx64 ")",
            fn, off_field, off, count_field, count, s->file_end);
    }
    return true;
}

/* The name of an unsupported incompatible feature, from the image's feature
 * table when it has one. */
static char *qcow2_feature_name(const uint8_t *tbl, uint32_t len, unsigned bit)
{
    for (uint32_t i = 0; i + 48 <= len; i += 48) {
        if (tbl[i] == 0 && tbl[i + 1] == bit) {
            return g_strndup((const char *)tbl + i + 2, 46);
        }
    }
    switch (bit) {
    case 2:
        return g_strdup("external data file");
    case 4:
        return g_strdup("extended L2 entries");
    default:
        return g_strdup_printf("bit %u", bit);
    }
}

static bool qcow2_parse_extensions(struct qcow2 *s, const uint8_t *hdr,
                                   uint64_t end, GError **errp)
{
    const char *fn = s->b->filename;
    uint64_t pos = s->header_length;
    const uint8_t *features = NULL;
    uint32_t features_len = 0;

    while (pos + 8 <= end) {
        uint32_t type = dm_ld_be32(hdr + pos), len = dm_ld_be32(hdr + pos + 4);
        const uint8_t *data = hdr + pos + 8;

        if (type == QCOW2_EXT_END) {
            break;
        }
        if (len > end - pos - 8) {
            BAD("%s: qcow2 header extension 0x%x at 0x%" PRIx64 ": length %u "
                "runs past the end of the header cluster",
                fn, type, pos, len);
        }
        switch (type) {
        case QCOW2_EXT_BACKING_FMT:
            if (len == 0 || len > 16) {
                BAD("%s: qcow2 header: backing format name length %u "
                    "(must be 1..16)",
                    fn, len);
            }
            s->backing_format = g_strndup((const char *)data, len);
            break;
        case QCOW2_EXT_FEATURES:
            features = data;
            features_len = len;
            break;
        case QCOW2_EXT_CRYPTO:
            BAD("%s: encrypted qcow2 images are not supported", fn);
        case QCOW2_EXT_DATA_FILE:
            BAD("%s: qcow2 images with an external data file are not "
                "supported",
                fn);
        default:
            break; /* unknown extensions may be ignored */
        }
        pos += 8 + dm_align_up(len, 8);
    }
    if (s->incompat & ~QCOW2_SUPPORTED_INCOMPAT) {
        uint64_t bad = s->incompat & ~QCOW2_SUPPORTED_INCOMPAT;
        unsigned bit = (unsigned)__builtin_ctzll(bad);
        char *name = qcow2_feature_name(features, features_len, bit);
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: qcow2 header: unsupported incompatible feature "
                    "\"%s\" (incompatible_features 0x%" PRIx64 ")",
                    fn, name, s->incompat);
        g_free(name);
        return false;
    }
    return true;
}

static bool qcow2_parse_header(struct qcow2 *s, const uint8_t *h, size_t hlen,
                               GError **errp)
{
    const char *fn = s->b->filename;
    uint64_t span, l1_needed, end;
    uint32_t crypt;

    s->version = dm_ld_be32(h + 4);
    if (s->version != 2 && s->version != 3) {
        BAD("%s: unsupported qcow2 version %u (2 and 3 are)", fn, s->version);
    }
    s->cluster_bits = dm_ld_be32(h + 20);
    if (s->cluster_bits < 9 || s->cluster_bits > 21) {
        BAD("%s: qcow2 header: cluster_bits %u out of range (9..21)", fn,
            s->cluster_bits);
    }
    s->cluster_size = 1ull << s->cluster_bits;
    s->l2_bits = s->cluster_bits - 3;
    s->l2_entries = 1ull << s->l2_bits;
    s->size = dm_ld_be64(h + 24);
    crypt = dm_ld_be32(h + 32);
    if (crypt != 0) {
        BAD("%s: qcow2 header: crypt_method %u: encrypted images are not "
            "supported",
            fn, crypt);
    }
    s->l1_size = dm_ld_be32(h + 36);
    s->l1_offset = dm_ld_be64(h + 40);
    s->rt_offset = dm_ld_be64(h + 48);
    s->rt_clusters = dm_ld_be32(h + 56);
    s->nb_snapshots = dm_ld_be32(h + 60);
    s->snapshots_offset = dm_ld_be64(h + 64);
    s->refcount_order = 4;
    s->header_length = QCOW2_HDR_V2_LEN;
    if (s->version == 3) {
        s->incompat = dm_ld_be64(h + 72);
        s->compat = dm_ld_be64(h + 80);
        s->autoclear = dm_ld_be64(h + 88);
        s->refcount_order = dm_ld_be32(h + 96);
        s->header_length = dm_ld_be32(h + 100);
        if (s->header_length < QCOW2_HDR_V3_LEN ||
            s->header_length > MIN(s->cluster_size, hlen)) {
            BAD("%s: qcow2 header: header_length %u out of range (104..%" PRIu64
                ")",
                fn, s->header_length, s->cluster_size);
        }
        if (s->refcount_order > 6) {
            BAD("%s: qcow2 header: refcount_order %u out of range (0..6)", fn,
                s->refcount_order);
        }
        if (s->header_length > QCOW2_HDR_V3_LEN) {
            s->compression = h[104];
        }
        if ((s->compression != QCOW2_COMPRESS_ZLIB) !=
            !!(s->incompat & QCOW2_INCOMPAT_COMPRESSION)) {
            BAD("%s: qcow2 header: compression_type %u does not match the "
                "compression feature bit",
                fn, s->compression);
        }
        if (s->compression > QCOW2_COMPRESS_ZSTD) {
            BAD("%s: qcow2 header: unknown compression_type %u", fn,
                s->compression);
        }
    }

    /* L1 must map the whole virtual disk. */
    span = 1ull << (s->cluster_bits + s->l2_bits);
    l1_needed = s->size / span + (s->size % span != 0);
    if (s->size > (1ull << 62)) {
        BAD("%s: qcow2 header: size 0x%" PRIx64 " too large", fn, s->size);
    }
    if (s->l1_size < l1_needed) {
        BAD("%s: qcow2 header: l1_size %u too small for size %" PRIu64
            " (needs %" PRIu64 ")",
            fn, s->l1_size, s->size, l1_needed);
    }
    if (s->rt_clusters == 0) {
        BAD("%s: qcow2 header: refcount_table_clusters is 0", fn);
    }
    if (!qcow2_check_table(s, "l1_table_offset", s->l1_offset, "l1_size",
                           s->l1_size, 8, QCOW2_MAX_L1_BYTES, errp) ||
        !qcow2_check_table(s, "refcount_table_offset", s->rt_offset,
                           "refcount_table_clusters", s->rt_clusters,
                           s->cluster_size, QCOW2_MAX_REFTABLE_BYTES, errp) ||
        !qcow2_check_table(s, "snapshots_offset", s->snapshots_offset,
                           "nb_snapshots", s->nb_snapshots, 40,
                           40ull * QCOW2_MAX_SNAPSHOTS, errp)) {
        return false;
    }

    /* Backing file name: inside the first cluster, after the header. */
    end = MIN(s->cluster_size, hlen);
    {
        uint64_t boff = dm_ld_be64(h + 8);
        uint32_t blen = dm_ld_be32(h + 16);
        if (boff) {
            if (blen == 0 || blen > QCOW2_MAX_BACKING_NAME ||
                boff < s->header_length || !dm_range_ok(boff, blen, end)) {
                BAD("%s: qcow2 header: backing_file_offset 0x%" PRIx64
                    " / backing_file_size %u outside the header cluster",
                    fn, boff, blen);
            }
            s->backing_name = g_strndup((const char *)h + boff, blen);
            end = boff;
        }
    }
    return qcow2_parse_extensions(s, h, end, errp);
}

static bool qcow2_open_backing(struct qcow2 *s, GError **errp)
{
    enum blk_format fmt = BLK_FORMAT_PROBE;
    char *path;

    if (!s->backing_name) {
        return true;
    }
    if (s->backing_format && !blk_parse_format(s->backing_format, &fmt, NULL)) {
        BAD("%s: qcow2 header: unknown backing file format \"%s\"",
            s->b->filename, s->backing_format);
    }
    if (g_path_is_absolute(s->backing_name)) {
        path = g_strdup(s->backing_name);
    } else {
        char *dir = g_path_get_dirname(s->b->filename);
        path = g_build_filename(dir, s->backing_name, NULL);
        g_free(dir);
    }
    s->backing = blk_open_backing(s->b, path, fmt, errp);
    g_free(path);
    if (!s->backing) {
        g_prefix_error(errp, "%s: backing file: ", s->b->filename);
        return false;
    }
    return true;
}

/* Writable opens: refuse what we cannot keep consistent, drop bits for
 * features we do not maintain. */
static bool qcow2_open_rw(struct qcow2 *s, GError **errp)
{
    const char *fn = s->b->filename;

    if (s->incompat & QCOW2_INCOMPAT_CORRUPT) {
        BAD("%s: qcow2 image is marked corrupt; open it read-only or repair "
            "it with qemu-img check -r all",
            fn);
    }
    if (s->incompat & QCOW2_INCOMPAT_DIRTY) {
        BAD("%s: qcow2 image has the dirty bit set (lazy refcounts); repair "
            "it with qemu-img check -r all or open it read-only",
            fn);
    }
    if (s->version == 3 && s->autoclear) {
        uint64_t zero = 0;
        int ret = blk_file_pwrite(s->f, QCOW2_HDR_AUTOCLEAR, &zero, 8);
        if (ret == 0) {
            ret = blk_file_flush(s->f);
        }
        if (ret < 0) {
            g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                        "%s: cannot update the qcow2 header: %s", fn,
                        g_strerror(-ret));
            return false;
        }
        s->autoclear = 0;
    }
    return true;
}

static void qcow2_free_state(struct qcow2 *s)
{
    if (s->l2) {
        for (uint32_t i = 0; i < s->l1_size; i++) {
            g_free(s->l2[i]);
        }
    }
    g_free(s->l2);
    g_free(s->l1);
    qcow2_refcount_free(s);
    blk_close(s->backing);
    g_free(s->backing_name);
    g_free(s->backing_format);
    g_free(s->zcache);
    g_mutex_clear(&s->lock);
    g_free(s);
}

static bool qcow2_open(struct blk *b, GError **errp)
{
    struct qcow2 *s = g_new0(struct qcow2, 1);
    uint8_t *h = NULL;
    size_t hlen;
    int64_t fsize;
    int ret;

    s->b = b;
    s->f = &b->file;
    g_mutex_init(&s->lock);
    fsize = blk_file_size(s->f);
    if (fsize < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot get size: %s",
                    b->filename, g_strerror((int)-fsize));
        goto fail;
    }
    s->file_end = (uint64_t)fsize;
    /* The header and its extensions live in the first cluster (<= 2 MiB). */
    hlen = (size_t)MIN((uint64_t)fsize, 1ull << 21);
    if (hlen < QCOW2_HDR_V2_LEN) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: file too short for a qcow2 header", b->filename);
        goto fail;
    }
    h = g_malloc0(hlen);
    ret = blk_file_pread(s->f, 0, h, hlen);
    if (ret < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot read: %s",
                    b->filename, g_strerror(-ret));
        goto fail;
    }
    if (dm_ld_be32(h) != QCOW2_MAGIC) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: not a qcow2 image (bad magic)", b->filename);
        goto fail;
    }
    if (!qcow2_parse_header(s, h, hlen, errp)) {
        goto fail;
    }
    g_free(h);
    h = NULL;
#ifndef CONFIG_ZSTD
    if (s->compression == QCOW2_COMPRESS_ZSTD) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: zstd compressed qcow2 images need a build with "
                    "libzstd",
                    b->filename);
        goto fail;
    }
#endif
    s->l1 = g_new0(uint64_t, MAX(s->l1_size, 1u));
    s->l2 = g_new0(uint64_t *, MAX(s->l1_size, 1u));
    ret = blk_file_pread(s->f, s->l1_offset, s->l1, (size_t)s->l1_size * 8);
    if (ret < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                    "%s: cannot read the L1 table: %s", b->filename,
                    g_strerror(-ret));
        goto fail;
    }
    if (!qcow2_refcount_init(s, errp)) {
        goto fail;
    }
    if (!b->read_only && !qcow2_open_rw(s, errp)) {
        goto fail;
    }
    if (!qcow2_open_backing(s, errp)) {
        goto fail;
    }
    b->size = s->size;
    b->drv_state = s;
    return true;

fail:
    g_free(h);
    qcow2_free_state(s);
    return false;
}

static void qcow2_close(struct blk *b)
{
    struct qcow2 *s = b->drv_state;

    if (!b->read_only) {
        g_mutex_lock(&s->lock);
        qcow2_release_reserve(s);
        if (qcow2_refcount_sync(s) < 0 || blk_file_flush(s->f) < 0) {
            dm_warn("%s: writing qcow2 metadata on close failed", b->filename);
        }
        g_mutex_unlock(&s->lock);
    }
    qcow2_free_state(s);
}

/* ---- mapping ---------------------------------------------------------------- */

/* The L2 table for L1 index I, loaded; *TBL NULL when none is allocated. */
static int qcow2_l2_load(struct qcow2 *s, uint64_t i, uint64_t **tbl)
{
    uint64_t e, off;
    int ret;

    *tbl = NULL;
    if (i >= s->l1_size) {
        qcow2_corrupt(s, "L1 index %" PRIu64 " beyond l1_size", i);
        return -EIO;
    }
    if (s->l2[i]) {
        *tbl = s->l2[i];
        return 0;
    }
    e = qcow2_be(s->l1[i]);
    off = e & QCOW2_OFFSET_MASK;
    if (!off) {
        return 0;
    }
    if ((e & QCOW2_L1E_RESERVED) || (off & (s->cluster_size - 1)) ||
        !dm_range_ok(off, s->cluster_size, s->file_end)) {
        qcow2_corrupt(s,
                      "L1 entry %" PRIu64 " (0x%" PRIx64 ") invalid or "
                      "past the end of the file",
                      i, e);
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

/* Decode an L2 entry; -EIO if it is malformed. */
static int qcow2_classify(struct qcow2 *s, uint64_t e, enum qcow2_kind *kind,
                          uint64_t *host)
{
    *host = 0;
    if (e & QCOW2_OFLAG_COMPRESSED) {
        *kind = QCOW2_COMPRESSED;
        *host = e & ((1ull << (62 - (s->cluster_bits - 8))) - 1);
        return 0;
    }
    *host = e & QCOW2_OFFSET_MASK;
    if ((e & QCOW2_L2E_RESERVED) || (*host & (s->cluster_size - 1)) ||
        ((e & QCOW2_OFLAG_ZERO) && s->version < 3)) {
        qcow2_corrupt(s, "invalid L2 entry 0x%" PRIx64, e);
        return -EIO;
    }
    if (e & QCOW2_OFLAG_ZERO) {
        *kind = QCOW2_ZERO;
    } else {
        *kind = *host ? QCOW2_NORMAL : QCOW2_UNALLOCATED;
    }
    return 0;
}

/* Entry for guest cluster GC (0 when its L2 table is unallocated). */
static int qcow2_entry(struct qcow2 *s, uint64_t gc, uint64_t *e)
{
    uint64_t *tbl;
    int ret = qcow2_l2_load(s, gc >> s->l2_bits, &tbl);

    *e = 0;
    if (ret == 0 && tbl) {
        *e = qcow2_be(tbl[gc & (s->l2_entries - 1)]);
    }
    return ret;
}

/* Host byte range a compressed entry's data occupies. */
static void qcow2_compressed_range(struct qcow2 *s, uint64_t e, uint64_t *off,
                                   uint64_t *len)
{
    unsigned x = 62 - (s->cluster_bits - 8);
    uint64_t nsec = ((e >> x) & ((1ull << (s->cluster_bits - 8)) - 1)) + 1;

    *off = e & ((1ull << x) - 1);
    *len = nsec * 512 - (*off & 511);
}

/* ---- compressed clusters ----------------------------------------------------- */

static int qcow2_inflate(struct qcow2 *s, const uint8_t *src, size_t slen,
                         uint8_t *dst)
{
    switch (s->compression) {
#ifdef CONFIG_ZLIB
    case QCOW2_COMPRESS_ZLIB: {
        z_stream z;
        int zr;

        memset(&z, 0, sizeof(z));
        if (inflateInit2(&z, -15) != Z_OK) {
            return -ENOMEM;
        }
        z.next_in = (Bytef *)src;
        z.avail_in = (uInt)slen;
        z.next_out = dst;
        z.avail_out = (uInt)s->cluster_size;
        zr = inflate(&z, Z_FINISH);
        inflateEnd(&z);
        if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR) || z.avail_out != 0) {
            return -EIO;
        }
        return 0;
    }
#endif
#ifdef CONFIG_ZSTD
    case QCOW2_COMPRESS_ZSTD: {
        ZSTD_DCtx *dc = ZSTD_createDCtx();
        ZSTD_inBuffer in = { src, slen, 0 };
        ZSTD_outBuffer out = { dst, s->cluster_size, 0 };
        size_t zr = 1;

        if (!dc) {
            return -ENOMEM;
        }
        while (out.pos < out.size && in.pos < in.size) {
            zr = ZSTD_decompressStream(dc, &out, &in);
            if (ZSTD_isError(zr) || zr == 0) {
                break;
            }
        }
        ZSTD_freeDCtx(dc);
        if (ZSTD_isError(zr) || out.pos != out.size) {
            return -EIO;
        }
        return 0;
    }
#endif
    default:
        return -ENOTSUP;
    }
}

/* Decompress the cluster of entry E into s->zcache. */
static int qcow2_load_compressed(struct qcow2 *s, uint64_t e)
{
    uint64_t off, len;
    uint8_t *buf;
    int ret;

    qcow2_compressed_range(s, e, &off, &len);
    if (s->zcache && s->zcache_off == off) {
        return 0;
    }
    if (!off || !dm_range_ok(off, 1, s->file_end)) {
        qcow2_corrupt(
            s, "compressed cluster at 0x%" PRIx64 " past the end of the file",
            off);
        return -EIO;
    }
    len = MIN(len, s->file_end - off);
    if (!s->zcache) {
        s->zcache = g_malloc(s->cluster_size);
    }
    buf = g_malloc(len);
    ret = blk_file_pread(s->f, off, buf, len);
    if (ret == 0) {
        ret = qcow2_inflate(s, buf, len, s->zcache);
        if (ret == -EIO) {
            qcow2_corrupt(
                s, "compressed cluster at 0x%" PRIx64 " does not decompress",
                off);
        }
    }
    g_free(buf);
    s->zcache_off = ret == 0 ? off : 0;
    return ret;
}

/* ---- reads ----------------------------------------------------------------- */

static int qcow2_read_backing(struct qcow2 *s, uint64_t off,
                              const struct iovec *iov, int niov, uint64_t len)
{
    uint64_t bsize = s->backing ? blk_size(s->backing) : 0;
    uint64_t n = off < bsize ? MIN(len, bsize - off) : 0;
    int ret = 0;

    if (n) {
        ret = blk_preadv_sync(s->backing, off, iov, niov);
        if (n == len || ret < 0) {
            return ret;
        }
    }
    blk_iov_memset(iov, niov, n, 0, len - n);
    return 0;
}

/* Guest bytes [off, off+len) into IOV; the lock is held. */
static int qcow2_read_locked(struct qcow2 *s, uint64_t off,
                             const struct iovec *iov, int niov, uint64_t len)
{
    struct iovec *sub = g_new(struct iovec, niov);
    uint64_t pos = 0;
    int ret = 0;

    while (pos < len && ret == 0) {
        uint64_t g = off + pos, gc = g >> s->cluster_bits;
        uint64_t co = g & (s->cluster_size - 1);
        uint64_t n = MIN(len - pos, s->cluster_size - co), e, host;
        enum qcow2_kind kind;
        int nsub;

        ret = qcow2_entry(s, gc, &e);
        if (ret == 0) {
            ret = qcow2_classify(s, e, &kind, &host);
        }
        if (ret < 0) {
            break;
        }
        /* Extend over following clusters that read the same way. */
        while (kind != QCOW2_COMPRESSED && pos + n < len) {
            uint64_t e2, h2;
            enum qcow2_kind k2;
            uint64_t gc2 = (g + n) >> s->cluster_bits;
            if (qcow2_entry(s, gc2, &e2) < 0 ||
                qcow2_classify(s, e2, &k2, &h2) < 0 || k2 != kind ||
                (kind == QCOW2_NORMAL && h2 != host + co + n)) {
                break;
            }
            n += MIN(len - pos - n, s->cluster_size);
        }
        nsub = blk_iov_slice(iov, niov, pos, n, sub);
        switch (kind) {
        case QCOW2_UNALLOCATED:
            ret = qcow2_read_backing(s, g, sub, nsub, n);
            break;
        case QCOW2_ZERO:
            blk_iov_memset(sub, nsub, 0, 0, n);
            break;
        case QCOW2_NORMAL:
            ret = blk_file_preadv(s->f, host + co, sub, nsub);
            break;
        case QCOW2_COMPRESSED:
            ret = qcow2_load_compressed(s, e);
            if (ret == 0) {
                blk_iov_from_buf(sub, nsub, 0, s->zcache + co, n);
            }
            break;
        }
        pos += n;
    }
    g_free(sub);
    return ret;
}

static int qcow2_preadv(struct blk *b, uint64_t off, const struct iovec *iov,
                        int niov, uint64_t len)
{
    struct qcow2 *s = b->drv_state;
    int ret;

    g_mutex_lock(&s->lock);
    ret = qcow2_read_locked(s, off, iov, niov, len);
    g_mutex_unlock(&s->lock);
    return ret;
}

/* ---- writes ------------------------------------------------------------------ */

static int qcow2_write_l1_entry(struct qcow2 *s, uint64_t i)
{
    return blk_file_pwrite(s->f, s->l1_offset + i * 8, &s->l1[i], 8);
}

/* The L2 table for L1 index I, allocated and owned by the active L1 alone
 * (copied away from snapshots sharing it). */
static int qcow2_l2_for_write(struct qcow2 *s, uint64_t i, uint64_t **tbl)
{
    uint64_t e, old;
    int64_t noff;
    int ret;

    ret = qcow2_l2_load(s, i, tbl);
    if (ret < 0) {
        return ret;
    }
    e = qcow2_be(s->l1[i]);
    if (*tbl && (e & QCOW2_OFLAG_COPIED)) {
        return 0;
    }
    old = e & QCOW2_OFFSET_MASK;
    noff = qcow2_alloc_clusters(s, 1);
    if (noff < 0) {
        return (int)noff;
    }
    if (!*tbl) {
        s->l2[i] = g_malloc0(s->cluster_size);
        *tbl = s->l2[i];
    }
    /* The new table is on disk before L1 points at it. */
    ret = blk_file_pwrite(s->f, (uint64_t)noff, *tbl, s->cluster_size);
    if (ret == 0) {
        ret = blk_file_flush(s->f);
    }
    if (ret < 0) {
        return ret;
    }
    s->l1[i] = GUINT64_TO_BE((uint64_t)noff | QCOW2_OFLAG_COPIED);
    ret = qcow2_write_l1_entry(s, i);
    if (ret < 0) {
        s->l1[i] = GUINT64_TO_BE(e);
        return ret;
    }
    dm_trace(qcow2_l2_alloc,
             "%s l1[%" PRIu64 "] = 0x%" PRIx64 " (was 0x%" PRIx64 ")",
             s->b->filename, i, (uint64_t)noff, old);
    return old ? qcow2_free_range(s, old, s->cluster_size) : 0;
}

/* Drop the reference an L2 entry held. */
static int qcow2_free_entry(struct qcow2 *s, uint64_t e)
{
    enum qcow2_kind kind;
    uint64_t host, len;

    if (qcow2_classify(s, e, &kind, &host) < 0) {
        return 0; /* already reported; leak rather than free garbage */
    }
    if (kind == QCOW2_COMPRESSED) {
        qcow2_compressed_range(s, e, &host, &len);
        if (host == s->zcache_off) {
            s->zcache_off = 0;
        }
        return qcow2_free_range(s, host & ~511ull, len + (host & 511));
    }
    if (host) {
        return qcow2_free_range(s, host, s->cluster_size);
    }
    return 0;
}

/* Write guest bytes [g, g+n) (N clusters of table TBL from index L2I on,
 * none writable in place) into freshly allocated clusters, filling the parts
 * of the first and last cluster the write does not cover from the old
 * contents; then point L2 at them and release the old clusters. */
static int qcow2_write_alloc(struct qcow2 *s, uint64_t *tbl, uint64_t l1i,
                             uint64_t l2i, uint64_t nclusters, uint64_t g,
                             const struct iovec *iov, int niov, uint64_t n)
{
    uint64_t cs = s->cluster_size, co = g & (cs - 1);
    uint64_t gstart = g - co, total = nclusters * cs;
    uint64_t tail = total - co - n;
    struct iovec *v = g_new(struct iovec, niov + 2);
    uint8_t *head_buf = NULL, *tail_buf = NULL;
    uint64_t l2_off = qcow2_be(s->l1[l1i]) & QCOW2_OFFSET_MASK;
    int nv = 0, ret = 0;
    int64_t host;

    if (co) {
        head_buf = g_malloc(co);
        struct iovec hv = { head_buf, co };
        ret = qcow2_read_locked(s, gstart, &hv, 1, co);
        v[nv++] = hv;
    }
    memcpy(v + nv, iov, sizeof(*iov) * (size_t)niov);
    nv += niov;
    if (ret == 0 && tail) {
        tail_buf = g_malloc(tail);
        struct iovec tv = { tail_buf, tail };
        ret = qcow2_read_locked(s, g + n, &tv, 1, tail);
        v[nv++] = tv;
    }
    host = ret < 0 ? ret : qcow2_alloc_clusters(s, nclusters);
    if (host < 0) {
        ret = (int)host;
        goto out;
    }
    ret = blk_file_pwritev(s->f, (uint64_t)host, v, nv);
    if (ret < 0) {
        goto out; /* the clusters leak, the image stays consistent */
    }
    {
        uint64_t *old = g_new(uint64_t, nclusters);
        memcpy(old, tbl + l2i, nclusters * 8);
        for (uint64_t k = 0; k < nclusters; k++) {
            tbl[l2i + k] =
                GUINT64_TO_BE(((uint64_t)host + k * cs) | QCOW2_OFLAG_COPIED);
        }
        ret = blk_file_pwrite(s->f, l2_off + l2i * 8, tbl + l2i, nclusters * 8);
        if (ret < 0) {
            memcpy(tbl + l2i, old, nclusters * 8);
        }
        for (uint64_t k = 0; ret == 0 && k < nclusters; k++) {
            ret = qcow2_free_entry(s, qcow2_be(old[k]));
        }
        g_free(old);
    }
out:
    g_free(head_buf);
    g_free(tail_buf);
    g_free(v);
    return ret;
}

static bool qcow2_in_place(struct qcow2 *s, uint64_t e, uint64_t *host)
{
    enum qcow2_kind kind;

    return (e & QCOW2_OFLAG_COPIED) && qcow2_classify(s, e, &kind, host) == 0 &&
           kind == QCOW2_NORMAL;
}

static int qcow2_write_locked(struct qcow2 *s, uint64_t off,
                              const struct iovec *iov, int niov, uint64_t len)
{
    struct iovec *sub = g_new(struct iovec, niov);
    uint64_t cs = s->cluster_size, pos = 0;
    int ret = 0;

    while (pos < len && ret == 0) {
        uint64_t g = off + pos, gc = g >> s->cluster_bits, co = g & (cs - 1);
        uint64_t l1i = gc >> s->l2_bits, l2i = gc & (s->l2_entries - 1);
        uint64_t left = s->l2_entries - l2i;
        uint64_t maxn = MIN(
            len - pos, (MIN(left, qcow2_max_alloc(s)) << s->cluster_bits) - co);
        uint64_t n = MIN(maxn, cs - co), k = 1, host, h2;
        uint64_t *tbl;
        int nsub;

        ret = qcow2_l2_for_write(s, l1i, &tbl);
        if (ret < 0) {
            break;
        }
        if (qcow2_in_place(s, qcow2_be(tbl[l2i]), &host)) {
            while (n < maxn && qcow2_in_place(s, qcow2_be(tbl[l2i + k]), &h2) &&
                   h2 == host + co + n) {
                n += MIN(maxn - n, cs);
                k++;
            }
            nsub = blk_iov_slice(iov, niov, pos, n, sub);
            ret = blk_file_pwritev(s->f, host + co, sub, nsub);
        } else {
            while (n < maxn &&
                   !qcow2_in_place(s, qcow2_be(tbl[l2i + k]), &h2)) {
                n += MIN(maxn - n, cs);
                k++;
            }
            nsub = blk_iov_slice(iov, niov, pos, n, sub);
            ret = qcow2_write_alloc(s, tbl, l1i, l2i, k, g, sub, nsub, n);
        }
        pos += n;
    }
    g_free(sub);
    return ret;
}

static int qcow2_pwritev(struct blk *b, uint64_t off, const struct iovec *iov,
                         int niov, uint64_t len)
{
    struct qcow2 *s = b->drv_state;
    int ret;

    g_mutex_lock(&s->lock);
    ret = qcow2_write_locked(s, off, iov, niov, len);
    g_mutex_unlock(&s->lock);
    return ret;
}

static int qcow2_flush(struct blk *b)
{
    struct qcow2 *s = b->drv_state;
    int ret;

    g_mutex_lock(&s->lock);
    ret = qcow2_refcount_sync(s);
    if (ret == 0) {
        ret = blk_file_flush(s->f);
    }
    g_mutex_unlock(&s->lock);
    return ret;
}

/* Discard whole clusters: they read as zeros afterwards (v3, or v2 without
 * a backing file) or from the backing file (v2). Partial clusters and
 * tables shared with snapshots are left alone: discard is advisory. */
static int qcow2_discard(struct blk *b, uint64_t off, uint64_t len)
{
    struct qcow2 *s = b->drv_state;
    uint64_t cs = s->cluster_size;
    uint64_t first = dm_align_up(off, cs) >> s->cluster_bits;
    uint64_t end = (off + len) >> s->cluster_bits;
    uint64_t newe = s->version >= 3 && s->backing ? QCOW2_OFLAG_ZERO : 0;
    int ret = 0;

    if (off + len == s->size) {
        end = dm_align_up(s->size, cs) >> s->cluster_bits;
    }
    g_mutex_lock(&s->lock);
    for (uint64_t gc = first; gc < end && ret == 0;) {
        uint64_t l1i = gc >> s->l2_bits, l2i = gc & (s->l2_entries - 1);
        uint64_t k = MIN(end - gc, s->l2_entries - l2i);
        uint64_t *tbl, *old, l2_off;

        ret = qcow2_l2_load(s, l1i, &tbl);
        if (ret < 0 || !tbl || !(qcow2_be(s->l1[l1i]) & QCOW2_OFLAG_COPIED)) {
            gc += k;
            continue;
        }
        l2_off = qcow2_be(s->l1[l1i]) & QCOW2_OFFSET_MASK;
        old = g_memdup2(tbl + l2i, k * 8);
        for (uint64_t j = 0; j < k; j++) {
            tbl[l2i + j] = GUINT64_TO_BE(newe);
        }
        ret = blk_file_pwrite(s->f, l2_off + l2i * 8, tbl + l2i, k * 8);
        if (ret < 0) {
            memcpy(tbl + l2i, old, k * 8);
        }
        for (uint64_t j = 0; ret == 0 && j < k; j++) {
            uint64_t e = qcow2_be(old[j]), host, rc;
            enum qcow2_kind kind;
            ret = qcow2_free_entry(s, e);
            if (ret == 0 && qcow2_classify(s, e, &kind, &host) == 0 &&
                kind == QCOW2_NORMAL && host &&
                qcow2_get_refcount(s, host >> s->cluster_bits, &rc) == 0 &&
                rc == 0) {
                blk_file_discard(s->f, host, cs);
            }
        }
        g_free(old);
        gc += k;
    }
    g_mutex_unlock(&s->lock);
    return ret;
}

const struct blk_driver blk_qcow2_driver = {
    .name = "qcow2",
    .format = BLK_FORMAT_QCOW2,
    .open = qcow2_open,
    .close = qcow2_close,
    .preadv = qcow2_preadv,
    .pwritev = qcow2_pwritev,
    .flush = qcow2_flush,
    .discard = qcow2_discard,
};
