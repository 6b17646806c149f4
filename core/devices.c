/*
 * devices.c: the one table of every device type hvmdm knows.
 *
 * A device file defines its `const struct dm_dev_type`; it is listed here
 * with one extern and one table entry, in no particular order. There are no
 * constructors or registration calls: this table is the registry.
 */
#include "hvmdm/dev.h"

/* One line per device type, sorted by name within a folder. */

static const struct dm_dev_type *const dm_dev_type_table[] = {
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
