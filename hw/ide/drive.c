/*
 * drive.c: the IDE front devices "ide-hd" and "ide-cd" that put a drive of
 * the drive table (block/blockdev.c) at a bus and unit of an IDE
 * controller, the board's IDE set-up, CD-ROM media changes from the host,
 * and the SeaBIOS "bootorder" file for IDE drives.
 *
 * Boot paths follow SeaBIOS src/boot.c (bootprio_find_ata_device):
 * "/pci@i0cf8/ide@1,1/drive@<bus>/disk@<unit>". Left out: geometry and
 * logical/physical block size properties, wwn, hot-plug.
 */
#include "hvmdm/blockdev.h"
#include "hvmdm/config.h"
#include "hvmdm/dev.h"
#include "hvmdm/fw_cfg.h"
#include "hvmdm/ide.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/pci.h"
#include "ide.h"

#define IDE_PROP_UNSET UINT32_MAX
#define IDE_DEFAULT_BOOT "cad"

struct ide_front {
    struct dm_dev dev;
    char *drive; /* drive id */
    char *bus;   /* "ide.0" */
    uint32_t unit;
    uint32_t bootindex;
    char *serial;
    char *model;
    /* set at realize */
    bool from_board; /* created by ide_pc_init for an if=ide drive */
    struct ide_drive *d;
    struct blk *blk; /* owned; the current medium of a CD-ROM */
    struct blockdev_drive *conf;
};

static bool ide_front_is(const struct dm_dev *dev)
{
    return dev->type == &ide_hd_type || dev->type == &ide_cd_type;
}

/* The front device already holding drive ID, or NULL. */
static struct ide_front *ide_front_using(struct dm_machine *m, const char *id)
{
    for (guint i = 0; i < m->devs->len; i++) {
        struct dm_dev *dev = g_ptr_array_index(m->devs, i);
        struct ide_front *f = (struct ide_front *)dev;

        if (ide_front_is(dev) && f->conf && strcmp(f->conf->id, id) == 0) {
            return f;
        }
    }
    return NULL;
}

static bool ide_front_pick_slot(struct ide_front *f, struct ide_bus **bus,
                                int *unit, GError **errp)
{
    struct dm_machine *m = f->dev.m;
    const char *name = f->dev.type->name;
    struct ide_bus *b = f->bus ? ide_bus_find(m, f->bus) : NULL;

    if (f->unit != IDE_PROP_UNSET && f->unit > 1) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: unit=%u: expected 0 or 1", name, f->unit);
        return false;
    }
    if (f->bus && !b) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: bus=%s: no such IDE bus (ide.0 or ide.1)", name,
                    f->bus);
        return false;
    }
    for (int n = 0; n < 2; n++) {
        struct ide_bus *cand = b;

        if (!cand) {
            cand = ide_bus_find(m, n ? "ide.1" : "ide.0");
        }
        if (!cand) {
            break;
        }
        for (int u = 0; u < 2; u++) {
            if ((f->unit == IDE_PROP_UNSET || f->unit == (uint32_t)u) &&
                cand->drive[u].kind == IDE_NONE) {
                *bus = cand;
                *unit = u;
                return true;
            }
        }
        if (b) {
            break;
        }
    }
    g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                "%s: no free IDE position%s%s%s", name, f->bus ? " on " : "",
                f->bus ? f->bus : "",
                f->unit != IDE_PROP_UNSET ? " at that unit" : "");
    return false;
}

/* The drive table entry for drive=, checked for this device. */
static bool ide_front_take_drive(struct ide_front *f, bool cd, GError **errp)
{
    struct dm_machine *m = f->dev.m;
    const char *name = f->dev.type->name;
    g_autoptr(GPtrArray) table = NULL;
    struct blockdev_drive *conf;
    struct ide_front *other;

    if (!f->drive) {
        if (!cd) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: drive= is required (a -drive if=none,id=ID)",
                        name);
            return false;
        }
        return true; /* an empty CD-ROM drive */
    }
    table = blockdev_table_new(m->cfg, errp);
    if (!table) {
        return false;
    }
    conf = blockdev_find(table, f->drive);
    if (!conf) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: drive=%s: no -drive with this id", name, f->drive);
        return false;
    }
    if (conf->iface == BLOCKDEV_IF_IDE && !f->from_board) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: drive=%s: the drive is placed by if=ide already; "
                    "give it if=none",
                    name, f->drive);
        return false;
    }
    if ((other = ide_front_using(m, conf->id))) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: drive=%s: already used by %s", name, f->drive,
                    other->dev.id);
        return false;
    }
    if (!cd && !conf->file) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: drive=%s: the drive has no image", name, f->drive);
        return false;
    }
    if (!cd && conf->opts.read_only) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: drive=%s: an IDE disk cannot be read-only (use "
                    "media=cdrom or drop readonly=on)",
                    name, f->drive);
        return false;
    }
    if (cd) {
        conf->opts.read_only = true;
    }
    {
        guint idx = 0;

        g_ptr_array_find(table, conf, &idx);
        f->conf = g_ptr_array_steal_index(table, idx);
    }
    return true;
}

static bool ide_front_realize_kind(struct dm_dev *dev, enum ide_kind kind,
                                   GError **errp)
{
    struct ide_front *f = (struct ide_front *)dev;
    struct ide_bus *b;
    int unit;
    GError *err = NULL;

    if (!ide_bus_find(dev->m, NULL)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: the machine has no IDE controller", dev->type->name);
        return false;
    }
    if (!ide_front_take_drive(f, kind == IDE_CD, errp) ||
        !ide_front_pick_slot(f, &b, &unit, errp)) {
        goto fail;
    }
    if (f->conf) {
        f->blk = blockdev_open(f->conf, &err);
        if (err) {
            g_propagate_error(errp, err);
            goto fail;
        }
    }
    if (!ide_attach(b, unit, kind, f->blk, f->conf, dev, errp)) {
        goto fail;
    }
    f->d = &b->drive[unit];
    if (f->serial) {
        g_strlcpy(f->d->serial, f->serial, sizeof(f->d->serial));
    }
    if (f->model) {
        g_strlcpy(f->d->model, f->model, sizeof(f->d->model));
    }
    f->d->bootindex = f->bootindex == IDE_PROP_UNSET ? -1 : (int)f->bootindex;
    if (f->conf && (f->conf->werror == BLOCKDEV_ERR_STOP ||
                    f->conf->rerror == BLOCKDEV_ERR_STOP)) {
        dm_warn("%s: werror/rerror=stop: stopping the VM is not supported "
                "yet, errors are reported to the guest",
                f->conf->source);
    }
    ide_bootorder_update(dev->m);
    return true;

fail:
    blk_close(f->blk);
    f->blk = NULL;
    blockdev_drive_free(f->conf);
    f->conf = NULL;
    return false;
}

static bool ide_hd_realize(struct dm_dev *dev, GError **errp)
{
    return ide_front_realize_kind(dev, IDE_HD, errp);
}

static bool ide_cd_realize(struct dm_dev *dev, GError **errp)
{
    return ide_front_realize_kind(dev, IDE_CD, errp);
}

static void ide_front_unrealize(struct dm_dev *dev)
{
    struct ide_front *f = (struct ide_front *)dev;

    if (f->d) {
        ide_detach(f->d);
        f->d = NULL;
    }
    blk_close(f->blk);
    f->blk = NULL;
    blockdev_drive_free(f->conf);
    f->conf = NULL;
}

static const struct dm_prop ide_front_props[] = {
    DM_PROP(struct ide_front, drive, DM_PROP_STRING, NULL),
    DM_PROP(struct ide_front, bus, DM_PROP_STRING, NULL),
    DM_PROP(struct ide_front, unit, DM_PROP_U32, "0xffffffff"),
    DM_PROP(struct ide_front, bootindex, DM_PROP_U32, "0xffffffff"),
    DM_PROP(struct ide_front, serial, DM_PROP_STRING, NULL),
    DM_PROP(struct ide_front, model, DM_PROP_STRING, NULL),
    DM_PROP_END,
};

const struct dm_dev_type ide_hd_type = {
    .name = "ide-hd",
    .bus = DM_BUS_SYS,
    .size = sizeof(struct ide_front),
    .props = ide_front_props,
    .user_creatable = true,
    .realize = ide_hd_realize,
    .unrealize = ide_front_unrealize,
    .desc = "IDE hard disk (drive=ID of a -drive if=none)",
};

const struct dm_dev_type ide_cd_type = {
    .name = "ide-cd",
    .bus = DM_BUS_SYS,
    .size = sizeof(struct ide_front),
    .props = ide_front_props,
    .user_creatable = true,
    .realize = ide_cd_realize,
    .unrealize = ide_front_unrealize,
    .desc = "IDE CD/DVD-ROM drive (drive=ID, or empty)",
};

/* ---- boot order --------------------------------------------------------- */

struct ide_boot_entry {
    unsigned index;
    int bootindex;
};

static gint ide_boot_cmp(gconstpointer a, gconstpointer b)
{
    const struct ide_boot_entry *x = a, *y = b;

    if (x->bootindex != y->bootindex) {
        return x->bootindex < y->bootindex ? -1 : 1;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

/* -boot's order (or once), without checking: the board did. */
static void ide_boot_order(struct dm_machine *m, char **order, bool *strict)
{
    struct dm_opts *o =
        m->cfg->boot ? dm_opts_parse(m->cfg->boot, "order", NULL) : NULL;
    const char *v = NULL;

    *strict = false;
    if (o) {
        v = dm_opts_get(o, "once") ? dm_opts_get(o, "once")
                                   : dm_opts_get(o, "order");
        *strict = dm_opts_get_bool(o, "strict", false, NULL);
    }
    *order = g_strdup(v ? v : IDE_DEFAULT_BOOT);
    dm_opts_free(o);
}

void ide_bootorder_update(struct dm_machine *m)
{
    struct ide_drive *drives[IDE_MAX_DRIVES];
    unsigned n = ide_drives(m, drives, IDE_MAX_DRIVES);
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) indexed =
        g_array_new(FALSE, TRUE, sizeof(struct ide_boot_entry));
    g_autofree char *order = NULL;
    g_autofree char *text = NULL;
    bool strict;

    if (!m->fw_cfg) {
        return;
    }
    /* Devices with a bootindex first, in its order. */
    for (unsigned i = 0; i < n; i++) {
        struct ide_boot_entry e = { .index = i,
                                    .bootindex = drives[i]->bootindex };

        if (e.bootindex >= 0) {
            g_array_append_val(indexed, e);
        }
    }
    g_array_sort(indexed, ide_boot_cmp);
    for (guint i = 0; i < indexed->len; i++) {
        unsigned k = g_array_index(indexed, struct ide_boot_entry, i).index;

        g_ptr_array_add(lines, ide_drive_fw_path(drives[k]));
    }
    /* Then -boot's order as far as it names IDE devices: an entry here
     * outranks every device SeaBIOS finds only through CMOS, so the
     * expansion stops at the first letter that is not c or d. */
    ide_boot_order(m, &order, &strict);
    for (const char *c = order; *c == 'c' || *c == 'd'; c++) {
        enum ide_kind want = *c == 'c' ? IDE_HD : IDE_CD;

        for (unsigned i = 0; i < n; i++) {
            if (drives[i]->kind == want && drives[i]->bootindex < 0) {
                g_ptr_array_add(lines, ide_drive_fw_path(drives[i]));
            }
        }
    }
    if (strict) {
        g_ptr_array_add(lines, g_strdup("HALT"));
    }
    g_ptr_array_add(lines, NULL);
    text = g_strjoinv("\n", (char **)lines->pdata);
    /* The terminating NUL is part of the file, as QEMU writes it. */
    dm_fw_cfg_add_file(m->fw_cfg, "bootorder", text,
                       *text ? strlen(text) + 1 : 0, NULL);
}

/* ---- the board ---------------------------------------------------------- */

bool ide_pc_init(struct dm_machine *m, int devfn, GError **errp)
{
    g_autoptr(GPtrArray) table = blockdev_table_new(m->cfg, errp);
    struct dm_dev *ctrl;

    if (!table) {
        return false;
    }
    ctrl = dm_dev_create(m, "piix3-ide", NULL, errp);
    if (!ctrl) {
        return false;
    }
    dm_pci_dev_of(ctrl)->devfn = devfn;
    if (!dm_dev_realize(ctrl, errp)) {
        dm_dev_free(ctrl);
        return false;
    }
    for (guint i = 0; i < table->len; i++) {
        struct blockdev_drive *conf = g_ptr_array_index(table, i);
        bool cd = conf->media == BLOCKDEV_MEDIA_CDROM;
        struct dm_dev *dev;
        struct ide_front *f;

        if (conf->iface != BLOCKDEV_IF_IDE) {
            continue;
        }
        dev = dm_dev_create(m, cd ? "ide-cd" : "ide-hd", NULL, errp);
        if (!dev) {
            return false;
        }
        f = (struct ide_front *)dev;
        f->from_board = true;
        f->drive = g_strdup(conf->id);
        f->bus = g_strdup_printf("ide.%d", conf->bus);
        f->unit = (uint32_t)conf->unit;
        if (!dm_dev_realize(dev, errp)) {
            dm_dev_free(dev);
            return false;
        }
    }
    ide_bootorder_update(m);
    return true;
}

/* ---- media -------------------------------------------------------------- */

static struct ide_front *ide_cd_find(struct dm_machine *m, const char *id,
                                     GError **errp)
{
    for (guint i = 0; i < m->devs->len; i++) {
        struct dm_dev *dev = g_ptr_array_index(m->devs, i);
        struct ide_front *f = (struct ide_front *)dev;

        if (dev->type == &ide_cd_type && f->d &&
            (strcmp(dev->id, id) == 0 ||
             (f->conf && strcmp(f->conf->id, id) == 0))) {
            return f;
        }
    }
    g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                "%s: no IDE CD-ROM drive with this id", id);
    return NULL;
}

static bool ide_cd_locked(struct ide_front *f, const char *id, bool force,
                          GError **errp)
{
    if (f->d->atapi.tray_locked && !force) {
        atapi_eject_request(f->d);
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "%s: the guest has locked the tray", id);
        return true;
    }
    return false;
}

bool ide_cd_eject(struct dm_machine *m, const char *id, bool force,
                  GError **errp)
{
    struct ide_front *f = ide_cd_find(m, id, errp);

    if (!f || ide_cd_locked(f, id, force, errp)) {
        return false;
    }
    f->d->atapi.tray_open = true;
    f->d->atapi.tray_locked = false;
    ide_cd_set_medium(f->d, NULL);
    blk_close(f->blk);
    f->blk = NULL;
    return true;
}

bool ide_cd_change(struct dm_machine *m, const char *id, const char *file,
                   const char *format, bool force, GError **errp)
{
    struct ide_front *f = ide_cd_find(m, id, errp);
    struct blk_opts o = { .read_only = true, .id = id };
    struct blk *nb;

    if (!f || ide_cd_locked(f, id, force, errp)) {
        return false;
    }
    if (format && !blk_parse_format(format, &o.format, errp)) {
        return false;
    }
    if (f->conf) {
        o.cache = f->conf->opts.cache;
        o.aio = f->conf->opts.aio;
    }
    nb = blk_open(file, &o, errp);
    if (!nb) {
        return false;
    }
    f->d->atapi.tray_locked = false;
    ide_cd_set_medium(f->d, nb);
    blk_close(f->blk);
    f->blk = nb;
    return true;
}
