/*
 * file.c: host files and block devices under every image format.
 *
 * POSIX preadv/pwritev with retries on short transfers, O_DIRECT (cache=none)
 * with aligned bounce buffers and read-modify-write of partial blocks,
 * fdatasync for flush, hole punching / BLKDISCARD for discard.
 * Left out: host device locking (flock), Windows, zoned devices.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvmdm/log.h"
#include "block-int.h"

/* ---- iovec helpers -------------------------------------------------------- */

size_t blk_iov_size(const struct iovec *iov, int niov)
{
    size_t n = 0;
    for (int i = 0; i < niov; i++) {
        n += iov[i].iov_len;
    }
    return n;
}

/* Walk [off, off+len) of IOV calling FN on each piece. */
#define BLK_IOV_WALK(iov, niov, off, len, body)                \
    do {                                                       \
        size_t skip_ = (off), left_ = (len), pos_ = 0;         \
        for (int i_ = 0; i_ < (niov) && left_; i_++) {         \
            if (skip_ >= (iov)[i_].iov_len) {                  \
                skip_ -= (iov)[i_].iov_len;                    \
                continue;                                      \
            }                                                  \
            size_t n_ = MIN((iov)[i_].iov_len - skip_, left_); \
            char *p_ = (char *)(iov)[i_].iov_base + skip_;     \
            body;                                              \
            skip_ = 0;                                         \
            left_ -= n_;                                       \
            pos_ += n_;                                        \
        }                                                      \
    } while (0)

void blk_iov_to_buf(const struct iovec *iov, int niov, size_t off, void *buf,
                    size_t len)
{
    BLK_IOV_WALK(iov, niov, off, len, memcpy((char *)buf + pos_, p_, n_));
}

void blk_iov_from_buf(const struct iovec *iov, int niov, size_t off,
                      const void *buf, size_t len)
{
    BLK_IOV_WALK(iov, niov, off, len, memcpy(p_, (const char *)buf + pos_, n_));
}

void blk_iov_memset(const struct iovec *iov, int niov, size_t off, int c,
                    size_t len)
{
    BLK_IOV_WALK(iov, niov, off, len, memset(p_, c, n_));
}

int blk_iov_slice(const struct iovec *iov, int niov, size_t off, size_t len,
                  struct iovec *dst)
{
    int n = 0;
    BLK_IOV_WALK(iov, niov, off, len, {
        dst[n].iov_base = p_;
        dst[n].iov_len = n_;
        n++;
    });
    return n;
}

/* ---- open and close ------------------------------------------------------- */

/* The alignment O_DIRECT needs on this file: statx when the kernel reports
 * it, else the logical block size, else a safe 4 KiB. */
static void blk_file_probe_align(struct blk_file *f)
{
    size_t mem = 0, off = 0;
#ifdef STATX_DIOALIGN
    struct statx stx;
    if (statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
        mem = stx.stx_dio_mem_align;
        off = stx.stx_dio_offset_align;
    }
#endif
    if (!off && f->is_bdev) {
        int ss;
        if (ioctl(f->fd, BLKSSZGET, &ss) == 0 && ss > 0) {
            off = mem = (size_t)ss;
        }
    }
    if (!off) {
        off = mem = 4096;
    }
    /* Lengths and offsets are checked against one alignment; buffers we
     * allocate satisfy both. */
    f->off_align = off;
    f->mem_align = MAX(mem, (size_t)1);
}

bool blk_file_open(struct blk_file *f, const char *filename, bool read_only,
                   enum blk_cache cache, GError **errp)
{
    int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    struct stat st;

    memset(f, 0, sizeof(*f));
    f->fd = -1;
    if (cache == BLK_CACHE_NONE || cache == BLK_CACHE_DIRECTSYNC) {
        flags |= O_DIRECT;
    }
    if (cache == BLK_CACHE_WRITETHROUGH || cache == BLK_CACHE_DIRECTSYNC) {
        flags |= O_DSYNC;
    }
    f->fd = open(filename, flags);
    if (f->fd < 0 && errno == EINVAL && (flags & O_DIRECT)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: cache=none needs O_DIRECT, which this file system "
                    "does not support: use cache=writeback",
                    filename);
        return false;
    }
    if (f->fd < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot open%s: %s",
                    filename, read_only ? "" : " for writing",
                    g_strerror(errno));
        return false;
    }
    if (fstat(f->fd, &st) < 0 ||
        (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: not a regular file or block device", filename);
        close(f->fd);
        f->fd = -1;
        return false;
    }
    f->filename = g_strdup(filename);
    f->read_only = read_only;
    f->is_bdev = S_ISBLK(st.st_mode);
    f->direct = (flags & O_DIRECT) != 0;
    f->no_flush = cache == BLK_CACHE_UNSAFE;
    f->mem_align = f->off_align = 1;
    if (f->direct) {
        blk_file_probe_align(f);
    }
    g_mutex_init(&f->rmw_lock);
    return true;
}

void blk_file_close(struct blk_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
        g_mutex_clear(&f->rmw_lock);
    }
    g_free(f->filename);
    f->filename = NULL;
}

int64_t blk_file_size(struct blk_file *f)
{
    struct stat st;

    if (f->is_bdev) {
        uint64_t sz;
        if (ioctl(f->fd, BLKGETSIZE64, &sz) < 0) {
            return -errno;
        }
        return (int64_t)sz;
    }
    if (fstat(f->fd, &st) < 0) {
        return -errno;
    }
    return st.st_size;
}

/* ---- alignment -------------------------------------------------------------- */

bool blk_file_mem_aligned(const struct blk_file *f, const struct iovec *iov,
                          int niov)
{
    if (!f->direct) {
        return true;
    }
    for (int i = 0; i < niov; i++) {
        if (((uintptr_t)iov[i].iov_base & (f->mem_align - 1)) ||
            (iov[i].iov_len & (f->off_align - 1))) {
            return false;
        }
    }
    return true;
}

bool blk_file_off_aligned(const struct blk_file *f, uint64_t off, uint64_t len)
{
    return !f->direct || !((off | len) & (f->off_align - 1));
}

void *blk_file_alloc(const struct blk_file *f, size_t len)
{
    size_t align = MAX(MAX(f->mem_align, f->off_align), (size_t)64);
    return g_aligned_alloc(1, MAX(len, (size_t)1), align);
}

/* ---- plain transfers ---------------------------------------------------------- */

/* Transfer all of IOV at OFF, retrying short transfers; reads that hit the
 * end of the file are completed with zeros. IOV is consumed. */
static int blk_file_rw_loop(struct blk_file *f, uint64_t off, struct iovec *iov,
                            int niov, bool write)
{
    while (niov > 0) {
        ssize_t n;
        if (write) {
            n = pwritev(f->fd, iov, MIN(niov, IOV_MAX), (off_t)off);
        } else {
            n = preadv(f->fd, iov, MIN(niov, IOV_MAX), (off_t)off);
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            if (write) {
                return -EIO;
            }
            for (int i = 0; i < niov; i++) {
                memset(iov[i].iov_base, 0, iov[i].iov_len);
            }
            return 0;
        }
        if (!write && f->direct &&
            (size_t)n < blk_iov_size(iov, MIN(niov, IOV_MAX))) {
            /* O_DIRECT reads are short only at the end of the file, and
             * cannot resume at an unaligned offset: the rest is zeros. */
            size_t total = blk_iov_size(iov, niov);
            struct iovec *all = iov;
            blk_iov_memset(all, niov, (size_t)n, 0, total - (size_t)n);
            return 0;
        }
        off += (uint64_t)n;
        while (niov > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            niov--;
        }
        if (niov > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

static int blk_file_rw_plain(struct blk_file *f, uint64_t off,
                             const struct iovec *iov, int niov, bool write)
{
    struct iovec small[8];
    struct iovec *copy = niov <= 8 ? small : g_new(struct iovec, niov);
    int ret;

    memcpy(copy, iov, sizeof(*iov) * (size_t)niov);
    ret = blk_file_rw_loop(f, off, copy, niov, write);
    if (copy != small) {
        g_free(copy);
    }
    return ret;
}

/* O_DIRECT with an unaligned buffer, offset or length: go through an aligned
 * bounce buffer covering whole blocks, reading first what a write does not
 * cover entirely. */
static int blk_file_rw_bounce(struct blk_file *f, uint64_t off,
                              const struct iovec *iov, int niov, bool write)
{
    size_t len = blk_iov_size(iov, niov);
    uint64_t start = off & ~(uint64_t)(f->off_align - 1);
    uint64_t end = dm_align_up(off + len, f->off_align);
    size_t blen = (size_t)(end - start);
    bool partial = start != off || end != off + len;
    struct iovec biov;
    void *buf = blk_file_alloc(f, blen);
    int ret = 0;

    biov.iov_base = buf;
    biov.iov_len = blen;
    if (write && partial) {
        g_mutex_lock(&f->rmw_lock);
        ret = blk_file_rw_loop(f, start, &biov, 1, false);
        biov.iov_base = buf;
        biov.iov_len = blen;
    }
    if (ret == 0 && write) {
        blk_iov_to_buf(iov, niov, 0, (char *)buf + (off - start), len);
        ret = blk_file_rw_loop(f, start, &biov, 1, true);
    } else if (ret == 0) {
        ret = blk_file_rw_loop(f, start, &biov, 1, false);
        if (ret == 0) {
            blk_iov_from_buf(iov, niov, 0, (char *)buf + (off - start), len);
        }
    }
    if (write && partial) {
        g_mutex_unlock(&f->rmw_lock);
    }
    g_aligned_free(buf);
    return ret;
}

static int blk_file_rw(struct blk_file *f, uint64_t off,
                       const struct iovec *iov, int niov, bool write)
{
    if (write && f->read_only) {
        return -EROFS;
    }
    if (f->direct && (!blk_file_off_aligned(f, off, blk_iov_size(iov, niov)) ||
                      !blk_file_mem_aligned(f, iov, niov))) {
        return blk_file_rw_bounce(f, off, iov, niov, write);
    }
    return blk_file_rw_plain(f, off, iov, niov, write);
}

int blk_file_preadv(struct blk_file *f, uint64_t off, const struct iovec *iov,
                    int niov)
{
    return blk_file_rw(f, off, iov, niov, false);
}

int blk_file_pwritev(struct blk_file *f, uint64_t off, const struct iovec *iov,
                     int niov)
{
    return blk_file_rw(f, off, iov, niov, true);
}

int blk_file_pread(struct blk_file *f, uint64_t off, void *buf, size_t len)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    return blk_file_rw(f, off, &iov, 1, false);
}

int blk_file_pwrite(struct blk_file *f, uint64_t off, const void *buf,
                    size_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    return blk_file_rw(f, off, &iov, 1, true);
}

int blk_file_flush(struct blk_file *f)
{
    if (f->no_flush || f->read_only) {
        return 0;
    }
    while (fdatasync(f->fd) < 0) {
        if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

int blk_file_discard(struct blk_file *f, uint64_t off, uint64_t len)
{
    if (f->read_only) {
        return -EROFS;
    }
    if (len == 0) {
        return 0;
    }
    if (f->is_bdev) {
        uint64_t range[2] = { off, len };
        if (ioctl(f->fd, BLKDISCARD, range) < 0) {
            return -errno;
        }
        return 0;
    }
    if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                  (off_t)len) < 0) {
        return errno == EOPNOTSUPP ? 0 : -errno;
    }
    return 0;
}
