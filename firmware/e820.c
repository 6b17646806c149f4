/*
 * e820.c: the memory map SeaBIOS reports to the guest (INT 15h E820), handed
 * over as the fw_cfg file "etc/e820".
 *
 * Entries are {u64 address, u64 length, u32 type} little-endian, packed (20
 * bytes), as QEMU lays them out and SeaBIOS's qemu_early_e820 reads them:
 * RAM from 0 to the PCI hole, RAM above 4 GiB, and the 16 KiB KVM needs for
 * its real-mode TSS and identity map at 0xfeffc000, reserved. SeaBIOS itself
 * carves out the EBDA, the BIOS area and its own tables from the RAM entries.
 */
#include "hvmdm/firmware.h"
#include "hvmdm/fw_cfg.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ENTRY_SIZE 20
/* Where the KVM accelerator puts the TSS (3 pages) and the identity-map
 * page table (1 page). */
#define DM_KVM_TSS_ADDR 0xfeffc000ull
#define DM_KVM_TSS_SIZE (16 * DM_KiB)

static void e820_add(GByteArray *t, uint64_t addr, uint64_t len, uint32_t type)
{
    uint64_t a = GUINT64_TO_LE(addr), l = GUINT64_TO_LE(len);
    uint32_t ty = GUINT32_TO_LE(type);

    g_byte_array_append(t, (const guint8 *)&a, 8);
    g_byte_array_append(t, (const guint8 *)&l, 8);
    g_byte_array_append(t, (const guint8 *)&ty, 4);
}

void dm_firmware_add_e820(struct dm_machine *m)
{
    g_autoptr(GByteArray) t = g_byte_array_new();
    uint64_t below = dm_memory_below_4g(m->mem);
    uint64_t above = dm_memory_above_4g(m->mem);
    GError *err = NULL;

    e820_add(t, 0, below, E820_RAM);
    if (above) {
        e820_add(t, 4 * DM_GiB, above, E820_RAM);
    }
    e820_add(t, DM_KVM_TSS_ADDR, DM_KVM_TSS_SIZE, E820_RESERVED);
    if (!dm_fw_cfg_add_file(m->fw_cfg, "etc/e820", t->data, t->len, &err)) {
        dm_warn("%s", err->message);
        g_error_free(err);
    }
}
