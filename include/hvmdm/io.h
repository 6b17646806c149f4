/*
 * io.h: port and memory-mapped I/O dispatch.
 *
 * A region is {name, base, size, ops, opaque}. Its ops say which access sizes
 * the guest may use (valid) and which the handlers implement (impl); dispatch
 * splits wider accesses and widens narrower ones. Two mapped regions may
 * overlap only when their valid access sizes are disjoint (the i440FX 0xcf8
 * dword register and PIIX3's 0xcf9 byte register); anything else is refused.
 * Unclaimed reads return all ones, unclaimed writes are dropped; both are
 * counted and traced (io_unclaimed).
 */
#ifndef HVMDM_IO_H
#define HVMDM_IO_H

#include "hvmdm/common.h"

struct dm_io_ops {
    uint64_t (*read)(void *opaque, uint64_t off, unsigned size);
    void (*write)(void *opaque, uint64_t off, uint64_t val, unsigned size);
    struct {
        unsigned min, max;  /* bytes, powers of two; 0 means 1 and 4 */
    } valid, impl;
};

struct dm_io_space;

struct dm_io_region {
    const char *name;
    const struct dm_io_ops *ops;
    void *opaque;
    uint64_t base;
    uint64_t size;
    struct dm_io_space *space;  /* where it is mapped, NULL when unmapped */
};

void dm_io_region_init(struct dm_io_region *r, const char *name,
                       const struct dm_io_ops *ops, void *opaque,
                       uint64_t size);
/* Map R at BASE in SPACE (remapping if already mapped elsewhere). */
bool dm_io_map(struct dm_io_space *space, struct dm_io_region *r,
               uint64_t base, GError **errp);
void dm_io_unmap(struct dm_io_region *r);
static inline bool dm_io_mapped(const struct dm_io_region *r)
{
    return r->space != NULL;
}

struct dm_io_space *dm_io_space_new(const char *name, uint64_t limit);
void dm_io_space_free(struct dm_io_space *s);
/* Find the region serving an access of SIZE at ADDR, or NULL. */
struct dm_io_region *dm_io_find(struct dm_io_space *s, uint64_t addr,
                                unsigned size);
uint64_t dm_io_unclaimed_count(struct dm_io_space *s);

/* One access (SIZE 1, 2, 4 or 8) in a space; returns false if unclaimed. */
bool dm_io_access(struct dm_io_space *s, uint64_t addr, unsigned size,
                  bool is_write, uint64_t *val);

/* The accelerators' entry points. */
void dm_io_pio(struct dm_machine *m, uint16_t port, unsigned size,
               bool is_write, uint32_t *val);
void dm_io_mmio(struct dm_machine *m, uint64_t gpa, unsigned size,
                bool is_write, uint64_t *val);
/* rep ins/outs with the data in a host buffer (KVM's kvm_run page):
 * COUNT elements of SIZE bytes, in order. */
void dm_io_pio_string(struct dm_machine *m, uint16_t port, unsigned size,
                      bool is_write, void *data, uint32_t count);
/* rep ins/outs with the data in guest memory at GPA (Xen's data_is_ptr),
 * stepping backwards when DF is set. */
void dm_io_pio_string_guest(struct dm_machine *m, uint16_t port, unsigned size,
                            bool is_write, uint64_t gpa, uint32_t count,
                            bool df);
/* A decoded PCI configuration access (Xen delivers these; under KVM the
 * i440FX's 0xcf8/0xcfc registers call it). SBDF = segment<<16|bus<<8|devfn. */
void dm_io_pci_config(struct dm_machine *m, uint32_t sbdf, unsigned reg,
                      unsigned size, bool is_write, uint32_t *val);

#endif
