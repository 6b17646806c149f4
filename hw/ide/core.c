/*
 * core.c: an ATA channel with its two devices: the task file, device
 * selection, software reset and nIEN, PIO data blocks, and the ATA command
 * set of a hard disk.
 *
 * ATA/ATAPI-7 volume 1 (T13/1532D rev. 4b): registers (section 6), commands
 * (section 6 of volume 1 per command), IDENTIFY DEVICE words (table 16),
 * signatures and reset (volume 2/3 protocols); DATA SET MANAGEMENT from
 * ACS-2. An absent device answers register reads with 0, as Linux' libata
 * and SeaBIOS probe for. Left out: SMART, security, HPA, queued commands,
 * CFA, 28-bit CHS translation beyond INITIALIZE DEVICE PARAMETERS; an I/O
 * error is reported to the guest whatever werror/rerror say (ignore aside).
 */
#include <assert.h>

#include "hvmdm/config.h"
#include "hvmdm/dev.h"
#include "hvmdm/log.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"
#include "ide.h"

#define IDE_LBA28_MAX 0x0fffffffull
#define IDE_CHS_MAX_CYLS 16383
#define IDE_READ_AHEAD_SECTORS (IDE_IO_BUFFER_SIZE / IDE_SECTOR_SIZE)
#define IDE_DSM_TRIM 0x01

/* SET FEATURES subcommands (ATA-7 6.49). */
#define SETF_WCACHE_ON 0x02
#define SETF_XFER_MODE 0x03
#define SETF_LOOKAHEAD_OFF 0x55
#define SETF_REVERT_OFF 0x66
#define SETF_WCACHE_OFF 0x82
#define SETF_LOOKAHEAD_ON 0xaa
#define SETF_REVERT_ON 0xcc

/* ---- strings and helpers ------------------------------------------------ */

void ide_padstr(char *dst, const char *src, size_t len)
{
    size_t n = src ? strnlen(src, len) : 0;

    memcpy(dst, src ? src : "", n);
    memset(dst + n, ' ', len - n);
}

/* ATA strings: two characters per word, the first in the high byte. */
void ide_put_id_string(uint16_t *id, unsigned word, const char *s, size_t len)
{
    char buf[64];

    assert(len <= sizeof(buf) && len % 2 == 0);
    ide_padstr(buf, s, len);
    for (size_t i = 0; i < len; i += 2) {
        id[word + i / 2] =
            (uint16_t)((uint8_t)buf[i] << 8 | (uint8_t)buf[i + 1]);
    }
}

static void ide_id_checksum(uint16_t *id)
{
    uint8_t sum = 0;

    id[255] = 0x00a5;
    for (unsigned i = 0; i < 255; i++) {
        sum = (uint8_t)(sum + (id[i] & 0xff) + (id[i] >> 8));
    }
    sum = (uint8_t)(sum + 0xa5);
    id[255] = (uint16_t)(0xa5 | (uint8_t)(-sum) << 8);
}

static void ide_id_to_buffer(struct ide_drive *d, const uint16_t *id)
{
    for (unsigned i = 0; i < 256; i++) {
        d->io_buffer[2 * i] = (uint8_t)id[i];
        d->io_buffer[2 * i + 1] = (uint8_t)(id[i] >> 8);
    }
}

/* ---- interrupts --------------------------------------------------------- */

void ide_update_irq(struct ide_bus *b)
{
    struct ide_drive *d = ide_cur(b);
    int level =
        d->kind != IDE_NONE && d->irq_pending && !(b->devctl & IDE_CTL_NIEN);

    dm_irq_set(&b->irq, level);
}

void ide_set_irq(struct ide_drive *d)
{
    struct ide_bus *b = d->bus;

    d->irq_pending = true;
    if (d == ide_cur(b) && !(b->devctl & IDE_CTL_NIEN)) {
        ide_bmdma_irq(b);
    }
    ide_update_irq(b);
}

static void ide_clear_irq(struct ide_drive *d)
{
    d->irq_pending = false;
    ide_update_irq(d->bus);
}

/* ---- completion helpers ------------------------------------------------- */

static void ide_cmd_ok(struct ide_drive *d)
{
    d->status = IDE_STAT_READY;
    d->error = 0;
    d->cont = IDE_CONT_NONE;
    d->dma_mode = IDE_DMA_NONE;
    ide_set_irq(d);
}

static void ide_cmd_error(struct ide_drive *d, uint8_t err)
{
    d->status = IDE_STAT_READY | IDE_STAT_ERR;
    d->error = err;
    d->cont = IDE_CONT_NONE;
    d->dma_mode = IDE_DMA_NONE;
    d->data_ptr = d->data_end = 0;
    ide_set_irq(d);
}

void ide_abort(struct ide_drive *d)
{
    ide_cmd_error(d, IDE_ERR_ABRT);
}

/* The error a failed request becomes: UNC for reads, ABRT for the rest,
 * IDNF when the range was refused. */
static void ide_io_error(struct ide_drive *d, int ret, bool is_read)
{
    d->io_errno = -ret;
    dm_trace(ide_io_error, "%s unit %d cmd 0x%02x: %s", d->drive_id, d->unit,
             d->cmd, g_strerror(-ret));
    if (ret == -EINVAL) {
        ide_cmd_error(d, IDE_ERR_IDNF | IDE_ERR_ABRT);
    } else {
        ide_cmd_error(d, is_read ? IDE_ERR_UNC : IDE_ERR_ABRT);
    }
}

/* ---- asynchronous I/O --------------------------------------------------- */

struct ide_req {
    struct ide_drive *d;
    unsigned gen;
    ide_io_done_fn done;
};

static void ide_exec_cmd(struct ide_drive *d, uint8_t cmd);

static void ide_io_cb(void *opaque, int ret)
{
    struct ide_req *r = opaque;
    struct ide_drive *d = r->d;
    bool stale = r->gen != d->gen;
    ide_io_done_fn done = r->done;

    g_free(r);
    d->io_inflight = false;
    if (stale) {
        /* The device was reset; a command that came meanwhile runs now. */
        if (d->cmd_deferred) {
            d->cmd_deferred = false;
            ide_exec_cmd(d, d->cmd);
        }
        return;
    }
    done(d, ret);
}

void ide_io_submit(struct ide_drive *d, enum ide_io_op op, uint64_t off,
                   uint32_t len, ide_io_done_fn done)
{
    struct ide_req *r = g_new0(struct ide_req, 1);
    struct iovec iov = { .iov_base = d->io_buffer, .iov_len = len };

    assert(!d->io_inflight && d->blk);
    assert(len <= IDE_IO_BUFFER_SIZE || op == IDE_IO_DISCARD);
    r->d = d;
    r->gen = d->gen;
    r->done = done;
    d->io_inflight = true;
    d->status = (uint8_t)((d->status & ~IDE_STAT_DRQ) | IDE_STAT_BSY);
    switch (op) {
    case IDE_IO_READ:
        blk_preadv(d->blk, off, &iov, 1, ide_io_cb, r);
        break;
    case IDE_IO_WRITE:
        blk_pwritev(d->blk, off, &iov, 1, ide_io_cb, r);
        break;
    case IDE_IO_FLUSH:
        blk_flush(d->blk, ide_io_cb, r);
        break;
    case IDE_IO_DISCARD:
        blk_discard(d->blk, off, len, ide_io_cb, r);
        break;
    }
}

/* werror/rerror=ignore: the guest sees success. */
static bool ide_error_ignored(struct ide_drive *d, int ret, bool is_read)
{
    enum blockdev_error_action a = is_read ? d->rerror : d->werror;

    if (ret < 0 && a == BLOCKDEV_ERR_IGNORE) {
        dm_trace(ide_io_error_ignored, "%s: %s", d->drive_id, g_strerror(-ret));
        return true;
    }
    return false;
}

/* ---- PIO data blocks ---------------------------------------------------- */

void ide_pio_start(struct ide_drive *d, uint32_t start, uint32_t len,
                   enum ide_cont cont, bool irq)
{
    assert(start <= IDE_IO_BUFFER_SIZE && len <= IDE_IO_BUFFER_SIZE - start);
    d->data_ptr = start;
    d->data_end = start + len;
    d->cont = (uint8_t)cont;
    d->status = IDE_STAT_READY | IDE_STAT_DRQ;
    if (irq) {
        ide_set_irq(d);
    }
}

static bool ide_cont_is_in(uint8_t cont)
{
    return cont == IDE_CONT_READ || cont == IDE_CONT_IDENTIFY ||
           cont == IDE_CONT_ATAPI_IN;
}

static void ide_read_next_chunk(struct ide_drive *d);
static void ide_write_block(struct ide_drive *d);

static void ide_read_block_done(struct ide_drive *d)
{
    uint32_t max = d->cmd == 0xc4 || d->cmd == 0x29 ? d->mult_sectors : 1;

    d->lba += d->block_sectors;
    d->sectors_left -= d->block_sectors;
    d->buf_first += d->block_sectors;
    if (d->sectors_left == 0) {
        d->status = IDE_STAT_READY;
        d->cont = IDE_CONT_NONE;
        return;
    }
    if (d->buf_first < d->buf_sectors) {
        d->block_sectors =
            MIN(MIN(max, d->sectors_left), d->buf_sectors - d->buf_first);
        ide_pio_start(d, d->buf_first * IDE_SECTOR_SIZE,
                      d->block_sectors * IDE_SECTOR_SIZE, IDE_CONT_READ, true);
        return;
    }
    ide_read_next_chunk(d);
}

static void ide_pio_block_done(struct ide_drive *d)
{
    uint8_t cont = d->cont;

    d->status &= (uint8_t)~IDE_STAT_DRQ;
    d->cont = IDE_CONT_NONE;
    switch (cont) {
    case IDE_CONT_READ:
        ide_read_block_done(d);
        break;
    case IDE_CONT_WRITE:
        ide_write_block(d);
        break;
    case IDE_CONT_IDENTIFY:
        d->status = IDE_STAT_READY;
        break;
    case IDE_CONT_PACKET:
        d->status = IDE_STAT_BSY | IDE_STAT_DRDY;
        memcpy(d->atapi.packet, d->io_buffer, ATAPI_PACKET_SIZE);
        atapi_packet_received(d);
        break;
    case IDE_CONT_ATAPI_IN:
        atapi_chunk_consumed(d);
        break;
    default:
        break;
    }
}

static uint32_t ide_data_read(struct ide_drive *d, unsigned size)
{
    uint32_t val = 0;

    if (!(d->status & IDE_STAT_DRQ) || !ide_cont_is_in(d->cont) ||
        d->data_ptr >= d->data_end) {
        return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    }
    for (unsigned i = 0; i < size; i++) {
        if (d->data_ptr + i < d->data_end) {
            val |= (uint32_t)d->io_buffer[d->data_ptr + i] << (8 * i);
        }
    }
    d->data_ptr = MIN(d->data_ptr + size, d->data_end);
    if (d->data_ptr >= d->data_end) {
        ide_pio_block_done(d);
    }
    return val;
}

static void ide_data_write(struct ide_drive *d, uint32_t val, unsigned size)
{
    if (!(d->status & IDE_STAT_DRQ) || ide_cont_is_in(d->cont) ||
        d->cont == IDE_CONT_NONE || d->data_ptr >= d->data_end) {
        dm_guest_error("ide: data port write without a data-out phase");
        return;
    }
    for (unsigned i = 0; i < size && d->data_ptr + i < d->data_end; i++) {
        d->io_buffer[d->data_ptr + i] = (uint8_t)(val >> (8 * i));
    }
    d->data_ptr = MIN(d->data_ptr + size, d->data_end);
    if (d->data_ptr >= d->data_end) {
        ide_pio_block_done(d);
    }
}

/* ---- addressing --------------------------------------------------------- */

/* The command's starting sector and count from the task file; false (and
 * the command failed with IDNF) when they do not address the medium. */
static bool ide_get_range(struct ide_drive *d, bool lba48, uint64_t *lba,
                          uint32_t *count)
{
    if (lba48) {
        *lba = (uint64_t)d->hob_hcyl << 40 | (uint64_t)d->hob_lcyl << 32 |
               (uint64_t)d->hob_sector << 24 | (uint64_t)d->hcyl << 16 |
               (uint64_t)d->lcyl << 8 | d->sector;
        *count = (uint32_t)(d->hob_nsector << 8 | d->nsector);
        if (*count == 0) {
            *count = 65536;
        }
    } else {
        if (d->select & IDE_SEL_LBA) {
            *lba = (uint64_t)(d->select & 0x0f) << 24 |
                   (uint64_t)d->hcyl << 16 | (uint64_t)d->lcyl << 8 | d->sector;
        } else {
            uint32_t cyl = (uint32_t)(d->hcyl << 8 | d->lcyl);
            uint32_t head = d->select & 0x0f;

            if (d->sector == 0 || d->sector > d->cur_secs ||
                head >= d->cur_heads) {
                dm_guest_error("ide: CHS %u/%u/%u outside the geometry", cyl,
                               head, d->sector);
                ide_cmd_error(d, IDE_ERR_IDNF | IDE_ERR_ABRT);
                return false;
            }
            *lba = ((uint64_t)cyl * d->cur_heads + head) * d->cur_secs +
                   d->sector - 1;
        }
        *count = d->nsector ? d->nsector : 256;
    }
    if (*lba > d->nb_sectors || *count > d->nb_sectors - *lba) {
        dm_guest_error("ide: sectors %" PRIu64 "+%u beyond the end (%" PRIu64
                       ")",
                       *lba, *count, d->nb_sectors);
        ide_cmd_error(d, IDE_ERR_IDNF | IDE_ERR_ABRT);
        return false;
    }
    return true;
}

static bool ide_cmd_is_lba48(uint8_t cmd)
{
    switch (cmd) {
    case 0x24:
    case 0x25:
    case 0x29:
    case 0x34:
    case 0x35:
    case 0x39:
    case 0x42:
        return true;
    }
    return false;
}

/* ---- PIO read/write ----------------------------------------------------- */

static void ide_read_chunk_cb(struct ide_drive *d, int ret)
{
    uint32_t max = d->cmd == 0xc4 || d->cmd == 0x29 ? d->mult_sectors : 1;

    if (ret < 0 && !ide_error_ignored(d, ret, true)) {
        ide_io_error(d, ret, true);
        return;
    }
    d->standby = false;
    d->buf_first = 0;
    d->block_sectors = MIN(MIN(max, d->sectors_left), d->buf_sectors);
    ide_pio_start(d, 0, d->block_sectors * IDE_SECTOR_SIZE, IDE_CONT_READ,
                  true);
}

static void ide_read_next_chunk(struct ide_drive *d)
{
    d->buf_sectors = MIN(d->sectors_left, IDE_READ_AHEAD_SECTORS);
    ide_io_submit(d, IDE_IO_READ, d->lba * IDE_SECTOR_SIZE,
                  d->buf_sectors * IDE_SECTOR_SIZE, ide_read_chunk_cb);
}

static void ide_cmd_read_pio(struct ide_drive *d)
{
    bool multiple = d->cmd == 0xc4 || d->cmd == 0x29;
    uint32_t count;

    if (multiple && d->mult_sectors == 0) {
        ide_abort(d);
        return;
    }
    if (!ide_get_range(d, ide_cmd_is_lba48(d->cmd), &d->lba, &count)) {
        return;
    }
    d->sectors_left = count;
    ide_read_next_chunk(d);
}

static void ide_write_first_block(struct ide_drive *d)
{
    uint32_t max = d->cmd == 0xc5 || d->cmd == 0x39 ? d->mult_sectors : 1;

    d->block_sectors = MIN(max, d->sectors_left);
    ide_pio_start(d, 0, d->block_sectors * IDE_SECTOR_SIZE, IDE_CONT_WRITE,
                  false);
}

static void ide_write_done(struct ide_drive *d)
{
    d->standby = false;
    ide_cmd_ok(d);
}

static void ide_flush_after_write_cb(struct ide_drive *d, int ret)
{
    if (ret < 0 && !ide_error_ignored(d, ret, false)) {
        ide_io_error(d, ret, false);
        return;
    }
    ide_write_done(d);
}

/* All sectors written: with the write cache off they reach the disk
 * before the command completes. */
static void ide_write_finish(struct ide_drive *d)
{
    if (!d->wcache) {
        ide_io_submit(d, IDE_IO_FLUSH, 0, 0, ide_flush_after_write_cb);
        return;
    }
    ide_write_done(d);
}

static void ide_write_block_cb(struct ide_drive *d, int ret)
{
    uint32_t max = d->cmd == 0xc5 || d->cmd == 0x39 ? d->mult_sectors : 1;

    if (ret < 0 && !ide_error_ignored(d, ret, false)) {
        ide_io_error(d, ret, false);
        return;
    }
    d->lba += d->block_sectors;
    d->sectors_left -= d->block_sectors;
    if (d->sectors_left == 0) {
        ide_write_finish(d);
        return;
    }
    d->block_sectors = MIN(max, d->sectors_left);
    ide_pio_start(d, 0, d->block_sectors * IDE_SECTOR_SIZE, IDE_CONT_WRITE,
                  true);
}

static void ide_write_block(struct ide_drive *d)
{
    ide_io_submit(d, IDE_IO_WRITE, d->lba * IDE_SECTOR_SIZE,
                  d->block_sectors * IDE_SECTOR_SIZE, ide_write_block_cb);
}

static void ide_cmd_write_pio(struct ide_drive *d)
{
    bool multiple = d->cmd == 0xc5 || d->cmd == 0x39;
    uint32_t count;

    if (multiple && d->mult_sectors == 0) {
        ide_abort(d);
        return;
    }
    if (!ide_get_range(d, ide_cmd_is_lba48(d->cmd), &d->lba, &count)) {
        return;
    }
    d->sectors_left = count;
    ide_write_first_block(d);
}

/* ---- DMA ---------------------------------------------------------------- */

static void ide_cmd_rw_dma(struct ide_drive *d)
{
    bool is_write = d->cmd == 0xca || d->cmd == 0xcb || d->cmd == 0x35;
    uint32_t count;

    if (!ide_get_range(d, ide_cmd_is_lba48(d->cmd), &d->lba, &count)) {
        return;
    }
    d->sectors_left = count;
    d->dma_mode = is_write ? IDE_DMA_BLK_WRITE : IDE_DMA_BLK_READ;
    d->status = IDE_STAT_READY | IDE_STAT_DRQ;
    ide_bmdma_request(d->bus, d->dma_mode, d->lba * IDE_SECTOR_SIZE,
                      count * IDE_SECTOR_SIZE);
}

static void ide_dsm_next(struct ide_drive *d);

static void ide_dsm_cb(struct ide_drive *d, int ret)
{
    if (ret < 0 && !ide_error_ignored(d, ret, false)) {
        ide_io_error(d, ret, false);
        return;
    }
    ide_dsm_next(d);
}

/* Discard the next non-empty range entry of the DSM data in io_buffer. */
static void ide_dsm_next(struct ide_drive *d)
{
    uint32_t entries = d->sectors_left * IDE_SECTOR_SIZE / 8;

    while (d->dsm_index < entries) {
        const uint8_t *e = d->io_buffer + 8 * d->dsm_index++;
        uint64_t v = 0, lba;
        uint32_t n;

        for (int i = 7; i >= 0; i--) {
            v = v << 8 | e[i];
        }
        lba = v & 0xffffffffffffull;
        n = (uint32_t)(v >> 48);
        if (n == 0) {
            continue;
        }
        if (lba > d->nb_sectors || n > d->nb_sectors - lba) {
            dm_guest_error("ide: TRIM range %" PRIu64 "+%u beyond the end", lba,
                           n);
            ide_cmd_error(d, IDE_ERR_IDNF | IDE_ERR_ABRT);
            return;
        }
        if (d->discard) {
            ide_io_submit(d, IDE_IO_DISCARD, lba * IDE_SECTOR_SIZE,
                          n * IDE_SECTOR_SIZE, ide_dsm_cb);
            return;
        }
    }
    ide_cmd_ok(d);
}

static void ide_cmd_dsm(struct ide_drive *d)
{
    uint32_t blocks = (uint32_t)(d->hob_nsector << 8 | d->nsector);

    if (!(d->feature & IDE_DSM_TRIM) || blocks == 0 ||
        blocks > IDE_DSM_MAX_BLOCKS) {
        ide_abort(d);
        return;
    }
    d->sectors_left = blocks;
    d->dsm_index = 0;
    d->dma_mode = IDE_DMA_BUF_OUT;
    d->status = IDE_STAT_READY | IDE_STAT_DRQ;
    ide_bmdma_request(d->bus, IDE_DMA_BUF_OUT, 0, blocks * IDE_SECTOR_SIZE);
}

static void ide_dma_flush_cb(struct ide_drive *d, int ret)
{
    ide_flush_after_write_cb(d, ret);
}

void ide_dma_done(struct ide_drive *d, enum ide_dma_result r)
{
    uint8_t mode = d->dma_mode;

    d->dma_mode = IDE_DMA_NONE;
    if (d->kind == IDE_CD) {
        atapi_dma_done(d, r);
        return;
    }
    switch (r) {
    case IDE_DMA_OK:
        break;
    case IDE_DMA_IO_ERROR:
        if (ide_error_ignored(d, -d->io_errno, mode == IDE_DMA_BLK_READ)) {
            break;
        }
        ide_io_error(d, -d->io_errno, mode == IDE_DMA_BLK_READ);
        return;
    default:
        ide_abort(d);
        return;
    }
    if (d->cmd == 0x06) {
        ide_dsm_next(d);
    } else if (mode == IDE_DMA_BLK_WRITE && !d->wcache) {
        ide_io_submit(d, IDE_IO_FLUSH, 0, 0, ide_dma_flush_cb);
    } else {
        d->standby = false;
        ide_cmd_ok(d);
    }
}

/* ---- IDENTIFY DEVICE ---------------------------------------------------- */

static uint16_t ide_xfer_selected(const struct ide_drive *d, uint8_t type)
{
    if ((d->xfer_mode & 0xf8) != type) {
        return 0;
    }
    return (uint16_t)(1u << (8 + (d->xfer_mode & 7)));
}

static void ide_identify(struct ide_drive *d, uint16_t *id)
{
    uint64_t lba28 = MIN(d->nb_sectors, IDE_LBA28_MAX);
    uint32_t cur_cap = (uint32_t)MIN(
        (uint64_t)d->cur_cyls * d->cur_heads * d->cur_secs, 0xffffffffull);
    bool wcache = d->wcache, la = d->lookahead;

    memset(id, 0, 512);
    id[0] = 0x0040; /* fixed device */
    id[1] = d->cyls;
    id[3] = d->heads;
    id[6] = d->secs;
    ide_put_id_string(id, 10, d->serial, 20);
    ide_put_id_string(id, 23, d->version, 8);
    ide_put_id_string(id, 27, d->model, 40);
    id[47] = 0x8000 | IDE_MAX_MULT;
    id[49] = (1u << 11) | (1u << 9) | (1u << 8); /* IORDY, LBA, DMA */
    id[50] = 0x4000;
    id[53] = 0x0007; /* words 54-58, 64-70, 88 valid */
    id[54] = d->cur_cyls;
    id[55] = d->cur_heads;
    id[56] = d->cur_secs;
    id[57] = (uint16_t)cur_cap;
    id[58] = (uint16_t)(cur_cap >> 16);
    id[59] = d->mult_sectors ? (uint16_t)(0x100 | d->mult_sectors) : 0;
    id[60] = (uint16_t)lba28;
    id[61] = (uint16_t)(lba28 >> 16);
    id[63] = 0x0007 | ide_xfer_selected(d, 0x20); /* MWDMA 0-2 */
    id[64] = 0x0003;                              /* PIO 3 and 4 */
    id[65] = 120;
    id[66] = 120;
    id[67] = 120;
    id[68] = 120;
    id[80] = 0x00f0; /* ATA/ATAPI-4 to 7 */
    /* 82-87: NOP, look-ahead, write cache, power management; FLUSH CACHE
     * (EXT) and 48-bit addresses. */
    id[82] = (1u << 14) | (1u << 6) | (1u << 5) | (1u << 3);
    id[83] = 0x4000 | (1u << 13) | (1u << 12) | (1u << 10);
    id[84] = 0x4000;
    id[85] = (uint16_t)((1u << 14) | (la ? 1u << 6 : 0) |
                        (wcache ? 1u << 5 : 0) | (1u << 3));
    id[86] = (1u << 13) | (1u << 12) | (1u << 10);
    id[87] = 0x4000;
    id[88] = 0x003f | ide_xfer_selected(d, 0x40); /* UDMA 0-5 */
    id[93] = d->unit == 0 ? 0x6001 | (1u << 3) : 0x6100;
    for (unsigned i = 0; i < 4; i++) {
        id[100 + i] = (uint16_t)(d->nb_sectors >> (16 * i));
    }
    id[105] = IDE_DSM_MAX_BLOCKS;
    id[169] = 0x0001; /* DATA SET MANAGEMENT: TRIM */
    ide_id_checksum(id);
}

static void ide_cmd_identify(struct ide_drive *d)
{
    uint16_t id[256];

    if (d->kind == IDE_CD) {
        /* An ATAPI device aborts and shows its signature (ATA-7 6.17). */
        ide_set_signature(d);
        ide_abort(d);
        return;
    }
    ide_identify(d, id);
    ide_id_to_buffer(d, id);
    ide_pio_start(d, 0, 512, IDE_CONT_IDENTIFY, true);
}

static void ide_cmd_identify_packet(struct ide_drive *d)
{
    uint16_t id[256];

    atapi_identify(d, id);
    ide_id_checksum(id);
    ide_id_to_buffer(d, id);
    ide_pio_start(d, 0, 512, IDE_CONT_IDENTIFY, true);
}

/* ---- other commands ----------------------------------------------------- */

static void ide_cmd_nodata_ok(struct ide_drive *d)
{
    ide_cmd_ok(d);
}

static void ide_cmd_verify(struct ide_drive *d)
{
    uint64_t lba;
    uint32_t count;

    if (ide_get_range(d, ide_cmd_is_lba48(d->cmd), &lba, &count)) {
        d->standby = false;
        ide_cmd_ok(d);
    }
}

static void ide_cmd_seek(struct ide_drive *d)
{
    uint64_t lba;
    uint32_t count;

    /* The count does not matter for SEEK; only the address is checked. */
    d->nsector = 1;
    if (ide_get_range(d, false, &lba, &count)) {
        ide_cmd_ok(d);
    }
}

static void ide_flush_cb(struct ide_drive *d, int ret)
{
    if (ret < 0 && !ide_error_ignored(d, ret, false)) {
        ide_io_error(d, ret, false);
        return;
    }
    ide_cmd_ok(d);
}

static void ide_cmd_flush(struct ide_drive *d)
{
    if (!d->blk || d->kind == IDE_CD) {
        ide_cmd_ok(d);
        return;
    }
    ide_io_submit(d, IDE_IO_FLUSH, 0, 0, ide_flush_cb);
}

static void ide_cmd_set_multiple(struct ide_drive *d)
{
    uint8_t n = d->nsector;

    if (n > IDE_MAX_MULT || (n & (n - 1)) != 0) {
        ide_abort(d);
        return;
    }
    d->mult_sectors = n;
    ide_cmd_ok(d);
}

static void ide_cmd_init_params(struct ide_drive *d)
{
    uint32_t heads = (d->select & 0x0f) + 1u, secs = d->nsector;

    d->cur_heads = (uint16_t)heads;
    d->cur_secs = (uint16_t)secs;
    d->cur_cyls = secs ? (uint16_t)MIN(d->nb_sectors / (heads * secs),
                                       (uint64_t)UINT16_MAX)
                       : 0;
    ide_cmd_ok(d);
}

static void ide_cmd_power(struct ide_drive *d)
{
    switch (d->cmd) {
    case 0xe0: /* STANDBY IMMEDIATE */
    case 0xe2: /* STANDBY */
    case 0xe6: /* SLEEP: treated as standby */
        d->standby = true;
        break;
    case 0xe1: /* IDLE IMMEDIATE */
    case 0xe3: /* IDLE */
        d->standby = false;
        break;
    }
    ide_cmd_ok(d);
}

static void ide_cmd_check_power(struct ide_drive *d)
{
    ide_cmd_ok(d);
    d->nsector = d->standby ? 0x00 : 0xff;
}

static void ide_cmd_set_features(struct ide_drive *d)
{
    uint8_t v = d->nsector;

    switch (d->feature) {
    case SETF_WCACHE_ON:
        d->wcache = true;
        break;
    case SETF_WCACHE_OFF:
        d->wcache = false;
        break;
    case SETF_LOOKAHEAD_ON:
        d->lookahead = true;
        break;
    case SETF_LOOKAHEAD_OFF:
        d->lookahead = false;
        break;
    case SETF_REVERT_ON:
    case SETF_REVERT_OFF:
        break;
    case SETF_XFER_MODE:
        /* PIO default (00h/01h), PIO n (08h+n, n <= 4), MWDMA n (20h+n,
         * n <= 2), UDMA n (40h+n, n <= 5) */
        if (v <= 0x01 || (v >= 0x08 && v <= 0x0c) || (v >= 0x20 && v <= 0x22) ||
            (v >= 0x40 && v <= 0x45)) {
            if (v >= 0x20) {
                d->xfer_mode = v; /* the DMA mode words 63/88 show */
            }
            break;
        }
        ide_abort(d);
        return;
    default:
        ide_abort(d);
        return;
    }
    ide_cmd_ok(d);
}

/* EXECUTE DEVICE DIAGNOSTIC: both devices run it; device 0 reports. */
static void ide_cmd_diagnose(struct ide_drive *d)
{
    struct ide_bus *b = d->bus;

    for (int i = 0; i < 2; i++) {
        struct ide_drive *x = &b->drive[i];

        if (x->kind == IDE_NONE) {
            continue;
        }
        x->gen++; /* a request in flight is forgotten */
        x->cmd_deferred = false;
        ide_set_signature(x);
        x->error = 0x01; /* passed (device 1 passed or absent) */
        x->status = x->kind == IDE_CD ? 0 : IDE_STAT_READY;
        x->cont = IDE_CONT_NONE;
        x->dma_mode = IDE_DMA_NONE;
    }
    ide_set_irq(b->drive[0].kind != IDE_NONE ? &b->drive[0] : &b->drive[1]);
}

static void ide_cmd_device_reset(struct ide_drive *d)
{
    d->gen++;
    ide_bmdma_cancel(d->bus);
    ide_set_signature(d);
    atapi_reset(d);
    d->cont = IDE_CONT_NONE;
    d->dma_mode = IDE_DMA_NONE;
    d->status = 0;
    d->error = 0x01;
}

static void ide_cmd_packet(struct ide_drive *d)
{
    d->atapi.dma = d->feature & 0x01;
    d->atapi.bcl = (uint16_t)(d->hcyl << 8 | d->lcyl);
    d->nsector = (uint8_t)((d->nsector & ~7) | ATAPI_INT_COD);
    ide_pio_start(d, 0, ATAPI_PACKET_SIZE, IDE_CONT_PACKET, false);
}

/* ---- command dispatch --------------------------------------------------- */

#define IDE_CMD_HD 0x01 /* executed by ATA devices */
#define IDE_CMD_CD 0x02 /* executed by ATAPI devices */
#define IDE_CMD_ALL (IDE_CMD_HD | IDE_CMD_CD)

struct ide_cmd {
    void (*fn)(struct ide_drive *d);
    uint8_t flags;
};

/* ATA-7 volume 1 section 6; DATA SET MANAGEMENT from ACS-2 7.10. */
static const struct ide_cmd ide_cmds[256] = {
    [0x06] = { ide_cmd_dsm, IDE_CMD_HD },             /* DATA SET MGMT */
    [0x08] = { ide_cmd_device_reset, IDE_CMD_CD },    /* DEVICE RESET */
    [0x10] = { ide_cmd_nodata_ok, IDE_CMD_HD },       /* RECALIBRATE */
    [0x20] = { ide_cmd_read_pio, IDE_CMD_HD },        /* READ SECTORS */
    [0x21] = { ide_cmd_read_pio, IDE_CMD_HD },        /* ... no retry */
    [0x24] = { ide_cmd_read_pio, IDE_CMD_HD },        /* READ SECTORS EXT */
    [0x25] = { ide_cmd_rw_dma, IDE_CMD_HD },          /* READ DMA EXT */
    [0x29] = { ide_cmd_read_pio, IDE_CMD_HD },        /* READ MULTIPLE EXT */
    [0x30] = { ide_cmd_write_pio, IDE_CMD_HD },       /* WRITE SECTORS */
    [0x31] = { ide_cmd_write_pio, IDE_CMD_HD },       /* ... no retry */
    [0x34] = { ide_cmd_write_pio, IDE_CMD_HD },       /* WRITE SECTORS EXT */
    [0x35] = { ide_cmd_rw_dma, IDE_CMD_HD },          /* WRITE DMA EXT */
    [0x39] = { ide_cmd_write_pio, IDE_CMD_HD },       /* WRITE MULTIPLE EXT */
    [0x40] = { ide_cmd_verify, IDE_CMD_HD },          /* READ VERIFY */
    [0x41] = { ide_cmd_verify, IDE_CMD_HD },          /* ... no retry */
    [0x42] = { ide_cmd_verify, IDE_CMD_HD },          /* READ VERIFY EXT */
    [0x70] = { ide_cmd_seek, IDE_CMD_HD },            /* SEEK */
    [0x90] = { ide_cmd_diagnose, IDE_CMD_ALL },       /* EXEC DIAGNOSTIC */
    [0x91] = { ide_cmd_init_params, IDE_CMD_HD },     /* INIT DEV PARAMS */
    [0xa0] = { ide_cmd_packet, IDE_CMD_CD },          /* PACKET */
    [0xa1] = { ide_cmd_identify_packet, IDE_CMD_CD }, /* IDENTIFY PACKET */
    [0xc4] = { ide_cmd_read_pio, IDE_CMD_HD },        /* READ MULTIPLE */
    [0xc5] = { ide_cmd_write_pio, IDE_CMD_HD },       /* WRITE MULTIPLE */
    [0xc6] = { ide_cmd_set_multiple, IDE_CMD_HD },    /* SET MULTIPLE MODE */
    [0xc8] = { ide_cmd_rw_dma, IDE_CMD_HD },          /* READ DMA */
    [0xc9] = { ide_cmd_rw_dma, IDE_CMD_HD },          /* ... no retry */
    [0xca] = { ide_cmd_rw_dma, IDE_CMD_HD },          /* WRITE DMA */
    [0xcb] = { ide_cmd_rw_dma, IDE_CMD_HD },          /* ... no retry */
    [0xe0] = { ide_cmd_power, IDE_CMD_ALL },          /* STANDBY IMMEDIATE */
    [0xe1] = { ide_cmd_power, IDE_CMD_ALL },          /* IDLE IMMEDIATE */
    [0xe2] = { ide_cmd_power, IDE_CMD_HD },           /* STANDBY */
    [0xe3] = { ide_cmd_power, IDE_CMD_HD },           /* IDLE */
    [0xe5] = { ide_cmd_check_power, IDE_CMD_ALL },    /* CHECK POWER MODE */
    [0xe6] = { ide_cmd_power, IDE_CMD_ALL },          /* SLEEP */
    [0xe7] = { ide_cmd_flush, IDE_CMD_ALL },          /* FLUSH CACHE */
    [0xea] = { ide_cmd_flush, IDE_CMD_HD },           /* FLUSH CACHE EXT */
    [0xec] = { ide_cmd_identify, IDE_CMD_ALL },       /* IDENTIFY DEVICE */
    [0xef] = { ide_cmd_set_features, IDE_CMD_ALL },   /* SET FEATURES */
};

static void ide_exec_cmd(struct ide_drive *d, uint8_t cmd)
{
    const struct ide_cmd *c = &ide_cmds[cmd];
    uint8_t need = d->kind == IDE_CD ? IDE_CMD_CD : IDE_CMD_HD;

    dm_trace(ide_exec_cmd, "bus %d unit %d cmd 0x%02x", d->bus->index, d->unit,
             cmd);
    d->cmd = cmd;
    ide_clear_irq(d);
    if (cmd == 0x08 && d->kind == IDE_CD) {
        /* DEVICE RESET works even while busy: it makes any request in
         * flight stale. */
        d->cmd_deferred = false;
        ide_cmd_device_reset(d);
        return;
    }
    if (d->io_inflight) {
        /* A request from before a reset is still running: the command
         * starts when it is gone (the guest sees BSY meanwhile). */
        d->cmd_deferred = true;
        d->status = IDE_STAT_BSY;
        return;
    }
    d->cont = IDE_CONT_NONE;
    d->dma_mode = IDE_DMA_NONE;
    d->data_ptr = d->data_end = 0;
    if (!c->fn || !(c->flags & need)) {
        dm_trace(ide_cmd_unsupported, "cmd 0x%02x", cmd);
        ide_abort(d);
        return;
    }
    c->fn(d);
}

static void ide_command_write(struct ide_bus *b, uint8_t cmd)
{
    struct ide_drive *d = ide_cur(b);

    if (cmd == 0x90 &&
        (b->drive[0].kind != IDE_NONE || b->drive[1].kind != IDE_NONE)) {
        /* EXECUTE DEVICE DIAGNOSTIC reaches both devices. */
        d = b->drive[0].kind != IDE_NONE ? &b->drive[0] : &b->drive[1];
        b->drive[0].cmd = b->drive[1].cmd = cmd;
        ide_cmd_diagnose(d);
        return;
    }
    if (d->kind == IDE_NONE) {
        return;
    }
    if ((d->status & IDE_STAT_BSY) && cmd != 0x08) {
        dm_guest_error("ide: command 0x%02x while busy", cmd);
        return;
    }
    ide_exec_cmd(d, cmd);
}

/* ---- register access ---------------------------------------------------- */

uint32_t ide_ioport_read(struct ide_bus *b, unsigned reg, unsigned size)
{
    struct ide_drive *d = ide_cur(b);
    bool hob = b->devctl & IDE_CTL_HOB;

    if (reg == IDE_REG_DATA) {
        return d->kind == IDE_NONE ? 0 : ide_data_read(d, size);
    }
    if (d->kind == IDE_NONE) {
        return 0; /* an absent device reads as 0 (libata, SeaBIOS probe) */
    }
    switch (reg) {
    case IDE_REG_ERROR:
        return d->error;
    case IDE_REG_NSECTOR:
        return hob ? d->hob_nsector : d->nsector;
    case IDE_REG_SECTOR:
        return hob ? d->hob_sector : d->sector;
    case IDE_REG_LCYL:
        return hob ? d->hob_lcyl : d->lcyl;
    case IDE_REG_HCYL:
        return hob ? d->hob_hcyl : d->hcyl;
    case IDE_REG_SELECT:
        return d->select;
    default:
        ide_clear_irq(d);
        return d->status;
    }
}

void ide_ioport_write(struct ide_bus *b, unsigned reg, uint32_t val,
                      unsigned size)
{
    uint8_t v = (uint8_t)val;

    if (reg == IDE_REG_DATA) {
        if (ide_cur(b)->kind != IDE_NONE) {
            ide_data_write(ide_cur(b), val, size);
        }
        return;
    }
    if (reg != IDE_REG_STATUS) {
        b->devctl &= (uint8_t)~IDE_CTL_HOB;
    }
    for (int i = 0; i < 2 && reg != IDE_REG_STATUS; i++) {
        struct ide_drive *d = &b->drive[i];

        switch (reg) {
        case IDE_REG_ERROR:
            d->hob_feature = d->feature;
            d->feature = v;
            break;
        case IDE_REG_NSECTOR:
            d->hob_nsector = d->nsector;
            d->nsector = v;
            break;
        case IDE_REG_SECTOR:
            d->hob_sector = d->sector;
            d->sector = v;
            break;
        case IDE_REG_LCYL:
            d->hob_lcyl = d->lcyl;
            d->lcyl = v;
            break;
        case IDE_REG_HCYL:
            d->hob_hcyl = d->hcyl;
            d->hcyl = v;
            break;
        case IDE_REG_SELECT:
            d->select = v | IDE_SEL_OBS;
            break;
        }
    }
    if (reg == IDE_REG_SELECT) {
        b->unit = (v & IDE_SEL_DEV) ? 1 : 0;
        ide_update_irq(b);
    } else if (reg == IDE_REG_STATUS) {
        ide_command_write(b, v);
    }
}

uint8_t ide_status_read(struct ide_bus *b)
{
    struct ide_drive *d = ide_cur(b);

    return d->kind == IDE_NONE ? 0 : d->status;
}

void ide_ctl_write(struct ide_bus *b, uint8_t val)
{
    bool was_srst = b->devctl & IDE_CTL_SRST;

    dm_trace(ide_ctl_write, "bus %d 0x%02x", b->index, val);
    if (!was_srst && (val & IDE_CTL_SRST)) {
        /* Reset asserted: every device stops and shows BSY. */
        ide_bmdma_cancel(b);
        for (int i = 0; i < 2; i++) {
            struct ide_drive *d = &b->drive[i];

            d->gen++;
            d->cont = IDE_CONT_NONE;
            d->dma_mode = IDE_DMA_NONE;
            d->data_ptr = d->data_end = 0;
            d->irq_pending = false;
            d->status = IDE_STAT_BSY;
        }
    } else if (was_srst && !(val & IDE_CTL_SRST)) {
        /* Reset released: devices come up with their signature. */
        for (int i = 0; i < 2; i++) {
            ide_drive_reset(&b->drive[i]);
        }
    }
    b->devctl = val;
    ide_update_irq(b);
}

/* ---- reset, attach ------------------------------------------------------ */

void ide_set_signature(struct ide_drive *d)
{
    d->select &= (uint8_t)(IDE_SEL_DEV | IDE_SEL_OBS);
    d->nsector = 1;
    d->sector = 1;
    if (d->kind == IDE_CD) {
        d->lcyl = 0x14;
        d->hcyl = 0xeb;
    } else {
        d->lcyl = 0;
        d->hcyl = 0;
    }
    d->hob_nsector = d->hob_sector = d->hob_lcyl = d->hob_hcyl = 0;
}

void ide_drive_reset(struct ide_drive *d)
{
    d->gen++;
    d->cmd_deferred = false;
    d->feature = d->hob_feature = 0;
    d->select = IDE_SEL_OBS | (d->bus->unit ? IDE_SEL_DEV : 0);
    ide_set_signature(d);
    d->error = 0x01;
    d->status = d->kind == IDE_CD ? 0 : IDE_STAT_READY;
    d->irq_pending = false;
    d->mult_sectors = IDE_MAX_MULT;
    d->xfer_mode = 0;
    d->wcache = true;
    d->lookahead = true;
    d->standby = false;
    d->cur_cyls = d->cyls;
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
    d->lba = 0;
    d->sectors_left = d->block_sectors = 0;
    d->buf_sectors = d->buf_first = 0;
    d->cont = IDE_CONT_NONE;
    d->dma_mode = IDE_DMA_NONE;
    d->dsm_index = 0;
    d->data_ptr = d->data_end = 0;
    if (d->kind == IDE_CD) {
        atapi_reset(d);
    }
}

void ide_bus_init(struct ide_bus *b, int index, struct dm_pci_dev *pci)
{
    b->index = index;
    b->pci = pci;
    for (int i = 0; i < 2; i++) {
        b->drive[i].bus = b;
        b->drive[i].unit = i;
        b->drive[i].bootindex = -1;
    }
}

void ide_bus_reset(struct ide_bus *b)
{
    ide_bmdma_cancel(b);
    b->devctl = 0;
    b->unit = 0;
    memset(&b->bm, 0, offsetof(struct ide_bmdma, inflight));
    for (int i = 0; i < 2; i++) {
        ide_drive_reset(&b->drive[i]);
    }
    ide_update_irq(b);
}

/* CHS geometry as BIOSes expect from an ATA disk: 16 heads, 63 sectors. */
static void ide_guess_geometry(struct ide_drive *d)
{
    uint64_t cyls = d->nb_sectors / (16 * 63);

    d->heads = 16;
    d->secs = 63;
    d->cyls = (uint16_t)MAX(1, MIN(cyls, (uint64_t)IDE_CHS_MAX_CYLS));
}

bool ide_attach(struct ide_bus *b, int unit, enum ide_kind kind,
                struct blk *blk, const struct blockdev_drive *conf,
                struct dm_dev *front, GError **errp)
{
    struct ide_drive *d = &b->drive[unit];
    uint64_t hash;

    if (d->kind != IDE_NONE) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "ide.%d unit %d is already taken", b->index, unit);
        return false;
    }
    d->kind = kind;
    d->blk = blk;
    d->front = front;
    g_strlcpy(d->drive_id, conf ? conf->id : "", sizeof(d->drive_id));
    d->werror = conf ? conf->werror : BLOCKDEV_ERR_ENOSPC;
    d->rerror = conf ? conf->rerror : BLOCKDEV_ERR_REPORT;
    d->discard = conf ? conf->discard : true;
    /* A stable serial per position, as a real disk has one. */
    hash = g_str_hash(d->drive_id) % 100000;
    g_snprintf(d->serial, sizeof(d->serial), "HVMDM%05u%d%d", (unsigned)hash,
               b->index, unit);
    g_strlcpy(d->model, kind == IDE_CD ? "HVMDM DVD-ROM" : "HVMDM HARDDISK",
              sizeof(d->model));
    g_strlcpy(d->version, HVMDM_VERSION, sizeof(d->version));
    if (kind == IDE_HD) {
        d->nb_sectors = blk_size(blk) / IDE_SECTOR_SIZE;
        ide_guess_geometry(d);
    } else {
        d->nb_sectors = blk ? blk_size(blk) / ATAPI_SECTOR_SIZE : 0;
        memset(&d->atapi, 0, sizeof(d->atapi));
    }
    ide_drive_reset(d);
    return true;
}

void ide_detach(struct ide_drive *d)
{
    if (d->kind == IDE_NONE) {
        return;
    }
    d->gen++;
    d->cmd_deferred = false;
    if (d->bus->bm.inflight || d->io_inflight) {
        ide_bmdma_cancel(d->bus);
        if (d->blk) {
            blk_drain(d->blk);
        }
    }
    d->kind = IDE_NONE;
    d->blk = NULL;
    d->front = NULL;
    d->nb_sectors = 0;
    d->irq_pending = false;
    ide_update_irq(d->bus);
}

void ide_cd_set_medium(struct ide_drive *d, struct blk *blk)
{
    bool deferred = d->cmd_deferred;

    d->gen++;
    d->cmd_deferred = false;
    if (d->blk && (d->io_inflight || d->bus->bm.inflight)) {
        ide_bmdma_cancel(d->bus);
        blk_drain(d->blk);
    }
    d->blk = blk;
    d->nb_sectors = blk ? blk_size(blk) / ATAPI_SECTOR_SIZE : 0;
    if (!deferred && (d->cont != IDE_CONT_NONE || d->dma_mode != IDE_DMA_NONE ||
                      (d->status & IDE_STAT_BSY))) {
        /* A command on the old medium ends with an error. */
        atapi_set_sense(d, 0x02, 0x3a, 0x00);
        d->cont = IDE_CONT_NONE;
        d->dma_mode = IDE_DMA_NONE;
        d->status = IDE_STAT_READY | IDE_STAT_ERR;
        d->error = (uint8_t)(0x02 << 4);
        d->nsector = ATAPI_INT_IO | ATAPI_INT_COD;
        ide_set_irq(d);
    }
    atapi_medium_changed(d, blk != NULL);
    if (deferred) {
        ide_exec_cmd(d, d->cmd); /* it waited for the old medium */
    }
}

/* ---- saved state -------------------------------------------------------- */

static const struct dm_vmstate_field ide_atapi_fields[] = {
    DM_VMS_BUFFER(struct ide_atapi, packet),
    DM_VMS_UINT8(struct ide_atapi, sense_key),
    DM_VMS_UINT8(struct ide_atapi, asc),
    DM_VMS_UINT8(struct ide_atapi, ascq),
    DM_VMS_BOOL(struct ide_atapi, tray_open),
    DM_VMS_BOOL(struct ide_atapi, tray_locked),
    DM_VMS_UINT8(struct ide_atapi, media_state),
    DM_VMS_UINT8(struct ide_atapi, media_event),
    DM_VMS_BOOL(struct ide_atapi, dma),
    DM_VMS_UINT16(struct ide_atapi, bcl),
    DM_VMS_UINT32(struct ide_atapi, xfer_left),
    DM_VMS_UINT32(struct ide_atapi, lba),
    DM_VMS_UINT32(struct ide_atapi, sectors_left),
    DM_VMS_UINT32(struct ide_atapi, buf_pos),
    DM_VMS_UINT32(struct ide_atapi, buf_len),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate ide_atapi_vmstate = {
    .name = "ide-atapi",
    .version = 1,
    .min_version = 1,
    .fields = ide_atapi_fields,
};

static const struct dm_vmstate_field ide_drive_fields[] = {
    DM_VMS_UINT8(struct ide_drive, feature),
    DM_VMS_UINT8(struct ide_drive, nsector),
    DM_VMS_UINT8(struct ide_drive, sector),
    DM_VMS_UINT8(struct ide_drive, lcyl),
    DM_VMS_UINT8(struct ide_drive, hcyl),
    DM_VMS_UINT8(struct ide_drive, hob_feature),
    DM_VMS_UINT8(struct ide_drive, hob_nsector),
    DM_VMS_UINT8(struct ide_drive, hob_sector),
    DM_VMS_UINT8(struct ide_drive, hob_lcyl),
    DM_VMS_UINT8(struct ide_drive, hob_hcyl),
    DM_VMS_UINT8(struct ide_drive, select),
    DM_VMS_UINT8(struct ide_drive, status),
    DM_VMS_UINT8(struct ide_drive, error),
    DM_VMS_UINT8(struct ide_drive, cmd),
    DM_VMS_BOOL(struct ide_drive, irq_pending),
    DM_VMS_UINT8(struct ide_drive, mult_sectors),
    DM_VMS_UINT8(struct ide_drive, xfer_mode),
    DM_VMS_BOOL(struct ide_drive, wcache),
    DM_VMS_BOOL(struct ide_drive, lookahead),
    DM_VMS_BOOL(struct ide_drive, standby),
    DM_VMS_UINT16(struct ide_drive, cur_cyls),
    DM_VMS_UINT16(struct ide_drive, cur_heads),
    DM_VMS_UINT16(struct ide_drive, cur_secs),
    DM_VMS_UINT64(struct ide_drive, lba),
    DM_VMS_UINT32(struct ide_drive, sectors_left),
    DM_VMS_UINT32(struct ide_drive, block_sectors),
    DM_VMS_UINT32(struct ide_drive, buf_sectors),
    DM_VMS_UINT32(struct ide_drive, buf_first),
    DM_VMS_UINT8(struct ide_drive, cont),
    DM_VMS_UINT8(struct ide_drive, dma_mode),
    DM_VMS_UINT32(struct ide_drive, dsm_index),
    DM_VMS_UINT32(struct ide_drive, data_ptr),
    DM_VMS_UINT32(struct ide_drive, data_end),
    DM_VMS_STRUCT(struct ide_drive, atapi, &ide_atapi_vmstate),
    DM_VMS_BUFFER(struct ide_drive, io_buffer),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate ide_drive_vmstate = {
    .name = "ide-drive",
    .version = 1,
    .min_version = 1,
    .fields = ide_drive_fields,
};

static const struct dm_vmstate_field ide_bmdma_fields[] = {
    DM_VMS_UINT8(struct ide_bmdma, cmd),
    DM_VMS_UINT8(struct ide_bmdma, status),
    DM_VMS_UINT32(struct ide_bmdma, prd_table),
    DM_VMS_UINT32(struct ide_bmdma, prd_next),
    DM_VMS_UINT32(struct ide_bmdma, prd_count),
    DM_VMS_UINT32(struct ide_bmdma, cur_addr),
    DM_VMS_UINT32(struct ide_bmdma, cur_left),
    DM_VMS_BOOL(struct ide_bmdma, cur_eot),
    DM_VMS_BOOL(struct ide_bmdma, table_done),
    DM_VMS_BOOL(struct ide_bmdma, walking),
    DM_VMS_UINT64(struct ide_bmdma, offset),
    DM_VMS_UINT32(struct ide_bmdma, done),
    DM_VMS_UINT32(struct ide_bmdma, total),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate ide_bmdma_vmstate = {
    .name = "ide-bmdma",
    .version = 1,
    .min_version = 1,
    .fields = ide_bmdma_fields,
};

static const struct dm_vmstate_field ide_bus_fields[] = {
    DM_VMS_STRUCT_ARRAY(struct ide_bus, drive, &ide_drive_vmstate),
    DM_VMS_STRUCT(struct ide_bus, bm, &ide_bmdma_vmstate),
    DM_VMS_UINT8(struct ide_bus, devctl),
    DM_VMS_UINT8(struct ide_bus, unit),
    DM_VMS_END_OF_LIST,
};

const struct dm_vmstate ide_bus_vmstate = {
    .name = "ide-bus",
    .version = 1,
    .min_version = 1,
    .fields = ide_bus_fields,
};

/* Checks the loaded channel like guest input; the caller restores the
 * configuration fields (kind) it cannot take from a stream. */
bool ide_bus_post_load(struct ide_bus *b, GError **errp)
{
    b->unit &= 1;
    for (int i = 0; i < 2; i++) {
        struct ide_drive *d = &b->drive[i];
        struct ide_atapi *a = &d->atapi;

        if (d->data_end > IDE_IO_BUFFER_SIZE || d->data_ptr > d->data_end ||
            d->cont >= IDE_CONT_MAX || d->dma_mode >= IDE_DMA_MODE_MAX ||
            d->mult_sectors > IDE_MAX_MULT || a->buf_len > IDE_IO_BUFFER_SIZE ||
            a->buf_pos > a->buf_len || d->buf_first > d->buf_sectors ||
            d->buf_sectors > IDE_READ_AHEAD_SECTORS ||
            d->block_sectors > IDE_READ_AHEAD_SECTORS ||
            d->dsm_index > IDE_DSM_MAX_BLOCKS * IDE_SECTOR_SIZE / 8 ||
            (d->cont == IDE_CONT_READ &&
             (uint64_t)d->buf_first + d->block_sectors > d->buf_sectors)) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "ide.%d unit %d: inconsistent transfer state", b->index,
                        i);
            return false;
        }
        if (d->kind == IDE_HD && d->cont == IDE_CONT_READ &&
            (uint64_t)(d->buf_first + d->block_sectors) * IDE_SECTOR_SIZE >
                IDE_IO_BUFFER_SIZE) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "ide.%d unit %d: read block outside the buffer",
                        b->index, i);
            return false;
        }
        d->io_inflight = false;
        d->cmd_deferred = false;
    }
    b->bm.inflight = false;
    ide_update_irq(b);
    return true;
}
