/*
 * memory.h: guest physical memory and DMA.
 *
 * RAM is one host allocation: the part below the PCI hole is mapped at 0, the
 * rest at 4 GiB. ROMs (the BIOS at the top of 4 GiB) are host copies mapped
 * read-only. The legacy window 0xc0000-0xfffff is made of shadow segments whose
 * mode the chipset (PAM) switches between ROM and RAM.
 *
 * The accelerator learns the flat list of slots through a listener and maps
 * them (KVM memory slots). Devices never see slots: they use dm_dma_*.
 */
#ifndef HVMDM_MEMORY_H
#define HVMDM_MEMORY_H

#include <sys/uio.h>

#include "hvmdm/common.h"

#define DM_PCI_HOLE_START_DEFAULT 0xe0000000ull /* RAM below 4 GiB ends here */
#define DM_LEGACY_WINDOW_START 0xc0000ull
#define DM_LEGACY_WINDOW_END   0x100000ull

enum dm_slot_flags {
    DM_SLOT_READONLY = 1u << 0,  /* writes exit as MMIO */
    DM_SLOT_DIRTY_LOG = 1u << 1,
};

struct dm_mem_slot {
    uint64_t gpa;
    uint64_t size;
    void *host;
    unsigned flags;
    int id;  /* stable while the slot exists; the accelerator's slot number */
};

struct dm_mem_listener {
    /* Called with dm_lock held; ADD false removes the slot with SLOT->id. */
    bool (*slot_update)(void *opaque, const struct dm_mem_slot *slot, bool add,
                        GError **errp);
    /* Optional: OR into BITMAP (bit N = page N of SLOT) the pages the guest
     * wrote since the last call, and clear the accelerator's log. Only for
     * slots with DM_SLOT_DIRTY_LOG. */
    void (*sync_dirty)(void *opaque, const struct dm_mem_slot *slot,
                       unsigned long *bitmap);
    void *opaque;
};

/* How a shadow segment of the legacy window behaves (i440FX PAM encoding). */
enum dm_shadow_mode {
    DM_SHADOW_ROM = 0,      /* reads from ROM, writes dropped (PAM 00) */
    DM_SHADOW_RAM_RO = 1,   /* reads from RAM, writes dropped (PAM 01) */
    DM_SHADOW_RAM_WO = 2,   /* reads from ROM, writes to RAM (PAM 10) */
    DM_SHADOW_RAM_RW = 3,   /* RAM (PAM 11) */
};

struct dm_memory;

struct dm_memory *dm_memory_new(uint64_t ram_size, uint64_t below_4g,
                                GError **errp);
void dm_memory_free(struct dm_memory *mem);
void dm_memory_set_listener(struct dm_memory *mem,
                            const struct dm_mem_listener *l, GError **errp);
uint64_t dm_memory_ram_size(struct dm_memory *mem);
uint64_t dm_memory_below_4g(struct dm_memory *mem);
uint64_t dm_memory_above_4g(struct dm_memory *mem);
/* Map a read-only copy of DATA at GPA; ROM contents may be changed later
 * through the returned host pointer (before the guest runs). */
void *dm_memory_add_rom(struct dm_memory *mem, const char *name, uint64_t gpa,
                        const void *data, uint64_t size, GError **errp);
/* Declare a legacy shadow segment [gpa, gpa+size) whose ROM face is ROM_HOST
 * (size bytes); initial mode DM_SHADOW_ROM. */
bool dm_memory_add_shadow(struct dm_memory *mem, uint64_t gpa, uint64_t size,
                          void *rom_host, GError **errp);
bool dm_memory_set_shadow_mode(struct dm_memory *mem, uint64_t gpa,
                               enum dm_shadow_mode mode);
/*
 * Device memory (a VGA framebuffer behind a PCI BAR): HOST, page aligned and
 * SIZE bytes (a page multiple), is RAM at GPA for the CPU until unmapped; to
 * move it, unmap and map again. FLAGS may hold DM_SLOT_DIRTY_LOG to track
 * writes for dm_memory_get_dirty. Not a DMA target. Fails on overlap.
 */
bool dm_memory_map_ram(struct dm_memory *mem, const char *name, uint64_t gpa,
                       uint64_t size, void *host, unsigned flags,
                       GError **errp);
void dm_memory_unmap_ram(struct dm_memory *mem, void *host);
/* Pages of the device memory at HOST (SIZE bytes, mapped or not) written
 * since the last call, by the guest or through dm_memory_rw: sets bit N of
 * BITMAP (which must hold SIZE / 4096 bits) for page N, then clears the log.
 * Without DM_SLOT_DIRTY_LOG every page reads as dirty. */
void dm_memory_get_dirty(struct dm_memory *mem, void *host, uint64_t size,
                         unsigned long *bitmap);

/* The slots as the accelerator sees them (for tests and dumps). */
unsigned dm_memory_slots(struct dm_memory *mem, struct dm_mem_slot *out,
                         unsigned max);

/* CPU-view access: RAM and ROM directly, everything else through MMIO
 * dispatch (qtest readb/writeb, string I/O to guest memory). */
void dm_memory_rw(struct dm_machine *m, uint64_t gpa, void *buf, uint64_t len,
                  bool is_write);
/* A write the accelerator reports as MMIO at GPA: lands in RAM when GPA is in a
 * write-only shadow segment; returns false if memory does not take it. */
bool dm_memory_mmio_write(struct dm_memory *mem, uint64_t gpa,
                          const void *buf, unsigned size);
/* Host pointer for [gpa, gpa+len) when it is all RAM (or ROM for reads). */
void *dm_memory_host_ptr(struct dm_memory *mem, uint64_t gpa, uint64_t len,
                         bool is_write);

/* DMA by devices: RAM only; an address outside RAM fails with -EFAULT and
 * nothing is written. Bus mastering is checked by dm_pci_dma_* (pci.h). */
int dm_dma_read(struct dm_machine *m, uint64_t gpa, void *buf, uint64_t len);
int dm_dma_write(struct dm_machine *m, uint64_t gpa, const void *buf,
                 uint64_t len);
/* Map [gpa, gpa+len) into at most MAX iovecs; returns how many, or -EFAULT
 * when some of it is not RAM. Unmap tells dirty tracking what was written. */
int dm_dma_map(struct dm_machine *m, uint64_t gpa, uint64_t len, bool is_write,
               struct iovec *iov, int max);
void dm_dma_unmap(struct dm_machine *m, struct iovec *iov, int n,
                  bool is_write);

#endif
