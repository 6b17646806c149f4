/*
 * blockdev.c: the drive table built from -drive, -hda..-hdd and -cdrom.
 *
 * Option names and values follow QEMU's -drive (file, format, if, id, index,
 * bus, unit, media, readonly, cache, aio, werror, rerror, discard,
 * snapshot) and the short forms map to the indexes QEMU gives them (-hda 0,
 * -hdb 1, -hdc 2, -hdd 3, -cdrom 2). Every error names the option the user
 * typed. Left out: snapshot=on (refused, "not supported yet"), if= values
 * other than ide and none, geometry options (cyls=, heads=, secs=).
 */
#include "hvmdm/blockdev.h"
#include "hvmdm/config.h"

#define BLOCKDEV_IDE_SLOTS (BLOCKDEV_IDE_BUSES * BLOCKDEV_IDE_UNITS)
#define BLOCKDEV_ID_MAX 64

static const char *const blockdev_keys[] = {
    "file",   "format",  "if",       "id",    "index", "bus",
    "unit",   "media",   "readonly", "cache", "aio",   "werror",
    "rerror", "discard", "snapshot", NULL,
};

char *blockdev_short_spec(const char *file, int index, bool cdrom)
{
    g_autofree char *esc = NULL;
    g_auto(GStrv) parts = g_strsplit(file, ",", -1);

    esc = g_strjoinv(",,", parts);
    return g_strdup_printf("file=%s,index=%d,media=%s", esc, index,
                           cdrom ? "cdrom" : "disk");
}

void blockdev_drive_free(struct blockdev_drive *d)
{
    if (!d) {
        return;
    }
    g_free(d->source);
    g_free(d->id);
    g_free(d->file);
    g_free(d);
}

const char *blockdev_error_action_name(enum blockdev_error_action a)
{
    switch (a) {
    case BLOCKDEV_ERR_ENOSPC:
        return "enospc";
    case BLOCKDEV_ERR_REPORT:
        return "report";
    case BLOCKDEV_ERR_IGNORE:
        return "ignore";
    case BLOCKDEV_ERR_STOP:
        return "stop";
    }
    return "?";
}

static bool blockdev_id_valid(const char *id)
{
    if (!g_ascii_isalpha(id[0]) || strlen(id) > BLOCKDEV_ID_MAX) {
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

/* A small unsigned option KEY of O in [0, MAX], or -1 when absent. */
static bool blockdev_get_index(const struct dm_opts *o, const char *key,
                               uint64_t max, int *out, const char *source,
                               GError **errp)
{
    const char *v = dm_opts_get(o, key);
    uint64_t n;

    *out = -1;
    if (!v) {
        return true;
    }
    if (!dm_parse_uint(v, &n) || n > max) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: %s=%s: expected a number from 0 to %" PRIu64, source,
                    key, v, max);
        return false;
    }
    *out = (int)n;
    return true;
}

static bool blockdev_parse_action(const char *source, const char *key,
                                  const char *v, bool allow_enospc,
                                  enum blockdev_error_action *out,
                                  GError **errp)
{
    static const struct {
        const char *name;
        enum blockdev_error_action a;
    } names[] = {
        { "report", BLOCKDEV_ERR_REPORT },
        { "ignore", BLOCKDEV_ERR_IGNORE },
        { "stop", BLOCKDEV_ERR_STOP },
        { "enospc", BLOCKDEV_ERR_ENOSPC },
    };

    for (size_t i = 0; i < DM_ARRAY_SIZE(names); i++) {
        if (strcmp(v, names[i].name) == 0 &&
            (allow_enospc || names[i].a != BLOCKDEV_ERR_ENOSPC)) {
            *out = names[i].a;
            return true;
        }
    }
    g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                "%s: %s=%s: expected report, ignore, stop%s", source, key, v,
                allow_enospc ? " or enospc" : "");
    return false;
}

/* if=, media=, readonly=, snapshot=, discard= */
static bool blockdev_parse_kind(struct blockdev_drive *d,
                                const struct dm_opts *o, GError **errp)
{
    const char *v;
    GError *err = NULL;
    bool snapshot;

    v = dm_opts_get(o, "if");
    if (!v || strcmp(v, "ide") == 0) {
        d->iface = BLOCKDEV_IF_IDE;
    } else if (strcmp(v, "none") == 0) {
        d->iface = BLOCKDEV_IF_NONE;
    } else {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: if=%s: not supported (expected ide or none)",
                    d->source, v);
        return false;
    }
    v = dm_opts_get(o, "media");
    if (!v || strcmp(v, "disk") == 0) {
        d->media = BLOCKDEV_MEDIA_DISK;
    } else if (strcmp(v, "cdrom") == 0) {
        d->media = BLOCKDEV_MEDIA_CDROM;
    } else {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: media=%s: expected disk or cdrom", d->source, v);
        return false;
    }
    d->opts.read_only = dm_opts_get_bool(o, "readonly", false, &err);
    if (!err) {
        snapshot = dm_opts_get_bool(o, "snapshot", false, &err);
        if (!err && snapshot) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: snapshot=on: not supported yet", d->source);
            return false;
        }
    }
    if (err) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "%s: %s", d->source,
                    err->message);
        g_error_free(err);
        return false;
    }
    v = dm_opts_get(o, "discard");
    if (!v || strcmp(v, "unmap") == 0 || strcmp(v, "on") == 0) {
        d->discard = true;
    } else if (strcmp(v, "ignore") == 0 || strcmp(v, "off") == 0) {
        d->discard = false;
    } else {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: discard=%s: expected unmap or ignore", d->source, v);
        return false;
    }
    if (d->media == BLOCKDEV_MEDIA_CDROM) {
        d->opts.read_only = true;
    }
    return true;
}

/* format=, cache=, aio=, werror=, rerror= */
static bool blockdev_parse_backend(struct blockdev_drive *d,
                                   const struct dm_opts *o, GError **errp)
{
    GError *err = NULL;
    const char *v;

    if ((v = dm_opts_get(o, "format")) &&
        !blk_parse_format(v, &d->opts.format, &err)) {
        goto fail;
    }
    if ((v = dm_opts_get(o, "cache")) &&
        !blk_parse_cache(v, &d->opts.cache, &err)) {
        goto fail;
    }
    if ((v = dm_opts_get(o, "aio")) && !blk_parse_aio(v, &d->opts.aio, &err)) {
        goto fail;
    }
    d->werror = BLOCKDEV_ERR_ENOSPC;
    d->rerror = BLOCKDEV_ERR_REPORT;
    if ((v = dm_opts_get(o, "werror")) &&
        !blockdev_parse_action(d->source, "werror", v, true, &d->werror,
                               errp)) {
        return false;
    }
    if ((v = dm_opts_get(o, "rerror")) &&
        !blockdev_parse_action(d->source, "rerror", v, false, &d->rerror,
                               errp)) {
        return false;
    }
    return true;

fail:
    g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "%s: %s", d->source,
                err->message);
    g_error_free(err);
    return false;
}

/* index=, bus=, unit= */
static bool blockdev_parse_position(struct blockdev_drive *d,
                                    const struct dm_opts *o, GError **errp)
{
    int index;

    if (!blockdev_get_index(o, "index", BLOCKDEV_IDE_SLOTS - 1, &index,
                            d->source, errp) ||
        !blockdev_get_index(o, "bus", BLOCKDEV_IDE_BUSES - 1, &d->bus,
                            d->source, errp) ||
        !blockdev_get_index(o, "unit", BLOCKDEV_IDE_UNITS - 1, &d->unit,
                            d->source, errp)) {
        return false;
    }
    if (index >= 0 && (d->bus >= 0 || d->unit >= 0)) {
        g_set_error(
            errp, DM_ERROR, DM_ERROR_INVALID,
            "%s: index= cannot be combined with bus= or unit=", d->source);
        return false;
    }
    if (d->iface == BLOCKDEV_IF_NONE) {
        if (index >= 0 || d->bus >= 0 || d->unit >= 0) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: index=, bus= and unit= need if=ide (with "
                        "if=none, -device ide-hd|ide-cd places the drive)",
                        d->source);
            return false;
        }
        return true;
    }
    if (index >= 0) {
        d->bus = index / BLOCKDEV_IDE_UNITS;
        d->unit = index % BLOCKDEV_IDE_UNITS;
    }
    return true;
}

struct blockdev_drive *blockdev_parse(const char *source, const char *spec,
                                      GError **errp)
{
    struct blockdev_drive *d = g_new0(struct blockdev_drive, 1);
    struct dm_opts *o;
    GError *err = NULL;
    const char *v;

    d->source = g_strdup(source);
    d->bus = d->unit = -1;
    o = dm_opts_parse(spec, NULL, &err);
    if (!o) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "%s: %s", source,
                    err->message);
        g_error_free(err);
        goto fail;
    }
    if (!dm_opts_check_keys(o, blockdev_keys, source, errp) ||
        !blockdev_parse_kind(d, o, errp) ||
        !blockdev_parse_backend(d, o, errp) ||
        !blockdev_parse_position(d, o, errp)) {
        goto fail;
    }
    v = dm_opts_get(o, "id");
    if (v) {
        if (!blockdev_id_valid(v)) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: id=%s: expected a letter then letters, digits, "
                        "'-', '.' or '_' (at most %d)",
                        source, v, BLOCKDEV_ID_MAX);
            goto fail;
        }
        d->id = g_strdup(v);
    }
    v = dm_opts_get(o, "file");
    if (v && *v) {
        d->file = g_strdup(v);
    } else if (d->media == BLOCKDEV_MEDIA_DISK) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: missing file= (only a media=cdrom drive may be "
                    "empty)",
                    source);
        goto fail;
    }
    dm_opts_free(o);
    return d;

fail:
    dm_opts_free(o);
    blockdev_drive_free(d);
    return NULL;
}

/* ---- the table ---------------------------------------------------------- */

struct blockdev_drive *blockdev_find(GPtrArray *table, const char *id)
{
    for (guint i = 0; table && id && i < table->len; i++) {
        struct blockdev_drive *d = g_ptr_array_index(table, i);

        if (d->id && strcmp(d->id, id) == 0) {
            return d;
        }
    }
    return NULL;
}

struct blockdev_drive *blockdev_find_ide(GPtrArray *table, int bus, int unit)
{
    for (guint i = 0; table && i < table->len; i++) {
        struct blockdev_drive *d = g_ptr_array_index(table, i);

        if (d->iface == BLOCKDEV_IF_IDE && d->bus == bus && d->unit == unit) {
            return d;
        }
    }
    return NULL;
}

/* Give D (if=ide) the first free position on its bus, or anywhere. */
static bool blockdev_place(GPtrArray *t, struct blockdev_drive *d,
                           GError **errp)
{
    for (int slot = 0; slot < BLOCKDEV_IDE_SLOTS; slot++) {
        int bus = slot / BLOCKDEV_IDE_UNITS, unit = slot % BLOCKDEV_IDE_UNITS;

        if ((d->bus >= 0 && bus != d->bus) ||
            (d->unit >= 0 && unit != d->unit)) {
            continue;
        }
        if (!blockdev_find_ide(t, bus, unit)) {
            d->bus = bus;
            d->unit = unit;
            return true;
        }
    }
    g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                "%s: no free IDE position%s (2 buses of 2 units)", d->source,
                d->bus >= 0 ? " on this bus" : "");
    return false;
}

static bool blockdev_name(GPtrArray *t, struct blockdev_drive *d,
                          unsigned *none_count, GError **errp)
{
    if (d->id) {
        struct blockdev_drive *other = blockdev_find(t, d->id);

        if (other && other != d) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: id=%s: already used by %s", d->source, d->id,
                        other->source);
            return false;
        }
        return true;
    }
    if (d->iface == BLOCKDEV_IF_IDE) {
        d->id = g_strdup_printf("ide%d-%s%d", d->bus,
                                d->media == BLOCKDEV_MEDIA_CDROM ? "cd" : "hd",
                                d->unit);
    } else {
        do {
            g_free(d->id);
            d->id = g_strdup_printf("none%u", (*none_count)++);
        } while (blockdev_find(t, d->id) != d);
    }
    if (blockdev_find(t, d->id) != d) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s: its id %s is taken by another drive: give id=",
                    d->source, d->id);
        return false;
    }
    d->opts.id = d->id;
    return true;
}

GPtrArray *blockdev_table_new(const struct dm_config *cfg, GError **errp)
{
    GPtrArray *t =
        g_ptr_array_new_with_free_func((GDestroyNotify)blockdev_drive_free);
    unsigned none_count = 0;

    if (!cfg->drives) {
        return t;
    }
    /* Parse; drives with an explicit position take it first. */
    for (guint i = 0; i < cfg->drives->len; i++) {
        const char *spec = g_ptr_array_index(cfg->drives, i);
        const char *src = cfg->drive_sources && i < cfg->drive_sources->len
                              ? g_ptr_array_index(cfg->drive_sources, i)
                              : NULL;
        g_autofree char *source =
            src ? g_strdup(src) : g_strdup_printf("-drive %s", spec);
        struct blockdev_drive *d = blockdev_parse(source, spec, errp);

        if (!d) {
            goto fail;
        }
        if (d->iface == BLOCKDEV_IF_IDE && d->bus >= 0 && d->unit >= 0) {
            struct blockdev_drive *other =
                blockdev_find_ide(t, d->bus, d->unit);

            if (other) {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "%s: IDE bus %d unit %d is already used by %s",
                            d->source, d->bus, d->unit, other->source);
                blockdev_drive_free(d);
                goto fail;
            }
        }
        g_ptr_array_add(t, d);
    }
    for (guint i = 0; i < t->len; i++) {
        struct blockdev_drive *d = g_ptr_array_index(t, i);

        if (d->iface == BLOCKDEV_IF_IDE && (d->bus < 0 || d->unit < 0) &&
            !blockdev_place(t, d, errp)) {
            goto fail;
        }
    }
    for (guint i = 0; i < t->len; i++) {
        struct blockdev_drive *d = g_ptr_array_index(t, i);

        if (!blockdev_name(t, d, &none_count, errp)) {
            goto fail;
        }
        d->opts.id = d->id;
    }
    return t;

fail:
    g_ptr_array_unref(t);
    return NULL;
}

struct blk *blockdev_open(const struct blockdev_drive *d, GError **errp)
{
    GError *err = NULL;
    struct blk_opts o = d->opts;
    struct blk *b;
    g_autofree char *prefix = NULL;
    const char *msg;

    if (!d->file) {
        return NULL;
    }
    o.id = d->id;
    b = blk_open(d->file, &o, &err);
    if (b) {
        return b;
    }
    /* The block layer names the file first; name the option instead. */
    prefix = g_strdup_printf("%s: ", d->file);
    msg = err->message;
    if (g_str_has_prefix(msg, prefix)) {
        msg += strlen(prefix);
    }
    g_set_error(errp, DM_ERROR, err->code, "%s: %s", d->source, msg);
    g_error_free(err);
    return NULL;
}
