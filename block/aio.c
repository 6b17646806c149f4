/*
 * aio.c: where asynchronous block requests run and how they come back.
 *
 * Each opened image has an engine: io_uring (uring.c) for requests that map
 * straight onto the host file, and a pool of worker threads for everything
 * else (formats with metadata, read-modify-write under O_DIRECT) or when
 * io_uring is missing or fails at run time. Worker results are queued and a
 * bottom half completes them on the main loop with dm_lock held.
 */
#include <assert.h>

#include "hvmdm/log.h"
#include "hvmdm/main-loop.h"
#include "block-int.h"

#define BLK_AIO_MAX_WORKERS 4

struct blk_aio {
    struct blk *b;
    GThreadPool *pool;
    struct blk_uring *uring;
    struct dm_bh *bh;
    GMutex lock;          /* protects done */
    struct blk_req *done; /* finished by workers, newest first */
};

static void blk_aio_bh(void *opaque)
{
    struct blk_aio *a = opaque;
    struct blk_req *list, *rev = NULL;

    g_mutex_lock(&a->lock);
    list = a->done;
    a->done = NULL;
    g_mutex_unlock(&a->lock);
    /* Complete in submission order as far as the workers allow. */
    while (list) {
        struct blk_req *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        struct blk_req *next = rev->next;
        blk_req_complete(rev);
        rev = next;
    }
}

static void blk_aio_worker(void *data, void *user_data)
{
    struct blk_req *r = data;
    struct blk_aio *a = user_data;

    if (!r->preset) {
        blk_req_run(r);
    }
    g_mutex_lock(&a->lock);
    r->next = a->done;
    a->done = r;
    g_mutex_unlock(&a->lock);
    dm_bh_schedule(a->bh);
}

struct blk_aio *blk_aio_new(struct blk *b, enum blk_aio_mode mode)
{
    struct blk_aio *a = g_new0(struct blk_aio, 1);

    a->b = b;
    g_mutex_init(&a->lock);
    a->bh = dm_bh_new(blk_aio_bh, a);
    a->pool =
        g_thread_pool_new(blk_aio_worker, a, BLK_AIO_MAX_WORKERS, FALSE, NULL);
    if (mode != BLK_AIO_THREADS && b->drv->native_async) {
        a->uring = blk_uring_new(b->file.fd, blk_req_complete);
        if (!a->uring && mode == BLK_AIO_URING) {
            dm_warn("%s: io_uring unavailable, using worker threads",
                    b->filename);
        }
    }
    return a;
}

void blk_aio_free(struct blk_aio *a)
{
    g_thread_pool_free(a->pool, FALSE, TRUE);
    if (a->uring) {
        blk_uring_free(a->uring);
    }
    dm_bh_delete(a->bh);
    assert(!a->done);
    g_mutex_clear(&a->lock);
    g_free(a);
}

bool blk_aio_uses_uring(const struct blk_aio *a)
{
    return a->uring != NULL;
}

void blk_aio_submit(struct blk_aio *a, struct blk_req *r, bool native)
{
    if (native && a->uring && blk_uring_submit(a->uring, r)) {
        return;
    }
    g_thread_pool_push(a->pool, r, NULL);
}
