/*
 * debugcon.c: the Bochs/QEMU debug console: every byte written to one I/O
 * port (0xe9 by default) goes to a character device; reading the port
 * returns a fixed value (0xe9) so firmware can tell the console is there.
 * SeaBIOS prints its log here. Left out: nothing; the device has no state.
 */
#include "hvmdm/chardev.h"
#include "hvmdm/dev.h"
#include "hvmdm/io.h"
#include "hvmdm/machine.h"
#include "hvmdm/trace.h"

struct debugcon {
    struct dm_dev dev;
    uint16_t iobase;
    uint8_t readback;
    struct dm_chr *chr;
    struct dm_io_region io;
};

static uint64_t debugcon_read(void *opaque, uint64_t off, unsigned size)
{
    struct debugcon *s = opaque;

    return s->readback;
}

static void debugcon_write(void *opaque, uint64_t off, uint64_t val,
                           unsigned size)
{
    struct debugcon *s = opaque;
    uint8_t b = (uint8_t)val;

    dm_trace(debugcon_write, "%s: 0x%02x", s->dev.id, b);
    if (s->chr) {
        dm_chr_write(s->chr, &b, 1);
    }
}

static const struct dm_io_ops debugcon_ops = {
    .read = debugcon_read,
    .write = debugcon_write,
    .valid = { .min = 1, .max = 1 },
    .impl = { .min = 1, .max = 1 },
};

static bool debugcon_realize(struct dm_dev *d, GError **errp)
{
    struct debugcon *s = dm_container_of(d, struct debugcon, dev);

    dm_io_region_init(&s->io, "isa-debugcon", &debugcon_ops, s, 1);
    if (!dm_io_map(d->m->pio, &s->io, s->iobase, errp)) {
        g_prefix_error(errp, "isa-debugcon[%s]: ", d->id);
        return false;
    }
    return true;
}

static void debugcon_unrealize(struct dm_dev *d)
{
    struct debugcon *s = dm_container_of(d, struct debugcon, dev);

    dm_io_unmap(&s->io);
}

static const struct dm_prop debugcon_props[] = {
    DM_PROP(struct debugcon, iobase, DM_PROP_U16, "0xe9"),
    DM_PROP(struct debugcon, readback, DM_PROP_U8, "0xe9"),
    DM_PROP_NAMED("chardev", struct debugcon, chr, DM_PROP_CHR, NULL),
    DM_PROP_END,
};

const struct dm_dev_type debugcon_type = {
    .name = "isa-debugcon",
    .bus = DM_BUS_ISA,
    .size = sizeof(struct debugcon),
    .props = debugcon_props,
    .user_creatable = true,
    .realize = debugcon_realize,
    .unrealize = debugcon_unrealize,
    .desc = "debug console: bytes written to port 0xe9 go to a chardev",
};
