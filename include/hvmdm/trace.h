/*
 * trace.h: named trace points enabled at run time by glob patterns
 * (-trace 'ide_*'). A disabled trace point costs one load and a compare.
 */
#ifndef HVMDM_TRACE_H
#define HVMDM_TRACE_H

#include "hvmdm/common.h"

struct dm_trace_point {
    const char *name;
    unsigned generation; /* dm_trace generation this state was computed for */
    bool enabled;
};

/* Enable every trace point whose name matches PATTERN (glob); false if bad. */
bool dm_trace_enable(const char *pattern);
bool dm_trace_point_enabled(struct dm_trace_point *tp);
void dm_trace_print(const char *name, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#define dm_trace(event, fmt, ...)                                          \
    do {                                                                   \
        static struct dm_trace_point dm_tp_ = { .name = #event };          \
        if (dm_trace_point_enabled(&dm_tp_)) {                             \
            dm_trace_print(#event, fmt, ##__VA_ARGS__);                    \
        }                                                                  \
    } while (0)

#endif
