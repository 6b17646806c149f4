/*
 * img-create.c: hvmdm-img create: a new raw, qcow2 or vmdk image, empty or
 * on top of a backing file, with qemu-img create's options.
 * Left out: encryption, --object, -u (unsafe backing), lazy refcounts.
 */
#include <getopt.h>
#include <stdio.h>

#include "img.h"

static void img_create_announce(const struct img_create_req *r)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "Formatting '%s', fmt=%s", r->file,
                           blk_format_name(r->fmt));
    if (r->fmt == BLK_FORMAT_QCOW2) {
        const char *cs = img_opts_get(r->opts, "cluster_size");
        uint64_t v = 64 * DM_KiB;
        if (cs) {
            img_parse_size(cs, &v, NULL);
        }
        g_string_append_printf(
            s, " cluster_size=%" PRIu64 " compression_type=zlib", v);
    }
    g_string_append_printf(s, " size=%" PRIu64, r->size);
    if (r->backing) {
        g_string_append_printf(s, " backing_file=%s", r->backing);
    }
    if (r->backing_fmt) {
        g_string_append_printf(s, " backing_fmt=%s", r->backing_fmt);
    }
    for (guint i = 0; r->opts && i < r->opts->keys->len; i++) {
        const char *k = r->opts->keys->pdata[i];
        if (strcmp(k, "cluster_size") && strcmp(k, "size") &&
            strcmp(k, "backing_file") && strcmp(k, "backing_fmt")) {
            g_string_append_printf(s, " %s=%s", k,
                                   (char *)r->opts->vals->pdata[i]);
        }
    }
    puts(s->str);
    g_string_free(s, true);
}

int img_create(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct img_opts opts;
    struct img_create_req r = { .fmt = BLK_FORMAT_RAW, .opts = &opts };
    GError *err = NULL;
    bool quiet = false;
    int c, ret = IMG_EXIT_ERROR;

    img_opts_init(&opts);
    while ((c = getopt_long(argc, argv, ":f:o:b:F:qu", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!img_parse_format(optarg, &r.fmt, &err)) {
                goto fail;
            }
            break;
        case 'o':
            if (!img_opts_parse(&opts, optarg, &err)) {
                goto fail;
            }
            break;
        case 'b':
            r.backing = optarg;
            break;
        case 'F':
            r.backing_fmt = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'u':
            break; /* the backing file is only opened for its size */
        case ':':
            ret = img_usage_error("create", "option -%c needs an argument",
                                  optopt);
            goto out;
        default:
            ret = img_usage_error("create", "unknown option '%s'",
                                  argv[optind - 1]);
            goto out;
        }
    }
    if (optind >= argc) {
        ret = img_usage_error("create", "no image file given");
        goto out;
    }
    if (argc - optind > 2) {
        ret = img_usage_error("create", "unexpected argument '%s'",
                              argv[optind + 2]);
        goto out;
    }
    r.file = argv[optind];
    if (optind + 1 < argc) {
        if (!img_parse_size(argv[optind + 1], &r.size, &err)) {
            goto fail;
        }
        r.has_size = true;
    }
    if (!img_create_image(&r, &err)) {
        goto fail;
    }
    if (!quiet) {
        img_create_announce(&r);
    }
    ret = IMG_EXIT_OK;
    goto out;

fail:
    ret = img_fail(err);
out:
    img_opts_free(&opts);
    return ret;
}
