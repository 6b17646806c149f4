/*
 * firmware.h: finding and loading firmware images (SeaBIOS, later VGA BIOSes
 * and NIC option ROMs) and the tables hvmdm hands to SeaBIOS through fw_cfg.
 */
#ifndef HVMDM_FIRMWARE_H
#define HVMDM_FIRMWARE_H

#include "hvmdm/common.h"

/* Default search directories, in order: $HVMDM_FIRMWARE_DIR (colon list),
 * /usr/share/seabios, /usr/share/qemu, /usr/lib/ipxe/qemu. */
char *dm_firmware_find(const char *name);

/* Load the system BIOS (FILE, or bios-256k.bin from the search path): mapped
 * at the top of 4 GiB, its last 128 KiB the ROM face of the legacy window's
 * 0xe0000-0xfffff shadow segments. */
bool dm_firmware_load_bios(struct dm_machine *m, const char *file,
                           GError **errp);

/* e820 table for SeaBIOS (etc/e820) from the RAM layout. */
void dm_firmware_add_e820(struct dm_machine *m);

#endif
