/*
 * main-loop.h: the GLib main loop every backend runs on, the big lock and
 * bottom halves.
 *
 * All device code runs with dm_lock held, taken by whichever thread calls into
 * a device (the main loop, a vCPU thread). The main loop drops it only while it
 * sleeps in poll.
 */
#ifndef HVMDM_MAIN_LOOP_H
#define HVMDM_MAIN_LOOP_H

#include "hvmdm/common.h"

void dm_lock(void);
void dm_unlock(void);
bool dm_lock_held(void);  /* by the calling thread */

/* A bottom half: work scheduled from any thread, run on the main loop with
 * dm_lock held. Scheduling twice before it runs runs it once. */
typedef void (*dm_bh_fn)(void *opaque);
struct dm_bh;
struct dm_bh *dm_bh_new(dm_bh_fn fn, void *opaque);
void dm_bh_schedule(struct dm_bh *bh);
void dm_bh_cancel(struct dm_bh *bh);
void dm_bh_delete(struct dm_bh *bh);

/* File descriptor watches: FN runs on the main loop with dm_lock held when FD
 * has any of EVENTS (G_IO_IN | G_IO_OUT | G_IO_HUP | G_IO_ERR). */
typedef void (*dm_fd_fn)(void *opaque, int fd, GIOCondition cond);
struct dm_fd_watch;
struct dm_fd_watch *dm_fd_watch_add(int fd, GIOCondition events, dm_fd_fn fn,
                                    void *opaque);
void dm_fd_watch_set_events(struct dm_fd_watch *w, GIOCondition events);
void dm_fd_watch_remove(struct dm_fd_watch *w);

/* Run one iteration (blocking if BLOCKING) with dm_lock held by the caller;
 * the lock is dropped while polling. Returns true if anything was dispatched. */
bool dm_main_loop_iterate(bool blocking);
/* Wake a main loop sleeping in poll (from any thread). */
void dm_main_loop_wakeup(void);

#endif
