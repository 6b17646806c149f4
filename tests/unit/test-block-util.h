/*
 * test-block-util.h: helpers shared by the block layer tests: a scratch
 * directory per test, running qemu-img / qemu-io (the referee), raw oracle
 * files, and waiting for asynchronous completions on the main loop.
 */
#ifndef HVMDM_TEST_BLOCK_UTIL_H
#define HVMDM_TEST_BLOCK_UTIL_H

#include <glib/gstdio.h>
#include <sys/wait.h>

#include "hvmdm/block.h"
#include "hvmdm/main-loop.h"

struct tb_dir {
    char *path;
};

static inline void tb_dir_init(struct tb_dir *d)
{
    GError *err = NULL;
    d->path = g_dir_make_tmp("hvmdm-block-XXXXXX", &err);
    g_assert_no_error(err);
}

static inline char *tb_path(struct tb_dir *d, const char *name)
{
    return g_build_filename(d->path, name, NULL);
}

static inline void tb_dir_cleanup(struct tb_dir *d)
{
    GDir *dir = g_dir_open(d->path, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        char *p = tb_path(d, name);
        g_unlink(p);
        g_free(p);
    }
    if (dir) {
        g_dir_close(dir);
    }
    g_rmdir(d->path);
    g_free(d->path);
}

/* Run ARGV (NULL-terminated); returns the exit status, output in *OUT. */
static inline int tb_run(const char *const *argv, char **out)
{
    GError *err = NULL;
    char *so = NULL, *se = NULL;
    int status = -1;

    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                 &so, &se, &status, &err);
    g_assert_no_error(err);
    if (out) {
        *out = g_strconcat(so, se, NULL);
    }
    g_free(so);
    g_free(se);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Run a command that must succeed. */
#define TB_RUN(...)                                                  \
    do {                                                             \
        const char *const argv_[] = { __VA_ARGS__, NULL };           \
        char *out_ = NULL;                                           \
        int st_ = tb_run(argv_, &out_);                              \
        if (st_ != 0) {                                              \
            g_test_message("%s exited %d: %s", argv_[0], st_, out_); \
        }                                                            \
        g_assert_cmpint(st_, ==, 0);                                 \
        g_free(out_);                                                \
    } while (0)

/* qemu-img check: 0 clean, 3 leaks only, 2 corrupt. */
static inline int tb_qemu_img_check(const char *img, char **out)
{
    const char *argv[] = { "qemu-img", "check", "-f", "qcow2", img, NULL };
    return tb_run(argv, out);
}

static inline void tb_assert_check_clean(const char *img)
{
    char *out = NULL;
    int st = tb_qemu_img_check(img, &out);
    if (st != 0) {
        g_test_message("qemu-img check %s: %s", img, out);
    }
    g_assert_cmpint(st, ==, 0);
    g_free(out);
}

static inline void tb_assert_same_as_raw(const char *img, const char *raw)
{
    char *out = NULL;
    const char *argv[] = { "qemu-img", "compare", "-F", "raw", img, raw, NULL };
    int st = tb_run(argv, &out);
    if (st != 0) {
        g_test_message("qemu-img compare: %s", out);
    }
    g_assert_cmpint(st, ==, 0);
    g_free(out);
}

static inline void tb_write_file(const char *path, const void *buf, size_t len)
{
    GError *err = NULL;
    g_file_set_contents(path, buf, (gssize)len, &err);
    g_assert_no_error(err);
}

static inline uint8_t *tb_read_file(const char *path, size_t *len)
{
    GError *err = NULL;
    char *buf = NULL;
    gsize n = 0;
    g_file_get_contents(path, &buf, &n, &err);
    g_assert_no_error(err);
    *len = n;
    return (uint8_t *)buf;
}

/* Deterministic test data: byte I of a pattern seeded with SEED. */
static inline void tb_fill(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

static inline struct blk *tb_open(const char *path, enum blk_format fmt,
                                  bool ro)
{
    GError *err = NULL;
    struct blk_opts o = { .format = fmt, .read_only = ro };
    struct blk *b = blk_open(path, &o, &err);
    g_assert_no_error(err);
    g_assert_nonnull(b);
    return b;
}

/* Waiting for one asynchronous request. */
struct tb_wait {
    bool done;
    int ret;
    bool lock_held;
};

static inline void tb_wait_cb(void *opaque, int ret)
{
    struct tb_wait *w = opaque;
    w->done = true;
    w->ret = ret;
    w->lock_held = dm_lock_held();
}

static inline void tb_wait_for(struct tb_wait *w)
{
    for (int i = 0; i < 100000 && !w->done; i++) {
        dm_main_loop_iterate(true);
    }
    g_assert_true(w->done);
}

#endif
