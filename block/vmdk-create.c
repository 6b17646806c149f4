/*
 * vmdk-create.c: new VMDK images: monolithicSparse (one hosted sparse
 * extent with an embedded descriptor), monolithicFlat (a descriptor and one
 * flat file), twoGbMaxExtentSparse and twoGbMaxExtentFlat (a descriptor and
 * 2 GiB extents), optionally with a parent named by parentFileNameHint.
 * Spec: VMware Virtual Disk Format 1.1.
 *
 * Sparse extents get 64 KiB grains, a redundant grain directory and all
 * grain tables allocated up front (as holes), the layout VMware and QEMU
 * expect. Left out: streamOptimized output, preallocated sparse data.
 */
#include <fcntl.h>
#include <unistd.h>

#include "vmdk.h"

#define VMDK_NEW_GRAIN 128u       /* sectors: 64 KiB grains */
#define VMDK_NEW_DESC_SECTORS 20u /* room for the embedded descriptor */
#define VMDK_TWO_GB (4194304ull)  /* sectors per twoGbMaxExtent extent */

static void put32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, 8);
}

static bool write_all(int fd, uint64_t off, const void *buf, size_t len,
                      const char *path, GError **errp)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot write: %s",
                        path, n < 0 ? g_strerror(errno) : "short write");
            return false;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return true;
}

static int create_file(const char *path, GError **errp)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot create: %s", path,
                    g_strerror(errno));
    }
    return fd;
}

static bool finish_file(int fd, uint64_t size, const char *path, GError **errp)
{
    if (ftruncate(fd, (off_t)size) < 0 || fdatasync(fd) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot write: %s", path,
                    g_strerror(errno));
        close(fd);
        return false;
    }
    close(fd);
    return true;
}

/* A hosted sparse extent of SECTORS, with DESC embedded when not NULL:
 * header, descriptor, redundant GD and GTs, GD and GTs, then grains. */
static bool create_sparse(const char *path, uint64_t sectors, const char *desc,
                          GError **errp)
{
    uint64_t span = (uint64_t)VMDK_NEW_GRAIN * VMDK_GTES_PER_GT;
    uint32_t gd_entries = (uint32_t)((sectors + span - 1) / span);
    uint64_t gd_sectors =
        dm_align_up((uint64_t)gd_entries * 4, VMDK_SECTOR) / VMDK_SECTOR;
    uint64_t gt_sectors =
        (uint64_t)gd_entries * (VMDK_GTES_PER_GT * 4 / VMDK_SECTOR);
    uint64_t desc_sectors = desc ? VMDK_NEW_DESC_SECTORS : 0;
    uint64_t rgd = 1 + desc_sectors, gd = rgd + gd_sectors + gt_sectors;
    uint64_t overhead =
        dm_align_up(gd + gd_sectors + gt_sectors, VMDK_NEW_GRAIN);
    size_t head = (size_t)(1 + desc_sectors) * VMDK_SECTOR;
    size_t dir = (size_t)gd_sectors * VMDK_SECTOR;
    uint8_t *buf, *rgd_buf, *gd_buf;
    int fd;
    bool ok;

    if (desc && strlen(desc) > desc_sectors * VMDK_SECTOR) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: vmdk descriptor too long to embed", path);
        return false;
    }
    buf = g_malloc0(head);
    put32(buf, VMDK_MAGIC);
    put32(buf + VMDK_HDR_VERSION, 1);
    put32(buf + VMDK_HDR_FLAGS, VMDK_FLAG_NL_TEST | VMDK_FLAG_RGD);
    put64(buf + VMDK_HDR_CAPACITY, sectors);
    put64(buf + VMDK_HDR_GRAIN_SIZE, VMDK_NEW_GRAIN);
    put64(buf + VMDK_HDR_DESC_OFFSET, desc ? 1 : 0);
    put64(buf + VMDK_HDR_DESC_SIZE, desc_sectors);
    put32(buf + VMDK_HDR_GTES_PER_GT, VMDK_GTES_PER_GT);
    put64(buf + VMDK_HDR_RGD_OFFSET, rgd);
    put64(buf + VMDK_HDR_GD_OFFSET, gd);
    put64(buf + VMDK_HDR_OVERHEAD, overhead);
    memcpy(buf + VMDK_HDR_NL_CHARS, "\n \r\n", 4);
    if (desc) {
        memcpy(buf + VMDK_SECTOR, desc, strlen(desc));
    }
    /* both directories point at their tables, which stay holes (zeros) */
    rgd_buf = g_malloc0(MAX(dir, 1));
    gd_buf = g_malloc0(MAX(dir, 1));
    for (uint32_t i = 0; i < gd_entries; i++) {
        uint64_t t =
            gd_sectors + i * (uint64_t)(VMDK_GTES_PER_GT * 4 / VMDK_SECTOR);
        put32(rgd_buf + i * 4u, (uint32_t)(rgd + t));
        put32(gd_buf + i * 4u, (uint32_t)(gd + t));
    }
    fd = create_file(path, errp);
    ok = fd >= 0 && write_all(fd, 0, buf, head, path, errp) &&
         write_all(fd, rgd * VMDK_SECTOR, rgd_buf, dir, path, errp) &&
         write_all(fd, gd * VMDK_SECTOR, gd_buf, dir, path, errp) &&
         finish_file(fd, overhead * VMDK_SECTOR, path, errp);
    if (!ok && fd >= 0) {
        unlink(path);
    }
    g_free(buf);
    g_free(rgd_buf);
    g_free(gd_buf);
    return ok;
}

static bool create_flat(const char *path, uint64_t sectors, GError **errp)
{
    int fd = create_file(path, errp);
    return fd >= 0 && finish_file(fd, sectors * VMDK_SECTOR, path, errp);
}

static bool write_text(const char *path, const char *text, GError **errp)
{
    int fd = create_file(path, errp);
    return fd >= 0 && write_all(fd, 0, text, strlen(text), path, errp) &&
           finish_file(fd, strlen(text), path, errp);
}

/* The name stem of extent files: "dir/disk.vmdk" -> "disk". */
static char *extent_stem(const char *path)
{
    char *base = g_path_get_basename(path);
    size_t n = strlen(base);

    if (n > 5 && g_ascii_strcasecmp(base + n - 5, ".vmdk") == 0) {
        base[n - 5] = '\0';
    }
    return base;
}

static void add_extent(struct vmdk_desc *d, enum vmdk_extent_type type,
                       uint64_t sectors, char *filename)
{
    d->extents = g_renew(struct vmdk_desc_extent, d->extents, d->n_extents + 1);
    d->extents[d->n_extents++] = (struct vmdk_desc_extent){
        .access = VMDK_ACCESS_RW,
        .type = type,
        .sectors = sectors,
        .filename = filename,
    };
}

/* A descriptor file and its extents: one "-flat" file, or 2 GiB pieces
 * named -s001.vmdk / -f001.vmdk when SPLIT. */
static bool create_split(const char *path, struct vmdk_desc *d,
                         uint64_t sectors, bool sparse, bool split,
                         GError **errp)
{
    char *stem = extent_stem(path), *dir = g_path_get_dirname(path), *text;
    uint64_t done = 0;
    bool ok = true;

    do {
        uint64_t n = split ? MIN(VMDK_TWO_GB, sectors - done) : sectors;
        char *name, *full;

        if (split) {
            name = g_strdup_printf("%s-%c%03u.vmdk", stem, sparse ? 's' : 'f',
                                   d->n_extents + 1);
        } else {
            name = g_strdup_printf("%s-flat.vmdk", stem);
        }
        full = g_build_filename(dir, name, NULL);
        ok = sparse ? create_sparse(full, n, NULL, errp)
                    : create_flat(full, n, errp);
        add_extent(d, sparse ? VMDK_EXTENT_SPARSE : VMDK_EXTENT_FLAT, n, name);
        g_free(full);
        done += n;
    } while (ok && done < sectors);
    if (ok) {
        text = vmdk_desc_format(d);
        ok = write_text(path, text, errp);
        g_free(text);
    }
    g_free(stem);
    g_free(dir);
    return ok;
}

/* The CID of the VMDK image PARENT (relative to the child at PATH), for
 * the child's parentCID; its size when *SIZE is 0. */
static bool parent_cid(const char *path, const char *parent, uint64_t *size,
                       uint32_t *cid, GError **errp)
{
    struct blk_opts o = { .format = BLK_FORMAT_VMDK, .read_only = true };
    char *dir = g_path_get_dirname(path);
    char *full = g_path_is_absolute(parent)
                     ? g_strdup(parent)
                     : g_build_filename(dir, parent, NULL);
    struct blk *p = blk_open(full, &o, errp);
    struct vmdk *s;

    g_free(dir);
    g_free(full);

    if (!p) {
        return false;
    }
    s = p->drv_state;
    *cid = s->has_desc && s->desc.has_cid ? s->desc.cid : VMDK_NO_CID;
    if (*size == 0) {
        *size = blk_size(p);
    }
    blk_close(p);
    return true;
}

bool vmdk_create_backed(const char *path, uint64_t size, const char *subformat,
                        const char *parent, GError **errp)
{
    struct vmdk_desc d = { .parent_cid = VMDK_NO_CID,
                           .heads = 16,
                           .sectors_per_track = 63 };
    uint64_t sectors;
    bool ok;

    if (!subformat) {
        subformat = "monolithicSparse";
    }
    if (parent && !parent_cid(path, parent, &size, &d.parent_cid, errp)) {
        g_prefix_error(errp, "%s: parent: ", path);
        return false;
    }
    if (size > VMDK_MAX_SECTORS * VMDK_SECTOR) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: size %" PRIu64 " is larger than the vmdk limit of "
                    "64 TiB",
                    path, size);
        return false;
    }
    sectors = dm_align_up(size, VMDK_SECTOR) / VMDK_SECTOR;
    d.cid = g_random_int();
    d.create_type = g_strdup(subformat);
    d.parent_hint = g_strdup(parent);
    d.cylinders = (uint32_t)MIN(sectors / (16 * 63), 16383);
    if (strcmp(subformat, "monolithicSparse") == 0) {
        char *base = g_path_get_basename(path), *text;
        add_extent(&d, VMDK_EXTENT_SPARSE, sectors, base);
        text = vmdk_desc_format(&d);
        ok = create_sparse(path, sectors, text, errp);
        g_free(text);
    } else if (strcmp(subformat, "monolithicFlat") == 0) {
        ok = create_split(path, &d, sectors, false, false, errp);
    } else if (strcmp(subformat, "twoGbMaxExtentFlat") == 0) {
        ok = create_split(path, &d, sectors, false, true, errp);
    } else if (strcmp(subformat, "twoGbMaxExtentSparse") == 0) {
        ok = create_split(path, &d, sectors, true, true, errp);
    } else {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "subformat=%s: cannot create such vmdk images "
                    "(monolithicSparse, monolithicFlat, twoGbMaxExtentSparse, "
                    "twoGbMaxExtentFlat)",
                    subformat);
        ok = false;
    }
    vmdk_desc_free(&d);
    return ok;
}

bool vmdk_create(const char *path, uint64_t size, const char *subformat,
                 GError **errp)
{
    return vmdk_create_backed(path, size, subformat, NULL, errp);
}
