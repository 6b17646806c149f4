/*
 * img-convert.c: hvmdm-img convert: copy an image (flattening its backing
 * chain) into a new or existing image of any format.
 *
 * Sparse-aware: the allocation status of the source chain says which ranges
 * are zeros or unallocated; they are never read, and never written to a
 * fresh target. Data is copied in chunks by several worker threads, and
 * blocks of zeros inside it are skipped too (-S). Writes go in order unless
 * -W. The target is flushed at the end unless -t unsafe.
 * Left out: compressed output (-c), several sources, -B, snapshots (-l).
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img.h"

#define CVT_CHUNK (2 * DM_MiB)
#define CVT_DEFAULT_WORKERS 4
#define CVT_MAX_WORKERS 32
#define CVT_DEFAULT_SPARSE (4 * DM_KiB)
/* Start writing back the target every so many bytes, so that the final
 * flush finds little left to do. */
#define CVT_KICK_BYTES (32 * DM_MiB)

struct cvt {
    struct blk *src, *dst;
    struct img_chain chain;
    uint64_t size;
    bool zero_init;  /* the target reads zeros where nothing is written */
    uint64_t sparse; /* skip zero blocks of this size (0: never) */
    bool ordered;    /* writes in guest order (no -W) */
    bool progress;
    bool direct_reads; /* read data straight from the chain's files */
    int kick_fd;       /* target file for sync_file_range, or -1 */

    GMutex lock;
    GCond turn;
    uint64_t next_off; /* next range to hand out */
    uint64_t next_seq, write_seq;
    uint64_t done;
    uint64_t kicked; /* done when writeback was last started */
    int last_pct;    /* progress shown, in 1/100 percent */
    int err;         /* first error (-errno), stops everyone */
    char *err_what;
};

static bool cvt_is_zero(const uint8_t *p, size_t len)
{
    static const uint8_t zero[16];

    if (len <= sizeof(zero)) {
        return memcmp(p, zero, len) == 0;
    }
    /* Zero head, and every byte equals the one 16 before it. */
    return memcmp(p, zero, sizeof(zero)) == 0 &&
           memcmp(p, p + sizeof(zero), len - sizeof(zero)) == 0;
}

static void cvt_fail(struct cvt *c, int err, const char *what, uint64_t off)
{
    g_mutex_lock(&c->lock);
    if (!c->err) {
        c->err = err;
        c->err_what = g_strdup_printf("error while %s at byte %" PRIu64 ": %s",
                                      what, off, g_strerror(-err));
    }
    g_cond_broadcast(&c->turn);
    g_mutex_unlock(&c->lock);
}

static void cvt_show_progress(struct cvt *c)
{
    int pct = c->size ? (int)(c->done * 10000 / c->size) : 10000;

    if (c->progress && (pct >= c->last_pct + 100 || pct == 10000) &&
        pct != c->last_pct) {
        c->last_pct = pct;
        printf("    (%d.%02d/100%%)\r", pct / 100, pct % 100);
        fflush(stdout);
    }
}

/* Write BUF (LEN bytes for guest offset OFF), leaving out zero blocks when
 * the target already reads zeros there. */
static int cvt_write_data(struct cvt *c, uint64_t off, const uint8_t *buf,
                          uint64_t len)
{
    uint64_t pos = 0;

    if (!c->sparse || !c->zero_init) {
        return blk_pwrite(c->dst, off, buf, len);
    }
    while (pos < len) {
        /* Runs of whole granules (aligned on the guest offset) alike. */
        uint64_t g_end = MIN(len, dm_align_up(off + pos + 1, c->sparse) - off);
        bool zero = cvt_is_zero(buf + pos, g_end - pos);
        uint64_t end = g_end;
        int ret;

        while (end < len) {
            uint64_t n = MIN(len, end + c->sparse);
            if (cvt_is_zero(buf + end, n - end) != zero) {
                break;
            }
            end = n;
        }
        if (!zero) {
            ret = blk_pwrite(c->dst, off + pos, buf + pos, end - pos);
            if (ret < 0) {
                return ret;
            }
        }
        pos = end;
    }
    return 0;
}

static int cvt_write_zeros(struct cvt *c, uint64_t off, uint64_t len,
                           uint8_t *buf)
{
    if (c->zero_init) {
        return 0;
    }
    memset(buf, 0, CVT_CHUNK);
    for (uint64_t pos = 0; pos < len; pos += CVT_CHUNK) {
        int ret = blk_pwrite(c->dst, off + pos, buf, MIN(CVT_CHUNK, len - pos));
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* LEN bytes of FD at OFF; zeros past its end. */
static int cvt_pread(int fd, uint8_t *buf, uint64_t len, uint64_t off)
{
    uint64_t pos = 0;

    while (pos < len) {
        ssize_t n = pread(fd, buf + pos, len - pos, (off_t)(off + pos));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            memset(buf + pos, 0, len - pos);
            break;
        }
        pos += (uint64_t)n;
    }
    return 0;
}

/* Take the next range: false when there is none left (or an error). */
static bool cvt_next(struct cvt *c, uint64_t *off, uint64_t *len, bool *zero,
                     int *fd, uint64_t *host, uint64_t *seq)
{
    struct img_extent e;
    int ret;

    g_mutex_lock(&c->lock);
    if (c->err || c->next_off >= c->size) {
        g_mutex_unlock(&c->lock);
        return false;
    }
    *off = c->next_off;
    ret = img_chain_status(&c->chain, *off, c->size - *off, &e);
    if (ret < 0) {
        g_mutex_unlock(&c->lock);
        cvt_fail(c, ret, "reading the allocation status", *off);
        return false;
    }
    *zero = e.zero || !e.present;
    *len = *zero ? e.len : MIN(e.len, CVT_CHUNK);
    /* Plain data at a known place: read the file, not through the format
     * (whose lock would serialise the workers). */
    *fd = c->direct_reads && e.has_offset ? c->chain.fd[e.depth] : -1;
    *host = e.offset;

    c->next_off += *len;
    *seq = c->next_seq++;
    g_mutex_unlock(&c->lock);
    return true;
}

static gpointer cvt_worker(gpointer opaque)
{
    struct cvt *c = opaque;
    uint8_t *buf = g_malloc(CVT_CHUNK);
    uint64_t off, len, seq, host;
    bool zero;
    int fd;

    while (cvt_next(c, &off, &len, &zero, &fd, &host, &seq)) {
        bool kick;
        int ret = 0;

        if (!zero) {
            ret = fd >= 0 ? cvt_pread(fd, buf, len, host)
                          : blk_pread(c->src, off, buf, len);
            if (ret < 0) {
                cvt_fail(c, ret, "reading", off);
                break;
            }
        }
        g_mutex_lock(&c->lock);
        while (c->ordered && c->write_seq != seq && !c->err) {
            g_cond_wait(&c->turn, &c->lock);
        }
        g_mutex_unlock(&c->lock);
        if (c->err) {
            break;
        }
        ret = zero ? cvt_write_zeros(c, off, len, buf)
                   : cvt_write_data(c, off, buf, len);
        if (ret < 0) {
            cvt_fail(c, ret, "writing", off);
            break;
        }
        g_mutex_lock(&c->lock);
        c->write_seq++;
        c->done += len;
        kick =
            !zero && c->kick_fd >= 0 && c->done - c->kicked >= CVT_KICK_BYTES;
        if (kick) {
            c->kicked = c->done;
        }
        cvt_show_progress(c);
        g_cond_broadcast(&c->turn);
        g_mutex_unlock(&c->lock);
        if (kick) {
            /* Asynchronous: the disk works while we copy on. */
            sync_file_range(c->kick_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        }
    }
    g_free(buf);
    return NULL;
}

static int cvt_run(struct cvt *c, unsigned workers)
{
    GThread *t[CVT_MAX_WORKERS];

    g_mutex_init(&c->lock);
    g_cond_init(&c->turn);
    c->last_pct = -100;
    g_mutex_lock(&c->lock);
    cvt_show_progress(c);
    g_mutex_unlock(&c->lock);
    for (unsigned i = 0; i < workers; i++) {
        t[i] = g_thread_new("convert", cvt_worker, c);
    }
    for (unsigned i = 0; i < workers; i++) {
        g_thread_join(t[i]);
    }
    if (c->progress) {
        printf("\n");
    }
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->turn);
    return c->err;
}

struct cvt_args {
    enum blk_format src_fmt, dst_fmt;
    enum blk_cache src_cache, dst_cache;
    bool no_create, quiet;
    unsigned workers;
    struct img_opts opts;
};

static int cvt_parse(int argc, char **argv, struct cvt_args *a, struct cvt *c)
{
    static const struct option longopts[] = {
        { "target-is-zero", no_argument, NULL, 'Z' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    GError *err = NULL;
    guint64 v;
    int ch;

    while ((ch = getopt_long(argc, argv, ":f:O:o:t:T:m:S:pqnWcU", longopts,
                             NULL)) != -1) {
        switch (ch) {
        case 'f':
        case 'O':
            if (!img_parse_format(optarg, ch == 'f' ? &a->src_fmt : &a->dst_fmt,
                                  &err)) {
                return img_fail(err);
            }
            break;
        case 'o':
            if (!img_opts_parse(&a->opts, optarg, &err)) {
                return img_fail(err);
            }
            break;
        case 't':
        case 'T':
            if (!blk_parse_cache(
                    optarg, ch == 't' ? &a->dst_cache : &a->src_cache, &err)) {
                return img_fail(err);
            }
            break;
        case 'm':
            if (!g_ascii_string_to_unsigned(optarg, 10, 1, CVT_MAX_WORKERS, &v,
                                            NULL)) {
                return img_usage_error("convert", "-m %s: expected 1..%d",
                                       optarg, CVT_MAX_WORKERS);
            }
            a->workers = (unsigned)v;
            break;
        case 'S':
            if (!img_parse_size(optarg, &c->sparse, &err)) {
                return img_fail(err);
            }
            if (c->sparse & (c->sparse - 1)) {
                return img_usage_error("convert",
                                       "-S %s: expected 0 or a "
                                       "power of two",
                                       optarg);
            }
            break;
        case 'p':
            c->progress = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'n':
            a->no_create = true;
            break;
        case 'W':
            c->ordered = false;
            break;
        case 'Z':
            c->zero_init = true;
            break;
        case 'U':
            break;
        case 'c':
            img_error("convert: -c: compressed output is not supported yet");
            return IMG_EXIT_ERROR;
        case ':':
            return img_usage_error("convert", "option -%c needs an argument",
                                   optopt);
        default:
            return img_usage_error("convert", "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 2) {
        return img_usage_error("convert", "expected a source and a target "
                                          "file");
    }
    return IMG_EXIT_OK;
}

/* The target: created unless -n, then opened for writing. */
static struct blk *cvt_open_target(struct cvt_args *a, struct cvt *c,
                                   const char *file, GError **errp)
{
    struct blk *b;

    if (!a->no_create) {
        struct img_create_req r = {
            .file = file,
            .fmt = a->dst_fmt,
            .size = c->size,
            .has_size = true,
            .opts = &a->opts,
        };
        if (!img_create_image(&r, errp)) {
            return NULL;
        }
        c->zero_init = !r.backing;
    } else if (a->opts.keys->len) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-o cannot be used with -n (the target exists)");
        return NULL;
    }
    b = img_open(file, a->dst_fmt, true, a->dst_cache, errp);
    if (b && blk_size(b) < c->size) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: target is smaller (%" PRIu64 " bytes) than the "
                    "source (%" PRIu64 " bytes)",
                    file, blk_size(b), c->size);
        blk_close(b);
        return NULL;
    }
    if (b && blk_get_format(b) == BLK_FORMAT_QCOW2 && c->sparse) {
        struct qcow2_info qi;
        /* Zero blocks smaller than a cluster save nothing there. */
        if (qcow2_get_info(b, &qi, NULL)) {
            c->sparse = MAX(c->sparse, qi.cluster_size);
            qcow2_info_clear(&qi);
        }
    }
    return b;
}

int img_convert(int argc, char **argv)
{
    struct cvt c = { .ordered = true, .sparse = CVT_DEFAULT_SPARSE };
    struct cvt_args a = {
        .dst_fmt = BLK_FORMAT_RAW,
        .workers = CVT_DEFAULT_WORKERS,
        .dst_cache = BLK_CACHE_WRITEBACK,
        .src_cache = BLK_CACHE_WRITEBACK,
    };
    GError *err = NULL;
    int ret;

    img_opts_init(&a.opts);
    ret = cvt_parse(argc, argv, &a, &c);
    if (ret != IMG_EXIT_OK) {
        goto out;
    }
    c.src = img_open(argv[optind], a.src_fmt, false, a.src_cache, &err);
    if (!c.src) {
        ret = img_fail(err);
        goto out;
    }
    c.size = blk_size(c.src);
    if (!img_chain_open(&c.chain, c.src, &err)) {
        ret = img_fail(err);
        goto out_src;
    }
    c.dst = cvt_open_target(&a, &c, argv[optind + 1], &err);
    if (!c.dst) {
        ret = img_fail(err);
        goto out_chain;
    }
    c.direct_reads =
        a.src_cache != BLK_CACHE_NONE && a.src_cache != BLK_CACHE_DIRECTSYNC;
    c.kick_fd = -1;
    if (a.dst_cache == BLK_CACHE_WRITEBACK || a.dst_cache == BLK_CACHE_NONE) {
        c.kick_fd = open(argv[optind + 1], O_RDONLY | O_CLOEXEC);
    }
    ret = cvt_run(&c, a.workers);
    if (c.kick_fd >= 0) {
        close(c.kick_fd);
    }
    if (ret == 0) {
        ret = blk_flush_sync(c.dst);
        if (ret < 0) {
            c.err_what = g_strdup_printf("error while flushing %s: %s",
                                         argv[optind + 1], g_strerror(-ret));
        }
    }
    blk_close(c.dst);
    if (ret < 0) {
        img_error("%s", c.err_what);
        ret = IMG_EXIT_ERROR;
    }
    g_free(c.err_what);
out_chain:
    img_chain_close(&c.chain);
out_src:
    blk_close(c.src);
out:
    img_opts_free(&a.opts);
    return ret;
}
