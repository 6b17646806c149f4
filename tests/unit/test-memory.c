/*
 * test-memory.c: guest memory (core/memory.c): the RAM layout around the PCI
 * hole and 4 GiB, the slot list the accelerator sees, legacy shadow segments
 * switching between ROM and RAM faces, CPU-view access, DMA limits.
 */
#include "hvmdm/io.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"

#define BIOS_SIZE (128 * DM_KiB)
#define BIOS_GPA (4 * DM_GiB - BIOS_SIZE)
#define SEG_F0000 0xf0000ull
#define SEG_SIZE 0x10000ull

struct mem_fixture {
    struct dm_machine m;
    uint8_t *bios;
};

static void fixture_init(struct mem_fixture *f, uint64_t ram, uint64_t below)
{
    GError *err = NULL;

    memset(f, 0, sizeof(*f));
    f->m.mmio = dm_io_space_new("mmio", UINT64_MAX);
    f->m.mem = dm_memory_new(ram, below, &err);
    g_assert_no_error(err);
}

/* A PC-like setup: BIOS at the top of 4 GiB, its last 64 KiB as the ROM face
 * of the 0xf0000 shadow segment. */
static void fixture_init_pc(struct mem_fixture *f)
{
    uint8_t *image = g_malloc(BIOS_SIZE);
    GError *err = NULL;

    fixture_init(f, 64 * DM_MiB, 64 * DM_MiB);
    memset(image, 0xb1, BIOS_SIZE);
    f->bios = dm_memory_add_rom(f->m.mem, "bios", BIOS_GPA, image, BIOS_SIZE,
                                &err);
    g_assert_no_error(err);
    g_free(image);
    g_assert_true(dm_memory_add_shadow(f->m.mem, SEG_F0000, SEG_SIZE,
                                       f->bios + BIOS_SIZE - SEG_SIZE, &err));
    g_assert_no_error(err);
}

static void fixture_fini(struct mem_fixture *f)
{
    dm_memory_free(f->m.mem);
    dm_io_space_free(f->m.mmio);
}

static const struct dm_mem_slot *slot_at(struct dm_mem_slot *slots,
                                         unsigned n, uint64_t gpa)
{
    for (unsigned i = 0; i < n; i++) {
        if (slots[i].gpa == gpa) {
            return &slots[i];
        }
    }
    return NULL;
}

static uint8_t read_byte(struct mem_fixture *f, uint64_t gpa)
{
    uint8_t b;

    dm_memory_rw(&f->m, gpa, &b, 1, false);
    return b;
}

static void write_byte(struct mem_fixture *f, uint64_t gpa, uint8_t b)
{
    dm_memory_rw(&f->m, gpa, &b, 1, true);
}

static void test_memory_layout_above_4g(void)
{
    struct mem_fixture f;
    struct dm_mem_slot slots[16];
    const struct dm_mem_slot *hi, *lo;
    unsigned n;
    uint32_t v = 0xcafef00d, got = 0;

    /* 4.5 GiB of RAM, 3.5 GiB of it below the PCI hole. */
    fixture_init(&f, 4 * DM_GiB + 512 * DM_MiB, DM_PCI_HOLE_START_DEFAULT);

    n = dm_memory_slots(f.m.mem, slots, DM_ARRAY_SIZE(slots));

    g_assert_cmphex(dm_memory_below_4g(f.m.mem), ==, DM_PCI_HOLE_START_DEFAULT);
    g_assert_cmphex(dm_memory_above_4g(f.m.mem), ==, DM_GiB);
    g_assert_cmpuint(n, ==, 3);   /* 0-0xa0000, 0xc0000-hole, above 4G */
    lo = slot_at(slots, n, 0xc0000);
    g_assert_nonnull(lo);
    g_assert_cmphex(lo->size, ==, DM_PCI_HOLE_START_DEFAULT - 0xc0000);
    hi = slot_at(slots, n, 4 * DM_GiB);
    g_assert_nonnull(hi);
    g_assert_cmphex(hi->size, ==, DM_GiB);
    g_assert_cmpuint(hi->flags, ==, 0);
    dm_memory_rw(&f.m, 4 * DM_GiB + 0x1000, &v, 4, true);
    g_assert_cmpint(dm_dma_read(&f.m, 4 * DM_GiB + 0x1000, &got, 4), ==, 0);
    g_assert_cmphex(got, ==, 0xcafef00d);
    fixture_fini(&f);
}

static void test_memory_pci_hole_and_vga_window_are_mmio(void)
{
    struct mem_fixture f;

    fixture_init(&f, 4 * DM_GiB, 3 * DM_GiB);

    g_assert_cmphex(read_byte(&f, 3 * DM_GiB + 0x10), ==, 0xff);
    g_assert_cmphex(read_byte(&f, 0xa0000), ==, 0xff);
    g_assert_cmpuint(dm_io_unclaimed_count(f.m.mmio), ==, 2);
    fixture_fini(&f);
}

static void test_memory_rom_reads_image_and_drops_writes(void)
{
    struct mem_fixture f;

    fixture_init_pc(&f);

    write_byte(&f, BIOS_GPA + 5, 0x00);

    g_assert_cmphex(read_byte(&f, BIOS_GPA + 5), ==, 0xb1);
    g_assert_cmphex(read_byte(&f, 0xfffffff0), ==, 0xb1);
    fixture_fini(&f);
}

static void test_memory_rom_overlapping_ram_refused(void)
{
    struct mem_fixture f;
    uint8_t data[16] = { 0 };
    GError *err = NULL;

    fixture_init(&f, 64 * DM_MiB, 64 * DM_MiB);

    g_assert_null(dm_memory_add_rom(f.m.mem, "bad", 32 * DM_MiB, data,
                                    sizeof(data), &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_error_free(err);
    fixture_fini(&f);
}

static void test_memory_shadow_starts_as_rom(void)
{
    struct mem_fixture f;
    struct dm_mem_slot slots[16];
    const struct dm_mem_slot *s;
    unsigned n;

    fixture_init_pc(&f);

    n = dm_memory_slots(f.m.mem, slots, DM_ARRAY_SIZE(slots));
    s = slot_at(slots, n, SEG_F0000);

    g_assert_nonnull(s);
    g_assert_true(s->host == f.bios + BIOS_SIZE - SEG_SIZE);
    g_assert_cmpuint(s->flags, ==, DM_SLOT_READONLY);
    write_byte(&f, SEG_F0000, 0x42);
    g_assert_cmphex(read_byte(&f, SEG_F0000), ==, 0xb1);
    fixture_fini(&f);
}

static void test_memory_shadow_write_only_then_read_write(void)
{
    struct mem_fixture f;
    struct dm_mem_slot slots[16];
    const struct dm_mem_slot *s;
    unsigned n;

    fixture_init_pc(&f);

    /* The BIOS copies itself to shadow RAM: writes land, reads stay ROM. */
    g_assert_true(dm_memory_set_shadow_mode(f.m.mem, SEG_F0000,
                                            DM_SHADOW_RAM_WO));
    write_byte(&f, SEG_F0000 + 1, 0x42);
    g_assert_cmphex(read_byte(&f, SEG_F0000 + 1), ==, 0xb1);
    n = dm_memory_slots(f.m.mem, slots, DM_ARRAY_SIZE(slots));
    s = slot_at(slots, n, SEG_F0000);
    g_assert_cmpuint(s->flags, ==, DM_SLOT_READONLY);

    g_assert_true(dm_memory_set_shadow_mode(f.m.mem, SEG_F0000,
                                            DM_SHADOW_RAM_RW));

    g_assert_cmphex(read_byte(&f, SEG_F0000 + 1), ==, 0x42);
    n = dm_memory_slots(f.m.mem, slots, DM_ARRAY_SIZE(slots));
    s = slot_at(slots, n, SEG_F0000);
    g_assert_cmpuint(s->flags, ==, 0);
    g_assert_true(s->host != f.bios + BIOS_SIZE - SEG_SIZE);
    fixture_fini(&f);
}

static void test_memory_shadow_read_only_drops_writes(void)
{
    struct mem_fixture f;

    fixture_init_pc(&f);
    dm_memory_set_shadow_mode(f.m.mem, SEG_F0000, DM_SHADOW_RAM_RW);
    write_byte(&f, SEG_F0000, 0x11);

    dm_memory_set_shadow_mode(f.m.mem, SEG_F0000, DM_SHADOW_RAM_RO);
    write_byte(&f, SEG_F0000, 0x22);

    g_assert_cmphex(read_byte(&f, SEG_F0000), ==, 0x11);
    fixture_fini(&f);
}

static void test_memory_mmio_write_lands_in_write_only_shadow(void)
{
    struct mem_fixture f;
    uint64_t v = 0x5a;

    fixture_init_pc(&f);
    dm_memory_set_shadow_mode(f.m.mem, SEG_F0000, DM_SHADOW_RAM_WO);

    /* What KVM reports for a write to the read-only slot. */
    dm_io_mmio(&f.m, SEG_F0000 + 0x10, 1, true, &v);

    dm_memory_set_shadow_mode(f.m.mem, SEG_F0000, DM_SHADOW_RAM_RW);
    g_assert_cmphex(read_byte(&f, SEG_F0000 + 0x10), ==, 0x5a);
    g_assert_cmpuint(dm_io_unclaimed_count(f.m.mmio), ==, 0);
    fixture_fini(&f);
}

/* A listener that mirrors the slots it is told about. */
struct slot_mirror {
    GHashTable *slots;   /* id -> struct dm_mem_slot * */
    unsigned adds, removes;
};

static bool mirror_update(void *opaque, const struct dm_mem_slot *slot,
                          bool add, GError **errp)
{
    struct slot_mirror *mi = opaque;

    if (add) {
        g_assert_false(g_hash_table_contains(mi->slots,
                                             GINT_TO_POINTER(slot->id)));
        g_hash_table_insert(mi->slots, GINT_TO_POINTER(slot->id),
                            g_memdup2(slot, sizeof(*slot)));
        mi->adds++;
    } else {
        g_assert_true(g_hash_table_remove(mi->slots,
                                          GINT_TO_POINTER(slot->id)));
        mi->removes++;
    }
    return true;
}

static void test_memory_listener_gets_current_slots_and_changes(void)
{
    struct mem_fixture f;
    struct slot_mirror mi = {
        .slots = g_hash_table_new_full(NULL, NULL, NULL, g_free),
    };
    const struct dm_mem_listener l = { .slot_update = mirror_update,
                                       .opaque = &mi };
    struct dm_mem_slot slots[16];
    GError *err = NULL;
    unsigned n;

    fixture_init_pc(&f);

    dm_memory_set_listener(f.m.mem, &l, &err);
    g_assert_no_error(err);
    n = dm_memory_slots(f.m.mem, slots, DM_ARRAY_SIZE(slots));
    g_assert_cmpuint(mi.adds, ==, n);

    dm_memory_set_shadow_mode(f.m.mem, SEG_F0000, DM_SHADOW_RAM_RW);

    /* Only the segment changed: one slot out, one in. */
    g_assert_cmpuint(mi.removes, ==, 1);
    g_assert_cmpuint(mi.adds, ==, n + 1);
    n = dm_memory_slots(f.m.mem, slots, DM_ARRAY_SIZE(slots));
    g_assert_cmpuint(g_hash_table_size(mi.slots), ==, n);
    for (unsigned i = 0; i < n; i++) {
        struct dm_mem_slot *s =
            g_hash_table_lookup(mi.slots, GINT_TO_POINTER(slots[i].id));
        g_assert_nonnull(s);
        g_assert_cmphex(s->gpa, ==, slots[i].gpa);
        g_assert_true(s->host == slots[i].host);
        g_assert_cmpuint(s->flags, ==, slots[i].flags);
    }
    g_hash_table_destroy(mi.slots);
    fixture_fini(&f);
}

static void test_memory_slots_never_overlap(void)
{
    struct mem_fixture f;
    struct dm_mem_slot slots[32];
    unsigned n;

    fixture_init_pc(&f);
    dm_memory_add_shadow(f.m.mem, 0xc0000, 0x4000, f.bios, NULL);
    dm_memory_set_shadow_mode(f.m.mem, 0xc0000, DM_SHADOW_RAM_RW);

    n = dm_memory_slots(f.m.mem, slots, DM_ARRAY_SIZE(slots));

    for (unsigned i = 1; i < n; i++) {
        g_assert_cmphex(slots[i - 1].gpa + slots[i - 1].size, <=,
                        slots[i].gpa);
    }
    fixture_fini(&f);
}

static void test_memory_dma_outside_ram_faults(void)
{
    struct mem_fixture f;
    uint8_t buf[4] = { 1, 2, 3, 4 };

    fixture_init_pc(&f);

    g_assert_cmpint(dm_dma_write(&f.m, 128 * DM_MiB, buf, 4), ==, -EFAULT);
    g_assert_cmpint(dm_dma_read(&f.m, BIOS_GPA, buf, 4), ==, -EFAULT);
    g_assert_cmpint(dm_dma_read(&f.m, 0xa0000, buf, 4), ==, -EFAULT);
    g_assert_cmpint(dm_dma_write(&f.m, UINT64_MAX - 1, buf, 4), ==, -EFAULT);
    fixture_fini(&f);
}

static void test_memory_dma_across_ram_end_faults_writing_nothing(void)
{
    struct mem_fixture f;
    const uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    uint8_t got[4];
    uint64_t end = 64 * DM_MiB;

    fixture_init_pc(&f);

    g_assert_cmpint(dm_dma_write(&f.m, end - 4, buf, 8), ==, -EFAULT);

    g_assert_cmpint(dm_dma_read(&f.m, end - 4, got, 4), ==, 0);
    g_assert_cmphex(got[0] | got[1] | got[2] | got[3], ==, 0);
    fixture_fini(&f);
}

static void test_memory_dma_to_shadow_only_in_ram_mode(void)
{
    struct mem_fixture f;
    uint8_t b = 0x33;

    fixture_init_pc(&f);

    g_assert_cmpint(dm_dma_write(&f.m, SEG_F0000, &b, 1), ==, -EFAULT);
    dm_memory_set_shadow_mode(f.m.mem, SEG_F0000, DM_SHADOW_RAM_RW);
    g_assert_cmpint(dm_dma_write(&f.m, SEG_F0000, &b, 1), ==, 0);
    g_assert_cmphex(read_byte(&f, SEG_F0000), ==, 0x33);
    fixture_fini(&f);
}

static void test_memory_dma_map_within_ram_is_one_iovec(void)
{
    struct mem_fixture f;
    struct iovec iov[4];

    fixture_init_pc(&f);
    write_byte(&f, 0x200000, 0x77);

    g_assert_cmpint(dm_dma_map(&f.m, 0x200000, 0x10000, false, iov, 4), ==, 1);

    g_assert_cmpuint(iov[0].iov_len, ==, 0x10000);
    g_assert_cmphex(((uint8_t *)iov[0].iov_base)[0], ==, 0x77);
    dm_dma_unmap(&f.m, iov, 1, false);
    fixture_fini(&f);
}

static void test_memory_dma_map_across_4g_gives_two_iovecs(void)
{
    struct mem_fixture f;
    struct iovec iov[4];

    /* All of the first 4 GiB is RAM here, so a run can cross 4 GiB. */
    fixture_init(&f, 4 * DM_GiB + 64 * DM_MiB, 4 * DM_GiB);
    write_byte(&f, 4 * DM_GiB, 0x44);

    g_assert_cmpint(dm_dma_map(&f.m, 4 * DM_GiB - 0x1000, 0x2000, true, iov,
                               4), ==, 2);

    g_assert_cmpuint(iov[0].iov_len, ==, 0x1000);
    g_assert_cmpuint(iov[1].iov_len, ==, 0x1000);
    g_assert_cmphex(((uint8_t *)iov[1].iov_base)[0], ==, 0x44);
    g_assert_cmpint(dm_dma_map(&f.m, 4 * DM_GiB - 0x1000, 0x2000, true, iov,
                               1), ==, -E2BIG);
    fixture_fini(&f);
}

static void test_memory_dma_map_outside_ram_faults(void)
{
    struct mem_fixture f;
    struct iovec iov[4];

    fixture_init_pc(&f);

    g_assert_cmpint(dm_dma_map(&f.m, 64 * DM_MiB - 0x1000, 0x2000, false, iov,
                               4), ==, -EFAULT);
    fixture_fini(&f);
}

#define VRAM_GPA 0xfd000000ull
#define VRAM_SIZE (64 * DM_KiB)

static uint8_t *vram_new(void)
{
    return g_aligned_alloc0(VRAM_SIZE, 1, 4096);
}

static void test_memory_device_ram_mapped_with_dirty_log(void)
{
    struct mem_fixture f;
    struct dm_mem_slot slots[16];
    const struct dm_mem_slot *s;
    uint8_t *vram = vram_new();
    unsigned long dirty[1] = { 0 };
    GError *err = NULL;
    unsigned n;

    fixture_init(&f, 64 * DM_MiB, 64 * DM_MiB);
    g_assert_true(dm_memory_map_ram(f.m.mem, "vram", VRAM_GPA, VRAM_SIZE, vram,
                                    DM_SLOT_DIRTY_LOG, &err));
    g_assert_no_error(err);

    write_byte(&f, VRAM_GPA + 0x2010, 0x99);

    g_assert_cmphex(vram[0x2010], ==, 0x99);
    n = dm_memory_slots(f.m.mem, slots, DM_ARRAY_SIZE(slots));
    s = slot_at(slots, n, VRAM_GPA);
    g_assert_nonnull(s);
    g_assert_true(s->host == vram);
    g_assert_cmpuint(s->flags, ==, DM_SLOT_DIRTY_LOG);
    dm_memory_get_dirty(f.m.mem, vram, VRAM_SIZE, dirty);
    g_assert_cmphex(dirty[0], ==, 1ul << 2);   /* page 2 only */
    dirty[0] = 0;
    dm_memory_get_dirty(f.m.mem, vram, VRAM_SIZE, dirty);
    g_assert_cmphex(dirty[0], ==, 0);
    fixture_fini(&f);
    g_aligned_free(vram);
}

static void test_memory_device_ram_unmapped_becomes_mmio(void)
{
    struct mem_fixture f;
    uint8_t *vram = vram_new();
    uint8_t b = 1;

    fixture_init(&f, 64 * DM_MiB, 64 * DM_MiB);
    dm_memory_map_ram(f.m.mem, "vram", VRAM_GPA, VRAM_SIZE, vram, 0, NULL);
    g_assert_cmpint(dm_dma_write(&f.m, VRAM_GPA, &b, 1), ==, -EFAULT);

    dm_memory_unmap_ram(f.m.mem, vram);

    g_assert_cmphex(read_byte(&f, VRAM_GPA), ==, 0xff);
    g_assert_cmpuint(dm_io_unclaimed_count(f.m.mmio), ==, 1);
    fixture_fini(&f);
    g_aligned_free(vram);
}

static void test_memory_device_ram_overlapping_ram_refused(void)
{
    struct mem_fixture f;
    uint8_t *vram = vram_new();
    GError *err = NULL;

    fixture_init(&f, 64 * DM_MiB, 64 * DM_MiB);

    g_assert_false(dm_memory_map_ram(f.m.mem, "vram", 63 * DM_MiB, VRAM_SIZE,
                                     vram, 0, &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_error_free(err);
    fixture_fini(&f);
    g_aligned_free(vram);
}

static void accel_dirty(void *opaque, const struct dm_mem_slot *slot,
                        unsigned long *bitmap)
{
    bitmap[0] |= 1ul << 5;   /* the "guest" wrote page 5 */
}

static void test_memory_device_ram_dirty_merges_accelerator_log(void)
{
    struct mem_fixture f;
    struct slot_mirror mi = {
        .slots = g_hash_table_new_full(NULL, NULL, NULL, g_free),
    };
    const struct dm_mem_listener l = { .slot_update = mirror_update,
                                       .sync_dirty = accel_dirty,
                                       .opaque = &mi };
    uint8_t *vram = vram_new();
    unsigned long dirty[1] = { 0 };

    fixture_init(&f, 64 * DM_MiB, 64 * DM_MiB);
    dm_memory_set_listener(f.m.mem, &l, NULL);
    dm_memory_map_ram(f.m.mem, "vram", VRAM_GPA, VRAM_SIZE, vram,
                      DM_SLOT_DIRTY_LOG, NULL);
    write_byte(&f, VRAM_GPA, 0x01);

    dm_memory_get_dirty(f.m.mem, vram, VRAM_SIZE, dirty);

    g_assert_cmphex(dirty[0], ==, (1ul << 5) | 1ul);
    fixture_fini(&f);
    g_hash_table_destroy(mi.slots);
    g_aligned_free(vram);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/layout-above-4g", test_memory_layout_above_4g);
    g_test_add_func("/memory/pci-hole-and-vga-window-are-mmio",
                    test_memory_pci_hole_and_vga_window_are_mmio);
    g_test_add_func("/memory/rom-reads-image-and-drops-writes",
                    test_memory_rom_reads_image_and_drops_writes);
    g_test_add_func("/memory/rom-overlapping-ram-refused",
                    test_memory_rom_overlapping_ram_refused);
    g_test_add_func("/memory/shadow-starts-as-rom",
                    test_memory_shadow_starts_as_rom);
    g_test_add_func("/memory/shadow-write-only-then-read-write",
                    test_memory_shadow_write_only_then_read_write);
    g_test_add_func("/memory/shadow-read-only-drops-writes",
                    test_memory_shadow_read_only_drops_writes);
    g_test_add_func("/memory/mmio-write-lands-in-write-only-shadow",
                    test_memory_mmio_write_lands_in_write_only_shadow);
    g_test_add_func("/memory/listener-gets-current-slots-and-changes",
                    test_memory_listener_gets_current_slots_and_changes);
    g_test_add_func("/memory/slots-never-overlap",
                    test_memory_slots_never_overlap);
    g_test_add_func("/memory/dma-outside-ram-faults",
                    test_memory_dma_outside_ram_faults);
    g_test_add_func("/memory/dma-across-ram-end-faults-writing-nothing",
                    test_memory_dma_across_ram_end_faults_writing_nothing);
    g_test_add_func("/memory/dma-to-shadow-only-in-ram-mode",
                    test_memory_dma_to_shadow_only_in_ram_mode);
    g_test_add_func("/memory/dma-map-within-ram-is-one-iovec",
                    test_memory_dma_map_within_ram_is_one_iovec);
    g_test_add_func("/memory/dma-map-across-4g-gives-two-iovecs",
                    test_memory_dma_map_across_4g_gives_two_iovecs);
    g_test_add_func("/memory/dma-map-outside-ram-faults",
                    test_memory_dma_map_outside_ram_faults);
    g_test_add_func("/memory/device-ram-mapped-with-dirty-log",
                    test_memory_device_ram_mapped_with_dirty_log);
    g_test_add_func("/memory/device-ram-unmapped-becomes-mmio",
                    test_memory_device_ram_unmapped_becomes_mmio);
    g_test_add_func("/memory/device-ram-overlapping-ram-refused",
                    test_memory_device_ram_overlapping_ram_refused);
    g_test_add_func("/memory/device-ram-dirty-merges-accelerator-log",
                    test_memory_device_ram_dirty_merges_accelerator_log);
    return g_test_run();
}
