/*
 * img-map.c: hvmdm-img map: where each guest range of an image is stored:
 * which image of the backing chain, at which offset of its file, or whether
 * it reads as zeros. Human output lists the ranges with data in a file; JSON
 * lists every range, in qemu-img map's shape (one object per line).
 * Left out: --image-opts, extents inside vmdk files (shown as data).
 */
#include <getopt.h>
#include <stdio.h>

#include "img.h"

struct map_state {
    struct img_chain chain;
    bool json;
    bool have; /* pending is set */
    uint64_t start;
    struct img_extent pending;
    unsigned printed;
};

static void map_print(struct map_state *m)
{
    const struct img_extent *e = &m->pending;

    if (m->json) {
        printf("%s{ \"start\": %" PRIu64 ", \"length\": %" PRIu64
               ", \"depth\": %u, \"present\": %s, \"zero\": %s, \"data\": %s",
               m->printed ? ",\n" : "[", m->start, e->len, e->depth,
               e->present ? "true" : "false", e->zero ? "true" : "false",
               e->data ? "true" : "false");
        if (e->has_offset) {
            printf(", \"offset\": %" PRIu64, e->offset);
        }
        printf("}");
        m->printed++;
        return;
    }
    if (e->data && e->has_offset) {
        char a[24], b[24], c[24];
        /* "%#x" style: 0 without a prefix, else 0x... */
        snprintf(a, sizeof(a), m->start ? "0x%" PRIx64 : "0", m->start);
        snprintf(b, sizeof(b), "0x%" PRIx64, e->len);
        snprintf(c, sizeof(c), e->offset ? "0x%" PRIx64 : "0", e->offset);
        printf("%-16s%-16s%-16s%s\n", a, b, c,
               blk_filename(m->chain.b[e->depth]));
    }
}

/* Add extent E at OFF, merging it with the pending one when they continue
 * each other. */
static void map_add(struct map_state *m, uint64_t off,
                    const struct img_extent *e)
{
    struct img_extent *p = &m->pending;

    if (m->have && p->depth == e->depth && p->present == e->present &&
        p->zero == e->zero && p->data == e->data &&
        p->has_offset == e->has_offset &&
        (!e->has_offset || p->offset + p->len == e->offset) &&
        m->start + p->len == off) {
        p->len += e->len;
        return;
    }
    if (m->have) {
        map_print(m);
    }
    m->pending = *e;
    m->start = off;
    m->have = true;
}

int img_map(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'O' },
        { "start-offset", required_argument, NULL, 's' },
        { "max-length", required_argument, NULL, 'l' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    struct map_state m = { 0 };
    enum blk_format fmt = BLK_FORMAT_PROBE;
    uint64_t start = 0, max_len = UINT64_MAX, end;
    GError *err = NULL;
    struct blk *b;
    int c, ret = IMG_EXIT_OK;

    while ((c = getopt_long(argc, argv, ":f:U", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!img_parse_format(optarg, &fmt, &err)) {
                return img_fail(err);
            }
            break;
        case 'O':
            if (!img_parse_output("map", optarg, &m.json)) {
                return IMG_EXIT_ERROR;
            }
            break;
        case 's':
        case 'l':
            if (!img_parse_size(optarg, c == 's' ? &start : &max_len, &err)) {
                return img_fail(err);
            }
            break;
        case 'U':
            break;
        case ':':
            return img_usage_error("map", "option -%c needs an argument",
                                   optopt);
        default:
            return img_usage_error("map", "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        return img_usage_error("map", argc == optind ? "no image file given"
                                                     : "one image file only");
    }
    b = img_open(argv[optind], fmt, false, BLK_CACHE_WRITEBACK, &err);
    if (!b || !img_chain_open(&m.chain, b, &err)) {
        blk_close(b);
        return img_fail(err);
    }
    end = blk_size(b);
    if (max_len < end && start < end - max_len) {
        end = start + max_len;
    }
    if (!m.json) {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    }
    for (uint64_t off = start; off < end;) {
        struct img_extent e;
        int r = img_chain_status(&m.chain, off, end - off, &e);
        if (r < 0) {
            img_error("%s: cannot map offset %" PRIu64 ": %s", argv[optind],
                      off, g_strerror(-r));
            ret = IMG_EXIT_ERROR;
            break;
        }
        map_add(&m, off, &e);
        off += e.len;
    }
    if (m.have) {
        map_print(&m);
    }
    if (m.json) {
        printf("%s]\n", m.printed ? "" : "[");
    }
    img_chain_close(&m.chain);
    blk_close(b);
    return ret;
}
