/*
 * test-main-loop.c: the big lock, bottom halves and fd watches
 * (core/main-loop.c) driven through dm_main_loop_iterate.
 */
#include <unistd.h>

#include "hvmdm/main-loop.h"

struct bh_probe {
    unsigned runs;
    bool lock_held_in_bh;
};

static void bh_count(void *opaque)
{
    struct bh_probe *p = opaque;

    p->runs++;
    p->lock_held_in_bh = dm_lock_held();
}

/* Run non-blocking iterations until nothing more is dispatched. */
static void drain(void)
{
    for (int i = 0; i < 100 && dm_main_loop_iterate(false); i++) {
    }
}

static void test_main_loop_lock_held_tracks_owner(void)
{
    g_assert_false(dm_lock_held());
    dm_lock();
    g_assert_true(dm_lock_held());
    dm_unlock();
    g_assert_false(dm_lock_held());
}

static void test_main_loop_bh_scheduled_twice_runs_once(void)
{
    struct bh_probe p = { 0 };
    struct dm_bh *bh = dm_bh_new(bh_count, &p);

    dm_lock();
    dm_bh_schedule(bh);
    dm_bh_schedule(bh);
    drain();

    g_assert_cmpuint(p.runs, ==, 1);
    g_assert_true(p.lock_held_in_bh);
    dm_unlock();
    dm_bh_delete(bh);
}

static void test_main_loop_cancelled_bh_does_not_run(void)
{
    struct bh_probe p = { 0 };
    struct dm_bh *bh = dm_bh_new(bh_count, &p);

    dm_lock();
    dm_bh_schedule(bh);
    dm_bh_cancel(bh);
    drain();

    g_assert_cmpuint(p.runs, ==, 0);
    dm_unlock();
    dm_bh_delete(bh);
}

struct self_bh {
    struct dm_bh *bh;
    unsigned runs;
};

static void bh_reschedule_once(void *opaque)
{
    struct self_bh *s = opaque;

    if (++s->runs == 1) {
        dm_bh_schedule(s->bh);
    }
}

static void test_main_loop_bh_may_reschedule_itself(void)
{
    struct self_bh s = { 0 };

    s.bh = dm_bh_new(bh_reschedule_once, &s);
    dm_lock();
    dm_bh_schedule(s.bh);
    drain();

    g_assert_cmpuint(s.runs, ==, 2);
    dm_unlock();
    dm_bh_delete(s.bh);
}

struct thread_arg {
    struct dm_bh *bh;
    bool touched_under_lock;
};

/* A vCPU-like thread: takes the big lock (possible only while the main
 * thread sleeps in poll), then schedules the bottom half. */
static gpointer schedule_from_thread(gpointer opaque)
{
    struct thread_arg *a = opaque;

    dm_lock();
    a->touched_under_lock = true;
    dm_bh_schedule(a->bh);
    dm_unlock();
    return NULL;
}

static void test_main_loop_bh_from_other_thread_runs_on_loop(void)
{
    struct bh_probe p = { 0 };
    struct thread_arg a = { .bh = dm_bh_new(bh_count, &p) };
    GThread *t;

    dm_lock();
    t = g_thread_new("vcpu", schedule_from_thread, &a);
    while (p.runs == 0) {
        dm_main_loop_iterate(true);
    }
    g_thread_join(t);

    g_assert_true(a.touched_under_lock);
    g_assert_cmpuint(p.runs, ==, 1);
    g_assert_true(p.lock_held_in_bh);
    dm_unlock();
    dm_bh_delete(a.bh);
}

struct fd_probe {
    unsigned calls;
    GIOCondition last;
    char got;
};

static void fd_ready(void *opaque, int fd, GIOCondition cond)
{
    struct fd_probe *p = opaque;

    p->calls++;
    p->last = cond;
    if (cond & G_IO_IN) {
        g_assert_cmpint(read(fd, &p->got, 1), ==, 1);
    }
}

static void test_main_loop_fd_watch_reports_readable(void)
{
    struct fd_probe p = { 0 };
    struct dm_fd_watch *w;
    int fds[2];

    g_assert_cmpint(pipe(fds), ==, 0);
    w = dm_fd_watch_add(fds[0], G_IO_IN, fd_ready, &p);
    dm_lock();
    drain();
    g_assert_cmpuint(p.calls, ==, 0);

    g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
    while (p.calls == 0) {
        dm_main_loop_iterate(true);
    }

    g_assert_true(p.last & G_IO_IN);
    g_assert_cmpint(p.got, ==, 'x');
    dm_unlock();
    dm_fd_watch_remove(w);
    close(fds[0]);
    close(fds[1]);
}

static void test_main_loop_fd_watch_events_can_pause_and_resume(void)
{
    struct fd_probe p = { 0 };
    struct dm_fd_watch *w;
    int fds[2];

    g_assert_cmpint(pipe(fds), ==, 0);
    w = dm_fd_watch_add(fds[0], G_IO_IN, fd_ready, &p);
    dm_lock();
    dm_fd_watch_set_events(w, 0);
    g_assert_cmpint(write(fds[1], "y", 1), ==, 1);

    drain();
    g_assert_cmpuint(p.calls, ==, 0);

    dm_fd_watch_set_events(w, G_IO_IN);
    while (p.calls == 0) {
        dm_main_loop_iterate(true);
    }

    g_assert_cmpint(p.got, ==, 'y');
    dm_unlock();
    dm_fd_watch_remove(w);
    close(fds[0]);
    close(fds[1]);
}

static void test_main_loop_fd_watch_removed_stops_callbacks(void)
{
    struct fd_probe p = { 0 };
    struct dm_fd_watch *w;
    int fds[2];

    g_assert_cmpint(pipe(fds), ==, 0);
    w = dm_fd_watch_add(fds[0], G_IO_IN, fd_ready, &p);
    dm_lock();
    dm_fd_watch_remove(w);
    g_assert_cmpint(write(fds[1], "z", 1), ==, 1);

    drain();

    g_assert_cmpuint(p.calls, ==, 0);
    dm_unlock();
    close(fds[0]);
    close(fds[1]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/main-loop/lock-held-tracks-owner",
                    test_main_loop_lock_held_tracks_owner);
    g_test_add_func("/main-loop/bh-scheduled-twice-runs-once",
                    test_main_loop_bh_scheduled_twice_runs_once);
    g_test_add_func("/main-loop/cancelled-bh-does-not-run",
                    test_main_loop_cancelled_bh_does_not_run);
    g_test_add_func("/main-loop/bh-may-reschedule-itself",
                    test_main_loop_bh_may_reschedule_itself);
    g_test_add_func("/main-loop/bh-from-other-thread-runs-on-loop",
                    test_main_loop_bh_from_other_thread_runs_on_loop);
    g_test_add_func("/main-loop/fd-watch-reports-readable",
                    test_main_loop_fd_watch_reports_readable);
    g_test_add_func("/main-loop/fd-watch-events-can-pause-and-resume",
                    test_main_loop_fd_watch_events_can_pause_and_resume);
    g_test_add_func("/main-loop/fd-watch-removed-stops-callbacks",
                    test_main_loop_fd_watch_removed_stops_callbacks);
    return g_test_run();
}
