/*
 * test-pam.c: the i440FX's legacy window as SeaBIOS uses it: BIOS ROM at
 * 0xe0000-0xfffff and an empty option ROM area after reset, PAM registers
 * switching segments to shadow RAM (read/write, read-only, write-only), reset
 * bringing the ROM back, and the SMRAM register's lock.
 */
#include "harness.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/pci.h"

#define HOST_BRIDGE PCI_DEVFN(0, 0)
#define PAM0 0x59  /* high nibble: 0xf0000-0xfffff */
#define PAM1 0x5a  /* low nibble: 0xc0000, high: 0xc4000 */
#define PAM_RO 0x1 /* reads from RAM */
#define PAM_WO 0x2 /* writes to RAM */
#define PAM_RW 0x3
#define SMRAM 0x72
#define SMRAM_D_OPEN 0x40
#define SMRAM_D_LCK 0x10
#define SMRAM_G_SMRAME 0x08
#define SMRAM_RESET 0x02
#define RESET_VECTOR_ALIAS 0xffff0ull /* below 1 MiB */
#define RESET_VECTOR 0xfffffff0ull    /* top of 4 GiB */
#define SEG_F 0xf0000ull
#define SEG_C 0xc0000ull
#define SEG_C4 0xc4000ull

static void test_pam_reset_reads_bios_rom(void)
{
    struct dm_machine *m = th_pc_new("");

    /* the BIOS's top 128 KiB answer below 1 MiB too */
    for (uint64_t i = 0; i < 16; i++) {
        g_assert_cmphex(th_readb(m, RESET_VECTOR_ALIAS + i), ==,
                        th_readb(m, RESET_VECTOR + i));
    }
    g_assert_cmphex(th_readl(m, 0xe0000), ==, th_readl(m, 0xfffe0000));
    /* nothing in the option ROM area yet */
    g_assert_cmphex(th_readl(m, SEG_C), ==, 0xffffffff);
    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, PAM0), ==, 0);
    th_pc_free(m);
}

static void test_pam_rw_makes_segment_ram(void)
{
    struct dm_machine *m = th_pc_new("");
    uint8_t rom = th_readb(m, SEG_F);

    th_writeb(m, SEG_F, (uint8_t)~rom); /* ROM: dropped */
    g_assert_cmphex(th_readb(m, SEG_F), ==, rom);

    th_pci_writeb(m, HOST_BRIDGE, PAM0, PAM_RW << 4);
    th_writeb(m, SEG_F, 0xa5);
    g_assert_cmphex(th_readb(m, SEG_F), ==, 0xa5);
    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, PAM0), ==, PAM_RW << 4);
    th_pc_free(m);
}

static void test_pam_16k_segments_switch_independently(void)
{
    struct dm_machine *m = th_pc_new("");

    /* 0xc0000 RAM, 0xc4000 left as (empty) ROM */
    th_pci_writeb(m, HOST_BRIDGE, PAM1, PAM_RW);
    th_writeb(m, SEG_C, 0x12);
    th_writeb(m, SEG_C4, 0x34);
    g_assert_cmphex(th_readb(m, SEG_C), ==, 0x12);
    g_assert_cmphex(th_readb(m, SEG_C4), ==, 0xff);
    th_pc_free(m);
}

static void test_pam_read_only_drops_writes(void)
{
    struct dm_machine *m = th_pc_new("");

    th_pci_writeb(m, HOST_BRIDGE, PAM1, PAM_RW);
    th_writeb(m, SEG_C, 0x11);
    th_pci_writeb(m, HOST_BRIDGE, PAM1, PAM_RO);
    th_writeb(m, SEG_C, 0x22);
    g_assert_cmphex(th_readb(m, SEG_C), ==, 0x11);
    th_pc_free(m);
}

static void test_pam_write_only_reads_rom_writes_ram(void)
{
    struct dm_machine *m = th_pc_new("");
    uint8_t rom = th_readb(m, SEG_F);

    /* SeaBIOS's way of copying itself: write through to RAM... */
    th_pci_writeb(m, HOST_BRIDGE, PAM0, PAM_WO << 4);
    th_writeb(m, SEG_F, (uint8_t)(rom + 1));
    g_assert_cmphex(th_readb(m, SEG_F), ==, rom);
    /* ...then read the copy back from RAM */
    th_pci_writeb(m, HOST_BRIDGE, PAM0, PAM_RO << 4);
    g_assert_cmphex(th_readb(m, SEG_F), ==, (uint8_t)(rom + 1));
    th_pc_free(m);
}

static void test_pam_reset_puts_rom_back(void)
{
    struct dm_machine *m = th_pc_new("");
    uint8_t rom = th_readb(m, SEG_F);

    th_pci_writeb(m, HOST_BRIDGE, PAM0, PAM_RW << 4);
    th_writeb(m, SEG_F, (uint8_t)~rom);
    dm_machine_reset(m);
    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, PAM0), ==, 0);
    g_assert_cmphex(th_readb(m, SEG_F), ==, rom);
    th_pc_free(m);
}

static void test_pam_reserved_bits_read_zero(void)
{
    struct dm_machine *m = th_pc_new("");

    th_pci_writeb(m, HOST_BRIDGE, PAM0, 0xff);
    th_pci_writeb(m, HOST_BRIDGE, PAM1, 0xff);
    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, PAM0), ==, 0x30);
    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, PAM1), ==, 0x33);
    th_pc_free(m);
}

static void test_smram_lock_freezes_register(void)
{
    struct dm_machine *m = th_pc_new("");

    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, SMRAM), ==, SMRAM_RESET);
    th_pci_writeb(m, HOST_BRIDGE, SMRAM, SMRAM_D_OPEN | SMRAM_G_SMRAME);
    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, SMRAM), ==,
                    SMRAM_D_OPEN | SMRAM_G_SMRAME | SMRAM_RESET);

    /* locking closes SMRAM */
    th_pci_writeb(m, HOST_BRIDGE, SMRAM,
                  SMRAM_D_LCK | SMRAM_D_OPEN | SMRAM_G_SMRAME);
    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, SMRAM), ==,
                    SMRAM_D_LCK | SMRAM_G_SMRAME | SMRAM_RESET);
    th_pci_writeb(m, HOST_BRIDGE, SMRAM, SMRAM_D_OPEN);
    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, SMRAM), ==,
                    SMRAM_D_LCK | SMRAM_G_SMRAME | SMRAM_RESET);

    /* only a reset unlocks it */
    dm_machine_reset(m);
    g_assert_cmphex(th_pci_readb(m, HOST_BRIDGE, SMRAM), ==, SMRAM_RESET);
    th_pc_free(m);
}

static void test_pam_state_survives_save_and_load(void)
{
    struct dm_machine *src = th_pc_new("");
    struct dm_machine *dst = th_pc_new("");
    GError *err = NULL;
    GBytes *state;

    th_pci_writeb(src, HOST_BRIDGE, PAM1, PAM_RW);
    th_outl(src, 0xcf8, 0x80000858u); /* CONFIG_ADDRESS: 00.0 reg 0x58 */
    state = dm_machine_save_state(src, &err);
    g_assert_no_error(err);

    g_assert_true(dm_machine_load_state(dst, state, &err));
    g_assert_no_error(err);
    g_assert_cmphex(th_inl(dst, 0xcf8), ==, 0x80000858u);
    th_writeb(dst, SEG_C, 0x77);
    g_assert_cmphex(th_readb(dst, SEG_C), ==, 0x77);
    g_bytes_unref(state);
    th_pc_free(dst);
    th_pc_free(src);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dm_log_set_level(DM_LOG_ERROR);
    g_test_add_func("/pam/reset-reads-bios-rom", test_pam_reset_reads_bios_rom);
    g_test_add_func("/pam/rw-makes-segment-ram", test_pam_rw_makes_segment_ram);
    g_test_add_func("/pam/16k-segments-switch-independently",
                    test_pam_16k_segments_switch_independently);
    g_test_add_func("/pam/read-only-drops-writes",
                    test_pam_read_only_drops_writes);
    g_test_add_func("/pam/write-only-reads-rom-writes-ram",
                    test_pam_write_only_reads_rom_writes_ram);
    g_test_add_func("/pam/reset-puts-rom-back", test_pam_reset_puts_rom_back);
    g_test_add_func("/pam/reserved-bits-read-zero",
                    test_pam_reserved_bits_read_zero);
    g_test_add_func("/pam/smram-lock-freezes-register",
                    test_smram_lock_freezes_register);
    g_test_add_func("/pam/state-survives-save-and-load",
                    test_pam_state_survives_save_and_load);
    return g_test_run();
}
