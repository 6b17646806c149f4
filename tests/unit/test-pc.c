/*
 * test-pc.c: the PC board as SeaBIOS finds it: CMOS memory sizes, CPU count
 * and boot order, the devices at their ports, -boot errors, and fw_cfg items
 * that depend on the command line.
 */
#include "harness.h"
#include "hvmdm/fw_cfg.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71

static uint8_t cmos(struct dm_machine *m, uint8_t idx)
{
    th_outb(m, CMOS_INDEX, idx);
    return th_inb(m, CMOS_DATA);
}

static uint16_t cmos16(struct dm_machine *m, uint8_t idx)
{
    return (uint16_t)(cmos(m, idx) | cmos(m, (uint8_t)(idx + 1)) << 8);
}

static void test_pc_cmos_memory_sizes(void)
{
    struct dm_machine *m = th_pc_new("-m 32");

    g_assert_cmpuint(cmos16(m, 0x15), ==, 640);       /* KiB */
    g_assert_cmpuint(cmos16(m, 0x17), ==, 31 * 1024); /* KiB */
    g_assert_cmpuint(cmos16(m, 0x30), ==, 31 * 1024);
    g_assert_cmpuint(cmos16(m, 0x34), ==, (32 - 16) * 16); /* 64 KiB */
    g_assert_cmpuint(cmos(m, 0x5b) | cmos(m, 0x5c) | cmos(m, 0x5d), ==, 0);
    th_pc_free(m);
}

static void test_pc_cmos_memory_above_4g(void)
{
    struct dm_machine *m = th_pc_new("-m 4096");
    uint64_t above = 4096 * DM_MiB - 0xe0000000ull;

    g_assert_cmpuint(cmos16(m, 0x17), ==, 0xffff); /* capped */
    g_assert_cmpuint(cmos16(m, 0x34), ==,
                     (0xe0000000ull - 16 * DM_MiB) / (64 * DM_KiB));
    g_assert_cmpuint(cmos(m, 0x5b) | cmos(m, 0x5c) << 8 | cmos(m, 0x5d) << 16,
                     ==, above / (64 * DM_KiB));
    th_pc_free(m);
}

static void test_pc_cmos_cpu_count_and_default_boot(void)
{
    struct dm_machine *m = th_pc_new("-smp 4");

    g_assert_cmpuint(cmos(m, 0x5f), ==, 3);
    /* "cad": disk (2), floppy (1), CD-ROM (3) */
    g_assert_cmphex(cmos(m, 0x3d), ==, 0x12);
    g_assert_cmphex(cmos(m, 0x38) & 0xf0, ==, 0x30);
    th_pc_free(m);
}

static void test_pc_boot_order_cd_first(void)
{
    struct dm_machine *m = th_pc_new("-boot order=dc");

    g_assert_cmphex(cmos(m, 0x3d), ==, 0x23);
    g_assert_cmphex(cmos(m, 0x38) & 0xf0, ==, 0);
    th_pc_free(m);
}

static void test_pc_boot_unknown_device_is_refused(void)
{
    struct dm_machine *m = th_machine_new("-boot order=x");
    GError *err = NULL;

    g_assert_false(dm_pc_init(m, &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "-boot"));
    g_error_free(err);
    th_pc_free(m);
}

static void test_pc_devices_answer_at_their_ports(void)
{
    struct dm_machine *m = th_pc_new("");

    /* COM1's scratch register, the i8042 status, the fw_cfg signature */
    th_outb(m, 0x3f8 + 7, 0x5a);
    g_assert_cmphex(th_inb(m, 0x3f8 + 7), ==, 0x5a);
    g_assert_cmphex(th_inb(m, 0x64), !=, 0xff);
    th_outw(m, FW_CFG_IO_BASE, FW_CFG_SIGNATURE);
    g_assert_cmphex(th_inb(m, FW_CFG_IO_BASE + 1), ==, 'Q');
    g_assert_nonnull(m->fw_cfg);
    g_assert_nonnull(m->rtc);
    th_pc_free(m);
}

static void test_pc_nodefaults_has_no_serial(void)
{
    struct dm_machine *m = th_pc_new("-nodefaults");

    th_outb(m, 0x3f8 + 7, 0x5a);
    g_assert_cmphex(th_inb(m, 0x3f8 + 7), ==, 0xff);
    th_pc_free(m);
}

static void test_pc_boot_fail_wait_and_sercon(void)
{
    struct dm_machine *m = th_pc_new("-boot reboot-timeout=1000");
    size_t len = 0;
    const uint8_t *p = dm_fw_cfg_file(m->fw_cfg, "etc/boot-fail-wait", &len);

    g_assert_nonnull(p);
    g_assert_cmpuint(len, ==, 4);
    g_assert_cmpuint(p[0] | p[1] << 8, ==, 1000);
    /* no -nographic: SeaBIOS keeps its console off the serial port */
    g_assert_null(dm_fw_cfg_file(m->fw_cfg, "etc/sercon-port", NULL));
    g_assert_nonnull(dm_fw_cfg_file(m->fw_cfg, "bootorder", NULL));
    th_pc_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dm_log_set_level(DM_LOG_ERROR);
    g_test_add_func("/pc/cmos-memory-sizes", test_pc_cmos_memory_sizes);
    g_test_add_func("/pc/cmos-memory-above-4g", test_pc_cmos_memory_above_4g);
    g_test_add_func("/pc/cmos-cpu-count-and-default-boot",
                    test_pc_cmos_cpu_count_and_default_boot);
    g_test_add_func("/pc/boot-order-cd-first", test_pc_boot_order_cd_first);
    g_test_add_func("/pc/boot-unknown-device-is-refused",
                    test_pc_boot_unknown_device_is_refused);
    g_test_add_func("/pc/devices-answer-at-their-ports",
                    test_pc_devices_answer_at_their_ports);
    g_test_add_func("/pc/nodefaults-has-no-serial",
                    test_pc_nodefaults_has_no_serial);
    g_test_add_func("/pc/boot-fail-wait-and-sercon",
                    test_pc_boot_fail_wait_and_sercon);
    return g_test_run();
}
