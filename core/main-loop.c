/*
 * main-loop.c: the big lock, bottom halves, fd watches and one main-loop
 * iteration on GLib's default GMainContext.
 *
 * dm_main_loop_iterate runs the context by hand (acquire, prepare, query,
 * poll, check, dispatch) so that dm_lock is released only while the thread
 * sleeps in poll and is held while sources dispatch. Bottom halves and fd
 * watches are GSources; a bottom half is scheduled by setting its ready time,
 * which GLib makes safe from any thread (it wakes the poll). The lock is
 * process-wide by design: it serialises all device code of all machines.
 */
#include <glib-unix.h>

#include "hvmdm/main-loop.h"

static GMutex dm_big_lock;
static GThread *dm_big_lock_owner;  /* atomic */

void dm_lock(void)
{
    g_mutex_lock(&dm_big_lock);
    __atomic_store_n(&dm_big_lock_owner, g_thread_self(), __ATOMIC_RELAXED);
}

void dm_unlock(void)
{
    g_assert(dm_lock_held());
    __atomic_store_n(&dm_big_lock_owner, NULL, __ATOMIC_RELAXED);
    g_mutex_unlock(&dm_big_lock);
}

bool dm_lock_held(void)
{
    return __atomic_load_n(&dm_big_lock_owner, __ATOMIC_RELAXED) ==
           g_thread_self();
}

/*
 * Sources may be dispatched by someone else's loop (a test calling
 * g_main_context_iteration): take the lock around callbacks if the
 * dispatching thread does not hold it already.
 */
static bool dm_lock_for_dispatch(void)
{
    if (dm_lock_held()) {
        return false;
    }
    dm_lock();
    return true;
}

/* ---- bottom halves ------------------------------------------------------ */

struct dm_bh {
    GSource source;
    dm_bh_fn fn;
    void *opaque;
};

static gboolean dm_bh_dispatch(GSource *source, GSourceFunc unused,
                               gpointer unused_data)
{
    struct dm_bh *bh = (struct dm_bh *)source;
    bool took = dm_lock_for_dispatch();

    /* Clear before the call so the callback may schedule itself again. */
    g_source_set_ready_time(source, -1);
    bh->fn(bh->opaque);
    if (took) {
        dm_unlock();
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs dm_bh_funcs = {
    .dispatch = dm_bh_dispatch,
};

struct dm_bh *dm_bh_new(dm_bh_fn fn, void *opaque)
{
    struct dm_bh *bh =
        (struct dm_bh *)g_source_new(&dm_bh_funcs, sizeof(struct dm_bh));

    bh->fn = fn;
    bh->opaque = opaque;
    g_source_set_name(&bh->source, "dm_bh");
    g_source_attach(&bh->source, NULL);
    return bh;
}

void dm_bh_schedule(struct dm_bh *bh)
{
    g_source_set_ready_time(&bh->source, 0);
}

void dm_bh_cancel(struct dm_bh *bh)
{
    g_source_set_ready_time(&bh->source, -1);
}

void dm_bh_delete(struct dm_bh *bh)
{
    if (!bh) {
        return;
    }
    g_source_destroy(&bh->source);
    g_source_unref(&bh->source);
}

/* ---- fd watches --------------------------------------------------------- */

struct dm_fd_watch {
    GSource source;
    int fd;
    GIOCondition events;
    gpointer tag;  /* NULL while EVENTS is 0: the fd is not polled at all */
    dm_fd_fn fn;
    void *opaque;
};

static gboolean dm_fd_watch_dispatch(GSource *source, GSourceFunc unused,
                                     gpointer unused_data)
{
    struct dm_fd_watch *w = (struct dm_fd_watch *)source;
    GIOCondition cond;
    bool took;

    if (!w->tag) {
        return G_SOURCE_CONTINUE;
    }
    cond = g_source_query_unix_fd(source, w->tag);
    if (!cond) {
        return G_SOURCE_CONTINUE;
    }
    took = dm_lock_for_dispatch();
    w->fn(w->opaque, w->fd, cond);
    if (took) {
        dm_unlock();
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs dm_fd_watch_funcs = {
    .dispatch = dm_fd_watch_dispatch,
};

struct dm_fd_watch *dm_fd_watch_add(int fd, GIOCondition events, dm_fd_fn fn,
                                    void *opaque)
{
    struct dm_fd_watch *w = (struct dm_fd_watch *)g_source_new(
        &dm_fd_watch_funcs, sizeof(struct dm_fd_watch));

    w->fd = fd;
    w->fn = fn;
    w->opaque = opaque;
    g_source_set_name(&w->source, "dm_fd_watch");
    dm_fd_watch_set_events(w, events);
    g_source_attach(&w->source, NULL);
    return w;
}

void dm_fd_watch_set_events(struct dm_fd_watch *w, GIOCondition events)
{
    if (w->tag && events == w->events) {
        return;
    }
    w->events = events;
    if (!events) {
        if (w->tag) {
            g_source_remove_unix_fd(&w->source, w->tag);
            w->tag = NULL;
        }
    } else if (w->tag) {
        g_source_modify_unix_fd(&w->source, w->tag, events);
    } else {
        w->tag = g_source_add_unix_fd(&w->source, w->fd, events);
    }
}

void dm_fd_watch_remove(struct dm_fd_watch *w)
{
    if (!w) {
        return;
    }
    g_source_destroy(&w->source);
    g_source_unref(&w->source);
}

/* ---- the loop ----------------------------------------------------------- */

#define DM_POLL_FDS_ON_STACK 64

bool dm_main_loop_iterate(bool blocking)
{
    GMainContext *ctx = g_main_context_default();
    GPollFD stack_fds[DM_POLL_FDS_ON_STACK];
    GPollFD *fds = stack_fds;
    gint nalloc = DM_POLL_FDS_ON_STACK;
    gint max_priority, timeout, nfds;
    bool took = !dm_lock_held();
    bool dispatched = false;

    if (took) {
        dm_lock();
    }
    if (!g_main_context_acquire(ctx)) {
        /* Another thread runs the context; nothing for us to do. */
        goto out;
    }
    g_main_context_prepare(ctx, &max_priority);
    while ((nfds = g_main_context_query(ctx, max_priority, &timeout, fds,
                                        nalloc)) > nalloc) {
        if (fds != stack_fds) {
            g_free(fds);
        }
        nalloc = nfds;
        fds = g_new(GPollFD, nalloc);
    }
    if (!blocking) {
        timeout = 0;
    }

    dm_unlock();
    g_main_context_get_poll_func(ctx)(fds, nfds, timeout);
    dm_lock();

    if (g_main_context_check(ctx, max_priority, fds, nfds)) {
        g_main_context_dispatch(ctx);
        dispatched = true;
    }
    g_main_context_release(ctx);
    if (fds != stack_fds) {
        g_free(fds);
    }
out:
    if (took) {
        dm_unlock();
    }
    return dispatched;
}

void dm_main_loop_wakeup(void)
{
    g_main_context_wakeup(g_main_context_default());
}
