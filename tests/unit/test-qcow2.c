/*
 * test-qcow2.c: qcow2 v2 and v3 against qemu-img and qemu-io, with raw
 * oracles: reading what QEMU wrote (plain, zero, compressed clusters,
 * backing files), writing images qemu-img check calls clean and qemu-img
 * compare finds identical, copy-on-write from backing files and snapshots,
 * discard, and hostile headers refused with one line naming file and field.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvmdm/log.h"
#include "test-block-util.h"

#define MiB DM_MiB
#define KiB DM_KiB

static const char *compat_opt(int version)
{
    return version == 2 ? "compat=0.10" : "compat=1.1";
}

static char *create(struct tb_dir *d, const char *name, int version,
                    const char *extra_opts, const char *size)
{
    char *p = tb_path(d, name);
    char *o =
        g_strdup_printf("%s%s%s", compat_opt(version), extra_opts ? "," : "",
                        extra_opts ? extra_opts : "");
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-o", o, p, size);
    g_free(o);
    return p;
}

static void qemu_io(const char *img, const char *cmd)
{
    TB_RUN("qemu-io", "-f", "qcow2", "-c", cmd, img);
}

/* ---- reading what QEMU wrote ----------------------------------------------- */

static void reads_qemu_io_data(int version)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "a.qcow2", version, NULL, "4M");
    uint8_t *got = g_malloc(4 * MiB), *want = g_malloc0(4 * MiB);
    struct blk *b;

    qemu_io(p, "write -P 0xab 0 64k");
    qemu_io(p, "write -P 0xcd 1000k 100k"); /* straddles clusters */
    qemu_io(p, "write -P 0x11 3M 64k");
    qemu_io(p, "write -z 3M 32k"); /* zero cluster in v3 */
    memset(want, 0xab, 64 * KiB);
    memset(want + 1000 * KiB, 0xcd, 100 * KiB);
    memset(want + 3 * MiB + 32 * KiB, 0x11, 32 * KiB);

    b = tb_open(p, BLK_FORMAT_QCOW2, true);
    g_assert_cmpuint(blk_size(b), ==, 4 * MiB);
    memset(got, 0x5a, 4 * MiB);
    g_assert_cmpint(blk_pread(b, 0, got, 4 * MiB), ==, 0);
    g_assert_cmpmem(got, 4 * MiB, want, 4 * MiB);
    blk_close(b);
    g_free(got);
    g_free(want);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_qcow2_v2_reads_qemu_io_data(void)
{
    reads_qemu_io_data(2);
}

static void test_qcow2_v3_reads_qemu_io_data(void)
{
    reads_qemu_io_data(3);
}

static void reads_compressed(const char *ctype)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *raw = tb_path(&d, "src.raw"), *img = tb_path(&d, "c.qcow2");
    char *opts = g_strdup_printf("compression_type=%s", ctype);
    size_t len = 2 * MiB;
    uint8_t *want = g_malloc0(len), *got = g_malloc(len);
    struct blk *b;

    /* compressible text-like data, a random (incompressible) stretch, and
     * zeros */
    for (size_t i = 0; i < MiB; i++) {
        want[i] = (uint8_t) "hvmdm qcow2 compressed cluster test "[i % 36];
    }
    tb_fill(want + MiB, 300 * KiB, 21);
    tb_write_file(raw, want, len);
    TB_RUN("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o", opts,
           raw, img);

    b = tb_open(img, BLK_FORMAT_QCOW2, true);
    g_assert_cmpint(blk_pread(b, 0, got, len), ==, 0);
    g_assert_cmpmem(got, len, want, len);
    /* an unaligned read inside a compressed cluster */
    g_assert_cmpint(blk_pread(b, 12345, got, 777), ==, 0);
    g_assert_cmpmem(got, 777, want + 12345, 777);
    blk_close(b);
    g_free(want);
    g_free(got);
    g_free(opts);
    g_free(raw);
    g_free(img);
    tb_dir_cleanup(&d);
}

static void test_qcow2_reads_zlib_compressed(void)
{
    reads_compressed("zlib");
}

static void test_qcow2_reads_zstd_compressed(void)
{
    reads_compressed("zstd");
}

/* ---- writing ---------------------------------------------------------------- */

/* A deterministic mix of writes (aligned, unaligned, cluster-straddling,
 * overwrites) applied both to the image and to a raw oracle. */
static void write_workload(struct blk *b, uint8_t *oracle, uint64_t size,
                           uint32_t seed, int count)
{
    GRand *r = g_rand_new_with_seed(seed);
    uint8_t *buf = g_malloc(256 * KiB);

    for (int i = 0; i < count; i++) {
        uint64_t len = (uint64_t)g_rand_int_range(r, 1, 256 * KiB);
        uint64_t off = (uint64_t)g_rand_int_range(r, 0, (gint32)(size - len));
        if (i % 3 == 0) { /* sector-aligned, like a disk controller */
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

static void writes_pass_check(int version, const char *opts)
{
    struct tb_dir d;
    tb_dir_init(&d);
    const uint64_t size = 8 * MiB;
    char *p = create(&d, "w.qcow2", version, opts, "8M");
    char *raw = tb_path(&d, "oracle.raw");
    uint8_t *oracle = g_malloc0(size), *got = g_malloc(size);
    struct blk *b = tb_open(p, BLK_FORMAT_QCOW2, false);

    write_workload(b, oracle, size, 5, 60);
    g_assert_cmpint(blk_pread(b, 0, got, size), ==, 0);
    g_assert_cmpmem(got, size, oracle, size);
    g_assert_cmpint(blk_flush_sync(b), ==, 0);
    blk_close(b);

    tb_write_file(raw, oracle, size);
    tb_assert_check_clean(p);
    tb_assert_same_as_raw(p, raw);
    g_free(oracle);
    g_free(got);
    g_free(raw);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_qcow2_v2_writes_pass_check_and_compare(void)
{
    writes_pass_check(2, NULL);
}

static void test_qcow2_v3_writes_pass_check_and_compare(void)
{
    writes_pass_check(3, NULL);
}

/* 512-byte clusters: new refcount blocks and a larger refcount table. */
static void test_qcow2_small_clusters_grow_refcount_table(void)
{
    writes_pass_check(3, "cluster_size=512");
}

static void test_qcow2_refcount_bits_1_and_64(void)
{
    writes_pass_check(3, "refcount_bits=1");
    writes_pass_check(3, "refcount_bits=64");
}

/* Writes through the asynchronous API complete on the main loop. */
static void test_qcow2_async_write_then_read(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "a.qcow2", 3, NULL, "1M");
    struct blk *b = tb_open(p, BLK_FORMAT_QCOW2, false);
    uint8_t w[12345], r[12345];
    struct iovec wv = { w, sizeof(w) }, rv = { r, sizeof(r) };
    struct tb_wait w1 = { 0 }, w2 = { 0 }, w3 = { 0 };

    tb_fill(w, sizeof(w), 31);
    dm_lock();
    blk_pwritev(b, 70000, &wv, 1, tb_wait_cb, &w1);
    g_assert_false(w1.done);
    tb_wait_for(&w1);
    blk_flush(b, tb_wait_cb, &w2);
    tb_wait_for(&w2);
    blk_preadv(b, 70000, &rv, 1, tb_wait_cb, &w3);
    tb_wait_for(&w3);
    blk_close(b);
    dm_unlock();

    g_assert_cmpint(w1.ret, ==, 0);
    g_assert_cmpint(w2.ret, ==, 0);
    g_assert_cmpint(w3.ret, ==, 0);
    g_assert_true(w3.lock_held);
    g_assert_cmpmem(r, sizeof(r), w, sizeof(w));
    tb_assert_check_clean(p);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* A 4 KiB write in the middle of a 64 KiB cluster of an overlay: the rest
 * of the cluster comes from the backing file. */
static void test_qcow2_backing_cow_partial_cluster(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    const uint64_t size = 2 * MiB;
    char *base = tb_path(&d, "base.raw"), *top = tb_path(&d, "top.qcow2");
    char *oracle_path = tb_path(&d, "oracle.raw");
    uint8_t *oracle = g_malloc(size), *got = g_malloc(size), w[4096];
    struct blk *b;

    tb_fill(oracle, size, 41);
    tb_write_file(base, oracle, size);
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw",
           top);
    b = tb_open(top, BLK_FORMAT_QCOW2, false);
    tb_fill(w, sizeof(w), 42);
    memcpy(oracle + 64 * KiB + 8 * KiB, w, sizeof(w));
    g_assert_cmpint(blk_pwrite(b, 64 * KiB + 8 * KiB, w, sizeof(w)), ==, 0);
    g_assert_cmpint(blk_pread(b, 0, got, size), ==, 0);
    g_assert_cmpmem(got, size, oracle, size);
    blk_close(b);

    tb_write_file(oracle_path, oracle, size);
    tb_assert_check_clean(top);
    tb_assert_same_as_raw(top, oracle_path);
    /* the backing file is untouched */
    {
        size_t blen;
        uint8_t *bb = tb_read_file(base, &blen), *orig = g_malloc(size);
        tb_fill(orig, size, 41);
        g_assert_cmpmem(bb, blen, orig, size);
        g_free(bb);
        g_free(orig);
    }
    g_free(oracle);
    g_free(got);
    g_free(base);
    g_free(top);
    g_free(oracle_path);
    tb_dir_cleanup(&d);
}

/* A three-level chain qcow2 -> qcow2 -> raw, backing formats given. */
static void test_qcow2_backing_chain_reads_each_level(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *base = tb_path(&d, "base.raw"), *mid = tb_path(&d, "mid.qcow2");
    char *top = tb_path(&d, "top.qcow2");
    uint8_t *want = g_malloc(MiB), *got = g_malloc(MiB);
    struct blk *b;

    tb_fill(want, MiB, 51);
    tb_write_file(base, want, MiB);
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F",
           "raw", mid);
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F",
           "qcow2", top);
    qemu_io(mid, "write -P 0x77 128k 64k");
    qemu_io(top, "write -P 0x88 160k 4k");
    memset(want + 128 * KiB, 0x77, 64 * KiB);
    memset(want + 160 * KiB, 0x88, 4 * KiB);

    b = tb_open(top, BLK_FORMAT_PROBE, true);
    g_assert_cmpint(blk_pread(b, 0, got, MiB), ==, 0);
    g_assert_cmpmem(got, MiB, want, MiB);
    blk_close(b);
    g_free(want);
    g_free(got);
    g_free(base);
    g_free(mid);
    g_free(top);
    tb_dir_cleanup(&d);
}

/* Writing an image with an internal snapshot copies shared clusters: the
 * snapshot keeps its data and the image stays consistent. */
static void test_qcow2_write_after_snapshot_copies_shared_clusters(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "s.qcow2", 3, NULL, "1M");
    char *snap = tb_path(&d, "snap.raw"), *cur = tb_path(&d, "cur.raw");
    uint8_t *before = g_malloc0(MiB), *after, w[8192];
    uint8_t *got;
    size_t len;
    struct blk *b;

    qemu_io(p, "write -P 0x31 0 256k");
    memset(before, 0x31, 256 * KiB);
    TB_RUN("qemu-img", "snapshot", "-c", "s1", p);

    b = tb_open(p, BLK_FORMAT_QCOW2, false);
    tb_fill(w, sizeof(w), 61);
    g_assert_cmpint(blk_pwrite(b, 100 * KiB, w, sizeof(w)), ==, 0);
    blk_close(b);

    tb_assert_check_clean(p);
    TB_RUN("qemu-img", "convert", "-f", "qcow2", "-O", "raw", "-l",
           "snapshot.name=s1", p, snap);
    got = tb_read_file(snap, &len);
    g_assert_cmpmem(got, len, before, MiB);
    g_free(got);
    after = g_memdup2(before, MiB);
    memcpy(after + 100 * KiB, w, sizeof(w));
    tb_write_file(cur, after, MiB);
    tb_assert_same_as_raw(p, cur);
    g_free(before);
    g_free(after);
    g_free(snap);
    g_free(cur);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* Overwriting a compressed cluster replaces it with a plain one. */
static void test_qcow2_write_over_compressed_cluster(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *raw = tb_path(&d, "src.raw"), *img = tb_path(&d, "c.qcow2");
    uint8_t *want = g_malloc(MiB), w[1000];
    struct blk *b;

    memset(want, 0x42, MiB);
    tb_write_file(raw, want, MiB);
    TB_RUN("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, img);
    b = tb_open(img, BLK_FORMAT_QCOW2, false);
    tb_fill(w, sizeof(w), 71);
    memcpy(want + 70000, w, sizeof(w));
    g_assert_cmpint(blk_pwrite(b, 70000, w, sizeof(w)), ==, 0);
    blk_close(b);
    tb_write_file(raw, want, MiB);
    tb_assert_check_clean(img);
    tb_assert_same_as_raw(img, raw);
    g_free(want);
    g_free(raw);
    g_free(img);
    tb_dir_cleanup(&d);
}

static void test_qcow2_discard_reads_zeros_and_stays_clean(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "d.qcow2", 3, NULL, "2M");
    char *raw = tb_path(&d, "oracle.raw");
    uint8_t *oracle = g_malloc(2 * MiB), *got = g_malloc(2 * MiB);
    struct blk *b = tb_open(p, BLK_FORMAT_QCOW2, false);
    struct tb_wait w = { 0 };

    tb_fill(oracle, 2 * MiB, 81);
    g_assert_cmpint(blk_pwrite(b, 0, oracle, 2 * MiB), ==, 0);
    dm_lock();
    blk_discard(b, 256 * KiB, 512 * KiB, tb_wait_cb, &w);
    tb_wait_for(&w);
    dm_unlock();
    g_assert_cmpint(w.ret, ==, 0);
    memset(oracle + 256 * KiB, 0, 512 * KiB);
    g_assert_cmpint(blk_pread(b, 0, got, 2 * MiB), ==, 0);
    g_assert_cmpmem(got, 2 * MiB, oracle, 2 * MiB);
    /* freed clusters are reused by the next allocation */
    g_assert_cmpint(blk_pwrite(b, 256 * KiB, oracle, 64 * KiB), ==, 0);
    memcpy(oracle + 256 * KiB, oracle, 64 * KiB);
    blk_close(b);
    tb_write_file(raw, oracle, 2 * MiB);
    tb_assert_check_clean(p);
    tb_assert_same_as_raw(p, raw);
    g_free(oracle);
    g_free(got);
    g_free(raw);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* A writer killed at arbitrary points leaves an image qemu-img check
 * accepts: clean, or leaked clusters at most. */
static void test_qcow2_killed_writer_leaves_consistent_image(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "k.qcow2", 3, "cluster_size=4096", "16M");

    for (int round = 0; round < 4; round++) {
        int fds[2];
        pid_t pid;
        char c;

        g_assert_cmpint(pipe(fds), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
            struct blk *b;
            uint8_t buf[20000];
            close(fds[0]);
            b = tb_open(p, BLK_FORMAT_QCOW2, false);
            for (uint32_t i = 0;; i++) {
                uint64_t off = (i * 7919ull * 4096 + round * 1000) %
                               (16 * MiB - sizeof(buf));
                tb_fill(buf, sizeof(buf), i);
                if (blk_pwrite(b, off, buf, sizeof(buf)) < 0) {
                    _exit(1);
                }
                if (write(fds[1], "x", 1) != 1) {
                    _exit(1);
                }
            }
        }
        close(fds[1]);
        for (int i = 0; i < 50 + round * 40; i++) {
            g_assert_cmpint(read(fds[0], &c, 1), ==, 1);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(fds[0]);
        {
            char *out = NULL;
            int st = tb_qemu_img_check(p, &out);
            if (st != 0 && st != 3) {
                g_test_message("round %d: %s", round, out);
            }
            g_assert_true(st == 0 || st == 3); /* clean or leaks only */
            g_free(out);
        }
    }
    g_free(p);
    tb_dir_cleanup(&d);
}

/* ---- hostile headers ------------------------------------------------------- */

static void patch_be(const char *path, off_t off, uint64_t v, int bytes)
{
    uint8_t b[8];
    int fd = open(path, O_WRONLY);

    for (int i = 0; i < bytes; i++) {
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, b, (size_t)bytes, off), ==, bytes);
    close(fd);
}

/* Opening P fails with one line naming the file and containing FIELD. */
static void assert_refused(const char *p, const char *field)
{
    GError *err = NULL;
    struct blk_opts o = { .format = BLK_FORMAT_QCOW2 };
    struct blk *b = blk_open(p, &o, &err);

    g_assert_null(b);
    g_assert_nonnull(err);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, p));
    g_assert_nonnull(strstr(err->message, field));
    g_assert_null(strchr(err->message, '\n'));
    g_error_free(err);
}

static void test_qcow2_hostile_cluster_bits(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.qcow2", 3, NULL, "1M");

    patch_be(p, 20, 30, 4);
    assert_refused(p, "cluster_bits");
    patch_be(p, 20, 8, 4);
    assert_refused(p, "cluster_bits");
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_qcow2_hostile_l1_offset_past_eof(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.qcow2", 3, NULL, "1M");

    patch_be(p, 40, 0x100000000ull, 8);
    assert_refused(p, "l1_table_offset");
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_qcow2_hostile_huge_l1_size(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.qcow2", 2, NULL, "1M");

    patch_be(p, 36, 0x7fffffff, 4);
    assert_refused(p, "l1_size");
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_qcow2_hostile_l1_too_small_for_size(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.qcow2", 3, NULL, "1M");

    patch_be(p, 24, 1ull << 40, 8); /* size 1 TiB, l1_size still 1 */
    assert_refused(p, "l1_size");
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_qcow2_hostile_refcount_table_unaligned(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.qcow2", 3, NULL, "1M");

    patch_be(p, 48, 0x10008, 8);
    assert_refused(p, "refcount_table_offset");
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_qcow2_hostile_backing_chain_loop(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *a = tb_path(&d, "a.qcow2"), *b = tb_path(&d, "b.qcow2");
    GError *err = NULL;
    struct blk *blk;

    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "b.qcow2",
           "-F", "qcow2", a, "1M");
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "a.qcow2",
           "-F", "qcow2", b, "1M");
    blk = blk_open(a, NULL, &err);
    g_assert_null(blk);
    g_assert_nonnull(err);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, a));
    g_assert_nonnull(strstr(err->message, "backing"));
    g_assert_nonnull(strstr(err->message, "loop"));
    g_error_free(err);
    g_free(a);
    g_free(b);
    tb_dir_cleanup(&d);
}

static void test_qcow2_hostile_unknown_incompatible_feature(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.qcow2", 3, NULL, "1M");

    patch_be(p, 72, 1ull << 40, 8);
    assert_refused(p, "incompatible");
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_qcow2_dirty_image_opens_read_only_only(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.qcow2", 3, NULL, "1M");
    struct blk *b;

    patch_be(p, 72, 1, 8); /* dirty bit */
    assert_refused(p, "dirty");
    b = tb_open(p, BLK_FORMAT_QCOW2, true);
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* A corrupt L2 pointer found at run time fails the request, not the
 * process. */
static void test_qcow2_corrupt_l1_entry_fails_request(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = create(&d, "h.qcow2", 3, NULL, "1M");
    uint8_t buf[512];
    struct blk *b;

    qemu_io(p, "write -P 1 0 4k");
    /* L1 of a fresh 1M image lives at 0x30000 */
    patch_be(p, 0x30000, 0x8000000000012345ull, 8);
    b = tb_open(p, BLK_FORMAT_QCOW2, true);
    g_assert_cmpint(blk_pread(b, 0, buf, sizeof(buf)), ==, -EIO);
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dm_log_set_level(DM_LOG_ERROR); /* corruption warnings are expected */
    g_test_add_func("/qcow2/read/v2-qemu-io", test_qcow2_v2_reads_qemu_io_data);
    g_test_add_func("/qcow2/read/v3-qemu-io", test_qcow2_v3_reads_qemu_io_data);
    g_test_add_func("/qcow2/read/zlib", test_qcow2_reads_zlib_compressed);
    g_test_add_func("/qcow2/read/zstd", test_qcow2_reads_zstd_compressed);
    g_test_add_func("/qcow2/read/backing-chain",
                    test_qcow2_backing_chain_reads_each_level);
    g_test_add_func("/qcow2/write/v2-check-compare",
                    test_qcow2_v2_writes_pass_check_and_compare);
    g_test_add_func("/qcow2/write/v3-check-compare",
                    test_qcow2_v3_writes_pass_check_and_compare);
    g_test_add_func("/qcow2/write/small-clusters",
                    test_qcow2_small_clusters_grow_refcount_table);
    g_test_add_func("/qcow2/write/refcount-bits",
                    test_qcow2_refcount_bits_1_and_64);
    g_test_add_func("/qcow2/write/async", test_qcow2_async_write_then_read);
    g_test_add_func("/qcow2/write/backing-cow",
                    test_qcow2_backing_cow_partial_cluster);
    g_test_add_func("/qcow2/write/snapshot-cow",
                    test_qcow2_write_after_snapshot_copies_shared_clusters);
    g_test_add_func("/qcow2/write/over-compressed",
                    test_qcow2_write_over_compressed_cluster);
    g_test_add_func("/qcow2/write/discard",
                    test_qcow2_discard_reads_zeros_and_stays_clean);
    g_test_add_func("/qcow2/write/killed-writer",
                    test_qcow2_killed_writer_leaves_consistent_image);
    g_test_add_func("/qcow2/hostile/cluster-bits",
                    test_qcow2_hostile_cluster_bits);
    g_test_add_func("/qcow2/hostile/l1-past-eof",
                    test_qcow2_hostile_l1_offset_past_eof);
    g_test_add_func("/qcow2/hostile/huge-l1-size",
                    test_qcow2_hostile_huge_l1_size);
    g_test_add_func("/qcow2/hostile/l1-too-small",
                    test_qcow2_hostile_l1_too_small_for_size);
    g_test_add_func("/qcow2/hostile/refcount-table-unaligned",
                    test_qcow2_hostile_refcount_table_unaligned);
    g_test_add_func("/qcow2/hostile/backing-loop",
                    test_qcow2_hostile_backing_chain_loop);
    g_test_add_func("/qcow2/hostile/unknown-feature",
                    test_qcow2_hostile_unknown_incompatible_feature);
    g_test_add_func("/qcow2/hostile/dirty",
                    test_qcow2_dirty_image_opens_read_only_only);
    g_test_add_func("/qcow2/hostile/corrupt-l1-entry",
                    test_qcow2_corrupt_l1_entry_fails_request);
    return g_test_run();
}
