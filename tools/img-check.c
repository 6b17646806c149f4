/*
 * img-check.c: hvmdm-img check: consistency of qcow2 images (recomputed
 * reference counts, table pointers, OFLAG_COPIED), leaks and corruptions
 * counted and optionally repaired, then checked again. Output and exit
 * statuses as qemu-img check: 0 clean, 1 check failed, 2 corruptions,
 * 3 leaks only, 63 format without checks. Left out: vmdk grain table checks.
 */
#include <getopt.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "img.h"

#define IMG_CHECK_CORRUPT 2
#define IMG_CHECK_LEAKS 3
#define IMG_CHECK_UNSUPPORTED 63

static int img_check_status(const struct qcow2_check_result *r)
{
    if (r->check_errors) {
        return IMG_EXIT_ERROR;
    }
    if (r->corruptions) {
        return IMG_CHECK_CORRUPT;
    }
    return r->leaks ? IMG_CHECK_LEAKS : IMG_EXIT_OK;
}

static void img_check_human(const struct qcow2_check_result *r)
{
    if (!r->check_errors && !r->corruptions && !r->leaks) {
        printf("No errors were found on the image.\n");
    }
    if (r->corruptions) {
        printf("\n%" PRIu64 " errors were found on the image.\n"
               "Data may be corrupted, or further writes to the image may "
               "corrupt it.\n",
               r->corruptions);
    }
    if (r->leaks) {
        printf("\n%" PRIu64 " leaked clusters were found on the image.\n"
               "This means waste of disk space, but no harm to data.\n",
               r->leaks);
    }
    if (r->check_errors) {
        printf("\n%" PRIu64 " internal errors have occurred during the "
               "check.\n",
               r->check_errors);
    }
    if (r->total_clusters && r->allocated_clusters) {
        printf("%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% "
               "fragmented, %0.2f%% compressed clusters\n",
               r->allocated_clusters, r->total_clusters,
               100.0 * (double)r->allocated_clusters /
                   (double)r->total_clusters,
               100.0 * (double)r->fragmented_clusters /
                   (double)r->allocated_clusters,
               100.0 * (double)r->compressed_clusters /
                   (double)r->allocated_clusters);
    }
    if (r->image_end_offset) {
        printf("Image end offset: %" PRIu64 "\n", r->image_end_offset);
    }
}

static void img_check_json(const char *file, const char *format,
                           const struct qcow2_check_result *r,
                           const struct qcow2_check_result *first)
{
    JsonBuilder *jb = json_builder_new();
    JsonGenerator *gen = json_generator_new();
    JsonNode *root;
    char *text;

#define MEMBER(name, v)                              \
    do {                                             \
        json_builder_set_member_name(jb, name);      \
        json_builder_add_int_value(jb, (gint64)(v)); \
    } while (0)
    json_builder_begin_object(jb);
    MEMBER("image-end-offset", r->image_end_offset);
    MEMBER("total-clusters", r->total_clusters);
    MEMBER("check-errors", r->check_errors);
    if (r->leaks) {
        MEMBER("leaks", r->leaks);
    }
    if (r->corruptions) {
        MEMBER("corruptions", r->corruptions);
    }
    if (first && first->leaks_fixed) {
        MEMBER("leaks-fixed", first->leaks_fixed);
    }
    if (first && first->corruptions_fixed) {
        MEMBER("corruptions-fixed", first->corruptions_fixed);
    }
    MEMBER("allocated-clusters", r->allocated_clusters);
    MEMBER("fragmented-clusters", r->fragmented_clusters);
    MEMBER("compressed-clusters", r->compressed_clusters);
    json_builder_set_member_name(jb, "filename");
    json_builder_add_string_value(jb, file);
    json_builder_set_member_name(jb, "format");
    json_builder_add_string_value(jb, format);
    json_builder_end_object(jb);
#undef MEMBER
    root = json_builder_get_root(jb);
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 4);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
    g_free(text);
    json_node_unref(root);
    g_object_unref(gen);
    g_object_unref(jb);
}

static void img_check_messages(const struct qcow2_check_result *r, bool quiet)
{
    for (guint i = 0; !quiet && i < r->messages->len; i++) {
        fprintf(stderr, "%s\n", (char *)r->messages->pdata[i]);
    }
}

/* vmdk: grain tables checked by the driver, reported like qcow2 results
 * (grains as clusters); nothing is repaired. */
static bool img_check_vmdk(struct blk *b, enum qcow2_repair repair,
                           struct qcow2_check_result *r, int *status)
{
    struct vmdk_check_result v;
    GError *err = NULL;

    if (repair != QCOW2_REPAIR_NONE) {
        img_error("%s: vmdk images cannot be repaired", blk_filename(b));
        *status = IMG_EXIT_ERROR;
        return false;
    }
    if (!vmdk_check(b, &v, &err)) {
        *status = img_fail(err);
        return false;
    }
    memset(r, 0, sizeof(*r));
    r->messages = v.messages;
    v.messages = NULL;
    r->corruptions = v.corruptions;
    r->check_errors = v.check_errors;
    r->total_clusters = v.total_grains;
    r->allocated_clusters = v.allocated_grains;
    vmdk_check_result_clear(&v);
    return true;
}

/* Open FILE and check it; false (error printed) if that could not run. */
static bool img_check_once(const char *file, enum blk_format fmt,
                           enum qcow2_repair repair,
                           struct qcow2_check_result *r, int *status,
                           const char **fmt_name)
{
    GError *err = NULL;
    struct blk *b = img_open(file, fmt, false, BLK_CACHE_WRITEBACK, &err);
    bool ok;

    if (!b) {
        *status = img_fail(err);
        return false;
    }
    *fmt_name = blk_format_name(blk_get_format(b));
    if (blk_get_format(b) == BLK_FORMAT_VMDK) {
        ok = img_check_vmdk(b, repair, r, status);
        blk_close(b);
        return ok;
    }
    if (blk_get_format(b) != BLK_FORMAT_QCOW2) {
        img_error("%s: %s images do not support checks", file,
                  blk_format_name(blk_get_format(b)));
        blk_close(b);
        *status = IMG_CHECK_UNSUPPORTED;
        return false;
    }
    ok = qcow2_check(b, repair, r, &err);
    blk_close(b);
    if (!ok) {
        qcow2_check_result_clear(r);
        *status = img_fail(err);
    }
    return ok;
}

int img_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'O' },
        { "repair", required_argument, NULL, 'r' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    enum blk_format fmt = BLK_FORMAT_PROBE;
    enum qcow2_repair repair = QCOW2_REPAIR_NONE;
    struct qcow2_check_result r1, r2;
    bool json = false, quiet = false;
    GError *err = NULL;
    const char *file, *fmt_name = "qcow2";
    int c, status = IMG_EXIT_OK;

    while ((c = getopt_long(argc, argv, ":f:r:qU", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!img_parse_format(optarg, &fmt, &err)) {
                return img_fail(err);
            }
            break;
        case 'r':
            if (strcmp(optarg, "leaks") == 0) {
                repair = QCOW2_REPAIR_LEAKS;
            } else if (strcmp(optarg, "all") == 0) {
                repair = QCOW2_REPAIR_ALL;
            } else {
                return img_usage_error("check", "-r %s: expected leaks or all",
                                       optarg);
            }
            break;
        case 'O':
            if (!img_parse_output("check", optarg, &json)) {
                return IMG_EXIT_ERROR;
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 'U':
            break;
        case ':':
            return img_usage_error("check", "option -%c needs an argument",
                                   optopt);
        default:
            return img_usage_error("check", "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        return img_usage_error("check", argc == optind ? "no image file given"
                                                       : "one image file only");
    }
    file = argv[optind];
    if (!img_check_once(file, fmt, repair, &r1, &status, &fmt_name)) {
        return status;
    }
    img_check_messages(&r1, quiet);
    if (repair == QCOW2_REPAIR_NONE ||
        (!r1.leaks_fixed && !r1.corruptions_fixed)) {
        if (json) {
            img_check_json(file, fmt_name, &r1, NULL);
        } else if (!quiet) {
            img_check_human(&r1);
        }
        status = img_check_status(&r1);
        qcow2_check_result_clear(&r1);
        return status;
    }
    if (!json && !quiet) {
        printf("The following inconsistencies were found and repaired:\n\n"
               "    %" PRIu64 " leaked clusters\n    %" PRIu64
               " corruptions\n\nDouble checking the fixed image now...\n",
               r1.leaks_fixed, r1.corruptions_fixed);
    }
    if (img_check_once(file, fmt, QCOW2_REPAIR_NONE, &r2, &status, &fmt_name)) {
        img_check_messages(&r2, quiet);
        if (json) {
            img_check_json(file, fmt_name, &r2, &r1);
        } else if (!quiet) {
            img_check_human(&r2);
        }
        status = img_check_status(&r2);
        qcow2_check_result_clear(&r2);
    }
    qcow2_check_result_clear(&r1);
    return status;
}
