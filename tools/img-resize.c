/*
 * img-resize.c: hvmdm-img resize: grow raw and qcow2 images, shrink raw ones
 * (only with --shrink, as qemu-img asks). SIZE may be absolute or +/-
 * relative. Left out: shrinking qcow2, vmdk, --preallocation.
 */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "img.h"

static int img_resize_raw(struct blk *b, uint64_t size, bool shrink)
{
    const char *file = blk_filename(b);

    if (size < blk_size(b) && !shrink) {
        img_error("%s: shrinking would discard data at the end of the image; "
                  "use --shrink to do it anyway",
                  file);
        return IMG_EXIT_ERROR;
    }
    if (truncate(file, (off_t)size) < 0) {
        img_error("%s: cannot resize: %s", file, g_strerror(errno));
        return IMG_EXIT_ERROR;
    }
    return IMG_EXIT_OK;
}

/* SPEC is SIZE, +SIZE or -SIZE relative to CUR. */
static bool img_resize_target(const char *spec, uint64_t cur, uint64_t *size,
                              GError **errp)
{
    uint64_t v;

    if (!img_parse_size(spec + (spec[0] == '+' || spec[0] == '-'), &v, errp)) {
        return false;
    }
    if (spec[0] == '+') {
        if (v > INT64_MAX - cur) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "size %s: too large (the limit is 8 EiB)", spec);
            return false;
        }
        *size = cur + v;
    } else if (spec[0] == '-') {
        if (v > cur) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "size %s: the image is only %" PRIu64 " bytes", spec,
                        cur);
            return false;
        }
        *size = cur - v;
    } else {
        *size = v;
    }
    return true;
}

int img_resize(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "shrink", no_argument, NULL, 's' },
        { NULL, 0, NULL, 0 },
    };
    enum blk_format fmt = BLK_FORMAT_PROBE;
    const char *spec;
    bool shrink = false, quiet = false;
    GError *err = NULL;
    struct blk *b;
    uint64_t size;
    int c, ret;

    /* "-1G" would look like an option: take the size off first. */
    if (argc < 3) {
        return img_usage_error("resize", "expected an image file and a size");
    }
    spec = argv[argc - 1];
    argc--;
    while ((c = getopt_long(argc, argv, ":f:q", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!img_parse_format(optarg, &fmt, &err)) {
                return img_fail(err);
            }
            break;
        case 's':
            shrink = true;
            break;
        case 'q':
            quiet = true;
            break;
        case ':':
            return img_usage_error("resize", "option -%c needs an argument",
                                   optopt);
        default:
            return img_usage_error("resize", "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        return img_usage_error("resize", "expected an image file and a size");
    }
    b = img_open(argv[optind], fmt, true, BLK_CACHE_WRITEBACK, &err);
    if (!b) {
        return img_fail(err);
    }
    if (!img_resize_target(spec, blk_size(b), &size, &err)) {
        blk_close(b);
        return img_fail(err);
    }
    switch (blk_get_format(b)) {
    case BLK_FORMAT_RAW:
        ret = img_resize_raw(b, size, shrink);
        break;
    case BLK_FORMAT_QCOW2:
        ret = qcow2_grow(b, size, &err) ? IMG_EXIT_OK : img_fail(err);
        break;
    default:
        img_error("%s: resizing %s images is not supported", blk_filename(b),
                  blk_format_name(blk_get_format(b)));
        ret = IMG_EXIT_ERROR;
        break;
    }
    blk_close(b);
    if (ret == IMG_EXIT_OK && !quiet) {
        printf("Image resized.\n");
    }
    return ret;
}
