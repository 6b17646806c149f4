/*
 * test-vmdk.c: VMDK images against qemu-img and qemu-io with raw oracles:
 * reading every subformat QEMU writes (monolithicSparse/Flat,
 * twoGbMaxExtentSparse/Flat, streamOptimized) and a VMware-style stream with
 * its grain directory in the footer; writes that qemu-img check accepts and
 * qemu-img compare finds identical; parents named by parentFileNameHint;
 * images we create; hostile headers and descriptors refused with one line
 * naming the file and the field.
 */
#include <fcntl.h>
#include <unistd.h>
#ifdef CONFIG_ZLIB
#include <zlib.h>
#endif

#include "hvmdm/log.h"
#include "test-block-util.h"

#define MiB DM_MiB
#define KiB DM_KiB
#define GiB DM_GiB

static char *create(struct tb_dir *d, const char *name, const char *subfmt,
                    const char *size)
{
    char *p = tb_path(d, name);
    char *o = g_strdup_printf("subformat=%s", subfmt);
    TB_RUN("qemu-img", "create", "-q", "-f", "vmdk", "-o", o, p, size);
    g_free(o);
    return p;
}

static void qemu_io(const char *img, const char *cmd)
{
    TB_RUN("qemu-io", "-f", "vmdk", "-c", cmd, img);
}

static void assert_vmdk_check_clean(const char *img)
{
    TB_RUN("qemu-img", "check", "-q", "-f", "vmdk", img);
}

static void patch_le(const char *path, uint64_t off, uint64_t v, int size)
{
    uint8_t b[8];
    int fd = open(path, O_WRONLY);

    for (int i = 0; i < size; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, b, (size_t)size, (off_t)off), ==, size);
    close(fd);
}

static uint64_t read_le(const char *path, uint64_t off, int size)
{
    uint8_t b[8] = { 0 };
    uint64_t v = 0;
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, b, (size_t)size, (off_t)off), ==, size);
    close(fd);
    for (int i = size - 1; i >= 0; i--) {
        v = v << 8 | b[i];
    }
    return v;
}

/* Header offsets (VDF 1.1 SparseExtentHeader) */
#define H_VERSION 4
#define H_FLAGS 8
#define H_CAPACITY 12
#define H_GRAIN 20
#define H_GTES 44
#define H_RGD 48
#define H_GD 56

/* Byte offset of the grain table entry for grain G of a sparse file. */
static uint64_t gte_offset(const char *p, uint64_t gd_field, uint64_t g)
{
    uint64_t gd = read_le(p, gd_field, 8) * 512;
    uint64_t gt = read_le(p, gd + (g / 512) * 4, 4) * 512;
    return gt + (g % 512) * 4;
}

static void assert_read(struct blk *b, uint64_t off, const uint8_t *want,
                        size_t len)
{
    uint8_t *got = g_malloc(len);

    memset(got, 0x5a, len);
    g_assert_cmpint(blk_pread(b, off, got, len), ==, 0);
    g_assert_cmpmem(got, len, want, len);
    g_free(got);
}

static char *open_error(const char *p)
{
    GError *err = NULL;
    struct blk_opts o = { .format = BLK_FORMAT_VMDK, .read_only = true };
    struct blk *b = blk_open(p, &o, &err);
    char *msg;

    g_assert_null(b);
    g_assert_nonnull(err);
    g_test_message("%s", err->message);
    g_assert_null(strchr(err->message, '\n'));
    msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

/* Opening P fails with one line naming FILE and FIELD. */
static void assert_refused(const char *p, const char *file, const char *field)
{
    char *msg = open_error(p);

    g_assert_nonnull(strstr(msg, file));
    g_assert_nonnull(strstr(msg, field));
    g_free(msg);
}

/* ---- reading what QEMU wrote --------------------------------------------- */

/* Patterns at the start, across a grain boundary and at the end of a 4 MiB
 * disk, in the image made with SUBFMT. */
static void reads_subformat(const char *subfmt)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "a.vmdk", subfmt, "4M");
    uint8_t *want = g_malloc0(4 * MiB);
    struct blk *b;

    qemu_io(p, "write -P 0xab 0 4k");
    qemu_io(p, "write -P 0xcd 60k 100k"); /* straddles 64 KiB grains */
    qemu_io(p, "write -P 0xef 4092k 4k"); /* last sector */
    memset(want, 0xab, 4 * KiB);
    memset(want + 60 * KiB, 0xcd, 100 * KiB);
    memset(want + 4092 * KiB, 0xef, 4 * KiB);

    b = tb_open(p, BLK_FORMAT_VMDK, true);
    g_assert_cmpuint(blk_size(b), ==, 4 * MiB);
    assert_read(b, 0, want, 4 * MiB);
    assert_read(b, 61 * KiB + 17, want + 61 * KiB + 17, 12345);
    blk_close(b);
    g_free(want);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_vmdk_reads_monolithic_sparse(void)
{
    reads_subformat("monolithicSparse");
}

static void test_vmdk_reads_monolithic_flat(void)
{
    reads_subformat("monolithicFlat");
}

/* A 5 GiB disk in 2 GiB extents: data on both sides of each boundary. */
static void reads_two_gb(const char *subfmt)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "t.vmdk", subfmt, "5G");
    uint8_t *want = g_malloc(256 * KiB);
    struct blk *b;

    qemu_io(p, "write -P 0x11 2097088k 128k"); /* 2 GiB - 64 KiB */
    qemu_io(p, "write -P 0x22 4194300k 8k");   /* 4 GiB - 4 KiB */
    b = tb_open(p, BLK_FORMAT_PROBE, true);
    g_assert_cmpint(blk_get_format(b), ==, BLK_FORMAT_VMDK);
    g_assert_cmpuint(blk_size(b), ==, 5 * GiB);

    memset(want, 0, 256 * KiB);
    memset(want + 64 * KiB, 0x11, 128 * KiB);
    assert_read(b, 2 * GiB - 128 * KiB, want, 256 * KiB);
    memset(want, 0, 256 * KiB);
    memset(want + 124 * KiB, 0x22, 8 * KiB);
    assert_read(b, 4 * GiB - 128 * KiB, want, 256 * KiB);
    memset(want, 0, 256 * KiB);
    assert_read(b, 5 * GiB - 256 * KiB, want, 256 * KiB);
    blk_close(b);
    g_free(want);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_vmdk_reads_two_gb_sparse(void)
{
    reads_two_gb("twoGbMaxExtentSparse");
}

static void test_vmdk_reads_two_gb_flat(void)
{
    reads_two_gb("twoGbMaxExtentFlat");
}

/* qemu-img convert to streamOptimized: deflated grains with markers. */
static void test_vmdk_reads_stream_optimized(void)
{
#ifdef CONFIG_ZLIB
    struct tb_dir d;
    tb_dir_init(&d);
    char *raw = tb_path(&d, "src.raw"), *img = tb_path(&d, "s.vmdk");
    size_t len = 3 * MiB + 5 * KiB; /* a partial last grain */
    uint8_t *want = g_malloc0(len);
    struct blk *b;
    GError *err = NULL;
    struct blk_opts rw = { .format = BLK_FORMAT_VMDK };

    for (size_t i = 0; i < MiB; i++) {
        want[i] = (uint8_t) "hvmdm vmdk stream test "[i % 23];
    }
    tb_fill(want + MiB, 300 * KiB, 7); /* incompressible */
    memset(want + 3 * MiB, 0x42, 5 * KiB);
    tb_write_file(raw, want, len);
    TB_RUN("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
           "subformat=streamOptimized", raw, img);

    b = tb_open(img, BLK_FORMAT_VMDK, true);
    g_assert_cmpuint(blk_size(b), ==, len);
    assert_read(b, 0, want, len);
    assert_read(b, 12345, want + 12345, 777);
    blk_close(b);
    /* writing compressed grains is not supported: refused at open */
    g_assert_null(blk_open(img, &rw, &err));
    g_assert_nonnull(strstr(err->message, "read-only"));
    g_error_free(err);
    g_free(want);
    g_free(raw);
    g_free(img);
    tb_dir_cleanup(&d);
#else
    g_test_skip("built without zlib");
#endif
}

#ifdef CONFIG_ZLIB
static void put_le(uint8_t *p, uint64_t v, int size)
{
    for (int i = 0; i < size; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void stream_header(uint8_t *h, uint64_t capacity, uint64_t gd)
{
    memset(h, 0, 512);
    memcpy(h, "KDMV", 4);
    put_le(h + H_VERSION, 3, 4);
    put_le(h + H_FLAGS, 0x30001, 4); /* NL test, compressed, markers */
    put_le(h + H_CAPACITY, capacity, 8);
    put_le(h + H_GRAIN, 128, 8);
    put_le(h + 28, 1, 8); /* descriptorOffset */
    put_le(h + 36, 1, 8); /* descriptorSize */
    put_le(h + H_GTES, 512, 4);
    put_le(h + H_GD, gd, 8);
    put_le(h + 64, 128, 8); /* overHead */
    memcpy(h + 73, "\n \r\n", 4);
    put_le(h + 77, 1, 2); /* deflate */
}

/* A stream as VMware writes it: grains, then the grain table and the grain
 * directory behind their markers, the real header in the footer. Grains
 * GRAINS[i] of 64 KiB hold byte value i + 1. */
static uint8_t *build_vmware_stream(uint64_t capacity, const unsigned *grains,
                                    unsigned n, size_t *out_len)
{
    GByteArray *f = g_byte_array_new();
    uint8_t sec[512], *data = g_malloc(64 * KiB), *z = g_malloc(128 * KiB);
    uint32_t gt[512] = { 0 }, gd[1];
    uint64_t gt_sector, gd_sector;

    stream_header(sec, capacity, 0xffffffffffffffffull);
    g_byte_array_append(f, sec, 512);
    memset(sec, 0, 512);
    strcpy((char *)sec, "# Disk DescriptorFile\nversion=1\nCID=12345678\n"
                        "parentCID=ffffffff\ncreateType=\"streamOptimized\"\n"
                        "RW 4096 SPARSE \"s.vmdk\"\n");
    g_byte_array_append(f, sec, 512);
    g_byte_array_set_size(f, 128 * 512);
    memset(f->data + 1024, 0, f->len - 1024);
    for (unsigned i = 0; i < n; i++) {
        uLongf zlen = 128 * KiB;
        size_t at = f->len;
        memset(data, (int)i + 1, 64 * KiB);
        g_assert_cmpint(compress2(z, &zlen, data, 64 * KiB, 9), ==, Z_OK);
        gt[grains[i]] = (uint32_t)(at / 512);
        g_byte_array_set_size(f, (guint)(at + dm_align_up(12 + zlen, 512)));
        memset(f->data + at, 0, f->len - at);
        put_le(f->data + at, grains[i] * 128ull, 8);
        put_le(f->data + at + 8, zlen, 4);
        memcpy(f->data + at + 12, z, zlen);
    }
    /* GT marker + GT, GD marker + GD, footer marker + footer, EOS */
    memset(sec, 0, 512);
    put_le(sec, 4, 8);
    put_le(sec + 12, 1, 4);
    g_byte_array_append(f, sec, 512);
    gt_sector = f->len / 512;
    for (unsigned i = 0; i < 512; i++) {
        gt[i] = GUINT32_TO_LE(gt[i]);
    }
    g_byte_array_append(f, (uint8_t *)gt, sizeof(gt));
    put_le(sec, 1, 8);
    put_le(sec + 12, 2, 4);
    g_byte_array_append(f, sec, 512);
    gd_sector = f->len / 512;
    memset(sec, 0, 512);
    gd[0] = GUINT32_TO_LE((uint32_t)gt_sector);
    memcpy(sec, gd, 4);
    g_byte_array_append(f, sec, 512);
    memset(sec, 0, 512);
    put_le(sec, 1, 8);
    put_le(sec + 12, 3, 4);
    g_byte_array_append(f, sec, 512);
    stream_header(sec, capacity, gd_sector);
    g_byte_array_append(f, sec, 512);
    memset(sec, 0, 512);
    g_byte_array_append(f, sec, 512);
    g_free(data);
    g_free(z);
    *out_len = f->len;
    return g_byte_array_free(f, false);
}
#endif

static void test_vmdk_reads_stream_with_footer(void)
{
#ifdef CONFIG_ZLIB
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = tb_path(&d, "s.vmdk");
    const unsigned grains[] = { 0, 5, 31 };
    uint8_t *want = g_malloc0(2 * MiB), *img;
    size_t len;
    struct blk *b;

    img = build_vmware_stream(4096, grains, 3, &len);
    tb_write_file(p, img, len);
    for (unsigned i = 0; i < 3; i++) {
        memset(want + grains[i] * 64 * KiB, (int)i + 1, 64 * KiB);
    }
    b = tb_open(p, BLK_FORMAT_PROBE, true);
    g_assert_cmpuint(blk_size(b), ==, 2 * MiB);
    assert_read(b, 0, want, 2 * MiB);
    blk_close(b);
    /* qemu-img agrees on the contents */
    {
        char *raw = tb_path(&d, "want.raw");
        tb_write_file(raw, want, 2 * MiB);
        tb_assert_same_as_raw(p, raw);
        g_free(raw);
    }
    /* a grain marker naming the wrong LBA fails the read, not the process */
    patch_le(p, 128 * 512ull, 999, 8);
    b = tb_open(p, BLK_FORMAT_VMDK, true);
    g_assert_cmpint(blk_pread(b, 0, want, 512), ==, -EIO);
    blk_close(b);
    g_free(img);
    g_free(want);
    g_free(p);
    tb_dir_cleanup(&d);
#else
    g_test_skip("built without zlib");
#endif
}

/* Version 2 with the zeroed-grain flag: GTE 1 reads zeros. */
static void test_vmdk_zeroed_grain_gte_reads_zeros(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "z.vmdk", "monolithicSparse", "1M");
    uint8_t zero[4096] = { 0 };
    struct blk *b;

    qemu_io(p, "write -P 0x77 64k 64k");
    patch_le(p, H_VERSION, 2, 4);
    patch_le(p, H_FLAGS, read_le(p, H_FLAGS, 4) | 4, 4);
    patch_le(p, gte_offset(p, H_GD, 1), 1, 4);
    b = tb_open(p, BLK_FORMAT_VMDK, true);
    assert_read(b, 64 * KiB, zero, sizeof(zero));
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* ---- writing ------------------------------------------------------------- */

static void write_workload(struct blk *b, uint8_t *oracle, uint64_t size,
                           uint32_t seed, int count)
{
    GRand *r = g_rand_new_with_seed(seed);
    uint8_t *buf = g_malloc(200 * KiB);

    for (int i = 0; i < count; i++) {
        uint64_t len = (uint64_t)g_rand_int_range(r, 1, 200 * KiB);
        uint64_t off = (uint64_t)g_rand_int_range(r, 0, (gint32)(size - len));
        if (i % 3 == 0) {
            off &= ~511ull;
            len = MAX(len & ~511ull, 512u);
        }
        tb_fill(buf, len, seed * 1000 + (uint32_t)i);
        memcpy(oracle + off, buf, len);
        g_assert_cmpint(blk_pwrite(b, off, buf, len), ==, 0);
    }
    g_free(buf);
    g_rand_free(r);
}

/* Random writes through hvmdm, then qemu-img check and compare. */
static void writes_pass_check(const char *subfmt, bool ours)
{
    struct tb_dir d;
    tb_dir_init(&d);
    const uint64_t size = 6 * MiB + 3 * KiB;
    char *p, *raw = tb_path(&d, "oracle.raw");
    uint8_t *oracle = g_malloc0(size);
    struct blk *b;

    if (ours) {
        GError *err = NULL;
        p = tb_path(&d, "w.vmdk");
        g_assert_true(vmdk_create(p, size, subfmt, &err));
        g_assert_no_error(err);
    } else {
        p = create(&d, "w.vmdk", subfmt, "6147k");
    }
    b = tb_open(p, BLK_FORMAT_VMDK, false);
    g_assert_cmpuint(blk_size(b), ==, size);
    write_workload(b, oracle, size, 3, 40);
    assert_read(b, 0, oracle, size);
    g_assert_cmpint(blk_flush_sync(b), ==, 0);
    blk_close(b);

    tb_write_file(raw, oracle, size);
    assert_vmdk_check_clean(p);
    tb_assert_same_as_raw(p, raw);
    b = tb_open(p, BLK_FORMAT_VMDK, true);
    assert_read(b, 0, oracle, size);
    blk_close(b);
    g_free(oracle);
    g_free(raw);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_vmdk_sparse_writes_pass_check_and_compare(void)
{
    writes_pass_check("monolithicSparse", false);
}

static void test_vmdk_flat_writes_pass_check_and_compare(void)
{
    writes_pass_check("monolithicFlat", false);
}

static void test_vmdk_created_images_pass_check_and_compare(void)
{
    writes_pass_check("monolithicSparse", true);
    writes_pass_check("monolithicFlat", true);
    writes_pass_check("twoGbMaxExtentSparse", true);
    writes_pass_check("twoGbMaxExtentFlat", true);
}

/* A write across the 2 GiB boundary of twoGbMaxExtentSparse lands in both
 * extent files. */
static void test_vmdk_write_across_extents(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "t.vmdk", "twoGbMaxExtentSparse", "3G");
    uint8_t *w = g_malloc(96 * KiB);
    char *out = NULL;
    struct blk *b;

    tb_fill(w, 96 * KiB, 9);
    b = tb_open(p, BLK_FORMAT_VMDK, false);
    g_assert_cmpint(blk_pwrite(b, 2 * GiB - 40 * KiB, w, 96 * KiB), ==, 0);
    blk_close(b);
    assert_vmdk_check_clean(p);
    {
        const char *argv[] = {
            "qemu-io", "-f", "vmdk", "-c", "read -P 0 2097088k 24k", p, NULL
        };
        g_assert_cmpint(tb_run(argv, &out), ==, 0);
        g_assert_null(strstr(out, "fail")); /* 24 KiB of zeros before */
        g_free(out);
    }
    b = tb_open(p, BLK_FORMAT_VMDK, true);
    assert_read(b, 2 * GiB - 40 * KiB, w, 96 * KiB);
    blk_close(b);
    g_free(w);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* An image whose grain directory has no table yet for some grains (as
 * VMware writes them): new grain tables at the end of the file, both
 * directories updated. */
static void test_vmdk_write_allocates_grain_table(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "g.vmdk", "monolithicSparse", "64M");
    char *raw = tb_path(&d, "oracle.raw");
    uint8_t *oracle = g_malloc0(64 * MiB), w[8192];
    uint64_t gd = read_le(p, H_GD, 8) * 512, rgd = read_le(p, H_RGD, 8) * 512;
    struct blk *b;

    /* grain directory entry 1 (grains 512..1023, 32..64 MiB) emptied */
    patch_le(p, gd + 4, 0, 4);
    patch_le(p, rgd + 4, 0, 4);
    b = tb_open(p, BLK_FORMAT_VMDK, false);
    tb_fill(w, sizeof(w), 4);
    g_assert_cmpint(blk_pwrite(b, 40 * MiB + 1000, w, sizeof(w)), ==, 0);
    memcpy(oracle + 40 * MiB + 1000, w, sizeof(w));
    blk_close(b);

    g_assert_cmpuint(read_le(p, gd + 4, 4), !=, 0);
    g_assert_cmpuint(read_le(p, rgd + 4, 4), !=, 0);
    g_assert_cmpuint(read_le(p, gd + 4, 4), !=, read_le(p, rgd + 4, 4));
    tb_write_file(raw, oracle, 64 * MiB);
    assert_vmdk_check_clean(p);
    tb_assert_same_as_raw(p, raw);
    g_free(oracle);
    g_free(raw);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* Writes through the asynchronous API complete on the main loop. */
static void test_vmdk_async_write_then_read(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "a.vmdk", "monolithicSparse", "1M");
    struct blk *b = tb_open(p, BLK_FORMAT_VMDK, false);
    uint8_t w[12345], r[12345];
    struct iovec wv = { w, sizeof(w) }, rv = { r, sizeof(r) };
    struct tb_wait w1 = { 0 }, w2 = { 0 };

    tb_fill(w, sizeof(w), 31);
    dm_lock();
    blk_pwritev(b, 70000, &wv, 1, tb_wait_cb, &w1);
    tb_wait_for(&w1);
    blk_preadv(b, 70000, &rv, 1, tb_wait_cb, &w2);
    tb_wait_for(&w2);
    blk_close(b);
    dm_unlock();

    g_assert_cmpint(w1.ret, ==, 0);
    g_assert_cmpint(w2.ret, ==, 0);
    g_assert_cmpmem(r, sizeof(r), w, sizeof(w));
    assert_vmdk_check_clean(p);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* ---- parents ------------------------------------------------------------- */

/* A child made by qemu-img -b: reads fall through to the parent where the
 * child has no grain; a partial-grain write copies the rest from it. */
static void test_vmdk_parent_hint_reads_and_cow(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *base = create(&d, "base.vmdk", "monolithicSparse", "2M");
    char *child = tb_path(&d, "child.vmdk"), *raw = tb_path(&d, "o.raw");
    uint8_t *want = g_malloc0(2 * MiB), w[4096];
    size_t blen;
    uint8_t *before, *after;
    struct blk *b;

    qemu_io(base, "write -P 0x31 0 1M");
    TB_RUN("qemu-img", "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F",
           "vmdk", child);
    qemu_io(child, "write -P 0x32 128k 64k");
    memset(want, 0x31, MiB);
    memset(want + 128 * KiB, 0x32, 64 * KiB);
    before = tb_read_file(base, &blen);

    b = tb_open(child, BLK_FORMAT_PROBE, false);
    g_assert_cmpuint(blk_size(b), ==, 2 * MiB);
    assert_read(b, 0, want, 2 * MiB);
    tb_fill(w, sizeof(w), 5);
    g_assert_cmpint(blk_pwrite(b, 512 * KiB + 8 * KiB, w, sizeof(w)), ==, 0);
    memcpy(want + 512 * KiB + 8 * KiB, w, sizeof(w));
    assert_read(b, 0, want, 2 * MiB);
    blk_close(b);

    tb_write_file(raw, want, 2 * MiB);
    assert_vmdk_check_clean(child);
    tb_assert_same_as_raw(child, raw);
    after = tb_read_file(base, &blen);
    g_assert_cmpmem(after, blen, before, blen); /* parent untouched */
    /* our own child of the same parent reads the parent too */
    {
        GError *err = NULL;
        char *c2 = tb_path(&d, "c2.vmdk");
        g_assert_true(vmdk_create_backed(c2, 0, NULL, "base.vmdk", &err));
        g_assert_no_error(err);
        b = tb_open(c2, BLK_FORMAT_VMDK, true);
        memset(want, 0, 2 * MiB);
        memset(want, 0x31, MiB);
        assert_read(b, 0, want, 2 * MiB);
        blk_close(b);
        TB_RUN("qemu-img", "compare", "-q", c2, base);
        g_free(c2);
    }
    g_free(before);
    g_free(after);
    g_free(want);
    g_free(base);
    g_free(child);
    g_free(raw);
    tb_dir_cleanup(&d);
}

static void write_descriptor(const char *path, const char *create_type,
                             const char *extents, const char *parent)
{
    char *text = g_strdup_printf(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=%s\n"
        "createType=\"%s\"\n%s%s%s\n# Extent description\n%s\n",
        parent ? "ffffffff" : "ffffffff", create_type,
        parent ? "parentFileNameHint=\"" : "", parent ? parent : "",
        parent ? "\"" : "", extents);
    tb_write_file(path, text, strlen(text));
    g_free(text);
}

static void test_vmdk_parent_loop_refused(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *a = tb_path(&d, "a.vmdk"), *b = tb_path(&d, "b.vmdk");
    char *fa = tb_path(&d, "a-flat.vmdk"), *fb = tb_path(&d, "b-flat.vmdk");
    char *msg;

    tb_write_file(fa, "", 0);
    tb_write_file(fb, "", 0);
    write_descriptor(a, "monolithicFlat", "RW 2048 FLAT \"a-flat.vmdk\" 0",
                     "b.vmdk");
    write_descriptor(b, "monolithicFlat", "RW 2048 FLAT \"b-flat.vmdk\" 0",
                     "a.vmdk");
    msg = open_error(a);
    g_assert_nonnull(strstr(msg, "loops"));
    g_assert_nonnull(strstr(msg, "parentFileNameHint"));
    g_free(msg);
    g_free(a);
    g_free(b);
    g_free(fa);
    g_free(fb);
    tb_dir_cleanup(&d);
}

static void test_vmdk_parent_cid_mismatch_refused(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *base = create(&d, "base.vmdk", "monolithicFlat", "1M");
    char *child = tb_path(&d, "child.vmdk");

    TB_RUN("qemu-img", "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F",
           "vmdk", child);
    /* writing the parent afterwards gives it a new CID */
    qemu_io(base, "write -P 1 0 4k");
    assert_refused(child, "child.vmdk", "parentCID");
    g_free(base);
    g_free(child);
    tb_dir_cleanup(&d);
}

/* Our first write gives the parent a new CID, as VMware and QEMU do, so a
 * child made before no longer opens; opening without writing keeps it. */
static void cid_changes_on_write(const char *subfmt)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *base = create(&d, "base.vmdk", subfmt, "1M");
    char *child = tb_path(&d, "child.vmdk");
    uint8_t w[512] = { 1 };
    struct blk *b;

    TB_RUN("qemu-img", "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F",
           "vmdk", child);
    blk_close(tb_open(base, BLK_FORMAT_VMDK, false));
    blk_close(tb_open(child, BLK_FORMAT_VMDK, true));

    b = tb_open(base, BLK_FORMAT_VMDK, false);
    g_assert_cmpint(blk_pwrite(b, 0, w, sizeof(w)), ==, 0);
    g_assert_cmpint(blk_pwrite(b, 4096, w, sizeof(w)), ==, 0);
    blk_close(b);
    assert_refused(child, "child.vmdk", "parentCID");
    assert_vmdk_check_clean(base);
    TB_RUN("qemu-io", "-f", "vmdk", "-c", "read -P 1 0 1", base);
    g_free(base);
    g_free(child);
    tb_dir_cleanup(&d);
}

static void test_vmdk_write_changes_cid(void)
{
    cid_changes_on_write("monolithicSparse");
    cid_changes_on_write("monolithicFlat");
}

/* ---- descriptors --------------------------------------------------------- */

/* Extents of every kind in one disk: FLAT at an offset, ZERO, RDONLY. */
static void test_vmdk_descriptor_mixed_extents(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = tb_path(&d, "m.vmdk"), *f = tb_path(&d, "data.bin");
    uint8_t *data = g_malloc(64 * KiB), *want = g_malloc0(192 * KiB);
    uint8_t w[512] = { 0 };
    struct blk *b;

    tb_fill(data, 64 * KiB, 8);
    tb_write_file(f, data, 64 * KiB);
    /* 32 KiB from sector 16 of data.bin, 64 KiB of zeros, all of data.bin
     * read-only */
    write_descriptor(p, "custom",
                     "RW 64 FLAT \"data.bin\" 16\nRW 128 ZERO\n"
                     "RDONLY 128 FLAT \"data.bin\" 0",
                     NULL);
    memcpy(want, data + 8 * KiB, 32 * KiB);
    memcpy(want + 96 * KiB, data, 64 * KiB);
    b = tb_open(p, BLK_FORMAT_PROBE, false);
    g_assert_cmpuint(blk_size(b), ==, 160 * KiB);
    assert_read(b, 0, want, 160 * KiB);
    g_assert_cmpint(blk_pwrite(b, 0, w, 512), ==, 0);
    g_assert_cmpint(blk_pwrite(b, 40 * KiB, w, 512), ==, -EROFS);
    g_assert_cmpint(blk_pwrite(b, 100 * KiB, w, 512), ==, -EROFS);
    blk_close(b);
    g_free(data);
    g_free(want);
    g_free(p);
    g_free(f);
    tb_dir_cleanup(&d);
}

static void test_vmdk_descriptor_extent_is_itself(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = tb_path(&d, "self.vmdk");

    write_descriptor(p, "monolithicFlat", "RW 2048 FLAT \"self.vmdk\" 0", NULL);
    assert_refused(p, "self.vmdk", "descriptor file itself");
    write_descriptor(p, "twoGbMaxExtentSparse", "RW 2048 SPARSE \"self.vmdk\"",
                     NULL);
    assert_refused(p, "self.vmdk", "descriptor file itself");
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_vmdk_descriptor_missing_extent(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "t.vmdk", "twoGbMaxExtentSparse", "3G");
    char *s2 = tb_path(&d, "t-s002.vmdk");

    g_unlink(s2);
    assert_refused(p, "t-s002.vmdk", "No such file");
    g_free(p);
    g_free(s2);
    tb_dir_cleanup(&d);
}

static void test_vmdk_descriptor_bad_lines(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = tb_path(&d, "bad.vmdk"), *f = tb_path(&d, "f.bin");

    tb_write_file(f, "", 0);
    write_descriptor(p, "monolithicFlat", "RW 12x FLAT \"f.bin\" 0", NULL);
    assert_refused(p, "bad.vmdk", "extent size");
    write_descriptor(p, "monolithicFlat", "RW 8 FLAT f.bin 0", NULL);
    assert_refused(p, "bad.vmdk", "file name");
    write_descriptor(p, "vmfsRaw", "RW 8 VMFSRAW \"f.bin\"", NULL);
    assert_refused(p, "bad.vmdk", "VMFSRAW");
    write_descriptor(p, "monolithicFlat", "RW 8 SPARSE \"f.bin\" 5", NULL);
    assert_refused(p, "bad.vmdk", "offset");
    write_descriptor(p, "monolithicFlat", "", NULL);
    assert_refused(p, "bad.vmdk", "no extents");
    tb_write_file(p, "CID=xyz\nRW 8 FLAT \"f.bin\" 0\n", 29);
    assert_refused(p, "bad.vmdk", "CID");
    g_free(p);
    g_free(f);
    tb_dir_cleanup(&d);
}

/* ---- hostile sparse headers ---------------------------------------------- */

static void hostile(const char *field, uint64_t off, uint64_t v, int size,
                    const char *expect)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.vmdk", "monolithicSparse", "1M");

    patch_le(p, off, v, size);
    assert_refused(p, "h.vmdk", expect ? expect : field);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_vmdk_hostile_bad_magic(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "t.vmdk", "twoGbMaxExtentSparse", "1M");
    char *s1 = tb_path(&d, "t-s001.vmdk");

    patch_le(s1, 0, 0x12345678, 4);
    assert_refused(p, "t-s001.vmdk", "bad magic");
    g_free(p);
    g_free(s1);
    tb_dir_cleanup(&d);
    /* a monolithic file whose magic is gone is not a descriptor either */
    hostile("magic", 0, 0x0102034b, 4, "binary data");
}

static void test_vmdk_hostile_grain_size(void)
{
    hostile("grainSize", H_GRAIN, 0, 8, NULL);
    hostile("grainSize", H_GRAIN, 96, 8, NULL);
    hostile("grainSize", H_GRAIN, 1ull << 40, 8, NULL);
}

static void test_vmdk_hostile_gd_offset_past_eof(void)
{
    hostile("gdOffset", H_GD, 1ull << 30, 8, NULL);
    hostile("gdOffset", H_GD, 0x7fffffffffffffffull, 8, NULL);
    hostile("rgdOffset", H_RGD, 1ull << 30, 8, NULL);
}

static void test_vmdk_hostile_huge_capacity(void)
{
    hostile("capacity", H_CAPACITY, 0xffffffffffffffffull, 8, NULL);
    /* within the limit, but the grain directory would run off the file */
    hostile("capacity", H_CAPACITY, 1ull << 36, 8, "gdOffset");
}

static void test_vmdk_hostile_other_fields(void)
{
    hostile("version", H_VERSION, 4, 4, NULL);
    hostile("numGTEsPerGT", H_GTES, 4096, 4, NULL);
    hostile("newline", 73, 0x0a0a200a, 4, NULL); /* "\r\n" became "\n" */
    hostile("compressAlgorithm", 77, 7, 2, NULL);
    hostile("descriptorSize", 36, 100000, 8, NULL);
}

static void test_vmdk_hostile_gd_entry_past_eof(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.vmdk", "monolithicSparse", "1M");

    patch_le(p, read_le(p, H_GD, 8) * 512, 0x7fffffff, 4);
    assert_refused(p, "h.vmdk", "grain directory entry 0");
    g_free(p);
    tb_dir_cleanup(&d);
}

/* A grain table entry pointing past the end fails that read only. */
static void test_vmdk_corrupt_gte_fails_request(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.vmdk", "monolithicSparse", "1M");
    uint8_t buf[512];
    struct blk *b;

    qemu_io(p, "write -P 1 0 4k");
    qemu_io(p, "write -P 2 64k 4k");
    patch_le(p, gte_offset(p, H_GD, 0), 0x7ffffff0, 4);
    b = tb_open(p, BLK_FORMAT_VMDK, true);
    g_assert_cmpint(blk_pread(b, 0, buf, sizeof(buf)), ==, -EIO);
    g_assert_cmpint(blk_pread(b, 64 * KiB, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(buf[0], ==, 2);
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* ---- check and info ------------------------------------------------------ */

static uint64_t check_corruptions(const char *p)
{
    struct vmdk_check_result res;
    GError *err = NULL;
    struct blk *b = tb_open(p, BLK_FORMAT_VMDK, true);
    uint64_t n;

    g_assert_true(vmdk_check(b, &res, &err));
    g_assert_no_error(err);
    for (guint i = 0; i < res.messages->len; i++) {
        g_test_message("%s", (char *)res.messages->pdata[i]);
    }
    g_assert_cmpuint(res.messages->len, ==, res.corruptions);
    g_assert_cmpuint(res.check_errors, ==, 0);
    n = res.corruptions;
    vmdk_check_result_clear(&res);
    blk_close(b);
    return n;
}

static void test_vmdk_check_finds_shared_and_mismatched_grains(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "c.vmdk", "monolithicSparse", "1M");
    uint64_t e0, e1;

    qemu_io(p, "write -P 1 0 128k");
    g_assert_cmpuint(check_corruptions(p), ==, 0);
    /* grain 1 points at grain 0's data, in the primary table only */
    e0 = gte_offset(p, H_GD, 0);
    e1 = gte_offset(p, H_GD, 1);
    patch_le(p, e1, read_le(p, e0, 4), 4);
    g_assert_cmpuint(check_corruptions(p), ==, 2);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_vmdk_info_reports_descriptor(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *base = create(&d, "base.vmdk", "twoGbMaxExtentFlat", "3G");
    char *child = tb_path(&d, "child.vmdk");
    struct vmdk_info bi, ci;
    GError *err = NULL;
    struct blk *b, *c;

    TB_RUN("qemu-img", "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F",
           "vmdk", child);
    b = tb_open(base, BLK_FORMAT_VMDK, true);
    c = tb_open(child, BLK_FORMAT_VMDK, true);
    g_assert_true(vmdk_get_info(b, &bi, &err));
    g_assert_true(vmdk_get_info(c, &ci, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(bi.create_type, ==, "twoGbMaxExtentFlat");
    g_assert_cmpuint(bi.n_extents, ==, 2);
    g_assert_true(g_str_has_suffix(bi.extent_files[1], "base-f002.vmdk"));
    g_assert_null(bi.parent_hint);
    g_assert_cmpstr(ci.create_type, ==, "monolithicSparse");
    g_assert_cmpstr(ci.parent_hint, ==, "base.vmdk");
    g_assert_cmphex(ci.parent_cid, ==, bi.cid);
    g_assert_cmpuint(ci.grain_size, ==, 64 * KiB);
    vmdk_info_clear(&bi);
    vmdk_info_clear(&ci);
    blk_close(b);
    blk_close(c);
    g_free(base);
    g_free(child);
    tb_dir_cleanup(&d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dm_log_set_level(DM_LOG_ERROR); /* corruption warnings are expected */
    g_test_add_func("/vmdk/read/monolithic-sparse",
                    test_vmdk_reads_monolithic_sparse);
    g_test_add_func("/vmdk/read/monolithic-flat",
                    test_vmdk_reads_monolithic_flat);
    g_test_add_func("/vmdk/read/two-gb-sparse", test_vmdk_reads_two_gb_sparse);
    g_test_add_func("/vmdk/read/two-gb-flat", test_vmdk_reads_two_gb_flat);
    g_test_add_func("/vmdk/read/stream-optimized",
                    test_vmdk_reads_stream_optimized);
    g_test_add_func("/vmdk/read/stream-footer",
                    test_vmdk_reads_stream_with_footer);
    g_test_add_func("/vmdk/read/zeroed-grain",
                    test_vmdk_zeroed_grain_gte_reads_zeros);
    g_test_add_func("/vmdk/write/sparse-check-compare",
                    test_vmdk_sparse_writes_pass_check_and_compare);
    g_test_add_func("/vmdk/write/flat-check-compare",
                    test_vmdk_flat_writes_pass_check_and_compare);
    g_test_add_func("/vmdk/write/created-images",
                    test_vmdk_created_images_pass_check_and_compare);
    g_test_add_func("/vmdk/write/across-extents",
                    test_vmdk_write_across_extents);
    g_test_add_func("/vmdk/write/new-grain-table",
                    test_vmdk_write_allocates_grain_table);
    g_test_add_func("/vmdk/write/async", test_vmdk_async_write_then_read);
    g_test_add_func("/vmdk/parent/reads-and-cow",
                    test_vmdk_parent_hint_reads_and_cow);
    g_test_add_func("/vmdk/parent/loop", test_vmdk_parent_loop_refused);
    g_test_add_func("/vmdk/parent/cid-mismatch",
                    test_vmdk_parent_cid_mismatch_refused);
    g_test_add_func("/vmdk/parent/cid-changes-on-write",
                    test_vmdk_write_changes_cid);
    g_test_add_func("/vmdk/desc/mixed-extents",
                    test_vmdk_descriptor_mixed_extents);
    g_test_add_func("/vmdk/desc/extent-is-itself",
                    test_vmdk_descriptor_extent_is_itself);
    g_test_add_func("/vmdk/desc/missing-extent",
                    test_vmdk_descriptor_missing_extent);
    g_test_add_func("/vmdk/desc/bad-lines", test_vmdk_descriptor_bad_lines);
    g_test_add_func("/vmdk/hostile/bad-magic", test_vmdk_hostile_bad_magic);
    g_test_add_func("/vmdk/hostile/grain-size", test_vmdk_hostile_grain_size);
    g_test_add_func("/vmdk/hostile/gd-offset-past-eof",
                    test_vmdk_hostile_gd_offset_past_eof);
    g_test_add_func("/vmdk/hostile/huge-capacity",
                    test_vmdk_hostile_huge_capacity);
    g_test_add_func("/vmdk/hostile/other-fields",
                    test_vmdk_hostile_other_fields);
    g_test_add_func("/vmdk/hostile/gd-entry-past-eof",
                    test_vmdk_hostile_gd_entry_past_eof);
    g_test_add_func("/vmdk/hostile/corrupt-gte",
                    test_vmdk_corrupt_gte_fails_request);
    g_test_add_func("/vmdk/check/shared-and-mismatched-grains",
                    test_vmdk_check_finds_shared_and_mismatched_grains);
    g_test_add_func("/vmdk/info/descriptor", test_vmdk_info_reports_descriptor);
    return g_test_run();
}
