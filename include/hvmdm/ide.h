/*
 * ide.h: IDE as the board and the control interface see it: the PIIX3 IDE
 * function with the if=ide drives, and the media of CD-ROM drives.
 *
 * Device types: "piix3-ide" (the PCI function), "ide-hd" and "ide-cd"
 * (-device ide-hd,drive=ID[,bus=ide.N][,unit=U][,bootindex=N]).
 */
#ifndef HVMDM_IDE_H
#define HVMDM_IDE_H

#include "hvmdm/common.h"

/* Create the PIIX3 IDE function at DEVFN with a device for every if=ide
 * drive of the command line, and write the "bootorder" fw_cfg file from
 * -boot and the drives (when the machine has fw_cfg). */
bool ide_pc_init(struct dm_machine *m, int devfn, GError **errp);

/* Put the image FILE (FORMAT may be NULL: probed) into the CD-ROM drive ID
 * (drive id or device id): the guest sees the tray close on a new medium
 * (NOT READY, then UNIT ATTENTION 28/00, and a GESN new-media event). A
 * tray the guest locked refuses unless FORCE. */
bool ide_cd_change(struct dm_machine *m, const char *id, const char *file,
                   const char *format, bool force, GError **errp);
/* Open the tray and remove the medium; a locked tray refuses (and the guest
 * gets a GESN eject request) unless FORCE. */
bool ide_cd_eject(struct dm_machine *m, const char *id, bool force,
                  GError **errp);

#endif
