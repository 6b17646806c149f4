/*
 * post.c: the POST diagnostic port at 0x80. Firmware writes progress codes
 * there (a POST card shows them); Linux writes it as an I/O delay. Each code
 * is traced (post_code) and the last one is kept: reads return it, as on
 * boards that latch the port. Left out: the 16-bit 0x80/0x81 code pair.
 */
#include "hvmdm/dev.h"
#include "hvmdm/io.h"
#include "hvmdm/machine.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

struct post {
    struct dm_dev dev;
    uint16_t iobase;
    uint8_t code; /* last code written */
    struct dm_io_region io;
};

static uint64_t post_read(void *opaque, uint64_t off, unsigned size)
{
    struct post *s = opaque;

    return s->code;
}

static void post_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct post *s = opaque;

    s->code = (uint8_t)val;
    dm_trace(post_code, "%s: 0x%02x", s->dev.id, s->code);
}

static const struct dm_io_ops post_ops = {
    .read = post_read,
    .write = post_write,
    .valid = { .min = 1, .max = 1 },
    .impl = { .min = 1, .max = 1 },
};

static bool post_realize(struct dm_dev *d, GError **errp)
{
    struct post *s = dm_container_of(d, struct post, dev);

    dm_io_region_init(&s->io, "isa-post", &post_ops, s, 1);
    if (!dm_io_map(d->m->pio, &s->io, s->iobase, errp)) {
        g_prefix_error(errp, "isa-post[%s]: ", d->id);
        return false;
    }
    return true;
}

static void post_unrealize(struct dm_dev *d)
{
    struct post *s = dm_container_of(d, struct post, dev);

    dm_io_unmap(&s->io);
}

static void post_reset(struct dm_dev *d)
{
    struct post *s = dm_container_of(d, struct post, dev);

    s->code = 0;
}

static const struct dm_vmstate_field post_vmstate_fields[] = {
    DM_VMS_UINT8(struct post, code),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate post_vmstate = {
    .name = "isa-post",
    .version = 1,
    .min_version = 1,
    .fields = post_vmstate_fields,
};

static const struct dm_prop post_props[] = {
    DM_PROP(struct post, iobase, DM_PROP_U16, "0x80"),
    DM_PROP_END,
};

const struct dm_dev_type post_type = {
    .name = "isa-post",
    .bus = DM_BUS_ISA,
    .size = sizeof(struct post),
    .props = post_props,
    .user_creatable = true,
    .realize = post_realize,
    .unrealize = post_unrealize,
    .reset = post_reset,
    .vmsd = &post_vmstate,
    .desc = "POST code port 0x80 (codes traced as post_code)",
};
