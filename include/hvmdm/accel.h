/*
 * accel.h: the accelerator interface: who runs the CPUs and delivers I/O.
 *
 * Accelerators (accel/kvm.c, accel/qtest.c, later accel/xen.c) are the only
 * code that talks to a hypervisor. They turn what it delivers into dm_io_pio,
 * dm_io_mmio, dm_io_pio_string and dm_io_pci_config calls (io.h) and take ISA
 * interrupt levels from the board through set_gsi.
 */
#ifndef HVMDM_ACCEL_H
#define HVMDM_ACCEL_H

#include "hvmdm/common.h"

struct dm_accel;

struct dm_accel_ops {
    const char *name;
    /* Create the VM: interrupt controllers, listen to memory slots.
     * Called after RAM exists and before devices are created. */
    bool (*init)(struct dm_machine *m, GError **errp);
    /* Start the vCPUs (after devices are realized and reset). */
    bool (*start)(struct dm_machine *m, GError **errp);
    /* Pause all vCPUs and wait until none is running guest code or device
     * code (called with dm_lock held; returns with it held, but drops it
     * while it waits so that vCPUs inside device code can finish). Pauses
     * nest: each pause needs one resume. */
    void (*pause)(struct dm_machine *m);
    void (*resume)(struct dm_machine *m);
    /* Set the level of interrupt controller input GSI (ISA IRQ n = GSI n,
     * PCI INTx routed by PIIX3 to ISA IRQs). */
    void (*set_gsi)(struct dm_machine *m, int gsi, int level);
    /* Deliver a message-signalled interrupt: the 32-bit DATA a device
     * writes at ADDR (0xfeexxxxx, Intel SDM vol. 3A, 11.11). */
    void (*send_msi)(struct dm_machine *m, uint64_t addr, uint32_t data);
    /* Put the CPUs in their reset state (system reset). */
    void (*reset_cpus)(struct dm_machine *m);
    /* Stop and join vCPU threads, free everything. */
    void (*destroy)(struct dm_machine *m);
};

extern const struct dm_accel_ops dm_accel_kvm;
extern const struct dm_accel_ops dm_accel_qtest;

const struct dm_accel_ops *dm_accel_find(const char *name);

#endif
