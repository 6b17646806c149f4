/*
 * test-log-trace.c: log levels and the "hvmdm: " prefix, guest-error rate
 * limiting (core/log.c) on an injected clock, and trace points switched by
 * glob patterns (core/trace.c).
 */
#include <stdio.h>

#include "hvmdm/log.h"
#include "hvmdm/trace.h"

static int64_t fake_now_us;

static int64_t fake_clock(void)
{
    return fake_now_us;
}

/* Everything logged while FN ran, as one string. */
static char *capture(void (*fn)(void))
{
    FILE *f = tmpfile();
    long len;
    char *out;

    g_assert_nonnull(f);
    dm_log_set_file(f);
    fn();
    dm_log_set_file(NULL);
    len = ftell(f);
    out = g_malloc0(len + 1);
    rewind(f);
    g_assert_cmpint(fread(out, 1, len, f), ==, len);
    fclose(f);
    return out;
}

static unsigned count_lines_with(const char *text, const char *needle)
{
    unsigned n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) {
        n++;
    }
    return n;
}

static void log_warn_and_info(void)
{
    dm_warn("rtc[0]: bad register: 0x%x", 0x7f);
    dm_info("hidden at the default level");
}

static void test_log_warn_prefixed_info_hidden_by_default(void)
{
    char *out = capture(log_warn_and_info);

    g_assert_cmpstr(out, ==, "hvmdm: rtc[0]: bad register: 0x7f\n");
    g_free(out);
}

static void burst_of_guest_errors(void)
{
    for (int i = 0; i < 20; i++) {
        dm_guest_error("test: bad index %d", i);
    }
}

static void later_guest_error(void)
{
    fake_now_us += 2ll * G_USEC_PER_SEC;
    dm_guest_error("test: bad index %d", 99);
}

static void test_log_guest_error_rate_limited_and_counted(void)
{
    uint64_t before = dm_guest_error_count();
    char *burst, *later;

    fake_now_us = 1000ll * G_USEC_PER_SEC;
    dm_log_set_clock(fake_clock);

    burst = capture(burst_of_guest_errors);
    later = capture(later_guest_error);
    dm_log_set_clock(NULL);

    g_assert_cmpuint(dm_guest_error_count() - before, ==, 21);
    g_assert_cmpuint(count_lines_with(burst, "test: bad index"), ==, 5);
    g_assert_nonnull(strstr(burst, "test: bad index 4\n"));
    g_assert_cmpstr(later, ==,
                    "hvmdm: 15 similar messages suppressed\n"
                    "hvmdm: test: bad index 99\n");
    g_free(burst);
    g_free(later);
}

static void other_formats_not_limited(void)
{
    for (int i = 0; i < 6; i++) {
        dm_guest_error("test: format A %d", i);
    }
    dm_guest_error("test: format B");
}

static void test_log_guest_error_limit_is_per_format(void)
{
    char *out;

    fake_now_us = 5000ll * G_USEC_PER_SEC;
    dm_log_set_clock(fake_clock);

    out = capture(other_formats_not_limited);
    dm_log_set_clock(NULL);

    g_assert_cmpuint(count_lines_with(out, "format A"), ==, 5);
    g_assert_cmpuint(count_lines_with(out, "format B"), ==, 1);
    g_free(out);
}

static void test_trace_disabled_until_pattern_matches(void)
{
    struct dm_trace_point ide = { .name = "test_ide_dma_start" };
    struct dm_trace_point net = { .name = "test_net_rx" };

    g_assert_false(dm_trace_point_enabled(&ide));

    g_assert_true(dm_trace_enable("test_ide_*"));

    g_assert_true(dm_trace_point_enabled(&ide));
    g_assert_false(dm_trace_point_enabled(&net));
}

static void test_trace_later_minus_pattern_disables(void)
{
    struct dm_trace_point p = { .name = "test_uart_tx" };

    g_assert_true(dm_trace_enable("test_uart_*"));
    g_assert_true(dm_trace_point_enabled(&p));

    g_assert_true(dm_trace_enable("-test_uart_tx"));

    g_assert_false(dm_trace_point_enabled(&p));
}

static void test_trace_bad_pattern_refused(void)
{
    g_assert_false(dm_trace_enable(""));
    g_assert_false(dm_trace_enable("ide dma"));
    g_assert_false(dm_trace_enable("-"));
}

static void test_trace_macro_evaluates_arguments_only_when_enabled(void)
{
    int evaluated = 0;

    dm_trace(test_macro_off, "%d", evaluated++);
    g_assert_cmpint(evaluated, ==, 0);

    g_assert_true(dm_trace_enable("test_macro_o?"));
    dm_trace(test_macro_on, "%d", evaluated++);

    g_assert_cmpint(evaluated, ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/log/warn-prefixed-info-hidden-by-default",
                    test_log_warn_prefixed_info_hidden_by_default);
    g_test_add_func("/log/guest-error-rate-limited-and-counted",
                    test_log_guest_error_rate_limited_and_counted);
    g_test_add_func("/log/guest-error-limit-is-per-format",
                    test_log_guest_error_limit_is_per_format);
    g_test_add_func("/trace/disabled-until-pattern-matches",
                    test_trace_disabled_until_pattern_matches);
    g_test_add_func("/trace/later-minus-pattern-disables",
                    test_trace_later_minus_pattern_disables);
    g_test_add_func("/trace/bad-pattern-refused",
                    test_trace_bad_pattern_refused);
    g_test_add_func("/trace/macro-evaluates-arguments-only-when-enabled",
                    test_trace_macro_evaluates_arguments_only_when_enabled);
    return g_test_run();
}
