/*
 * dev.h: device types and instances.
 *
 * A device type is one const struct dm_dev_type listed in the table in
 * core/devices.c: no constructors, no class hierarchy. A device's state struct
 * begins with struct dm_dev (or struct dm_pci_dev for PCI functions, which
 * begins with struct dm_dev); container_of reaches the outer struct.
 */
#ifndef HVMDM_DEV_H
#define HVMDM_DEV_H

#include "hvmdm/common.h"

struct dm_dev;
struct dm_vmstate;
struct dm_chr;

enum dm_bus_kind {
    DM_BUS_SYS,  /* board devices placed by the board file */
    DM_BUS_ISA,
    DM_BUS_PCI,
};

enum dm_prop_kind {
    DM_PROP_BOOL,
    DM_PROP_U8,
    DM_PROP_U16,
    DM_PROP_U32,
    DM_PROP_U64,    /* accepts size suffixes k/M/G */
    DM_PROP_STRING, /* char *, g_free'd with the device */
    DM_PROP_CHR,    /* struct dm_chr * looked up by chardev id */
};

struct dm_prop {
    const char *name;
    enum dm_prop_kind kind;
    size_t offset;      /* in the device's state struct */
    const char *defval; /* textual default, NULL for none/zero */
};

#define DM_PROP(st, f, k, def) \
    { .name = #f, .kind = (k), .offset = offsetof(st, f), .defval = (def) }
#define DM_PROP_NAMED(n, st, f, k, def) \
    { .name = (n), .kind = (k), .offset = offsetof(st, f), .defval = (def) }
#define DM_PROP_END { .name = NULL }

struct dm_pci_ids {
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys;
    uint32_t class_code; /* class << 16 | subclass << 8 | prog-if */
    uint8_t revision;
    uint8_t header_type;
    uint8_t irq_pin;     /* 1 = INTA#, 0 = none */
};

struct dm_dev_type {
    const char *name;
    enum dm_bus_kind bus;
    size_t size;                 /* bytes of the device's state struct */
    struct dm_pci_ids pci;
    const struct dm_prop *props; /* ends with DM_PROP_END, or NULL */
    bool user_creatable;         /* may appear in -device */
    bool (*realize)(struct dm_dev *d, GError **errp);
    void (*reset)(struct dm_dev *d);
    void (*unrealize)(struct dm_dev *d);
    const struct dm_vmstate *vmsd;
    const char *desc;            /* one line for -device help */
};

struct dm_dev {
    const struct dm_dev_type *type;
    struct dm_machine *m;
    char *id;                    /* user id or generated "<type>.<n>" */
    bool realized;
};

/* All device types, in core/devices.c. */
const struct dm_dev_type *dm_dev_type_find(const char *name);
const struct dm_dev_type *const *dm_dev_types(void);

/* Allocate a device of TYPE with defaults applied (not realized). */
struct dm_dev *dm_dev_create(struct dm_machine *m, const char *type,
                             const char *id, GError **errp);
/* Set one property from text, as in -device type,name=value. PCI types also
 * take "addr=SLOT[.FN]" (hex, slot 0..1f, function 0..7, an optional 0x;
 * QEMU reads addr=10 as slot 0x10), which sets struct dm_pci_dev.devfn
 * (default -1: the first free slot). Errors name the type and property. */
bool dm_dev_set_prop(struct dm_dev *d, const char *name, const char *value,
                     GError **errp);
/* Realize and add to the machine's device list (reset order = add order). */
bool dm_dev_realize(struct dm_dev *d, GError **errp);
/* create + set every "name=value" of OPTS (a -device string minus the type;
 * "id=" names the device) + realize; nothing is left behind on error. */
struct dm_dev *dm_dev_new(struct dm_machine *m, const char *type,
                          const char *opts, GError **errp);
void dm_dev_reset(struct dm_dev *d);
void dm_dev_free(struct dm_dev *d);

#endif
