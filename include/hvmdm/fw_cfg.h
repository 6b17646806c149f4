/*
 * fw_cfg.h: QEMU's firmware configuration device, through which SeaBIOS
 * learns the machine (docs/specs/fw_cfg.rst in QEMU): selector 0x510 (16 bit),
 * data 0x511 (8 bit), DMA address 0x514 (big-endian 64 bit).
 */
#ifndef HVMDM_FW_CFG_H
#define HVMDM_FW_CFG_H

#include "hvmdm/common.h"

/* Selector keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h). */
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_UUID 0x02
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NOGRAPHIC 0x04
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MACHINE_ID 0x06
#define FW_CFG_NUMA 0x0d
#define FW_CFG_BOOT_MENU 0x0e
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_FILE_DIR 0x19
#define FW_CFG_FILE_FIRST 0x20
#define FW_CFG_IRQ0_OVERRIDE 0x8002
#define FW_CFG_E820_TABLE 0x8003

struct dm_fw_cfg;

/* Add a blob under KEY; DATA is copied. */
void dm_fw_cfg_add_bytes(struct dm_fw_cfg *fw, uint16_t key, const void *data,
                         size_t len);
void dm_fw_cfg_add_i16(struct dm_fw_cfg *fw, uint16_t key, uint16_t v);
void dm_fw_cfg_add_i32(struct dm_fw_cfg *fw, uint16_t key, uint32_t v);
void dm_fw_cfg_add_i64(struct dm_fw_cfg *fw, uint16_t key, uint64_t v);
/* Add or replace a named file; DATA is copied; false if the directory is
 * full or NAME is too long. */
bool dm_fw_cfg_add_file(struct dm_fw_cfg *fw, const char *name,
                        const void *data, size_t len, GError **errp);
/* The contents of a file (tests, later writers), or NULL. */
const void *dm_fw_cfg_file(struct dm_fw_cfg *fw, const char *name,
                           size_t *len);

/* The device (hw/isa/fw_cfg.c) is created by the board; m->fw_cfg points to
 * its state. */

#endif
