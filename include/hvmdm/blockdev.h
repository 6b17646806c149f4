/*
 * blockdev.h: the drive table: what -drive, -hda..-hdd and -cdrom asked for,
 * parsed and checked, with IDE positions assigned, and opened through the
 * block layer (block.h) by the device that takes the drive.
 *
 * A drive is "if=ide" (the board puts it on the PIIX3 IDE controller at its
 * index: 0 primary master, 1 primary slave, 2 secondary master, 3 secondary
 * slave) or "if=none" (taken by -device ide-hd|ide-cd,drive=ID).
 */
#ifndef HVMDM_BLOCKDEV_H
#define HVMDM_BLOCKDEV_H

#include "hvmdm/block.h"
#include "hvmdm/common.h"

struct dm_config;

#define BLOCKDEV_IDE_BUSES 2
#define BLOCKDEV_IDE_UNITS 2

enum blockdev_if {
    BLOCKDEV_IF_IDE,
    BLOCKDEV_IF_NONE,
};

enum blockdev_media {
    BLOCKDEV_MEDIA_DISK,
    BLOCKDEV_MEDIA_CDROM,
};

/* werror=/rerror=: what an I/O error does. Only report and ignore act as
 * named so far; stop and enospc report the error to the guest (stopping the
 * VM comes with the run-state control). */
enum blockdev_error_action {
    BLOCKDEV_ERR_ENOSPC = 0, /* the default for werror */
    BLOCKDEV_ERR_REPORT,     /* the default for rerror */
    BLOCKDEV_ERR_IGNORE,
    BLOCKDEV_ERR_STOP,
};

struct blockdev_drive {
    char *source; /* the option as given ("-hda a.img"), prefixes messages */
    char *id;     /* id= or generated ("ide0-hd0", "ide1-cd0", "none2") */
    char *file;   /* NULL: a CD-ROM drive without a medium */
    enum blockdev_if iface;
    enum blockdev_media media;
    int bus, unit;        /* if=ide: the position; -1 for if=none */
    struct blk_opts opts; /* format, cache, aio, read-only; opts.id = id */
    enum blockdev_error_action werror, rerror;
    bool discard; /* TRIM reaches the image (discard=unmap, the default) */
};

/* "file=FILE,index=INDEX,media=MEDIA" for -hda..-hdd/-cdrom FILE, commas in
 * FILE doubled (g_free). */
char *blockdev_short_spec(const char *file, int index, bool cdrom);

/* Parse one -drive option string SPEC; SOURCE prefixes errors ("-drive
 * SPEC"). The IDE position is left at -1 unless index=/bus=/unit= gave it. */
struct blockdev_drive *blockdev_parse(const char *source, const char *spec,
                                      GError **errp);
void blockdev_drive_free(struct blockdev_drive *d);

/* The whole table of CFG (cfg->drives): every drive parsed, if=ide drives
 * placed (free positions in index order for those without one), ids made
 * unique. A GPtrArray of struct blockdev_drive * (g_ptr_array_unref). */
GPtrArray *blockdev_table_new(const struct dm_config *cfg, GError **errp);
struct blockdev_drive *blockdev_find(GPtrArray *table, const char *id);
/* The if=ide drive at BUS/UNIT, or NULL. */
struct blockdev_drive *blockdev_find_ide(GPtrArray *table, int bus, int unit);

/* Open D's image: NULL with *ERRP unset for a CD-ROM drive without a file. */
struct blk *blockdev_open(const struct blockdev_drive *d, GError **errp);

const char *blockdev_error_action_name(enum blockdev_error_action a);

#endif
