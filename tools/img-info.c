/*
 * img-info.c: hvmdm-img info: format, virtual and disk size, cluster size,
 * backing file, qcow2 flags and snapshot list, for one image or its whole
 * backing chain, as text or JSON (the fields qemu-img info --output=json
 * uses). Left out: vmdk extent details, bitmaps, encryption details.
 */
#include <getopt.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "img.h"

struct img_info {
    char *filename;
    enum blk_format fmt;
    uint64_t size;
    uint64_t disk_size;
    bool is_qcow2;
    struct qcow2_info q;
    bool is_vmdk;
    struct vmdk_info v;
    char *full_backing; /* resolved path of the backing file */
};

static void img_info_free(struct img_info *i)
{
    g_free(i->filename);
    g_free(i->full_backing);
    if (i->is_qcow2) {
        qcow2_info_clear(&i->q);
    }
    if (i->is_vmdk) {
        vmdk_info_clear(&i->v);
    }
}

/* Bytes the files of a vmdk image take on the disk. */
static uint64_t img_vmdk_disk_size(const char *image, const struct vmdk_info *v)
{
    uint64_t total = 0;
    struct stat st;

    for (char **f = v->extent_files; f && *f; f++) {
        char *path;
        if (!**f) {
            continue;
        }
        path = img_backing_path(image, *f);
        if (strcmp(path, image) && stat(path, &st) == 0) {
            total += (uint64_t)st.st_blocks * 512;
        }
        g_free(path);
    }
    return total;
}

static bool img_info_collect(struct blk *b, struct img_info *i, GError **errp)
{
    struct stat st;

    memset(i, 0, sizeof(*i));
    i->filename = g_strdup(blk_filename(b));
    i->fmt = blk_get_format(b);
    i->size = blk_size(b);
    if (stat(i->filename, &st) == 0) {
        i->disk_size = (uint64_t)st.st_blocks * 512;
    }
    if (i->fmt == BLK_FORMAT_VMDK) {
        if (!vmdk_get_info(b, &i->v, errp)) {
            g_free(i->filename);
            return false;
        }
        i->is_vmdk = true;
        i->disk_size += img_vmdk_disk_size(i->filename, &i->v);
        if (i->v.parent_hint) {
            i->full_backing = img_backing_path(i->filename, i->v.parent_hint);
        }
    }
    if (i->fmt == BLK_FORMAT_QCOW2) {
        if (!qcow2_get_info(b, &i->q, errp)) {
            g_free(i->filename);
            return false;
        }
        i->is_qcow2 = true;
        if (i->q.backing_file) {
            i->full_backing = img_backing_path(i->filename, i->q.backing_file);
        }
    }
    return true;
}

static char *img_snapshot_date(uint32_t sec)
{
    time_t t = sec;
    struct tm tm;
    char buf[64];

    localtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    return g_strdup(buf);
}

static void img_print_snapshots(const struct qcow2_info *q)
{
    printf("Snapshot list:\n");
    printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE",
           "VM CLOCK", "ICOUNT");
    for (unsigned k = 0; k < q->nb_snapshots; k++) {
        const struct qcow2_snapshot_info *sn = &q->snapshots[k];
        uint64_t ms = sn->vm_clock_nsec / 1000000;
        char *vm = img_human_size(sn->vm_state_size);
        char *date = img_snapshot_date(sn->date_sec);
        char *clock =
            g_strdup_printf("%02" PRIu64 ":%02u:%02u.%03u", ms / 3600000,
                            (unsigned)(ms / 60000 % 60),
                            (unsigned)(ms / 1000 % 60), (unsigned)(ms % 1000));
        char *icount = sn->icount == UINT64_MAX
                           ? g_strdup("")
                           : g_strdup_printf("%" PRIu64, sn->icount);

        printf("%-9s %-16s %8s%20s%13s%11s\n", sn->id, sn->name, vm, date,
               clock, icount);
        g_free(vm);
        g_free(date);
        g_free(clock);
        g_free(icount);
    }
}

static void img_print_vmdk(const struct img_info *i)
{
    unsigned k = 0;

    if (i->v.grain_size) {
        printf("cluster_size: %" PRIu64 "\n", i->v.grain_size);
    }
    if (i->v.parent_hint) {
        if (strcmp(i->v.parent_hint, i->full_backing)) {
            printf("backing file: %s (actual path: %s)\n", i->v.parent_hint,
                   i->full_backing);
        } else {
            printf("backing file: %s\n", i->v.parent_hint);
        }
    }
    printf("Format specific information:\n");
    printf("    cid: %u\n", i->v.cid);
    printf("    parent cid: %u\n", i->v.parent_cid);
    if (i->v.create_type) {
        printf("    create type: %s\n", i->v.create_type);
    }
    printf("    extents:\n");
    for (char **f = i->v.extent_files; f && *f; f++, k++) {
        printf("        [%u]:\n            filename: %s\n", k, *f);
    }
}

static void img_print_human(const struct img_info *i)
{
    char *vs = img_human_size(i->size), *ds = img_human_size(i->disk_size);

    printf("image: %s\n", i->filename);
    printf("file format: %s\n", blk_format_name(i->fmt));
    printf("virtual size: %s (%" PRIu64 " bytes)\n", vs, i->size);
    printf("disk size: %s\n", ds);
    g_free(vs);
    g_free(ds);
    if (i->is_vmdk) {
        img_print_vmdk(i);
    }
    if (!i->is_qcow2) {
        return;
    }
    printf("cluster_size: %" PRIu64 "\n", i->q.cluster_size);
    if (i->q.backing_file) {
        if (strcmp(i->q.backing_file, i->full_backing)) {
            printf("backing file: %s (actual path: %s)\n", i->q.backing_file,
                   i->full_backing);
        } else {
            printf("backing file: %s\n", i->q.backing_file);
        }
        if (i->q.backing_format) {
            printf("backing file format: %s\n", i->q.backing_format);
        }
    }
    if (i->q.dirty) {
        printf("dirty flag: yes\n");
    }
    if (i->q.nb_snapshots) {
        img_print_snapshots(&i->q);
    }
    printf("Format specific information:\n");
    printf("    compat: %s\n", i->q.version == 2 ? "0.10" : "1.1");
    printf("    compression type: %s\n", i->q.compression);
    if (i->q.version == 2) {
        printf("    refcount bits: %u\n", i->q.refcount_bits);
    } else {
        printf("    lazy refcounts: %s\n",
               i->q.lazy_refcounts ? "true" : "false");
        printf("    refcount bits: %u\n", i->q.refcount_bits);
        printf("    corrupt: %s\n", i->q.corrupt ? "true" : "false");
        printf("    extended l2: false\n");
    }
}

static void img_json_int(JsonBuilder *jb, const char *k, int64_t v)
{
    json_builder_set_member_name(jb, k);
    json_builder_add_int_value(jb, v);
}

static void img_json_str(JsonBuilder *jb, const char *k, const char *v)
{
    json_builder_set_member_name(jb, k);
    json_builder_add_string_value(jb, v);
}

static void img_json_bool(JsonBuilder *jb, const char *k, bool v)
{
    json_builder_set_member_name(jb, k);
    json_builder_add_boolean_value(jb, v);
}

static void img_json_snapshots(JsonBuilder *jb, const struct qcow2_info *q)
{
    json_builder_set_member_name(jb, "snapshots");
    json_builder_begin_array(jb);
    for (unsigned k = 0; k < q->nb_snapshots; k++) {
        const struct qcow2_snapshot_info *sn = &q->snapshots[k];
        json_builder_begin_object(jb);
        if (sn->icount != UINT64_MAX) {
            img_json_int(jb, "icount", (int64_t)sn->icount);
        }
        img_json_int(jb, "vm-clock-nsec",
                     (int64_t)(sn->vm_clock_nsec % 1000000000));
        img_json_str(jb, "name", sn->name);
        img_json_int(jb, "date-sec", sn->date_sec);
        img_json_int(jb, "date-nsec", sn->date_nsec);
        img_json_int(jb, "vm-clock-sec",
                     (int64_t)(sn->vm_clock_nsec / 1000000000));
        img_json_str(jb, "id", sn->id);
        img_json_int(jb, "vm-state-size", (int64_t)sn->vm_state_size);
        json_builder_end_object(jb);
    }
    json_builder_end_array(jb);
}

static void img_json_vmdk(JsonBuilder *jb, const struct img_info *i)
{
    if (i->v.grain_size) {
        img_json_int(jb, "cluster-size", (int64_t)i->v.grain_size);
    }
    json_builder_set_member_name(jb, "format-specific");
    json_builder_begin_object(jb);
    img_json_str(jb, "type", "vmdk");
    json_builder_set_member_name(jb, "data");
    json_builder_begin_object(jb);
    img_json_int(jb, "cid", i->v.cid);
    img_json_int(jb, "parent-cid", i->v.parent_cid);
    if (i->v.create_type) {
        img_json_str(jb, "create-type", i->v.create_type);
    }
    json_builder_set_member_name(jb, "extents");
    json_builder_begin_array(jb);
    for (char **f = i->v.extent_files; f && *f; f++) {
        json_builder_begin_object(jb);
        img_json_str(jb, "filename", *f);
        json_builder_end_object(jb);
    }
    json_builder_end_array(jb);
    json_builder_end_object(jb);
    json_builder_end_object(jb);
    if (i->v.parent_hint) {
        img_json_str(jb, "full-backing-filename", i->full_backing);
        img_json_str(jb, "backing-filename", i->v.parent_hint);
    }
}

static void img_json_info(JsonBuilder *jb, const struct img_info *i)
{
    json_builder_begin_object(jb);
    if (i->is_qcow2 && i->q.nb_snapshots) {
        img_json_snapshots(jb, &i->q);
    }
    img_json_int(jb, "virtual-size", (int64_t)i->size);
    img_json_str(jb, "filename", i->filename);
    if (i->is_qcow2) {
        img_json_int(jb, "cluster-size", (int64_t)i->q.cluster_size);
    }
    img_json_str(jb, "format", blk_format_name(i->fmt));
    img_json_int(jb, "actual-size", (int64_t)i->disk_size);
    if (i->is_qcow2) {
        json_builder_set_member_name(jb, "format-specific");
        json_builder_begin_object(jb);
        img_json_str(jb, "type", "qcow2");
        json_builder_set_member_name(jb, "data");
        json_builder_begin_object(jb);
        img_json_str(jb, "compat", i->q.version == 2 ? "0.10" : "1.1");
        img_json_str(jb, "compression-type", i->q.compression);
        img_json_int(jb, "refcount-bits", i->q.refcount_bits);
        if (i->q.version >= 3) {
            img_json_bool(jb, "lazy-refcounts", i->q.lazy_refcounts);
            img_json_bool(jb, "corrupt", i->q.corrupt);
            img_json_bool(jb, "extended-l2", false);
        }
        json_builder_end_object(jb);
        json_builder_end_object(jb);
        if (i->q.backing_file) {
            img_json_str(jb, "full-backing-filename", i->full_backing);
            img_json_str(jb, "backing-filename", i->q.backing_file);
            if (i->q.backing_format) {
                img_json_str(jb, "backing-filename-format",
                             i->q.backing_format);
            }
        }
    }
    if (i->is_vmdk) {
        img_json_vmdk(jb, i);
    }
    img_json_bool(jb, "dirty-flag", i->is_qcow2 && i->q.dirty);
    json_builder_end_object(jb);
}

static void img_json_print(JsonBuilder *jb)
{
    JsonGenerator *gen = json_generator_new();
    JsonNode *root = json_builder_get_root(jb);
    char *text;

    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 4);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
    g_free(text);
    json_node_unref(root);
    g_object_unref(gen);
}

/* Open the image that I's backing file names, as the driver would. */
static struct blk *img_open_backing(const struct img_info *i, GError **errp)
{
    enum blk_format f = BLK_FORMAT_PROBE;

    if (i->is_vmdk) {
        f = BLK_FORMAT_VMDK;
    } else if (i->q.backing_format &&
               !img_parse_format(i->q.backing_format, &f, errp)) {
        return NULL;
    }
    return img_open(i->full_backing, f, false, BLK_CACHE_WRITEBACK, errp);
}

int img_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'O' },
        { "backing-chain", no_argument, NULL, 'B' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    enum blk_format fmt = BLK_FORMAT_PROBE;
    bool json = false, chain = false;
    GError *err = NULL;
    JsonBuilder *jb = NULL;
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
            if (!img_parse_output("info", optarg, &json)) {
                return IMG_EXIT_ERROR;
            }
            break;
        case 'B':
            chain = true;
            break;
        case 'U':
            break;
        case ':':
            return img_usage_error("info", "option -%c needs an argument",
                                   optopt);
        default:
            return img_usage_error("info", "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        return img_usage_error("info", argc == optind ? "no image file given"
                                                      : "one image file only");
    }
    b = img_open(argv[optind], fmt, false, BLK_CACHE_WRITEBACK, &err);
    if (!b) {
        return img_fail(err);
    }
    if (json) {
        jb = json_builder_new();
        if (chain) {
            json_builder_begin_array(jb);
        }
    }
    for (unsigned depth = 0; b; depth++) {
        struct img_info i;
        struct blk *next = NULL;

        if (!img_info_collect(b, &i, &err)) {
            blk_close(b);
            ret = img_fail(err);
            break;
        }
        if (json) {
            img_json_info(jb, &i);
        } else {
            printf("%s", depth ? "\n" : "");
            img_print_human(&i);
        }
        if (chain && i.full_backing) {
            if (depth + 1 >= IMG_MAX_CHAIN) {
                img_error("%s: backing chain deeper than %d images", i.filename,
                          IMG_MAX_CHAIN);
                ret = IMG_EXIT_ERROR;
            } else {
                next = img_open_backing(&i, &err);
                if (!next) {
                    ret = img_fail(err);
                }
            }
        }
        img_info_free(&i);
        blk_close(b);
        b = next;
    }
    if (jb) {
        if (chain) {
            json_builder_end_array(jb);
        }
        if (ret == IMG_EXIT_OK) {
            img_json_print(jb);
        }
        g_object_unref(jb);
    }
    return ret;
}
