/*
 * test-img.c: hvmdm-img as its users run it: the built binary (found next to
 * the test binaries, ../../hvmdm-img) on images made at run time, with
 * qemu-img as the referee: images we create pass qemu-img info/check, our
 * check finds the leaks and corruptions made by hand in qemu-img's images
 * and repairs them so qemu-img check calls them clean, conversions compare
 * equal under qemu-img compare, resize and compare behave as qemu-img's, and
 * bad command lines give one error line and status 1.
 */
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-block-util.h"

#define KiB DM_KiB
#define MiB DM_MiB

/* ---- running the tool ---------------------------------------------------- */

struct run {
    int status;
    char *out, *err;
};

static char *img_binary(void)
{
    char *self = g_file_read_link("/proc/self/exe", NULL);
    char *dir = g_path_get_dirname(self);
    char *bin = g_build_filename(dir, "..", "..", "hvmdm-img", NULL);

    g_assert_true(g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE));
    g_free(self);
    g_free(dir);
    return bin;
}

/* Run ARGV (NULL-terminated; argv[0] "hvmdm-img" or another program). */
static void run_argv(const char *const *argv, struct run *r)
{
    GError *err = NULL;
    char **v = g_strdupv((char **)argv);
    int status = -1;

    if (strcmp(v[0], "hvmdm-img") == 0) {
        g_free(v[0]);
        v[0] = img_binary();
    }
    g_spawn_sync(NULL, v, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &r->out,
                 &r->err, &status, &err);
    g_assert_no_error(err);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    g_strfreev(v);
}

static void run_free(struct run *r)
{
    g_free(r->out);
    g_free(r->err);
}

#define RUN(r, ...)                                        \
    do {                                                   \
        const char *const argv_[] = { __VA_ARGS__, NULL }; \
        run_argv(argv_, (r));                              \
    } while (0)

/* Run and expect status ST. */
#define RUN_ST(st, ...)                                               \
    do {                                                              \
        struct run r_;                                                \
        RUN(&r_, __VA_ARGS__);                                        \
        if (r_.status != (st)) {                                      \
            g_test_message("stdout: %s\nstderr: %s", r_.out, r_.err); \
        }                                                             \
        g_assert_cmpint(r_.status, ==, (st));                         \
        run_free(&r_);                                                \
    } while (0)

static JsonObject *qemu_img_info(const char *img, JsonParser **parser)
{
    struct run r;
    GError *err = NULL;

    RUN(&r, "qemu-img", "info", "--output=json", img);
    g_assert_cmpint(r.status, ==, 0);
    *parser = json_parser_new();
    json_parser_load_from_data(*parser, r.out, -1, &err);
    g_assert_no_error(err);
    run_free(&r);
    return json_node_get_object(json_parser_get_root(*parser));
}

static void assert_same(const char *a, const char *fa, const char *b,
                        const char *fb)
{
    struct run r;

    RUN(&r, "qemu-img", "compare", "-f", fa, "-F", fb, a, b);
    if (r.status != 0) {
        g_test_message("qemu-img compare: %s%s", r.out, r.err);
    }
    g_assert_cmpint(r.status, ==, 0);
    run_free(&r);
}

static void qemu_io(const char *fmt, const char *img, const char *cmd)
{
    TB_RUN("qemu-io", "-f", fmt, "-c", cmd, img);
}

static uint64_t file_size(const char *p)
{
    struct stat st;
    g_assert_cmpint(stat(p, &st), ==, 0);
    return (uint64_t)st.st_size;
}

/* ---- create ---------------------------------------------------------------- */

static void test_img_create_qcow2_passes_qemu_img_check(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *v3 = tb_path(&d, "v3.qcow2"), *v2 = tb_path(&d, "v2.qcow2");
    JsonParser *p;
    JsonObject *o;

    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "qcow2", v3, "5G");
    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "qcow2", "-o",
           "compat=0.10,cluster_size=4k", v2, "100M");
    tb_assert_check_clean(v3);
    tb_assert_check_clean(v2);

    o = qemu_img_info(v3, &p);
    g_assert_cmpstr(json_object_get_string_member(o, "format"), ==, "qcow2");
    g_assert_cmpint(json_object_get_int_member(o, "virtual-size"), ==,
                    5 * DM_GiB);
    g_assert_cmpint(json_object_get_int_member(o, "cluster-size"), ==,
                    64 * KiB);
    g_object_unref(p);
    o = qemu_img_info(v2, &p);
    g_assert_cmpint(json_object_get_int_member(o, "virtual-size"), ==,
                    100 * MiB);
    g_assert_cmpint(json_object_get_int_member(o, "cluster-size"), ==, 4 * KiB);
    g_assert_cmpstr(
        json_object_get_string_member(
            json_object_get_object_member(
                json_object_get_object_member(o, "format-specific"), "data"),
            "compat"),
        ==, "0.10");
    g_object_unref(p);
    g_free(v3);
    g_free(v2);
    tb_dir_cleanup(&d);
}

/* What QEMU writes into our image reads back, and check stays clean. */
static void test_img_create_qcow2_usable_by_qemu_io(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = tb_path(&d, "a.qcow2"), *raw = tb_path(&d, "a.raw");

    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "qcow2", "-o",
           "cluster_size=512,refcount_bits=1", img, "4M");
    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "raw", raw, "4M");
    qemu_io("qcow2", img, "write -P 0x5a 100k 1M");
    qemu_io("raw", raw, "write -P 0x5a 100k 1M");
    tb_assert_check_clean(img);
    RUN_ST(0, "hvmdm-img", "check", img);
    assert_same(img, "qcow2", raw, "raw");
    g_free(img);
    g_free(raw);
    tb_dir_cleanup(&d);
}

static void test_img_create_raw_size_suffixes(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *a = tb_path(&d, "a.raw"), *b = tb_path(&d, "b.raw");
    char *c = tb_path(&d, "c.raw");

    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "raw", a, "1.5M");
    RUN_ST(0, "hvmdm-img", "create", "-q", b, "64k");
    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "raw", c, "1G");
    g_assert_cmpuint(file_size(a), ==, 1536 * KiB);
    g_assert_cmpuint(file_size(b), ==, 64 * KiB);
    g_assert_cmpuint(file_size(c), ==, DM_GiB);
    g_free(a);
    g_free(b);
    g_free(c);
    tb_dir_cleanup(&d);
}

static void test_img_create_backing_takes_size_from_backing(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *base = tb_path(&d, "base.raw"), *top = tb_path(&d, "top.qcow2");
    JsonParser *p;
    JsonObject *o;

    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "raw", base, "3M");
    qemu_io("raw", base, "write -P 0x11 0 64k");
    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "qcow2", "-b", "base.raw",
           "-F", "raw", top);
    tb_assert_check_clean(top);
    o = qemu_img_info(top, &p);
    g_assert_cmpint(json_object_get_int_member(o, "virtual-size"), ==, 3 * MiB);
    g_assert_cmpstr(json_object_get_string_member(o, "backing-filename"), ==,
                    "base.raw");
    g_assert_cmpstr(json_object_get_string_member(o, "backing-filename-format"),
                    ==, "raw");
    g_object_unref(p);
    assert_same(top, "qcow2", base, "raw");
    g_free(base);
    g_free(top);
    tb_dir_cleanup(&d);
}

static void test_img_create_preallocated_metadata_maps_all(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = tb_path(&d, "p.qcow2");
    struct run r;

    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "qcow2", "-o",
           "preallocation=metadata", img, "8M");
    tb_assert_check_clean(img);
    RUN(&r, "qemu-img", "map", "--output=json", img);
    g_assert_cmpint(r.status, ==, 0);
    /* One range of data, all of it mapped in the file. */
    g_assert_nonnull(strstr(r.out, "\"length\": 8388608"));
    g_assert_nonnull(strstr(r.out, "\"data\": true"));
    run_free(&r);
    g_free(img);
    tb_dir_cleanup(&d);
}

static void test_img_create_and_convert_vmdk(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *v = tb_path(&d, "a.vmdk"), *flat = tb_path(&d, "f.vmdk");
    char *q = tb_path(&d, "a.qcow2"), *out = tb_path(&d, "b.vmdk");
    JsonParser *p;
    JsonObject *o;
    struct run r;

    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "vmdk", v, "10M");
    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "vmdk", "-o",
           "subformat=monolithicFlat", flat, "1M");
    TB_RUN("qemu-img", "check", v);
    o = qemu_img_info(flat, &p);
    g_assert_cmpint(json_object_get_int_member(o, "virtual-size"), ==, MiB);
    g_assert_cmpstr(json_object_get_string_member(o, "format"), ==, "vmdk");
    g_object_unref(p);

    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", q, "10M");
    qemu_io("qcow2", q, "write -P 0x21 64k 1M");
    RUN_ST(0, "hvmdm-img", "convert", "-O", "vmdk", q, out);
    TB_RUN("qemu-img", "check", out);
    assert_same(out, "vmdk", q, "qcow2");
    RUN(&r, "hvmdm-img", "info", out);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "create type: monolithicSparse\n"));
    run_free(&r);
    RUN_ST(0, "hvmdm-img", "check", out);
    g_free(v);
    g_free(flat);
    g_free(q);
    g_free(out);
    tb_dir_cleanup(&d);
}

/* ---- info ------------------------------------------------------------------ */

static void test_img_info_json_lists_backing_and_snapshots(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *base = tb_path(&d, "b.raw"), *img = tb_path(&d, "a.qcow2");
    JsonParser *parser = json_parser_new();
    GError *err = NULL;
    JsonObject *o, *sn;
    struct run r;

    TB_RUN("qemu-img", "create", "-q", "-f", "raw", base, "1M");
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw",
           img, "2M");
    TB_RUN("qemu-img", "snapshot", "-c", "first", img);
    RUN(&r, "hvmdm-img", "info", "--output=json", img);
    g_assert_cmpint(r.status, ==, 0);
    json_parser_load_from_data(parser, r.out, -1, &err);
    g_assert_no_error(err);
    o = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(o, "format"), ==, "qcow2");
    g_assert_cmpint(json_object_get_int_member(o, "virtual-size"), ==, 2 * MiB);
    g_assert_cmpint(json_object_get_int_member(o, "cluster-size"), ==,
                    64 * KiB);
    g_assert_cmpstr(json_object_get_string_member(o, "backing-filename"), ==,
                    base);
    g_assert_false(json_object_get_boolean_member(o, "dirty-flag"));
    sn = json_array_get_object_element(
        json_object_get_array_member(o, "snapshots"), 0);
    g_assert_cmpstr(json_object_get_string_member(sn, "name"), ==, "first");
    g_assert_cmpstr(json_object_get_string_member(sn, "id"), ==, "1");
    run_free(&r);

    RUN(&r, "hvmdm-img", "info", img);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "virtual size: 2 MiB (2097152 bytes)\n"));
    g_assert_nonnull(strstr(r.out, "cluster_size: 65536\n"));
    g_assert_nonnull(strstr(r.out, "backing file format: raw\n"));
    g_assert_nonnull(strstr(r.out, "Snapshot list:\n"));
    g_assert_nonnull(strstr(r.out, "    corrupt: false\n"));
    run_free(&r);
    g_object_unref(parser);
    g_free(base);
    g_free(img);
    tb_dir_cleanup(&d);
}

/* ---- check ----------------------------------------------------------------- */

static uint64_t be64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return GUINT64_FROM_BE(v);
}

/* Set the 16-bit refcount of CLUSTER in the first refcount block of the
 * qcow2 image IMG, behind the driver's back. */
static void poke_refcount(const char *img, uint64_t cluster, uint16_t v)
{
    int fd = open(img, O_RDWR);
    uint8_t hdr[64], ent[8];
    uint64_t rt, rb;
    uint16_t be = GUINT16_TO_BE(v);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, hdr, sizeof(hdr), 0), ==, sizeof(hdr));
    rt = be64_at(hdr + 48);
    g_assert_cmpint(pread(fd, ent, 8, (off_t)rt), ==, 8);
    rb = be64_at(ent);
    g_assert_cmpuint(rb, !=, 0);
    g_assert_cmpint(pwrite(fd, &be, 2, (off_t)(rb + cluster * 2)), ==, 2);
    close(fd);
}

static char *make_qemu_image(struct tb_dir *d, const char *name)
{
    char *img = tb_path(d, name);

    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", img, "16M");
    qemu_io("qcow2", img, "write -P 0x42 0 192k");
    qemu_io("qcow2", img, "write -P 0x43 8M 64k");
    return img;
}

static void test_img_check_clean_qemu_image(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = make_qemu_image(&d, "c.qcow2");
    struct run r;

    TB_RUN("qemu-img", "snapshot", "-c", "s1", img);
    qemu_io("qcow2", img, "write -P 0x44 64k 64k"); /* COW from snapshot */
    RUN(&r, "hvmdm-img", "check", img);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "No errors were found on the image."));
    run_free(&r);
    g_free(img);
    tb_dir_cleanup(&d);
}

static void test_img_check_finds_and_repairs_leaks(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = make_qemu_image(&d, "l.qcow2");
    uint64_t clusters = file_size(img) / (64 * KiB);
    struct run r;

    /* Two clusters past the end of the used ones, claimed but unused. */
    g_assert_cmpint(truncate(img, (off_t)((clusters + 2) * 64 * KiB)), ==, 0);
    poke_refcount(img, clusters, 1);
    poke_refcount(img, clusters + 1, 1);
    g_assert_cmpint(tb_qemu_img_check(img, NULL), ==, 3);

    RUN(&r, "hvmdm-img", "check", img);
    g_assert_cmpint(r.status, ==, 3);
    g_assert_nonnull(strstr(r.out, "2 leaked clusters were found"));
    g_assert_nonnull(strstr(r.err, "Leaked cluster"));
    run_free(&r);

    RUN(&r, "hvmdm-img", "check", "-r", "leaks", img);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "    2 leaked clusters\n"));
    g_assert_nonnull(strstr(r.out, "No errors were found on the image."));
    run_free(&r);
    tb_assert_check_clean(img);
    g_free(img);
    tb_dir_cleanup(&d);
}

static void test_img_check_finds_and_repairs_low_refcount(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = make_qemu_image(&d, "k.qcow2"), *copy = tb_path(&d, "k.raw");
    struct run r;

    TB_RUN("qemu-img", "convert", "-O", "raw", img, copy);
    /* Cluster 0 is the header: nobody may think it free. */
    poke_refcount(img, 0, 0);
    g_assert_cmpint(tb_qemu_img_check(img, NULL), ==, 2);
    RUN(&r, "hvmdm-img", "check", img);
    g_assert_cmpint(r.status, ==, 2);
    g_assert_nonnull(strstr(r.out, "1 errors were found on the image."));
    run_free(&r);

    /* -r leaks leaves corruptions alone. */
    RUN_ST(2, "hvmdm-img", "check", "-r", "leaks", img);
    RUN_ST(0, "hvmdm-img", "check", "-r", "all", img);
    tb_assert_check_clean(img);
    assert_same(img, "qcow2", copy, "raw");
    g_free(img);
    g_free(copy);
    tb_dir_cleanup(&d);
}

/* A refcount table entry wiped: -r all builds a new table. */
static void test_img_check_rebuilds_lost_refcount_block(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = make_qemu_image(&d, "z.qcow2"), *copy = tb_path(&d, "z.raw");
    uint8_t hdr[64], zero[8] = { 0 };
    int fd;

    TB_RUN("qemu-img", "convert", "-O", "raw", img, copy);
    fd = open(img, O_RDWR);
    g_assert_cmpint(pread(fd, hdr, sizeof(hdr), 0), ==, sizeof(hdr));
    g_assert_cmpint(pwrite(fd, zero, 8, (off_t)be64_at(hdr + 48)), ==, 8);
    close(fd);
    g_assert_cmpint(tb_qemu_img_check(img, NULL), ==, 2);
    RUN_ST(2, "hvmdm-img", "check", img);
    RUN_ST(0, "hvmdm-img", "check", "-r", "all", img);
    tb_assert_check_clean(img);
    assert_same(img, "qcow2", copy, "raw");
    g_free(img);
    g_free(copy);
    tb_dir_cleanup(&d);
}

static void test_img_check_raw_is_unsupported(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *raw = tb_path(&d, "r.raw");
    struct run r;

    TB_RUN("qemu-img", "create", "-q", "-f", "raw", raw, "1M");
    RUN(&r, "hvmdm-img", "check", "-f", "raw", raw);
    g_assert_cmpint(r.status, ==, 63);
    g_assert_nonnull(strstr(r.err, "do not support checks"));
    run_free(&r);
    g_free(raw);
    tb_dir_cleanup(&d);
}

/* ---- convert --------------------------------------------------------------- */

static void test_img_convert_qcow2_to_sparse_raw(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = tb_path(&d, "s.qcow2"), *out = tb_path(&d, "s.raw");
    struct stat st;

    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", img, "64M");
    qemu_io("qcow2", img, "write -P 0x61 0 128k");
    qemu_io("qcow2", img, "write -P 0x62 40M 64k");
    qemu_io("qcow2", img, "write -P 0 20M 1M"); /* allocated, all zeros */
    qemu_io("qcow2", img, "write -z 30M 1M");
    RUN_ST(0, "hvmdm-img", "convert", "-f", "qcow2", "-O", "raw", img, out);
    assert_same(img, "qcow2", out, "raw");
    g_assert_cmpuint(file_size(out), ==, 64 * MiB);
    g_assert_cmpint(stat(out, &st), ==, 0);
    /* 192 KiB of data: zeros and unallocated ranges were not written. */
    g_assert_cmpuint((uint64_t)st.st_blocks * 512, <, MiB);
    g_free(img);
    g_free(out);
    tb_dir_cleanup(&d);
}

static void test_img_convert_raw_to_qcow2(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *raw = tb_path(&d, "r.raw"), *out = tb_path(&d, "r.qcow2");
    JsonParser *p;
    JsonObject *o;
    uint8_t *buf = g_malloc(3 * MiB);

    tb_fill(buf, 3 * MiB, 7);
    memset(buf + MiB, 0, MiB);
    tb_write_file(raw, buf, 3 * MiB);
    RUN_ST(0, "hvmdm-img", "convert", "-p", "-O", "qcow2", "-o",
           "cluster_size=16k", "-f", "raw", raw, out);
    tb_assert_check_clean(out);
    assert_same(out, "qcow2", raw, "raw");
    o = qemu_img_info(out, &p);
    g_assert_cmpint(json_object_get_int_member(o, "cluster-size"), ==,
                    16 * KiB);
    /* The zero MiB in the middle takes no clusters. */
    g_assert_cmpint(json_object_get_int_member(o, "actual-size"), <,
                    2 * MiB + 512 * KiB);
    g_object_unref(p);
    g_free(buf);
    g_free(raw);
    g_free(out);
    tb_dir_cleanup(&d);
}

static void test_img_convert_flattens_backing_chain(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *base = tb_path(&d, "base.qcow2"), *mid = tb_path(&d, "mid.qcow2");
    char *top = tb_path(&d, "top.qcow2"), *out = tb_path(&d, "flat.qcow2");
    JsonParser *p;
    JsonObject *o;

    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", base, "4M");
    qemu_io("qcow2", base, "write -P 0x01 0 4M");
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2",
           mid, "4M");
    qemu_io("qcow2", mid, "write -P 0x02 1M 100k");
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-b", mid, "-F", "qcow2",
           top, "6M");
    qemu_io("qcow2", top, "write -P 0x03 1050k 1M");
    qemu_io("qcow2", top, "write -z 3M 64k");
    RUN_ST(0, "hvmdm-img", "convert", "-W", "-m", "4", "-O", "qcow2", top, out);
    tb_assert_check_clean(out);
    assert_same(out, "qcow2", top, "qcow2");
    o = qemu_img_info(out, &p);
    g_assert_false(json_object_has_member(o, "backing-filename"));
    g_assert_cmpint(json_object_get_int_member(o, "virtual-size"), ==, 6 * MiB);
    g_object_unref(p);
    g_free(base);
    g_free(mid);
    g_free(top);
    g_free(out);
    tb_dir_cleanup(&d);
}

/* -n writes into an existing target, zeros included. */
static void test_img_convert_into_existing_target(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = tb_path(&d, "e.qcow2"), *out = tb_path(&d, "e.raw");
    uint8_t *junk = g_malloc(2 * MiB);

    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", img, "2M");
    qemu_io("qcow2", img, "write -P 0x77 512k 4k");
    memset(junk, 0xee, 2 * MiB);
    tb_write_file(out, junk, 2 * MiB);
    RUN_ST(0, "hvmdm-img", "convert", "-n", "-O", "raw", img, out);
    assert_same(img, "qcow2", out, "raw");
    g_free(junk);
    g_free(img);
    g_free(out);
    tb_dir_cleanup(&d);
}

/* ---- resize ---------------------------------------------------------------- */

static void test_img_resize_qcow2_grows_and_moves_l1(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = tb_path(&d, "g.qcow2"), *raw = tb_path(&d, "g.raw");
    JsonParser *p;
    JsonObject *o;

    /* 512-byte clusters: an L2 table maps 32 KiB, so 256 MiB needs a 64 KiB
     * L1 table where 1 MiB needed 256 bytes. */
    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "qcow2", "-o",
           "cluster_size=512", img, "1M");
    qemu_io("qcow2", img, "write -P 0x33 0 1M");
    RUN_ST(0, "hvmdm-img", "resize", img, "+255M");
    tb_assert_check_clean(img);
    o = qemu_img_info(img, &p);
    g_assert_cmpint(json_object_get_int_member(o, "virtual-size"), ==,
                    256 * MiB);
    g_object_unref(p);
    qemu_io("qcow2", img, "write -P 0x34 200M 64k");
    tb_assert_check_clean(img);
    TB_RUN("qemu-img", "create", "-q", "-f", "raw", raw, "256M");
    qemu_io("raw", raw, "write -P 0x33 0 1M");
    qemu_io("raw", raw, "write -P 0x34 200M 64k");
    assert_same(img, "qcow2", raw, "raw");
    g_free(img);
    g_free(raw);
    tb_dir_cleanup(&d);
}

static void test_img_resize_qcow2_in_place_and_refuses_shrink(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *img = tb_path(&d, "q.qcow2");
    JsonParser *p;
    JsonObject *o;

    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", img, "100M");
    RUN_ST(0, "hvmdm-img", "resize", img, "2G");
    o = qemu_img_info(img, &p);
    g_assert_cmpint(json_object_get_int_member(o, "virtual-size"), ==,
                    2 * DM_GiB);
    g_object_unref(p);
    tb_assert_check_clean(img);
    RUN_ST(1, "hvmdm-img", "resize", "--shrink", img, "1G");
    g_free(img);
    tb_dir_cleanup(&d);
}

static void test_img_resize_raw_shrink_needs_flag(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *raw = tb_path(&d, "s.raw");

    RUN_ST(0, "hvmdm-img", "create", "-q", "-f", "raw", raw, "2M");
    RUN_ST(0, "hvmdm-img", "resize", "-f", "raw", raw, "+1M");
    g_assert_cmpuint(file_size(raw), ==, 3 * MiB);
    RUN_ST(1, "hvmdm-img", "resize", "-f", "raw", raw, "-1M");
    g_assert_cmpuint(file_size(raw), ==, 3 * MiB);
    RUN_ST(0, "hvmdm-img", "resize", "-f", "raw", "--shrink", raw, "-1M");
    g_assert_cmpuint(file_size(raw), ==, 2 * MiB);
    g_free(raw);
    tb_dir_cleanup(&d);
}

/* ---- compare and map ------------------------------------------------------- */

static void test_img_compare_exit_codes(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *a = tb_path(&d, "a.raw"), *b = tb_path(&d, "b.qcow2");
    char *big = tb_path(&d, "big.raw"), *none = tb_path(&d, "none");
    struct run r;

    TB_RUN("qemu-img", "create", "-q", "-f", "raw", a, "1M");
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", b, "1M");
    TB_RUN("qemu-img", "create", "-q", "-f", "raw", big, "2M");
    RUN(&r, "hvmdm-img", "compare", a, b);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpstr(r.out, ==, "Images are identical.\n");
    run_free(&r);

    qemu_io("qcow2", b, "write -P 1 1000 1");
    RUN(&r, "hvmdm-img", "compare", a, b);
    g_assert_cmpint(r.status, ==, 1);
    g_assert_cmpstr(r.out, ==, "Content mismatch at offset 512!\n");
    run_free(&r);

    RUN(&r, "hvmdm-img", "compare", a, big);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpstr(r.out, ==,
                    "Warning: Image size mismatch!\nImages are identical.\n");
    run_free(&r);
    RUN_ST(1, "hvmdm-img", "compare", "-s", a, big);
    qemu_io("raw", big, "write -P 9 1536k 4k");
    RUN(&r, "hvmdm-img", "compare", a, big);
    g_assert_cmpint(r.status, ==, 1);
    g_assert_nonnull(strstr(r.out, "Content mismatch at offset 1572864!\n"));
    run_free(&r);
    RUN_ST(2, "hvmdm-img", "compare", a, none);
    g_free(a);
    g_free(b);
    g_free(big);
    g_free(none);
    tb_dir_cleanup(&d);
}

static void test_img_map_matches_qemu_img(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *base = tb_path(&d, "b.raw"), *img = tb_path(&d, "a.qcow2");
    struct run ours, theirs;

    TB_RUN("qemu-img", "create", "-q", "-f", "raw", base, "4M");
    qemu_io("raw", base, "write -P 1 0 64k");
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw",
           img, "8M");
    qemu_io("qcow2", img, "write -P 2 1M 64k");
    qemu_io("qcow2", img, "write -z 2M 64k");
    for (int json = 0; json < 2; json++) {
        const char *o = json ? "--output=json" : "--output=human";
        RUN(&ours, "hvmdm-img", "map", o, img);
        RUN(&theirs, "qemu-img", "map", o, img);
        g_assert_cmpint(ours.status, ==, 0);
        g_assert_cmpstr(ours.out, ==, theirs.out);
        run_free(&ours);
        run_free(&theirs);
    }
    g_free(base);
    g_free(img);
    tb_dir_cleanup(&d);
}

/* ---- bad command lines -------------------------------------------------- */

/* Status 1 and exactly one line on stderr, "hvmdm-img: ...". */
static void assert_one_error_line(const char *const *argv, const char *what)
{
    struct run r;

    run_argv(argv, &r);
    g_test_message("%s -> %d: %s", argv[1], r.status, r.err);
    g_assert_cmpint(r.status, ==, 1);
    g_assert_true(g_str_has_prefix(r.err, "hvmdm-img: "));
    g_assert_nonnull(strstr(r.err, what));
    g_assert_true(g_str_has_suffix(r.err, "\n"));
    g_assert_true(strchr(r.err, '\n') == r.err + strlen(r.err) - 1);
    run_free(&r);
}

static void test_img_bad_inputs_give_one_line(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = tb_path(&d, "x.qcow2"), *missing = tb_path(&d, "missing.qcow2");
    const char *bad_size[] = { "hvmdm-img", "create", "-f", "qcow2",
                               p,           "12Q",    NULL };
    const char *bad_fmt[] = { "hvmdm-img", "create", "-f", "qcow3",
                              p,           "1M",     NULL };
    const char *no_size[] = { "hvmdm-img", "create", "-f", "qcow2", p, NULL };
    const char *bad_opt[] = { "hvmdm-img",  "create", "-f", "qcow2", "-o",
                              "color=blue", p,        "1M", NULL };
    const char *bad_cluster[] = { "hvmdm-img", "create", "-f",
                                  "qcow2",     "-o",     "cluster_size=3000",
                                  p,           "1M",     NULL };
    const char *no_file[] = { "hvmdm-img", "info", missing, NULL };
    const char *no_cmd[] = { "hvmdm-img", "frobnicate", NULL };
    const char *bad_flag[] = { "hvmdm-img", "info", "--bogus", p, NULL };
    const char *bad_conv[] = { "hvmdm-img", "convert", "-O", "qcow2",
                               missing,     p,         NULL };
    const char *bad_resize[] = { "hvmdm-img", "resize", missing, "+1M", NULL };

    assert_one_error_line(bad_size, "12Q");
    assert_one_error_line(bad_fmt, "qcow3");
    assert_one_error_line(no_size, "size");
    assert_one_error_line(bad_opt, "color");
    assert_one_error_line(bad_cluster, "cluster_size");
    assert_one_error_line(no_file, "missing.qcow2");
    assert_one_error_line(no_cmd, "frobnicate");
    assert_one_error_line(bad_flag, "--bogus");
    assert_one_error_line(bad_conv, "missing.qcow2");
    assert_one_error_line(bad_resize, "missing.qcow2");
    g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
    g_free(p);
    g_free(missing);
    tb_dir_cleanup(&d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/img/create/qcow2-check",
                    test_img_create_qcow2_passes_qemu_img_check);
    g_test_add_func("/img/create/qcow2-qemu-io",
                    test_img_create_qcow2_usable_by_qemu_io);
    g_test_add_func("/img/create/raw-suffixes",
                    test_img_create_raw_size_suffixes);
    g_test_add_func("/img/create/backing-size",
                    test_img_create_backing_takes_size_from_backing);
    g_test_add_func("/img/create/prealloc-metadata",
                    test_img_create_preallocated_metadata_maps_all);
    g_test_add_func("/img/create/vmdk", test_img_create_and_convert_vmdk);
    g_test_add_func("/img/info/json",
                    test_img_info_json_lists_backing_and_snapshots);
    g_test_add_func("/img/check/clean", test_img_check_clean_qemu_image);
    g_test_add_func("/img/check/leaks", test_img_check_finds_and_repairs_leaks);
    g_test_add_func("/img/check/low-refcount",
                    test_img_check_finds_and_repairs_low_refcount);
    g_test_add_func("/img/check/rebuild",
                    test_img_check_rebuilds_lost_refcount_block);
    g_test_add_func("/img/check/raw", test_img_check_raw_is_unsupported);
    g_test_add_func("/img/convert/qcow2-to-raw",
                    test_img_convert_qcow2_to_sparse_raw);
    g_test_add_func("/img/convert/raw-to-qcow2", test_img_convert_raw_to_qcow2);
    g_test_add_func("/img/convert/flatten",
                    test_img_convert_flattens_backing_chain);
    g_test_add_func("/img/convert/existing-target",
                    test_img_convert_into_existing_target);
    g_test_add_func("/img/resize/qcow2-move-l1",
                    test_img_resize_qcow2_grows_and_moves_l1);
    g_test_add_func("/img/resize/qcow2-in-place",
                    test_img_resize_qcow2_in_place_and_refuses_shrink);
    g_test_add_func("/img/resize/raw-shrink",
                    test_img_resize_raw_shrink_needs_flag);
    g_test_add_func("/img/compare/exit-codes", test_img_compare_exit_codes);
    g_test_add_func("/img/map/like-qemu-img", test_img_map_matches_qemu_img);
    g_test_add_func("/img/errors/one-line", test_img_bad_inputs_give_one_line);
    return g_test_run();
}
