/*
 * rtc.c: the PC's real-time clock and CMOS RAM, a Motorola MC146818A behind
 * index port 0x70 (bit 7: NMI mask) and data port 0x71, on ISA IRQ 8.
 *
 * Datasheet: Motorola MC146818A Real-Time Clock Plus RAM (RTC), with the
 * PC's century byte at 0x32. The clock follows host wall time plus the offset
 * the guest sets; update, alarm and periodic events are derived from the
 * machine clock by arithmetic when read, and a timer runs only while an
 * enabled interrupt is still to come. Left out: square-wave output, the
 * daylight-saving (DSE) adjustment, the weekday register as an independent
 * counter (it is derived from the date), and the 4.19/1.05 MHz time bases
 * (every running divider setting counts at 32.768 kHz).
 */
#include "hvmdm/dev.h"
#include "hvmdm/io.h"
#include "hvmdm/irq.h"
#include "hvmdm/isa.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/timer.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

#define RTC_CMOS_SIZE 128

/* Clock registers (MC146818A, "Address map"). */
#define RTC_SECONDS 0x00
#define RTC_SECONDS_ALARM 0x01
#define RTC_MINUTES 0x02
#define RTC_MINUTES_ALARM 0x03
#define RTC_HOURS 0x04
#define RTC_HOURS_ALARM 0x05
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_NVRAM_START 0x0e
#define RTC_CENTURY 0x32 /* PC convention (ACPI FADT CENTURY), not the chip */

#define RTC_A_UIP 0x80 /* update in progress */
#define RTC_A_DV 0x70  /* divider select: 010 = 32.768 kHz, 11x = reset */
#define RTC_A_DV_32K 0x20
#define RTC_A_RS 0x0f   /* periodic rate select */
#define RTC_B_SET 0x80  /* stop updates, let the time be written */
#define RTC_B_PIE 0x40  /* periodic interrupt enable */
#define RTC_B_AIE 0x20  /* alarm interrupt enable */
#define RTC_B_UIE 0x10  /* update-ended interrupt enable */
#define RTC_B_SQWE 0x08 /* square-wave enable */
#define RTC_B_DM 0x04   /* data mode: 1 binary, 0 BCD */
#define RTC_B_24H 0x02  /* 1: 24-hour mode, 0: 12-hour with PM in bit 7 */
#define RTC_B_DSE 0x01  /* daylight-saving enable */
#define RTC_C_IRQF 0x80 /* PF&PIE | AF&AIE | UF&UIE */
#define RTC_C_PF 0x40   /* periodic flag */
#define RTC_C_AF 0x20   /* alarm flag */
#define RTC_C_UF 0x10   /* update-ended flag */
#define RTC_D_VRT 0x80  /* valid RAM and time */

#define RTC_HOUR_PM 0x80
#define RTC_ALARM_DONT_CARE 0xc0 /* both top bits: any value matches */

#define RTC_NS_PER_SEC 1000000000ll
#define RTC_UIP_NS 244000ll /* UIP rises this long before an update */
#define RTC_DIV_RESTART_NS 500000000ll /* first update after divider reset */
/* One 32.768 kHz period is 1953125/64 ns. */
#define RTC_TICK_NS_NUM 1953125ll
#define RTC_TICK_NS_DEN 64ll

/* Years the clock can hold: int64 nanoseconds around 1970 reach both. */
#define RTC_YEAR_MIN 1800
#define RTC_YEAR_MAX 2199

struct rtc {
    struct dm_dev dev;
    uint16_t iobase;
    uint8_t irq;

    /* Saved state. Registers 0x00-0x09 and 0x32 hold the time only while
     * it is not updating (SET, or divider stopped); the alarm registers,
     * A (without UIP), B, C (PF/AF/UF as of flags_clock), D and NVRAM always
     * live here. */
    uint8_t cmos[RTC_CMOS_SIZE];
    uint8_t index;
    bool nmi_masked;
    int64_t offset_ns; /* guest time minus host wall time */

    /* Not saved: host wall time HOST_SYNC was read at machine time
     * CLOCK_SYNC; flags are accounted up to FLAGS_CLOCK. */
    struct dm_clock *clock;
    int64_t host_sync, clock_sync;
    int64_t flags_clock;
    struct dm_io_region io;
    struct dm_irq_line irq_line;
    struct dm_timer timer;
};

struct rtc_tm {
    int year, mon, mday; /* mon 1-12, mday 1-31 */
    int hour, min, sec;
    int wday; /* 0 = Sunday */
};

extern const struct dm_dev_type rtc_type;

static int64_t rtc_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t rtc_now(struct rtc *s)
{
    return dm_clock_now(s->clock);
}

/* Guest time in ns since 1970 at machine time NOW (while updating). */
static int64_t rtc_guest_ns(struct rtc *s, int64_t now)
{
    return s->host_sync + (now - s->clock_sync) + s->offset_ns;
}

static bool rtc_div_running(struct rtc *s)
{
    return (s->cmos[RTC_REG_A] & RTC_A_DV) <= RTC_A_DV_32K;
}

/* The time registers count: divider running and SET clear. */
static bool rtc_updating(struct rtc *s)
{
    return rtc_div_running(s) && !(s->cmos[RTC_REG_B] & RTC_B_SET);
}

/* ---- calendar ------------------------------------------------------- */

static void rtc_tm_from_secs(int64_t secs, struct rtc_tm *tm)
{
    int64_t days = rtc_floor_div(secs, 86400);
    int64_t tod = secs - days * 86400;
    GDateTime *dt = g_date_time_new_from_unix_utc(days * 86400);

    g_assert(dt); /* years are kept within RTC_YEAR_MIN..RTC_YEAR_MAX */
    tm->year = g_date_time_get_year(dt);
    tm->mon = g_date_time_get_month(dt);
    tm->mday = g_date_time_get_day_of_month(dt);
    tm->wday = g_date_time_get_day_of_week(dt) % 7;
    g_date_time_unref(dt);
    tm->hour = (int)(tod / 3600);
    tm->min = (int)(tod / 60 % 60);
    tm->sec = (int)(tod % 60);
}

/* Seconds since 1970 of TM; out-of-range fields were clamped by the caller,
 * days past the month's end roll into the next month as on the chip. */
static int64_t rtc_tm_to_secs(const struct rtc_tm *tm)
{
    GDateTime *dt = g_date_time_new_utc(tm->year, tm->mon, 1, 0, 0, 0);
    int64_t secs;

    g_assert(dt);
    secs = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    return secs + (int64_t)(tm->mday - 1) * 86400 + tm->hour * 3600 +
           tm->min * 60 + tm->sec;
}

/* ---- register encoding ---------------------------------------------- */

static uint8_t rtc_to_reg(struct rtc *s, int v)
{
    if (s->cmos[RTC_REG_B] & RTC_B_DM) {
        return (uint8_t)v;
    }
    return (uint8_t)((v / 10) << 4 | v % 10);
}

static int rtc_from_reg(struct rtc *s, uint8_t v)
{
    if (s->cmos[RTC_REG_B] & RTC_B_DM) {
        return v;
    }
    return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_hour_to_reg(struct rtc *s, int hour)
{
    if (s->cmos[RTC_REG_B] & RTC_B_24H) {
        return rtc_to_reg(s, hour);
    }
    return rtc_to_reg(s, hour % 12 ? hour % 12 : 12) |
           (hour >= 12 ? RTC_HOUR_PM : 0);
}

static int rtc_hour_from_reg(struct rtc *s, uint8_t v)
{
    int h;

    if (s->cmos[RTC_REG_B] & RTC_B_24H) {
        return rtc_from_reg(s, v);
    }
    h = rtc_from_reg(s, v & ~RTC_HOUR_PM) % 12;
    return v & RTC_HOUR_PM ? h + 12 : h;
}

/* Store the time TM into the time registers. */
static void rtc_tm_to_regs(struct rtc *s, const struct rtc_tm *tm)
{
    s->cmos[RTC_SECONDS] = rtc_to_reg(s, tm->sec);
    s->cmos[RTC_MINUTES] = rtc_to_reg(s, tm->min);
    s->cmos[RTC_HOURS] = rtc_hour_to_reg(s, tm->hour);
    s->cmos[RTC_DAY_OF_WEEK] = rtc_to_reg(s, tm->wday + 1);
    s->cmos[RTC_DAY_OF_MONTH] = rtc_to_reg(s, tm->mday);
    s->cmos[RTC_MONTH] = rtc_to_reg(s, tm->mon);
    s->cmos[RTC_YEAR] = rtc_to_reg(s, tm->year % 100);
    s->cmos[RTC_CENTURY] = rtc_to_reg(s, tm->year / 100);
}

static int rtc_clamp_field(int v, int lo, int hi, bool *bad)
{
    if (v < lo || v > hi) {
        *bad = true;
        return v < lo ? lo : hi;
    }
    return v;
}

/* Seconds since 1970 of the time in the registers (guest-written). */
static int64_t rtc_regs_to_secs(struct rtc *s)
{
    struct rtc_tm tm;
    bool bad = false;

    tm.sec =
        rtc_clamp_field(rtc_from_reg(s, s->cmos[RTC_SECONDS]), 0, 59, &bad);
    tm.min =
        rtc_clamp_field(rtc_from_reg(s, s->cmos[RTC_MINUTES]), 0, 59, &bad);
    tm.hour =
        rtc_clamp_field(rtc_hour_from_reg(s, s->cmos[RTC_HOURS]), 0, 23, &bad);
    tm.mday = rtc_clamp_field(rtc_from_reg(s, s->cmos[RTC_DAY_OF_MONTH]), 1, 31,
                              &bad);
    tm.mon = rtc_clamp_field(rtc_from_reg(s, s->cmos[RTC_MONTH]), 1, 12, &bad);
    tm.year = rtc_clamp_field(
        rtc_from_reg(s, s->cmos[RTC_CENTURY]) * 100 +
            rtc_clamp_field(rtc_from_reg(s, s->cmos[RTC_YEAR]), 0, 99, &bad),
        RTC_YEAR_MIN, RTC_YEAR_MAX, &bad);
    tm.wday = 0;
    if (bad) {
        dm_guest_error("mc146818rtc[%s]: time registers out of range: "
                       "%02x-%02x-%02x%02x %02x:%02x:%02x, clamped",
                       s->dev.id, s->cmos[RTC_DAY_OF_MONTH], s->cmos[RTC_MONTH],
                       s->cmos[RTC_CENTURY], s->cmos[RTC_YEAR],
                       s->cmos[RTC_HOURS], s->cmos[RTC_MINUTES],
                       s->cmos[RTC_SECONDS]);
    }
    return rtc_tm_to_secs(&tm);
}

static bool rtc_is_time_reg(unsigned idx)
{
    switch (idx) {
    case RTC_SECONDS:
    case RTC_MINUTES:
    case RTC_HOURS:
    case RTC_DAY_OF_WEEK:
    case RTC_DAY_OF_MONTH:
    case RTC_MONTH:
    case RTC_YEAR:
    case RTC_CENTURY:
        return true;
    }
    return false;
}

/* Copy the running time into the time registers. */
static void rtc_latch_time(struct rtc *s, int64_t now)
{
    struct rtc_tm tm;

    rtc_tm_from_secs(rtc_floor_div(rtc_guest_ns(s, now), RTC_NS_PER_SEC), &tm);
    rtc_tm_to_regs(s, &tm);
}

/* Start counting from the time in the registers, at sub-second PHASE_NS. */
static void rtc_unlatch_time(struct rtc *s, int64_t now, int64_t phase_ns)
{
    int64_t secs = rtc_regs_to_secs(s);

    s->offset_ns = secs * RTC_NS_PER_SEC + phase_ns -
                   (s->host_sync + (now - s->clock_sync));
    dm_trace(rtc_set_time, "%s: %" PRId64 " s", s->dev.id, secs);
}

static int64_t rtc_phase(struct rtc *s, int64_t now)
{
    int64_t g = rtc_guest_ns(s, now);

    return g - rtc_floor_div(g, RTC_NS_PER_SEC) * RTC_NS_PER_SEC;
}

/* ---- events: periodic ticks, updates, alarms ------------------------- */

/* log2 of the periodic interrupt's period in 32.768 kHz ticks, -1 if off
 * (MC146818A table "Periodic interrupt rate": rates 1 and 2 repeat 8 and 9
 * with a 32.768 kHz time base). */
static int rtc_periodic_shift(struct rtc *s)
{
    unsigned rs = s->cmos[RTC_REG_A] & RTC_A_RS;

    if (rs == 0) {
        return -1;
    }
    return rs <= 2 ? (int)rs + 6 : (int)rs - 1;
}

/* 32.768 kHz ticks since 1970 at guest time G (floor). */
static int64_t rtc_ticks(int64_t g)
{
    __int128 t = (__int128)g * RTC_TICK_NS_DEN;
    __int128 q = t / RTC_TICK_NS_NUM;

    if (t % RTC_TICK_NS_NUM != 0 && t < 0) {
        q--;
    }
    return (int64_t)q;
}

/* Guest time of 32.768 kHz tick T (ceiling, so that rtc_ticks of it is T). */
static int64_t rtc_tick_ns(int64_t t)
{
    __int128 n = (__int128)t * RTC_TICK_NS_NUM;
    __int128 q = n / RTC_TICK_NS_DEN;

    if (n % RTC_TICK_NS_DEN != 0 && n > 0) {
        q++;
    }
    return (int64_t)q;
}

static bool rtc_alarm_match(uint8_t alarm, uint8_t val)
{
    return (alarm & RTC_ALARM_DONT_CARE) == RTC_ALARM_DONT_CARE || alarm == val;
}

/* The first second after AFTER (seconds since 1970) whose time of day
 * matches the alarm registers, or INT64_MAX when none within a day does. */
static int64_t rtc_next_alarm(struct rtc *s, int64_t after)
{
    uint8_t as = s->cmos[RTC_SECONDS_ALARM];
    uint8_t am = s->cmos[RTC_MINUTES_ALARM];
    uint8_t ah = s->cmos[RTC_HOURS_ALARM];
    int64_t t = after + 1, limit = after + 86400 + 1;

    while (t <= limit) {
        int64_t day = rtc_floor_div(t, 86400) * 86400;
        int tod = (int)(t - day);
        int h = tod / 3600, m = tod / 60 % 60, sec = tod % 60;

        if (!rtc_alarm_match(ah, rtc_hour_to_reg(s, h))) {
            t = day + (h + 1) * 3600;
        } else if (!rtc_alarm_match(am, rtc_to_reg(s, m))) {
            t = day + h * 3600 + (m + 1) * 60;
        } else if (!rtc_alarm_match(as, rtc_to_reg(s, sec))) {
            t++;
        } else {
            return t;
        }
    }
    return INT64_MAX;
}

/* Flags the events between FLAGS_CLOCK and NOW set (PF, UF, AF). */
static uint8_t rtc_new_flags(struct rtc *s, int64_t now)
{
    int64_t g0, g1, s0, s1;
    int shift = rtc_periodic_shift(s);
    uint8_t flags = 0;

    if (!rtc_div_running(s) || now <= s->flags_clock) {
        return 0;
    }
    g0 = rtc_guest_ns(s, s->flags_clock);
    g1 = rtc_guest_ns(s, now);
    if (shift >= 0 && (rtc_ticks(g1) >> shift) > (rtc_ticks(g0) >> shift)) {
        flags |= RTC_C_PF;
    }
    if (!(s->cmos[RTC_REG_B] & RTC_B_SET)) {
        s0 = rtc_floor_div(g0, RTC_NS_PER_SEC);
        s1 = rtc_floor_div(g1, RTC_NS_PER_SEC);
        if (s1 > s0) {
            flags |= RTC_C_UF;
            if (rtc_next_alarm(s, s0) <= s1) {
                flags |= RTC_C_AF;
            }
        }
    }
    return flags;
}

/* Fold the events up to NOW into register C. Called before anything that
 * changes how events are counted. */
static void rtc_sync_flags(struct rtc *s, int64_t now)
{
    s->cmos[RTC_REG_C] |= rtc_new_flags(s, now);
    s->flags_clock = now;
}

static bool rtc_irqf(struct rtc *s)
{
    return (s->cmos[RTC_REG_C] & s->cmos[RTC_REG_B] &
            (RTC_C_PF | RTC_C_AF | RTC_C_UF)) != 0;
}

static void rtc_update_irq(struct rtc *s)
{
    dm_irq_set(&s->irq_line, rtc_irqf(s));
}

/* Arm the timer for the next event that would raise IRQ 8: none while it is
 * already raised (only reading C lowers it) or no interrupt is enabled. */
static void rtc_arm_timer(struct rtc *s, int64_t now)
{
    uint8_t b = s->cmos[RTC_REG_B];
    int shift = rtc_periodic_shift(s);
    int64_t g, best = INT64_MAX;

    if (rtc_irqf(s) || !rtc_div_running(s) ||
        !(b & (RTC_B_PIE | RTC_B_AIE | RTC_B_UIE))) {
        dm_timer_del(&s->timer);
        return;
    }
    g = rtc_guest_ns(s, now);
    if ((b & RTC_B_PIE) && shift >= 0) {
        int64_t next = ((rtc_ticks(g) >> shift) + 1) << shift;

        best = MIN(best, rtc_tick_ns(next));
    }
    if (!(b & RTC_B_SET)) {
        int64_t sec = rtc_floor_div(g, RTC_NS_PER_SEC);

        if (b & RTC_B_UIE) {
            best = MIN(best, (sec + 1) * RTC_NS_PER_SEC);
        }
        if (b & RTC_B_AIE) {
            int64_t a = rtc_next_alarm(s, sec);

            if (a != INT64_MAX) {
                best = MIN(best, a * RTC_NS_PER_SEC);
            }
        }
    }
    if (best == INT64_MAX) {
        dm_timer_del(&s->timer);
        return;
    }
    dm_timer_mod(&s->timer, now + (best - g));
}

static void rtc_timer_cb(void *opaque)
{
    struct rtc *s = opaque;
    int64_t now = rtc_now(s);

    rtc_sync_flags(s, now);
    rtc_update_irq(s);
    rtc_arm_timer(s, now);
}

/* ---- registers ------------------------------------------------------ */

static uint8_t rtc_read_reg(struct rtc *s, unsigned idx)
{
    int64_t now = rtc_now(s);
    uint8_t val;

    switch (idx) {
    case RTC_REG_A:
        val = s->cmos[RTC_REG_A] & ~RTC_A_UIP;
        if (rtc_updating(s) &&
            rtc_phase(s, now) >= RTC_NS_PER_SEC - RTC_UIP_NS) {
            val |= RTC_A_UIP;
        }
        return val;
    case RTC_REG_C:
        rtc_sync_flags(s, now);
        val = s->cmos[RTC_REG_C] | (rtc_irqf(s) ? RTC_C_IRQF : 0);
        s->cmos[RTC_REG_C] = 0;
        rtc_update_irq(s);
        rtc_arm_timer(s, now);
        dm_trace(rtc_read_c, "%s: 0x%02x", s->dev.id, val);
        return val;
    case RTC_REG_D:
        return RTC_D_VRT;
    default:
        if (rtc_is_time_reg(idx) && rtc_updating(s)) {
            rtc_latch_time(s, now);
        }
        return s->cmos[idx];
    }
}

/* While SET holds the registers, restart the divider's phase so that the
 * next second boundary is RTC_DIV_RESTART_NS away. */
static void rtc_restart_divider(struct rtc *s, int64_t now)
{
    s->offset_ns += RTC_DIV_RESTART_NS - rtc_phase(s, now);
}

static void rtc_write_a(struct rtc *s, uint8_t val, int64_t now)
{
    bool was_running = rtc_div_running(s), was_updating = rtc_updating(s);

    s->cmos[RTC_REG_A] = val & ~RTC_A_UIP;
    if (was_updating && !rtc_updating(s)) {
        rtc_latch_time(s, now); /* divider stopped */
    } else if (!was_running && rtc_div_running(s)) {
        /* Out of divider reset: the first update comes 500 ms later. */
        rtc_restart_divider(s, now);
        if (rtc_updating(s)) {
            rtc_unlatch_time(s, now, RTC_DIV_RESTART_NS);
        }
    }
}

static void rtc_write_b(struct rtc *s, uint8_t val, int64_t now)
{
    bool was_updating = rtc_updating(s);

    if (val & RTC_B_SET) {
        /* Setting SET clears UIE (MC146818A, register B). */
        val &= ~RTC_B_UIE;
    }
    s->cmos[RTC_REG_B] = val;
    if (was_updating && !rtc_updating(s)) {
        /* SET: hold the time in the registers, in the new format. */
        rtc_latch_time(s, now);
    } else if (!was_updating && rtc_updating(s)) {
        /* SET released: count on from the registers; the divider kept its
         * phase. */
        rtc_unlatch_time(s, now, rtc_phase(s, now));
    }
}

static void rtc_write_reg(struct rtc *s, unsigned idx, uint8_t val)
{
    int64_t now = rtc_now(s);

    rtc_sync_flags(s, now);
    switch (idx) {
    case RTC_REG_A:
        rtc_write_a(s, val, now);
        break;
    case RTC_REG_B:
        rtc_write_b(s, val, now);
        break;
    case RTC_REG_C:
    case RTC_REG_D:
        dm_trace(rtc_write_ro, "%s: reg 0x%x val 0x%02x", s->dev.id, idx, val);
        break;
    default:
        if (rtc_is_time_reg(idx) && rtc_updating(s)) {
            /* Writing one field of a running clock sets the time. */
            rtc_latch_time(s, now);
            s->cmos[idx] = val;
            rtc_unlatch_time(s, now, rtc_phase(s, now));
        } else {
            s->cmos[idx] = val;
        }
        break;
    }
    rtc_update_irq(s);
    rtc_arm_timer(s, now);
}

static uint64_t rtc_io_read(void *opaque, uint64_t off, unsigned size)
{
    struct rtc *s = opaque;
    uint8_t val;

    if (off == 0) {
        return 0xff; /* the index register is write-only */
    }
    val = rtc_read_reg(s, s->index);
    dm_trace(rtc_read, "%s: reg 0x%02x = 0x%02x", s->dev.id, s->index, val);
    return val;
}

static void rtc_io_write(void *opaque, uint64_t off, uint64_t val,
                         unsigned size)
{
    struct rtc *s = opaque;

    if (off == 0) {
        s->index = val & 0x7f;
        s->nmi_masked = (val & 0x80) != 0;
        return;
    }
    dm_trace(rtc_write, "%s: reg 0x%02x = 0x%02x", s->dev.id, s->index,
             (unsigned)val);
    rtc_write_reg(s, s->index, (uint8_t)val);
}

static const struct dm_io_ops rtc_io_ops = {
    .read = rtc_io_read,
    .write = rtc_io_write,
    .valid = { .min = 1, .max = 2 }, /* outw 0x70 = index then data */
    .impl = { .min = 1, .max = 1 },
};

/* ---- the board's side door ----------------------------------------- */

static struct rtc *rtc_of(struct dm_dev *d)
{
    g_return_val_if_fail(d && d->type == &rtc_type, NULL);
    return dm_container_of(d, struct rtc, dev);
}

void rtc_cmos_set(struct dm_dev *rtc, unsigned idx, uint8_t val)
{
    struct rtc *s = rtc_of(rtc);

    g_return_if_fail(s && idx >= RTC_NVRAM_START && idx < RTC_CMOS_SIZE);
    s->cmos[idx] = val;
}

uint8_t rtc_cmos_get(struct dm_dev *rtc, unsigned idx)
{
    struct rtc *s = rtc_of(rtc);

    g_return_val_if_fail(s && idx >= RTC_NVRAM_START && idx < RTC_CMOS_SIZE,
                         0xff);
    if (idx == RTC_CENTURY && rtc_updating(s)) {
        rtc_latch_time(s, rtc_now(s));
    }
    return s->cmos[idx];
}

bool rtc_nmi_masked(struct dm_dev *rtc)
{
    struct rtc *s = rtc_of(rtc);

    return s && s->nmi_masked;
}

/* ---- device --------------------------------------------------------- */

/* Take the host wall time as of now as the base the guest offset counts
 * from; the guest time does not jump. */
static void rtc_resync_host(struct rtc *s, int64_t now)
{
    int64_t host = dm_clock_host_now(s->clock);

    s->offset_ns += s->host_sync + (now - s->clock_sync) - host;
    s->host_sync = host;
    s->clock_sync = now;
}

static bool rtc_realize(struct dm_dev *d, GError **errp)
{
    struct rtc *s = dm_container_of(d, struct rtc, dev);
    struct dm_machine *m = d->m;
    int64_t now;

    if (s->irq >= DM_ISA_IRQS) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "mc146818rtc[%s]: irq=%u: expected 0..15", d->id, s->irq);
        return false;
    }
    s->clock = m->clock;
    now = rtc_now(s);
    s->host_sync = dm_clock_host_now(s->clock);
    s->clock_sync = now;
    s->flags_clock = now;
    s->offset_ns = 0;
    /* Power-on contents (what firmware programs anyway): 32.768 kHz divider
     * with 1024 Hz periodic rate, BCD, 24-hour mode, valid RAM and time. */
    s->cmos[RTC_REG_A] = RTC_A_DV_32K | 0x06;
    s->cmos[RTC_REG_B] = RTC_B_24H;
    s->cmos[RTC_REG_C] = 0;
    s->cmos[RTC_REG_D] = RTC_D_VRT;
    dm_timer_init(&s->timer, s->clock, rtc_timer_cb, s);
    dm_io_region_init(&s->io, "mc146818rtc", &rtc_io_ops, s, 2);
    if (!dm_isa_irq_connect(m, &s->irq_line, s->irq, errp)) {
        g_prefix_error(errp, "mc146818rtc[%s]: ", d->id);
        return false;
    }
    if (!dm_io_map(m->pio, &s->io, s->iobase, errp)) {
        g_prefix_error(errp, "mc146818rtc[%s]: ", d->id);
        return false;
    }
    if (!m->rtc) {
        m->rtc = d;
    }
    return true;
}

static void rtc_unrealize(struct dm_dev *d)
{
    struct rtc *s = dm_container_of(d, struct rtc, dev);

    dm_timer_del(&s->timer);
    dm_io_unmap(&s->io);
    if (d->m->rtc == d) {
        d->m->rtc = NULL;
    }
}

/* RESET pin (MC146818A "RESET"): clears PIE, AIE, UIE, SQWE and the flags
 * of register C; time, alarm, A, D and RAM are kept. */
static void rtc_reset(struct dm_dev *d)
{
    struct rtc *s = dm_container_of(d, struct rtc, dev);
    int64_t now = rtc_now(s);

    s->cmos[RTC_REG_B] &= ~(RTC_B_PIE | RTC_B_AIE | RTC_B_UIE | RTC_B_SQWE);
    s->cmos[RTC_REG_C] = 0;
    s->flags_clock = now;
    rtc_update_irq(s);
    rtc_arm_timer(s, now);
}

static bool rtc_pre_save(void *opaque, GError **errp)
{
    struct rtc *s = opaque;
    int64_t now = rtc_now(s);

    rtc_sync_flags(s, now);
    rtc_resync_host(s, now);
    return true;
}

static bool rtc_post_load(void *opaque, int version, GError **errp)
{
    struct rtc *s = opaque;
    int64_t now = rtc_now(s), host = dm_clock_host_now(s->clock);
    int64_t lo = (int64_t)-5364662400 * RTC_NS_PER_SEC; /* 1800-01-01 */
    int64_t hi = (int64_t)7258118400 * RTC_NS_PER_SEC;  /* 2200-01-01 */

    if (s->index >= RTC_CMOS_SIZE) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "mc146818rtc[%s]: index 0x%x out of range", s->dev.id,
                    s->index);
        return false;
    }
    if (s->offset_ns < lo - host || s->offset_ns > hi - host) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "mc146818rtc[%s]: clock offset %" PRId64 " ns out of "
                    "range",
                    s->dev.id, s->offset_ns);
        return false;
    }
    s->cmos[RTC_REG_A] &= ~RTC_A_UIP;
    s->cmos[RTC_REG_C] &= RTC_C_PF | RTC_C_AF | RTC_C_UF;
    s->host_sync = host;
    s->clock_sync = now;
    s->flags_clock = now;
    rtc_update_irq(s);
    rtc_arm_timer(s, now);
    return true;
}

static const struct dm_vmstate_field rtc_vmstate_fields[] = {
    DM_VMS_BUFFER(struct rtc, cmos),
    DM_VMS_UINT8(struct rtc, index),
    DM_VMS_BOOL(struct rtc, nmi_masked),
    DM_VMS_INT64(struct rtc, offset_ns),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate rtc_vmstate = {
    .name = "mc146818rtc",
    .version = 1,
    .min_version = 1,
    .fields = rtc_vmstate_fields,
    .pre_save = rtc_pre_save,
    .post_load = rtc_post_load,
};

static const struct dm_prop rtc_props[] = {
    DM_PROP(struct rtc, iobase, DM_PROP_U16, "0x70"),
    DM_PROP(struct rtc, irq, DM_PROP_U8, "8"),
    DM_PROP_END,
};

const struct dm_dev_type rtc_type = {
    .name = "mc146818rtc",
    .bus = DM_BUS_ISA,
    .size = sizeof(struct rtc),
    .props = rtc_props,
    .realize = rtc_realize,
    .unrealize = rtc_unrealize,
    .reset = rtc_reset,
    .vmsd = &rtc_vmstate,
    .desc = "MC146818A real-time clock and CMOS RAM",
};
