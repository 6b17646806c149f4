/*
 * test-atapi.c: the ATAPI CD/DVD-ROM as the secondary master (-cdrom), seen
 * through the PACKET protocol: signature, IDENTIFY PACKET DEVICE, INQUIRY,
 * READ CAPACITY, READ(10) by PIO under a byte count limit and by DMA, READ
 * TOC, sense data, media change, tray locking and hostile lengths.
 */
#include "hvmdm/ide.h"
#include "hvmdm/machine.h"
#include "test-ide-util.h"

#define PRD_TABLE 0x100000u
#define DMA_BUF 0x200000u

#define SENSE(key, asc, ascq) ((uint32_t)(key) << 16 | (asc) << 8 | (ascq))

struct ti_cd {
    struct dm_machine *m;
    char *iso;
};

static void cd_setup(struct ti_cd *t)
{
    g_autofree char *args = NULL;

    t->iso = ti_make_image(TI_CD_SECTORS, 2048, false);
    args = g_strdup_printf("-m 64 -cdrom %s", t->iso);
    t->m = th_pc_new(args);
    th_outb(t->m, TI_SEC + TI_SELECT, 0xa0);
}

static void cd_teardown(struct ti_cd *t)
{
    th_pc_free(t->m);
    ti_remove(t->iso);
}

static uint8_t cd_cmd(struct ti_cd *t, const uint8_t *cdb, uint16_t bcl)
{
    return ti_packet(t->m, TI_SEC, TI_SEC_CTL, cdb, bcl, false);
}

static size_t cd_data(struct ti_cd *t, void *buf, size_t max)
{
    return ti_atapi_data_in(t->m, TI_SEC, TI_SEC_CTL, buf, max, NULL);
}

static uint32_t cd_sense(struct ti_cd *t)
{
    return ti_sense(t->m, TI_SEC, TI_SEC_CTL);
}

/* TEST UNIT READY: 0 when ready, else the sense it reports. */
static uint32_t cd_tur(struct ti_cd *t)
{
    static const uint8_t tur[12] = { 0x00 };
    uint8_t st = cd_cmd(t, tur, 0);

    return (st & ST_ERR) ? cd_sense(t) : 0;
}

static void check_cd_sector(const uint8_t *buf, uint32_t s)
{
    for (unsigned i = 0; i < 2048; i++) {
        if (buf[i] != ti_pattern(s, i, 2048)) {
            g_error("CD sector %u byte %u: 0x%02x", s, i, buf[i]);
        }
    }
}

static void test_atapi_signature_after_reset(void)
{
    struct ti_cd t;

    cd_setup(&t);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_LCYL), ==, 0x14);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_HCYL), ==, 0xeb);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_NSECTOR), ==, 1);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_SECTOR), ==, 1);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_STATUS), ==, 0);
    /* again after a software reset */
    th_outb(t.m, TI_SEC_CTL, CTL_SRST);
    th_outb(t.m, TI_SEC_CTL, 0);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_LCYL), ==, 0x14);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_HCYL), ==, 0xeb);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_ERROR), ==, 0x01);
    cd_teardown(&t);
}

static void test_atapi_identify_device_aborts_with_signature(void)
{
    struct ti_cd t;
    uint16_t id[256];

    cd_setup(&t);
    th_outb(t.m, TI_SEC + TI_LCYL, 0);
    g_assert_cmphex(ti_identify(t.m, TI_SEC, TI_SEC_CTL, 0, 0xec, id) & ST_ERR,
                    ==, ST_ERR);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_ERROR), ==, ERR_ABRT);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_LCYL), ==, 0x14);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_HCYL), ==, 0xeb);
    cd_teardown(&t);
}

static void test_atapi_identify_packet_device(void)
{
    struct ti_cd t;
    uint16_t id[256];
    char model[41];

    cd_setup(&t);
    g_assert_cmphex(ti_identify(t.m, TI_SEC, TI_SEC_CTL, 0, 0xa1, id) &
                        (ST_ERR | ST_DRQ),
                    ==, ST_DRQ);
    for (int i = 0; i < 20; i++) {
        model[2 * i] = (char)(id[27 + i] >> 8);
        model[2 * i + 1] = (char)id[27 + i];
    }
    model[40] = '\0';
    g_strchomp(model);
    g_assert_cmpstr(model, ==, "HVMDM DVD-ROM");
    g_assert_cmphex(id[0] >> 14, ==, 2);            /* ATAPI */
    g_assert_cmphex((id[0] >> 8) & 0x1f, ==, 5);    /* CD-ROM */
    g_assert_cmphex(id[0] & 0x80, ==, 0x80);        /* removable */
    g_assert_cmphex(id[0] & 3, ==, 0);              /* 12-byte packets */
    g_assert_cmphex(id[49] & 0x0300, ==, 0x0300);   /* LBA, DMA */
    cd_teardown(&t);
}

static void test_atapi_inquiry(void)
{
    static const uint8_t cdb[12] = { 0x12, 0, 0, 0xff, 0xff };
    struct ti_cd t;
    uint8_t buf[256];

    cd_setup(&t);
    g_assert_cmphex(cd_cmd(&t, cdb, 0xfffe) & ST_ERR, ==, 0);
    /* a huge allocation length still gets the 36 bytes there are */
    g_assert_cmpuint(cd_data(&t, buf, sizeof(buf)), ==, 36);
    g_assert_cmphex(buf[0], ==, 0x05);              /* CD/DVD */
    g_assert_cmphex(buf[1], ==, 0x80);              /* removable */
    g_assert_cmpmem(buf + 8, 5, "HVMDM", 5);
    g_assert_cmpmem(buf + 16, 13, "HVMDM DVD-ROM", 13);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_NSECTOR) & 3, ==, 3);
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_SEC), ==, 1);
    cd_teardown(&t);
}

static void test_atapi_read_capacity(void)
{
    static const uint8_t cdb[12] = { 0x25 };
    struct ti_cd t;
    uint8_t buf[8];

    cd_setup(&t);
    g_assert_cmpuint(cd_tur(&t), ==, 0);
    cd_cmd(&t, cdb, 8);
    g_assert_cmpuint(cd_data(&t, buf, sizeof(buf)), ==, 8);
    g_assert_cmpuint(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3], ==,
                     TI_CD_SECTORS - 1);
    g_assert_cmpuint(buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7], ==,
                     2048);
    cd_teardown(&t);
}

static void test_atapi_read10_pio_honours_byte_count_limit(void)
{
    /* READ(10): LBA 5, 3 sectors */
    static const uint8_t cdb[12] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 3 };
    struct ti_cd t;
    g_autofree uint8_t *buf = g_malloc(3 * 2048);
    g_autoptr(GArray) chunks = g_array_new(FALSE, FALSE, sizeof(unsigned));

    cd_setup(&t);
    /* an odd limit: chunks are cut to the even 1000 */
    ti_packet(t.m, TI_SEC, TI_SEC_CTL, cdb, 1001, false);
    g_assert_cmpuint(ti_atapi_data_in(t.m, TI_SEC, TI_SEC_CTL, buf, 3 * 2048,
                                      chunks),
                     ==, 3 * 2048);
    for (guint i = 0; i < chunks->len; i++) {
        g_assert_cmpuint(g_array_index(chunks, unsigned, i), <=, 1000);
        g_assert_cmpuint(g_array_index(chunks, unsigned, i) % 2, ==, 0);
    }
    g_assert_cmpuint(chunks->len, >=, 7);
    for (uint32_t s = 0; s < 3; s++) {
        check_cd_sector(buf + 2048 * s, 5 + s);
    }
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_STATUS) & (ST_ERR | ST_DRQ), ==,
                    0);
    cd_teardown(&t);
}

static void test_atapi_byte_count_limit_zero_still_transfers(void)
{
    static const uint8_t cdb[12] = { 0x28, 0, 0, 0, 0, 1, 0, 0, 1 };
    struct ti_cd t;
    uint8_t buf[2048];

    cd_setup(&t);
    ti_packet(t.m, TI_SEC, TI_SEC_CTL, cdb, 0, false);
    g_assert_cmpuint(cd_data(&t, buf, sizeof(buf)), ==, 2048);
    check_cd_sector(buf, 1);
    cd_teardown(&t);
}

static void test_atapi_read10_dma(void)
{
    static const uint8_t cdb[12] = { 0x28, 0, 0, 0, 0, 10, 0, 0, 2 };
    struct ti_cd t;
    uint8_t buf[2048];

    cd_setup(&t);
    ti_bm_setup(t.m);
    ti_prd(t.m, PRD_TABLE, 0, DMA_BUF, 2 * 2048, true);
    th_outl(t.m, TI_BM + 8 + TI_BM_PRD, PRD_TABLE);
    th_outb(t.m, TI_BM + 8 + TI_BM_CMD, BM_START | BM_WRITE_MEM);
    ti_packet(t.m, TI_SEC, TI_SEC_CTL, cdb, 0, true);
    g_assert_cmphex(ti_bm_wait(t.m, TI_BM + 8) &
                        (BM_INTR | BM_ERROR | BM_ACTIVE),
                    ==, BM_INTR);
    g_assert_cmpint(th_irq_level(t.m, TI_IRQ_SEC), ==, 1);
    g_assert_cmphex(ti_wait(t.m, TI_SEC_CTL) & (ST_ERR | ST_DRQ), ==, 0);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_NSECTOR) & 3, ==, 3);
    for (uint32_t s = 0; s < 2; s++) {
        th_memread(t.m, DMA_BUF + 2048 * s, buf, sizeof(buf));
        check_cd_sector(buf, 10 + s);
    }
    cd_teardown(&t);
}

static void test_atapi_read_toc_lba_and_msf(void)
{
    /* format 0, track 1, allocation 0x100 */
    uint8_t cdb[12] = { 0x43, 0, 0, 0, 0, 0, 1, 0x01, 0x00 };
    struct ti_cd t;
    uint8_t buf[64];

    cd_setup(&t);
    cd_cmd(&t, cdb, 0xfffe);
    g_assert_cmpuint(cd_data(&t, buf, sizeof(buf)), ==, 4 + 2 * 8);
    g_assert_cmpuint(buf[0] << 8 | buf[1], ==, 18);
    g_assert_cmpuint(buf[2], ==, 1);
    g_assert_cmpuint(buf[3], ==, 1);
    g_assert_cmphex(buf[5], ==, 0x14);              /* data track */
    g_assert_cmpuint(buf[6], ==, 1);
    g_assert_cmpuint(buf[14], ==, 0xaa);            /* lead-out */
    g_assert_cmpuint(buf[16] << 24 | buf[17] << 16 | buf[18] << 8 | buf[19],
                     ==, TI_CD_SECTORS);
    /* MSF: lead-out at LBA 64 + 150 frames = 00:02:64 */
    cdb[1] = 0x02;
    cd_cmd(&t, cdb, 0xfffe);
    g_assert_cmpuint(cd_data(&t, buf, sizeof(buf)), ==, 20);
    g_assert_cmpuint(buf[17], ==, 0);
    g_assert_cmpuint(buf[18], ==, 2);
    g_assert_cmpuint(buf[19], ==, 64);
    g_assert_cmpuint(buf[9], ==, 0);                /* track 1: 00:02:00 */
    g_assert_cmpuint(buf[10], ==, 2);
    g_assert_cmpuint(buf[11], ==, 0);
    /* raw TOC (format 2): A0, A1, A2 and track 1 */
    cdb[1] = 0;
    cdb[2] = 2;
    cd_cmd(&t, cdb, 0xfffe);
    g_assert_cmpuint(cd_data(&t, buf, sizeof(buf)), ==, 4 + 4 * 11);
    g_assert_cmphex(buf[4 + 3], ==, 0xa0);
    g_assert_cmphex(buf[4 + 11 * 2 + 3], ==, 0xa2);
    cd_teardown(&t);
}

static void test_atapi_request_sense_after_bad_opcode(void)
{
    static const uint8_t bad[12] = { 0xff };
    struct ti_cd t;

    cd_setup(&t);
    g_assert_cmphex(cd_cmd(&t, bad, 0) & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(th_inb(t.m, TI_SEC + TI_ERROR) >> 4, ==, 0x5);
    g_assert_cmphex(cd_sense(&t), ==, SENSE(0x05, 0x20, 0));
    /* reported once: the next REQUEST SENSE is clean */
    g_assert_cmphex(cd_sense(&t), ==, 0);
    cd_teardown(&t);
}

static void gesn(struct ti_cd *t, uint8_t *ev)
{
    static const uint8_t cdb[12] = { 0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8 };
    uint8_t buf[8];

    cd_cmd(t, cdb, 8);
    g_assert_cmpuint(cd_data(t, buf, sizeof(buf)), ==, 8);
    g_assert_cmphex(buf[2], ==, 0x04);              /* media class */
    ev[0] = buf[4];                                 /* event code */
    ev[1] = buf[5];                                 /* media status */
}

static void test_atapi_media_change_not_ready_then_unit_attention(void)
{
    struct ti_cd t;
    char *iso2 = ti_make_image(2 * TI_CD_SECTORS, 2048, false);
    GError *err = NULL;
    uint8_t ev[2];

    cd_setup(&t);
    g_assert_cmpuint(cd_tur(&t), ==, 0);
    g_assert_true(ide_cd_change(t.m, "ide1-cd0", iso2, "raw", false, &err));
    g_assert_no_error(err);
    gesn(&t, ev);
    g_assert_cmpuint(ev[0], ==, 2);                 /* new media */
    g_assert_cmphex(ev[1], ==, 0x02);               /* present, closed */
    g_assert_cmphex(cd_tur(&t), ==, SENSE(0x02, 0x3a, 0));
    g_assert_cmphex(cd_tur(&t), ==, SENSE(0x06, 0x28, 0));
    g_assert_cmphex(cd_tur(&t), ==, 0);
    gesn(&t, ev);
    g_assert_cmpuint(ev[0], ==, 0);                 /* reported once */
    th_pc_free(t.m);
    ti_remove(t.iso);
    ti_remove(iso2);
}

static void test_atapi_locked_tray_refuses_eject(void)
{
    static const uint8_t prevent[12] = { 0x1e, 0, 0, 0, 0x01 };
    static const uint8_t allow[12] = { 0x1e };
    static const uint8_t eject[12] = { 0x1b, 0, 0, 0, 0x02 };
    struct ti_cd t;
    GError *err = NULL;
    uint8_t ev[2];

    cd_setup(&t);
    g_assert_cmphex(cd_cmd(&t, prevent, 0) & ST_ERR, ==, 0);
    g_assert_cmphex(cd_cmd(&t, eject, 0) & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(cd_sense(&t), ==, SENSE(0x05, 0x53, 0x02));
    /* the host's eject is refused too; the guest hears the request */
    g_assert_false(ide_cd_eject(t.m, "ide1-cd0", false, &err));
    g_assert_nonnull(strstr(err->message, "locked"));
    g_clear_error(&err);
    gesn(&t, ev);
    g_assert_cmpuint(ev[0], ==, 1);                 /* eject request */
    g_assert_cmpuint(cd_tur(&t), ==, 0);
    /* unlocked, the guest's eject opens the tray */
    g_assert_cmphex(cd_cmd(&t, allow, 0) & ST_ERR, ==, 0);
    g_assert_cmphex(cd_cmd(&t, eject, 0) & ST_ERR, ==, 0);
    g_assert_cmphex(cd_tur(&t), ==, SENSE(0x02, 0x3a, 0x02));
    cd_teardown(&t);
}

static void test_atapi_hostile_lengths(void)
{
    /* READ(10) starting past the end, READ(12) running past it */
    static const uint8_t past[12] = { 0x28, 0, 0, 0, 0, 0x40, 0, 0, 1 };
    static const uint8_t huge[12] = { 0xa8, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff,
                                      0xff };
    static const uint8_t read_cd_raw[12] = { 0xbe, 0, 0, 0, 0, 0, 0, 0, 1,
                                             0xf8 };
    static const uint8_t zero[12] = { 0x28, 0, 0, 0, 0, 1, 0, 0, 0 };
    struct ti_cd t;
    uint8_t buf[16];

    cd_setup(&t);
    g_assert_cmphex(cd_cmd(&t, past, 0xfffe) & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(cd_sense(&t), ==, SENSE(0x05, 0x21, 0));
    g_assert_cmphex(cd_cmd(&t, huge, 0xfffe) & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(cd_sense(&t), ==, SENSE(0x05, 0x21, 0));
    g_assert_cmphex(cd_cmd(&t, read_cd_raw, 0xfffe) & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(cd_sense(&t), ==, SENSE(0x05, 0x24, 0));
    /* zero sectors: no data phase at all */
    g_assert_cmphex(cd_cmd(&t, zero, 0xfffe) & (ST_ERR | ST_DRQ), ==, 0);
    g_assert_cmpuint(cd_data(&t, buf, sizeof(buf)), ==, 0);
    /* reading the data port with no data phase gives nothing away */
    g_assert_cmphex(th_inw(t.m, TI_SEC + TI_DATA), ==, 0xffff);
    cd_teardown(&t);
}

static void test_atapi_empty_drive_is_not_ready(void)
{
    struct dm_machine *m =
        th_pc_new("-m 64 -drive if=ide,index=2,media=cdrom");
    struct ti_cd t = { .m = m, .iso = NULL };
    static const uint8_t cap[12] = { 0x25 };

    th_outb(m, TI_SEC + TI_SELECT, 0xa0);
    g_assert_cmphex(cd_tur(&t), ==, SENSE(0x02, 0x3a, 0x01));
    g_assert_cmphex(cd_cmd(&t, cap, 8) & ST_ERR, ==, ST_ERR);
    th_pc_free(m);
}

static void test_atapi_mode_sense_capabilities_page(void)
{
    static const uint8_t cdb[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 0xff };
    static const uint8_t saved[12] = { 0x5a, 0, 0xea, 0, 0, 0, 0, 0, 0xff };
    struct ti_cd t;
    uint8_t buf[64];

    cd_setup(&t);
    cd_cmd(&t, cdb, 0xfffe);
    g_assert_cmpuint(cd_data(&t, buf, sizeof(buf)), ==, 8 + 20);
    g_assert_cmpuint(buf[0] << 8 | buf[1], ==, 8 + 20 - 2);
    g_assert_cmphex(buf[8], ==, 0x2a);
    g_assert_cmphex(buf[8 + 6] & 0x09, ==, 0x09);   /* lock, eject */
    g_assert_cmphex(cd_cmd(&t, saved, 0xfffe) & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(cd_sense(&t), ==, SENSE(0x05, 0x39, 0));
    cd_teardown(&t);
}

static void test_atapi_get_configuration_current_profile(void)
{
    static const uint8_t cdb[12] = { 0x46, 0x02, 0, 0, 0, 0, 0, 0, 64 };
    struct ti_cd t;
    uint8_t buf[64];

    cd_setup(&t);
    cd_cmd(&t, cdb, 0xfffe);
    g_assert_cmpuint(cd_data(&t, buf, sizeof(buf)), ==, 8 + 12);
    g_assert_cmphex(buf[6] << 8 | buf[7], ==, 0x0008);  /* CD-ROM */
    g_assert_cmphex(buf[8] << 8 | buf[9], ==, 0x0000);  /* profile list */
    cd_teardown(&t);
}

static void test_atapi_read_dvd_structure_refused_on_cd(void)
{
    static const uint8_t cdb[12] = { 0xad, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x04 };
    struct ti_cd t;

    cd_setup(&t);
    g_assert_cmphex(cd_cmd(&t, cdb, 0xfffe) & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(cd_sense(&t), ==, SENSE(0x05, 0x30, 0x02));
    cd_teardown(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/atapi/signature-after-reset",
                    test_atapi_signature_after_reset);
    g_test_add_func("/atapi/identify-device-aborts-with-signature",
                    test_atapi_identify_device_aborts_with_signature);
    g_test_add_func("/atapi/identify-packet-device",
                    test_atapi_identify_packet_device);
    g_test_add_func("/atapi/inquiry", test_atapi_inquiry);
    g_test_add_func("/atapi/read-capacity", test_atapi_read_capacity);
    g_test_add_func("/atapi/read10-pio-honours-byte-count-limit",
                    test_atapi_read10_pio_honours_byte_count_limit);
    g_test_add_func("/atapi/byte-count-limit-zero-still-transfers",
                    test_atapi_byte_count_limit_zero_still_transfers);
    g_test_add_func("/atapi/read10-dma", test_atapi_read10_dma);
    g_test_add_func("/atapi/read-toc-lba-and-msf",
                    test_atapi_read_toc_lba_and_msf);
    g_test_add_func("/atapi/request-sense-after-bad-opcode",
                    test_atapi_request_sense_after_bad_opcode);
    g_test_add_func("/atapi/media-change-not-ready-then-unit-attention",
                    test_atapi_media_change_not_ready_then_unit_attention);
    g_test_add_func("/atapi/locked-tray-refuses-eject",
                    test_atapi_locked_tray_refuses_eject);
    g_test_add_func("/atapi/hostile-lengths", test_atapi_hostile_lengths);
    g_test_add_func("/atapi/empty-drive-is-not-ready",
                    test_atapi_empty_drive_is_not_ready);
    g_test_add_func("/atapi/mode-sense-capabilities-page",
                    test_atapi_mode_sense_capabilities_page);
    g_test_add_func("/atapi/get-configuration-current-profile",
                    test_atapi_get_configuration_current_profile);
    g_test_add_func("/atapi/read-dvd-structure-refused-on-cd",
                    test_atapi_read_dvd_structure_refused_on_cd);
    return g_test_run();
}
