/*
 * machine.h: one guest: its configuration, memory, I/O spaces, clock,
 * devices, the accelerator, and requests (reset, shutdown) raised by devices
 * and served by the main loop.
 *
 * Lifetime: dm_machine_new (RAM, spaces, accelerator init) -> the board file
 * creates and wires devices (dm_pc_init) -> dm_machine_reset -> accel start ->
 * dm_machine_run (main loop until shutdown) -> dm_machine_free.
 */
#ifndef HVMDM_MACHINE_H
#define HVMDM_MACHINE_H

#include "hvmdm/common.h"
#include "hvmdm/config.h"
#include "hvmdm/irq.h"

struct dm_accel_ops;
struct dm_clock;
struct dm_memory;
struct dm_io_space;
struct dm_pci_bus;
struct dm_fw_cfg;
struct dm_input;
struct dm_dev;

#define DM_ISA_IRQS 16

enum dm_run_state {
    DM_RUN_RUNNING,
    DM_RUN_PAUSED,     /* stopped by the user or an I/O error policy */
    DM_RUN_SHUTDOWN,   /* the main loop returns */
};

enum dm_shutdown_cause {
    DM_SHUTDOWN_NONE,
    DM_SHUTDOWN_HOST_SIGNAL,   /* SIGINT, SIGTERM, SIGHUP */
    DM_SHUTDOWN_GUEST_POWEROFF,
    DM_SHUTDOWN_GUEST_RESET,   /* with -no-reboot */
    DM_SHUTDOWN_ERROR,         /* internal error, exit status 1 */
    DM_SHUTDOWN_USER_QUIT,     /* Ctrl-A x, qtest quit */
};

struct dm_machine {
    struct dm_config *cfg;     /* parsed command line, owned */
    const struct dm_accel_ops *accel;
    void *accel_state;         /* the accelerator's own */
    struct dm_clock *clock;
    struct dm_memory *mem;
    struct dm_io_space *pio;
    struct dm_io_space *mmio;
    struct dm_pci_bus *pci;
    struct dm_fw_cfg *fw_cfg;
    struct dm_input *input;
    GPtrArray *devs;           /* struct dm_dev *, in creation order */
    GPtrArray *chardevs;       /* struct dm_chr * */
    /* ISA interrupt inputs of the interrupt controllers. Each line connected
     * with dm_isa_irq_connect is one source (a device, a PIRQ); the
     * accelerator's set_gsi sees the OR of the sources of an input. */
    uint32_t isa_irq_asserted[DM_ISA_IRQS];  /* a bit per source */
    unsigned isa_irq_nsources[DM_ISA_IRQS];
    struct dm_dev *rtc;        /* for CMOS contents set by the board */
    enum dm_run_state state;
    enum dm_shutdown_cause shutdown_cause;
    bool reset_requested;
    struct dm_bh *request_bh;  /* serves reset/shutdown requests */
    int exit_status;
    bool accel_ready;          /* accel->init succeeded: destroy on free */
    bool started;              /* accel->start succeeded */
};

/* Create the machine: memory (RAM below the PCI hole at 0xe0000000, the rest
 * above 4 GiB), I/O spaces, clock (manual under qtest), input, the -chardev
 * character devices, then accelerator init. Takes ownership of CFG, also
 * on failure. */
struct dm_machine *dm_machine_new(struct dm_config *cfg, GError **errp);
void dm_machine_free(struct dm_machine *m);
/* Reset every device in creation order, then the CPUs. */
void dm_machine_reset(struct dm_machine *m);
/* Start the accelerator and run the main loop until shutdown; returns the
 * process exit status. Takes and releases dm_lock. SIGINT, SIGTERM and SIGHUP
 * (which main() blocks in every thread before creating any) are taken from
 * a signalfd and shut down cleanly, exit status 0. */
int dm_machine_run(struct dm_machine *m);

/* Requests from any thread with dm_lock held (devices, accelerators,
 * signal handlers through a bh): served by the main loop. */
void dm_machine_request_reset(struct dm_machine *m);
void dm_machine_request_shutdown(struct dm_machine *m,
                                 enum dm_shutdown_cause cause);
/* Save every realized device that has a state table, in creation order
 * (section = type name + id); load expects the same devices in the same
 * order, e.g. a machine built from the same command line. */
GBytes *dm_machine_save_state(struct dm_machine *m, GError **errp);
bool dm_machine_load_state(struct dm_machine *m, GBytes *data, GError **errp);

/* Connect LINE as a new source of ISA IRQ input IRQ (0..15, at most 32
 * sources each). */
bool dm_isa_irq_connect(struct dm_machine *m, struct dm_irq_line *line,
                        int irq, GError **errp);
/* Current OR'ed level of ISA IRQ input IRQ. */
int dm_isa_irq_level(struct dm_machine *m, int irq);

/* The PC board: creates and wires every device (hw/pc.c). */
bool dm_pc_init(struct dm_machine *m, GError **errp);
/* The -device devices, in command-line order; main() calls this after
 * dm_pc_init, so they take the PCI slots the board left free. */
bool dm_machine_add_user_devices(struct dm_machine *m, GError **errp);

#endif
