/*
 * test-timer.c: the machine clock (core/timer.c): manual clock ordering and
 * timers re-armed or deleted from callbacks, the real clock firing through
 * the main loop, host time offset.
 */
#include "hvmdm/main-loop.h"
#include "hvmdm/timer.h"

#define MS 1000000ll  /* ns */

/* Records which timer fired and at what clock time. */
struct fire_log {
    struct dm_clock *clock;
    int order[16];
    int64_t at[16];
    unsigned n;
};

struct probe {
    struct dm_timer t;
    struct fire_log *log;
    int tag;
    int64_t period;            /* re-arm by this much if > 0 */
    unsigned remaining;        /* re-arms left */
    struct dm_timer *victim;   /* deleted when this fires, if set */
};

static void probe_fired(void *opaque)
{
    struct probe *p = opaque;
    struct fire_log *log = p->log;

    if (log->n < DM_ARRAY_SIZE(log->order)) {
        log->order[log->n] = p->tag;
        log->at[log->n] = dm_clock_now(log->clock);
        log->n++;
    }
    if (p->victim) {
        dm_timer_del(p->victim);
    }
    if (p->period > 0 && p->remaining > 0) {
        p->remaining--;
        dm_timer_mod(&p->t, dm_clock_now(log->clock) + p->period);
    }
}

static void probe_init(struct probe *p, struct fire_log *log, int tag)
{
    memset(p, 0, sizeof(*p));
    p->log = log;
    p->tag = tag;
    dm_timer_init(&p->t, log->clock, probe_fired, p);
}

static void test_timer_manual_clock_runs_in_deadline_order(void)
{
    struct fire_log log = { .clock = dm_clock_new(true) };
    struct probe a, b, c;

    probe_init(&a, &log, 1);
    probe_init(&b, &log, 2);
    probe_init(&c, &log, 3);
    dm_timer_mod(&a.t, 30 * MS);
    dm_timer_mod(&b.t, 10 * MS);
    dm_timer_mod(&c.t, 20 * MS);

    dm_clock_step(log.clock, 25 * MS);

    g_assert_cmpuint(log.n, ==, 2);
    g_assert_cmpint(log.order[0], ==, 2);
    g_assert_cmpint(log.at[0], ==, 10 * MS);
    g_assert_cmpint(log.order[1], ==, 3);
    g_assert_cmpint(log.at[1], ==, 20 * MS);
    g_assert_cmpint(dm_clock_now(log.clock), ==, 25 * MS);
    g_assert_true(dm_timer_pending(&a.t));
    g_assert_cmpint(dm_clock_next_deadline(log.clock), ==, 30 * MS);
    dm_clock_free(log.clock);
}

static void test_timer_rearm_from_callback_fires_each_period(void)
{
    struct fire_log log = { .clock = dm_clock_new(true) };
    struct probe p;

    probe_init(&p, &log, 1);
    p.period = 10 * MS;
    p.remaining = 100;
    dm_timer_mod(&p.t, 10 * MS);

    dm_clock_set(log.clock, 35 * MS);

    g_assert_cmpuint(log.n, ==, 3);
    g_assert_cmpint(log.at[0], ==, 10 * MS);
    g_assert_cmpint(log.at[1], ==, 20 * MS);
    g_assert_cmpint(log.at[2], ==, 30 * MS);
    g_assert_cmpint(dm_timer_pending(&p.t) ? p.t.deadline : -1, ==, 40 * MS);
    dm_timer_del(&p.t);
    g_assert_cmpint(dm_clock_next_deadline(log.clock), ==, -1);
    dm_clock_free(log.clock);
}

static void test_timer_callback_deletes_another_timer(void)
{
    struct fire_log log = { .clock = dm_clock_new(true) };
    struct probe killer, victim;

    probe_init(&killer, &log, 1);
    probe_init(&victim, &log, 2);
    killer.victim = &victim.t;
    dm_timer_mod(&killer.t, 5 * MS);
    dm_timer_mod(&victim.t, 6 * MS);

    dm_clock_step(log.clock, 10 * MS);

    g_assert_cmpuint(log.n, ==, 1);
    g_assert_cmpint(log.order[0], ==, 1);
    g_assert_false(dm_timer_pending(&victim.t));
    dm_clock_free(log.clock);
}

static void test_timer_equal_deadlines_fire_in_arming_order(void)
{
    struct fire_log log = { .clock = dm_clock_new(true) };
    struct probe a, b;

    probe_init(&a, &log, 1);
    probe_init(&b, &log, 2);
    dm_timer_mod(&a.t, 7 * MS);
    dm_timer_mod(&b.t, 7 * MS);

    dm_clock_step(log.clock, 7 * MS);

    g_assert_cmpuint(log.n, ==, 2);
    g_assert_cmpint(log.order[0], ==, 1);
    g_assert_cmpint(log.order[1], ==, 2);
    dm_clock_free(log.clock);
}

static void test_timer_mod_moves_pending_timer(void)
{
    struct fire_log log = { .clock = dm_clock_new(true) };
    struct probe p;

    probe_init(&p, &log, 1);
    dm_timer_mod(&p.t, 5 * MS);
    dm_timer_mod(&p.t, 50 * MS);

    dm_clock_step(log.clock, 10 * MS);
    g_assert_cmpuint(log.n, ==, 0);
    dm_clock_step(log.clock, 40 * MS);

    g_assert_cmpuint(log.n, ==, 1);
    g_assert_cmpint(log.at[0], ==, 50 * MS);
    dm_clock_free(log.clock);
}

static void test_timer_real_clock_fires_through_main_loop(void)
{
    struct fire_log log = { .clock = dm_clock_new(false) };
    struct probe p;

    probe_init(&p, &log, 1);
    dm_lock();
    dm_timer_mod(&p.t, dm_clock_now(log.clock) + 1 * MS);

    /* Blocking iterations: the only wakeup source is the timerfd. */
    while (log.n == 0) {
        dm_main_loop_iterate(true);
    }

    g_assert_cmpuint(log.n, ==, 1);
    g_assert_cmpint(log.at[0], >=, p.t.deadline);
    g_assert_false(dm_timer_pending(&p.t));
    g_assert_cmpint(dm_clock_next_deadline(log.clock), ==, -1);
    dm_unlock();
    dm_clock_free(log.clock);
}

static void test_timer_real_clock_runs_rearmed_and_deleted_timers(void)
{
    struct fire_log log = { .clock = dm_clock_new(false) };
    struct probe periodic, killer, victim;
    int64_t now;

    probe_init(&periodic, &log, 1);
    probe_init(&killer, &log, 2);
    probe_init(&victim, &log, 3);
    periodic.period = 1 * MS;
    periodic.remaining = 2;
    killer.victim = &victim.t;
    dm_lock();
    now = dm_clock_now(log.clock);
    dm_timer_mod(&periodic.t, now + 1 * MS);
    dm_timer_mod(&killer.t, now + 2 * MS);
    dm_timer_mod(&victim.t, now + 3600 * 1000 * MS);

    while (dm_clock_next_deadline(log.clock) >= 0 &&
           dm_clock_next_deadline(log.clock) < now + 3600 * 1000 * MS) {
        dm_main_loop_iterate(true);
    }

    /* Three periodic runs, one killer run, the victim never. */
    g_assert_cmpuint(log.n, ==, 4);
    g_assert_false(dm_timer_pending(&victim.t));
    g_assert_cmpint(dm_clock_next_deadline(log.clock), ==, -1);
    dm_unlock();
    dm_clock_free(log.clock);
}

static void test_timer_host_now_follows_offset(void)
{
    struct dm_clock *now = dm_clock_new(true);
    struct dm_clock *past = dm_clock_new(true);
    int64_t day = 86400ll * 1000000000;
    int64_t diff;

    dm_clock_set_host_offset(past, -day);

    diff = dm_clock_host_now(now) - dm_clock_host_now(past);

    /* One day apart, whatever the wall clock does meanwhile (within reason). */
    g_assert_cmpint(diff, >, day / 2);
    g_assert_cmpint(diff, <, 2 * day);
    dm_clock_free(now);
    dm_clock_free(past);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/timer/manual-clock-runs-in-deadline-order",
                    test_timer_manual_clock_runs_in_deadline_order);
    g_test_add_func("/timer/rearm-from-callback-fires-each-period",
                    test_timer_rearm_from_callback_fires_each_period);
    g_test_add_func("/timer/callback-deletes-another-timer",
                    test_timer_callback_deletes_another_timer);
    g_test_add_func("/timer/equal-deadlines-fire-in-arming-order",
                    test_timer_equal_deadlines_fire_in_arming_order);
    g_test_add_func("/timer/mod-moves-pending-timer",
                    test_timer_mod_moves_pending_timer);
    g_test_add_func("/timer/real-clock-fires-through-main-loop",
                    test_timer_real_clock_fires_through_main_loop);
    g_test_add_func("/timer/real-clock-runs-rearmed-and-deleted-timers",
                    test_timer_real_clock_runs_rearmed_and_deleted_timers);
    g_test_add_func("/timer/host-now-follows-offset",
                    test_timer_host_now_follows_offset);
    return g_test_run();
}
