/*
 * test-rtc.c: the MC146818A RTC ("mc146818rtc") through ports 0x70/0x71 on
 * the qtest machine: time in BCD, binary and 12-hour formats, setting the
 * time, UIP, periodic/alarm/update interrupts on IRQ 8, register C, NVRAM,
 * the NMI mask bit, idle timers and a save/restore round trip.
 */
#include "hvmdm/dev.h"
#include "hvmdm/isa.h"
#include "hvmdm/machine.h"
#include "hvmdm/timer.h"
#include "hvmdm/vmstate.h"

#include "harness.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define RTC_IRQ 8

#define REG_SEC 0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN 0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR 0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MON 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

#define A_UIP 0x80
#define A_DIV_RESET 0x70 /* divider chain held in reset */
#define A_1024HZ 0x26    /* 32.768 kHz time base, rate 6 = 1024 Hz */
#define A_8HZ 0x2d       /* rate 13 = 8 Hz */
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define D_VRT 0x80

#define MS 1000000ll
#define US 1000ll
#define SEC 1000000000ll

/* 2024-03-15 13:45:30 UTC, a Friday (weekday register 6, Sunday = 1). */
#define HOST_TIME 1710510330ll

static uint8_t cmos_read(struct dm_machine *m, uint8_t idx)
{
    th_outb(m, RTC_INDEX, idx);
    return th_inb(m, RTC_DATA);
}

static void cmos_write(struct dm_machine *m, uint8_t idx, uint8_t val)
{
    th_outb(m, RTC_INDEX, idx);
    th_outb(m, RTC_DATA, val);
}

/* A machine with only the RTC, whose host clock reads HOST_SECS + 0.5 s
 * when the RTC is created. */
static struct dm_machine *rtc_machine(int64_t host_secs, struct dm_dev **rtc)
{
    struct dm_machine *m = th_machine_new("");
    GError *err = NULL;
    struct dm_dev *d;

    dm_clock_set_host_offset(m->clock, host_secs * SEC + 500 * MS -
                                           g_get_real_time() * 1000);
    d = dm_dev_new(m, "mc146818rtc", "", &err);
    g_assert_no_error(err);
    dm_dev_reset(d);
    if (rtc) {
        *rtc = d;
    }
    return m;
}

/* Set the time as Linux does (SET, divider reset, registers, divider
 * running, SET off): the first update then comes exactly 500 ms later. */
static void rtc_set_time(struct dm_machine *m, uint8_t b, uint8_t century,
                         uint8_t year, uint8_t mon, uint8_t mday, uint8_t hour,
                         uint8_t min, uint8_t sec)
{
    cmos_write(m, REG_B, b | B_SET);
    cmos_write(m, REG_A, A_DIV_RESET);
    cmos_write(m, REG_SEC, sec);
    cmos_write(m, REG_MIN, min);
    cmos_write(m, REG_HOUR, hour);
    cmos_write(m, REG_MDAY, mday);
    cmos_write(m, REG_MON, mon);
    cmos_write(m, REG_YEAR, year);
    cmos_write(m, REG_CENTURY, century);
    cmos_write(m, REG_A, A_1024HZ);
    cmos_write(m, REG_B, b);
}

static void test_rtc_reset_values(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    g_assert_cmphex(cmos_read(m, REG_A), ==, A_1024HZ);
    g_assert_cmphex(cmos_read(m, REG_B), ==, B_24H);
    g_assert_cmphex(cmos_read(m, REG_C), ==, 0x00);
    g_assert_cmphex(cmos_read(m, REG_D), ==, D_VRT);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 0);
    th_pc_free(m);
}

static void test_rtc_reset_clears_interrupt_enables(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    cmos_write(m, REG_B, B_PIE | B_AIE | B_UIE | B_BINARY | B_24H);
    dm_machine_reset(m);
    /* MC146818A RESET: PIE, AIE, UIE (and SQWE) cleared, format kept. */
    g_assert_cmphex(cmos_read(m, REG_B), ==, B_BINARY | B_24H);
    g_assert_cmphex(cmos_read(m, REG_C), ==, 0x00);
    th_pc_free(m);
}

static void test_rtc_time_bcd_matches_host(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    g_assert_cmphex(cmos_read(m, REG_SEC), ==, 0x30);
    g_assert_cmphex(cmos_read(m, REG_MIN), ==, 0x45);
    g_assert_cmphex(cmos_read(m, REG_HOUR), ==, 0x13);
    g_assert_cmphex(cmos_read(m, REG_WDAY), ==, 0x06);
    g_assert_cmphex(cmos_read(m, REG_MDAY), ==, 0x15);
    g_assert_cmphex(cmos_read(m, REG_MON), ==, 0x03);
    g_assert_cmphex(cmos_read(m, REG_YEAR), ==, 0x24);
    g_assert_cmphex(cmos_read(m, REG_CENTURY), ==, 0x20);
    th_pc_free(m);
}

static void test_rtc_time_binary_matches_host(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    cmos_write(m, REG_B, B_BINARY | B_24H);
    g_assert_cmpuint(cmos_read(m, REG_SEC), ==, 30);
    g_assert_cmpuint(cmos_read(m, REG_MIN), ==, 45);
    g_assert_cmpuint(cmos_read(m, REG_HOUR), ==, 13);
    g_assert_cmpuint(cmos_read(m, REG_MDAY), ==, 15);
    g_assert_cmpuint(cmos_read(m, REG_MON), ==, 3);
    g_assert_cmpuint(cmos_read(m, REG_YEAR), ==, 24);
    g_assert_cmpuint(cmos_read(m, REG_CENTURY), ==, 20);
    th_pc_free(m);
}

static void test_rtc_12_hour_mode_sets_pm_bit(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    cmos_write(m, REG_B, 0x00);                               /* BCD, 12-hour */
    g_assert_cmphex(cmos_read(m, REG_HOUR), ==, 0x80 | 0x01); /* 1 PM */
    rtc_set_time(m, 0x00, 0x20, 0x24, 0x03, 0x15, 0x12, 0x05, 0x00);
    g_assert_cmphex(cmos_read(m, REG_HOUR), ==, 0x12); /* 12 AM */
    cmos_write(m, REG_B, B_24H);
    g_assert_cmphex(cmos_read(m, REG_HOUR), ==, 0x00);
    th_pc_free(m);
}

static void test_rtc_set_bit_stops_updates(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    rtc_set_time(m, B_24H, 0x20, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06);
    cmos_write(m, REG_B, B_24H | B_SET);
    th_clock_step(m, 3 * SEC);
    g_assert_cmphex(cmos_read(m, REG_SEC), ==, 0x06);
    cmos_write(m, REG_B, B_24H);
    th_clock_step(m, 1 * SEC);
    g_assert_cmphex(cmos_read(m, REG_SEC), ==, 0x07);
    g_assert_cmphex(cmos_read(m, REG_MIN), ==, 0x05);
    g_assert_cmphex(cmos_read(m, REG_HOUR), ==, 0x04);
    g_assert_cmphex(cmos_read(m, REG_MDAY), ==, 0x03);
    g_assert_cmphex(cmos_read(m, REG_MON), ==, 0x02);
    g_assert_cmphex(cmos_read(m, REG_YEAR), ==, 0x01);
    th_pc_free(m);
}

static void test_rtc_set_time_counts_from_written_value(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    rtc_set_time(m, B_24H, 0x19, 0x99, 0x12, 0x31, 0x23, 0x59, 0x58);
    th_clock_step(m, 500 * MS + 1 * SEC); /* two updates */
    g_assert_cmphex(cmos_read(m, REG_SEC), ==, 0x00);
    g_assert_cmphex(cmos_read(m, REG_MIN), ==, 0x00);
    g_assert_cmphex(cmos_read(m, REG_HOUR), ==, 0x00);
    g_assert_cmphex(cmos_read(m, REG_MDAY), ==, 0x01);
    g_assert_cmphex(cmos_read(m, REG_MON), ==, 0x01);
    g_assert_cmphex(cmos_read(m, REG_YEAR), ==, 0x00);
    g_assert_cmphex(cmos_read(m, REG_CENTURY), ==, 0x20);
    g_assert_cmphex(cmos_read(m, REG_WDAY), ==, 0x07); /* 2000-01-01 Sat */
    th_pc_free(m);
}

static void test_rtc_uip_set_in_window_before_update(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    rtc_set_time(m, B_24H, 0x20, 0x24, 0x01, 0x01, 0x00, 0x00, 0x10);
    /* The update is 500 ms away; UIP rises 244 us before it. */
    th_clock_step(m, 500 * MS - 244 * US - 1);
    g_assert_cmphex(cmos_read(m, REG_A) & A_UIP, ==, 0);
    th_clock_step(m, 1);
    g_assert_cmphex(cmos_read(m, REG_A) & A_UIP, ==, A_UIP);
    th_clock_step(m, 244 * US - 1);
    g_assert_cmphex(cmos_read(m, REG_A) & A_UIP, ==, A_UIP);
    g_assert_cmphex(cmos_read(m, REG_SEC), ==, 0x10);
    th_clock_step(m, 1);
    g_assert_cmphex(cmos_read(m, REG_A) & A_UIP, ==, 0);
    g_assert_cmphex(cmos_read(m, REG_SEC), ==, 0x11);
    th_pc_free(m);
}

/* Serve IRQ 8 as a guest would (read C each time) until END; returns how
 * many interrupts came. */
static unsigned count_irqs_until(struct dm_machine *m, int64_t end)
{
    unsigned n = 0;

    while (dm_clock_next_deadline(m->clock) >= 0 &&
           dm_clock_next_deadline(m->clock) <= end) {
        th_clock_step_next(m);
        if (th_irq_level(m, RTC_IRQ)) {
            n++;
            g_assert_cmphex(cmos_read(m, REG_C) & (C_IRQF | C_PF), ==,
                            C_IRQF | C_PF);
            g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 0);
        }
    }
    return n;
}

static void test_rtc_periodic_irq8_at_programmed_rate(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);
    int64_t start;

    rtc_set_time(m, B_24H, 0x20, 0x24, 0x01, 0x01, 0x00, 0x00, 0x00);
    start = th_clock_now(m);
    cmos_write(m, REG_B, B_24H | B_PIE);
    g_assert_cmpuint(count_irqs_until(m, start + 250 * MS), ==, 256);

    cmos_write(m, REG_A, A_8HZ);
    start = th_clock_now(m);
    g_assert_cmpuint(count_irqs_until(m, start + 1 * SEC), ==, 8);
    th_pc_free(m);
}

static void test_rtc_alarm_raises_irq8(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    rtc_set_time(m, B_24H, 0x20, 0x24, 0x01, 0x01, 0x12, 0x00, 0x00);
    cmos_write(m, REG_SEC_ALARM, 0x03);
    cmos_write(m, REG_MIN_ALARM, 0x00);
    cmos_write(m, REG_HOUR_ALARM, 0x12);
    cmos_write(m, REG_B, B_24H | B_AIE);
    /* 12:00:03 comes 2.5 s from now (first update after 500 ms). */
    th_clock_step(m, 2400 * MS);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 0);
    th_clock_step(m, 200 * MS);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 1);
    g_assert_cmphex(cmos_read(m, REG_C) & (C_IRQF | C_AF), ==, C_IRQF | C_AF);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 0);
    th_pc_free(m);
}

static void test_rtc_alarm_dont_care_matches_every_hour_and_minute(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    rtc_set_time(m, B_24H, 0x20, 0x24, 0x01, 0x01, 0x07, 0x33, 0x58);
    cmos_write(m, REG_SEC_ALARM, 0x00);
    cmos_write(m, REG_MIN_ALARM, 0xc0);
    cmos_write(m, REG_HOUR_ALARM, 0xff);
    cmos_write(m, REG_B, B_24H | B_AIE);
    th_clock_step(m, 1400 * MS); /* 07:33:59 */
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 0);
    th_clock_step(m, 200 * MS); /* 07:34:00 */
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 1);
    th_pc_free(m);
}

static void test_rtc_update_ended_raises_irq8(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    rtc_set_time(m, B_24H, 0x20, 0x24, 0x01, 0x01, 0x00, 0x00, 0x00);
    cmos_write(m, REG_B, B_24H | B_UIE);
    th_clock_step(m, 499 * MS);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 0);
    th_clock_step(m, 1 * MS);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 1);
    g_assert_cmphex(cmos_read(m, REG_C) & (C_IRQF | C_UF), ==, C_IRQF | C_UF);
    th_clock_step(m, 1 * SEC);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 1);
    th_pc_free(m);
}

static void test_rtc_register_c_clears_on_read(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    rtc_set_time(m, B_24H, 0x20, 0x24, 0x01, 0x01, 0x00, 0x00, 0x00);
    cmos_write(m, REG_B, B_24H | B_UIE);
    th_clock_step(m, 600 * MS);
    g_assert_cmphex(cmos_read(m, REG_C), ==, C_IRQF | C_PF | C_UF);
    g_assert_cmphex(cmos_read(m, REG_C), ==, 0x00);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 0);
    th_pc_free(m);
}

static void test_rtc_flags_set_without_enables_and_no_irq(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    rtc_set_time(m, B_24H, 0x20, 0x24, 0x01, 0x01, 0x00, 0x00, 0x00);
    th_clock_step(m, 600 * MS);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 0);
    g_assert_cmphex(cmos_read(m, REG_C), ==, C_PF | C_UF);
    th_pc_free(m);
}

static void test_rtc_no_timer_while_idle(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    g_assert_cmpint(dm_clock_next_deadline(m->clock), ==, -1);
    cmos_write(m, REG_B, B_24H | B_PIE);
    g_assert_cmpint(dm_clock_next_deadline(m->clock), >=, 0);
    th_clock_step_next(m);
    g_assert_cmpint(th_irq_level(m, RTC_IRQ), ==, 1);
    /* The line stays up until C is read: nothing more to time. */
    g_assert_cmpint(dm_clock_next_deadline(m->clock), ==, -1);
    cmos_read(m, REG_C);
    g_assert_cmpint(dm_clock_next_deadline(m->clock), >=, 0);
    cmos_write(m, REG_B, B_24H);
    g_assert_cmpint(dm_clock_next_deadline(m->clock), ==, -1);
    th_pc_free(m);
}

static void test_rtc_nvram_kept_across_reset(void)
{
    struct dm_dev *rtc;
    struct dm_machine *m = rtc_machine(HOST_TIME, &rtc);

    cmos_write(m, 0x40, 0x5a);
    cmos_write(m, 0x7f, 0xa5);
    rtc_cmos_set(rtc, 0x10, 0x33);
    dm_machine_reset(m);
    g_assert_cmphex(cmos_read(m, 0x40), ==, 0x5a);
    g_assert_cmphex(cmos_read(m, 0x7f), ==, 0xa5);
    g_assert_cmphex(cmos_read(m, 0x10), ==, 0x33);
    g_assert_cmphex(rtc_cmos_get(rtc, 0x40), ==, 0x5a);
    th_pc_free(m);
}

static void test_rtc_nmi_mask_bit_recorded(void)
{
    struct dm_dev *rtc;
    struct dm_machine *m = rtc_machine(HOST_TIME, &rtc);

    cmos_write(m, 0x20, 0x77);
    th_outb(m, RTC_INDEX, 0x80 | 0x20); /* NMI off, index 0x20 */
    g_assert_true(rtc_nmi_masked(rtc));
    g_assert_cmphex(th_inb(m, RTC_DATA), ==, 0x77);
    th_outb(m, RTC_INDEX, 0x20);
    g_assert_false(rtc_nmi_masked(rtc));
    th_pc_free(m);
}

static void test_rtc_hostile_time_values_are_clamped(void)
{
    struct dm_machine *m = rtc_machine(HOST_TIME, NULL);

    /* Invalid BCD and out-of-range fields, a century far away. */
    rtc_set_time(m, B_24H, 0x99, 0xff, 0x1f, 0x00, 0x3f, 0xaa, 0xff);
    th_clock_step(m, 3 * SEC);
    cmos_write(m, REG_B, B_24H | B_BINARY);
    g_assert_cmpuint(cmos_read(m, REG_SEC), <, 60);
    g_assert_cmpuint(cmos_read(m, REG_MIN), <, 60);
    g_assert_cmpuint(cmos_read(m, REG_HOUR), <, 24);
    g_assert_cmpuint(cmos_read(m, REG_MON), <=, 12);
    th_pc_free(m);
}

static void test_rtc_state_round_trip(void)
{
    struct dm_dev *a, *b;
    struct dm_machine *ma = rtc_machine(HOST_TIME, &a);
    struct dm_machine *mb = rtc_machine(HOST_TIME, &b);
    struct dm_vmstate_stream *w, *r;
    GError *err = NULL;
    GBytes *bytes;

    rtc_set_time(ma, B_24H, 0x20, 0x31, 0x07, 0x04, 0x10, 0x20, 0x30);
    cmos_write(ma, REG_B, B_24H | B_BINARY | B_PIE);
    cmos_write(ma, 0x55, 0x12);
    th_outb(ma, RTC_INDEX, 0x80 | REG_SEC);

    w = dm_vmstate_writer_new();
    g_assert_true(dm_vmstate_save_section(w, a->type->name, a->id,
                                          a->type->vmsd, a, &err));
    g_assert_no_error(err);
    bytes = dm_vmstate_writer_finish(w);
    r = dm_vmstate_reader_new(bytes, &err);
    g_assert_no_error(err);
    g_assert_true(dm_vmstate_load_section(r, b->type->name, b->id,
                                          b->type->vmsd, b, &err));
    g_assert_no_error(err);
    dm_vmstate_stream_free(r);
    g_bytes_unref(bytes);

    g_assert_true(rtc_nmi_masked(b));
    g_assert_cmphex(cmos_read(mb, 0x55), ==, 0x12);
    g_assert_cmphex(cmos_read(mb, REG_B), ==, B_24H | B_BINARY | B_PIE);
    g_assert_cmpuint(cmos_read(mb, REG_YEAR), ==, 31);
    g_assert_cmpuint(cmos_read(mb, REG_MON), ==, 7);
    g_assert_cmpuint(cmos_read(mb, REG_MDAY), ==, 4);
    g_assert_cmpuint(cmos_read(mb, REG_HOUR), ==, 10);
    g_assert_cmpuint(cmos_read(mb, REG_MIN), ==, 20);
    /* The periodic interrupt keeps going on the restored clock. */
    g_assert_cmpint(dm_clock_next_deadline(mb->clock), >=, 0);
    th_pc_free(mb);
    th_pc_free(ma);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rtc/reset-values", test_rtc_reset_values);
    g_test_add_func("/rtc/reset-clears-interrupt-enables",
                    test_rtc_reset_clears_interrupt_enables);
    g_test_add_func("/rtc/time-bcd-matches-host",
                    test_rtc_time_bcd_matches_host);
    g_test_add_func("/rtc/time-binary-matches-host",
                    test_rtc_time_binary_matches_host);
    g_test_add_func("/rtc/12-hour-mode-sets-pm-bit",
                    test_rtc_12_hour_mode_sets_pm_bit);
    g_test_add_func("/rtc/set-bit-stops-updates",
                    test_rtc_set_bit_stops_updates);
    g_test_add_func("/rtc/set-time-counts-from-written-value",
                    test_rtc_set_time_counts_from_written_value);
    g_test_add_func("/rtc/uip-set-in-window-before-update",
                    test_rtc_uip_set_in_window_before_update);
    g_test_add_func("/rtc/periodic-irq8-at-programmed-rate",
                    test_rtc_periodic_irq8_at_programmed_rate);
    g_test_add_func("/rtc/alarm-raises-irq8", test_rtc_alarm_raises_irq8);
    g_test_add_func("/rtc/alarm-dont-care-matches-every-hour-and-minute",
                    test_rtc_alarm_dont_care_matches_every_hour_and_minute);
    g_test_add_func("/rtc/update-ended-raises-irq8",
                    test_rtc_update_ended_raises_irq8);
    g_test_add_func("/rtc/register-c-clears-on-read",
                    test_rtc_register_c_clears_on_read);
    g_test_add_func("/rtc/flags-set-without-enables-and-no-irq",
                    test_rtc_flags_set_without_enables_and_no_irq);
    g_test_add_func("/rtc/no-timer-while-idle", test_rtc_no_timer_while_idle);
    g_test_add_func("/rtc/nvram-kept-across-reset",
                    test_rtc_nvram_kept_across_reset);
    g_test_add_func("/rtc/nmi-mask-bit-recorded",
                    test_rtc_nmi_mask_bit_recorded);
    g_test_add_func("/rtc/hostile-time-values-are-clamped",
                    test_rtc_hostile_time_values_are_clamped);
    g_test_add_func("/rtc/state-round-trip", test_rtc_state_round_trip);
    return g_test_run();
}
