/*
 * test-pci-testdev.h: a tiny PCI function for the bus and PIIX3 tests, never
 * in the device table: BAR0 is 16 I/O ports, BAR2/3 a 64-bit 4 KiB memory
 * BAR, both plain storage; it drives INTA#.
 */
#ifndef HVMDM_TEST_PCI_TESTDEV_H
#define HVMDM_TEST_PCI_TESTDEV_H

#include "harness.h"
#include "hvmdm/dev.h"
#include "hvmdm/io.h"
#include "hvmdm/machine.h"
#include "hvmdm/pci.h"
#include "hvmdm/vmstate.h"

#define TD_VENDOR 0x1234
#define TD_DEVICE 0x5678
#define TD_IO_SIZE 16
#define TD_MEM_SIZE 4096

struct testdev {
    struct dm_pci_dev pci;
    uint8_t io[TD_IO_SIZE];
    uint8_t mem[TD_MEM_SIZE];
};

static uint64_t td_read(uint8_t *regs, uint64_t off, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)regs[off + i] << (8 * i);
    }
    return v;
}

static void td_write(uint8_t *regs, uint64_t off, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        regs[off + i] = (uint8_t)(val >> (8 * i));
    }
}

static uint64_t td_io_read(void *opaque, uint64_t off, unsigned size)
{
    return td_read(((struct testdev *)opaque)->io, off, size);
}

static void td_io_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    td_write(((struct testdev *)opaque)->io, off, val, size);
}

static uint64_t td_mem_read(void *opaque, uint64_t off, unsigned size)
{
    return td_read(((struct testdev *)opaque)->mem, off, size);
}

static void td_mem_write(void *opaque, uint64_t off, uint64_t val,
                         unsigned size)
{
    td_write(((struct testdev *)opaque)->mem, off, val, size);
}

static const struct dm_io_ops td_io_ops = {
    .read = td_io_read,
    .write = td_io_write,
    .valid = { .min = 1, .max = 4 },
    .impl = { .min = 1, .max = 4 },
};

static const struct dm_io_ops td_mem_ops = {
    .read = td_mem_read,
    .write = td_mem_write,
    .valid = { .min = 1, .max = 8 },
    .impl = { .min = 1, .max = 8 },
};

static bool td_realize(struct dm_dev *d, GError **errp)
{
    struct testdev *s = dm_container_of(d, struct testdev, pci.dev);

    for (unsigned i = 0; i < TD_IO_SIZE; i++) {
        s->io[i] = (uint8_t)(0xa0 + i);
    }
    dm_pci_register_bar(&s->pci, 0, DM_PCI_BAR_IO, false, TD_IO_SIZE,
                        &td_io_ops, s, "testdev-io");
    dm_pci_register_bar(&s->pci, 2, DM_PCI_BAR_MEM64, true, TD_MEM_SIZE,
                        &td_mem_ops, s, "testdev-mem");
    return true;
}

static const struct dm_vmstate_field td_vmstate_fields[] = {
    DM_VMS_STRUCT(struct testdev, pci, &dm_pci_vmstate),
    DM_VMS_BUFFER(struct testdev, io),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate td_vmstate = {
    .name = "testdev",
    .version = 1,
    .min_version = 1,
    .fields = td_vmstate_fields,
};

static const struct dm_dev_type td_type = {
    .name = "testdev",
    .bus = DM_BUS_PCI,
    .size = sizeof(struct testdev),
    .pci = {
        .vendor = TD_VENDOR, .device = TD_DEVICE, .class_code = 0xff0000,
        .irq_pin = 1,
    },
    .realize = td_realize,
    .vmsd = &td_vmstate,
};

/* Plug a testdev at DEVFN (the table does not know the type, so this does
 * what dm_dev_create does). */
static struct testdev *td_new(struct dm_machine *m, int devfn)
{
    struct testdev *s = g_malloc0(sizeof(*s));
    GError *err = NULL;

    s->pci.dev.type = &td_type;
    s->pci.dev.m = m;
    s->pci.dev.id = g_strdup_printf("testdev%d", devfn);
    s->pci.devfn = devfn;
    g_assert_true(dm_dev_realize(&s->pci.dev, &err));
    g_assert_no_error(err);
    dm_dev_reset(&s->pci.dev);
    return s;
}

#endif
