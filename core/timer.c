/*
 * timer.c: the machine clock and its timers.
 *
 * Each clock keeps its pending timers in one list sorted by deadline. A real
 * clock counts CLOCK_MONOTONIC nanoseconds from its creation and owns one
 * timerfd on the main loop, armed (absolute time) only for the earliest
 * deadline and disarmed when nothing is pending, so an idle guest causes no
 * wakeups. A manual clock (qtest) moves only in dm_clock_set/step, which run
 * the due timers in deadline order with the clock reading each one's deadline.
 * Callbacks run with dm_lock held and may modify any timer, themselves too.
 */
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hvmdm/log.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/timer.h"

/* Callbacks run per timerfd wakeup at most; a timer that keeps re-arming in
 * the past then yields to the rest of the main loop. */
#define DM_TIMER_MAX_RUN 1000

struct dm_clock {
    bool manual;
    int64_t now;           /* manual: the current time */
    int64_t start;         /* real: CLOCK_MONOTONIC ns at creation */
    int64_t host_offset;   /* added to the host wall clock */
    int64_t host_base;     /* manual: host wall time when the clock began */
    struct dm_timer *head; /* pending timers, earliest first */
    int tfd;               /* real: the timerfd, -1 for manual */
    struct dm_fd_watch *watch;
    int64_t armed;         /* deadline the timerfd is armed for, or -1 */
    bool running;          /* real: in dm_clock_run_due, re-arm after */
};

static int64_t dm_monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void dm_clock_rearm(struct dm_clock *c)
{
    int64_t d = c->head ? c->head->deadline : -1;
    struct itimerspec its = { { 0, 0 }, { 0, 0 } };
    int64_t abs_ns;

    if (c->manual || c->running || d == c->armed) {
        return;
    }
    if (d >= 0) {
        /* Absolute expiry; 0 would disarm, so never below 1 ns. */
        abs_ns = d > INT64_MAX - c->start ? INT64_MAX : c->start + d;
        if (abs_ns < 1) {
            abs_ns = 1;
        }
        its.it_value.tv_sec = abs_ns / 1000000000;
        its.it_value.tv_nsec = abs_ns % 1000000000;
    }
    if (timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        dm_error_report("timer: timerfd_settime: %s", g_strerror(errno));
        return;
    }
    c->armed = d;
}

/* Run every timer due at NOW (real clocks). */
static void dm_clock_run_due(struct dm_clock *c, int64_t now)
{
    for (int n = 0; n < DM_TIMER_MAX_RUN; n++) {
        struct dm_timer *t = c->head;

        if (!t || t->deadline > now) {
            break;
        }
        c->head = t->next;
        t->next = NULL;
        t->deadline = -1;
        t->fn(t->opaque);
    }
}

static void dm_clock_timerfd_ready(void *opaque, int fd, GIOCondition cond)
{
    struct dm_clock *c = opaque;
    uint64_t expirations;

    /* Non-blocking: EAGAIN when it was re-armed since it fired. */
    if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN) {
        dm_error_report("timer: timerfd read: %s", g_strerror(errno));
    }
    c->armed = -1;
    c->running = true;
    dm_clock_run_due(c, dm_clock_now(c));
    c->running = false;
    dm_clock_rearm(c);
}

struct dm_clock *dm_clock_new(bool manual)
{
    struct dm_clock *c = g_new0(struct dm_clock, 1);

    c->manual = manual;
    c->armed = -1;
    c->tfd = -1;
    c->host_base = g_get_real_time() * 1000;
    if (!manual) {
        c->start = dm_monotonic_ns();
        c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (c->tfd < 0) {
            /* Only under fd exhaustion; nothing sensible can run then. */
            g_error("timer: timerfd_create: %s", g_strerror(errno));
        }
        c->watch = dm_fd_watch_add(c->tfd, G_IO_IN, dm_clock_timerfd_ready, c);
    }
    return c;
}

void dm_clock_free(struct dm_clock *c)
{
    if (!c) {
        return;
    }
    for (struct dm_timer *t = c->head, *next; t; t = next) {
        next = t->next;
        t->next = NULL;
        t->deadline = -1;
    }
    if (c->watch) {
        dm_fd_watch_remove(c->watch);
    }
    if (c->tfd >= 0) {
        close(c->tfd);
    }
    g_free(c);
}

int64_t dm_clock_now(struct dm_clock *c)
{
    return c->manual ? c->now : dm_monotonic_ns() - c->start;
}

bool dm_clock_is_manual(struct dm_clock *c)
{
    return c->manual;
}

void dm_clock_set(struct dm_clock *c, int64_t ns)
{
    struct dm_timer *t;

    g_return_if_fail(c->manual);
    while ((t = c->head) && t->deadline <= ns) {
        c->head = t->next;
        t->next = NULL;
        if (t->deadline > c->now) {
            c->now = t->deadline;
        }
        t->deadline = -1;
        t->fn(t->opaque);
    }
    if (ns > c->now) {
        c->now = ns;
    }
}

void dm_clock_step(struct dm_clock *c, int64_t delta_ns)
{
    g_return_if_fail(c->manual);
    if (delta_ns < 0) {
        return;
    }
    dm_clock_set(c, delta_ns > INT64_MAX - c->now ? INT64_MAX
                                                   : c->now + delta_ns);
}

int64_t dm_clock_next_deadline(struct dm_clock *c)
{
    return c->head ? c->head->deadline : -1;
}

int64_t dm_clock_host_now(struct dm_clock *c)
{
    /* A manual clock's wall time moves with the clock, not with the host,
     * so a qtest machine is deterministic. */
    if (c->manual) {
        return c->host_base + c->now + c->host_offset;
    }
    return g_get_real_time() * 1000 + c->host_offset;
}

void dm_clock_set_host_offset(struct dm_clock *c, int64_t offset_ns)
{
    c->host_offset = offset_ns;
}

void dm_timer_init(struct dm_timer *t, struct dm_clock *c, dm_timer_fn fn,
                   void *opaque)
{
    t->clock = c;
    t->fn = fn;
    t->opaque = opaque;
    t->deadline = -1;
    t->next = NULL;
}

/* Take T out of its clock's list if it is there. */
static void dm_timer_unlink(struct dm_timer *t)
{
    struct dm_timer **pp;

    if (t->deadline < 0) {
        return;
    }
    for (pp = &t->clock->head; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->next = NULL;
    t->deadline = -1;
}

void dm_timer_mod(struct dm_timer *t, int64_t deadline_ns)
{
    struct dm_clock *c = t->clock;
    struct dm_timer **pp;

    dm_timer_unlink(t);
    if (deadline_ns < 0) {
        deadline_ns = 0;
    }
    /* After timers with the same deadline: they fire in arming order. */
    for (pp = &c->head; *pp && (*pp)->deadline <= deadline_ns;
         pp = &(*pp)->next) {
    }
    t->deadline = deadline_ns;
    t->next = *pp;
    *pp = t;
    dm_clock_rearm(c);
}

void dm_timer_del(struct dm_timer *t)
{
    if (t->deadline < 0) {
        return;
    }
    dm_timer_unlink(t);
    dm_clock_rearm(t->clock);
}

bool dm_timer_pending(const struct dm_timer *t)
{
    return t->deadline >= 0;
}
