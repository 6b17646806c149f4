/*
 * test-ide.c: the PIIX3 IDE function and ATA disks as a driver sees them:
 * PCI identity and reset values, IDENTIFY DEVICE, PIO and DMA transfers
 * checked against the image file, the bus-master status bits and IRQ 14,
 * hostile PRD tables, absent devices, software reset, -drive errors, and
 * the bootorder SeaBIOS reads.
 */
#include "hvmdm/config.h"
#include "hvmdm/dev.h"
#include "hvmdm/fw_cfg.h"
#include "hvmdm/machine.h"
#include "test-ide-util.h"

#define PRD_TABLE 0x100000u
#define DMA_BUF 0x200000u
#define DMA_BUF2 0x300000u

struct ti_disk {
    struct dm_machine *m;
    char *img;
};

/* A PC with one test disk as primary master (plus EXTRA options). */
static void disk_setup(struct ti_disk *t, const char *extra)
{
    g_autofree char *args = NULL;

    t->img = ti_make_image(TI_DISK_SECTORS, 512, false);
    args = g_strdup_printf("-m 64 -drive file=%s,format=raw,if=ide,index=0 %s",
                           t->img, extra ? extra : "");
    t->m = th_pc_new(args);
}

static void disk_teardown(struct ti_disk *t)
{
    th_pc_free(t->m);
    ti_remove(t->img);
}

static void check_sector(const uint8_t *buf, uint64_t s)
{
    for (unsigned i = 0; i < 512; i++) {
        if (buf[i] != ti_pattern(s, i, 512)) {
            g_error("sector %" PRIu64 " byte %u: 0x%02x", s, i, buf[i]);
        }
    }
}

static void id_string(const uint16_t *id, unsigned word, unsigned len,
                      char *out)
{
    for (unsigned i = 0; i < len / 2; i++) {
        out[2 * i] = (char)(id[word + i] >> 8);
        out[2 * i + 1] = (char)id[word + i];
    }
    out[len] = '\0';
    g_strchomp(out);
}

/* ---- PCI and reset ------------------------------------------------------ */

static void test_ide_pci_identity_and_bar4(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    g_assert_cmphex(th_pci_readl(t.m, TI_DEVFN, PCI_VENDOR_ID), ==,
                    0x70108086);
    /* mass storage, IDE, prog-if 0x80: legacy mode, bus master */
    g_assert_cmphex(th_pci_readl(t.m, TI_DEVFN, PCI_REVISION_ID) >> 8, ==,
                    0x010180);
    th_pci_writel(t.m, TI_DEVFN, PCI_BASE_ADDRESS_0 + 16, 0xffffffff);
    g_assert_cmphex(th_pci_readl(t.m, TI_DEVFN, PCI_BASE_ADDRESS_0 + 16), ==,
                    0xfffffff1);  /* 16 bytes of I/O */
    /* BAR0-3 unused in legacy mode */
    th_pci_writel(t.m, TI_DEVFN, PCI_BASE_ADDRESS_0, 0xffffffff);
    g_assert_cmphex(th_pci_readl(t.m, TI_DEVFN, PCI_BASE_ADDRESS_0), ==, 0);
    disk_teardown(&t);
}

static void test_ide_reset_values(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    ti_bm_setup(t.m);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_STATUS), ==, ST_DRDY | ST_DSC);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_ERROR), ==, 0x01);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_NSECTOR), ==, 1);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_SECTOR), ==, 1);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_LCYL), ==, 0);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_HCYL), ==, 0);
    g_assert_cmphex(th_inb(t.m, TI_BM + TI_BM_CMD), ==, 0);
    g_assert_cmphex(th_inb(t.m, TI_BM + TI_BM_STATUS), ==, 0);
    g_assert_cmphex(th_inl(t.m, TI_BM + TI_BM_PRD), ==, 0);
    g_assert_cmphex(th_pci_readw(t.m, TI_DEVFN, 0x40), ==, 0); /* IDETIM */
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 0);
    disk_teardown(&t);
}

/* ---- IDENTIFY ----------------------------------------------------------- */

static void test_ide_identify_words(void)
{
    struct ti_disk t;
    uint16_t id[256];
    char model[41], serial[21];
    uint8_t sum = 0;

    disk_setup(&t, NULL);
    g_assert_cmphex(ti_identify(t.m, TI_PRI, TI_PRI_CTL, 0, 0xec, id) &
                        (ST_ERR | ST_DRQ),
                    ==, ST_DRQ);
    id_string(id, 27, 40, model);
    id_string(id, 10, 20, serial);
    g_assert_cmpstr(model, ==, "HVMDM HARDDISK");
    g_assert_cmpuint(strlen(serial), >, 0);
    g_assert_cmphex(id[0], ==, 0x0040);
    g_assert_cmpuint(id[1], ==, TI_DISK_SECTORS / (16 * 63)); /* cylinders */
    g_assert_cmpuint(id[3], ==, 16);
    g_assert_cmpuint(id[6], ==, 63);
    g_assert_cmphex(id[49] & 0x0300, ==, 0x0300);   /* LBA and DMA */
    g_assert_cmpuint(id[60] | (uint32_t)id[61] << 16, ==, TI_DISK_SECTORS);
    g_assert_cmpuint(id[100] | (uint32_t)id[101] << 16, ==, TI_DISK_SECTORS);
    g_assert_cmpuint(id[102] | id[103], ==, 0);
    g_assert_cmphex(id[83] & (1u << 10), ==, 1u << 10); /* LBA48 */
    g_assert_cmphex(id[83] & (3u << 12), ==, 3u << 12); /* FLUSH (EXT) */
    g_assert_cmphex(id[85] & (1u << 5), ==, 1u << 5);   /* write cache on */
    g_assert_cmphex(id[63] & 7, ==, 7);                 /* MWDMA 0-2 */
    g_assert_cmphex(id[88] & 0x3f, ==, 0x3f);           /* UDMA 0-5 */
    g_assert_cmphex(id[169] & 1, ==, 1);                /* TRIM */
    g_assert_cmphex(id[255] & 0xff, ==, 0xa5);
    for (unsigned i = 0; i < 256; i++) {
        sum = (uint8_t)(sum + (id[i] & 0xff) + (id[i] >> 8));
    }
    g_assert_cmpuint(sum, ==, 0);                       /* checksum */
    g_assert_cmphex(th_inb(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC);
    disk_teardown(&t);
}

static void test_ide_set_features_write_cache_off_shows_in_identify(void)
{
    struct ti_disk t;
    uint16_t id[256];

    disk_setup(&t, NULL);
    th_outb(t.m, TI_PRI + TI_FEATURE, 0x82);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xef);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL) & ST_ERR, ==, 0);
    ti_identify(t.m, TI_PRI, TI_PRI_CTL, 0, 0xec, id);
    g_assert_cmphex(id[85] & (1u << 5), ==, 0);
    g_assert_cmphex(id[82] & (1u << 5), ==, 1u << 5);   /* still supported */
    disk_teardown(&t);
}

static void test_ide_standby_then_check_power_mode(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xe0);            /* STANDBY IMM. */
    ti_wait(t.m, TI_PRI_CTL);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xe5);            /* CHECK POWER */
    ti_wait(t.m, TI_PRI_CTL);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_NSECTOR), ==, 0x00);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xe1);            /* IDLE IMM. */
    ti_wait(t.m, TI_PRI_CTL);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xe5);
    ti_wait(t.m, TI_PRI_CTL);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_NSECTOR), ==, 0xff);
    disk_teardown(&t);
}

static void test_ide_unknown_command_aborts(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xa0);  /* PACKET: not for a disk */
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC | ST_ERR);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_ERROR), ==, ERR_ABRT);
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 1);
    disk_teardown(&t);
}

/* ---- PIO ---------------------------------------------------------------- */

static void test_ide_pio_read_sectors_matches_image(void)
{
    struct ti_disk t;
    uint8_t buf[512];

    disk_setup(&t, NULL);
    ti_lba28(t.m, TI_PRI, 0, 5, 3);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0x20);
    for (uint64_t s = 5; s < 8; s++) {
        g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==,
                        ST_DRDY | ST_DSC | ST_DRQ);
        g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 1);
        th_inb(t.m, TI_PRI + TI_STATUS);               /* clears INTRQ */
        g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 0);
        ti_pio_in(t.m, TI_PRI, buf, sizeof(buf));
        check_sector(buf, s);
    }
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC);
    disk_teardown(&t);
}

static void test_ide_pio_write_sectors_reaches_image(void)
{
    struct ti_disk t;
    uint8_t buf[1024], back[1024];

    disk_setup(&t, NULL);
    for (unsigned i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(0x5a ^ i);
    }
    ti_lba28(t.m, TI_PRI, 0, 100, 2);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0x30);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL) & ST_DRQ, ==, ST_DRQ);
    ti_pio_out(t.m, TI_PRI, buf, 512);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL) & ST_DRQ, ==, ST_DRQ);
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 1);
    th_inb(t.m, TI_PRI + TI_STATUS);
    ti_pio_out(t.m, TI_PRI, buf + 512, 512);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC);
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 1);
    ti_file_read(t.img, 100 * 512, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    disk_teardown(&t);
}

static void test_ide_read_multiple_uses_drq_blocks(void)
{
    struct ti_disk t;
    uint8_t buf[4 * 512];

    disk_setup(&t, NULL);
    th_outb(t.m, TI_PRI + TI_NSECTOR, 4);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xc6);            /* SET MULTIPLE */
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL) & ST_ERR, ==, 0);
    ti_lba28(t.m, TI_PRI, 0, 40, 8);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xc4);            /* READ MULTIPLE */
    for (int block = 0; block < 2; block++) {
        g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL) & ST_DRQ, ==, ST_DRQ);
        g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 1);
        th_inb(t.m, TI_PRI + TI_STATUS);
        ti_pio_in(t.m, TI_PRI, buf, sizeof(buf));
        for (int s = 0; s < 4; s++) {
            check_sector(buf + 512 * s, 40 + 4 * block + s);
        }
    }
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC);
    disk_teardown(&t);
}

static void test_ide_read_beyond_end_is_idnf(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    ti_lba28(t.m, TI_PRI, 0, TI_DISK_SECTORS - 1, 2);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0x20);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL) & (ST_ERR | ST_DRQ), ==, ST_ERR);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_ERROR) & ERR_IDNF, ==, ERR_IDNF);
    disk_teardown(&t);
}

static void test_ide_lba48_reads_beyond_lba28(void)
{
    /* 200 GiB, sparse: past the 128 GiB LBA28 limit */
    uint64_t sectors = 200ull * 1024 * 1024 * 2;
    char *img = ti_make_image(sectors, 512, true);
    g_autofree char *args = g_strdup_printf(
        "-m 64 -drive file=%s,format=raw,if=ide,index=0", img);
    struct dm_machine *m = th_pc_new(args);
    uint16_t id[256];
    uint8_t buf[512], pat[512];
    uint64_t lba = sectors - 1;
    int fd;

    ti_identify(m, TI_PRI, TI_PRI_CTL, 0, 0xec, id);
    g_assert_cmphex(id[60] | (uint32_t)id[61] << 16, ==, 0x0fffffff);
    g_assert_cmpuint(id[100] | (uint64_t)id[101] << 16 |
                         (uint64_t)id[102] << 32,
                     ==, sectors);
    memset(pat, 0xc3, sizeof(pat));
    fd = open(img, O_WRONLY);
    g_assert_cmpint(pwrite(fd, pat, 512, (off_t)(lba * 512)), ==, 512);
    close(fd);
    ti_lba48(m, TI_PRI, lba, 1);
    th_outb(m, TI_PRI + TI_COMMAND, 0x24);              /* READ SECTORS EXT */
    g_assert_cmphex(ti_wait(m, TI_PRI_CTL) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    ti_pio_in(m, TI_PRI, buf, sizeof(buf));
    g_assert_cmpmem(buf, 512, pat, 512);
    /* one past the end: ID not found */
    ti_lba48(m, TI_PRI, sectors, 1);
    th_outb(m, TI_PRI + TI_COMMAND, 0x24);
    g_assert_cmphex(ti_wait(m, TI_PRI_CTL) & ST_ERR, ==, ST_ERR);
    th_pc_free(m);
    ti_remove(img);
}

/* ---- DMA ---------------------------------------------------------------- */

static uint8_t start_dma(struct dm_machine *m, uint8_t cmd, bool to_memory)
{
    th_outl(m, TI_BM + TI_BM_PRD, PRD_TABLE);
    th_outb(m, TI_PRI + TI_COMMAND, cmd);
    th_outb(m, TI_BM + TI_BM_CMD,
            (uint8_t)(BM_START | (to_memory ? BM_WRITE_MEM : 0)));
    return ti_bm_wait(m, TI_BM);
}

static void test_ide_read_dma_raises_irq14(void)
{
    struct ti_disk t;
    uint8_t buf[512];
    uint8_t bmst;

    disk_setup(&t, NULL);
    ti_bm_setup(t.m);
    /* 4 sectors split over two descriptors at different places */
    ti_prd(t.m, PRD_TABLE, 0, DMA_BUF, 3 * 512, false);
    ti_prd(t.m, PRD_TABLE, 1, DMA_BUF2, 512, true);
    ti_lba28(t.m, TI_PRI, 0, 9, 4);
    bmst = start_dma(t.m, 0xc8, true);
    g_assert_cmphex(bmst & (BM_INTR | BM_ACTIVE | BM_ERROR), ==, BM_INTR);
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 1);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_STATUS), ==, ST_DRDY | ST_DSC);
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 0);
    for (int s = 0; s < 3; s++) {
        th_memread(t.m, DMA_BUF + 512 * s, buf, sizeof(buf));
        check_sector(buf, 9 + s);
    }
    th_memread(t.m, DMA_BUF2, buf, sizeof(buf));
    check_sector(buf, 12);
    /* the interrupt bit is write-1-to-clear */
    th_outb(t.m, TI_BM + TI_BM_STATUS, BM_INTR);
    g_assert_cmphex(th_inb(t.m, TI_BM + TI_BM_STATUS) & BM_INTR, ==, 0);
    disk_teardown(&t);
}

static void test_ide_write_dma_ext_reaches_image(void)
{
    struct ti_disk t;
    uint8_t buf[2048], back[2048];

    disk_setup(&t, NULL);
    ti_bm_setup(t.m);
    for (unsigned i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 13 + 1);
    }
    th_memwrite(t.m, DMA_BUF, buf, sizeof(buf));
    ti_prd(t.m, PRD_TABLE, 0, DMA_BUF, sizeof(buf), true);
    ti_lba48(t.m, TI_PRI, 1000, 4);
    g_assert_cmphex(start_dma(t.m, 0x35, false) & (BM_INTR | BM_ERROR), ==,
                    BM_INTR);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC);
    ti_file_read(t.img, 1000 * 512, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    disk_teardown(&t);
}

static void test_ide_prd_byte_count_zero_means_64k(void)
{
    struct ti_disk t;
    uint8_t buf[512];

    disk_setup(&t, NULL);
    ti_bm_setup(t.m);
    ti_prd(t.m, PRD_TABLE, 0, DMA_BUF, 0, true);    /* 0: 64 KiB */
    ti_lba28(t.m, TI_PRI, 0, 0, 128);               /* 64 KiB */
    g_assert_cmphex(start_dma(t.m, 0xc8, true) &
                        (BM_INTR | BM_ACTIVE | BM_ERROR),
                    ==, BM_INTR);
    th_memread(t.m, DMA_BUF + 127 * 512, buf, sizeof(buf));
    check_sector(buf, 127);
    disk_teardown(&t);
}

static void test_ide_prd_larger_than_transfer_stays_active(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    ti_bm_setup(t.m);
    ti_prd(t.m, PRD_TABLE, 0, DMA_BUF, 8192, true);
    ti_lba28(t.m, TI_PRI, 0, 0, 1);
    /* SFF-8038i: interrupt with active still set */
    g_assert_cmphex(start_dma(t.m, 0xc8, true) &
                        (BM_INTR | BM_ACTIVE | BM_ERROR),
                    ==, BM_INTR | BM_ACTIVE);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC);
    disk_teardown(&t);
}

static void test_ide_prd_shorter_than_transfer_stops_engine(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    ti_bm_setup(t.m);
    ti_prd(t.m, PRD_TABLE, 0, DMA_BUF, 512, true);
    ti_lba28(t.m, TI_PRI, 0, 0, 2);
    /* no interrupt, not active: the device still wants data */
    g_assert_cmphex(start_dma(t.m, 0xc8, true) &
                        (BM_INTR | BM_ACTIVE | BM_ERROR),
                    ==, 0);
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 0);
    g_assert_cmphex(th_inb(t.m, TI_PRI_CTL) & ST_DRQ, ==, ST_DRQ);
    /* a software reset recovers the channel */
    th_outb(t.m, TI_PRI_CTL, CTL_SRST);
    th_outb(t.m, TI_PRI_CTL, 0);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC);
    disk_teardown(&t);
}

static void test_ide_prd_outside_ram_is_bus_error(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    ti_bm_setup(t.m);
    /* the data buffer lies past the end of RAM (64 MiB) */
    ti_prd(t.m, PRD_TABLE, 0, 0xf0000000u, 512, true);
    ti_lba28(t.m, TI_PRI, 0, 0, 1);
    g_assert_cmphex(start_dma(t.m, 0xc8, true) & (BM_ERROR | BM_ACTIVE), ==,
                    BM_ERROR);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL) & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_ERROR) & ERR_ABRT, ==, ERR_ABRT);
    /* and the table itself outside RAM */
    th_outb(t.m, TI_BM + TI_BM_CMD, 0);
    th_outb(t.m, TI_BM + TI_BM_STATUS, BM_ERROR | BM_INTR);
    th_outl(t.m, TI_BM + TI_BM_PRD, 0xfffffff0u);
    ti_lba28(t.m, TI_PRI, 0, 0, 1);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xc8);
    th_outb(t.m, TI_BM + TI_BM_CMD, BM_START | BM_WRITE_MEM);
    g_assert_cmphex(ti_bm_wait(t.m, TI_BM) & BM_ERROR, ==, BM_ERROR);
    disk_teardown(&t);
}

static void test_ide_dma_without_bus_master_enable_fails(void)
{
    struct ti_disk t;
    uint8_t buf[512], zero[512] = { 0 };

    disk_setup(&t, NULL);
    ti_bm_setup(t.m);
    th_pci_writew(t.m, TI_DEVFN, PCI_COMMAND, PCI_COMMAND_IO);
    ti_prd(t.m, PRD_TABLE, 0, DMA_BUF, 512, true);
    ti_lba28(t.m, TI_PRI, 0, 3, 1);
    g_assert_cmphex(start_dma(t.m, 0xc8, true) & BM_ERROR, ==, BM_ERROR);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL) & ST_ERR, ==, ST_ERR);
    th_memread(t.m, DMA_BUF, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), zero, sizeof(zero));
    disk_teardown(&t);
}

static void test_ide_trim_discards_range(void)
{
    struct ti_disk t;
    uint8_t back[4 * 512], zero[4 * 512] = { 0 };
    uint8_t entry[8] = { 0 };

    disk_setup(&t, NULL);
    ti_bm_setup(t.m);
    /* one range: LBA 64, 4 sectors (48-bit LBA, 16-bit count, LE) */
    entry[0] = 64;
    entry[6] = 4;
    th_memset(t.m, DMA_BUF, 0, 512);
    th_memwrite(t.m, DMA_BUF, entry, sizeof(entry));
    ti_prd(t.m, PRD_TABLE, 0, DMA_BUF, 512, true);
    th_outb(t.m, TI_PRI + TI_FEATURE, 0);
    th_outb(t.m, TI_PRI + TI_FEATURE, 1);               /* TRIM */
    ti_lba48(t.m, TI_PRI, 0, 1);                        /* one block */
    start_dma(t.m, 0x06, false);
    /* the discard runs after the data phase: wait for the device */
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC);
    g_assert_cmphex(th_inb(t.m, TI_BM + TI_BM_STATUS) & (BM_INTR | BM_ERROR),
                    ==, BM_INTR);
    ti_file_read(t.img, 64 * 512, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), zero, sizeof(zero));
    ti_file_read(t.img, 68 * 512, back, 512);
    check_sector(back, 68);
    disk_teardown(&t);
}

/* ---- channel behaviour -------------------------------------------------- */

static void test_ide_absent_slave_reads_zero(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    th_outb(t.m, TI_PRI + TI_SELECT, 0xa0 | SEL_SLAVE);
    th_outb(t.m, TI_PRI + TI_NSECTOR, 0x55);
    th_outb(t.m, TI_PRI + TI_SECTOR, 0xaa);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_NSECTOR), ==, 0);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_SECTOR), ==, 0);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_STATUS), ==, 0);
    g_assert_cmphex(th_inb(t.m, TI_PRI_CTL), ==, 0);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xec);    /* ignored */
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 0);
    /* the master still answers, with the values written to both */
    th_outb(t.m, TI_PRI + TI_SELECT, 0xa0);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_NSECTOR), ==, 0x55);
    /* an empty channel reads 0 too */
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_STATUS), ==, 0);
    disk_teardown(&t);
}

static void test_ide_software_reset_gives_ata_signature(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    ti_lba28(t.m, TI_PRI, 0, 0x123456, 9);
    th_outb(t.m, TI_PRI_CTL, CTL_SRST);
    g_assert_cmphex(th_inb(t.m, TI_PRI_CTL) & ST_BSY, ==, ST_BSY);
    th_outb(t.m, TI_PRI_CTL, 0);
    g_assert_cmphex(ti_wait(t.m, TI_PRI_CTL), ==, ST_DRDY | ST_DSC);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_ERROR), ==, 0x01);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_NSECTOR), ==, 1);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_SECTOR), ==, 1);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_LCYL), ==, 0);
    g_assert_cmphex(th_inb(t.m, TI_PRI + TI_HCYL), ==, 0);
    disk_teardown(&t);
}

static void test_ide_nien_masks_irq14(void)
{
    struct ti_disk t;

    disk_setup(&t, NULL);
    th_outb(t.m, TI_PRI_CTL, CTL_NIEN);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xe7);            /* FLUSH CACHE */
    ti_wait(t.m, TI_PRI_CTL);
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 0);
    th_outb(t.m, TI_PRI_CTL, 0);                        /* pending shows */
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_PRI), ==, 1);
    disk_teardown(&t);
}

static void test_ide_state_survives_save_and_load(void)
{
    struct ti_disk t;
    g_autofree char *args = NULL;
    struct dm_machine *m2;
    GError *err = NULL;
    GBytes *state;
    uint16_t id[256];

    disk_setup(&t, NULL);
    th_outb(t.m, TI_PRI + TI_NSECTOR, 8);
    th_outb(t.m, TI_PRI + TI_COMMAND, 0xc6);            /* SET MULTIPLE 8 */
    ti_wait(t.m, TI_PRI_CTL);
    ti_bm_setup(t.m);
    th_outl(t.m, TI_BM + TI_BM_PRD, 0x12345678);
    state = dm_machine_save_state(t.m, &err);
    g_assert_no_error(err);
    args = g_strdup_printf("-m 64 -drive file=%s,format=raw,if=ide,index=0",
                           t.img);
    m2 = th_pc_new(args);
    g_assert_true(dm_machine_load_state(m2, state, &err));
    g_assert_no_error(err);
    g_assert_cmphex(th_inl(m2, TI_BM + TI_BM_PRD), ==, 0x12345678);
    ti_identify(m2, TI_PRI, TI_PRI_CTL, 0, 0xec, id);
    g_assert_cmphex(id[59], ==, 0x100 | 8);
    g_bytes_unref(state);
    th_pc_free(m2);
    disk_teardown(&t);
}

/* ---- options and boot order --------------------------------------------- */

static char *parse_error(const char *args)
{
    g_auto(GStrv) argv = NULL;
    struct dm_config *cfg = dm_config_new();
    GError *err = NULL;
    bool exit_now;
    int argc;
    char *msg;

    g_assert_true(g_shell_parse_argv(args, &argc, &argv, NULL));
    g_assert_false(dm_config_parse_argv(cfg, argc, argv, &exit_now, &err));
    g_assert_nonnull(err);
    msg = g_strdup(err->message);
    g_error_free(err);
    dm_config_free(cfg);
    return msg;
}

static void test_ide_bad_drive_options_name_the_option(void)
{
    static const struct {
        const char *args, *expect;
    } cases[] = {
        { "-drive file=a.img,colour=red", "colour" },
        { "-drive file=a.img,if=scsi", "if=scsi" },
        { "-drive file=a.img,media=tape", "media=tape" },
        { "-drive file=a.img,index=4", "index=4" },
        { "-drive file=a.img,format=vhdx", "format=vhdx" },
        { "-drive file=a.img,cache=sometimes", "cache" },
        { "-drive file=a.img,werror=panic", "werror=panic" },
        { "-drive file=a.img,snapshot=on", "not supported yet" },
        { "-drive if=ide,media=disk", "missing file=" },
        { "-drive file=a.img,index=1,unit=0", "index=" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *msg = parse_error(cases[i].args);

        g_test_message("%s -> %s", cases[i].args, msg);
        g_assert_true(g_str_has_prefix(msg, "-drive "));
        g_assert_nonnull(strstr(msg, cases[i].expect));
        g_assert_null(strchr(msg, '\n'));
    }
}

static void test_ide_missing_image_names_the_option(void)
{
    struct dm_machine *m = th_machine_new("-hda /nonexistent/disk.img");
    GError *err = NULL;

    g_assert_false(dm_pc_init(m, &err));
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(err->message, "-hda /nonexistent/disk.img: "));
    g_error_free(err);
    th_pc_free(m);
}

static void test_ide_cdrom_and_hdc_conflict(void)
{
    char *img = ti_make_image(8, 512, false);
    g_autofree char *args = g_strdup_printf("-hdc %s -cdrom %s", img, img);
    struct dm_machine *m = th_machine_new(args);
    GError *err = NULL;

    g_assert_false(dm_pc_init(m, &err));
    g_assert_nonnull(strstr(err->message, "already used by -hdc"));
    g_error_free(err);
    th_pc_free(m);
    ti_remove(img);
}

static void test_ide_boot_d_writes_cd_bootorder(void)
{
    char *disk = ti_make_image(64, 512, false);
    char *cd = ti_make_image(TI_CD_SECTORS, 2048, false);
    g_autofree char *args = g_strdup_printf(
        "-drive file=%s,format=raw -cdrom %s -boot d", disk, cd);
    struct dm_machine *m = th_pc_new(args);
    size_t len = 0;
    const char *bo = dm_fw_cfg_file(m->fw_cfg, "bootorder", &len);

    g_assert_nonnull(bo);
    g_assert_cmpuint(len, ==, strlen(bo) + 1);
    g_assert_cmpstr(bo, ==, "/pci@i0cf8/ide@1,1/drive@1/disk@0");
    /* CMOS: the CD first */
    th_outb(m, 0x70, 0x3d);
    g_assert_cmphex(th_inb(m, 0x71) & 0x0f, ==, 3);
    th_pc_free(m);
    ti_remove(disk);
    ti_remove(cd);
}

static void test_ide_device_ide_hd_with_bootindex(void)
{
    char *img = ti_make_image(TI_DISK_SECTORS, 512, false);
    char *cd = ti_make_image(TI_CD_SECTORS, 2048, false);
    g_autofree char *args = g_strdup_printf(
        "-cdrom %s -drive if=none,id=d0,file=%s,format=raw "
        "-device ide-hd,drive=d0,bus=ide.1,unit=1,bootindex=1 -boot dc",
        cd, img);
    struct dm_machine *m = th_pc_new(args);  /* -device included */
    uint16_t id[256];
    char model[41];
    const char *bo;

    g_assert_cmphex(ti_identify(m, TI_SEC, TI_SEC_CTL, 1, 0xec, id) & ST_ERR,
                    ==, 0);
    id_string(id, 27, 40, model);
    g_assert_cmpstr(model, ==, "HVMDM HARDDISK");
    bo = dm_fw_cfg_file(m->fw_cfg, "bootorder", NULL);
    g_assert_cmpstr(bo, ==,
                    "/pci@i0cf8/ide@1,1/drive@1/disk@1\n"
                    "/pci@i0cf8/ide@1,1/drive@1/disk@0");
    th_pc_free(m);
    ti_remove(img);
    ti_remove(cd);
}

static void test_ide_device_drive_used_twice_is_refused(void)
{
    char *img = ti_make_image(64, 512, false);
    g_autofree char *args = g_strdup_printf(
        "-drive if=none,id=d0,file=%s,format=raw -device ide-hd,drive=d0 "
        "-device ide-hd,drive=d0", img);
    struct dm_machine *m = th_machine_new(args);
    GError *err = NULL;

    g_assert_true(dm_pc_init(m, &err));
    g_assert_false(dm_machine_add_user_devices(m, &err));
    g_assert_nonnull(strstr(err->message, "already used"));
    g_error_free(err);
    th_pc_free(m);
    ti_remove(img);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ide/pci-identity-and-bar4",
                    test_ide_pci_identity_and_bar4);
    g_test_add_func("/ide/reset-values", test_ide_reset_values);
    g_test_add_func("/ide/identify-words", test_ide_identify_words);
    g_test_add_func("/ide/set-features-write-cache-off",
                    test_ide_set_features_write_cache_off_shows_in_identify);
    g_test_add_func("/ide/standby-then-check-power-mode",
                    test_ide_standby_then_check_power_mode);
    g_test_add_func("/ide/unknown-command-aborts",
                    test_ide_unknown_command_aborts);
    g_test_add_func("/ide/pio-read-sectors-matches-image",
                    test_ide_pio_read_sectors_matches_image);
    g_test_add_func("/ide/pio-write-sectors-reaches-image",
                    test_ide_pio_write_sectors_reaches_image);
    g_test_add_func("/ide/read-multiple-uses-drq-blocks",
                    test_ide_read_multiple_uses_drq_blocks);
    g_test_add_func("/ide/read-beyond-end-is-idnf",
                    test_ide_read_beyond_end_is_idnf);
    g_test_add_func("/ide/lba48-reads-beyond-lba28",
                    test_ide_lba48_reads_beyond_lba28);
    g_test_add_func("/ide/read-dma-raises-irq14",
                    test_ide_read_dma_raises_irq14);
    g_test_add_func("/ide/write-dma-ext-reaches-image",
                    test_ide_write_dma_ext_reaches_image);
    g_test_add_func("/ide/prd-byte-count-zero-means-64k",
                    test_ide_prd_byte_count_zero_means_64k);
    g_test_add_func("/ide/prd-larger-than-transfer-stays-active",
                    test_ide_prd_larger_than_transfer_stays_active);
    g_test_add_func("/ide/prd-shorter-than-transfer-stops-engine",
                    test_ide_prd_shorter_than_transfer_stops_engine);
    g_test_add_func("/ide/prd-outside-ram-is-bus-error",
                    test_ide_prd_outside_ram_is_bus_error);
    g_test_add_func("/ide/dma-without-bus-master-enable-fails",
                    test_ide_dma_without_bus_master_enable_fails);
    g_test_add_func("/ide/trim-discards-range", test_ide_trim_discards_range);
    g_test_add_func("/ide/absent-slave-reads-zero",
                    test_ide_absent_slave_reads_zero);
    g_test_add_func("/ide/software-reset-gives-ata-signature",
                    test_ide_software_reset_gives_ata_signature);
    g_test_add_func("/ide/nien-masks-irq14", test_ide_nien_masks_irq14);
    g_test_add_func("/ide/state-survives-save-and-load",
                    test_ide_state_survives_save_and_load);
    g_test_add_func("/ide/bad-drive-options-name-the-option",
                    test_ide_bad_drive_options_name_the_option);
    g_test_add_func("/ide/missing-image-names-the-option",
                    test_ide_missing_image_names_the_option);
    g_test_add_func("/ide/cdrom-and-hdc-conflict",
                    test_ide_cdrom_and_hdc_conflict);
    g_test_add_func("/ide/boot-d-writes-cd-bootorder",
                    test_ide_boot_d_writes_cd_bootorder);
    g_test_add_func("/ide/device-ide-hd-with-bootindex",
                    test_ide_device_ide_hd_with_bootindex);
    g_test_add_func("/ide/device-drive-used-twice-is-refused",
                    test_ide_device_drive_used_twice_is_refused);
    return g_test_run();
}
