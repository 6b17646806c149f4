/*
 * qtest.h: the CPU-less test accelerator (accel/qtest.c).
 *
 * Nobody runs guest code: tests drive port and memory I/O, step the manual
 * machine clock and watch interrupt controller inputs, either in process or
 * over QEMU's qtest text protocol (-qtest CHARDEV, one command per line:
 * outb/inb, readl/writel, read/write, b64read/b64write, memset, clock_step,
 * clock_set, irq_intercept_in ioapic, set_irq_in, endianness).
 */
#ifndef HVMDM_QTEST_H
#define HVMDM_QTEST_H

#include "hvmdm/common.h"

/* Interrupt controller inputs the qtest accelerator records (IOAPIC pins). */
#define DM_QTEST_NR_GSI 24

/* Level last set on GSI by the board (0 or 1); -1 when M does not run on the
 * qtest accelerator or GSI is out of range. */
int dm_qtest_gsi_level(struct dm_machine *m, int gsi);

/* How many MSIs devices sent (accel send_msi) since the machine was made;
 * ADDR and DATA (may be NULL) get the last one. 0 when not qtest. */
unsigned dm_qtest_msi_count(struct dm_machine *m, uint64_t *addr,
                            uint32_t *data);

/* Run protocol commands in process: TEXT holds one or more lines (the last
 * one may lack its newline). Returns everything the protocol would have sent
 * back, asynchronous "IRQ raise N" lines included (g_free it). Call with
 * dm_lock held. */
char *dm_qtest_process(struct dm_machine *m, const char *text);

#endif
