/*
 * piix.c: the PIIX3 IDE function (8086:7010 at 00:01.1) in legacy mode:
 * the primary channel at 0x1f0-0x1f7/0x3f6 on IRQ 14, the secondary at
 * 0x170-0x177/0x376 on IRQ 15, and bus-master DMA through BAR4.
 *
 * Intel 82371FB/82371SB (PIIX/PIIX3) datasheet, order 290550-002, section
 * 2.3 (IDE configuration: IDETIM 40h-43h, SIDETIM 44h) and 2.7 (bus master
 * IDE registers); SFF-8038i rev. 1.0 for the PRD table and the status bit
 * combinations. Descriptors are copied out of guest memory before they are
 * looked at; a table may hold at most 8192 of them (64 KiB, the real
 * table's limit) and is walked only as far as the transfer needs. Left out:
 * native-PCI mode, timing registers' effect (stored only), the decode enable
 * bit of IDETIM (the legacy ports always decode, as guests and SeaBIOS
 * expect of virtual machines).
 */
#include <assert.h>

#include "hvmdm/dev.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"
#include "hvmdm/pci.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"
#include "ide.h"

#define PIIX_IDE_BMDMA_BAR 4
#define PIIX_IDE_BMDMA_SIZE 16
#define PIIX_IDE_CMD_SIZE 8
#define PIIX_IDE_IDETIM 0x40  /* 40h-43h: IDE timing, primary/secondary */
#define PIIX_IDE_SIDETIM 0x44 /* slave IDE timing */
#define PIIX_IDE_CFG_END 0x45

#define IDE_PRD_MAX 8192 /* descriptors in a 64 KiB table */
#define IDE_PRD_EOT 0x8000u
#define IDE_PRD_MAX_BYTES 0x10000u /* byte count 0 means 64 KiB */
#define IDE_DMA_MAX_IOV 128

static const struct {
    uint16_t cmd, ctl;
    int irq;
} piix_ide_legacy[2] = {
    { 0x1f0, 0x3f6, 14 },
    { 0x170, 0x376, 15 },
};

struct piix_ide {
    struct dm_pci_dev pci;
    struct ide_bus bus[2];
    struct dm_io_region cmd_region[2];
    struct dm_io_region ctl_region[2];
};

/* ---- the bus-master engine ----------------------------------------------- */

struct ide_dma_req {
    struct ide_bus *b;
    struct ide_drive *d;
    unsigned gen;
    uint32_t bytes;
    bool to_memory;
    int niov;
    struct iovec iov[IDE_DMA_MAX_IOV]; /* mapped guest memory */
};

static void ide_bmdma_step(struct ide_bus *b);

static struct ide_drive *ide_bmdma_drive(struct ide_bus *b)
{
    struct ide_drive *d = ide_cur(b);

    return d->kind != IDE_NONE && d->dma_mode != IDE_DMA_NONE ? d : NULL;
}

static void ide_bmdma_finish(struct ide_bus *b, struct ide_drive *d,
                             enum ide_dma_result r)
{
    struct ide_bmdma *bm = &b->bm;

    dm_trace(ide_bmdma_finish, "bus %d result %d done %u/%u prds %u", b->index,
             r, bm->done, bm->total, bm->prd_count);
    /* SFF-8038i: active stays set when the table is longer than the
     * transfer; an error stops the engine. */
    if (r != IDE_DMA_OK || bm->table_done) {
        bm->status &= (uint8_t)~BM_STAT_ACTIVE;
    }
    if (r == IDE_DMA_BUS_ERROR) {
        bm->status |= BM_STAT_ERROR;
    }
    bm->walking = false;
    bm->done = bm->total = 0;
    ide_dma_done(d, r);
}

static void ide_bmdma_cb(void *opaque, int ret)
{
    struct ide_dma_req *r = opaque;
    struct ide_bus *b = r->b;
    struct ide_drive *d = r->d;
    bool stale = r->gen != d->gen;
    uint32_t bytes = r->bytes;

    if (b->pci) {
        dm_dma_unmap(b->pci->dev.m, r->iov, r->niov, r->to_memory);
    }
    g_free(r);
    b->bm.inflight = false;
    if (stale) {
        ide_bmdma_step(b); /* a transfer that waited for this one */
        return;
    }
    if (ret < 0) {
        d->io_errno = -ret;
        ide_bmdma_finish(b, d, IDE_DMA_IO_ERROR);
        return;
    }
    b->bm.done += bytes;
    ide_bmdma_step(b);
}

/* Make the next descriptor current; false on a bus error. */
static bool ide_prd_fetch(struct ide_bus *b)
{
    struct ide_bmdma *bm = &b->bm;
    uint8_t raw[8];
    uint32_t addr, count;
    uint16_t flags;

    if (bm->prd_count >= IDE_PRD_MAX) {
        dm_guest_error("ide: PRD table longer than %d entries", IDE_PRD_MAX);
        bm->table_done = true;
        return true;
    }
    if (dm_pci_dma_read(b->pci, bm->prd_next, raw, sizeof(raw)) < 0) {
        dm_guest_error("ide: PRD table at 0x%x unreachable", bm->prd_next);
        return false;
    }
    /* Copied out: from here on the guest cannot change it under us. */
    addr = (uint32_t)raw[0] | (uint32_t)raw[1] << 8 | (uint32_t)raw[2] << 16 |
           (uint32_t)raw[3] << 24;
    count = (uint32_t)raw[4] | (uint32_t)raw[5] << 8;
    flags = (uint16_t)(raw[6] | raw[7] << 8);
    bm->prd_next += 8;
    bm->prd_count++;
    bm->cur_addr = addr & ~1u;
    count &= 0xfffe;
    bm->cur_left = count ? count : IDE_PRD_MAX_BYTES;
    bm->cur_eot = flags & IDE_PRD_EOT;
    return true;
}

/* Gather up to the rest of the transfer from the table into IOV (BLK modes)
 * or copy it to/from io_buffer (BUF modes). Returns the bytes covered, or -1
 * on a bus error. */
static int64_t ide_bmdma_gather(struct ide_bus *b, struct ide_drive *d,
                                struct iovec *iov, int *niov)
{
    struct ide_bmdma *bm = &b->bm;
    uint32_t want = bm->total - bm->done, got = 0;
    uint8_t mode = d->dma_mode;

    *niov = 0;
    while (got < want) {
        uint32_t piece;
        int n;

        if (bm->cur_left == 0) {
            if (bm->table_done) {
                break;
            }
            if (!ide_prd_fetch(b)) {
                return -1;
            }
            if (bm->table_done) {
                break;
            }
        }
        piece = MIN(bm->cur_left, want - got);
        switch (mode) {
        case IDE_DMA_BLK_READ:
        case IDE_DMA_BLK_WRITE:
            if (*niov >= IDE_DMA_MAX_IOV) {
                return got;
            }
            n = dm_pci_dma_map(b->pci, bm->cur_addr, piece,
                               mode == IDE_DMA_BLK_READ, iov + *niov,
                               IDE_DMA_MAX_IOV - *niov);
            if (n == -E2BIG && *niov > 0) {
                return got;
            }
            if (n < 0) {
                dm_guest_error("ide: DMA to 0x%x+0x%x failed: %s", bm->cur_addr,
                               piece, g_strerror(-n));
                return -1;
            }
            *niov += n;
            break;
        case IDE_DMA_BUF_IN:
            n = dm_pci_dma_write(b->pci, bm->cur_addr,
                                 d->io_buffer + bm->done + got, piece);
            if (n < 0) {
                return -1;
            }
            break;
        default:
            n = dm_pci_dma_read(b->pci, bm->cur_addr,
                                d->io_buffer + bm->done + got, piece);
            if (n < 0) {
                return -1;
            }
            break;
        }
        bm->cur_addr += piece;
        bm->cur_left -= piece;
        got += piece;
        if (bm->cur_left == 0 && bm->cur_eot) {
            bm->table_done = true;
        }
    }
    return got;
}

static void ide_bmdma_submit(struct ide_bus *b, struct ide_drive *d,
                             struct ide_dma_req *r)
{
    r->b = b;
    r->d = d;
    r->gen = d->gen;
    r->to_memory = d->dma_mode == IDE_DMA_BLK_READ;
    b->bm.inflight = true;
    if (r->to_memory) {
        blk_preadv(d->blk, b->bm.offset + b->bm.done, r->iov, r->niov,
                   ide_bmdma_cb, r);
    } else {
        blk_pwritev(d->blk, b->bm.offset + b->bm.done, r->iov, r->niov,
                    ide_bmdma_cb, r);
    }
}

static void ide_bmdma_step(struct ide_bus *b)
{
    struct ide_bmdma *bm = &b->bm;
    struct ide_drive *d = ide_bmdma_drive(b);

    while (d && bm->walking && (bm->cmd & BM_CMD_START) && !bm->inflight) {
        bool blk_mode =
            d->dma_mode == IDE_DMA_BLK_READ || d->dma_mode == IDE_DMA_BLK_WRITE;
        struct ide_dma_req *r;
        int64_t got;

        if (bm->done >= bm->total) {
            ide_bmdma_finish(b, d, IDE_DMA_OK);
            return;
        }
        r = g_new0(struct ide_dma_req, 1);
        got = ide_bmdma_gather(b, d, r->iov, &r->niov);
        if (got <= 0 || !blk_mode) {
            dm_dma_unmap(b->pci->dev.m, r->iov, r->niov,
                         d->dma_mode == IDE_DMA_BLK_READ);
            g_free(r);
        }
        if (got < 0) {
            ide_bmdma_finish(b, d, IDE_DMA_BUS_ERROR);
            return;
        }
        if (got == 0) {
            /* The table ended first: the engine stops without an
             * interrupt and the device keeps waiting for data (SFF-8038i
             * "interrupt 0, active 0"). */
            dm_guest_error("ide: PRD table shorter than the transfer");
            bm->status &= (uint8_t)~BM_STAT_ACTIVE;
            bm->walking = false;
            return;
        }
        if (!blk_mode) {
            bm->done += (uint32_t)got;
            continue;
        }
        r->bytes = (uint32_t)got;
        ide_bmdma_submit(b, d, r);
        return;
    }
}

static void ide_bmdma_begin_walk(struct ide_bus *b)
{
    struct ide_bmdma *bm = &b->bm;

    bm->walking = true;
    bm->status |= BM_STAT_ACTIVE;
    bm->prd_next = bm->prd_table;
    bm->prd_count = 0;
    bm->cur_left = 0;
    bm->cur_eot = false;
    bm->table_done = false;
}

void ide_bmdma_request(struct ide_bus *b, enum ide_dma_mode mode,
                       uint64_t offset, uint32_t total)
{
    struct ide_bmdma *bm = &b->bm;

    if (!b->pci) {
        ide_dma_done(ide_cur(b), IDE_DMA_BUS_ERROR);
        return;
    }
    dm_trace(ide_bmdma_request, "bus %d mode %d offset 0x%" PRIx64 " len %u",
             b->index, mode, offset, total);
    bm->offset = offset;
    bm->total = total;
    bm->done = 0;
    if ((bm->cmd & BM_CMD_START) && !bm->walking) {
        ide_bmdma_begin_walk(b);
    }
    ide_bmdma_step(b);
}

void ide_bmdma_cancel(struct ide_bus *b)
{
    /* A request in flight cannot be recalled; its completion is dropped
     * (the device's generation changed) and no new one starts. */
    b->bm.walking = false;
    b->bm.done = b->bm.total = 0;
}

void ide_bmdma_kick(struct ide_bus *b)
{
    ide_bmdma_step(b);
}

void ide_bmdma_irq(struct ide_bus *b)
{
    b->bm.status |= BM_STAT_INTR;
}

/* ---- bus-master registers (BAR4) ------------------------------------------ */

static uint64_t piix_bm_read(void *opaque, uint64_t off, unsigned size)
{
    struct piix_ide *s = opaque;
    struct ide_bmdma *bm = &s->bus[off >= 8].bm;

    switch (off & 7) {
    case 0:
        return bm->cmd;
    case 2:
        return bm->status;
    case 4:
    case 5:
    case 6:
    case 7:
        return (bm->prd_table >> (8 * (off & 3))) & 0xff;
    default:
        return 0;
    }
}

static void piix_bm_cmd_write(struct ide_bus *b, uint8_t val)
{
    struct ide_bmdma *bm = &b->bm;
    uint8_t old = bm->cmd;

    dm_trace(ide_bmdma_cmd, "bus %d 0x%02x", b->index, val);
    if ((old & BM_CMD_START) && (val & BM_CMD_START) &&
        ((old ^ val) & BM_CMD_WRITE)) {
        dm_guest_error("ide: bus master direction changed while active");
        val = (uint8_t)((val & ~BM_CMD_WRITE) | (old & BM_CMD_WRITE));
    }
    bm->cmd = val & (BM_CMD_START | BM_CMD_WRITE);
    if (!(old & BM_CMD_START) && (val & BM_CMD_START)) {
        ide_bmdma_begin_walk(b);
        ide_bmdma_step(b);
    } else if ((old & BM_CMD_START) && !(val & BM_CMD_START)) {
        /* Stopped: the transfer pauses where it is; the device still
         * waits for the rest (the guest resets it or starts again). */
        bm->walking = false;
        bm->status &= (uint8_t)~BM_STAT_ACTIVE;
    }
}

static void piix_bm_write(void *opaque, uint64_t off, uint64_t val,
                          unsigned size)
{
    struct piix_ide *s = opaque;
    struct ide_bus *b = &s->bus[off >= 8];
    struct ide_bmdma *bm = &b->bm;
    unsigned shift = 8 * (off & 3);

    switch (off & 7) {
    case 0:
        piix_bm_cmd_write(b, (uint8_t)val);
        break;
    case 2:
        /* error and interrupt: write 1 to clear; drive DMA capable: R/W */
        bm->status = (uint8_t)((bm->status & ~(uint8_t)val &
                                (BM_STAT_ERROR | BM_STAT_INTR)) |
                               (bm->status & BM_STAT_ACTIVE) |
                               (val & (BM_STAT_DRV0_DMA | BM_STAT_DRV1_DMA)));
        break;
    case 4:
    case 5:
    case 6:
    case 7:
        bm->prd_table &= ~(0xffu << shift);
        bm->prd_table |= (uint32_t)(val & 0xff) << shift;
        bm->prd_table &= ~3u; /* dword aligned */
        break;
    default:
        break;
    }
}

static const struct dm_io_ops piix_bm_ops = {
    .read = piix_bm_read,
    .write = piix_bm_write,
    .valid = { .min = 1, .max = 4 },
    .impl = { .min = 1, .max = 1 },
};

/* ---- legacy ports -------------------------------------------------------- */

static uint64_t piix_cmd_read(void *opaque, uint64_t off, unsigned size)
{
    struct ide_bus *b = opaque;
    uint64_t v = 0;

    if (off == IDE_REG_DATA) {
        return ide_ioport_read(b, IDE_REG_DATA, size);
    }
    for (unsigned i = 0; i < size && off + i < PIIX_IDE_CMD_SIZE; i++) {
        v |= (uint64_t)ide_ioport_read(b, (unsigned)off + i, 1) << (8 * i);
    }
    return v;
}

static void piix_cmd_write(void *opaque, uint64_t off, uint64_t val,
                           unsigned size)
{
    struct ide_bus *b = opaque;

    if (off == IDE_REG_DATA) {
        ide_ioport_write(b, IDE_REG_DATA, (uint32_t)val, size);
        return;
    }
    for (unsigned i = 0; i < size && off + i < PIIX_IDE_CMD_SIZE; i++) {
        ide_ioport_write(b, (unsigned)off + i, (uint8_t)(val >> (8 * i)), 1);
    }
}

static const struct dm_io_ops piix_cmd_ops = {
    .read = piix_cmd_read,
    .write = piix_cmd_write,
    .valid = { .min = 1, .max = 4 },
    .impl = { .min = 1, .max = 4 },
};

static uint64_t piix_ctl_read(void *opaque, uint64_t off, unsigned size)
{
    return ide_status_read(opaque);
}

static void piix_ctl_write(void *opaque, uint64_t off, uint64_t val,
                           unsigned size)
{
    ide_ctl_write(opaque, (uint8_t)val);
}

static const struct dm_io_ops piix_ctl_ops = {
    .read = piix_ctl_read,
    .write = piix_ctl_write,
    .valid = { .min = 1, .max = 1 },
    .impl = { .min = 1, .max = 1 },
};

/* ---- the device ----------------------------------------------------------- */

static void piix_ide_reset(struct dm_dev *dev)
{
    struct piix_ide *s = dm_container_of(dev, struct piix_ide, pci.dev);

    memset(s->pci.config + PIIX_IDE_IDETIM, 0,
           PIIX_IDE_CFG_END - PIIX_IDE_IDETIM);
    for (int i = 0; i < 2; i++) {
        ide_bus_reset(&s->bus[i]);
    }
}

static bool piix_ide_realize(struct dm_dev *dev, GError **errp)
{
    struct piix_ide *s = dm_container_of(dev, struct piix_ide, pci.dev);
    struct dm_machine *m = dev->m;

    memset(s->pci.wmask + PCI_CONFIG_HEADER_SIZE, 0,
           PCI_CONFIG_SIZE - PCI_CONFIG_HEADER_SIZE);
    memset(s->pci.wmask + PIIX_IDE_IDETIM, 0xff,
           PIIX_IDE_CFG_END - PIIX_IDE_IDETIM);
    /* Status: fast back-to-back capable, medium DEVSEL timing. */
    dm_pci_set_word(s->pci.config, PCI_STATUS, 0x0280);
    dm_pci_register_bar(&s->pci, PIIX_IDE_BMDMA_BAR, DM_PCI_BAR_IO, false,
                        PIIX_IDE_BMDMA_SIZE, &piix_bm_ops, s,
                        "piix3-ide-bmdma");
    for (int i = 0; i < 2; i++) {
        ide_bus_init(&s->bus[i], i, &s->pci);
        dm_io_region_init(&s->cmd_region[i], i ? "ide1-cmd" : "ide0-cmd",
                          &piix_cmd_ops, &s->bus[i], PIIX_IDE_CMD_SIZE);
        dm_io_region_init(&s->ctl_region[i], i ? "ide1-ctl" : "ide0-ctl",
                          &piix_ctl_ops, &s->bus[i], 1);
        if (!dm_isa_irq_connect(m, &s->bus[i].irq, piix_ide_legacy[i].irq,
                                errp) ||
            !dm_io_map(m->pio, &s->cmd_region[i], piix_ide_legacy[i].cmd,
                       errp) ||
            !dm_io_map(m->pio, &s->ctl_region[i], piix_ide_legacy[i].ctl,
                       errp)) {
            g_prefix_error(errp, "piix3-ide: ");
            return false;
        }
    }
    piix_ide_reset(dev);
    return true;
}

static void piix_ide_unrealize(struct dm_dev *dev)
{
    struct piix_ide *s = dm_container_of(dev, struct piix_ide, pci.dev);

    for (int i = 0; i < 2; i++) {
        for (int u = 0; u < 2; u++) {
            /* the front devices normally went first */
            ide_detach(&s->bus[i].drive[u]);
        }
        dm_irq_set(&s->bus[i].irq, 0);
        if (dm_io_mapped(&s->cmd_region[i])) {
            dm_io_unmap(&s->cmd_region[i]);
        }
        if (dm_io_mapped(&s->ctl_region[i])) {
            dm_io_unmap(&s->ctl_region[i]);
        }
    }
}

/* Saving waits for requests in flight: the stream holds no half-done I/O. */
static bool piix_ide_pre_save(void *opaque, GError **errp)
{
    struct piix_ide *s = opaque;

    for (int i = 0; i < 2; i++) {
        for (int u = 0; u < 2; u++) {
            struct ide_drive *d = &s->bus[i].drive[u];

            if (d->blk) {
                blk_drain(d->blk);
            }
        }
    }
    return true;
}

static bool piix_ide_post_load(void *opaque, int version, GError **errp)
{
    struct piix_ide *s = opaque;

    for (int i = 0; i < 2; i++) {
        if (!ide_bus_post_load(&s->bus[i], errp)) {
            return false;
        }
    }
    for (int i = 0; i < 2; i++) {
        ide_bmdma_kick(&s->bus[i]);
    }
    return true;
}

static const struct dm_vmstate_field piix_ide_fields[] = {
    DM_VMS_STRUCT(struct piix_ide, pci, &dm_pci_vmstate),
    DM_VMS_STRUCT_ARRAY(struct piix_ide, bus, &ide_bus_vmstate),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate piix_ide_vmstate = {
    .name = "piix3-ide",
    .version = 1,
    .min_version = 1,
    .fields = piix_ide_fields,
    .pre_save = piix_ide_pre_save,
    .post_load = piix_ide_post_load,
};

const struct dm_dev_type piix3_ide_type = {
    .name = "piix3-ide",
    .bus = DM_BUS_PCI,
    .size = sizeof(struct piix_ide),
    .pci = {
        .vendor = 0x8086,
        .device = 0x7010,
        .revision = 0x00,
        .class_code = 0x010180,  /* IDE, legacy mode, bus master */
    },
    .realize = piix_ide_realize,
    .reset = piix_ide_reset,
    .unrealize = piix_ide_unrealize,
    .vmsd = &piix_ide_vmstate,
    .desc = "PIIX3 IDE controller with bus-master DMA (01.1)",
};

/* ---- lookup -------------------------------------------------------------- */

struct ide_bus *ide_bus_find(struct dm_machine *m, const char *name)
{
    bool first = true;

    for (guint i = 0; i < m->devs->len; i++) {
        struct dm_dev *dev = g_ptr_array_index(m->devs, i);
        struct piix_ide *s;

        if (dev->type != &piix3_ide_type) {
            continue;
        }
        s = dm_container_of(dev, struct piix_ide, pci.dev);
        if (!name) {
            return &s->bus[0];
        }
        for (int n = 0; n < 2; n++) {
            g_autofree char *own = g_strdup_printf("%s.%d", dev->id, n);
            g_autofree char *alias = g_strdup_printf("ide.%d", n);

            if (strcmp(name, own) == 0 || (first && strcmp(name, alias) == 0)) {
                return &s->bus[n];
            }
        }
        first = false;
    }
    return NULL;
}

unsigned ide_drives(struct dm_machine *m, struct ide_drive **out, unsigned max)
{
    unsigned n = 0;

    for (guint i = 0; i < m->devs->len; i++) {
        struct dm_dev *dev = g_ptr_array_index(m->devs, i);
        struct piix_ide *s;

        if (dev->type != &piix3_ide_type) {
            continue;
        }
        s = dm_container_of(dev, struct piix_ide, pci.dev);
        for (int b = 0; b < 2; b++) {
            for (int u = 0; u < 2; u++) {
                if (s->bus[b].drive[u].kind != IDE_NONE && n < max) {
                    out[n++] = &s->bus[b].drive[u];
                }
            }
        }
    }
    return n;
}

char *ide_drive_fw_path(const struct ide_drive *d)
{
    int devfn = d->bus->pci ? d->bus->pci->devfn : PCI_DEVFN(1, 1);
    int slot = devfn >> 3, fn = devfn & 7;

    if (fn) {
        return g_strdup_printf("/pci@i0cf8/ide@%x,%x/drive@%x/disk@%x", slot,
                               fn, d->bus->index, d->unit);
    }
    return g_strdup_printf("/pci@i0cf8/ide@%x/drive@%x/disk@%x", slot,
                           d->bus->index, d->unit);
}
