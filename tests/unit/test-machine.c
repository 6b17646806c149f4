/*
 * test-machine.c: the machine core (core/machine.c): RAM layout around the
 * PCI hole, ISA interrupt inputs shared by several sources, reset and
 * shutdown requests served on the main loop, -no-reboot and -no-shutdown.
 */
#include "harness.h"

#include "hvmdm/config.h"
#include "hvmdm/machine.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/memory.h"

/* Run the main loop until nothing is pending (bottom halves). */
static void run_pending(void)
{
    while (dm_main_loop_iterate(false)) {
    }
}

static void test_machine_ram_below_pci_hole(void)
{
    struct dm_machine *m = th_machine_new("-m 128");

    g_assert_cmpuint(dm_memory_below_4g(m->mem), ==, 128 * DM_MiB);
    g_assert_cmpuint(dm_memory_above_4g(m->mem), ==, 0);
    th_pc_free(m);
}

static void test_machine_ram_above_hole_goes_above_4g(void)
{
    struct dm_machine *m = th_machine_new("-m 4G");

    g_assert_cmpuint(dm_memory_below_4g(m->mem), ==, 0xe0000000ull);
    g_assert_cmpuint(dm_memory_above_4g(m->mem), ==,
                     4 * DM_GiB - 0xe0000000ull);
    th_pc_free(m);
}

static void test_machine_isa_irq_is_or_of_sources(void)
{
    struct dm_machine *m = th_machine_new("");
    struct dm_irq_line a = { 0 }, b = { 0 };
    GError *err = NULL;

    g_assert_true(dm_isa_irq_connect(m, &a, 5, &err));
    g_assert_true(dm_isa_irq_connect(m, &b, 5, &err));
    g_assert_no_error(err);

    dm_irq_raise(&a);
    dm_irq_raise(&b);
    dm_irq_lower(&a);
    g_assert_cmpint(dm_isa_irq_level(m, 5), ==, 1);
    g_assert_cmpint(th_irq_level(m, 5), ==, 1);

    dm_irq_lower(&b);
    g_assert_cmpint(dm_isa_irq_level(m, 5), ==, 0);
    g_assert_cmpint(th_irq_level(m, 5), ==, 0);
    g_assert_cmpint(th_irq_level(m, 4), ==, 0);
    th_pc_free(m);
}

static void test_machine_isa_irq_connect_limits(void)
{
    struct dm_machine *m = th_machine_new("");
    struct dm_irq_line lines[33];
    GError *err = NULL;

    memset(lines, 0, sizeof(lines));
    g_assert_false(dm_isa_irq_connect(m, &lines[0], 16, &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_clear_error(&err);
    for (int i = 0; i < 32; i++) {
        g_assert_true(dm_isa_irq_connect(m, &lines[i], 9, &err));
    }

    g_assert_false(dm_isa_irq_connect(m, &lines[32], 9, &err));

    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_clear_error(&err);
    dm_irq_raise(&lines[31]);
    g_assert_cmpint(th_irq_level(m, 9), ==, 1);
    th_pc_free(m);
}

#define COM1_LCR 0x3fb  /* 16550A line control register, reset value 0 */

static void test_machine_reset_request_served_on_main_loop(void)
{
    struct dm_machine *m = th_pc_new("-serial null");

    th_outb(m, COM1_LCR, 0x03);  /* 8 data bits */
    g_assert_cmpuint(th_inb(m, COM1_LCR), ==, 0x03);

    dm_machine_request_reset(m);
    g_assert_cmpuint(th_inb(m, COM1_LCR), ==, 0x03);  /* not yet */
    run_pending();

    g_assert_cmpuint(th_inb(m, COM1_LCR), ==, 0x00);
    g_assert_false(m->reset_requested);
    g_assert_cmpint(m->state, ==, DM_RUN_RUNNING);
    th_pc_free(m);
}

static void test_machine_reset_with_no_reboot_shuts_down(void)
{
    struct dm_machine *m = th_pc_new("-no-reboot");

    dm_machine_request_reset(m);
    run_pending();

    g_assert_cmpint(m->state, ==, DM_RUN_SHUTDOWN);
    g_assert_cmpint(m->shutdown_cause, ==, DM_SHUTDOWN_GUEST_RESET);
    g_assert_cmpint(m->exit_status, ==, 0);
    th_pc_free(m);
}

static void test_machine_error_shutdown_exits_1(void)
{
    struct dm_machine *m = th_machine_new("");

    dm_machine_request_shutdown(m, DM_SHUTDOWN_ERROR);
    dm_machine_request_shutdown(m, DM_SHUTDOWN_USER_QUIT);
    run_pending();

    g_assert_cmpint(m->state, ==, DM_RUN_SHUTDOWN);
    g_assert_cmpint(m->shutdown_cause, ==, DM_SHUTDOWN_ERROR);
    g_assert_cmpint(m->exit_status, ==, 1);
    th_pc_free(m);
}

static void test_machine_poweroff_with_no_shutdown_pauses(void)
{
    struct dm_machine *m = th_machine_new("-no-shutdown");

    dm_machine_request_shutdown(m, DM_SHUTDOWN_GUEST_POWEROFF);
    run_pending();

    g_assert_cmpint(m->state, ==, DM_RUN_PAUSED);
    th_pc_free(m);
}

static void test_machine_two_machines_independent(void)
{
    struct dm_machine *a = th_pc_new("-no-reboot");
    struct dm_machine *b = th_pc_new("");

    dm_machine_request_reset(a);
    run_pending();

    g_assert_cmpint(a->state, ==, DM_RUN_SHUTDOWN);
    g_assert_cmpint(b->state, ==, DM_RUN_RUNNING);
    th_pc_free(b);
    th_pc_free(a);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/machine/ram-below-hole", test_machine_ram_below_pci_hole);
    g_test_add_func("/machine/ram-above-4g",
                    test_machine_ram_above_hole_goes_above_4g);
    g_test_add_func("/machine/isa-irq-or", test_machine_isa_irq_is_or_of_sources);
    g_test_add_func("/machine/isa-irq-limits",
                    test_machine_isa_irq_connect_limits);
    g_test_add_func("/machine/reset-request",
                    test_machine_reset_request_served_on_main_loop);
    g_test_add_func("/machine/no-reboot",
                    test_machine_reset_with_no_reboot_shuts_down);
    g_test_add_func("/machine/error-exit", test_machine_error_shutdown_exits_1);
    g_test_add_func("/machine/no-shutdown",
                    test_machine_poweroff_with_no_shutdown_pauses);
    g_test_add_func("/machine/two-machines",
                    test_machine_two_machines_independent);
    return g_test_run();
}
