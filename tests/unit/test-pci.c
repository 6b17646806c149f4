/*
 * test-pci.c: the PCI bus as a BIOS sees it through configuration mechanism
 * #1: enumeration, absent functions, BAR sizing and mapping, decode enables,
 * reset of the standard header and the bus-master check on DMA.
 */
#include "hvmdm/log.h"
#include "test-pci-testdev.h"

#define TD_DEVFN PCI_DEVFN(3, 0)
#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
#define TD_IO_BASE 0xc000
#define TD_MEM_BASE 0x1fe000000ull /* above 4 GiB: needs the high dword */
#define BAR0 PCI_BASE_ADDRESS_0
#define BAR2 (PCI_BASE_ADDRESS_0 + 8)
#define BAR3 (PCI_BASE_ADDRESS_0 + 12)

static void test_pci_enumerates_host_and_isa_bridge(void)
{
    struct dm_machine *m = th_pc_new("-m 128");

    g_assert_cmphex(th_pci_readl(m, PCI_DEVFN(0, 0), PCI_VENDOR_ID), ==,
                    0x12378086);
    /* class 06 00 00 (host bridge), revision 02 */
    g_assert_cmphex(th_pci_readl(m, PCI_DEVFN(0, 0), PCI_REVISION_ID), ==,
                    0x06000002);
    g_assert_cmphex(th_pci_readl(m, PCI_DEVFN(1, 0), PCI_VENDOR_ID), ==,
                    0x70008086);
    /* class 06 01 00 (ISA bridge), multifunction header */
    g_assert_cmphex(th_pci_readw(m, PCI_DEVFN(1, 0), PCI_CLASS_DEVICE), ==,
                    0x0601);
    g_assert_cmphex(th_pci_readb(m, PCI_DEVFN(1, 0), PCI_HEADER_TYPE), ==,
                    PCI_HEADER_TYPE_MULTI);
    th_pc_free(m);
}

static void test_pci_absent_function_reads_all_ones(void)
{
    struct dm_machine *m = th_pc_new("-m 128");

    g_assert_cmphex(th_pci_readl(m, PCI_DEVFN(2, 0), PCI_VENDOR_ID), ==,
                    0xffffffff);
    g_assert_cmphex(th_pci_readw(m, PCI_DEVFN(0, 1), PCI_VENDOR_ID), ==,
                    0xffff);
    /* bus 1 does not exist */
    th_outl(m, PCI_CONFIG_ADDRESS_PORT, 0x80010000u);
    g_assert_cmphex(th_inl(m, PCI_CONFIG_DATA_PORT), ==, 0xffffffff);
    th_pc_free(m);
}

static void test_pci_config_address_needs_enable_bit(void)
{
    struct dm_machine *m = th_pc_new("-m 128");

    th_outl(m, PCI_CONFIG_ADDRESS_PORT, 0x00000000u); /* 00.0 reg 0, off */
    g_assert_cmphex(th_inl(m, PCI_CONFIG_DATA_PORT), ==, 0xffffffff);
    /* the register reads back what was written, reserved bits clear */
    th_outl(m, PCI_CONFIG_ADDRESS_PORT, 0x80000803u);
    g_assert_cmphex(th_inl(m, PCI_CONFIG_ADDRESS_PORT), ==, 0x80000800u);
    th_pc_free(m);
}

static void test_pci_config_byte_and_word_access(void)
{
    struct dm_machine *m = th_pc_new("-m 128");

    g_assert_cmphex(th_pci_readb(m, PCI_DEVFN(0, 0), PCI_VENDOR_ID + 1), ==,
                    0x80);
    g_assert_cmphex(th_pci_readw(m, PCI_DEVFN(0, 0), PCI_DEVICE_ID), ==,
                    0x1237);
    th_pc_free(m);
}

static void test_pci_io_bar_sizing_and_mapping(void)
{
    struct dm_machine *m = th_pc_new("-m 128");

    td_new(m, TD_DEVFN);
    th_pci_writel(m, TD_DEVFN, BAR0, 0xffffffff);
    /* size 16: low four address bits read 0, bit 0 says I/O */
    g_assert_cmphex(th_pci_readl(m, TD_DEVFN, BAR0), ==, 0xfffffff1);

    th_pci_writel(m, TD_DEVFN, BAR0, TD_IO_BASE);
    g_assert_cmphex(th_inb(m, TD_IO_BASE + 2), ==, 0xff); /* decode off */
    th_pci_writew(m, TD_DEVFN, PCI_COMMAND, PCI_COMMAND_IO);
    g_assert_cmphex(th_inb(m, TD_IO_BASE + 2), ==, 0xa2);
    th_outw(m, TD_IO_BASE + 4, 0xbeef);
    g_assert_cmphex(th_inw(m, TD_IO_BASE + 4), ==, 0xbeef);
    th_pc_free(m);
}

static void test_pci_io_bar_unclaimed_when_decode_off(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    uint64_t before;

    td_new(m, TD_DEVFN);
    th_pci_writel(m, TD_DEVFN, BAR0, TD_IO_BASE);
    th_pci_writew(m, TD_DEVFN, PCI_COMMAND, PCI_COMMAND_IO);
    th_pci_writew(m, TD_DEVFN, PCI_COMMAND, 0);

    before = dm_io_unclaimed_count(m->pio);
    g_assert_cmphex(th_inb(m, TD_IO_BASE), ==, 0xff);
    g_assert_cmpuint(dm_io_unclaimed_count(m->pio), ==, before + 1);
    th_pc_free(m);
}

static void test_pci_mem64_bar_sizing_and_mapping(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    struct testdev *td = td_new(m, TD_DEVFN);
    uint64_t v = 0;

    th_pci_writel(m, TD_DEVFN, BAR2, 0xffffffff);
    th_pci_writel(m, TD_DEVFN, BAR3, 0xffffffff);
    /* 4 KiB, 64-bit (type 10b), prefetchable */
    g_assert_cmphex(th_pci_readl(m, TD_DEVFN, BAR2), ==, 0xfffff00c);
    g_assert_cmphex(th_pci_readl(m, TD_DEVFN, BAR3), ==, 0xffffffff);

    th_pci_writel(m, TD_DEVFN, BAR2, (uint32_t)TD_MEM_BASE);
    th_pci_writel(m, TD_DEVFN, BAR3, (uint32_t)(TD_MEM_BASE >> 32));
    th_pci_writew(m, TD_DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY);
    g_assert_cmphex(dm_pci_bar_addr(&td->pci, 2), ==, TD_MEM_BASE);

    v = 0x1122334455667788ull;
    dm_io_mmio(m, TD_MEM_BASE + 0x10, 8, true, &v);
    g_assert_cmphex(td->mem[0x10], ==, 0x88);
    v = 0;
    dm_io_mmio(m, TD_MEM_BASE + 0x14, 4, false, &v);
    g_assert_cmphex(v, ==, 0x11223344);
    th_pc_free(m);
}

static void test_pci_mem_bar_unmapped_when_decode_off(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    struct testdev *td = td_new(m, TD_DEVFN);
    uint64_t v = 0;

    th_pci_writel(m, TD_DEVFN, BAR2, (uint32_t)TD_MEM_BASE);
    th_pci_writel(m, TD_DEVFN, BAR3, (uint32_t)(TD_MEM_BASE >> 32));
    th_pci_writew(m, TD_DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY);
    th_pci_writew(m, TD_DEVFN, PCI_COMMAND, 0);

    g_assert_cmphex(dm_pci_bar_addr(&td->pci, 2), ==, UINT64_MAX);
    dm_io_mmio(m, TD_MEM_BASE, 4, false, &v);
    g_assert_cmphex(v, ==, 0xffffffff);
    th_pc_free(m);
}

static void test_pci_bar_at_sizing_pattern_stays_unmapped(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    struct testdev *td = td_new(m, TD_DEVFN);

    th_pci_writew(m, TD_DEVFN, PCI_COMMAND,
                  PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    th_pci_writel(m, TD_DEVFN, BAR0, 0xffffffff);
    th_pci_writel(m, TD_DEVFN, BAR2, 0xffffffff);
    th_pci_writel(m, TD_DEVFN, BAR3, 0xffffffff);
    g_assert_cmphex(dm_pci_bar_addr(&td->pci, 0), ==, UINT64_MAX);
    g_assert_cmphex(dm_pci_bar_addr(&td->pci, 2), ==, UINT64_MAX);

    /* address 0 is "not assigned" */
    th_pci_writel(m, TD_DEVFN, BAR0, 0);
    g_assert_cmphex(dm_pci_bar_addr(&td->pci, 0), ==, UINT64_MAX);
    th_pc_free(m);
}

static void test_pci_reset_clears_command_and_bars(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    struct testdev *td = td_new(m, TD_DEVFN);

    th_pci_writel(m, TD_DEVFN, BAR0, TD_IO_BASE);
    th_pci_writew(m, TD_DEVFN, PCI_COMMAND,
                  PCI_COMMAND_IO | PCI_COMMAND_MASTER);
    th_pci_writeb(m, TD_DEVFN, PCI_INTERRUPT_LINE, 11);

    dm_machine_reset(m);

    g_assert_cmphex(th_pci_readw(m, TD_DEVFN, PCI_COMMAND), ==, 0);
    g_assert_cmphex(th_pci_readl(m, TD_DEVFN, BAR0), ==,
                    PCI_BASE_ADDRESS_SPACE_IO);
    g_assert_cmphex(th_pci_readb(m, TD_DEVFN, PCI_INTERRUPT_LINE), ==, 0);
    g_assert_cmphex(th_pci_readb(m, TD_DEVFN, PCI_INTERRUPT_PIN), ==, 1);
    g_assert_cmphex(dm_pci_bar_addr(&td->pci, 0), ==, UINT64_MAX);
    th_pc_free(m);
}

static void test_pci_read_only_header_ignores_writes(void)
{
    struct dm_machine *m = th_pc_new("-m 128");

    th_pci_writel(m, PCI_DEVFN(0, 0), PCI_VENDOR_ID, 0xdeadbeef);
    g_assert_cmphex(th_pci_readl(m, PCI_DEVFN(0, 0), PCI_VENDOR_ID), ==,
                    0x12378086);
    th_pc_free(m);
}

static void test_pci_status_error_bits_write_one_to_clear(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    struct testdev *td = td_new(m, TD_DEVFN);
    const uint16_t master_abort = 1u << 13;

    dm_pci_set_word(td->pci.config, PCI_STATUS, master_abort);
    th_pci_writew(m, TD_DEVFN, PCI_STATUS, 0); /* 0 leaves it */
    g_assert_cmphex(th_pci_readw(m, TD_DEVFN, PCI_STATUS), ==, master_abort);
    th_pci_writew(m, TD_DEVFN, PCI_STATUS, master_abort);
    g_assert_cmphex(th_pci_readw(m, TD_DEVFN, PCI_STATUS), ==, 0);
    th_pc_free(m);
}

static void test_pci_dma_needs_bus_master(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    struct testdev *td = td_new(m, TD_DEVFN);
    uint8_t buf[4] = { 0 };

    th_writeb(m, 0x1000, 0x5a);
    g_assert_cmpint(dm_pci_dma_read(&td->pci, 0x1000, buf, sizeof(buf)), ==,
                    -EPERM);
    g_assert_cmpint(dm_pci_dma_write(&td->pci, 0x1000, buf, sizeof(buf)), ==,
                    -EPERM);
    g_assert_cmphex(th_readb(m, 0x1000), ==, 0x5a);

    th_pci_writew(m, TD_DEVFN, PCI_COMMAND, PCI_COMMAND_MASTER);
    g_assert_cmpint(dm_pci_dma_read(&td->pci, 0x1000, buf, sizeof(buf)), ==, 0);
    g_assert_cmphex(buf[0], ==, 0x5a);
    th_pc_free(m);
}

static void test_pci_addr_taken_is_refused(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    GError *err = NULL;

    g_assert_null(dm_dev_new(m, "PIIX3", "addr=0", &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "already used"));
    g_error_free(err);
    th_pc_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dm_log_set_level(DM_LOG_ERROR);
    g_test_add_func("/pci/enumerates-host-and-isa-bridge",
                    test_pci_enumerates_host_and_isa_bridge);
    g_test_add_func("/pci/absent-function-reads-all-ones",
                    test_pci_absent_function_reads_all_ones);
    g_test_add_func("/pci/config-address-needs-enable-bit",
                    test_pci_config_address_needs_enable_bit);
    g_test_add_func("/pci/config-byte-and-word-access",
                    test_pci_config_byte_and_word_access);
    g_test_add_func("/pci/io-bar-sizing-and-mapping",
                    test_pci_io_bar_sizing_and_mapping);
    g_test_add_func("/pci/io-bar-unclaimed-when-decode-off",
                    test_pci_io_bar_unclaimed_when_decode_off);
    g_test_add_func("/pci/mem64-bar-sizing-and-mapping",
                    test_pci_mem64_bar_sizing_and_mapping);
    g_test_add_func("/pci/mem-bar-unmapped-when-decode-off",
                    test_pci_mem_bar_unmapped_when_decode_off);
    g_test_add_func("/pci/bar-at-sizing-pattern-stays-unmapped",
                    test_pci_bar_at_sizing_pattern_stays_unmapped);
    g_test_add_func("/pci/reset-clears-command-and-bars",
                    test_pci_reset_clears_command_and_bars);
    g_test_add_func("/pci/read-only-header-ignores-writes",
                    test_pci_read_only_header_ignores_writes);
    g_test_add_func("/pci/status-error-bits-write-one-to-clear",
                    test_pci_status_error_bits_write_one_to_clear);
    g_test_add_func("/pci/dma-needs-bus-master", test_pci_dma_needs_bus_master);
    g_test_add_func("/pci/addr-taken-is-refused",
                    test_pci_addr_taken_is_refused);
    return g_test_run();
}
