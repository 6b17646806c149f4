/*
 * port92.c: System Control Port A at 0x92 (the "fast A20 and reset" port of
 * PS/2 machines, in the Intel 82371SB PIIX3 datasheet as port 92h).
 *
 * Bit 1 gates A20 and bit 0 is the fast-reset line: writing it from 0 to 1
 * resets the machine. The register reads back as written. A20 is recorded
 * only: under KVM and Xen the CPU never masks A20. Left out: the security
 * lock (bit 3) and the disk activity LED bits.
 */
#include "hvmdm/dev.h"
#include "hvmdm/io.h"
#include "hvmdm/machine.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

#define PORT92_FAST_RESET 0x01
#define PORT92_A20 0x02

struct port92 {
    struct dm_dev dev;
    uint16_t iobase;
    uint8_t val;
    struct dm_io_region io;
};

static uint64_t port92_read(void *opaque, uint64_t off, unsigned size)
{
    struct port92 *s = opaque;

    return s->val;
}

static void port92_write(void *opaque, uint64_t off, uint64_t val,
                         unsigned size)
{
    struct port92 *s = opaque;
    uint8_t old = s->val;

    s->val = (uint8_t)val;
    if ((old ^ s->val) & PORT92_A20) {
        dm_trace(port92_a20, "%s: A20 %s", s->dev.id,
                 s->val & PORT92_A20 ? "on" : "off");
    }
    if (!(old & PORT92_FAST_RESET) && (s->val & PORT92_FAST_RESET)) {
        dm_trace(port92_reset, "%s: fast reset", s->dev.id);
        dm_machine_request_reset(s->dev.m);
    }
}

static const struct dm_io_ops port92_ops = {
    .read = port92_read,
    .write = port92_write,
    .valid = { .min = 1, .max = 1 },
    .impl = { .min = 1, .max = 1 },
};

static bool port92_realize(struct dm_dev *d, GError **errp)
{
    struct port92 *s = dm_container_of(d, struct port92, dev);

    dm_io_region_init(&s->io, "port92", &port92_ops, s, 1);
    if (!dm_io_map(d->m->pio, &s->io, s->iobase, errp)) {
        g_prefix_error(errp, "port92[%s]: ", d->id);
        return false;
    }
    return true;
}

static void port92_unrealize(struct dm_dev *d)
{
    struct port92 *s = dm_container_of(d, struct port92, dev);

    dm_io_unmap(&s->io);
}

static void port92_reset(struct dm_dev *d)
{
    struct port92 *s = dm_container_of(d, struct port92, dev);

    s->val = 0;
}

static const struct dm_vmstate_field port92_vmstate_fields[] = {
    DM_VMS_UINT8(struct port92, val),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate port92_vmstate = {
    .name = "port92",
    .version = 1,
    .min_version = 1,
    .fields = port92_vmstate_fields,
};

static const struct dm_prop port92_props[] = {
    DM_PROP(struct port92, iobase, DM_PROP_U16, "0x92"),
    DM_PROP_END,
};

const struct dm_dev_type port92_type = {
    .name = "port92",
    .bus = DM_BUS_ISA,
    .size = sizeof(struct port92),
    .props = port92_props,
    .realize = port92_realize,
    .unrealize = port92_unrealize,
    .reset = port92_reset,
    .vmsd = &port92_vmstate,
    .desc = "System Control Port A (fast A20 and reset)",
};
