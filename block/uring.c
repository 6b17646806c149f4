/*
 * uring.c: block requests on io_uring (liburing), completed on the main loop.
 *
 * One ring per image. Requests are vectored reads and writes at their host
 * offset and datasync fsyncs; short transfers are resubmitted for the rest,
 * reads at the end of the file complete with zeros. The ring signals an
 * eventfd that the main loop watches. Left out: registered buffers and
 * files, SQPOLL (it would busy-poll a core).
 */
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hvmdm/log.h"
#include "hvmdm/main-loop.h"
#include "block-int.h"

#define BLK_URING_ENTRIES 128

struct blk_uring {
    struct io_uring ring;
    int fd;  /* the image file */
    int efd; /* completion eventfd */
    struct dm_fd_watch *watch;
    blk_uring_done_fn done;
    GMutex lock; /* submission side */
};

/* Queue R's remaining transfer; false if the ring has no room. */
static bool blk_uring_queue(struct blk_uring *u, struct blk_req *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

    if (!sqe) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
        if (!sqe) {
            return false;
        }
    }
    switch (r->op) {
    case BLK_OP_READ:
        io_uring_prep_readv(sqe, u->fd, r->iov, (unsigned)r->niov,
                            r->off + r->done);
        break;
    case BLK_OP_WRITE:
        io_uring_prep_writev(sqe, u->fd, r->iov, (unsigned)r->niov,
                             r->off + r->done);
        break;
    case BLK_OP_FLUSH:
        io_uring_prep_fsync(sqe, u->fd, IORING_FSYNC_DATASYNC);
        break;
    default:
        io_uring_prep_nop(sqe);
        break;
    }
    io_uring_sqe_set_data(sqe, r);
    return true;
}

bool blk_uring_submit(struct blk_uring *u, struct blk_req *r)
{
    bool ok;

    if (r->op == BLK_OP_FLUSH && r->b->file.no_flush) {
        return false; /* nothing to do: a worker completes it */
    }
    if (r->niov > IOV_MAX) {
        return false;
    }
    g_mutex_lock(&u->lock);
    ok = blk_uring_queue(u, r);
    if (ok) {
        io_uring_submit(&u->ring);
    }
    g_mutex_unlock(&u->lock);
    return ok;
}

/* Drop N transferred bytes from the front of R's vector. */
static void blk_uring_advance(struct blk_req *r, size_t n)
{
    int i = 0;

    r->done += n;
    while (i < r->niov && n >= r->iov[i].iov_len) {
        n -= r->iov[i].iov_len;
        i++;
    }
    memmove(r->iov, r->iov + i, sizeof(*r->iov) * (size_t)(r->niov - i));
    r->niov -= i;
    if (r->niov > 0) {
        r->iov[0].iov_base = (char *)r->iov[0].iov_base + n;
        r->iov[0].iov_len -= n;
    }
}

/* A completion: finished, or resubmitted for the rest of a short transfer.
 * Returns R when it is finished. */
static struct blk_req *blk_uring_result(struct blk_uring *u, struct blk_req *r,
                                        int res)
{
    if (res < 0) {
        if (res == -EAGAIN || res == -EINTR) {
            goto resubmit;
        }
        r->ret = res;
        return r;
    }
    if (r->op == BLK_OP_FLUSH) {
        r->ret = 0;
        return r;
    }
    if (res == 0) {
        if (r->op == BLK_OP_WRITE) {
            r->ret = -EIO;
            return r;
        }
        blk_iov_memset(r->iov, r->niov, 0, 0, blk_iov_size(r->iov, r->niov));
        r->ret = 0;
        return r;
    }
    blk_uring_advance(r, (size_t)res);
    if (r->niov == 0) {
        r->ret = 0;
        return r;
    }
    if (r->b->file.direct && r->op == BLK_OP_READ) {
        /* Short O_DIRECT read: the end of the file. */
        blk_iov_memset(r->iov, r->niov, 0, 0, blk_iov_size(r->iov, r->niov));
        r->ret = 0;
        return r;
    }
resubmit:
    g_mutex_lock(&u->lock);
    if (!blk_uring_queue(u, r)) {
        g_mutex_unlock(&u->lock);
        r->ret = -EIO;
        return r;
    }
    io_uring_submit(&u->ring);
    g_mutex_unlock(&u->lock);
    return NULL;
}

static void blk_uring_event(void *opaque, int fd, GIOCondition cond)
{
    struct blk_uring *u = opaque;
    struct io_uring_cqe *cqe;
    uint64_t cnt;

    if (read(u->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN) {
        dm_warn("block: io_uring eventfd read: %s", g_strerror(errno));
    }
    for (;;) {
        struct blk_req *r;
        int res;

        g_mutex_lock(&u->lock);
        if (io_uring_peek_cqe(&u->ring, &cqe) != 0) {
            g_mutex_unlock(&u->lock);
            break;
        }
        r = io_uring_cqe_get_data(cqe);
        res = cqe->res;
        io_uring_cqe_seen(&u->ring, cqe);
        g_mutex_unlock(&u->lock);
        r = blk_uring_result(u, r, res);
        if (r) {
            u->done(r);
        }
    }
}

struct blk_uring *blk_uring_new(int fd, blk_uring_done_fn done)
{
    struct blk_uring *u = g_new0(struct blk_uring, 1);
    int ret;

    ret = io_uring_queue_init(BLK_URING_ENTRIES, &u->ring, 0);
    if (ret < 0) {
        dm_info("block: io_uring_queue_init: %s", g_strerror(-ret));
        g_free(u);
        return NULL;
    }
    u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (u->efd < 0 || io_uring_register_eventfd(&u->ring, u->efd) < 0) {
        if (u->efd >= 0) {
            close(u->efd);
        }
        io_uring_queue_exit(&u->ring);
        g_free(u);
        return NULL;
    }
    u->fd = fd;
    u->done = done;
    g_mutex_init(&u->lock);
    u->watch = dm_fd_watch_add(u->efd, G_IO_IN, blk_uring_event, u);
    return u;
}

void blk_uring_free(struct blk_uring *u)
{
    dm_fd_watch_remove(u->watch);
    io_uring_queue_exit(&u->ring);
    close(u->efd);
    g_mutex_clear(&u->lock);
    g_free(u);
}
