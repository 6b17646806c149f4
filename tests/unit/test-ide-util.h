/*
 * test-ide-util.h: helpers for the IDE and ATAPI tests: images made at run
 * time with a known pattern, the PIIX3 IDE function's bus master set up at
 * a fixed port, waiting for asynchronous completions (bounded), PIO and
 * ATAPI packet transfers as a driver does them.
 */
#ifndef HVMDM_TEST_IDE_UTIL_H
#define HVMDM_TEST_IDE_UTIL_H

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "harness.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/pci.h"

#define TI_DEVFN PCI_DEVFN(1, 1)
#define TI_PRI 0x1f0
#define TI_PRI_CTL 0x3f6
#define TI_SEC 0x170
#define TI_SEC_CTL 0x376
#define TI_BM 0xc000        /* BAR4 as these tests program it */
#define TI_BM_CMD 0
#define TI_BM_STATUS 2
#define TI_BM_PRD 4
#define TI_IRQ_PRI 14
#define TI_IRQ_SEC 15

/* Task file offsets and bits (ATA-7 section 6). */
#define TI_DATA 0
#define TI_ERROR 1
#define TI_FEATURE 1
#define TI_NSECTOR 2
#define TI_SECTOR 3
#define TI_LCYL 4
#define TI_HCYL 5
#define TI_SELECT 6
#define TI_STATUS 7
#define TI_COMMAND 7
#define ST_BSY 0x80
#define ST_DRDY 0x40
#define ST_DSC 0x10
#define ST_DRQ 0x08
#define ST_ERR 0x01
#define ERR_ABRT 0x04
#define ERR_IDNF 0x10
#define CTL_NIEN 0x02
#define CTL_SRST 0x04
#define SEL_LBA 0x40
#define SEL_SLAVE 0x10

#define BM_START 0x01
#define BM_WRITE_MEM 0x08   /* device-to-memory (READ DMA) */
#define BM_ACTIVE 0x01
#define BM_ERROR 0x02
#define BM_INTR 0x04

#define TI_DISK_SECTORS 2048u /* 1 MiB test disk */
#define TI_CD_SECTORS 64u     /* 128 KiB test CD */

/* Byte I of sector S of a test image (sector size SS). */
static inline uint8_t ti_pattern(uint64_t s, unsigned i, unsigned ss)
{
    return (uint8_t)(s * 7 + i + (ss == 2048 ? 3 : 0));
}

/* A temporary image of SECTORS sectors of SS bytes holding the pattern, or
 * sparse (all zero) when SPARSE. Returns its path (g_free, unlink). */
static inline char *ti_make_image(uint64_t sectors, unsigned ss, bool sparse)
{
    GError *err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("hvmdm-ide-XXXXXX.img", &path, &err);
    uint8_t *buf = g_malloc(ss);

    g_assert_no_error(err);
    g_assert_cmpint(ftruncate(fd, (off_t)(sectors * ss)), ==, 0);
    for (uint64_t s = 0; !sparse && s < sectors; s++) {
        for (unsigned i = 0; i < ss; i++) {
            buf[i] = ti_pattern(s, i, ss);
        }
        g_assert_cmpint(pwrite(fd, buf, ss, (off_t)(s * ss)), ==, (ssize_t)ss);
    }
    g_free(buf);
    close(fd);
    return path;
}

static inline void ti_file_read(const char *path, uint64_t off, void *buf,
                                size_t len)
{
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, (off_t)off), ==, (ssize_t)len);
    close(fd);
}

static inline void ti_remove(char *path)
{
    g_unlink(path);
    g_free(path);
}

/* Run the main loop until COND_FN is true; bounded so a broken device
 * fails the test instead of hanging it. */
static inline void ti_poll(bool (*cond)(struct dm_machine *m, uint16_t p),
                           struct dm_machine *m, uint16_t port)
{
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

    while (!cond(m, port)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (!dm_main_loop_iterate(false)) {
            g_usleep(50);
        }
    }
}

static inline bool ti_not_busy(struct dm_machine *m, uint16_t ctl)
{
    return !(th_inb(m, ctl) & ST_BSY);
}

/* Wait for BSY to clear; returns the alternate status. */
static inline uint8_t ti_wait(struct dm_machine *m, uint16_t ctl)
{
    ti_poll(ti_not_busy, m, ctl);
    return th_inb(m, ctl);
}

static inline bool ti_bm_settled(struct dm_machine *m, uint16_t bm)
{
    uint8_t st = th_inb(m, bm + TI_BM_STATUS);

    return (st & (BM_INTR | BM_ERROR)) || !(st & BM_ACTIVE);
}

/* Wait for the bus master to interrupt, fail or stop. */
static inline uint8_t ti_bm_wait(struct dm_machine *m, uint16_t bm)
{
    ti_poll(ti_bm_settled, m, bm);
    return th_inb(m, bm + TI_BM_STATUS);
}

/* BAR4 at TI_BM, I/O decode and bus mastering on. */
static inline void ti_bm_setup(struct dm_machine *m)
{
    th_pci_writel(m, TI_DEVFN, PCI_BASE_ADDRESS_0 + 16, TI_BM | 1);
    th_pci_writew(m, TI_DEVFN, PCI_COMMAND,
                  PCI_COMMAND_IO | PCI_COMMAND_MASTER);
}

/* One PRD entry at TABLE + 8 * N. */
static inline void ti_prd(struct dm_machine *m, uint64_t table, unsigned n,
                          uint32_t addr, uint32_t count, bool eot)
{
    th_writel(m, table + 8 * n, addr);
    th_writel(m, table + 8 * n + 4, (count & 0xffff) | (eot ? 0x80000000u : 0));
}

/* LBA28 task file for device UNIT of the channel at BASE. */
static inline void ti_lba28(struct dm_machine *m, uint16_t base, int unit,
                            uint32_t lba, uint8_t count)
{
    th_outb(m, base + TI_SELECT,
            (uint8_t)(0xa0 | SEL_LBA | (unit ? SEL_SLAVE : 0) |
                      ((lba >> 24) & 0x0f)));
    th_outb(m, base + TI_NSECTOR, count);
    th_outb(m, base + TI_SECTOR, (uint8_t)lba);
    th_outb(m, base + TI_LCYL, (uint8_t)(lba >> 8));
    th_outb(m, base + TI_HCYL, (uint8_t)(lba >> 16));
}

static inline void ti_lba48(struct dm_machine *m, uint16_t base, uint64_t lba,
                            uint16_t count)
{
    th_outb(m, base + TI_SELECT, 0xa0 | SEL_LBA);
    th_outb(m, base + TI_NSECTOR, (uint8_t)(count >> 8));
    th_outb(m, base + TI_SECTOR, (uint8_t)(lba >> 24));
    th_outb(m, base + TI_LCYL, (uint8_t)(lba >> 32));
    th_outb(m, base + TI_HCYL, (uint8_t)(lba >> 40));
    th_outb(m, base + TI_NSECTOR, (uint8_t)count);
    th_outb(m, base + TI_SECTOR, (uint8_t)lba);
    th_outb(m, base + TI_LCYL, (uint8_t)(lba >> 8));
    th_outb(m, base + TI_HCYL, (uint8_t)(lba >> 16));
}

/* Read LEN bytes of PIO data (16-bit accesses). */
static inline void ti_pio_in(struct dm_machine *m, uint16_t base, void *buf,
                             size_t len)
{
    uint8_t *p = buf;

    for (size_t i = 0; i < len; i += 2) {
        uint16_t w = th_inw(m, base + TI_DATA);

        p[i] = (uint8_t)w;
        if (i + 1 < len) {
            p[i + 1] = (uint8_t)(w >> 8);
        }
    }
}

static inline void ti_pio_out(struct dm_machine *m, uint16_t base,
                              const void *buf, size_t len)
{
    const uint8_t *p = buf;

    for (size_t i = 0; i < len; i += 2) {
        th_outw(m, base + TI_DATA, (uint16_t)(p[i] | p[i + 1] << 8));
    }
}

/* IDENTIFY (DEVICE or PACKET DEVICE with CMD) into ID; returns status. */
static inline uint8_t ti_identify(struct dm_machine *m, uint16_t base,
                                  uint16_t ctl, int unit, uint8_t cmd,
                                  uint16_t *id)
{
    uint8_t st;

    th_outb(m, base + TI_SELECT, (uint8_t)(0xa0 | (unit ? SEL_SLAVE : 0)));
    th_outb(m, base + TI_COMMAND, cmd);
    st = ti_wait(m, ctl);
    if (st & ST_DRQ) {
        ti_pio_in(m, base, id, 512);
    }
    return st;
}

/* ---- ATAPI ------------------------------------------------------------- */

/* Send a 12-byte packet to the selected device with byte count limit BCL
 * (DMA when DMA); returns the status after the packet was taken. */
static inline uint8_t ti_packet(struct dm_machine *m, uint16_t base,
                                uint16_t ctl, const uint8_t *cdb,
                                uint16_t bcl, bool dma)
{
    uint8_t st;

    th_outb(m, base + TI_FEATURE, dma ? 1 : 0);
    th_outb(m, base + TI_LCYL, (uint8_t)bcl);
    th_outb(m, base + TI_HCYL, (uint8_t)(bcl >> 8));
    th_outb(m, base + TI_COMMAND, 0xa0);
    st = th_inb(m, ctl);
    g_assert_cmphex(st & ST_DRQ, ==, ST_DRQ);
    g_assert_cmphex(th_inb(m, base + TI_NSECTOR) & 3, ==, 1); /* CoD */
    ti_pio_out(m, base, cdb, 12);
    return ti_wait(m, ctl);
}

/* Read the PIO data phase of the current packet command into BUF (at most
 * MAX bytes); returns the byte count, records each DRQ chunk's size in
 * CHUNKS (may be NULL). Ends at the completion status. */
static inline size_t ti_atapi_data_in(struct dm_machine *m, uint16_t base,
                                      uint16_t ctl, void *buf, size_t max,
                                      GArray *chunks)
{
    uint8_t *p = buf;
    size_t total = 0;
    uint8_t st = ti_wait(m, ctl);

    while (st & ST_DRQ) {
        size_t n = (size_t)(th_inb(m, base + TI_LCYL) |
                            th_inb(m, base + TI_HCYL) << 8);

        g_assert_cmphex(th_inb(m, base + TI_NSECTOR) & 3, ==, 2); /* I/O */
        g_assert_cmpuint(total + n, <=, max);
        th_inb(m, base + TI_STATUS);  /* acknowledge the interrupt */
        ti_pio_in(m, base, p + total, n);
        total += n;
        if (chunks) {
            unsigned c = (unsigned)n;

            g_array_append_val(chunks, c);
        }
        st = ti_wait(m, ctl);
    }
    return total;
}

/* REQUEST SENSE: returns key << 16 | asc << 8 | ascq. */
static inline uint32_t ti_sense(struct dm_machine *m, uint16_t base,
                                uint16_t ctl)
{
    uint8_t cdb[12] = { 0x03, 0, 0, 0, 18 };
    uint8_t s[18] = { 0 };

    ti_packet(m, base, ctl, cdb, 18, false);
    g_assert_cmpuint(ti_atapi_data_in(m, base, ctl, s, sizeof(s), NULL), ==,
                     18);
    return (uint32_t)(s[2] & 0x0f) << 16 | (uint32_t)s[12] << 8 | s[13];
}

#endif
