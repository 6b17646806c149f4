/*
 * dev.c: device instances: creation from a type in the table of
 * core/devices.c, properties set from text (-device TYPE,PROP=VALUE), realize,
 * reset and teardown.
 *
 * PCI functions get the generic "addr" property (SLOT[.FN]) and are plugged
 * into the bus by dm_pci_plug before their own realize; their standard header
 * is reset by dm_pci_reset before their own reset. There is no hot-plug.
 */
#include <assert.h>

#include "hvmdm/chardev.h"
#include "hvmdm/config.h"
#include "hvmdm/dev.h"
#include "hvmdm/machine.h"
#include "hvmdm/pci.h"

#define DM_PCI_SLOTS 32
#define DM_PCI_FUNCS 8

static bool dm_dev_id_taken(struct dm_machine *m, const char *id)
{
    for (guint i = 0; i < m->devs->len; i++) {
        struct dm_dev *d = g_ptr_array_index(m->devs, i);

        if (strcmp(d->id, id) == 0) {
            return true;
        }
    }
    return false;
}

static bool dm_dev_id_valid(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return strlen(id) <= 64;  /* a saved-state section name */
}

/* "SLOT[.FN]": slot 0..0x1f, function 0..7, each hex with or without 0x
 * (QEMU reads the slot as hex: addr=10 is slot 0x10) */
static bool dm_pci_parse_addr(const char *s, int *devfn)
{
    g_auto(GStrv) parts = g_strsplit(s, ".", 3);
    guint64 slot, fn = 0;
    const char *sl;

    if (g_strv_length(parts) < 1 || g_strv_length(parts) > 2) {
        return false;
    }
    sl = parts[0];
    if (sl[0] == '0' && (sl[1] == 'x' || sl[1] == 'X')) {
        sl += 2;
    }
    if (!*sl || !g_ascii_string_to_unsigned(sl, 16, 0, DM_PCI_SLOTS - 1, &slot,
                                            NULL)) {
        return false;
    }
    if (parts[1] && (!*parts[1] ||
                     !g_ascii_string_to_unsigned(parts[1], 16, 0,
                                                 DM_PCI_FUNCS - 1, &fn,
                                                 NULL))) {
        return false;
    }
    *devfn = PCI_DEVFN((int)slot, (int)fn);
    return true;
}

static const struct dm_prop *dm_dev_find_prop(const struct dm_dev_type *t,
                                              const char *name)
{
    for (const struct dm_prop *p = t->props; p && p->name; p++) {
        if (strcmp(p->name, name) == 0) {
            return p;
        }
    }
    return NULL;
}

static bool dm_prop_set_uint(struct dm_dev *d, const struct dm_prop *p,
                             const char *value, GError **errp)
{
    static const uint64_t max[] = {
        [DM_PROP_U8] = UINT8_MAX, [DM_PROP_U16] = UINT16_MAX,
        [DM_PROP_U32] = UINT32_MAX, [DM_PROP_U64] = UINT64_MAX,
    };
    void *field = (char *)d + p->offset;
    uint64_t v;
    bool ok = p->kind == DM_PROP_U64 ? dm_parse_size(value, 1, &v)
                                     : dm_parse_uint(value, &v);

    if (!ok || v > max[p->kind]) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: %s=%s: expected a number from 0 to %" G_GUINT64_FORMAT,
                    d->type->name, p->name, value, max[p->kind]);
        return false;
    }
    switch (p->kind) {
    case DM_PROP_U8:
        *(uint8_t *)field = (uint8_t)v;
        break;
    case DM_PROP_U16:
        *(uint16_t *)field = (uint16_t)v;
        break;
    case DM_PROP_U32:
        *(uint32_t *)field = (uint32_t)v;
        break;
    default:
        *(uint64_t *)field = v;
        break;
    }
    return true;
}

bool dm_dev_set_prop(struct dm_dev *d, const char *name, const char *value,
                     GError **errp)
{
    const struct dm_dev_type *t = d->type;
    const struct dm_prop *p = dm_dev_find_prop(t, name);
    void *field;

    if (d->realized) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s[%s]: property %s cannot change after start", t->name,
                    d->id, name);
        return false;
    }
    if (!p && t->bus == DM_BUS_PCI && strcmp(name, "addr") == 0) {
        int devfn;

        if (!dm_pci_parse_addr(value, &devfn)) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: addr=%s: expected SLOT[.FN] with slot 0..1f and "
                        "function 0..7 (hex)", t->name, value);
            return false;
        }
        dm_pci_dev_of(d)->devfn = devfn;
        return true;
    }
    if (!p) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: unknown property '%s' (try -device %s,help)",
                    t->name, name, t->name);
        return false;
    }
    field = (char *)d + p->offset;
    switch (p->kind) {
    case DM_PROP_BOOL:
        if (!dm_parse_bool(value, (bool *)field)) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: %s=%s: expected on or off", t->name, name, value);
            return false;
        }
        return true;
    case DM_PROP_U8:
    case DM_PROP_U16:
    case DM_PROP_U32:
    case DM_PROP_U64:
        return dm_prop_set_uint(d, p, value, errp);
    case DM_PROP_STRING:
        g_free(*(char **)field);
        *(char **)field = g_strdup(value);
        return true;
    case DM_PROP_CHR: {
        struct dm_chr *c = dm_chr_find(d->m, value);

        if (!c) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: %s=%s: no chardev with id '%s'", t->name, name,
                        value, value);
            return false;
        }
        *(struct dm_chr **)field = c;
        return true;
    }
    }
    g_assert_not_reached();
}

struct dm_dev *dm_dev_create(struct dm_machine *m, const char *type,
                             const char *id, GError **errp)
{
    const struct dm_dev_type *t = dm_dev_type_find(type);
    struct dm_dev *d;

    if (!t) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "unknown device type '%s' (try -device help)", type);
        return NULL;
    }
    assert(t->size >= (t->bus == DM_BUS_PCI ? sizeof(struct dm_pci_dev)
                                            : sizeof(struct dm_dev)));
    if (id && !dm_dev_id_valid(id)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: id=%s: expected a letter then letters, digits, "
                    "'-', '.' or '_' (at most 64)", type, id);
        return NULL;
    }
    if (id && dm_dev_id_taken(m, id)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: id=%s: a device with this id exists", type, id);
        return NULL;
    }
    d = g_malloc0(t->size);
    d->type = t;
    d->m = m;
    if (id) {
        d->id = g_strdup(id);
    } else {
        for (unsigned n = 0; !d->id; n++) {
            char *cand = g_strdup_printf("%s.%u", t->name, n);

            if (dm_dev_id_taken(m, cand)) {
                g_free(cand);
            } else {
                d->id = cand;
            }
        }
    }
    if (t->bus == DM_BUS_PCI) {
        dm_pci_dev_of(d)->devfn = -1;
    }
    for (const struct dm_prop *p = t->props; p && p->name; p++) {
        if (p->defval && !dm_dev_set_prop(d, p->name, p->defval, errp)) {
            /* a broken default is a bug in the type's table */
            g_prefix_error(errp, "default of ");
            dm_dev_free(d);
            return NULL;
        }
    }
    return d;
}

bool dm_dev_realize(struct dm_dev *d, GError **errp)
{
    struct dm_machine *m = d->m;
    const struct dm_dev_type *t = d->type;
    GError *err = NULL;

    assert(!d->realized);
    if (dm_dev_id_taken(m, d->id)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: id=%s: a device with this id exists", t->name, d->id);
        return false;
    }
    if (t->bus == DM_BUS_PCI && !dm_pci_plug(dm_pci_dev_of(d), &err)) {
        g_propagate_prefixed_error(errp, err, "%s[%s]: ", t->name, d->id);
        return false;
    }
    if (t->realize && !t->realize(d, &err)) {
        if (t->bus == DM_BUS_PCI) {
            dm_pci_unplug(dm_pci_dev_of(d));
        }
        /* device messages already name the device in their own words */
        g_propagate_error(errp, err);
        return false;
    }
    d->realized = true;
    g_ptr_array_add(m->devs, d);
    return true;
}

struct dm_dev *dm_dev_new(struct dm_machine *m, const char *type,
                          const char *opts, GError **errp)
{
    struct dm_opts *o = dm_opts_parse(opts, NULL, errp);
    struct dm_dev *d = NULL;

    if (!o) {
        g_prefix_error(errp, "%s: ", type);
        return NULL;
    }
    d = dm_dev_create(m, type, dm_opts_get(o, "id"), errp);
    for (guint i = 0; d && i < o->kv->len; i++) {
        struct dm_kv *kv = &g_array_index(o->kv, struct dm_kv, i);

        if (strcmp(kv->key, "id") == 0) {
            continue;
        }
        if (!dm_dev_set_prop(d, kv->key, kv->value, errp)) {
            dm_dev_free(d);
            d = NULL;
        }
    }
    if (d && !dm_dev_realize(d, errp)) {
        dm_dev_free(d);
        d = NULL;
    }
    dm_opts_free(o);
    return d;
}

void dm_dev_reset(struct dm_dev *d)
{
    if (d->type->bus == DM_BUS_PCI) {
        dm_pci_reset(dm_pci_dev_of(d));
    }
    if (d->type->reset) {
        d->type->reset(d);
    }
}

void dm_dev_free(struct dm_dev *d)
{
    const struct dm_dev_type *t;

    if (!d) {
        return;
    }
    t = d->type;
    if (d->realized) {
        if (t->unrealize) {
            t->unrealize(d);
        }
        if (t->bus == DM_BUS_PCI) {
            dm_pci_unplug(dm_pci_dev_of(d));
        }
        g_ptr_array_remove(d->m->devs, d);
    }
    for (const struct dm_prop *p = t->props; p && p->name; p++) {
        if (p->kind == DM_PROP_STRING) {
            g_free(*(char **)((char *)d + p->offset));
        }
    }
    g_free(d->id);
    g_free(d);
}
