/*
 * trace.c: named trace points switched on at run time by glob patterns
 * (-trace 'ide_*', "-trace -ide_dma*" switches matching points off again).
 *
 * Patterns are kept in order; the last one matching a name decides. Each trace
 * point caches its state together with the generation it was computed for;
 * dm_trace_enable bumps the generation so every point re-evaluates once. The
 * state here is process-wide (one stderr) and callable from any thread.
 */
#include <stdio.h>

#include "hvmdm/trace.h"

static GMutex dm_trace_mutex;
static GPtrArray *dm_trace_patterns;  /* char *, "-" prefix = disable */
static unsigned dm_trace_generation;  /* 0 until the first pattern */

static bool dm_trace_pattern_ok(const char *pattern)
{
    const char *p = pattern;

    if (*p == '-') {
        p++;
    }
    if (!*p) {
        return false;
    }
    for (; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '*' && *p != '?') {
            return false;
        }
    }
    return true;
}

bool dm_trace_enable(const char *pattern)
{
    if (!pattern || !dm_trace_pattern_ok(pattern)) {
        return false;
    }
    g_mutex_lock(&dm_trace_mutex);
    if (!dm_trace_patterns) {
        dm_trace_patterns = g_ptr_array_new_with_free_func(g_free);
    }
    g_ptr_array_add(dm_trace_patterns, g_strdup(pattern));
    __atomic_add_fetch(&dm_trace_generation, 1, __ATOMIC_RELEASE);
    g_mutex_unlock(&dm_trace_mutex);
    return true;
}

/* Caller holds dm_trace_mutex. */
static bool dm_trace_name_enabled(const char *name)
{
    bool on = false;

    for (guint i = 0; dm_trace_patterns && i < dm_trace_patterns->len; i++) {
        const char *pat = g_ptr_array_index(dm_trace_patterns, i);
        bool disable = pat[0] == '-';

        if (g_pattern_match_simple(disable ? pat + 1 : pat, name)) {
            on = !disable;
        }
    }
    return on;
}

bool dm_trace_point_enabled(struct dm_trace_point *tp)
{
    unsigned gen = __atomic_load_n(&dm_trace_generation, __ATOMIC_ACQUIRE);
    bool on;

    if (__atomic_load_n(&tp->generation, __ATOMIC_ACQUIRE) == gen) {
        return __atomic_load_n(&tp->enabled, __ATOMIC_RELAXED);
    }
    g_mutex_lock(&dm_trace_mutex);
    gen = __atomic_load_n(&dm_trace_generation, __ATOMIC_ACQUIRE);
    on = dm_trace_name_enabled(tp->name);
    __atomic_store_n(&tp->enabled, on, __ATOMIC_RELAXED);
    __atomic_store_n(&tp->generation, gen, __ATOMIC_RELEASE);
    g_mutex_unlock(&dm_trace_mutex);
    return on;
}

void dm_trace_print(const char *name, const char *fmt, ...)
{
    int64_t now = g_get_real_time();
    va_list ap;
    char *args;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_mutex_lock(&dm_trace_mutex);
    fprintf(stderr, "%" G_GINT64_FORMAT ".%06d %s %s\n",
            now / G_USEC_PER_SEC, (int)(now % G_USEC_PER_SEC), name, args);
    g_mutex_unlock(&dm_trace_mutex);
    g_free(args);
}
