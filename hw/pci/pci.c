/*
 * pci.c: the PCI bus (bus 0 only), type 0 configuration space, BAR decoding
 * and INTx/bus-master plumbing shared by every PCI function.
 *
 * PCI Local Bus Specification 3.0, chapter 6 (configuration space) and
 * section 6.2.5 (base address registers). Each function keeps config, wmask
 * (guest-writable bits) and w1cmask (write-1-to-clear bits); a write to a BAR
 * or to the command register remaps the function's regions. Left out: bridges
 * and other buses, expansion ROM BARs, capabilities, MSI.
 */
#include "hvmdm/pci.h"

#include <assert.h>

#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

#define PCI_DEVFN_MAX 256
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_BAR_END (PCI_BASE_ADDRESS_0 + 4 * PCI_NUM_BARS)
#define PCI_IO_LIMIT 0x10000ull /* x86 port space */
#define PCI_BAR_NONE UINT64_MAX

/* Command bits a guest may change (PCI 3.0 section 6.2.2). */
#define PCI_COMMAND_PARITY (1u << 6)
#define PCI_COMMAND_SERR (1u << 8)
#define PCI_COMMAND_WMASK                                       \
    (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
     PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Status error bits, write-1-to-clear: master data parity error, signaled
 * target abort, received target/master abort, signaled system error,
 * detected parity error. */
#define PCI_STATUS_W1C 0xf900u

struct dm_pci_bus {
    struct dm_machine *m;
    struct dm_io_space *io_space;
    struct dm_io_space *mem_space;
    struct dm_pci_dev *devs[PCI_DEVFN_MAX];
    dm_pci_intx_fn intx_fn;
    void *intx_opaque;
};

/* ---- bus --------------------------------------------------------------- */

struct dm_pci_bus *dm_pci_bus_new(struct dm_machine *m,
                                  struct dm_io_space *io_space,
                                  struct dm_io_space *mem_space)
{
    struct dm_pci_bus *bus = g_new0(struct dm_pci_bus, 1);

    bus->m = m;
    bus->io_space = io_space;
    bus->mem_space = mem_space;
    return bus;
}

void dm_pci_bus_free(struct dm_pci_bus *bus)
{
    g_free(bus);
}

void dm_pci_bus_set_intx_router(struct dm_pci_bus *bus, dm_pci_intx_fn fn,
                                void *opaque)
{
    bus->intx_fn = fn;
    bus->intx_opaque = opaque;
}

struct dm_pci_dev *dm_pci_bus_find(struct dm_pci_bus *bus, int devfn)
{
    if (!bus || devfn < 0 || devfn >= PCI_DEVFN_MAX) {
        return NULL;
    }
    return bus->devs[devfn];
}

static bool pci_access_ok(unsigned reg, unsigned size)
{
    return (size == 1 || size == 2 || size == 4) &&
           dm_range_ok(reg, size, PCI_CONFIG_SIZE);
}

uint32_t dm_pci_bus_config_read(struct dm_pci_bus *bus, int devfn, unsigned reg,
                                unsigned size)
{
    struct dm_pci_dev *p = dm_pci_bus_find(bus, devfn);
    uint32_t ones = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    uint32_t val;

    if (!p || !pci_access_ok(reg, size)) {
        return ones;
    }
    if (p->config_read) {
        val = p->config_read(p, reg, size);
    } else {
        val = dm_pci_default_config_read(p, reg, size);
    }
    dm_trace(pci_config_read, "%02x.%x reg 0x%x size %u -> 0x%x", devfn >> 3,
             devfn & 7, reg, size, val & ones);
    return val & ones;
}

void dm_pci_bus_config_write(struct dm_pci_bus *bus, int devfn, unsigned reg,
                             uint32_t val, unsigned size)
{
    struct dm_pci_dev *p = dm_pci_bus_find(bus, devfn);

    if (!p || !pci_access_ok(reg, size)) {
        return;
    }
    dm_trace(pci_config_write, "%02x.%x reg 0x%x size %u <- 0x%x", devfn >> 3,
             devfn & 7, reg, size, val);
    if (p->config_write) {
        p->config_write(p, reg, val, size);
    } else {
        dm_pci_default_config_write(p, reg, val, size);
    }
}

void dm_io_pci_config(struct dm_machine *m, uint32_t sbdf, unsigned reg,
                      unsigned size, bool is_write, uint32_t *val)
{
    /* One segment, one bus: anything but 0000:00 is absent. */
    bool present = m->pci && (sbdf >> 8) == 0;
    int devfn = (int)(sbdf & 0xff);

    if (is_write) {
        if (present) {
            dm_pci_bus_config_write(m->pci, devfn, reg, *val, size);
        }
        return;
    }
    if (present) {
        *val = dm_pci_bus_config_read(m->pci, devfn, reg, size);
    } else {
        *val = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    }
}

/* ---- INTx -------------------------------------------------------------- */

int dm_pci_intx_asserted(const struct dm_pci_dev *p)
{
    uint16_t cmd = dm_pci_get_word(p->config, PCI_COMMAND);
    uint8_t pin = p->config[PCI_INTERRUPT_PIN];

    return p->intx_level && !(cmd & PCI_COMMAND_INTX_DISABLE) && pin >= 1 &&
           pin <= 4;
}

static void pci_route_intx(struct dm_pci_dev *p, int level)
{
    struct dm_pci_bus *bus = p->bus;
    uint8_t pin = p->config[PCI_INTERRUPT_PIN];

    if (!bus || !bus->intx_fn || pin < 1 || pin > 4) {
        return;
    }
    dm_trace(pci_intx, "%02x.%x INT%c level %d", p->devfn >> 3, p->devfn & 7,
             'A' + pin - 1, level);
    bus->intx_fn(bus->intx_opaque, p->devfn, pin - 1, level);
}

void dm_pci_set_irq(struct dm_pci_dev *p, int level)
{
    int before = dm_pci_intx_asserted(p);
    int after;

    p->intx_level = level ? 1 : 0;
    if (p->intx_level) {
        p->config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    } else {
        p->config[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    }
    after = dm_pci_intx_asserted(p);
    if (after != before) {
        pci_route_intx(p, after);
    }
}

/* ---- BARs -------------------------------------------------------------- */

/* Where BAR N decodes now, from config and command; PCI_BAR_NONE when off,
 * zero, or not fitting its address space. */
static uint64_t pci_bar_decode(const struct dm_pci_dev *p, int n)
{
    const struct dm_pci_bar *bar = &p->bars[n];
    uint16_t cmd = dm_pci_get_word(p->config, PCI_COMMAND);
    unsigned reg = PCI_BASE_ADDRESS_0 + 4 * n;
    uint64_t addr;

    switch (bar->kind) {
    case DM_PCI_BAR_IO:
        if (!(cmd & PCI_COMMAND_IO)) {
            return PCI_BAR_NONE;
        }
        addr = dm_pci_get_long(p->config, reg) & ~(bar->size - 1) & ~3ull;
        if (addr == 0 || !dm_range_ok(addr, bar->size, PCI_IO_LIMIT)) {
            return PCI_BAR_NONE;
        }
        return addr;
    case DM_PCI_BAR_MEM32:
        if (!(cmd & PCI_COMMAND_MEMORY)) {
            return PCI_BAR_NONE;
        }
        addr = dm_pci_get_long(p->config, reg) & ~(bar->size - 1) & ~0xfull;
        /* A BAR reaching the last byte below 4 GiB is the sizing pattern. */
        if (addr == 0 || addr + bar->size >= (1ull << 32)) {
            return PCI_BAR_NONE;
        }
        return addr;
    case DM_PCI_BAR_MEM64:
        if (!(cmd & PCI_COMMAND_MEMORY)) {
            return PCI_BAR_NONE;
        }
        addr = dm_pci_get_long(p->config, reg) |
               (uint64_t)dm_pci_get_long(p->config, reg + 4) << 32;
        addr &= ~(bar->size - 1) & ~0xfull;
        /* Aligned to its size, the BAR can only wrap by ending at the
         * very top, which is the sizing pattern. */
        if (addr == 0 || addr + (bar->size - 1) == UINT64_MAX) {
            return PCI_BAR_NONE;
        }
        return addr;
    }
    return PCI_BAR_NONE;
}

static void pci_update_bars(struct dm_pci_dev *p)
{
    for (int n = 0; n < PCI_NUM_BARS; n++) {
        struct dm_pci_bar *bar = &p->bars[n];
        struct dm_io_space *space;
        uint64_t addr;
        GError *err = NULL;

        if (!bar->size) {
            continue;
        }
        addr = pci_bar_decode(p, n);
        if (dm_io_mapped(&bar->region) && bar->region.base == addr) {
            continue;
        }
        if (dm_io_mapped(&bar->region)) {
            dm_io_unmap(&bar->region);
        }
        if (addr == PCI_BAR_NONE || !p->bus) {
            dm_trace(pci_bar_unmap, "%s BAR%d", p->dev.id, n);
            continue;
        }
        space =
            bar->kind == DM_PCI_BAR_IO ? p->bus->io_space : p->bus->mem_space;
        if (!space || !dm_io_map(space, &bar->region, addr, &err)) {
            dm_guest_error("pci[%s]: BAR%d at 0x%" G_GINT64_MODIFIER "x "
                           "not mapped: %s",
                           p->dev.id, n, addr,
                           err ? err->message : "no address space");
            g_clear_error(&err);
            continue;
        }
        dm_trace(pci_bar_map,
                 "%s BAR%d at 0x%" G_GINT64_MODIFIER "x size "
                 "0x%" G_GINT64_MODIFIER "x",
                 p->dev.id, n, addr, bar->size);
    }
}

void dm_pci_register_bar(struct dm_pci_dev *p, int n, enum dm_pci_bar_kind kind,
                         bool prefetch, uint64_t size,
                         const struct dm_io_ops *ops, void *opaque,
                         const char *name)
{
    struct dm_pci_bar *bar;
    unsigned reg = PCI_BASE_ADDRESS_0 + 4 * n;
    uint64_t mask = ~(size - 1);
    uint32_t type;

    assert(n >= 0 && n < PCI_NUM_BARS);
    assert(kind != DM_PCI_BAR_MEM64 || n < PCI_NUM_BARS - 1);
    assert(size && (size & (size - 1)) == 0);
    assert(size >= (kind == DM_PCI_BAR_IO ? 4u : 16u));
    assert(kind == DM_PCI_BAR_MEM64 || size <= (1ull << 31));

    bar = &p->bars[n];
    bar->size = size;
    bar->kind = kind;
    bar->prefetch = prefetch && kind != DM_PCI_BAR_IO;
    dm_io_region_init(&bar->region, name, ops, opaque, size);

    switch (kind) {
    case DM_PCI_BAR_IO:
        type = PCI_BASE_ADDRESS_SPACE_IO;
        break;
    case DM_PCI_BAR_MEM64:
        type = PCI_BASE_ADDRESS_MEM_TYPE_64;
        break;
    default:
        type = 0;
        break;
    }
    if (bar->prefetch) {
        type |= PCI_BASE_ADDRESS_MEM_PREFETCH;
    }
    dm_pci_set_long(p->config, reg, type);
    dm_pci_set_long(p->wmask, reg,
                    (uint32_t)mask &
                        ~(uint32_t)(kind == DM_PCI_BAR_IO ? 3 : 0xf));
    if (kind == DM_PCI_BAR_MEM64) {
        dm_pci_set_long(p->config, reg + 4, 0);
        dm_pci_set_long(p->wmask, reg + 4, (uint32_t)(mask >> 32));
    }
}

uint64_t dm_pci_bar_addr(struct dm_pci_dev *p, int n)
{
    if (n < 0 || n >= PCI_NUM_BARS || !dm_io_mapped(&p->bars[n].region)) {
        return UINT64_MAX;
    }
    return p->bars[n].region.base;
}

/* ---- configuration space ------------------------------------------------ */

uint32_t dm_pci_default_config_read(struct dm_pci_dev *p, unsigned reg,
                                    unsigned size)
{
    uint32_t val = 0;

    if (!pci_access_ok(reg, size)) {
        return 0xffffffffu;
    }
    for (unsigned i = 0; i < size; i++) {
        val |= (uint32_t)p->config[reg + i] << (8 * i);
    }
    return val;
}

void dm_pci_default_config_write(struct dm_pci_dev *p, unsigned reg,
                                 uint32_t val, unsigned size)
{
    int intx_before = dm_pci_intx_asserted(p);
    bool remap = false, command = false;

    if (!pci_access_ok(reg, size)) {
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        unsigned a = reg + i;
        uint8_t b = (uint8_t)(val >> (8 * i));

        p->config[a] =
            (uint8_t)((p->config[a] & ~p->wmask[a]) | (b & p->wmask[a]));
        p->config[a] &= (uint8_t) ~(b & p->w1cmask[a]);
        if (a >= PCI_BASE_ADDRESS_0 && a < PCI_BAR_END) {
            remap = true;
        }
        if (a == PCI_COMMAND || a == PCI_COMMAND + 1) {
            command = remap = true;
        }
    }
    if (remap) {
        pci_update_bars(p);
    }
    if (command) {
        int intx_after = dm_pci_intx_asserted(p);

        if (intx_after != intx_before) {
            pci_route_intx(p, intx_after);
        }
    }
}

/* ---- plug, unplug, reset ------------------------------------------------ */

static int pci_pick_devfn(struct dm_pci_bus *bus, int devfn, const char *id,
                          GError **errp)
{
    if (devfn < 0) {
        for (int slot = 0; slot < 32; slot++) {
            if (!bus->devs[PCI_DEVFN(slot, 0)]) {
                return PCI_DEVFN(slot, 0);
            }
        }
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: no free PCI slot on bus 0", id);
        return -1;
    }
    if (devfn >= PCI_DEVFN_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: PCI address 0x%x out of range", id, devfn);
        return -1;
    }
    if (bus->devs[devfn]) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: PCI address %02x.%x already used by %s", id,
                    devfn >> 3, devfn & 7, bus->devs[devfn]->dev.id);
        return -1;
    }
    return devfn;
}

bool dm_pci_plug(struct dm_pci_dev *p, GError **errp)
{
    struct dm_pci_bus *bus = p->dev.m ? p->dev.m->pci : NULL;
    const struct dm_pci_ids *ids = &p->dev.type->pci;
    const char *id = p->dev.id ? p->dev.id : p->dev.type->name;
    int devfn;

    if (!bus) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: the machine has no PCI bus", id);
        return false;
    }
    devfn = pci_pick_devfn(bus, p->devfn, id, errp);
    if (devfn < 0) {
        return false;
    }
    memset(p->config, 0, sizeof(p->config));
    memset(p->wmask, 0, sizeof(p->wmask));
    memset(p->w1cmask, 0, sizeof(p->w1cmask));
    memset(p->bars, 0, sizeof(p->bars));

    dm_pci_set_word(p->config, PCI_VENDOR_ID, ids->vendor);
    dm_pci_set_word(p->config, PCI_DEVICE_ID, ids->device);
    p->config[PCI_REVISION_ID] = ids->revision;
    p->config[PCI_CLASS_PROG] = (uint8_t)ids->class_code;
    dm_pci_set_word(p->config, PCI_CLASS_DEVICE,
                    (uint16_t)(ids->class_code >> 8));
    p->config[PCI_HEADER_TYPE] = ids->header_type;
    if ((ids->header_type & 0x7f) == 0) {
        dm_pci_set_word(p->config, PCI_SUBSYSTEM_VENDOR_ID, ids->subsys_vendor);
        dm_pci_set_word(p->config, PCI_SUBSYSTEM_ID, ids->subsys);
    }
    p->config[PCI_INTERRUPT_PIN] = ids->irq_pin <= 4 ? ids->irq_pin : 0;

    dm_pci_set_word(p->wmask, PCI_COMMAND, PCI_COMMAND_WMASK);
    dm_pci_set_word(p->w1cmask, PCI_STATUS, PCI_STATUS_W1C);
    p->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    p->wmask[PCI_LATENCY_TIMER] = 0xff;
    p->wmask[PCI_INTERRUPT_LINE] = 0xff;
    /* Device-specific registers behave as storage unless the device
     * narrows their masks in its realize. */
    memset(p->wmask + PCI_CONFIG_HEADER_SIZE, 0xff,
           PCI_CONFIG_SIZE - PCI_CONFIG_HEADER_SIZE);

    p->intx_level = 0;
    p->devfn = devfn;
    p->bus = bus;
    bus->devs[devfn] = p;
    return true;
}

void dm_pci_unplug(struct dm_pci_dev *p)
{
    if (!p->bus) {
        return;
    }
    if (dm_pci_intx_asserted(p)) {
        pci_route_intx(p, 0);
    }
    p->intx_level = 0;
    for (int n = 0; n < PCI_NUM_BARS; n++) {
        if (p->bars[n].size && dm_io_mapped(&p->bars[n].region)) {
            dm_io_unmap(&p->bars[n].region);
        }
    }
    if (p->devfn >= 0 && p->devfn < PCI_DEVFN_MAX &&
        p->bus->devs[p->devfn] == p) {
        p->bus->devs[p->devfn] = NULL;
    }
    p->bus = NULL;
}

void dm_pci_reset(struct dm_pci_dev *p)
{
    uint16_t cmd = dm_pci_get_word(p->config, PCI_COMMAND);
    uint16_t status = dm_pci_get_word(p->config, PCI_STATUS);

    if (dm_pci_intx_asserted(p)) {
        pci_route_intx(p, 0);
    }
    p->intx_level = 0;
    cmd &= (uint16_t) ~(dm_pci_get_word(p->wmask, PCI_COMMAND) |
                        dm_pci_get_word(p->w1cmask, PCI_COMMAND));
    dm_pci_set_word(p->config, PCI_COMMAND, cmd);
    status &= (uint16_t) ~(dm_pci_get_word(p->w1cmask, PCI_STATUS) |
                           PCI_STATUS_INTERRUPT);
    dm_pci_set_word(p->config, PCI_STATUS, status);
    p->config[PCI_CACHE_LINE_SIZE] = 0;
    p->config[PCI_LATENCY_TIMER] = 0;
    p->config[PCI_INTERRUPT_LINE] = 0;
    for (unsigned reg = PCI_BASE_ADDRESS_0; reg < PCI_BAR_END; reg++) {
        p->config[reg] &= (uint8_t)~p->wmask[reg];
    }
    pci_update_bars(p);
}

/* ---- bus-master DMA ----------------------------------------------------- */

static bool pci_master_ok(struct dm_pci_dev *p)
{
    if (dm_pci_get_word(p->config, PCI_COMMAND) & PCI_COMMAND_MASTER) {
        return true;
    }
    dm_guest_error("pci[%s]: DMA with bus mastering disabled", p->dev.id);
    return false;
}

int dm_pci_dma_read(struct dm_pci_dev *p, uint64_t gpa, void *buf, uint64_t len)
{
    if (!pci_master_ok(p)) {
        return -EPERM;
    }
    return dm_dma_read(p->dev.m, gpa, buf, len);
}

int dm_pci_dma_write(struct dm_pci_dev *p, uint64_t gpa, const void *buf,
                     uint64_t len)
{
    if (!pci_master_ok(p)) {
        return -EPERM;
    }
    return dm_dma_write(p->dev.m, gpa, buf, len);
}

int dm_pci_dma_map(struct dm_pci_dev *p, uint64_t gpa, uint64_t len,
                   bool is_write, struct iovec *iov, int max)
{
    if (!pci_master_ok(p)) {
        return -EPERM;
    }
    return dm_dma_map(p->dev.m, gpa, len, is_write, iov, max);
}

/* ---- saved state -------------------------------------------------------- */

static bool pci_post_load(void *opaque, int version, GError **errp)
{
    struct dm_pci_dev *p = opaque;

    p->intx_level = p->intx_level ? 1 : 0;
    pci_update_bars(p);
    /* Tell the router the loaded level; it recomputes its outputs. */
    pci_route_intx(p, dm_pci_intx_asserted(p));
    return true;
}

static const struct dm_vmstate_field dm_pci_vmstate_fields[] = {
    DM_VMS_BUFFER(struct dm_pci_dev, config),
    DM_VMS_INT32(struct dm_pci_dev, intx_level),
    DM_VMS_END_OF_LIST,
};

const struct dm_vmstate dm_pci_vmstate = {
    .name = "pci",
    .version = 1,
    .min_version = 1,
    .fields = dm_pci_vmstate_fields,
    .post_load = pci_post_load,
};
