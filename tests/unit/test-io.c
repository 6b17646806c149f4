/*
 * test-io.c: port and MMIO dispatch (core/io.c): splitting and widening
 * between guest and handler access sizes, overlap rules, unclaimed accesses,
 * string I/O in both directions and with DF set.
 */
#include "hvmdm/io.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"

/* A register file that logs every handler call. */
struct fake_dev {
    uint8_t regs[64];
    unsigned nreads, nwrites;
    uint64_t last_off, last_val;
    unsigned last_size;
};

static uint64_t fake_read(void *opaque, uint64_t off, unsigned size)
{
    struct fake_dev *d = opaque;
    uint64_t v = 0;

    d->nreads++;
    d->last_off = off;
    d->last_size = size;
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)d->regs[off + i] << (i * 8);
    }
    return v;
}

static void fake_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct fake_dev *d = opaque;

    d->nwrites++;
    d->last_off = off;
    d->last_size = size;
    d->last_val = val;
    for (unsigned i = 0; i < size; i++) {
        d->regs[off + i] = (uint8_t)(val >> (i * 8));
    }
}

static const struct dm_io_ops ops_byte_impl = {
    .read = fake_read, .write = fake_write,
    .valid = { .min = 1, .max = 4 }, .impl = { .min = 1, .max = 1 },
};
static const struct dm_io_ops ops_dword_impl = {
    .read = fake_read, .write = fake_write,
    .valid = { .min = 1, .max = 4 }, .impl = { .min = 4, .max = 4 },
};
static const struct dm_io_ops ops_dword_only = {
    .read = fake_read, .write = fake_write,
    .valid = { .min = 4, .max = 4 }, .impl = { .min = 4, .max = 4 },
};
static const struct dm_io_ops ops_byte_only = {
    .read = fake_read, .write = fake_write,
    .valid = { .min = 1, .max = 1 }, .impl = { .min = 1, .max = 1 },
};
static const struct dm_io_ops ops_word_fifo = {
    .read = fake_read, .write = fake_write,
    .valid = { .min = 1, .max = 4 }, .impl = { .min = 1, .max = 4 },
};

static struct dm_io_space *space_new(void)
{
    return dm_io_space_new("pio", 0x10000);
}

static void map_ok(struct dm_io_space *s, struct dm_io_region *r,
                   uint64_t base)
{
    GError *err = NULL;

    g_assert_true(dm_io_map(s, r, base, &err));
    g_assert_no_error(err);
}

static void test_io_dword_read_split_into_bytes(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d = { .regs = { 0x11, 0x22, 0x33, 0x44 } };
    struct dm_io_region r;
    uint64_t v = 0;

    dm_io_region_init(&r, "bytes", &ops_byte_impl, &d, 8);
    map_ok(s, &r, 0x100);

    g_assert_true(dm_io_access(s, 0x100, 4, false, &v));

    g_assert_cmphex(v, ==, 0x44332211);
    g_assert_cmpuint(d.nreads, ==, 4);
    g_assert_cmpuint(d.last_size, ==, 1);
    dm_io_space_free(s);
}

static void test_io_word_write_split_little_endian(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d = { 0 };
    struct dm_io_region r;
    uint64_t v = 0xbeef;

    dm_io_region_init(&r, "bytes", &ops_byte_impl, &d, 8);
    map_ok(s, &r, 0x100);

    g_assert_true(dm_io_access(s, 0x102, 2, true, &v));

    g_assert_cmphex(d.regs[2], ==, 0xef);
    g_assert_cmphex(d.regs[3], ==, 0xbe);
    g_assert_cmpuint(d.nwrites, ==, 2);
    dm_io_space_free(s);
}

static void test_io_byte_read_widened_and_extracted(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d = { .regs = { 0x11, 0x22, 0x33, 0x44 } };
    struct dm_io_region r;
    uint64_t v = 0;

    dm_io_region_init(&r, "dwords", &ops_dword_impl, &d, 8);
    map_ok(s, &r, 0x100);

    g_assert_true(dm_io_access(s, 0x102, 1, false, &v));

    g_assert_cmphex(v, ==, 0x33);
    g_assert_cmpuint(d.nreads, ==, 1);
    g_assert_cmpuint(d.last_off, ==, 0);
    g_assert_cmpuint(d.last_size, ==, 4);
    dm_io_space_free(s);
}

static void test_io_byte_write_widened_without_read(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d = { 0 };
    struct dm_io_region r;
    uint64_t v = 0xab;

    dm_io_region_init(&r, "dwords", &ops_dword_impl, &d, 8);
    map_ok(s, &r, 0x100);

    g_assert_true(dm_io_access(s, 0x105, 1, true, &v));

    /* One dword write at the aligned offset, value shifted into byte 1. */
    g_assert_cmpuint(d.nreads, ==, 0);
    g_assert_cmpuint(d.nwrites, ==, 1);
    g_assert_cmpuint(d.last_off, ==, 4);
    g_assert_cmpuint(d.last_size, ==, 4);
    g_assert_cmphex(d.last_val, ==, 0xab00);
    dm_io_space_free(s);
}

static void test_io_overlap_refused_naming_both_regions(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d1 = { 0 }, d2 = { 0 };
    struct dm_io_region r1, r2;
    GError *err = NULL;

    dm_io_region_init(&r1, "uart0", &ops_byte_impl, &d1, 8);
    dm_io_region_init(&r2, "uart1", &ops_byte_impl, &d2, 8);
    map_ok(s, &r1, 0x3f8);

    g_assert_false(dm_io_map(s, &r2, 0x3fc, &err));

    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "uart0"));
    g_assert_nonnull(strstr(err->message, "uart1"));
    g_assert_false(dm_io_mapped(&r2));
    g_error_free(err);
    dm_io_space_free(s);
}

static void test_io_overlap_with_disjoint_sizes_dispatches_by_size(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev addr = { 0 }, rst = { 0 };
    struct dm_io_region cf8, cf9;
    uint64_t v = 0x80000000;
    uint64_t b = 0x06;

    /* i440FX CONFIG_ADDRESS (dword at 0xcf8) vs PIIX3 RCR (byte at 0xcf9). */
    dm_io_region_init(&cf8, "pci-conf-addr", &ops_dword_only, &addr, 4);
    dm_io_region_init(&cf9, "piix3-rcr", &ops_byte_only, &rst, 1);
    map_ok(s, &cf8, 0xcf8);
    map_ok(s, &cf9, 0xcf9);

    g_assert_true(dm_io_access(s, 0xcf8, 4, true, &v));
    g_assert_true(dm_io_access(s, 0xcf9, 1, true, &b));

    g_assert_cmpuint(addr.nwrites, ==, 1);
    g_assert_cmphex(addr.last_val, ==, 0x80000000);
    g_assert_cmpuint(rst.nwrites, ==, 1);
    g_assert_cmphex(rst.last_val, ==, 0x06);
    g_assert_true(dm_io_find(s, 0xcf9, 1) == &cf9);
    g_assert_true(dm_io_find(s, 0xcf8, 4) == &cf8);
    dm_io_space_free(s);
}

static void test_io_unclaimed_read_all_ones_and_counted(void)
{
    struct dm_io_space *s = space_new();
    uint64_t v = 0, w = 0x12;

    g_assert_false(dm_io_access(s, 0x80, 2, false, &v));
    g_assert_false(dm_io_access(s, 0x80, 1, true, &w));

    g_assert_cmphex(v, ==, 0xffff);
    g_assert_cmpuint(dm_io_unclaimed_count(s), ==, 2);
    dm_io_space_free(s);
}

static void test_io_invalid_size_treated_as_unclaimed(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d = { 0 };
    struct dm_io_region r;
    uint64_t v = 0;

    dm_io_region_init(&r, "dword-only", &ops_dword_only, &d, 4);
    map_ok(s, &r, 0x200);

    g_assert_false(dm_io_access(s, 0x200, 1, false, &v));

    g_assert_cmphex(v, ==, 0xff);
    g_assert_cmpuint(d.nreads, ==, 0);
    g_assert_cmpuint(dm_io_unclaimed_count(s), ==, 1);
    dm_io_space_free(s);
}

static void test_io_remap_moves_region(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d = { .regs = { 0x5a } };
    struct dm_io_region r;
    uint64_t v = 0;

    dm_io_region_init(&r, "bar", &ops_byte_impl, &d, 16);
    map_ok(s, &r, 0xc000);
    map_ok(s, &r, 0xc100);

    g_assert_false(dm_io_access(s, 0xc000, 1, false, &v));
    g_assert_true(dm_io_access(s, 0xc100, 1, false, &v));
    g_assert_cmphex(v, ==, 0x5a);
    dm_io_unmap(&r);
    g_assert_false(dm_io_access(s, 0xc100, 1, false, &v));
    dm_io_space_free(s);
}

static void test_io_map_beyond_limit_refused(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d = { 0 };
    struct dm_io_region r;
    GError *err = NULL;

    dm_io_region_init(&r, "big", &ops_byte_impl, &d, 16);

    g_assert_false(dm_io_map(s, &r, 0xfff8, &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_error_free(err);
    dm_io_space_free(s);
}

/* ---- string I/O through a machine --------------------------------------- */

/* A FIFO port: reads return successive bytes, writes append. */
struct fifo_dev {
    uint8_t out[64];
    unsigned nout;
    uint8_t next_in;
};

static uint64_t fifo_read(void *opaque, uint64_t off, unsigned size)
{
    struct fifo_dev *f = opaque;
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)f->next_in++ << (i * 8);
    }
    return v;
}

static void fifo_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct fifo_dev *f = opaque;

    for (unsigned i = 0; i < size && f->nout < sizeof(f->out); i++) {
        f->out[f->nout++] = (uint8_t)(val >> (i * 8));
    }
}

static const struct dm_io_ops fifo_ops = {
    .read = fifo_read, .write = fifo_write,
    .valid = { .min = 1, .max = 4 }, .impl = { .min = 1, .max = 4 },
};

struct string_fixture {
    struct dm_machine m;
    struct fifo_dev fifo;
    struct dm_io_region r;
};

static void string_setup(struct string_fixture *f)
{
    GError *err = NULL;

    memset(f, 0, sizeof(*f));
    f->m.pio = dm_io_space_new("pio", 0x10000);
    f->m.mmio = dm_io_space_new("mmio", UINT64_MAX);
    f->m.mem = dm_memory_new(2 * DM_MiB, 2 * DM_MiB, &err);
    g_assert_no_error(err);
    f->fifo.next_in = 1;
    dm_io_region_init(&f->r, "fifo", &fifo_ops, &f->fifo, 4);
    map_ok(f->m.pio, &f->r, 0x1f0);
}

static void string_teardown(struct string_fixture *f)
{
    dm_io_space_free(f->m.pio);
    dm_io_space_free(f->m.mmio);
    dm_memory_free(f->m.mem);
}

static void test_io_string_ins_fills_buffer_in_order(void)
{
    struct string_fixture f;
    uint8_t buf[6] = { 0 };

    string_setup(&f);

    dm_io_pio_string(&f.m, 0x1f0, 2, false, buf, 3);

    for (unsigned i = 0; i < sizeof(buf); i++) {
        g_assert_cmpuint(buf[i], ==, i + 1);
    }
    string_teardown(&f);
}

static void test_io_string_outs_sends_buffer_in_order(void)
{
    struct string_fixture f;
    const uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

    string_setup(&f);

    dm_io_pio_string(&f.m, 0x1f0, 4, true, (void *)buf, 2);

    g_assert_cmpuint(f.fifo.nout, ==, 8);
    g_assert_cmpmem(f.fifo.out, 8, buf, 8);
    string_teardown(&f);
}

static void test_io_string_guest_ins_to_ram(void)
{
    struct string_fixture f;
    uint8_t got[4];

    string_setup(&f);

    dm_io_pio_string_guest(&f.m, 0x1f0, 2, false, 0x1000, 2, false);

    dm_memory_rw(&f.m, 0x1000, got, 4, false);
    g_assert_cmpuint(got[0], ==, 1);
    g_assert_cmpuint(got[1], ==, 2);
    g_assert_cmpuint(got[2], ==, 3);
    g_assert_cmpuint(got[3], ==, 4);
    string_teardown(&f);
}

static void test_io_string_guest_ins_with_df_steps_down(void)
{
    struct string_fixture f;
    uint8_t got[4];

    string_setup(&f);

    /* Element 0 at 0x1002, element 1 at 0x1000. */
    dm_io_pio_string_guest(&f.m, 0x1f0, 2, false, 0x1002, 2, true);

    dm_memory_rw(&f.m, 0x1000, got, 4, false);
    g_assert_cmpuint(got[0], ==, 3);
    g_assert_cmpuint(got[1], ==, 4);
    g_assert_cmpuint(got[2], ==, 1);
    g_assert_cmpuint(got[3], ==, 2);
    string_teardown(&f);
}

static void test_io_string_guest_outs_with_df_reads_backwards(void)
{
    struct string_fixture f;
    const uint8_t data[3] = { 0xa, 0xb, 0xc };

    string_setup(&f);
    dm_memory_rw(&f.m, 0x2000, (void *)data, 3, true);

    dm_io_pio_string_guest(&f.m, 0x1f0, 1, true, 0x2002, 3, true);

    g_assert_cmpuint(f.fifo.nout, ==, 3);
    g_assert_cmpuint(f.fifo.out[0], ==, 0xc);
    g_assert_cmpuint(f.fifo.out[1], ==, 0xb);
    g_assert_cmpuint(f.fifo.out[2], ==, 0xa);
    string_teardown(&f);
}

static void test_io_pio_entry_reads_unclaimed_port_as_ones(void)
{
    struct string_fixture f;
    uint32_t v = 0;

    string_setup(&f);

    dm_io_pio(&f.m, 0x80, 4, false, &v);

    g_assert_cmphex(v, ==, 0xffffffff);
    g_assert_cmpuint(dm_io_unclaimed_count(f.m.pio), ==, 1);
    string_teardown(&f);
}

static void test_io_access_crossing_region_end_goes_bytewise(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d = { .regs = { [3] = 0x77 } };
    struct dm_io_region r;
    uint64_t v = 0;

    dm_io_region_init(&r, "small", &ops_word_fifo, &d, 4);
    map_ok(s, &r, 0x100);

    /* Bytes 0x103 (region) and 0x104 (nothing). */
    g_assert_true(dm_io_access(s, 0x103, 2, false, &v));

    g_assert_cmphex(v, ==, 0xff77);
    dm_io_space_free(s);
}

static void test_io_wide_access_to_one_byte_region_stays_inside(void)
{
    struct dm_io_space *s = space_new();
    struct fake_dev d = { .regs = { 0x3c } };
    struct dm_io_region r;
    uint64_t v = 0;

    dm_io_region_init(&r, "one-byte", &ops_word_fifo, &d, 1);
    map_ok(s, &r, 0x61);

    g_assert_true(dm_io_access(s, 0x61, 4, false, &v));

    g_assert_cmphex(v, ==, 0xffffff3c);
    g_assert_cmpuint(d.last_size, ==, 1);
    dm_io_space_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/dword-read-split-into-bytes",
                    test_io_dword_read_split_into_bytes);
    g_test_add_func("/io/word-write-split-little-endian",
                    test_io_word_write_split_little_endian);
    g_test_add_func("/io/byte-read-widened-and-extracted",
                    test_io_byte_read_widened_and_extracted);
    g_test_add_func("/io/byte-write-widened-without-read",
                    test_io_byte_write_widened_without_read);
    g_test_add_func("/io/overlap-refused-naming-both-regions",
                    test_io_overlap_refused_naming_both_regions);
    g_test_add_func("/io/overlap-with-disjoint-sizes-dispatches-by-size",
                    test_io_overlap_with_disjoint_sizes_dispatches_by_size);
    g_test_add_func("/io/unclaimed-read-all-ones-and-counted",
                    test_io_unclaimed_read_all_ones_and_counted);
    g_test_add_func("/io/invalid-size-treated-as-unclaimed",
                    test_io_invalid_size_treated_as_unclaimed);
    g_test_add_func("/io/remap-moves-region", test_io_remap_moves_region);
    g_test_add_func("/io/map-beyond-limit-refused",
                    test_io_map_beyond_limit_refused);
    g_test_add_func("/io/access-crossing-region-end-goes-bytewise",
                    test_io_access_crossing_region_end_goes_bytewise);
    g_test_add_func("/io/wide-access-to-one-byte-region-stays-inside",
                    test_io_wide_access_to_one_byte_region_stays_inside);
    g_test_add_func("/io/string-ins-fills-buffer-in-order",
                    test_io_string_ins_fills_buffer_in_order);
    g_test_add_func("/io/string-outs-sends-buffer-in-order",
                    test_io_string_outs_sends_buffer_in_order);
    g_test_add_func("/io/string-guest-ins-to-ram",
                    test_io_string_guest_ins_to_ram);
    g_test_add_func("/io/string-guest-ins-with-df-steps-down",
                    test_io_string_guest_ins_with_df_steps_down);
    g_test_add_func("/io/string-guest-outs-with-df-reads-backwards",
                    test_io_string_guest_outs_with_df_reads_backwards);
    g_test_add_func("/io/pio-entry-reads-unclaimed-port-as-ones",
                    test_io_pio_entry_reads_unclaimed_port_as_ones);
    return g_test_run();
}
