/*
 * accel.c: the table of accelerators and lookup by the name given to -accel.
 *
 * KVM is compiled in on every Linux build; the Xen accelerator joins the table
 * when it exists and the Xen libraries are found.
 */
#include "hvmdm/accel.h"

static const struct dm_accel_ops *const dm_accels[] = {
    &dm_accel_kvm,
    &dm_accel_qtest,
};

const struct dm_accel_ops *dm_accel_find(const char *name)
{
    if (!name) {
        return NULL;
    }
    for (size_t i = 0; i < DM_ARRAY_SIZE(dm_accels); i++) {
        if (strcmp(dm_accels[i]->name, name) == 0) {
            return dm_accels[i];
        }
    }
    return NULL;
}
