/*
 * log.c: messages for the user on stderr ("hvmdm: " prefix, levels) and
 * rate-limited reports of guest mistakes.
 *
 * dm_guest_error prints at most DM_GUEST_ERROR_BURST messages per format
 * string per second; what it holds back is summed up in one "N similar
 * messages suppressed" line when that format next prints. Every call is
 * counted. Callable from any thread: the state here is process-wide by design
 * (one stderr per process) and guarded by one mutex.
 */
#include <stdio.h>

#include "hvmdm/log.h"

#define DM_GUEST_ERROR_BURST 5          /* prints per format per window */
#define DM_GUEST_ERROR_WINDOW_US 1000000 /* one second */

/* Rate-limit state of one format string. */
struct dm_ratelimit {
    int64_t window_start;   /* us, from the log clock */
    unsigned printed;       /* in the current window */
    uint64_t suppressed;    /* not printed since the last print */
};

static GMutex dm_log_mutex;
static enum dm_log_level dm_log_level = DM_LOG_WARN;
static FILE *dm_log_out;                /* NULL: stderr */
static GHashTable *dm_log_ratelimits;   /* const char *fmt -> ratelimit */
static int64_t (*dm_log_clock)(void);   /* NULL: g_get_monotonic_time */
static uint64_t dm_log_guest_errors;    /* atomic */

void dm_log_set_level(enum dm_log_level level)
{
    g_mutex_lock(&dm_log_mutex);
    dm_log_level = level;
    g_mutex_unlock(&dm_log_mutex);
}

void dm_log_set_file(FILE *f)
{
    g_mutex_lock(&dm_log_mutex);
    dm_log_out = f;
    g_mutex_unlock(&dm_log_mutex);
}

void dm_log_set_clock(int64_t (*now_us)(void))
{
    g_mutex_lock(&dm_log_mutex);
    dm_log_clock = now_us;
    g_mutex_unlock(&dm_log_mutex);
}

/* Caller holds dm_log_mutex. */
static void dm_log_line(const char *msg)
{
    FILE *out = dm_log_out ? dm_log_out : stderr;

    fprintf(out, "hvmdm: %s\n", msg);
    fflush(out);
}

void dm_log(enum dm_log_level level, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    g_mutex_lock(&dm_log_mutex);
    if (level <= dm_log_level) {
        dm_log_line(msg);
    }
    g_mutex_unlock(&dm_log_mutex);
    g_free(msg);
}

/* Whether a guest error with format FMT may print now; caller holds the
 * mutex. Prints the suppressed summary when a new window opens. */
static bool dm_guest_error_allowed(const char *fmt)
{
    int64_t now = dm_log_clock ? dm_log_clock() : g_get_monotonic_time();
    struct dm_ratelimit *rl;

    if (!dm_log_ratelimits) {
        dm_log_ratelimits = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                  g_free, g_free);
    }
    rl = g_hash_table_lookup(dm_log_ratelimits, fmt);
    if (!rl) {
        rl = g_new0(struct dm_ratelimit, 1);
        rl->window_start = now;
        g_hash_table_insert(dm_log_ratelimits, g_strdup(fmt), rl);
    }
    if (now - rl->window_start >= DM_GUEST_ERROR_WINDOW_US ||
        now < rl->window_start) {
        rl->window_start = now;
        rl->printed = 0;
    }
    if (rl->printed >= DM_GUEST_ERROR_BURST) {
        rl->suppressed++;
        return false;
    }
    if (rl->suppressed) {
        char *line = g_strdup_printf("%" G_GUINT64_FORMAT
                                     " similar messages suppressed",
                                     rl->suppressed);
        if (DM_LOG_WARN <= dm_log_level) {
            dm_log_line(line);
        }
        g_free(line);
        rl->suppressed = 0;
    }
    rl->printed++;
    return true;
}

void dm_guest_error(const char *fmt, ...)
{
    va_list ap;
    char *msg;

    __atomic_fetch_add(&dm_log_guest_errors, 1, __ATOMIC_RELAXED);
    g_mutex_lock(&dm_log_mutex);
    if (!dm_guest_error_allowed(fmt) || DM_LOG_WARN > dm_log_level) {
        g_mutex_unlock(&dm_log_mutex);
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    dm_log_line(msg);
    g_mutex_unlock(&dm_log_mutex);
    g_free(msg);
}

uint64_t dm_guest_error_count(void)
{
    return __atomic_load_n(&dm_log_guest_errors, __ATOMIC_RELAXED);
}
