/*
 * block.c: opening images, format probing, and the request paths shared by
 * every format (range checks, the probed-raw guard, async dispatch).
 *
 * Probing follows the lesson of CVE-2008-2004: a format given by the user is
 * always honoured; a guessed raw image may never turn into another format, so
 * writes that would put a known format header into its first sector fail with
 * -EPERM. Left out: snapshot=on overlays, I/O throttling.
 */
#include <sys/stat.h>

#include "hvmdm/log.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/trace.h"
#include "block-int.h"

#define BLK_PROBE_SIZE 512
#define QCOW_MAGIC "QFI\xfb"
#define VMDK4_MAGIC "KDMV"
#define VMDK_DESC_MAGIC "# Disk DescriptorFile"

static const struct blk_driver *blk_driver_for(enum blk_format f)
{
    switch (f) {
    case BLK_FORMAT_RAW:
        return &blk_raw_driver;
    case BLK_FORMAT_QCOW2:
        return &blk_qcow2_driver;
    case BLK_FORMAT_VMDK:
        return &blk_vmdk_driver;
    default:
        return NULL;
    }
}

const char *blk_format_name(enum blk_format f)
{
    switch (f) {
    case BLK_FORMAT_RAW:
        return "raw";
    case BLK_FORMAT_QCOW2:
        return "qcow2";
    case BLK_FORMAT_VMDK:
        return "vmdk";
    default:
        return "probe";
    }
}

enum blk_format blk_probe(const uint8_t *buf, size_t len)
{
    if (len >= 4 && memcmp(buf, QCOW_MAGIC, 4) == 0) {
        return BLK_FORMAT_QCOW2;
    }
    if (len >= 4 && memcmp(buf, VMDK4_MAGIC, 4) == 0) {
        return BLK_FORMAT_VMDK;
    }
    if (len >= strlen(VMDK_DESC_MAGIC) &&
        memcmp(buf, VMDK_DESC_MAGIC, strlen(VMDK_DESC_MAGIC)) == 0) {
        return BLK_FORMAT_VMDK;
    }
    return BLK_FORMAT_RAW;
}

bool blk_parse_format(const char *s, enum blk_format *out, GError **errp)
{
    static const char *const names[] = {
        [BLK_FORMAT_RAW] = "raw",
        [BLK_FORMAT_QCOW2] = "qcow2",
        [BLK_FORMAT_VMDK] = "vmdk",
    };
    for (unsigned i = 1; i < DM_ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum blk_format)i;
            return true;
        }
    }
    g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                "format=%s: unknown image format (raw, qcow2, vmdk)", s);
    return false;
}

bool blk_parse_cache(const char *s, enum blk_cache *out, GError **errp)
{
    static const char *const names[] = {
        [BLK_CACHE_WRITEBACK] = "writeback",
        [BLK_CACHE_WRITETHROUGH] = "writethrough",
        [BLK_CACHE_NONE] = "none",
        [BLK_CACHE_DIRECTSYNC] = "directsync",
        [BLK_CACHE_UNSAFE] = "unsafe",
    };
    for (unsigned i = 0; i < DM_ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum blk_cache)i;
            return true;
        }
    }
    g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                "cache=%s: unknown cache mode (writeback, writethrough, none, "
                "directsync, unsafe)",
                s);
    return false;
}

bool blk_parse_aio(const char *s, enum blk_aio_mode *out, GError **errp)
{
    if (strcmp(s, "io_uring") == 0) {
        *out = BLK_AIO_URING;
    } else if (strcmp(s, "threads") == 0) {
        *out = BLK_AIO_THREADS;
    } else if (strcmp(s, "auto") == 0) {
        *out = BLK_AIO_AUTO;
    } else {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "aio=%s: unknown aio mode (io_uring, threads)", s);
        return false;
    }
    return true;
}

/* ---- open ------------------------------------------------------------------ */

static bool blk_chain_add(struct blk *b, struct blk_chain *chain, GError **errp)
{
    struct stat st;

    if (fstat(b->file.fd, &st) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: fstat: %s", b->filename,
                    g_strerror(errno));
        return false;
    }
    for (unsigned i = 0; i < chain->depth; i++) {
        if (chain->dev[i] == st.st_dev && chain->ino[i] == st.st_ino) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: backing file chain loops back to this image",
                        b->filename);
            return false;
        }
    }
    if (chain->depth >= BLK_MAX_CHAIN) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: backing file chain deeper than %d images", b->filename,
                    BLK_MAX_CHAIN);
        return false;
    }
    chain->dev[chain->depth] = st.st_dev;
    chain->ino[chain->depth] = st.st_ino;
    chain->depth++;
    return true;
}

static struct blk *blk_open_chain(const char *filename,
                                  const struct blk_opts *opts,
                                  struct blk_chain *chain, GError **errp)
{
    struct blk *b = g_new0(struct blk, 1);
    enum blk_format fmt = opts->format;

    b->filename = g_strdup(filename);
    b->opts = *opts;
    b->id = g_strdup(opts->id);
    b->opts.id = b->id;
    b->read_only = opts->read_only;
    b->chain = chain;

    if (!blk_file_open(&b->file, filename, b->read_only, opts->cache, errp)) {
        goto fail;
    }
    if (!blk_chain_add(b, chain, errp)) {
        goto fail_file;
    }
    if (fmt == BLK_FORMAT_PROBE) {
        uint8_t buf[BLK_PROBE_SIZE];
        int ret;

        memset(buf, 0, sizeof(buf));
        ret = blk_file_pread(&b->file, 0, buf, sizeof(buf));
        if (ret < 0) {
            g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                        "%s: cannot read the image header: %s", filename,
                        g_strerror(-ret));
            goto fail_file;
        }
        fmt = blk_probe(buf, sizeof(buf));
        b->probed = true;
        if (fmt == BLK_FORMAT_RAW && !b->read_only) {
            b->guard_sector0 = true;
            dm_warn("%s: no format given, probed as raw; writes that would "
                    "make it look like another format are refused; give "
                    "format=raw to lift this",
                    filename);
        }
    }
    b->drv = blk_driver_for(fmt);
    if (!b->drv) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: %s images are not supported yet", filename,
                    blk_format_name(fmt));
        goto fail_file;
    }
    if (!b->drv->open(b, errp)) {
        goto fail_file;
    }
    b->chain = NULL;
    dm_trace(blk_open, "%s format=%s size=%" PRIu64 " ro=%d", filename,
             b->drv->name, b->size, b->read_only);
    return b;

fail_file:
    blk_file_close(&b->file);
fail:
    g_free(b->filename);
    g_free(b->id);
    g_free(b);
    return NULL;
}

struct blk *blk_open(const char *filename, const struct blk_opts *opts,
                     GError **errp)
{
    static const struct blk_opts defaults;
    struct blk_chain chain = { .depth = 0 };
    struct blk *b;

    b = blk_open_chain(filename, opts ? opts : &defaults, &chain, errp);
    if (b) {
        b->aio = blk_aio_new(b, b->opts.aio);
    }
    return b;
}

struct blk *blk_open_backing(struct blk *parent, const char *filename,
                             enum blk_format format, GError **errp)
{
    struct blk_opts o = {
        .format = format,
        .cache = parent->opts.cache,
        .read_only = true,
        .id = parent->opts.id,
    };
    return blk_open_chain(filename, &o, parent->chain, errp);
}

void blk_close(struct blk *b)
{
    if (!b) {
        return;
    }
    if (b->aio) {
        blk_drain(b);
        blk_aio_free(b->aio);
    }
    b->drv->close(b);
    blk_file_close(&b->file);
    g_free(b->filename);
    g_free(b->id);
    g_free(b);
}

uint64_t blk_size(const struct blk *b)
{
    return b->size;
}

bool blk_is_read_only(const struct blk *b)
{
    return b->read_only;
}

enum blk_format blk_get_format(const struct blk *b)
{
    return b->drv->format;
}

bool blk_format_was_probed(const struct blk *b)
{
    return b->probed;
}

const char *blk_filename(const struct blk *b)
{
    return b->filename;
}

bool blk_uses_uring(const struct blk *b)
{
    return b->aio && blk_aio_uses_uring(b->aio);
}

unsigned blk_in_flight(const struct blk *b)
{
    return g_atomic_int_get(&b->in_flight);
}

/* ---- synchronous requests ----------------------------------------------------- */

static int blk_check_range(struct blk *b, uint64_t off, uint64_t len)
{
    return dm_range_ok(off, len, b->size) ? 0 : -EINVAL;
}

/* A probed raw image keeps probing as raw: refuse a write that would make
 * its first sector look like another format. */
static int blk_guard_write(struct blk *b, uint64_t off, const struct iovec *iov,
                           int niov, uint64_t len)
{
    uint8_t sec[BLK_PROBE_SIZE];
    int ret;

    if (!b->guard_sector0 || off >= BLK_PROBE_SIZE) {
        return 0;
    }
    ret = blk_file_pread(&b->file, 0, sec, sizeof(sec));
    if (ret < 0) {
        return ret;
    }
    blk_iov_to_buf(iov, niov, 0, sec + off,
                   MIN(len, (uint64_t)BLK_PROBE_SIZE - off));
    if (blk_probe(sec, sizeof(sec)) != BLK_FORMAT_RAW) {
        dm_warn("%s: write of a %s header to a raw image opened without "
                "format=raw refused",
                b->filename, blk_format_name(blk_probe(sec, sizeof(sec))));
        return -EPERM;
    }
    return 0;
}

void blk_req_run(struct blk_req *r)
{
    struct blk *b = r->b;

    switch (r->op) {
    case BLK_OP_READ:
        r->ret = b->drv->preadv(b, r->off, r->iov, r->niov, r->len);
        break;
    case BLK_OP_WRITE:
        r->ret = blk_guard_write(b, r->off, r->iov, r->niov, r->len);
        if (r->ret == 0) {
            r->ret = b->drv->pwritev(b, r->off, r->iov, r->niov, r->len);
        }
        break;
    case BLK_OP_FLUSH:
        r->ret = b->read_only ? 0 : b->drv->flush(b);
        break;
    case BLK_OP_DISCARD:
        r->ret = b->drv->discard(b, r->off, r->len);
        break;
    }
}

int blk_preadv_sync(struct blk *b, uint64_t off, const struct iovec *iov,
                    int niov)
{
    uint64_t len = blk_iov_size(iov, niov);
    int ret = blk_check_range(b, off, len);

    if (ret < 0 || len == 0) {
        return ret;
    }
    return b->drv->preadv(b, off, iov, niov, len);
}

int blk_pwritev_sync(struct blk *b, uint64_t off, const struct iovec *iov,
                     int niov)
{
    uint64_t len = blk_iov_size(iov, niov);
    int ret = blk_check_range(b, off, len);

    if (b->read_only) {
        return -EROFS;
    }
    if (ret < 0 || len == 0) {
        return ret;
    }
    ret = blk_guard_write(b, off, iov, niov, len);
    if (ret < 0) {
        return ret;
    }
    return b->drv->pwritev(b, off, iov, niov, len);
}

int blk_pread(struct blk *b, uint64_t off, void *buf, size_t len)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    return blk_preadv_sync(b, off, &iov, 1);
}

int blk_pwrite(struct blk *b, uint64_t off, const void *buf, size_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    return blk_pwritev_sync(b, off, &iov, 1);
}

int blk_flush_sync(struct blk *b)
{
    return b->read_only ? 0 : b->drv->flush(b);
}

int blk_discard_sync(struct blk *b, uint64_t off, uint64_t len)
{
    int ret = blk_check_range(b, off, len);

    if (b->read_only) {
        return -EROFS;
    }
    if (ret < 0 || len == 0) {
        return ret;
    }
    return b->drv->discard(b, off, len);
}

/* ---- asynchronous requests --------------------------------------------------- */

static struct blk_req *blk_req_new(struct blk *b, enum blk_op op, uint64_t off,
                                   const struct iovec *iov, int niov, blk_cb cb,
                                   void *opaque)
{
    struct blk_req *r = g_new0(struct blk_req, 1);

    r->b = b;
    r->op = op;
    r->off = off;
    r->cb = cb;
    r->opaque = opaque;
    if (niov > 0) {
        r->iov = niov <= BLK_REQ_INLINE_IOV ? r->iov_inline
                                            : g_new(struct iovec, niov);
        memcpy(r->iov, iov, sizeof(*iov) * (size_t)niov);
        r->niov = niov;
        r->len = blk_iov_size(iov, niov);
    }
    return r;
}

static void blk_req_free(struct blk_req *r)
{
    if (r->iov != r->iov_inline) {
        g_free(r->iov);
    }
    if (r->guest_iov && r->guest_iov != r->iov_inline) {
        g_free(r->guest_iov);
    }
    g_aligned_free(r->bounce);
    g_free(r);
}

void blk_req_complete(struct blk_req *r)
{
    struct blk *b = r->b;

    if (r->bounce && r->op == BLK_OP_READ && r->ret == 0) {
        blk_iov_from_buf(r->guest_iov, r->guest_niov, 0, r->bounce, r->len);
    }
    dm_trace(blk_complete, "%s op=%d off=%" PRIu64 " len=%" PRIu64 " ret=%d",
             b->filename, r->op, r->off, r->len, r->ret);
    g_atomic_int_dec_and_test(&b->in_flight);
    r->cb(r->opaque, r->ret);
    blk_req_free(r);
}

/* O_DIRECT with an unaligned guest buffer but aligned offsets: transfer
 * through one aligned bounce buffer so io_uring can still carry it. */
static void blk_req_bounce(struct blk_req *r)
{
    r->guest_iov = r->iov;
    r->guest_niov = r->niov;
    r->bounce = blk_file_alloc(&r->b->file, r->len);
    if (r->op == BLK_OP_WRITE) {
        blk_iov_to_buf(r->guest_iov, r->guest_niov, 0, r->bounce, r->len);
    }
    r->iov = g_new(struct iovec, 1);
    r->iov[0].iov_base = r->bounce;
    r->iov[0].iov_len = r->len;
    r->niov = 1;
}

static void blk_submit(struct blk *b, struct blk_req *r, int err)
{
    bool native = b->drv->native_async;

    g_atomic_int_inc(&b->in_flight);
    dm_trace(blk_submit, "%s op=%d off=%" PRIu64 " len=%" PRIu64, b->filename,
             r->op, r->off, r->len);
    if (err == 0 && (r->op == BLK_OP_READ || r->op == BLK_OP_WRITE)) {
        err = blk_check_range(b, r->off, r->len);
    }
    if (err < 0 || (r->len == 0 && r->op != BLK_OP_FLUSH)) {
        /* Completed right away, but still on the main loop, later. */
        r->ret = err;
        r->preset = true;
        blk_aio_submit(b->aio, r, false);
        return;
    }
    if (r->op == BLK_OP_DISCARD) {
        native = false;
    }
    if (r->op == BLK_OP_WRITE && b->guard_sector0 && r->off < BLK_PROBE_SIZE) {
        native = false;
    }
    if (native && b->file.direct && r->op != BLK_OP_FLUSH) {
        if (!blk_file_off_aligned(&b->file, r->off, r->len)) {
            native = false; /* read-modify-write in a thread */
        } else if (!blk_file_mem_aligned(&b->file, r->iov, r->niov)) {
            blk_req_bounce(r);
        }
    }
    blk_aio_submit(b->aio, r, native);
}

void blk_preadv(struct blk *b, uint64_t off, const struct iovec *iov, int niov,
                blk_cb cb, void *opaque)
{
    blk_submit(b, blk_req_new(b, BLK_OP_READ, off, iov, niov, cb, opaque), 0);
}

void blk_pwritev(struct blk *b, uint64_t off, const struct iovec *iov, int niov,
                 blk_cb cb, void *opaque)
{
    blk_submit(b, blk_req_new(b, BLK_OP_WRITE, off, iov, niov, cb, opaque),
               b->read_only ? -EROFS : 0);
}

void blk_flush(struct blk *b, blk_cb cb, void *opaque)
{
    struct blk_req *r = blk_req_new(b, BLK_OP_FLUSH, 0, NULL, 0, cb, opaque);
    blk_submit(b, r, 0);
}

void blk_discard(struct blk *b, uint64_t off, uint64_t len, blk_cb cb,
                 void *opaque)
{
    struct blk_req *r =
        blk_req_new(b, BLK_OP_DISCARD, off, NULL, 0, cb, opaque);
    int err = b->read_only ? -EROFS : blk_check_range(b, off, len);

    r->len = len;
    blk_submit(b, r, err);
}

void blk_drain(struct blk *b)
{
    while (blk_in_flight(b) > 0) {
        dm_main_loop_iterate(true);
    }
}
