/*
 * vmdk-sparse.c: VMDK sparse extents: the hosted sparse extent (header,
 * grain directory, redundant grain directory, grain tables, grains) and the
 * stream-optimized compressed extent (grain markers, deflate, the footer
 * that carries the real header when gdOffset is 0xffffffffffffffff).
 * Spec: VMware Virtual Disk Format 1.1, sections 4 and 6; zeroed-grain GTE
 * from Virtual Disk Format 5.0.
 *
 * Every header field is validated at open, every grain directory entry
 * against the file size; a bad table entry met later fails that request.
 * New grains and grain tables go at the end of the file, in space reserved
 * (and synced) ahead in batches so no table entry ever points past the end
 * of the file. Left out: writing compressed grains, ESX COWD extents.
 */
#include <unistd.h>
#ifdef CONFIG_ZLIB
#include <zlib.h>
#endif

#include "hvmdm/bytes.h"
#include "hvmdm/log.h"
#include "hvmdm/trace.h"
#include "vmdk.h"

/* Space claimed at a time at the end of a file for new grains. */
#define VMDK_RESERVE (4u * 1024 * 1024)
#define VMDK_GT_BYTES (VMDK_GTES_PER_GT * 4u)

#define BAD(...)                                                    \
    do {                                                            \
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, __VA_ARGS__); \
        return false;                                               \
    } while (0)

static void corrupt(struct vmdk_sparse *sp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void corrupt(struct vmdk_sparse *sp, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    dm_warn("%s: corrupt vmdk extent: %s", sp->filename, msg);
    g_free(msg);
}

/* ---- open --------------------------------------------------------------- */

/* A table or text of BYTES at sector SECTOR must lie inside the file. */
static bool check_in_file(const char *fn, const char *field, uint64_t sector,
                          uint64_t bytes, uint64_t fsize, GError **errp)
{
    if (sector == 0 || sector > UINT64_MAX / VMDK_SECTOR ||
        !dm_range_ok(sector * VMDK_SECTOR, bytes, fsize)) {
        BAD("%s: vmdk sparse header: %s 0x%" PRIx64 " (%" PRIu64
            " bytes) lies outside the file (%" PRIu64 " bytes)",
            fn, field, sector, bytes, fsize);
    }
    return true;
}

/* Find the real header of a stream-optimized extent: the footer, in the
 * second-to-last sector, after a footer marker (VDF 1.1 sec. 6). */
static bool read_footer(struct vmdk_sparse *sp, uint64_t fsize, uint8_t *h,
                        GError **errp)
{
    uint8_t marker[VMDK_SECTOR];
    const char *fn = sp->filename;
    int ret;

    if (fsize < 4 * VMDK_SECTOR) {
        BAD("%s: vmdk sparse header: gdOffset says the footer holds the "
            "grain directory, but the file is too short for one",
            fn);
    }
    ret = blk_file_pread(sp->f, fsize - 3 * VMDK_SECTOR, marker, VMDK_SECTOR);
    if (ret == 0) {
        ret = blk_file_pread(sp->f, fsize - 2 * VMDK_SECTOR, h, VMDK_SECTOR);
    }
    if (ret < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                    "%s: cannot read the vmdk footer: %s", fn,
                    g_strerror(-ret));
        return false;
    }
    if (dm_ld_le32(marker + 8) != 0 ||
        dm_ld_le32(marker + 12) != VMDK_MARKER_FOOTER) {
        BAD("%s: vmdk stream: no footer marker before the footer (size %u, "
            "type %u)",
            fn, dm_ld_le32(marker + 8), dm_ld_le32(marker + 12));
    }
    if (dm_ld_le32(h) != VMDK_MAGIC) {
        BAD("%s: vmdk stream footer: bad magic 0x%08x", fn, dm_ld_le32(h));
    }
    if (dm_ld_le64(h + VMDK_HDR_GD_OFFSET) == VMDK_GD_AT_END) {
        BAD("%s: vmdk stream footer: gdOffset points at the footer again", fn);
    }
    return true;
}

static bool check_geometry(struct vmdk_sparse *sp, const uint8_t *h,
                           GError **errp)
{
    const char *fn = sp->filename;
    uint32_t gtes = dm_ld_le32(h + VMDK_HDR_GTES_PER_GT);
    uint64_t span;

    sp->grain_sectors = dm_ld_le64(h + VMDK_HDR_GRAIN_SIZE);
    if (sp->grain_sectors == 0 || sp->grain_sectors > VMDK_MAX_GRAIN_SECTORS ||
        (sp->grain_sectors & (sp->grain_sectors - 1))) {
        BAD("%s: vmdk sparse header: grainSize %" PRIu64 " sectors is not a "
            "power of two in 1..%u",
            fn, sp->grain_sectors, VMDK_MAX_GRAIN_SECTORS);
    }
    sp->grain_bytes = sp->grain_sectors * VMDK_SECTOR;
    if (gtes != VMDK_GTES_PER_GT) {
        BAD("%s: vmdk sparse header: numGTEsPerGT %u (must be %u)", fn, gtes,
            VMDK_GTES_PER_GT);
    }
    sp->capacity = dm_ld_le64(h + VMDK_HDR_CAPACITY);
    if (sp->capacity > VMDK_MAX_SECTORS) {
        BAD("%s: vmdk sparse header: capacity %" PRIu64 " sectors is larger "
            "than %" PRIu64 " (64 TiB)",
            fn, sp->capacity, (uint64_t)VMDK_MAX_SECTORS);
    }
    span = sp->grain_sectors * VMDK_GTES_PER_GT;
    if ((sp->capacity + span - 1) / span > VMDK_MAX_GD_ENTRIES) {
        BAD("%s: vmdk sparse header: capacity %" PRIu64
            " with grainSize %" PRIu64
            " needs a grain directory of more than %u entries",
            fn, sp->capacity, sp->grain_sectors, VMDK_MAX_GD_ENTRIES);
    }
    sp->gd_entries = (uint32_t)((sp->capacity + span - 1) / span);
    return true;
}

static bool check_header(struct vmdk_sparse *sp, const uint8_t *h,
                         uint64_t fsize, bool writable, GError **errp)
{
    const char *fn = sp->filename;
    uint16_t algo = dm_ld_le16(h + VMDK_HDR_COMPRESS);
    uint64_t gd_bytes;

    sp->version = dm_ld_le32(h + VMDK_HDR_VERSION);
    if (sp->version < 1 || sp->version > 3) {
        BAD("%s: vmdk sparse header: unsupported version %u (1..3)", fn,
            sp->version);
    }
    sp->flags = dm_ld_le32(h + VMDK_HDR_FLAGS);
    if ((sp->flags & VMDK_FLAG_NL_TEST) &&
        memcmp(h + VMDK_HDR_NL_CHARS, "\n \r\n", 4) != 0) {
        BAD("%s: vmdk sparse header: newline test characters damaged (the "
            "file went through a text-mode transfer)",
            fn);
    }
    if (algo > VMDK_COMPRESS_DEFLATE) {
        BAD("%s: vmdk sparse header: compressAlgorithm %u unsupported (0 "
            "none, 1 deflate)",
            fn, algo);
    }
    sp->compressed = algo == VMDK_COMPRESS_DEFLATE;
    sp->markers = (sp->flags & VMDK_FLAG_MARKERS) != 0;
    sp->zero_grain = (sp->flags & VMDK_FLAG_ZERO_GRAIN) != 0;
#ifndef CONFIG_ZLIB
    if (sp->compressed) {
        BAD("%s: compressed vmdk extents need a build with zlib", fn);
    }
#endif
    if (writable && (sp->compressed || sp->markers || sp->version == 3)) {
        BAD("%s: stream-optimized (version %u, compressed) vmdk extents can "
            "only be opened read-only",
            fn, sp->version);
    }
    if (!check_geometry(sp, h, errp)) {
        return false;
    }
    sp->desc_offset = dm_ld_le64(h + VMDK_HDR_DESC_OFFSET);
    sp->desc_size = dm_ld_le64(h + VMDK_HDR_DESC_SIZE);
    if (sp->desc_offset &&
        (sp->desc_size == 0 || sp->desc_size > VMDK_DESC_MAX / VMDK_SECTOR)) {
        BAD("%s: vmdk sparse header: descriptorSize %" PRIu64 " sectors "
            "(must be 1..%u)",
            fn, sp->desc_size, VMDK_DESC_MAX / VMDK_SECTOR);
    }
    if (sp->desc_offset &&
        !check_in_file(fn, "descriptorOffset", sp->desc_offset,
                       sp->desc_size * VMDK_SECTOR, fsize, errp)) {
        return false;
    }
    gd_bytes = (uint64_t)sp->gd_entries * 4;
    if (!check_in_file(fn, "gdOffset", dm_ld_le64(h + VMDK_HDR_GD_OFFSET),
                       gd_bytes, fsize, errp)) {
        return false;
    }
    sp->gd_off = dm_ld_le64(h + VMDK_HDR_GD_OFFSET) * VMDK_SECTOR;
    if ((sp->flags & VMDK_FLAG_RGD) && dm_ld_le64(h + VMDK_HDR_RGD_OFFSET)) {
        if (!check_in_file(fn, "rgdOffset", dm_ld_le64(h + VMDK_HDR_RGD_OFFSET),
                           gd_bytes, fsize, errp)) {
            return false;
        }
        sp->rgd_off = dm_ld_le64(h + VMDK_HDR_RGD_OFFSET) * VMDK_SECTOR;
    }
    return true;
}

/* Load a grain directory and check that its tables lie inside the file. */
static bool load_gd(struct vmdk_sparse *sp, const char *field, uint64_t off,
                    uint32_t **out, uint64_t fsize, GError **errp)
{
    uint32_t *gd = g_new(uint32_t, MAX(sp->gd_entries, 1u));
    int ret = blk_file_pread(sp->f, off, gd, (size_t)sp->gd_entries * 4);

    *out = gd;
    if (ret < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                    "%s: cannot read the vmdk %s: %s", sp->filename, field,
                    g_strerror(-ret));
        return false;
    }
    for (uint32_t i = 0; i < sp->gd_entries; i++) {
        gd[i] = GUINT32_FROM_LE(gd[i]);
        if (gd[i] &&
            !dm_range_ok((uint64_t)gd[i] * VMDK_SECTOR, VMDK_GT_BYTES, fsize)) {
            BAD("%s: vmdk %s entry %u: grain table at sector 0x%x lies past "
                "the end of the file",
                sp->filename, field, i, gd[i]);
        }
    }
    return true;
}

bool vmdk_sparse_open(struct vmdk_sparse *sp, struct blk_file *f,
                      const char *name, bool writable, GError **errp)
{
    uint8_t h[VMDK_SECTOR];
    int64_t fsize;
    int ret;

    memset(sp, 0, sizeof(*sp));
    sp->f = f;
    sp->filename = name;
    fsize = blk_file_size(f);
    if (fsize < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot get size: %s",
                    name, g_strerror((int)-fsize));
        return false;
    }
    if (fsize < VMDK_SECTOR) {
        BAD("%s: file too short for a vmdk sparse extent header", name);
    }
    ret = blk_file_pread(f, 0, h, sizeof(h));
    if (ret < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot read: %s", name,
                    g_strerror(-ret));
        return false;
    }
    if (dm_ld_le32(h) != VMDK_MAGIC) {
        BAD("%s: not a vmdk sparse extent (bad magic 0x%08x)", name,
            dm_ld_le32(h));
    }
    if (dm_ld_le64(h + VMDK_HDR_GD_OFFSET) == VMDK_GD_AT_END &&
        !read_footer(sp, (uint64_t)fsize, h, errp)) {
        return false;
    }
    if (!check_header(sp, h, (uint64_t)fsize, writable, errp)) {
        return false;
    }
    if (!load_gd(sp, "grain directory", sp->gd_off, &sp->gd, (uint64_t)fsize,
                 errp) ||
        (sp->rgd_off && !load_gd(sp, "redundant grain directory", sp->rgd_off,
                                 &sp->rgd, (uint64_t)fsize, errp))) {
        return false;
    }
    sp->gt = g_new0(uint32_t *, MAX(sp->gd_entries, 1u));
    sp->file_end = dm_align_up((uint64_t)fsize, VMDK_SECTOR);
    sp->reserved_end = sp->file_end;
    if (sp->compressed) {
        sp->zbuf = g_malloc(sp->grain_bytes * 2 + 4096);
        sp->gbuf = g_malloc(sp->grain_bytes);
    }
    return true;
}

void vmdk_sparse_close(struct vmdk_sparse *sp)
{
    if (sp->gt) {
        for (uint32_t i = 0; i < sp->gd_entries; i++) {
            g_free(sp->gt[i]);
        }
    }
    g_free(sp->gt);
    g_free(sp->gd);
    g_free(sp->rgd);
    g_free(sp->zbuf);
    g_free(sp->gbuf);
    memset(sp, 0, sizeof(*sp));
}

/* ---- mapping ------------------------------------------------------------ */

static int load_gt(struct vmdk_sparse *sp, uint32_t i)
{
    uint32_t *gt;
    int ret;

    if (sp->gt[i]) {
        return 0;
    }
    gt = g_new(uint32_t, VMDK_GTES_PER_GT);
    ret = blk_file_pread(sp->f, (uint64_t)sp->gd[i] * VMDK_SECTOR, gt,
                         VMDK_GT_BYTES);
    if (ret < 0) {
        g_free(gt);
        return ret;
    }
    for (unsigned j = 0; j < VMDK_GTES_PER_GT; j++) {
        gt[j] = GUINT32_FROM_LE(gt[j]);
    }
    sp->gt[i] = gt;
    return 0;
}

int vmdk_sparse_lookup(struct vmdk_sparse *sp, uint64_t g,
                       enum vmdk_grain_kind *kind, uint64_t *sector)
{
    uint64_t i = g / VMDK_GTES_PER_GT;
    uint32_t e;
    int ret;

    *kind = VMDK_GRAIN_UNALLOCATED;
    *sector = 0;
    if (i >= sp->gd_entries) {
        corrupt(sp, "grain %" PRIu64 " beyond the grain directory", g);
        return -EIO;
    }
    if (sp->gd[i] == 0) {
        return 0;
    }
    ret = load_gt(sp, (uint32_t)i);
    if (ret < 0) {
        return ret;
    }
    e = sp->gt[i][g % VMDK_GTES_PER_GT];
    *sector = e;
    if (e == 0) {
        return 0;
    }
    if (e == 1 && sp->zero_grain) {
        *kind = VMDK_GRAIN_ZERO;
        return 0;
    }
    if ((uint64_t)e * VMDK_SECTOR >= sp->file_end) {
        corrupt(sp,
                "grain %" PRIu64 " at sector 0x%x lies past the end of "
                "the file",
                g, e);
        return -EIO;
    }
    *kind = sp->compressed ? VMDK_GRAIN_COMPRESSED : VMDK_GRAIN_NORMAL;
    return 0;
}

/* ---- compressed grains -------------------------------------------------- */

#ifdef CONFIG_ZLIB
/* Inflate IN (zlib stream, or raw deflate) into sp->gbuf; bytes produced in
 * *OUT_LEN. */
static int inflate_grain(struct vmdk_sparse *sp, const uint8_t *in,
                         size_t in_len, size_t *out_len)
{
    z_stream z;
    int ret, bits = -15;

    /* RFC 1950 header: CM 8 and a check value divisible by 31. */
    if (in_len >= 2 && (in[0] & 0x0f) == 8 &&
        ((in[0] << 8) | in[1]) % 31 == 0) {
        bits = 15;
    }
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, bits) != Z_OK) {
        return -ENOMEM;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)in_len;
    z.next_out = sp->gbuf;
    z.avail_out = (uInt)sp->grain_bytes;
    ret = inflate(&z, Z_FINISH);
    *out_len = sp->grain_bytes - z.avail_out;
    inflateEnd(&z);
    /* A full grain with input left over is a grain too big: corrupt. */
    return ret == Z_STREAM_END ? 0 : -EIO;
}
#endif

int vmdk_sparse_load_compressed(struct vmdk_sparse *sp, uint64_t g,
                                uint64_t sector)
{
#ifdef CONFIG_ZLIB
    uint64_t pos = sector * VMDK_SECTOR, cap = sp->grain_bytes * 2 + 4096;
    uint64_t len;
    size_t out = 0;
    uint8_t m[12];
    int ret;

    if (sp->gbuf_sector == sector) {
        return 0;
    }
    sp->gbuf_sector = 0;
    if (sp->markers) {
        ret = blk_file_pread(sp->f, pos, m, sizeof(m));
        if (ret < 0) {
            return ret;
        }
        len = dm_ld_le32(m + 8);
        if (dm_ld_le64(m) != g * sp->grain_sectors) {
            corrupt(sp,
                    "grain marker at sector 0x%" PRIx64 " names LBA %" PRIu64
                    ", expected %" PRIu64,
                    sector, dm_ld_le64(m), g * sp->grain_sectors);
            return -EIO;
        }
        pos += sizeof(m);
    } else {
        len = MIN(cap, sp->file_end - pos);
    }
    if (len == 0 || len > cap || !dm_range_ok(pos, len, sp->file_end)) {
        corrupt(sp,
                "compressed grain at sector 0x%" PRIx64 " of %" PRIu64
                " bytes is out of bounds",
                sector, len);
        return -EIO;
    }
    ret = blk_file_pread(sp->f, pos, sp->zbuf, len);
    if (ret < 0) {
        return ret;
    }
    ret = inflate_grain(sp, sp->zbuf, len, &out);
    if (ret < 0) {
        corrupt(sp, "grain at sector 0x%" PRIx64 " does not decompress",
                sector);
        return ret;
    }
    memset(sp->gbuf + out, 0, sp->grain_bytes - out);
    sp->gbuf_sector = sector;
    return 0;
#else
    return -ENOTSUP;
#endif
}

/* ---- allocation --------------------------------------------------------- */

/* Make sure [file_end, file_end + need) lies inside the file, durably, so
 * a table entry written afterwards never points past its end. */
static int reserve(struct vmdk_sparse *sp, uint64_t need)
{
    uint64_t end;
    int ret;

    if (sp->file_end + need <= sp->reserved_end) {
        return 0;
    }
    end = sp->file_end + MAX(need, (uint64_t)VMDK_RESERVE);
    if (ftruncate(sp->f->fd, (off_t)end) < 0) {
        return -errno;
    }
    ret = blk_file_flush(sp->f);
    if (ret < 0) {
        return ret;
    }
    sp->reserved_end = end;
    return 0;
}

int vmdk_sparse_trim(struct vmdk_sparse *sp)
{
    if (sp->reserved_end <= sp->file_end) {
        return 0;
    }
    if (ftruncate(sp->f->fd, (off_t)sp->file_end) < 0) {
        return -errno;
    }
    sp->reserved_end = sp->file_end;
    return 0;
}

static int write_le32(struct vmdk_sparse *sp, uint64_t off, uint32_t v)
{
    uint32_t le = GUINT32_TO_LE(v);
    return blk_file_pwrite(sp->f, off, &le, 4);
}

/* A new grain table holding ENTRY at index J, plus its redundant copy, and
 * the directory entries pointing at them. */
static int new_gt(struct vmdk_sparse *sp, uint32_t i, unsigned j,
                  uint32_t entry)
{
    uint32_t *gt = g_new0(uint32_t, VMDK_GTES_PER_GT);
    uint32_t *disk = g_new0(uint32_t, VMDK_GTES_PER_GT);
    uint64_t gt_off = sp->file_end, rgt_off = 0;
    int ret;

    gt[j] = entry;
    disk[j] = GUINT32_TO_LE(entry);
    ret = blk_file_pwrite(sp->f, gt_off, disk, VMDK_GT_BYTES);
    if (ret == 0 && sp->rgd) {
        rgt_off = gt_off + VMDK_GT_BYTES;
        ret = blk_file_pwrite(sp->f, rgt_off, disk, VMDK_GT_BYTES);
    }
    sp->file_end += rgt_off ? 2 * VMDK_GT_BYTES : VMDK_GT_BYTES;
    if (ret == 0) {
        ret = write_le32(sp, sp->gd_off + i * 4ull,
                         (uint32_t)(gt_off / VMDK_SECTOR));
    }
    if (ret == 0 && sp->rgd) {
        ret = write_le32(sp, sp->rgd_off + i * 4ull,
                         (uint32_t)(rgt_off / VMDK_SECTOR));
    }
    g_free(disk);
    if (ret < 0) {
        g_free(gt);
        return ret;
    }
    sp->gd[i] = (uint32_t)(gt_off / VMDK_SECTOR);
    if (sp->rgd) {
        sp->rgd[i] = (uint32_t)(rgt_off / VMDK_SECTOR);
    }
    sp->gt[i] = gt;
    return 0;
}

int vmdk_sparse_write_new_grain(struct vmdk_sparse *sp, uint64_t g,
                                const uint8_t *buf)
{
    uint64_t i = g / VMDK_GTES_PER_GT, host = sp->file_end;
    unsigned j = (unsigned)(g % VMDK_GTES_PER_GT);
    uint64_t need = sp->grain_bytes;
    uint32_t sector;
    int ret;

    if (i >= sp->gd_entries) {
        return -EIO;
    }
    if (sp->gd[i] == 0) {
        need += 2 * VMDK_GT_BYTES;
    } else if ((ret = load_gt(sp, (uint32_t)i)) < 0) {
        return ret;
    }
    if ((host + need) / VMDK_SECTOR > UINT32_MAX) {
        dm_warn("%s: vmdk sparse extent is full (grain offsets are 32-bit "
                "sector numbers)",
                sp->filename);
        return -EIO;
    }
    sector = (uint32_t)(host / VMDK_SECTOR);
    ret = reserve(sp, need);
    if (ret < 0) {
        return ret;
    }
    /* data first, then the table entry that points at it */
    ret = blk_file_pwrite(sp->f, host, buf, sp->grain_bytes);
    if (ret < 0) {
        return ret;
    }
    sp->file_end += sp->grain_bytes;
    dm_trace(vmdk_alloc_grain, "%s grain=%" PRIu64 " sector=0x%x", sp->filename,
             g, sector);
    if (sp->gd[i] == 0) {
        return new_gt(sp, (uint32_t)i, j, sector);
    }
    ret = write_le32(sp, (uint64_t)sp->gd[i] * VMDK_SECTOR + j * 4u, sector);
    if (ret == 0 && sp->rgd && sp->rgd[i]) {
        ret =
            write_le32(sp, (uint64_t)sp->rgd[i] * VMDK_SECTOR + j * 4u, sector);
    }
    if (ret == 0) {
        sp->gt[i][j] = sector;
    }
    return ret;
}
