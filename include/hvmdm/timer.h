/*
 * timer.h: the machine clock and timers with nanosecond deadlines.
 *
 * A clock is either real (CLOCK_MONOTONIC, its expired timers run from one
 * timerfd on the main loop, armed only for the earliest deadline) or manual
 * (the qtest accelerator: time moves only in dm_clock_step/dm_clock_set).
 * Timer callbacks run with dm_lock held.
 */
#ifndef HVMDM_TIMER_H
#define HVMDM_TIMER_H

#include "hvmdm/common.h"

typedef void (*dm_timer_fn)(void *opaque);

struct dm_clock;

struct dm_timer {
    struct dm_clock *clock;
    dm_timer_fn fn;
    void *opaque;
    int64_t deadline;  /* ns on the clock; -1 when not pending */
    struct dm_timer *next;
};

struct dm_clock *dm_clock_new(bool manual);
void dm_clock_free(struct dm_clock *c);
int64_t dm_clock_now(struct dm_clock *c);  /* ns since the clock started */
bool dm_clock_is_manual(struct dm_clock *c);
/* Manual clocks only: advance to NS (absolute) running each timer due on the
 * way, in deadline order, with the clock set to that timer's deadline. */
void dm_clock_set(struct dm_clock *c, int64_t ns);
void dm_clock_step(struct dm_clock *c, int64_t delta_ns);
/* Deadline of the earliest pending timer, or -1. */
int64_t dm_clock_next_deadline(struct dm_clock *c);

void dm_timer_init(struct dm_timer *t, struct dm_clock *c, dm_timer_fn fn,
                   void *opaque);
void dm_timer_mod(struct dm_timer *t, int64_t deadline_ns);
void dm_timer_del(struct dm_timer *t);
bool dm_timer_pending(const struct dm_timer *t);

/* Host wall-clock time in ns since the epoch, through a hook so tests can fix
 * it (the RTC reads this, never time() directly). */
int64_t dm_clock_host_now(struct dm_clock *c);
void dm_clock_set_host_offset(struct dm_clock *c, int64_t offset_ns);

#endif
