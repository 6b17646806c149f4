/*
 * machine.c: one guest: RAM, I/O spaces, clock, accelerator, the device list,
 * ISA interrupt inputs shared by several sources, system reset and shutdown
 * requests, and the run loop.
 *
 * Requests (reset from the PIIX3 RCR or the keyboard controller, power-off
 * from ACPI, quit from a console) are recorded and served by one bottom half
 * on the main loop, never inside the device access that raised them. SIGINT,
 * SIGTERM and SIGHUP arrive through a signalfd and shut down cleanly.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "hvmdm/accel.h"
#include "hvmdm/chardev.h"
#include "hvmdm/dev.h"
#include "hvmdm/input.h"
#include "hvmdm/io.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/memory.h"
#include "hvmdm/pci.h"
#include "hvmdm/timer.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

#define DM_PIO_LIMIT 0x10000ull
#define DM_MMIO_LIMIT (1ull << 52)  /* x86-64 physical address width */
#define DM_ISA_IRQ_MAX_SOURCES 32

static void dm_machine_request_bh(void *opaque);

static bool dm_machine_add_chardevs(struct dm_machine *m, GError **errp)
{
    for (guint i = 0; i < m->cfg->chardevs->len; i++) {
        const char *opts = g_ptr_array_index(m->cfg->chardevs, i);

        if (!dm_chr_new(m, opts, errp)) {
            g_prefix_error(errp, "-chardev %s: ", opts);
            return false;
        }
    }
    return true;
}

struct dm_machine *dm_machine_new(struct dm_config *cfg, GError **errp)
{
    struct dm_machine *m = g_new0(struct dm_machine, 1);
    uint64_t below_4g;

    m->cfg = cfg;
    m->devs = g_ptr_array_new();
    m->chardevs = g_ptr_array_new();
    m->state = DM_RUN_RUNNING;
    m->accel = dm_accel_find(cfg->accel);
    if (!m->accel) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-accel %s: accelerator not available in this build",
                    cfg->accel);
        goto fail;
    }
    below_4g = MIN(cfg->ram_size, DM_PCI_HOLE_START_DEFAULT);
    m->mem = dm_memory_new(cfg->ram_size, below_4g, errp);
    if (!m->mem) {
        g_prefix_error(errp, "-m %lluM: ",
                       (unsigned long long)(cfg->ram_size / DM_MiB));
        goto fail;
    }
    m->pio = dm_io_space_new("pio", DM_PIO_LIMIT);
    m->mmio = dm_io_space_new("mmio", DM_MMIO_LIMIT);
    m->clock = dm_clock_new(strcmp(m->accel->name, "qtest") == 0);
    m->input = dm_input_new();
    m->request_bh = dm_bh_new(dm_machine_request_bh, m);
    if (!dm_machine_add_chardevs(m, errp)) {
        goto fail;
    }
    if (!m->accel->init(m, errp)) {
        goto fail;
    }
    m->accel_ready = true;
    return m;

fail:
    dm_machine_free(m);
    return NULL;
}

void dm_machine_free(struct dm_machine *m)
{
    if (!m) {
        return;
    }
    if (m->accel_ready && m->accel->destroy) {
        /* vCPU threads stop before the devices they call go away */
        m->accel->destroy(m);
    }
    m->accel_ready = false;  /* devices going away no longer reach it */
    while (m->devs->len) {
        dm_dev_free(g_ptr_array_index(m->devs, m->devs->len - 1));
    }
    if (m->pci) {
        dm_pci_bus_free(m->pci);
    }
    dm_chr_free_all(m);
    if (m->request_bh) {
        dm_bh_delete(m->request_bh);
    }
    if (m->input) {
        dm_input_free(m->input);
    }
    if (m->pio) {
        dm_io_space_free(m->pio);
    }
    if (m->mmio) {
        dm_io_space_free(m->mmio);
    }
    if (m->mem) {
        dm_memory_free(m->mem);
    }
    if (m->clock) {
        dm_clock_free(m->clock);
    }
    g_ptr_array_free(m->devs, TRUE);
    g_ptr_array_free(m->chardevs, TRUE);
    dm_config_free(m->cfg);
    g_free(m);
}

void dm_machine_reset(struct dm_machine *m)
{
    for (guint i = 0; i < m->devs->len; i++) {
        dm_dev_reset(g_ptr_array_index(m->devs, i));
    }
    if (m->accel && m->accel->reset_cpus) {
        m->accel->reset_cpus(m);
    }
    m->reset_requested = false;
}

bool dm_machine_add_user_devices(struct dm_machine *m, GError **errp)
{
    for (guint i = 0; i < m->cfg->devices->len; i++) {
        const char *spec = g_ptr_array_index(m->cfg->devices, i);
        const char *comma = strchr(spec, ',');
        g_autofree char *type = comma ? g_strndup(spec, (gsize)(comma - spec))
                                      : g_strdup(spec);
        const char *eq = strchr(type, '=');

        if (eq) {
            /* "driver=TYPE,..." */
            char *t = g_strdup(eq + 1);

            g_free(type);
            type = t;
        }
        if (!dm_dev_new(m, type, comma ? comma + 1 : "", errp)) {
            g_prefix_error(errp, "-device %s: ", spec);
            return false;
        }
    }
    return true;
}

/* ---- requests ------------------------------------------------------------ */

static void dm_machine_request_bh(void *opaque)
{
    struct dm_machine *m = opaque;
    enum dm_shutdown_cause cause = m->shutdown_cause;

    if (cause == DM_SHUTDOWN_GUEST_POWEROFF && m->cfg->no_shutdown) {
        /* -no-shutdown: the VM stays, paused, until a control command */
        m->shutdown_cause = DM_SHUTDOWN_NONE;
        if (m->state == DM_RUN_RUNNING) {
            if (m->started && m->accel->pause) {
                m->accel->pause(m);
            }
            m->state = DM_RUN_PAUSED;
        }
        return;
    }
    if (cause != DM_SHUTDOWN_NONE) {
        m->state = DM_RUN_SHUTDOWN;
        m->exit_status = cause == DM_SHUTDOWN_ERROR ? 1 : 0;
        dm_main_loop_wakeup();
        return;
    }
    if (m->reset_requested) {
        bool running = m->started && m->state == DM_RUN_RUNNING;

        dm_trace(machine_reset, "system reset");
        if (running && m->accel->pause) {
            m->accel->pause(m);
        }
        dm_machine_reset(m);
        if (running && m->accel->resume) {
            m->accel->resume(m);
        }
    }
}

void dm_machine_request_reset(struct dm_machine *m)
{
    if (m->cfg->no_reboot) {
        dm_machine_request_shutdown(m, DM_SHUTDOWN_GUEST_RESET);
        return;
    }
    m->reset_requested = true;
    dm_bh_schedule(m->request_bh);
}

void dm_machine_request_shutdown(struct dm_machine *m,
                                 enum dm_shutdown_cause cause)
{
    /* the first cause is the one reported */
    if (m->shutdown_cause == DM_SHUTDOWN_NONE) {
        m->shutdown_cause = cause;
    }
    dm_bh_schedule(m->request_bh);
}

/* ---- ISA interrupt inputs ------------------------------------------------ */

static void dm_isa_irq_handler(void *opaque, int n, int level)
{
    struct dm_machine *m = opaque;
    int irq = n / DM_ISA_IRQ_MAX_SOURCES;
    uint32_t bit = 1u << (n % DM_ISA_IRQ_MAX_SOURCES);
    bool before = m->isa_irq_asserted[irq] != 0;

    if (level) {
        m->isa_irq_asserted[irq] |= bit;
    } else {
        m->isa_irq_asserted[irq] &= ~bit;
    }
    if (before != (m->isa_irq_asserted[irq] != 0) && m->accel_ready &&
        m->accel->set_gsi) {
        m->accel->set_gsi(m, irq, !before);
    }
}

bool dm_isa_irq_connect(struct dm_machine *m, struct dm_irq_line *line,
                        int irq, GError **errp)
{
    unsigned src;

    if (irq < 0 || irq >= DM_ISA_IRQS) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "ISA IRQ %d out of range (0 to %d)", irq, DM_ISA_IRQS - 1);
        return false;
    }
    if (m->isa_irq_nsources[irq] >= DM_ISA_IRQ_MAX_SOURCES) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "ISA IRQ %d: more than %d sources", irq,
                    DM_ISA_IRQ_MAX_SOURCES);
        return false;
    }
    src = m->isa_irq_nsources[irq]++;
    dm_irq_connect(line, dm_isa_irq_handler, m,
                   irq * DM_ISA_IRQ_MAX_SOURCES + (int)src);
    if (line->level) {
        dm_isa_irq_handler(m, line->n, 1);
    }
    return true;
}

int dm_isa_irq_level(struct dm_machine *m, int irq)
{
    if (irq < 0 || irq >= DM_ISA_IRQS) {
        return 0;
    }
    return m->isa_irq_asserted[irq] != 0;
}

/* ---- saved state --------------------------------------------------------- */

GBytes *dm_machine_save_state(struct dm_machine *m, GError **errp)
{
    struct dm_vmstate_stream *w = dm_vmstate_writer_new();
    GBytes *data;

    for (guint i = 0; i < m->devs->len; i++) {
        struct dm_dev *d = g_ptr_array_index(m->devs, i);

        if (d->type->vmsd &&
            !dm_vmstate_save_section(w, d->type->name, d->id, d->type->vmsd,
                                     d, errp)) {
            data = dm_vmstate_writer_finish(w);
            g_bytes_unref(data);
            return NULL;
        }
    }
    return dm_vmstate_writer_finish(w);
}

bool dm_machine_load_state(struct dm_machine *m, GBytes *data, GError **errp)
{
    struct dm_vmstate_stream *r = dm_vmstate_reader_new(data, errp);
    bool ok = r != NULL;

    for (guint i = 0; ok && i < m->devs->len; i++) {
        struct dm_dev *d = g_ptr_array_index(m->devs, i);

        if (d->type->vmsd) {
            ok = dm_vmstate_load_section(r, d->type->name, d->id,
                                         d->type->vmsd, d, errp);
        }
    }
    if (ok && !dm_vmstate_reader_at_end(r)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "state stream holds devices this machine does not have");
        ok = false;
    }
    dm_vmstate_stream_free(r);
    return ok;
}

/* ---- running ------------------------------------------------------------- */

struct dm_signals {
    struct dm_machine *m;
    int fd;
    struct dm_fd_watch *watch;
};

static void dm_machine_signal(void *opaque, int fd, GIOCondition cond)
{
    struct dm_signals *s = opaque;
    struct signalfd_siginfo si;

    while (read(fd, &si, sizeof(si)) == sizeof(si)) {
        if (s->m->shutdown_cause == DM_SHUTDOWN_NONE) {
            fprintf(stderr, "hvmdm: terminating on signal %u from pid %u\n",
                    si.ssi_signo, si.ssi_pid);
        }
        dm_machine_request_shutdown(s->m, DM_SHUTDOWN_HOST_SIGNAL);
    }
}

static void dm_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

int dm_machine_run(struct dm_machine *m)
{
    struct dm_signals sig = { .m = m, .fd = -1 };
    GError *err = NULL;
    sigset_t set;

    dm_lock();
    /* blocked before vCPU threads exist so they inherit the mask */
    dm_signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sig.fd >= 0) {
        sig.watch = dm_fd_watch_add(sig.fd, G_IO_IN, dm_machine_signal, &sig);
    } else {
        dm_warn("signalfd: %s: signals will not stop the guest cleanly",
                g_strerror(errno));
    }
    if (m->accel->start && !m->accel->start(m, &err)) {
        fprintf(stderr, "hvmdm: %s\n", err->message);
        g_error_free(err);
        m->state = DM_RUN_SHUTDOWN;
        m->exit_status = 1;
    } else {
        m->started = true;
    }
    while (m->state != DM_RUN_SHUTDOWN) {
        dm_main_loop_iterate(true);
    }
    if (sig.watch) {
        dm_fd_watch_remove(sig.watch);
    }
    if (sig.fd >= 0) {
        close(sig.fd);
    }
    dm_unlock();
    return m->exit_status;
}
