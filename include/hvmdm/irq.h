/*
 * irq.h: interrupt lines. A device owns lines and sets their level; the board
 * connects each line to a sink (the accelerator's PIC/IOAPIC input, PIIX3's
 * PIRQ router, a test's observer).
 */
#ifndef HVMDM_IRQ_H
#define HVMDM_IRQ_H

#include "hvmdm/common.h"

typedef void (*dm_irq_fn)(void *opaque, int n, int level);

struct dm_irq_line {
    dm_irq_fn fn;  /* NULL: not connected, levels are only recorded */
    void *opaque;
    int n;
    int level;
};

void dm_irq_connect(struct dm_irq_line *line, dm_irq_fn fn, void *opaque, int n);
/* Calls the sink only when the level changes. */
void dm_irq_set(struct dm_irq_line *line, int level);
static inline void dm_irq_raise(struct dm_irq_line *l) { dm_irq_set(l, 1); }
static inline void dm_irq_lower(struct dm_irq_line *l) { dm_irq_set(l, 0); }
/* Edge: raise then lower (ISA edge-triggered sources such as the i8042). */
void dm_irq_pulse(struct dm_irq_line *line);

#endif
