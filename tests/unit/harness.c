/*
 * harness.c: a PC on the qtest accelerator for unit tests (see harness.h).
 *
 * dm_lock is taken when the first machine of a test thread is created and
 * released when the last one is freed; the count of live machines is the only
 * state kept here (lock state, per thread).
 */
#include "harness.h"

#include "hvmdm/config.h"
#include "hvmdm/io.h"
#include "hvmdm/machine.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/memory.h"
#include "hvmdm/qtest.h"
#include "hvmdm/timer.h"

#define TH_PCI_CONFIG_ADDR 0xcf8
#define TH_PCI_CONFIG_DATA 0xcfc
#define TH_PCI_ENABLE 0x80000000u

static __thread unsigned th_machines_live; /* machines holding dm_lock */
static __thread bool th_took_lock;         /* the harness took dm_lock */

static struct dm_machine *th_new(const char *args, bool board)
{
    g_autofree char *line =
        g_strdup_printf("-accel qtest %s", args ? args : "");
    g_auto(GStrv) argv = NULL;
    struct dm_config *cfg;
    struct dm_machine *m;
    GError *err = NULL;
    bool exit_now = false;
    int argc = 0;

    g_shell_parse_argv(line, &argc, &argv, &err);
    g_assert_no_error(err);
    cfg = dm_config_new();
    dm_config_parse_argv(cfg, argc, argv, &exit_now, &err);
    g_assert_no_error(err);
    g_assert_false(exit_now);
    g_assert_cmpstr(cfg->accel, ==, "qtest");

    if (th_machines_live++ == 0 && !dm_lock_held()) {
        dm_lock();
        th_took_lock = true;
    }
    m = dm_machine_new(cfg, &err);
    g_assert_no_error(err);
    g_assert_nonnull(m);
    if (board) {
        dm_pc_init(m, &err);
        g_assert_no_error(err);
        dm_machine_add_user_devices(m, &err);
        g_assert_no_error(err);
        dm_machine_reset(m);
    }
    return m;
}

struct dm_machine *th_pc_new(const char *args)
{
    return th_new(args, true);
}

struct dm_machine *th_machine_new(const char *args)
{
    return th_new(args, false);
}

void th_pc_free(struct dm_machine *m)
{
    g_assert_cmpuint(th_machines_live, >, 0);
    dm_machine_free(m);
    if (--th_machines_live == 0 && th_took_lock) {
        th_took_lock = false;
        dm_unlock();
    }
}

/* ---- port I/O ------------------------------------------------------------ */

static uint32_t th_in(struct dm_machine *m, uint16_t port, unsigned size)
{
    uint32_t val = UINT32_MAX;

    dm_io_pio(m, port, size, false, &val);
    return val;
}

static void th_out(struct dm_machine *m, uint16_t port, unsigned size,
                   uint32_t val)
{
    dm_io_pio(m, port, size, true, &val);
}

void th_outb(struct dm_machine *m, uint16_t port, uint8_t val)
{
    th_out(m, port, 1, val);
}

void th_outw(struct dm_machine *m, uint16_t port, uint16_t val)
{
    th_out(m, port, 2, val);
}

void th_outl(struct dm_machine *m, uint16_t port, uint32_t val)
{
    th_out(m, port, 4, val);
}

uint8_t th_inb(struct dm_machine *m, uint16_t port)
{
    return (uint8_t)th_in(m, port, 1);
}

uint16_t th_inw(struct dm_machine *m, uint16_t port)
{
    return (uint16_t)th_in(m, port, 2);
}

uint32_t th_inl(struct dm_machine *m, uint16_t port)
{
    return th_in(m, port, 4);
}

/* ---- memory -------------------------------------------------------------- */

void th_memread(struct dm_machine *m, uint64_t gpa, void *buf, size_t len)
{
    dm_memory_rw(m, gpa, buf, len, false);
}

void th_memwrite(struct dm_machine *m, uint64_t gpa, const void *buf,
                 size_t len)
{
    dm_memory_rw(m, gpa, (void *)buf, len, true);
}

void th_memset(struct dm_machine *m, uint64_t gpa, uint8_t val, size_t len)
{
    uint8_t *buf = g_malloc(len ? len : 1);

    memset(buf, val, len);
    th_memwrite(m, gpa, buf, len);
    g_free(buf);
}

static uint64_t th_read_le(struct dm_machine *m, uint64_t gpa, unsigned size)
{
    uint64_t v = 0;

    th_memread(m, gpa, &v, size);
    return GUINT64_FROM_LE(v);
}

static void th_write_le(struct dm_machine *m, uint64_t gpa, unsigned size,
                        uint64_t val)
{
    uint64_t v = GUINT64_TO_LE(val);

    th_memwrite(m, gpa, &v, size);
}

void th_writeb(struct dm_machine *m, uint64_t gpa, uint8_t val)
{
    th_write_le(m, gpa, 1, val);
}

void th_writew(struct dm_machine *m, uint64_t gpa, uint16_t val)
{
    th_write_le(m, gpa, 2, val);
}

void th_writel(struct dm_machine *m, uint64_t gpa, uint32_t val)
{
    th_write_le(m, gpa, 4, val);
}

void th_writeq(struct dm_machine *m, uint64_t gpa, uint64_t val)
{
    th_write_le(m, gpa, 8, val);
}

uint8_t th_readb(struct dm_machine *m, uint64_t gpa)
{
    return (uint8_t)th_read_le(m, gpa, 1);
}

uint16_t th_readw(struct dm_machine *m, uint64_t gpa)
{
    return (uint16_t)th_read_le(m, gpa, 2);
}

uint32_t th_readl(struct dm_machine *m, uint64_t gpa)
{
    return (uint32_t)th_read_le(m, gpa, 4);
}

uint64_t th_readq(struct dm_machine *m, uint64_t gpa)
{
    return th_read_le(m, gpa, 8);
}

/* ---- PCI configuration space ----------------------------------------------- */

static void th_pci_select(struct dm_machine *m, int devfn, unsigned reg)
{
    g_assert(devfn >= 0 && devfn < 256 && reg < 256);
    th_outl(m, TH_PCI_CONFIG_ADDR,
            TH_PCI_ENABLE | (uint32_t)devfn << 8 | (reg & 0xfc));
}

uint8_t th_pci_readb(struct dm_machine *m, int devfn, unsigned reg)
{
    th_pci_select(m, devfn, reg);
    return th_inb(m, TH_PCI_CONFIG_DATA + (reg & 3));
}

uint16_t th_pci_readw(struct dm_machine *m, int devfn, unsigned reg)
{
    th_pci_select(m, devfn, reg);
    return th_inw(m, TH_PCI_CONFIG_DATA + (reg & 2));
}

uint32_t th_pci_readl(struct dm_machine *m, int devfn, unsigned reg)
{
    th_pci_select(m, devfn, reg);
    return th_inl(m, TH_PCI_CONFIG_DATA);
}

void th_pci_writeb(struct dm_machine *m, int devfn, unsigned reg, uint8_t val)
{
    th_pci_select(m, devfn, reg);
    th_outb(m, TH_PCI_CONFIG_DATA + (reg & 3), val);
}

void th_pci_writew(struct dm_machine *m, int devfn, unsigned reg, uint16_t val)
{
    th_pci_select(m, devfn, reg);
    th_outw(m, TH_PCI_CONFIG_DATA + (reg & 2), val);
}

void th_pci_writel(struct dm_machine *m, int devfn, unsigned reg, uint32_t val)
{
    th_pci_select(m, devfn, reg);
    th_outl(m, TH_PCI_CONFIG_DATA, val);
}

/* ---- clock, interrupts, protocol --------------------------------------------- */

int64_t th_clock_step(struct dm_machine *m, int64_t ns)
{
    g_assert_cmpint(ns, >=, 0);
    dm_clock_step(m->clock, ns);
    return dm_clock_now(m->clock);
}

int64_t th_clock_step_next(struct dm_machine *m)
{
    int64_t next = dm_clock_next_deadline(m->clock);

    g_assert_cmpint(next, >=, 0);
    if (next > dm_clock_now(m->clock)) {
        dm_clock_set(m->clock, next);
    } else {
        dm_clock_step(m->clock, 0);
    }
    return dm_clock_now(m->clock);
}

int64_t th_clock_set(struct dm_machine *m, int64_t ns)
{
    g_assert_cmpint(ns, >=, dm_clock_now(m->clock));
    dm_clock_set(m->clock, ns);
    return dm_clock_now(m->clock);
}

int64_t th_clock_now(struct dm_machine *m)
{
    return dm_clock_now(m->clock);
}

int th_irq_level(struct dm_machine *m, int gsi)
{
    int level = dm_qtest_gsi_level(m, gsi);

    g_assert_cmpint(level, >=, 0);
    return level;
}

char *th_qtest(struct dm_machine *m, const char *lines)
{
    return dm_qtest_process(m, lines);
}
