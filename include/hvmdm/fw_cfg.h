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
#define FW_CFG_ARCH_LOCAL 0x8000   /* key bit: x86-specific entries */
#define FW_CFG_WRITE_CHANNEL 0x4000 /* key bit: ignored by lookups */

/* FW_CFG_ID feature bits. */
#define FW_CFG_VERSION 0x01        /* the traditional port interface */
#define FW_CFG_VERSION_DMA 0x02    /* the DMA interface */

/* I/O ports of the "fw_cfg_io" device (its iobase/dma_iobase defaults). */
#define FW_CFG_IO_BASE 0x510       /* selector (16 bit write), data at +1 */
#define FW_CFG_DMA_IO_BASE 0x514   /* DMA address, big-endian, high dword */

/* FWCfgDmaAccess (big-endian in guest memory): u32 control, u32 length,
 * u64 address. Control bits; the selector goes in bits 31:16. */
#define FW_CFG_DMA_CTL_ERROR 0x01
#define FW_CFG_DMA_CTL_READ 0x02
#define FW_CFG_DMA_CTL_SKIP 0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE 0x10
#define FW_CFG_DMA_SIGNATURE "QEMU CFG" /* read back from the DMA port */

/* FW_CFG_FILE_DIR: u32 count (BE), then per file u32 size (BE), u16 select
 * (BE), u16 reserved, char name[FW_CFG_MAX_FILE_PATH], sorted by name. */
#define FW_CFG_MAX_FILE_PATH 56
#define FW_CFG_MAX_FILES 0x1000

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
