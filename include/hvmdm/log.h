/*
 * log.h: messages for the user and rate-limited messages about guest mistakes.
 *
 * Shape of a message: "<device>[<id>]: <what failed>: <detail>", lowercase,
 * no period. Every line is prefixed with "hvmdm: " on stderr.
 */
#ifndef HVMDM_LOG_H
#define HVMDM_LOG_H

#include <stdio.h>

#include "hvmdm/common.h"

enum dm_log_level {
    DM_LOG_ERROR,
    DM_LOG_WARN,
    DM_LOG_INFO,
    DM_LOG_DEBUG,
};

/* Messages at or below this level are printed (default DM_LOG_WARN). */
void dm_log_set_level(enum dm_log_level level);
/* Redirect log output (tests); NULL restores stderr. */
void dm_log_set_file(FILE *f);
/* Time source of the guest-error rate limit, in microseconds (tests); NULL
 * restores g_get_monotonic_time. */
void dm_log_set_clock(int64_t (*now_us)(void));

void dm_log(enum dm_log_level level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
#define dm_error_report(...) dm_log(DM_LOG_ERROR, __VA_ARGS__)
#define dm_warn(...)         dm_log(DM_LOG_WARN, __VA_ARGS__)
#define dm_info(...)         dm_log(DM_LOG_INFO, __VA_ARGS__)

/*
 * A guest did something a real device would ignore or refuse. Printed at most
 * a few times per distinct format string and per second; never fatal.
 */
void dm_guest_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* How many guest errors were reported in total (tests). */
uint64_t dm_guest_error_count(void);

#endif
