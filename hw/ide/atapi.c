/*
 * atapi.c: the CD/DVD-ROM behind the PACKET command: IDENTIFY PACKET DEVICE
 * and the MMC/SPC commands Windows, Linux and SeaBIOS send to a read-only
 * drive, with sense data, tray and lock, and media change reporting.
 *
 * MMC-5 (T10/1675D rev. 4) for the command set and GET CONFIGURATION
 * features, SPC-3 (T10/1416D rev. 23) for INQUIRY, REQUEST SENSE and MODE
 * SENSE, ATA/ATAPI-7 volume 2 for the PACKET protocol (byte count limit, DRQ
 * per chunk, interrupt reason). Every reply is built in the device's I/O
 * buffer with its length known, then cut to the allocation length. Left out:
 * audio play, writing, sub-channel data, raw (2352-byte) READ CD, multiple
 * sessions and tracks.
 */
#include <assert.h>

#include "hvmdm/log.h"
#include "hvmdm/trace.h"
#include "ide.h"

/* Sense keys and additional sense codes (SPC-3 4.5.6, annex D). */
#define SENSE_NONE 0x00
#define SENSE_NOT_READY 0x02
#define SENSE_MEDIUM_ERROR 0x03
#define SENSE_ILLEGAL_REQUEST 0x05
#define SENSE_UNIT_ATTENTION 0x06
#define SENSE_ABORTED_COMMAND 0x0b

#define ASC_UNRECOVERED_READ 0x11
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_OUT_OF_RANGE 0x21
#define ASC_INVALID_FIELD 0x24
#define ASC_MEDIUM_CHANGED 0x28
#define ASC_INCOMPATIBLE_FORMAT 0x30
#define ASC_SAVING_NOT_SUPPORTED 0x39
#define ASC_MEDIUM_NOT_PRESENT 0x3a
#define ASC_REMOVAL_PREVENTED 0x53
#define ASC_ILLEGAL_MODE 0x64

/* media_state: what a changed medium still has to tell the guest. */
#define ATAPI_MEDIA_SETTLED 0
#define ATAPI_MEDIA_NOT_READY 1 /* next media access: NOT READY */
#define ATAPI_MEDIA_UA 2        /* next command: UNIT ATTENTION 28/00 */

/* GESN media event codes (MMC-5 table 172). */
#define GESN_NO_CHANGE 0
#define GESN_EJECT_REQUEST 1
#define GESN_NEW_MEDIA 2
#define GESN_MEDIA_REMOVAL 3

/* MMC profiles. */
#define PROFILE_NONE 0x0000
#define PROFILE_CD_ROM 0x0008
#define PROFILE_DVD_ROM 0x0010

#define ATAPI_CD_MAX_BYTES 737280000ull /* 80 minutes of mode 1 data */
#define ATAPI_READ_CHUNK (IDE_IO_BUFFER_SIZE / ATAPI_SECTOR_SIZE)
#define ATAPI_MAX_XFER_SECTORS (UINT32_MAX / ATAPI_SECTOR_SIZE)
#define ATAPI_BCL_DEFAULT 0xfffe
#define DVD_START_PSN 0x030000u

/* ---- byte order helpers -------------------------------------------------- */

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

/* LBA to minutes/seconds/frames (MMC-5 6.40.2: LBA 0 is 00:02:00). */
static void lba_to_msf(uint8_t *p, uint32_t lba)
{
    uint64_t x = (uint64_t)lba + 150;

    p[0] = (uint8_t)MIN(x / (60 * 75), 0xffu);
    p[1] = (uint8_t)(x / 75 % 60);
    p[2] = (uint8_t)(x % 75);
}

static bool atapi_present(const struct ide_drive *d)
{
    return d->blk && !d->atapi.tray_open && d->nb_sectors > 0;
}

static bool atapi_is_dvd(const struct ide_drive *d)
{
    return d->nb_sectors * ATAPI_SECTOR_SIZE > ATAPI_CD_MAX_BYTES;
}

static uint16_t atapi_profile(const struct ide_drive *d)
{
    if (!atapi_present(d)) {
        return PROFILE_NONE;
    }
    return atapi_is_dvd(d) ? PROFILE_DVD_ROM : PROFILE_CD_ROM;
}

/* ---- status and sense ---------------------------------------------------- */

void atapi_set_sense(struct ide_drive *d, uint8_t key, uint8_t asc,
                     uint8_t ascq)
{
    d->atapi.sense_key = key;
    d->atapi.asc = asc;
    d->atapi.ascq = ascq;
}

static void atapi_finish(struct ide_drive *d)
{
    d->cont = IDE_CONT_NONE;
    d->dma_mode = IDE_DMA_NONE;
    d->nsector = (uint8_t)((d->nsector & ~7) | ATAPI_INT_IO | ATAPI_INT_COD);
    ide_set_irq(d);
}

static void atapi_cmd_ok(struct ide_drive *d)
{
    atapi_set_sense(d, SENSE_NONE, 0, 0);
    d->status = IDE_STAT_READY;
    d->error = 0;
    atapi_finish(d);
}

static void atapi_cmd_error(struct ide_drive *d, uint8_t key, uint8_t asc,
                            uint8_t ascq)
{
    dm_trace(atapi_error, "%s cmd 0x%02x: sense %x/%02x/%02x", d->drive_id,
             d->atapi.packet[0], key, asc, ascq);
    atapi_set_sense(d, key, asc, ascq);
    d->status = IDE_STAT_READY | IDE_STAT_ERR;
    d->error = (uint8_t)(key << 4);
    d->data_ptr = d->data_end = 0;
    atapi_finish(d);
}

static void atapi_invalid_field(struct ide_drive *d)
{
    atapi_cmd_error(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
}

static void atapi_not_ready(struct ide_drive *d)
{
    atapi_cmd_error(d, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT,
                    d->atapi.tray_open ? 0x02 : 0x01);
}

/* ---- data transfer ------------------------------------------------------ */

static void atapi_read_chunk_cb(struct ide_drive *d, int ret);

/* Hand the host the next chunk of the transfer (PIO), refilling the buffer
 * from the medium when it is used up. */
static void atapi_pio_next(struct ide_drive *d)
{
    struct ide_atapi *a = &d->atapi;
    uint32_t bcl = a->bcl, chunk;

    if (a->xfer_left == 0) {
        atapi_cmd_ok(d);
        return;
    }
    if (a->buf_pos >= a->buf_len) {
        uint32_t n = MIN(a->sectors_left, ATAPI_READ_CHUNK);

        if (n == 0 || !d->blk) {
            atapi_cmd_error(d, SENSE_ABORTED_COMMAND, 0, 0);
            return;
        }
        ide_io_submit(d, IDE_IO_READ, (uint64_t)a->lba * ATAPI_SECTOR_SIZE,
                      n * ATAPI_SECTOR_SIZE, atapi_read_chunk_cb);
        return;
    }
    /* A limit of 0 or 0xffff is not valid: use the largest even one. */
    if (bcl == 0 || bcl == 0xffff) {
        bcl = ATAPI_BCL_DEFAULT;
    }
    chunk = MIN(a->xfer_left, a->buf_len - a->buf_pos);
    if (chunk > bcl) {
        chunk = bcl & ~1u;
    }
    d->lcyl = (uint8_t)chunk;
    d->hcyl = (uint8_t)(chunk >> 8);
    d->nsector = (uint8_t)((d->nsector & ~7) | ATAPI_INT_IO);
    ide_pio_start(d, a->buf_pos, chunk, IDE_CONT_ATAPI_IN, true);
    a->buf_pos += chunk;
    a->xfer_left -= chunk;
}

static void atapi_read_chunk_cb(struct ide_drive *d, int ret)
{
    struct ide_atapi *a = &d->atapi;
    uint32_t n = MIN(a->sectors_left, ATAPI_READ_CHUNK);

    if (ret < 0) {
        d->io_errno = -ret;
        atapi_cmd_error(d, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0);
        return;
    }
    a->buf_pos = 0;
    a->buf_len = n * ATAPI_SECTOR_SIZE;
    a->lba += n;
    a->sectors_left -= n;
    atapi_pio_next(d);
}

void atapi_chunk_consumed(struct ide_drive *d)
{
    d->status = IDE_STAT_BSY | IDE_STAT_DRDY;
    atapi_pio_next(d);
}

/* Send LEN bytes of io_buffer, cut to ALLOC (the command's allocation
 * length). */
static void atapi_reply(struct ide_drive *d, uint32_t len, uint32_t alloc)
{
    struct ide_atapi *a = &d->atapi;
    uint32_t total = MIN(len, alloc);

    assert(len <= IDE_IO_BUFFER_SIZE);
    if (total == 0) {
        atapi_cmd_ok(d);
        return;
    }
    a->xfer_left = total;
    a->sectors_left = 0;
    a->buf_pos = 0;
    a->buf_len = total;
    if (a->dma) {
        d->dma_mode = IDE_DMA_BUF_IN;
        d->status = IDE_STAT_READY | IDE_STAT_DRQ;
        ide_bmdma_request(d->bus, IDE_DMA_BUF_IN, 0, total);
        return;
    }
    atapi_pio_next(d);
}

static void atapi_start_read(struct ide_drive *d, uint32_t lba, uint32_t count)
{
    struct ide_atapi *a = &d->atapi;

    if (lba > d->nb_sectors || count > d->nb_sectors - lba) {
        atapi_cmd_error(d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
        return;
    }
    if (count > ATAPI_MAX_XFER_SECTORS) {
        atapi_invalid_field(d);
        return;
    }
    if (count == 0) {
        atapi_cmd_ok(d);
        return;
    }
    a->xfer_left = count * ATAPI_SECTOR_SIZE;
    a->lba = lba;
    a->sectors_left = count;
    a->buf_pos = a->buf_len = 0;
    if (a->dma) {
        d->dma_mode = IDE_DMA_BLK_READ;
        d->status = IDE_STAT_READY | IDE_STAT_DRQ;
        ide_bmdma_request(d->bus, IDE_DMA_BLK_READ,
                          (uint64_t)lba * ATAPI_SECTOR_SIZE, a->xfer_left);
        return;
    }
    atapi_pio_next(d);
}

void atapi_dma_done(struct ide_drive *d, enum ide_dma_result r)
{
    switch (r) {
    case IDE_DMA_OK:
        d->atapi.xfer_left = 0;
        atapi_cmd_ok(d);
        break;
    case IDE_DMA_IO_ERROR:
        atapi_cmd_error(d, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0);
        break;
    default:
        atapi_cmd_error(d, SENSE_ABORTED_COMMAND, 0, 0);
        break;
    }
}

/* ---- commands ----------------------------------------------------------- */

static void atapi_test_unit_ready(struct ide_drive *d, const uint8_t *p)
{
    atapi_cmd_ok(d); /* CHECK_READY did the work */
}

static void atapi_request_sense(struct ide_drive *d, const uint8_t *p)
{
    struct ide_atapi *a = &d->atapi;
    uint8_t *buf = d->io_buffer;

    if (a->sense_key == SENSE_NONE && a->media_state == ATAPI_MEDIA_UA) {
        atapi_set_sense(d, SENSE_UNIT_ATTENTION, ASC_MEDIUM_CHANGED, 0);
        a->media_state = ATAPI_MEDIA_SETTLED;
    }
    memset(buf, 0, 18);
    buf[0] = 0x70; /* current error, fixed format */
    buf[2] = a->sense_key;
    buf[7] = 10; /* additional sense length */
    buf[12] = a->asc;
    buf[13] = a->ascq;
    /* Reported: the condition is gone (SPC-3 6.27). */
    atapi_set_sense(d, SENSE_NONE, 0, 0);
    atapi_reply(d, 18, p[4]);
}

static void atapi_inquiry(struct ide_drive *d, const uint8_t *p)
{
    uint8_t *buf = d->io_buffer;

    if (p[1] & 0x01) { /* EVPD: no vital product data pages */
        atapi_invalid_field(d);
        return;
    }
    memset(buf, 0, 36);
    buf[0] = 0x05; /* CD/DVD device */
    buf[1] = 0x80; /* removable */
    buf[2] = 0x00;
    buf[3] = 0x21;   /* ATAPI, response data format 1 */
    buf[4] = 36 - 5; /* additional length */
    ide_padstr((char *)buf + 8, "HVMDM", 8);
    ide_padstr((char *)buf + 16, d->model, 16);
    ide_padstr((char *)buf + 32, d->version, 4);
    atapi_reply(d, 36, be16(p + 3));
}

static void atapi_read_capacity(struct ide_drive *d, const uint8_t *p)
{
    put_be32(d->io_buffer, (uint32_t)MIN(d->nb_sectors - 1, 0xffffffffull));
    put_be32(d->io_buffer + 4, ATAPI_SECTOR_SIZE);
    atapi_reply(d, 8, 8);
}

static void atapi_read10(struct ide_drive *d, const uint8_t *p)
{
    atapi_start_read(d, be32(p + 2), be16(p + 7));
}

static void atapi_read12(struct ide_drive *d, const uint8_t *p)
{
    atapi_start_read(d, be32(p + 2), be32(p + 6));
}

static void atapi_read_cd(struct ide_drive *d, const uint8_t *p)
{
    uint8_t type = (p[1] >> 2) & 7;
    uint32_t count = (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];

    if (type != 0 && type != 2) { /* any, or mode 1: a data disc */
        atapi_cmd_error(d, SENSE_ILLEGAL_REQUEST, ASC_ILLEGAL_MODE, 0);
        return;
    }
    if (p[10] & 7) { /* sub-channel data */
        atapi_invalid_field(d);
        return;
    }
    switch (p[9] & 0xf8) {
    case 0x00: /* nothing: the range is checked only */
        count = 0;
        /* fall through */
    case 0x10: /* user data, 2048 bytes */
        if (be32(p + 2) > d->nb_sectors) {
            atapi_cmd_error(d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
            return;
        }
        atapi_start_read(d, be32(p + 2), count);
        return;
    default:
        atapi_invalid_field(d);
        return;
    }
}

static void atapi_seek(struct ide_drive *d, const uint8_t *p)
{
    if (be32(p + 2) >= d->nb_sectors) {
        atapi_cmd_error(d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
        return;
    }
    atapi_cmd_ok(d);
}

/* One TOC track descriptor (MMC-5 table 481). */
static uint32_t toc_track(uint8_t *q, uint8_t track, uint32_t lba, bool msf)
{
    memset(q, 0, 8);
    q[1] = 0x14; /* ADR 1, data track */
    q[2] = track;
    if (msf) {
        lba_to_msf(q + 5, lba);
    } else {
        put_be32(q + 4, lba);
    }
    return 8;
}

static uint32_t toc_raw_entry(uint8_t *q, uint8_t point, uint8_t pmin,
                              uint8_t psec, uint8_t pframe)
{
    memset(q, 0, 11);
    q[0] = 1; /* session */
    q[1] = 0x14;
    q[3] = point;
    q[8] = pmin;
    q[9] = psec;
    q[10] = pframe;
    return 11;
}

static void atapi_read_toc(struct ide_drive *d, const uint8_t *p)
{
    uint8_t *buf = d->io_buffer;
    bool msf = p[1] & 0x02;
    uint8_t format = p[2] & 0x0f, track = p[6], m[3];
    uint32_t len = 4, end = (uint32_t)MIN(d->nb_sectors, 0xffffffffull);

    if (format == 0 && (p[9] >> 6)) {
        format = p[9] >> 6; /* the older place of the format */
    }
    buf[2] = 1; /* first track / session */
    buf[3] = 1; /* last track / session */
    switch (format) {
    case 0:
        if (track > 1 && track != 0xaa) {
            atapi_invalid_field(d);
            return;
        }
        if (track <= 1) {
            len += toc_track(buf + len, 1, 0, msf);
        }
        len += toc_track(buf + len, 0xaa, end, msf);
        break;
    case 1: /* multi-session: one session */
        len += toc_track(buf + len, 1, 0, msf);
        break;
    case 2: /* raw TOC, always MSF */
        lba_to_msf(m, end);
        len += toc_raw_entry(buf + len, 0xa0, 1, 0x00, 0);
        len += toc_raw_entry(buf + len, 0xa1, 1, 0, 0);
        len += toc_raw_entry(buf + len, 0xa2, m[0], m[1], m[2]);
        lba_to_msf(m, 0);
        len += toc_raw_entry(buf + len, 1, m[0], m[1], m[2]);
        break;
    default:
        atapi_invalid_field(d);
        return;
    }
    put_be16(buf, (uint16_t)(len - 2));
    atapi_reply(d, len, be16(p + 7));
}

/* ---- mode pages --------------------------------------------------------- */

/* Append mode page PAGE (current values, or zeros for the changeable mask)
 * at Q; returns its length, 0 for an unknown page. */
static uint32_t atapi_mode_page(struct ide_drive *d, uint8_t page,
                                bool changeable, uint8_t *q)
{
    uint32_t len;

    switch (page) {
    case 0x01: /* read error recovery */
        len = 12;
        memset(q, 0, len);
        if (!changeable) {
            q[3] = 5; /* read retry count */
        }
        break;
    case 0x0e: /* CD audio control */
        len = 16;
        memset(q, 0, len);
        if (!changeable) {
            q[2] = 0x04; /* immediate */
            q[8] = 0x01; /* port 0: channel 0 */
            q[9] = 0xff;
            q[10] = 0x02; /* port 1: channel 1 */
            q[11] = 0xff;
        }
        break;
    case 0x2a: /* capabilities and mechanical status */
        len = 20;
        memset(q, 0, len);
        if (!changeable) {
            q[2] = 0x3b; /* reads CD-R, CD-RW, method 2, DVD-ROM */
            q[4] = 0x71; /* audio play, mode 2 form 1/2, multi */
            q[5] = 0x03; /* CD-DA commands, accurate */
            /* tray loading, eject, lock supported, current lock state */
            q[6] = (uint8_t)(0x29 | (d->atapi.tray_locked ? 0x02 : 0));
            put_be16(q + 8, 706);  /* maximum read speed, kB/s (4x) */
            put_be16(q + 10, 2);   /* volume levels */
            put_be16(q + 12, 512); /* buffer size, KiB */
            put_be16(q + 14, 706); /* current read speed */
        }
        break;
    default:
        return 0;
    }
    q[0] = page;
    q[1] = (uint8_t)(len - 2);
    return len;
}

static void atapi_mode_sense(struct ide_drive *d, const uint8_t *p)
{
    static const uint8_t all_pages[] = { 0x01, 0x0e, 0x2a };
    bool ten = p[0] == 0x5a;
    uint8_t pc = p[2] >> 6, page = p[2] & 0x3f;
    uint32_t hdr = ten ? 8 : 4, len = hdr, alloc = ten ? be16(p + 7) : p[4];
    uint8_t *buf = d->io_buffer;

    if (pc == 3) { /* saved values */
        atapi_cmd_error(d, SENSE_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED, 0);
        return;
    }
    memset(buf, 0, hdr);
    if (page == 0x3f) {
        for (size_t i = 0; i < DM_ARRAY_SIZE(all_pages); i++) {
            len += atapi_mode_page(d, all_pages[i], pc == 1, buf + len);
        }
    } else {
        uint32_t n = atapi_mode_page(d, page, pc == 1, buf + len);

        if (n == 0) {
            atapi_invalid_field(d);
            return;
        }
        len += n;
    }
    if (ten) {
        put_be16(buf, (uint16_t)(len - 2));
        buf[2] = 0x70; /* medium type (obsolete in MMC) */
    } else {
        buf[0] = (uint8_t)(len - 1);
        buf[1] = 0x70;
    }
    atapi_reply(d, len, alloc);
}

/* ---- tray --------------------------------------------------------------- */

static void atapi_prevent_allow(struct ide_drive *d, const uint8_t *p)
{
    d->atapi.tray_locked = p[4] & 0x01;
    atapi_cmd_ok(d);
}

static void atapi_start_stop(struct ide_drive *d, const uint8_t *p)
{
    struct ide_atapi *a = &d->atapi;
    bool loej = p[4] & 0x02, start = p[4] & 0x01;

    if (!loej || (p[4] >> 4)) {
        atapi_cmd_ok(d); /* spin up/down, power conditions */
        return;
    }
    if (!start) {
        if (a->tray_locked) {
            atapi_cmd_error(d, SENSE_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED,
                            0x02);
            return;
        }
        if (!a->tray_open) {
            a->tray_open = true;
            a->media_state = ATAPI_MEDIA_SETTLED;
            a->media_event = GESN_MEDIA_REMOVAL;
        }
    } else if (a->tray_open) {
        a->tray_open = false;
        if (d->blk) {
            a->media_state = ATAPI_MEDIA_UA;
            a->media_event = GESN_NEW_MEDIA;
        }
    }
    atapi_cmd_ok(d);
}

static void atapi_mechanism_status(struct ide_drive *d, const uint8_t *p)
{
    uint8_t *buf = d->io_buffer;

    memset(buf, 0, 8);
    buf[1] = d->atapi.tray_open ? 0x10 : 0x00;
    atapi_reply(d, 8, be16(p + 8));
}

/* ---- GET CONFIGURATION, GESN, disc information --------------------------- */

static uint32_t feature_hdr(uint8_t *q, uint16_t code, uint8_t flags,
                            uint8_t len)
{
    put_be16(q, code);
    q[2] = flags; /* version << 2 | persistent | current */
    q[3] = len;
    return 4;
}

/* Feature CODE at Q (MMC-5 5.3), or 0 when the drive has none. */
static uint32_t atapi_feature(struct ide_drive *d, uint16_t code, uint8_t *q)
{
    uint16_t profile = atapi_profile(d);
    bool cur = profile != PROFILE_NONE;

    switch (code) {
    case 0x0000: /* profile list */
        feature_hdr(q, code, 0x03, 8);
        put_be16(q + 4, PROFILE_DVD_ROM);
        q[6] = profile == PROFILE_DVD_ROM;
        q[7] = 0;
        put_be16(q + 8, PROFILE_CD_ROM);
        q[10] = profile == PROFILE_CD_ROM;
        q[11] = 0;
        return 12;
    case 0x0001: /* core: ATAPI */
        feature_hdr(q, code, 0x07, 8);
        put_be32(q + 4, 2);
        memset(q + 8, 0, 4);
        return 12;
    case 0x0002: /* morphing: GESN polling */
        feature_hdr(q, code, 0x07, 4);
        memset(q + 4, 0, 4);
        q[4] = 0x02;
        return 8;
    case 0x0003: /* removable medium: tray, eject, lock */
        feature_hdr(q, code, 0x03, 4);
        memset(q + 4, 0, 4);
        q[4] = 0x29;
        return 8;
    case 0x0010: /* random readable */
        feature_hdr(q, code, cur, 8);
        put_be32(q + 4, ATAPI_SECTOR_SIZE);
        put_be16(q + 8, profile == PROFILE_DVD_ROM ? 16 : 1);
        q[10] = q[11] = 0;
        return 12;
    case 0x001e: /* CD read */
        feature_hdr(q, code, (uint8_t)(0x08 | (profile == PROFILE_CD_ROM)), 4);
        memset(q + 4, 0, 4);
        return 8;
    case 0x001f: /* DVD read */
        feature_hdr(q, code, profile == PROFILE_DVD_ROM, 0);
        return 4;
    }
    return 0;
}

static void atapi_get_configuration(struct ide_drive *d, const uint8_t *p)
{
    static const uint16_t features[] = {
        0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001e, 0x001f,
    };
    uint8_t rt = p[1] & 0x03, *buf = d->io_buffer;
    uint16_t start = be16(p + 2);
    uint32_t len = 8;

    if (rt == 3) {
        atapi_invalid_field(d);
        return;
    }
    memset(buf, 0, 8);
    put_be16(buf + 6, atapi_profile(d));
    for (size_t i = 0; i < DM_ARRAY_SIZE(features); i++) {
        uint32_t n;

        if (features[i] < start || (rt == 2 && features[i] != start)) {
            continue;
        }
        n = atapi_feature(d, features[i], buf + len);
        if (rt == 1 && n && !(buf[len + 2] & 0x01)) {
            continue; /* current features only */
        }
        len += n;
    }
    put_be32(buf, len - 4);
    atapi_reply(d, len, be16(p + 7));
}

static void atapi_gesn(struct ide_drive *d, const uint8_t *p)
{
    struct ide_atapi *a = &d->atapi;
    uint8_t *buf = d->io_buffer;
    uint32_t len;

    if (!(p[1] & 0x01)) { /* only polled operation */
        atapi_invalid_field(d);
        return;
    }
    memset(buf, 0, 8);
    buf[3] = 0x10; /* supported classes: media */
    if (p[4] & 0x10) {
        buf[2] = 0x04; /* media class */
        buf[4] = a->media_event;
        buf[5] = (uint8_t)((atapi_present(d) ? 0x02 : 0) |
                           (a->tray_open ? 0x01 : 0));
        a->media_event = GESN_NO_CHANGE;
        len = 8;
    } else {
        buf[2] = 0x80; /* no event available */
        len = 4;
    }
    put_be16(buf, (uint16_t)(len - 2));
    atapi_reply(d, len, be16(p + 7));
}

static void atapi_read_disc_info(struct ide_drive *d, const uint8_t *p)
{
    uint8_t *buf = d->io_buffer;

    if (p[1] & 0x07) { /* only standard disc information */
        atapi_invalid_field(d);
        return;
    }
    memset(buf, 0, 34);
    put_be16(buf, 32);
    buf[2] = 0x0e;             /* complete disc, last session complete */
    buf[3] = 1;                /* first track */
    buf[4] = 1;                /* sessions */
    buf[5] = 1;                /* first track of the last session */
    buf[6] = 1;                /* last track of the last session */
    buf[7] = 0x20;             /* unrestricted use */
    memset(buf + 16, 0xff, 8); /* lead-in / lead-out: not recordable */
    atapi_reply(d, 34, be16(p + 7));
}

static void atapi_read_dvd_structure(struct ide_drive *d, const uint8_t *p)
{
    uint8_t *buf = d->io_buffer, format = p[7];
    uint32_t len;

    if ((p[1] & 0x0f) != 0) { /* media type: DVD only */
        atapi_invalid_field(d);
        return;
    }
    if (format != 0xff && !atapi_is_dvd(d)) {
        atapi_cmd_error(d, SENSE_ILLEGAL_REQUEST, ASC_INCOMPATIBLE_FORMAT,
                        0x02);
        return;
    }
    switch (format) {
    case 0x00: /* physical format information */
        if (p[6] != 0) {
            atapi_invalid_field(d);
            return;
        }
        len = 4 + 2048;
        memset(buf, 0, len);
        buf[4] = 0x01; /* DVD-ROM, part version 1 */
        buf[5] = 0x0f; /* 120 mm, rate not specified */
        buf[6] = 0x01; /* one layer, read-only */
        put_be32(buf + 8, DVD_START_PSN);
        put_be32(buf + 12, DVD_START_PSN + (uint32_t)d->nb_sectors - 1);
        break;
    case 0x01: /* copyright: none */
        len = 8;
        memset(buf, 0, len);
        break;
    case 0xff: /* the structures there are */
        len = 4 + 3 * 4;
        memset(buf, 0, len);
        buf[4] = 0x00;
        buf[5] = 0x40;
        put_be16(buf + 6, 4 + 2048);
        buf[8] = 0x01;
        buf[9] = 0x40;
        put_be16(buf + 10, 8);
        buf[12] = 0xff;
        buf[13] = 0x40;
        put_be16(buf + 14, 4 + 12);
        break;
    default:
        atapi_invalid_field(d);
        return;
    }
    put_be16(buf, (uint16_t)(len - 2));
    atapi_reply(d, len, be16(p + 8));
}

static void atapi_nodata_ok(struct ide_drive *d, const uint8_t *p)
{
    atapi_cmd_ok(d);
}

/* ---- dispatch ----------------------------------------------------------- */

#define ATAPI_CHECK_READY 0x01 /* needs a medium */
#define ATAPI_ALLOW_UA 0x02    /* runs despite a pending UNIT ATTENTION */

struct atapi_cmd {
    void (*fn)(struct ide_drive *d, const uint8_t *p);
    uint8_t flags;
};

/* MMC-5 section 6 (SPC-3 section 6 for INQUIRY, REQUEST SENSE, MODE
 * SENSE). */
static const struct atapi_cmd atapi_cmds[256] = {
    [0x00] = { atapi_test_unit_ready, ATAPI_CHECK_READY },
    [0x03] = { atapi_request_sense, ATAPI_ALLOW_UA },
    [0x12] = { atapi_inquiry, ATAPI_ALLOW_UA },
    [0x1a] = { atapi_mode_sense, 0 }, /* MODE SENSE(6) */
    [0x1b] = { atapi_start_stop, 0 },
    [0x1e] = { atapi_prevent_allow, 0 },
    [0x25] = { atapi_read_capacity, ATAPI_CHECK_READY },
    [0x28] = { atapi_read10, ATAPI_CHECK_READY },
    [0x2b] = { atapi_seek, ATAPI_CHECK_READY },
    [0x43] = { atapi_read_toc, ATAPI_CHECK_READY },
    [0x46] = { atapi_get_configuration, ATAPI_ALLOW_UA },
    [0x4a] = { atapi_gesn, ATAPI_ALLOW_UA },
    [0x51] = { atapi_read_disc_info, ATAPI_CHECK_READY },
    [0x5a] = { atapi_mode_sense, 0 }, /* MODE SENSE(10) */
    [0xa8] = { atapi_read12, ATAPI_CHECK_READY },
    [0xad] = { atapi_read_dvd_structure, ATAPI_CHECK_READY },
    [0xbb] = { atapi_nodata_ok, 0 }, /* SET CD SPEED */
    [0xbd] = { atapi_mechanism_status, 0 },
    [0xbe] = { atapi_read_cd, ATAPI_CHECK_READY },
};

void atapi_packet_received(struct ide_drive *d)
{
    struct ide_atapi *a = &d->atapi;
    const uint8_t *p = a->packet;
    const struct atapi_cmd *c = &atapi_cmds[p[0]];

    dm_trace(atapi_cmd, "%s cmd 0x%02x dma %d bcl %u", d->drive_id, p[0],
             a->dma, a->bcl);
    a->xfer_left = 0;
    a->sectors_left = 0;
    a->buf_pos = a->buf_len = 0;
    if (!c->fn) {
        atapi_cmd_error(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
        return;
    }
    if (!(c->flags & ATAPI_ALLOW_UA)) {
        if (a->media_state == ATAPI_MEDIA_NOT_READY &&
            (c->flags & ATAPI_CHECK_READY)) {
            /* A new medium is "becoming ready" once, then announced. */
            a->media_state = ATAPI_MEDIA_UA;
            atapi_cmd_error(d, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT, 0);
            return;
        }
        if (a->media_state != ATAPI_MEDIA_SETTLED) {
            a->media_state = ATAPI_MEDIA_SETTLED;
            atapi_cmd_error(d, SENSE_UNIT_ATTENTION, ASC_MEDIUM_CHANGED, 0);
            return;
        }
    }
    if ((c->flags & ATAPI_CHECK_READY) && !atapi_present(d)) {
        atapi_not_ready(d);
        return;
    }
    c->fn(d, p);
}

/* ---- identity, reset, media ---------------------------------------------- */

void atapi_identify(struct ide_drive *d, uint16_t *id)
{
    memset(id, 0, 512);
    /* ATAPI, CD-ROM, removable, DRQ within 50 us, 12-byte packets */
    id[0] = (2u << 14) | (5u << 8) | (1u << 7) | (2u << 5);
    ide_put_id_string(id, 10, d->serial, 20);
    ide_put_id_string(id, 23, d->version, 8);
    ide_put_id_string(id, 27, d->model, 40);
    id[49] = (1u << 11) | (1u << 9) | (1u << 8); /* IORDY, LBA, DMA */
    id[53] = 0x0007;
    id[63] = (uint16_t)(0x0007 | ((d->xfer_mode & 0xf8) == 0x20
                                      ? 1u << (8 + (d->xfer_mode & 7))
                                      : 0));
    id[64] = 0x0003;
    id[65] = 120;
    id[66] = 120;
    id[67] = 120;
    id[68] = 120;
    id[71] = 30;                     /* PACKET to bus release, ns */
    id[72] = 30;                     /* service to BSY cleared, ns */
    id[80] = 0x00f0;                 /* ATA/ATAPI-4 to 7 */
    id[82] = (1u << 14) | (1u << 4); /* NOP, PACKET feature set */
    id[83] = 0x4000;
    id[84] = 0x4000;
    id[85] = (1u << 14) | (1u << 4);
    id[87] = 0x4000;
    id[88] = (uint16_t)(0x003f | ((d->xfer_mode & 0xf8) == 0x40
                                      ? 1u << (8 + (d->xfer_mode & 7))
                                      : 0));
    id[93] = d->unit == 0 ? 0x6001 | (1u << 3) : 0x6100;
}

void atapi_reset(struct ide_drive *d)
{
    struct ide_atapi *a = &d->atapi;

    atapi_set_sense(d, SENSE_NONE, 0, 0);
    a->tray_locked = false; /* the prevent state ends at reset */
    a->dma = false;
    a->bcl = 0;
    a->xfer_left = a->lba = a->sectors_left = 0;
    a->buf_pos = a->buf_len = 0;
}

void atapi_medium_changed(struct ide_drive *d, bool inserted)
{
    struct ide_atapi *a = &d->atapi;

    if (inserted) {
        a->tray_open = false;
        a->media_state = ATAPI_MEDIA_NOT_READY;
        a->media_event = GESN_NEW_MEDIA;
    } else {
        a->media_state = ATAPI_MEDIA_SETTLED;
        a->media_event = GESN_MEDIA_REMOVAL;
    }
}

/* The user asked to eject while the guest holds the tray locked: tell the
 * guest (GESN eject request), as a drive's button does. */
void atapi_eject_request(struct ide_drive *d)
{
    d->atapi.media_event = GESN_EJECT_REQUEST;
}
