/*
 * img-common.c: helpers every hvmdm-img subcommand uses: one-line errors,
 * sizes with suffixes, -o option lists, opening images and creating them,
 * and the allocation status of guest ranges through a backing chain.
 * Left out: image options given as JSON or --image-opts.
 */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img.h"

void img_error(const char *fmt, ...)
{
    va_list ap;

    fputs("hvmdm-img: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int img_fail(GError *err)
{
    img_error("%s", err->message);
    g_error_free(err);
    return IMG_EXIT_ERROR;
}

int img_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    img_error("%s: %s (see hvmdm-img %s --help)", cmd, msg, cmd);
    g_free(msg);
    return IMG_EXIT_ERROR;
}

bool img_parse_output(const char *cmd, const char *arg, bool *json)
{
    if (strcmp(arg, "json") && strcmp(arg, "human")) {
        img_usage_error(cmd, "--output=%s: expected human or json", arg);
        return false;
    }
    *json = strcmp(arg, "json") == 0;
    return true;
}

/* ---- sizes ------------------------------------------------------------------ */

bool img_parse_size(const char *s, uint64_t *out, GError **errp)
{
    static const char units[] = "bkmgtpe";
    const char *p = s;
    char *end = NULL;
    uint64_t whole, mult = 1;
    double frac = 0;

    if (!g_ascii_isdigit(*p)) {
        goto bad;
    }
    errno = 0;
    whole = g_ascii_strtoull(p, &end, 10);
    if (errno) {
        goto bad;
    }
    p = end;
    if (*p == '.') {
        const char *f = ++p;
        while (g_ascii_isdigit(*p)) {
            p++;
        }
        if (p == f) {
            goto bad;
        }
        {
            char *tmp = g_strdup_printf("0.%.*s", (int)(p - f), f);
            frac = g_ascii_strtod(tmp, NULL);
            g_free(tmp);
        }
    }
    if (*p) {
        const char *u = strchr(units, g_ascii_tolower(*p));
        if (!u || p[1]) {
            goto bad;
        }
        mult = 1ull << (10 * (u - units));
        p++;
    }
    if (whole > INT64_MAX / mult ||
        (double)whole * (double)mult + frac * (double)mult >= 0x1p63) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "size %s: too large (the limit is 8 EiB)", s);
        return false;
    }
    *out = whole * mult + (uint64_t)llround(frac * (double)mult);
    return true;

bad:
    g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                "size '%s': expected a number of bytes with an optional "
                "k, M, G, T, P or E suffix",
                s);
    return false;
}

char *img_human_size(uint64_t bytes)
{
    static const char *const suffix[] = { "B",   "KiB", "MiB", "GiB",
                                          "TiB", "PiB", "EiB" };
    unsigned i = 0;

    /* The largest unit in which the value is at least 1000/1024. */
    while (i + 1 < DM_ARRAY_SIZE(suffix) &&
           (double)bytes >= 1000.0 * (double)(1ull << (10 * i))) {
        i++;
    }
    return g_strdup_printf(
        "%0.3g %s", (double)bytes / (double)(1ull << (10 * i)), suffix[i]);
}

/* ---- -o options ----------------------------------------------------------- */

void img_opts_init(struct img_opts *o)
{
    o->keys = g_ptr_array_new_with_free_func(g_free);
    o->vals = g_ptr_array_new_with_free_func(g_free);
}

void img_opts_free(struct img_opts *o)
{
    g_ptr_array_free(o->keys, true);
    g_ptr_array_free(o->vals, true);
}

bool img_opts_parse(struct img_opts *o, const char *s, GError **errp)
{
    const char *p = s;

    while (*p) {
        GString *item = g_string_new(NULL);
        char *eq;

        for (; *p; p++) {
            if (*p == ',' && p[1] == ',') {
                g_string_append_c(item, ',');
                p++;
            } else if (*p == ',') {
                p++;
                break;
            } else {
                g_string_append_c(item, *p);
            }
        }
        eq = strchr(item->str, '=');
        if (!eq || eq == item->str) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "-o %s: expected key=value pairs separated by commas",
                        s);
            g_string_free(item, true);
            return false;
        }
        g_ptr_array_add(o->keys, g_strndup(item->str, (gsize)(eq - item->str)));
        g_ptr_array_add(o->vals, g_strdup(eq + 1));
        g_string_free(item, true);
    }
    return true;
}

const char *img_opts_get(struct img_opts *o, const char *key)
{
    const char *v = NULL;

    if (!o) {
        return NULL;
    }
    for (guint i = 0; i < o->keys->len; i++) {
        if (strcmp(o->keys->pdata[i], key) == 0) {
            v = o->vals->pdata[i]; /* the last one wins */
        }
    }
    return v;
}

bool img_opts_check(struct img_opts *o, const char *fmt,
                    const char *const *known, GError **errp)
{
    for (guint i = 0; o && i < o->keys->len; i++) {
        const char *k = o->keys->pdata[i];
        bool ok = false;
        for (const char *const *n = known; *n && !ok; n++) {
            ok = strcmp(*n, k) == 0;
        }
        if (!ok) {
            char *list = g_strjoinv(", ", (char **)known);
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "-o %s: %s images have no such option (%s)", k, fmt,
                        list);
            g_free(list);
            return false;
        }
    }
    return true;
}

/* ---- images ---------------------------------------------------------------- */

bool img_parse_format(const char *s, enum blk_format *out, GError **errp)
{
    if (!blk_parse_format(s, out, NULL)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "unknown image format '%s' (raw, qcow2, vmdk)", s);
        return false;
    }
    return true;
}

struct blk *img_open(const char *file, enum blk_format fmt, bool rw,
                     enum blk_cache cache, GError **errp)
{
    struct blk_opts o = {
        .format = fmt,
        .cache = cache,
        .aio = BLK_AIO_THREADS,
        .read_only = !rw,
    };

    if (rw && fmt == BLK_FORMAT_PROBE) {
        /* Probe read-only first: the tool knows what it opens, so a probed
         * raw image needs no write guard (nor its warning). */
        struct blk *b = img_open(file, fmt, false, cache, errp);
        if (!b) {
            return NULL;
        }
        o.format = blk_get_format(b);
        blk_close(b);
    }
    return blk_open(file, &o, errp);
}

char *img_backing_path(const char *image, const char *backing)
{
    char *dir, *path;

    if (g_path_is_absolute(backing)) {
        return g_strdup(backing);
    }
    dir = g_path_get_dirname(image);
    path = strcmp(dir, ".") == 0 ? g_strdup(backing)
                                 : g_build_filename(dir, backing, NULL);
    g_free(dir);
    return path;
}

static bool img_create_raw(struct img_create_req *r, GError **errp)
{
    static const char *const known[] = { "size", "preallocation", NULL };
    const char *pre = img_opts_get(r->opts, "preallocation");
    int fd, ret = 0;

    if (!img_opts_check(r->opts, "raw", known, errp)) {
        return false;
    }
    if (pre && strcmp(pre, "off") && strcmp(pre, "falloc") &&
        strcmp(pre, "full")) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-o preallocation=%s: raw images take off, falloc or full",
                    pre);
        return false;
    }
    if (r->backing) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "raw images cannot have a backing file");
        return false;
    }
    fd = open(r->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: %s", r->file,
                    g_strerror(errno));
        return false;
    }
    if (ftruncate(fd, (off_t)r->size) < 0) {
        ret = errno;
    } else if (pre && strcmp(pre, "off") && r->size) {
        ret = posix_fallocate(fd, 0, (off_t)r->size);
    }
    if (!ret && pre && strcmp(pre, "full") == 0) {
        /* Allocated blocks that read as zeros: write the zeros too. */
        size_t chunk = 1 << 20;
        char *z = g_malloc0(chunk);
        for (uint64_t off = 0; off < r->size && !ret; off += chunk) {
            size_t n = (size_t)MIN((uint64_t)chunk, r->size - off);
            if (pwrite(fd, z, n, (off_t)off) != (ssize_t)n) {
                ret = errno ? errno : EIO;
            }
        }
        g_free(z);
    }
    if (close(fd) < 0 && !ret) {
        ret = errno;
    }
    if (ret) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "%s: %s", r->file,
                    g_strerror(ret));
        return false;
    }
    return true;
}

static bool img_parse_compat(const char *v, unsigned *version, GError **errp)
{
    if (!v || strcmp(v, "1.1") == 0 || strcmp(v, "v3") == 0) {
        *version = 3;
    } else if (strcmp(v, "0.10") == 0 || strcmp(v, "v2") == 0) {
        *version = 2;
    } else {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-o compat=%s: expected 0.10 or 1.1", v);
        return false;
    }
    return true;
}

static bool img_qcow2_opts(struct img_create_req *r,
                           struct qcow2_create_opts *q, GError **errp)
{
    static const char *const known[] = {
        "size",
        "compat",
        "cluster_size",
        "backing_file",
        "backing_fmt",
        "preallocation",
        "refcount_bits",
        "lazy_refcounts",
        "compression_type",
        "extended_l2",
        NULL,
    };
    const char *v;

    if (!img_opts_check(r->opts, "qcow2", known, errp) ||
        !img_parse_compat(img_opts_get(r->opts, "compat"), &q->version, errp)) {
        return false;
    }
    v = img_opts_get(r->opts, "cluster_size");
    if (v && !img_parse_size(v, &q->cluster_size, errp)) {
        g_prefix_error(errp, "-o cluster_size: ");
        return false;
    }
    v = img_opts_get(r->opts, "refcount_bits");
    if (v) {
        guint64 bits;
        if (!g_ascii_string_to_unsigned(v, 10, 1, 64, &bits, NULL)) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "-o refcount_bits=%s: expected 1, 2, 4 ... 64", v);
            return false;
        }
        q->refcount_bits = (unsigned)bits;
    }
    v = img_opts_get(r->opts, "preallocation");
    if (v && strcmp(v, "off") && strcmp(v, "metadata")) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-o preallocation=%s: qcow2 images take off or metadata",
                    v);
        return false;
    }
    q->prealloc_metadata = v && strcmp(v, "metadata") == 0;
    v = img_opts_get(r->opts, "lazy_refcounts");
    if (v && strcmp(v, "off")) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-o lazy_refcounts=%s: only off is supported", v);
        return false;
    }
    v = img_opts_get(r->opts, "extended_l2");
    if (v && strcmp(v, "off")) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-o extended_l2=%s: only off is supported", v);
        return false;
    }
    v = img_opts_get(r->opts, "compression_type");
    if (v && strcmp(v, "zlib")) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-o compression_type=%s: only zlib is supported for new "
                    "images",
                    v);
        return false;
    }
    return true;
}

/* Size of the backing file BACKING (resolved against FILE). */
static bool img_backing_size(const char *file, const char *backing,
                             const char *fmt, uint64_t *size, GError **errp)
{
    enum blk_format f = BLK_FORMAT_PROBE;
    char *path = img_backing_path(file, backing);
    struct blk *b;

    if (fmt && !img_parse_format(fmt, &f, errp)) {
        g_free(path);
        return false;
    }
    b = img_open(path, f, false, BLK_CACHE_WRITEBACK, errp);
    g_free(path);
    if (!b) {
        g_prefix_error(errp, "backing file: ");
        return false;
    }
    *size = blk_size(b);
    blk_close(b);
    return true;
}

static bool img_create_qcow2(struct img_create_req *r, GError **errp)
{
    struct qcow2_create_opts q = { .size = r->size };

    if (!img_qcow2_opts(r, &q, errp)) {
        return false;
    }
    q.backing_file = r->backing;
    q.backing_format = r->backing_fmt;
    if (q.backing_format) {
        enum blk_format f;
        if (!img_parse_format(q.backing_format, &f, errp)) {
            g_prefix_error(errp, "backing format: ");
            return false;
        }
    }
    return qcow2_create(r->file, &q, errp);
}

static bool img_create_vmdk(struct img_create_req *r, GError **errp)
{
    static const char *const known[] = { "size", "subformat", "backing_file",
                                         "backing_fmt", NULL };

    if (!img_opts_check(r->opts, "vmdk", known, errp)) {
        return false;
    }
    if (r->backing_fmt && strcmp(r->backing_fmt, "vmdk")) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "backing format %s: vmdk images can only have vmdk "
                    "parents",
                    r->backing_fmt);
        return false;
    }
    return vmdk_create_backed(
        r->file, r->size, img_opts_get(r->opts, "subformat"), r->backing, errp);
}

bool img_create_image(struct img_create_req *r, GError **errp)
{
    const char *v;

    /* -o backing_file / backing_fmt / size are aliases of -b, -F, SIZE. */
    v = img_opts_get(r->opts, "backing_file");
    if (v) {
        r->backing = v;
    }
    v = img_opts_get(r->opts, "backing_fmt");
    if (v) {
        r->backing_fmt = v;
    }
    v = img_opts_get(r->opts, "size");
    if (v) {
        if (!img_parse_size(v, &r->size, errp)) {
            return false;
        }
        r->has_size = true;
    }
    if (r->backing_fmt && !r->backing) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "a backing format (-F) needs a backing file (-b)");
        return false;
    }
    if (!r->has_size) {
        if (!r->backing) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: image size missing (give SIZE or -b BACKING)",
                        r->file);
            return false;
        }
        if (!img_backing_size(r->file, r->backing, r->backing_fmt, &r->size,
                              errp)) {
            return false;
        }
        r->has_size = true;
    }
    switch (r->fmt) {
    case BLK_FORMAT_RAW:
        return img_create_raw(r, errp);
    case BLK_FORMAT_QCOW2:
        return img_create_qcow2(r, errp);
    case BLK_FORMAT_VMDK:
        return img_create_vmdk(r, errp);
    default:
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "no image format given");
        return false;
    }
}

/* ---- backing chains and allocation status -------------------------------- */

static bool img_chain_add_backing(struct img_chain *c, GError **errp)
{
    struct blk *b = c->b[c->n - 1];
    struct qcow2_info info;
    enum blk_format f = BLK_FORMAT_PROBE;
    struct blk *nb;
    char *path;

    if (blk_get_format(b) != BLK_FORMAT_QCOW2) {
        return true;
    }
    if (!qcow2_get_info(b, &info, errp)) {
        return false;
    }
    if (!info.backing_file) {
        qcow2_info_clear(&info);
        return true;
    }
    if (c->n >= IMG_MAX_CHAIN) {
        qcow2_info_clear(&info);
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: backing chain deeper than %d images", blk_filename(b),
                    IMG_MAX_CHAIN);
        return false;
    }
    if (info.backing_format) {
        blk_parse_format(info.backing_format, &f, NULL);
    }
    path = img_backing_path(blk_filename(b), info.backing_file);
    qcow2_info_clear(&info);
    nb = img_open(path, f, false, BLK_CACHE_WRITEBACK, errp);
    g_free(path);
    if (!nb) {
        return false;
    }
    c->fd[c->n] = -1;
    c->b[c->n++] = nb;
    return true;
}

bool img_chain_open(struct img_chain *c, struct blk *top, GError **errp)
{
    memset(c, 0, sizeof(*c));
    c->b[0] = top;
    c->n = 1;
    for (;;) {
        unsigned before = c->n;
        if (!img_chain_add_backing(c, errp)) {
            img_chain_close(c);
            return false;
        }
        if (c->n == before) {
            break;
        }
    }
    for (unsigned i = 0; i < c->n; i++) {
        c->fd[i] = -1;
        if (blk_get_format(c->b[i]) != BLK_FORMAT_VMDK) {
            c->fd[i] = open(blk_filename(c->b[i]), O_RDONLY | O_CLOEXEC);
        }
    }
    return true;
}

void img_chain_close(struct img_chain *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (c->fd[i] >= 0) {
            close(c->fd[i]);
        }
        if (i > 0) {
            blk_close(c->b[i]);
        }
    }
    memset(c, 0, sizeof(*c));
}

/* Raw files: data and holes as the host file system keeps them. */
static int img_raw_status(int fd, uint64_t off, uint64_t len,
                          struct img_extent *e)
{
    off_t data, hole;

    e->present = true;
    e->has_offset = true;
    e->offset = off;
    e->data = true;
    e->len = len;
    if (fd < 0) {
        return 0;
    }
    data = lseek(fd, (off_t)off, SEEK_DATA);
    if (data < 0 && errno == ENXIO) {
        e->data = false; /* a hole up to the end of the file */
        e->zero = true;
        return 0;
    }
    if (data < 0) {
        return 0; /* no SEEK_DATA here: all data */
    }
    if ((uint64_t)data > off) {
        e->data = false;
        e->zero = true;
        e->len = MIN(len, (uint64_t)data - off);
        return 0;
    }
    hole = lseek(fd, (off_t)off, SEEK_HOLE);
    if (hole > (off_t)off) {
        e->len = MIN(len, (uint64_t)hole - off);
    }
    return 0;
}

static int img_status_at(struct img_chain *c, unsigned d, uint64_t off,
                         uint64_t len, struct img_extent *e)
{
    struct blk *b = c->b[d];
    enum blk_alloc kind;
    uint64_t pnum, host;
    int ret;

    memset(e, 0, sizeof(*e));
    e->depth = d;
    switch (blk_get_format(b)) {
    case BLK_FORMAT_RAW:
        return img_raw_status(c->fd[d], off, len, e);
    case BLK_FORMAT_QCOW2:
        break;
    default:
        e->len = len;
        e->present = e->data = true;
        return 0;
    }
    ret = qcow2_block_status(b, off, len, &pnum, &kind, &host);
    if (ret < 0) {
        return ret;
    }
    e->len = pnum;
    switch (kind) {
    case BLK_ALLOC_DATA:
        e->present = e->data = e->has_offset = true;
        e->offset = host;
        break;
    case BLK_ALLOC_ZERO:
        e->present = e->zero = true;
        break;
    case BLK_ALLOC_COMPRESSED:
        e->present = e->data = true;
        break;
    case BLK_ALLOC_UNALLOCATED:
        if (d + 1 < c->n && off < blk_size(c->b[d + 1])) {
            return img_status_at(c, d + 1, off,
                                 MIN(pnum, blk_size(c->b[d + 1]) - off), e);
        }
        e->zero = true;
        break;
    }
    return 0;
}

int img_chain_status(struct img_chain *c, uint64_t off, uint64_t len,
                     struct img_extent *e)
{
    return img_status_at(c, 0, off, len, e);
}
