/*
 * irq.c: interrupt lines between a device and whatever the board connected
 * it to. A line remembers its level and calls its sink only on a change, so
 * devices may recompute and set their levels as often as they like.
 */
#include "hvmdm/irq.h"

void dm_irq_connect(struct dm_irq_line *line, dm_irq_fn fn, void *opaque,
                    int n)
{
    line->fn = fn;
    line->opaque = opaque;
    line->n = n;
}

void dm_irq_set(struct dm_irq_line *line, int level)
{
    level = level != 0;
    if (line->level == level) {
        return;
    }
    line->level = level;
    if (line->fn) {
        line->fn(line->opaque, line->n, level);
    }
}

void dm_irq_pulse(struct dm_irq_line *line)
{
    dm_irq_set(line, 1);
    dm_irq_set(line, 0);
}
