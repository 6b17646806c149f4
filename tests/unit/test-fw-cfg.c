/*
 * test-fw-cfg.c: fw_cfg as SeaBIOS drives it: the signature and feature
 * bits, the sorted file directory with etc/e820, reads through the data port
 * and through DMA into guest RAM, and the error bit for DMA the device
 * refuses (outside RAM, writes).
 */
#include <glib/gstdio.h>
#include <unistd.h>

#include "harness.h"
#include "hvmdm/fw_cfg.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"

#define FW_CTL FW_CFG_IO_BASE
#define FW_DATA (FW_CFG_IO_BASE + 1)
#define FW_DMA_HI FW_CFG_DMA_IO_BASE
#define FW_DMA_LO (FW_CFG_DMA_IO_BASE + 4)
#define DESC_GPA 0x1000ull /* FWCfgDmaAccess in guest RAM */
#define BUF_GPA 0x2000ull
#define NOT_RAM_GPA 0xf0000000ull /* in the PCI hole */
#define E820_ENTRY 20
#define DIR_ENTRY (8 + FW_CFG_MAX_FILE_PATH)

static void fw_select(struct dm_machine *m, uint16_t key)
{
    th_outw(m, FW_CTL, key);
}

static void fw_read(struct dm_machine *m, void *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        ((uint8_t *)buf)[i] = th_inb(m, FW_DATA);
    }
}

/* Write an FWCfgDmaAccess at DESC_GPA and start it the way SeaBIOS does:
 * big-endian address, high dword then low dword. Returns the control word
 * the device wrote back. */
static uint32_t fw_dma(struct dm_machine *m, uint32_t control, uint32_t len,
                       uint64_t addr)
{
    uint32_t c = GUINT32_TO_BE(control), l = GUINT32_TO_BE(len);
    uint64_t a = GUINT64_TO_BE(addr);

    th_memwrite(m, DESC_GPA, &c, 4);
    th_memwrite(m, DESC_GPA + 4, &l, 4);
    th_memwrite(m, DESC_GPA + 8, &a, 8);
    th_outl(m, FW_DMA_HI, GUINT32_TO_BE((uint32_t)(DESC_GPA >> 32)));
    th_outl(m, FW_DMA_LO, GUINT32_TO_BE((uint32_t)DESC_GPA));
    th_memread(m, DESC_GPA, &c, 4);
    return GUINT32_FROM_BE(c);
}

/* The select key of NAME from the directory, 0 when absent. */
static uint16_t fw_find(struct dm_machine *m, const char *name, uint32_t *size)
{
    uint32_t count;

    fw_select(m, FW_CFG_FILE_DIR);
    fw_read(m, &count, 4);
    count = GUINT32_FROM_BE(count);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t e[DIR_ENTRY];
        uint32_t sz;
        uint16_t key;

        fw_read(m, e, sizeof(e));
        if (strncmp((char *)e + 8, name, FW_CFG_MAX_FILE_PATH) == 0) {
            memcpy(&sz, e, 4);
            memcpy(&key, e + 4, 2);
            *size = GUINT32_FROM_BE(sz);
            return GUINT16_FROM_BE(key);
        }
    }
    return 0;
}

static void test_fw_cfg_signature_reads_qemu(void)
{
    struct dm_machine *m = th_pc_new("");
    char sig[5] = { 0 };

    fw_select(m, FW_CFG_SIGNATURE);
    fw_read(m, sig, 4);
    g_assert_cmpstr(sig, ==, "QEMU");
    th_pc_free(m);
}

static void test_fw_cfg_id_has_dma_bit(void)
{
    struct dm_machine *m = th_pc_new("");
    uint32_t id;

    fw_select(m, FW_CFG_ID);
    fw_read(m, &id, 4);
    g_assert_cmphex(GUINT32_FROM_LE(id) & FW_CFG_VERSION_DMA, ==,
                    FW_CFG_VERSION_DMA);
    /* the DMA register reads "QEMU CFG", big-endian */
    g_assert_cmphex(GUINT32_FROM_BE(th_inl(m, FW_DMA_HI)), ==, 0x51454d55);
    g_assert_cmphex(GUINT32_FROM_BE(th_inl(m, FW_DMA_LO)), ==, 0x20434647);
    th_pc_free(m);
}

static void test_fw_cfg_machine_items(void)
{
    struct dm_machine *m = th_pc_new("-m 256 -smp 2");
    uint64_t ram;
    uint16_t cpus;

    fw_select(m, FW_CFG_RAM_SIZE);
    fw_read(m, &ram, 8);
    g_assert_cmphex(GUINT64_FROM_LE(ram), ==, 256 * DM_MiB);
    fw_select(m, FW_CFG_NB_CPUS);
    fw_read(m, &cpus, 2);
    g_assert_cmpuint(GUINT16_FROM_LE(cpus), ==, 2);
    th_pc_free(m);
}

static void test_fw_cfg_file_dir_sorted_with_e820(void)
{
    struct dm_machine *m = th_pc_new("-fw_cfg name=opt/zz,string=last "
                                     "-fw_cfg name=opt/aa,string=first");
    char prev[FW_CFG_MAX_FILE_PATH] = "";
    bool e820 = false;
    uint32_t count;

    fw_select(m, FW_CFG_FILE_DIR);
    fw_read(m, &count, 4);
    count = GUINT32_FROM_BE(count);
    g_assert_cmpuint(count, >=, 3);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t e[DIR_ENTRY];
        const char *name = (const char *)e + 8;
        uint32_t size;

        fw_read(m, e, sizeof(e));
        g_assert_cmpint(e[8 + FW_CFG_MAX_FILE_PATH - 1], ==, 0);
        g_assert_cmpstr(prev, <, name);
        g_strlcpy(prev, name, sizeof(prev));
        if (strcmp(name, "etc/e820") == 0) {
            memcpy(&size, e, 4);
            g_assert_cmpuint(GUINT32_FROM_BE(size) % E820_ENTRY, ==, 0);
            e820 = true;
        }
    }
    g_assert_true(e820);
    th_pc_free(m);
}

static void test_fw_cfg_e820_describes_ram(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    uint32_t size = 0;
    uint16_t key = fw_find(m, "etc/e820", &size);
    uint8_t entry[E820_ENTRY];
    uint64_t addr, len;
    uint32_t type;

    g_assert_cmphex(key, >=, FW_CFG_FILE_FIRST);
    fw_select(m, key);
    fw_read(m, entry, sizeof(entry));
    memcpy(&addr, entry, 8);
    memcpy(&len, entry + 8, 8);
    memcpy(&type, entry + 16, 4);
    g_assert_cmphex(GUINT64_FROM_LE(addr), ==, 0);
    g_assert_cmphex(GUINT64_FROM_LE(len), ==, 128 * DM_MiB);
    g_assert_cmpuint(GUINT32_FROM_LE(type), ==, 1); /* RAM */
    th_pc_free(m);
}

static void test_fw_cfg_dma_reads_file_into_ram(void)
{
    struct dm_machine *m = th_pc_new("-fw_cfg name=opt/hello,string=world");
    uint32_t size = 0;
    uint16_t key = fw_find(m, "opt/hello", &size);
    char buf[8] = { 0 };
    uint32_t status;

    g_assert_cmpuint(size, ==, 5);
    th_memset(m, BUF_GPA, 0xee, sizeof(buf));
    status = fw_dma(
        m, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
        size, BUF_GPA);
    g_assert_cmphex(status, ==, 0);
    th_memread(m, BUF_GPA, buf, sizeof(buf));
    g_assert_cmpmem(buf, 5, "world", 5);
    g_assert_cmphex((uint8_t)buf[5], ==, 0xee); /* no more than asked */
    th_pc_free(m);
}

static void test_fw_cfg_dma_past_item_end_reads_zeros(void)
{
    struct dm_machine *m = th_pc_new("");
    uint8_t buf[8];
    uint32_t status;

    th_memset(m, BUF_GPA, 0xee, sizeof(buf));
    status = fw_dma(
        m, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
        sizeof(buf), BUF_GPA);
    g_assert_cmphex(status, ==, 0);
    th_memread(m, BUF_GPA, buf, sizeof(buf));
    g_assert_cmpmem(buf, 4, "QEMU", 4);
    g_assert_cmphex(buf[4] | buf[5] | buf[6] | buf[7], ==, 0);
    th_pc_free(m);
}

static void test_fw_cfg_dma_skip_then_data_port(void)
{
    struct dm_machine *m = th_pc_new("");
    char rest[3] = { 0 };

    g_assert_cmphex(fw_dma(m,
                           FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT |
                               FW_CFG_DMA_CTL_SKIP,
                           2, 0),
                    ==, 0);
    fw_read(m, rest, 2);
    g_assert_cmpstr(rest, ==, "MU");
    th_pc_free(m);
}

static void test_fw_cfg_dma_outside_ram_sets_error(void)
{
    struct dm_machine *m = th_pc_new("-m 128");
    uint32_t status;

    status = fw_dma(
        m, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
        4, NOT_RAM_GPA);
    g_assert_cmphex(status, ==, FW_CFG_DMA_CTL_ERROR);
    th_pc_free(m);
}

static void test_fw_cfg_dma_write_sets_error(void)
{
    struct dm_machine *m = th_pc_new("");
    char sig[5] = { 0 };
    uint32_t status;

    th_memwrite(m, BUF_GPA, "XXXX", 4);
    status = fw_dma(m,
                    FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT |
                        FW_CFG_DMA_CTL_WRITE,
                    4, BUF_GPA);
    g_assert_cmphex(status, ==, FW_CFG_DMA_CTL_ERROR);
    fw_select(m, FW_CFG_SIGNATURE);
    fw_read(m, sig, 4);
    g_assert_cmpstr(sig, ==, "QEMU");
    th_pc_free(m);
}

static void test_fw_cfg_selector_out_of_range_reads_zero(void)
{
    struct dm_machine *m = th_pc_new("");
    uint8_t b[4];

    fw_select(m, 0x3fff);
    fw_read(m, b, sizeof(b));
    g_assert_cmphex(b[0] | b[1] | b[2] | b[3], ==, 0);
    /* past the end of an item too */
    fw_select(m, FW_CFG_SIGNATURE);
    fw_read(m, b, 4);
    fw_read(m, b, 1);
    g_assert_cmphex(b[0], ==, 0);
    th_pc_free(m);
}

static void test_fw_cfg_data_port_writes_are_dropped(void)
{
    struct dm_machine *m = th_pc_new("");
    char sig[5] = { 0 };

    fw_select(m, FW_CFG_SIGNATURE);
    th_outb(m, FW_DATA, 'X');
    fw_read(m, sig, 4);
    g_assert_cmpstr(sig, ==, "QEMU");
    th_pc_free(m);
}

static void test_fw_cfg_user_file_from_host_file(void)
{
    g_autofree char *path = NULL;
    g_autofree char *args = NULL;
    struct dm_machine *m;
    GError *err = NULL;
    uint32_t size = 0;
    char data[6] = { 0 };
    int fd = g_file_open_tmp("hvmdm-fwcfg-XXXXXX", &path, &err);

    g_assert_no_error(err);
    close(fd);
    g_assert_true(g_file_set_contents(path, "hello", 5, &err));
    args = g_strdup_printf("-fw_cfg name=opt/f,file=%s", path);
    m = th_pc_new(args);
    fw_select(m, fw_find(m, "opt/f", &size));
    g_assert_cmpuint(size, ==, 5);
    fw_read(m, data, 5);
    g_assert_cmpstr(data, ==, "hello");
    th_pc_free(m);
    g_unlink(path);
}

static void test_fw_cfg_position_survives_save_and_load(void)
{
    struct dm_machine *src = th_pc_new("");
    struct dm_machine *dst = th_pc_new("");
    GError *err = NULL;
    char rest[3] = { 0 };
    GBytes *state;

    fw_select(src, FW_CFG_SIGNATURE);
    fw_read(src, rest, 2);
    state = dm_machine_save_state(src, &err);
    g_assert_no_error(err);
    g_assert_true(dm_machine_load_state(dst, state, &err));
    g_assert_no_error(err);
    fw_read(dst, rest, 2);
    g_assert_cmpstr(rest, ==, "MU");
    g_bytes_unref(state);
    th_pc_free(dst);
    th_pc_free(src);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dm_log_set_level(DM_LOG_ERROR);
    g_test_add_func("/fw_cfg/signature-reads-qemu",
                    test_fw_cfg_signature_reads_qemu);
    g_test_add_func("/fw_cfg/id-has-dma-bit", test_fw_cfg_id_has_dma_bit);
    g_test_add_func("/fw_cfg/machine-items", test_fw_cfg_machine_items);
    g_test_add_func("/fw_cfg/file-dir-sorted-with-e820",
                    test_fw_cfg_file_dir_sorted_with_e820);
    g_test_add_func("/fw_cfg/e820-describes-ram",
                    test_fw_cfg_e820_describes_ram);
    g_test_add_func("/fw_cfg/dma-reads-file-into-ram",
                    test_fw_cfg_dma_reads_file_into_ram);
    g_test_add_func("/fw_cfg/dma-past-item-end-reads-zeros",
                    test_fw_cfg_dma_past_item_end_reads_zeros);
    g_test_add_func("/fw_cfg/dma-skip-then-data-port",
                    test_fw_cfg_dma_skip_then_data_port);
    g_test_add_func("/fw_cfg/dma-outside-ram-sets-error",
                    test_fw_cfg_dma_outside_ram_sets_error);
    g_test_add_func("/fw_cfg/dma-write-sets-error",
                    test_fw_cfg_dma_write_sets_error);
    g_test_add_func("/fw_cfg/selector-out-of-range-reads-zero",
                    test_fw_cfg_selector_out_of_range_reads_zero);
    g_test_add_func("/fw_cfg/data-port-writes-are-dropped",
                    test_fw_cfg_data_port_writes_are_dropped);
    g_test_add_func("/fw_cfg/user-file-from-host-file",
                    test_fw_cfg_user_file_from_host_file);
    g_test_add_func("/fw_cfg/position-survives-save-and-load",
                    test_fw_cfg_position_survives_save_and_load);
    return g_test_run();
}
