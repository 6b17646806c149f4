/*
 * devices.c: the one table of every device type hvmdm knows.
 *
 * A device file defines its `const struct dm_dev_type`; it is listed here
 * with one extern and one table entry, in no particular order. There are no
 * constructors or registration calls: this table is the registry.
 */
#include "hvmdm/dev.h"

/* One line per device type, sorted by name within a folder. */
extern const struct dm_dev_type fw_cfg_io_type;   /* hw/isa/fw_cfg.c */
extern const struct dm_dev_type debugcon_type;    /* hw/isa/debugcon.c */
extern const struct dm_dev_type i8042_type;       /* hw/isa/i8042.c */
extern const struct dm_dev_type port92_type;      /* hw/isa/port92.c */
extern const struct dm_dev_type post_type;        /* hw/isa/post.c */
extern const struct dm_dev_type rtc_type;         /* hw/isa/rtc.c */
extern const struct dm_dev_type serial_type;      /* hw/isa/serial.c */
extern const struct dm_dev_type i440fx_type;      /* hw/pci/i440fx.c */
extern const struct dm_dev_type piix3_type;       /* hw/pci/piix3.c */
extern const struct dm_dev_type piix3_ide_type;   /* hw/ide/piix.c */
extern const struct dm_dev_type ide_cd_type;      /* hw/ide/drive.c */
extern const struct dm_dev_type ide_hd_type;      /* hw/ide/drive.c */

static const struct dm_dev_type *const dm_dev_type_table[] = {
    &fw_cfg_io_type,
    &debugcon_type,
    &i8042_type,
    &port92_type,
    &post_type,
    &rtc_type,
    &serial_type,
    &i440fx_type,
    &piix3_type,
    &piix3_ide_type,
    &ide_cd_type,
    &ide_hd_type,
    NULL,
};

const struct dm_dev_type *const *dm_dev_types(void)
{
    return dm_dev_type_table;
}

const struct dm_dev_type *dm_dev_type_find(const char *name)
{
    for (const struct dm_dev_type *const *t = dm_dev_type_table; *t; t++) {
        if (strcmp((*t)->name, name) == 0) {
            return *t;
        }
    }
    return NULL;
}
