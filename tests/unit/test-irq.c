/*
 * test-irq.c: interrupt lines (core/irq.c): sinks see level changes only.
 */
#include "hvmdm/irq.h"

struct sink {
    unsigned calls;
    int n, level;
};

static void sink_set(void *opaque, int n, int level)
{
    struct sink *s = opaque;

    s->calls++;
    s->n = n;
    s->level = level;
}

static void test_irq_sink_called_only_on_change(void)
{
    struct dm_irq_line line = { 0 };
    struct sink s = { 0 };

    dm_irq_connect(&line, sink_set, &s, 14);

    dm_irq_raise(&line);
    dm_irq_set(&line, 5);   /* any nonzero level is "high" */
    dm_irq_lower(&line);
    dm_irq_lower(&line);

    g_assert_cmpuint(s.calls, ==, 2);
    g_assert_cmpint(s.n, ==, 14);
    g_assert_cmpint(s.level, ==, 0);
}

static void test_irq_pulse_raises_then_lowers(void)
{
    struct dm_irq_line line = { 0 };
    struct sink s = { 0 };

    dm_irq_connect(&line, sink_set, &s, 1);

    dm_irq_pulse(&line);

    g_assert_cmpuint(s.calls, ==, 2);
    g_assert_cmpint(line.level, ==, 0);
}

static void test_irq_unconnected_line_records_level(void)
{
    struct dm_irq_line line = { 0 };

    dm_irq_raise(&line);

    g_assert_cmpint(line.level, ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/irq/sink-called-only-on-change",
                    test_irq_sink_called_only_on_change);
    g_test_add_func("/irq/pulse-raises-then-lowers",
                    test_irq_pulse_raises_then_lowers);
    g_test_add_func("/irq/unconnected-line-records-level",
                    test_irq_unconnected_line_records_level);
    return g_test_run();
}
