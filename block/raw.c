/*
 * raw.c: raw images, files or block devices, byte for byte.
 *
 * The virtual size is the file size (fstat) or the device size
 * (BLKGETSIZE64). Discard punches holes so images stay sparse; requests map
 * one to one onto the host file, so io_uring carries them directly.
 * Left out: offset=/size= windows into a file.
 */
#include "block-int.h"

static bool raw_open(struct blk *b, GError **errp)
{
    int64_t size = blk_file_size(&b->file);

    if (size < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: cannot get size: %s",
                    b->filename, g_strerror((int)-size));
        return false;
    }
    b->size = (uint64_t)size;
    return true;
}

static void raw_close(struct blk *b)
{
}

static int raw_preadv(struct blk *b, uint64_t off, const struct iovec *iov,
                      int niov, uint64_t len)
{
    return blk_file_preadv(&b->file, off, iov, niov);
}

static int raw_pwritev(struct blk *b, uint64_t off, const struct iovec *iov,
                       int niov, uint64_t len)
{
    return blk_file_pwritev(&b->file, off, iov, niov);
}

static int raw_flush(struct blk *b)
{
    return blk_file_flush(&b->file);
}

static int raw_discard(struct blk *b, uint64_t off, uint64_t len)
{
    return blk_file_discard(&b->file, off, len);
}

const struct blk_driver blk_raw_driver = {
    .name = "raw",
    .format = BLK_FORMAT_RAW,
    .native_async = true,
    .open = raw_open,
    .close = raw_close,
    .preadv = raw_preadv,
    .pwritev = raw_pwritev,
    .flush = raw_flush,
    .discard = raw_discard,
};
