/*
 * test-block.c: the BlockDevice API on raw images: asynchronous vectored
 * I/O through io_uring and through worker threads, cache=none with unaligned
 * buffers, read-only opens, discard, and format probing (CVE-2008-2004).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvmdm/log.h"
#include "test-block-util.h"

#define IMG_SIZE (1 * DM_MiB)

static char *make_raw(struct tb_dir *d, const char *name, uint32_t seed)
{
    char *p = tb_path(d, name);
    uint8_t *buf = g_malloc(IMG_SIZE);

    if (seed) {
        tb_fill(buf, IMG_SIZE, seed);
    } else {
        memset(buf, 0, IMG_SIZE);
    }
    tb_write_file(p, buf, IMG_SIZE);
    g_free(buf);
    return p;
}

static struct blk *open_opts(const char *path, const struct blk_opts *o)
{
    GError *err = NULL;
    struct blk *b = blk_open(path, o, &err);
    g_assert_no_error(err);
    return b;
}

/* Write two vectors, flush, read them back through a differently split
 * vector, all asynchronously; returns the file's bytes afterwards. */
static void async_round_trip(struct blk *b, const char *path)
{
    uint8_t a[3000], c[5192], back[8192];
    struct iovec wv[2] = { { a, sizeof(a) }, { c, sizeof(c) } };
    struct iovec rv[3] = { { back, 100 },
                           { back + 100, 4000 },
                           { back + 4100, 4092 } };
    struct tb_wait w1 = { 0 }, w2 = { 0 }, w3 = { 0 };
    uint8_t *file;
    size_t flen;

    tb_fill(a, sizeof(a), 1);
    tb_fill(c, sizeof(c), 2);
    dm_lock();
    blk_pwritev(b, 64 * 1024, wv, 2, tb_wait_cb, &w1);
    g_assert_false(w1.done); /* never completes inside the submit call */
    tb_wait_for(&w1);
    blk_flush(b, tb_wait_cb, &w2);
    tb_wait_for(&w2);
    blk_preadv(b, 64 * 1024, rv, 3, tb_wait_cb, &w3);
    tb_wait_for(&w3);
    dm_unlock();

    g_assert_cmpint(w1.ret, ==, 0);
    g_assert_cmpint(w2.ret, ==, 0);
    g_assert_cmpint(w3.ret, ==, 0);
    g_assert_true(w1.lock_held && w2.lock_held && w3.lock_held);
    g_assert_cmpmem(back, sizeof(a), a, sizeof(a));
    g_assert_cmpmem(back + sizeof(a), sizeof(c), c, sizeof(c));
    file = tb_read_file(path, &flen);
    g_assert_cmpuint(flen, ==, IMG_SIZE);
    g_assert_cmpmem(file + 64 * 1024, sizeof(a), a, sizeof(a));
    g_assert_cmpmem(file + 64 * 1024 + sizeof(a), sizeof(c), c, sizeof(c));
    g_free(file);
}

static void test_block_raw_async_io_uring(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_raw(&d, "a.raw", 0);
    struct blk_opts o = { .format = BLK_FORMAT_RAW, .aio = BLK_AIO_URING };
    struct blk *b = open_opts(p, &o);

    g_assert_true(blk_uses_uring(b));
    async_round_trip(b, p);
    dm_lock();
    blk_close(b);
    dm_unlock();
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_block_raw_async_threads(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_raw(&d, "a.raw", 0);
    struct blk_opts o = { .format = BLK_FORMAT_RAW, .aio = BLK_AIO_THREADS };
    struct blk *b = open_opts(p, &o);

    g_assert_false(blk_uses_uring(b));
    async_round_trip(b, p);
    dm_lock();
    blk_close(b);
    dm_unlock();
    g_free(p);
    tb_dir_cleanup(&d);
}

/* Many requests in flight at once all complete, each with its own data. */
static void test_block_raw_many_requests_in_flight(void)
{
    enum { N = 64, LEN = 4096 };
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_raw(&d, "a.raw", 7);
    struct blk *b = tb_open(p, BLK_FORMAT_RAW, false);
    uint8_t *bufs = g_malloc(N * LEN), *want = g_malloc(N * LEN);
    struct tb_wait w[N];
    struct iovec v[N];

    tb_fill(want, N * LEN, 9);
    memcpy(bufs, want, N * LEN);
    memset(w, 0, sizeof(w));
    dm_lock();
    for (int i = 0; i < N; i++) {
        v[i].iov_base = bufs + i * LEN;
        v[i].iov_len = LEN;
        blk_pwritev(b, (uint64_t)i * 2 * LEN, &v[i], 1, tb_wait_cb, &w[i]);
    }
    g_assert_cmpuint(blk_in_flight(b), >, 0);
    blk_drain(b);
    g_assert_cmpuint(blk_in_flight(b), ==, 0);
    memset(bufs, 0, N * LEN);
    for (int i = 0; i < N; i++) {
        g_assert_true(w[i].done);
        g_assert_cmpint(w[i].ret, ==, 0);
        w[i].done = false;
        blk_preadv(b, (uint64_t)i * 2 * LEN, &v[i], 1, tb_wait_cb, &w[i]);
    }
    blk_drain(b);
    dm_unlock();

    for (int i = 0; i < N; i++) {
        g_assert_cmpint(w[i].ret, ==, 0);
    }
    g_assert_cmpmem(bufs, N * LEN, want, N * LEN);
    blk_close(b);
    g_free(bufs);
    g_free(want);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* cache=none: guest buffers at odd addresses and requests not aligned to
 * the device block still land byte-exact (bounce buffers, read-modify-write). */
static void cache_none_unaligned(enum blk_aio_mode aio)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_raw(&d, "a.raw", 3);
    struct blk_opts o = { .format = BLK_FORMAT_RAW,
                          .cache = BLK_CACHE_NONE,
                          .aio = aio };
    struct blk *b = open_opts(p, &o);
    uint8_t *oracle, *file, *raw = g_malloc(3 * 8192 + 1);
    uint8_t *odd = raw + 1; /* misaligned guest memory */
    struct iovec v1 = { odd, 8192 }, v2 = { odd + 8192, 1000 };
    struct iovec v3 = { odd + 16384, 3 };
    struct tb_wait w1 = { 0 }, w2 = { 0 }, w3 = { 0 }, w4 = { 0 };
    size_t flen;

    oracle = tb_read_file(p, &flen);
    tb_fill(odd, 3 * 8192, 11);
    memcpy(oracle + 4096, odd, 8192);       /* aligned offset, odd buffer */
    memcpy(oracle + 100, odd + 8192, 1000); /* unaligned offset and size */
    memcpy(oracle + IMG_SIZE - 3, odd + 16384, 3); /* the very end */
    dm_lock();
    blk_pwritev(b, 4096, &v1, 1, tb_wait_cb, &w1);
    tb_wait_for(&w1);
    blk_pwritev(b, 100, &v2, 1, tb_wait_cb, &w2);
    tb_wait_for(&w2);
    blk_pwritev(b, IMG_SIZE - 3, &v3, 1, tb_wait_cb, &w3);
    tb_wait_for(&w3);
    g_assert_cmpint(w1.ret, ==, 0);
    g_assert_cmpint(w2.ret, ==, 0);
    g_assert_cmpint(w3.ret, ==, 0);
    /* Read 20000 bytes from offset 7 into the odd buffer. */
    struct iovec rv = { odd, 20000 };
    blk_preadv(b, 7, &rv, 1, tb_wait_cb, &w4);
    tb_wait_for(&w4);
    dm_unlock();

    g_assert_cmpint(w4.ret, ==, 0);
    g_assert_cmpmem(odd, 20000, oracle + 7, 20000);
    blk_close(b);
    file = tb_read_file(p, &flen);
    g_assert_cmpuint(flen, ==, IMG_SIZE);
    g_assert_cmpmem(file, IMG_SIZE, oracle, IMG_SIZE);
    g_free(file);
    g_free(oracle);
    g_free(raw);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_block_cache_none_unaligned_uring(void)
{
    cache_none_unaligned(BLK_AIO_URING);
}

static void test_block_cache_none_unaligned_threads(void)
{
    cache_none_unaligned(BLK_AIO_THREADS);
}

static void test_block_raw_size_and_sync_helpers(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_raw(&d, "a.raw", 5);
    struct blk *b = tb_open(p, BLK_FORMAT_RAW, false);
    uint8_t buf[512], want[512];

    g_assert_cmpuint(blk_size(b), ==, IMG_SIZE);
    g_assert_cmpint(blk_get_format(b), ==, BLK_FORMAT_RAW);
    g_assert_false(blk_format_was_probed(b));
    tb_fill(want, sizeof(want), 6);
    g_assert_cmpint(blk_pwrite(b, 512, want, sizeof(want)), ==, 0);
    g_assert_cmpint(blk_flush_sync(b), ==, 0);
    g_assert_cmpint(blk_pread(b, 512, buf, sizeof(buf)), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), want, sizeof(want));
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_block_request_past_end_fails_einval(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_raw(&d, "a.raw", 0);
    struct blk *b = tb_open(p, BLK_FORMAT_RAW, false);
    uint8_t buf[1024];
    struct iovec v = { buf, sizeof(buf) };
    struct tb_wait w = { 0 };

    g_assert_cmpint(blk_pread(b, IMG_SIZE - 512, buf, sizeof(buf)), ==,
                    -EINVAL);
    g_assert_cmpint(blk_pwrite(b, UINT64_MAX - 10, buf, sizeof(buf)), ==,
                    -EINVAL);
    dm_lock();
    blk_preadv(b, IMG_SIZE, &v, 1, tb_wait_cb, &w);
    g_assert_false(w.done);
    tb_wait_for(&w);
    dm_unlock();
    g_assert_cmpint(w.ret, ==, -EINVAL);
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_block_read_only_refuses_writes(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_raw(&d, "a.raw", 4);
    struct blk *b = tb_open(p, BLK_FORMAT_RAW, true);
    uint8_t buf[512] = { 1 };
    struct iovec v = { buf, sizeof(buf) };
    struct tb_wait w = { 0 };

    g_assert_true(blk_is_read_only(b));
    g_assert_cmpint(blk_pwrite(b, 0, buf, sizeof(buf)), ==, -EROFS);
    dm_lock();
    blk_pwritev(b, 0, &v, 1, tb_wait_cb, &w);
    tb_wait_for(&w);
    dm_unlock();
    g_assert_cmpint(w.ret, ==, -EROFS);
    g_assert_cmpint(blk_pread(b, 0, buf, sizeof(buf)), ==, 0);
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_block_raw_discard_reads_zeros_and_frees_space(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_raw(&d, "a.raw", 8);
    struct blk *b = tb_open(p, BLK_FORMAT_RAW, false);
    uint8_t buf[65536], zero[65536] = { 0 };
    struct stat before, after;
    struct tb_wait w = { 0 };

    g_assert_cmpint(stat(p, &before), ==, 0);
    dm_lock();
    blk_discard(b, 128 * 1024, 256 * 1024, tb_wait_cb, &w);
    tb_wait_for(&w);
    dm_unlock();
    g_assert_cmpint(w.ret, ==, 0);
    g_assert_cmpint(blk_pread(b, 128 * 1024, buf, sizeof(buf)), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), zero, sizeof(zero));
    g_assert_cmpint(stat(p, &after), ==, 0);
    g_assert_cmpint(after.st_blocks, <, before.st_blocks);
    g_assert_cmpint(after.st_size, ==, IMG_SIZE);
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

static void test_block_open_missing_file_names_it(void)
{
    GError *err = NULL;
    struct blk *b = blk_open("/nonexistent/disk.img", NULL, &err);

    g_assert_null(b);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "/nonexistent/disk.img"));
    g_error_free(err);
}

static void test_block_parse_options(void)
{
    enum blk_format f;
    enum blk_cache c;
    GError *err = NULL;

    g_assert_true(blk_parse_format("qcow2", &f, NULL));
    g_assert_cmpint(f, ==, BLK_FORMAT_QCOW2);
    g_assert_true(blk_parse_cache("none", &c, NULL));
    g_assert_cmpint(c, ==, BLK_CACHE_NONE);
    g_assert_false(blk_parse_cache("fast", &c, &err));
    g_assert_nonnull(strstr(err->message, "cache=fast"));
    g_clear_error(&err);
    g_assert_false(blk_parse_format("qed", &f, &err));
    g_assert_nonnull(strstr(err->message, "format=qed"));
    g_clear_error(&err);
}

/* ---- probing --------------------------------------------------------------- */

static char *make_qcow2(struct tb_dir *d, const char *name)
{
    char *p = tb_path(d, name);
    TB_RUN("qemu-img", "create", "-q", "-f", "qcow2", p, "1M");
    return p;
}

static void test_block_probe_detects_qcow2(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_qcow2(&d, "a.qcow2");
    struct blk *b = tb_open(p, BLK_FORMAT_PROBE, true);

    g_assert_cmpint(blk_get_format(b), ==, BLK_FORMAT_QCOW2);
    g_assert_true(blk_format_was_probed(b));
    g_assert_cmpuint(blk_size(b), ==, 1 * DM_MiB);
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* Explicit format=raw on a file starting with a qcow2 header: the header is
 * guest data, the size is the file's. */
static void test_block_explicit_raw_keeps_qcow2_header_as_data(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_qcow2(&d, "a.qcow2");
    struct blk *b = tb_open(p, BLK_FORMAT_RAW, false);
    struct stat st;
    uint8_t buf[4];

    g_assert_cmpint(stat(p, &st), ==, 0);
    g_assert_cmpint(blk_get_format(b), ==, BLK_FORMAT_RAW);
    g_assert_cmpuint(blk_size(b), ==, (uint64_t)st.st_size);
    g_assert_cmpint(blk_pread(b, 0, buf, 4), ==, 0);
    g_assert_cmpmem(buf, 4, "QFI\xfb", 4);
    /* and the guest may rewrite it: the format was given */
    g_assert_cmpint(blk_pwrite(b, 0, "QFI\xfb", 4), ==, 0);
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

/* A raw image opened without a format is probed raw; the guest cannot make
 * it probe as qcow2 next time by writing a header (CVE-2008-2004). */
static void test_block_probed_raw_cannot_become_qcow2(void)
{
    struct tb_dir d;
    tb_dir_init(&d);
    char *p = make_raw(&d, "a.img", 0);
    struct blk *b = tb_open(p, BLK_FORMAT_PROBE, false);
    uint8_t hdr[512] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
    uint8_t data[512];
    struct iovec v = { hdr, sizeof(hdr) };
    struct iovec v2 = { hdr + 2, 2 };
    struct tb_wait w = { 0 }, w2 = { 0 };

    g_assert_cmpint(blk_get_format(b), ==, BLK_FORMAT_RAW);
    g_assert_true(blk_format_was_probed(b));
    g_assert_cmpint(blk_pwrite(b, 0, hdr, sizeof(hdr)), ==, -EPERM);
    dm_lock();
    blk_pwritev(b, 0, &v, 1, tb_wait_cb, &w);
    tb_wait_for(&w);
    g_assert_cmpint(w.ret, ==, -EPERM);
    /* completing the magic piecewise is refused too */
    g_assert_cmpint(blk_pwrite(b, 0, "QF", 2), ==, 0);
    blk_pwritev(b, 2, &v2, 1, tb_wait_cb, &w2);
    tb_wait_for(&w2);
    dm_unlock();
    g_assert_cmpint(w2.ret, ==, -EPERM);
    /* ordinary data in sector 0 is fine */
    tb_fill(data, sizeof(data), 12);
    data[0] = 0xeb;
    g_assert_cmpint(blk_pwrite(b, 0, data, sizeof(data)), ==, 0);
    blk_close(b);

    b = tb_open(p, BLK_FORMAT_PROBE, false);
    g_assert_cmpint(blk_get_format(b), ==, BLK_FORMAT_RAW);
    blk_close(b);
    g_free(p);
    tb_dir_cleanup(&d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dm_log_set_level(DM_LOG_ERROR); /* the probe warning is expected */
    g_test_add_func("/block/raw/async-io-uring", test_block_raw_async_io_uring);
    g_test_add_func("/block/raw/async-threads", test_block_raw_async_threads);
    g_test_add_func("/block/raw/many-in-flight",
                    test_block_raw_many_requests_in_flight);
    g_test_add_func("/block/raw/cache-none-unaligned-uring",
                    test_block_cache_none_unaligned_uring);
    g_test_add_func("/block/raw/cache-none-unaligned-threads",
                    test_block_cache_none_unaligned_threads);
    g_test_add_func("/block/raw/size-and-sync",
                    test_block_raw_size_and_sync_helpers);
    g_test_add_func("/block/raw/past-end-einval",
                    test_block_request_past_end_fails_einval);
    g_test_add_func("/block/raw/read-only",
                    test_block_read_only_refuses_writes);
    g_test_add_func("/block/raw/discard",
                    test_block_raw_discard_reads_zeros_and_frees_space);
    g_test_add_func("/block/open/missing-file",
                    test_block_open_missing_file_names_it);
    g_test_add_func("/block/parse-options", test_block_parse_options);
    g_test_add_func("/block/probe/qcow2", test_block_probe_detects_qcow2);
    g_test_add_func("/block/probe/explicit-raw",
                    test_block_explicit_raw_keeps_qcow2_header_as_data);
    g_test_add_func("/block/probe/raw-cannot-switch",
                    test_block_probed_raw_cannot_become_qcow2);
    return g_test_run();
}
