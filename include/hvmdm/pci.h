/*
 * pci.h: the PCI bus (one, bus 0), type 0 configuration space, BARs, INTx
 * and bus-master DMA.
 *
 * Configuration space follows the PCI Local Bus Specification 3.0, chapter 6.
 * Each function has wmask (bits the guest may write) and w1cmask (bits a 1
 * clears) beside config; BAR and command writes map and unmap the BARs'
 * regions. INTx goes to the bus's router (PIIX3 under KVM, Xen's
 * set_pci_intx_level under Xen).
 */
#ifndef HVMDM_PCI_H
#define HVMDM_PCI_H

#include <sys/uio.h>

#include "hvmdm/dev.h"
#include "hvmdm/io.h"

#define PCI_CONFIG_SIZE 256
#define PCI_CONFIG_HEADER_SIZE 0x40
#define PCI_NUM_BARS 6
#define PCI_DEVFN(slot, fn) (((slot) << 3) | (fn))

/* Configuration registers (PCI 3.0 section 6.2). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_COMMAND_IO (1u << 0)
#define PCI_COMMAND_MEMORY (1u << 1)
#define PCI_COMMAND_MASTER (1u << 2)
#define PCI_COMMAND_INTX_DISABLE (1u << 10)
#define PCI_STATUS 0x06
#define PCI_STATUS_INTERRUPT (1u << 3)
#define PCI_STATUS_CAP_LIST (1u << 4)
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_HEADER_TYPE 0x0e
#define PCI_HEADER_TYPE_MULTI 0x80
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_BASE_ADDRESS_SPACE_IO 0x01
#define PCI_BASE_ADDRESS_MEM_TYPE_64 0x04
#define PCI_BASE_ADDRESS_MEM_PREFETCH 0x08
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

enum dm_pci_bar_kind {
    DM_PCI_BAR_IO,
    DM_PCI_BAR_MEM32,
    DM_PCI_BAR_MEM64,   /* takes this BAR and the next */
};

struct dm_pci_bar {
    uint64_t size;      /* 0: unused */
    enum dm_pci_bar_kind kind;
    bool prefetch;
    struct dm_io_region region;
};

struct dm_pci_bus;

struct dm_pci_dev {
    struct dm_dev dev;
    struct dm_pci_bus *bus;
    int devfn;          /* -1 before realize: first free slot is taken */
    uint8_t config[PCI_CONFIG_SIZE];
    uint8_t wmask[PCI_CONFIG_SIZE];
    uint8_t w1cmask[PCI_CONFIG_SIZE];
    struct dm_pci_bar bars[PCI_NUM_BARS];
    int intx_level;     /* the function's own INTx level, before masking */
    /* Optional hooks for device-specific registers; the default handlers
     * (dm_pci_default_config_*) do the standard header. */
    uint32_t (*config_read)(struct dm_pci_dev *p, unsigned reg, unsigned size);
    void (*config_write)(struct dm_pci_dev *p, unsigned reg, uint32_t val,
                         unsigned size);
};

static inline struct dm_pci_dev *dm_pci_dev_of(struct dm_dev *d)
{
    return dm_container_of(d, struct dm_pci_dev, dev);
}

/* The router the bus sends INTx to: PIN 0..3 of function DEVFN. */
typedef void (*dm_pci_intx_fn)(void *opaque, int devfn, int pin, int level);

struct dm_pci_bus *dm_pci_bus_new(struct dm_machine *m,
                                  struct dm_io_space *io_space,
                                  struct dm_io_space *mem_space);
void dm_pci_bus_free(struct dm_pci_bus *bus);
void dm_pci_bus_set_intx_router(struct dm_pci_bus *bus, dm_pci_intx_fn fn,
                                void *opaque);
struct dm_pci_dev *dm_pci_bus_find(struct dm_pci_bus *bus, int devfn);
/* Config access to function DEVFN; absent functions read all ones. */
uint32_t dm_pci_bus_config_read(struct dm_pci_bus *bus, int devfn,
                                unsigned reg, unsigned size);
void dm_pci_bus_config_write(struct dm_pci_bus *bus, int devfn, unsigned reg,
                             uint32_t val, unsigned size);

/*
 * For PCI device types: dm_dev_realize calls this before the type's realize
 * (fills the header from type->pci, picks the devfn from the "addr" property
 * or the first free slot, plugs into m's bus) and dm_pci_unplug after unrealize.
 * Plugging sets the standard masks (command, status errors, cache line,
 * latency, interrupt line) and makes 0x40-0xff writable storage; a device
 * narrows wmask for its own registers in its realize.
 */
bool dm_pci_plug(struct dm_pci_dev *p, GError **errp);
void dm_pci_unplug(struct dm_pci_dev *p);
/* Reset the standard header (command, status, BARs); called by dm_dev_reset
 * before the type's reset. */
void dm_pci_reset(struct dm_pci_dev *p);

/* Declare BAR N: SIZE is a power of two (>= 4 for I/O, >= 16 for memory). */
void dm_pci_register_bar(struct dm_pci_dev *p, int n,
                         enum dm_pci_bar_kind kind, bool prefetch,
                         uint64_t size, const struct dm_io_ops *ops,
                         void *opaque, const char *name);
/* Current address of BAR N, or UINT64_MAX when unmapped. */
uint64_t dm_pci_bar_addr(struct dm_pci_dev *p, int n);

uint32_t dm_pci_default_config_read(struct dm_pci_dev *p, unsigned reg,
                                    unsigned size);
void dm_pci_default_config_write(struct dm_pci_dev *p, unsigned reg,
                                 uint32_t val, unsigned size);

/* Set the function's INTx level (honours INTX_DISABLE, updates status). */
void dm_pci_set_irq(struct dm_pci_dev *p, int level);
/* The level the function drives on its INTx pin now: its own level, unless
 * INTX_DISABLE is set or it has no pin (routers recompute from this). */
int dm_pci_intx_asserted(const struct dm_pci_dev *p);

/* Bus-master DMA: fail with -EPERM unless the command register's bus master
 * bit is set, then as dm_dma_*. */
int dm_pci_dma_read(struct dm_pci_dev *p, uint64_t gpa, void *buf,
                    uint64_t len);
int dm_pci_dma_write(struct dm_pci_dev *p, uint64_t gpa, const void *buf,
                     uint64_t len);
int dm_pci_dma_map(struct dm_pci_dev *p, uint64_t gpa, uint64_t len,
                   bool is_write, struct iovec *iov, int max);

/* Saved state of the standard part of a function (config space and INTx
 * level); a PCI device's own table embeds it with
 * DM_VMS_STRUCT(struct mydev, pci, &dm_pci_vmstate). Loading remaps BARs. */
struct dm_vmstate;
extern const struct dm_vmstate dm_pci_vmstate;

static inline uint16_t dm_pci_get_word(const uint8_t *c, unsigned reg)
{
    return (uint16_t)(c[reg] | c[reg + 1] << 8);
}
static inline uint32_t dm_pci_get_long(const uint8_t *c, unsigned reg)
{
    return c[reg] | c[reg + 1] << 8 | c[reg + 2] << 16 | (uint32_t)c[reg + 3] << 24;
}
static inline void dm_pci_set_word(uint8_t *c, unsigned reg, uint16_t v)
{
    c[reg] = (uint8_t)v;
    c[reg + 1] = (uint8_t)(v >> 8);
}
static inline void dm_pci_set_long(uint8_t *c, unsigned reg, uint32_t v)
{
    dm_pci_set_word(c, reg, (uint16_t)v);
    dm_pci_set_word(c, reg + 2, (uint16_t)(v >> 16));
}

#endif
