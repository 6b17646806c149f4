/*
 * harness.h: the unit tests' PC on the qtest accelerator: build a machine from
 * command-line options, then do what a guest can do (port and memory I/O,
 * PCI configuration cycles) and watch what it would see (interrupt inputs,
 * time on the manual clock).
 *
 * Every helper fails the running test on error instead of returning one. The
 * machine holds dm_lock from th_pc_new to th_pc_free (device code expects it),
 * so the test body runs as device callers do.
 */
#ifndef HVMDM_TESTS_HARNESS_H
#define HVMDM_TESTS_HARNESS_H

#include "hvmdm/common.h"

/* "-accel qtest" followed by ARGS (shell quoting, e.g. "-m 64 -device
 * ne2k_pci"): dm_config_parse_argv, dm_machine_new, dm_pc_init,
 * dm_machine_reset. */
struct dm_machine *th_pc_new(const char *args);
/* The same without the board: memory, I/O spaces and clock only. */
struct dm_machine *th_machine_new(const char *args);
void th_pc_free(struct dm_machine *m);

/* Port I/O. */
void th_outb(struct dm_machine *m, uint16_t port, uint8_t val);
void th_outw(struct dm_machine *m, uint16_t port, uint16_t val);
void th_outl(struct dm_machine *m, uint16_t port, uint32_t val);
uint8_t th_inb(struct dm_machine *m, uint16_t port);
uint16_t th_inw(struct dm_machine *m, uint16_t port);
uint32_t th_inl(struct dm_machine *m, uint16_t port);

/* Guest physical memory as the CPU sees it (RAM, ROM, MMIO). */
void th_writeb(struct dm_machine *m, uint64_t gpa, uint8_t val);
void th_writew(struct dm_machine *m, uint64_t gpa, uint16_t val);
void th_writel(struct dm_machine *m, uint64_t gpa, uint32_t val);
void th_writeq(struct dm_machine *m, uint64_t gpa, uint64_t val);
uint8_t th_readb(struct dm_machine *m, uint64_t gpa);
uint16_t th_readw(struct dm_machine *m, uint64_t gpa);
uint32_t th_readl(struct dm_machine *m, uint64_t gpa);
uint64_t th_readq(struct dm_machine *m, uint64_t gpa);
void th_memread(struct dm_machine *m, uint64_t gpa, void *buf, size_t len);
void th_memwrite(struct dm_machine *m, uint64_t gpa, const void *buf,
                 size_t len);
void th_memset(struct dm_machine *m, uint64_t gpa, uint8_t val, size_t len);

/* PCI configuration mechanism #1 (0xcf8/0xcfc) on bus 0. */
uint8_t th_pci_readb(struct dm_machine *m, int devfn, unsigned reg);
uint16_t th_pci_readw(struct dm_machine *m, int devfn, unsigned reg);
uint32_t th_pci_readl(struct dm_machine *m, int devfn, unsigned reg);
void th_pci_writeb(struct dm_machine *m, int devfn, unsigned reg, uint8_t val);
void th_pci_writew(struct dm_machine *m, int devfn, unsigned reg, uint16_t val);
void th_pci_writel(struct dm_machine *m, int devfn, unsigned reg, uint32_t val);

/* The manual clock: advance by NS / to the next timer / to NS (absolute);
 * each returns the new time in ns. Timers due on the way run in order. */
int64_t th_clock_step(struct dm_machine *m, int64_t ns);
int64_t th_clock_step_next(struct dm_machine *m);
int64_t th_clock_set(struct dm_machine *m, int64_t ns);
int64_t th_clock_now(struct dm_machine *m);

/* Level (0/1) of interrupt controller input GSI (ISA IRQ n = GSI n). */
int th_irq_level(struct dm_machine *m, int gsi);

/* One or more qtest protocol lines run in process; returns the replies
 * (g_free). */
char *th_qtest(struct dm_machine *m, const char *lines);

#endif
