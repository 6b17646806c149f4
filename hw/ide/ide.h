/*
 * ide.h: private interface between the IDE files: the ATA channel and its
 * two devices (core.c), the ATAPI command set (atapi.c), the bus-master DMA
 * engine of the PCI function (piix.c) and the ide-hd/ide-cd front devices
 * (drive.c).
 *
 * Register and bit names follow ATA/ATAPI-7 (T13/1532D rev. 4b) section 6
 * and 7, SFF-8038i rev. 1.0 for bus-master DMA.
 */
#ifndef HVMDM_HW_IDE_H
#define HVMDM_HW_IDE_H

#include <sys/uio.h>

#include "hvmdm/block.h"
#include "hvmdm/blockdev.h"
#include "hvmdm/common.h"
#include "hvmdm/irq.h"

struct dm_pci_dev;
struct dm_dev;

/* Command block registers, offsets from 0x1f0/0x170. */
#define IDE_REG_DATA 0
#define IDE_REG_ERROR 1   /* read; FEATURES on write */
#define IDE_REG_NSECTOR 2 /* COUNT; ATAPI interrupt reason */
#define IDE_REG_SECTOR 3  /* LBA low */
#define IDE_REG_LCYL 4    /* LBA mid; ATAPI byte count low */
#define IDE_REG_HCYL 5    /* LBA high; ATAPI byte count high */
#define IDE_REG_SELECT 6  /* DEVICE */
#define IDE_REG_STATUS 7  /* read; COMMAND on write */

/* Status register (ATA-7 6.2.12 / 7.x "Normal outputs"). */
#define IDE_STAT_BSY 0x80
#define IDE_STAT_DRDY 0x40
#define IDE_STAT_DF 0x20
#define IDE_STAT_DSC 0x10 /* seek complete (obsolete); ATAPI SERV */
#define IDE_STAT_DRQ 0x08
#define IDE_STAT_ERR 0x01
#define IDE_STAT_READY (IDE_STAT_DRDY | IDE_STAT_DSC)

/* Error register. */
#define IDE_ERR_ICRC 0x80
#define IDE_ERR_UNC 0x40
#define IDE_ERR_IDNF 0x10
#define IDE_ERR_ABRT 0x04

/* Device control register (0x3f6/0x376). */
#define IDE_CTL_NIEN 0x02
#define IDE_CTL_SRST 0x04
#define IDE_CTL_HOB 0x80

/* Device register. */
#define IDE_SEL_DEV 0x10
#define IDE_SEL_LBA 0x40
#define IDE_SEL_OBS 0xa0 /* obsolete bits, read back as ones */

/* ATAPI interrupt reason (COUNT register). */
#define ATAPI_INT_COD 0x01
#define ATAPI_INT_IO 0x02

#define IDE_SECTOR_SIZE 512
#define ATAPI_SECTOR_SIZE 2048
#define ATAPI_PACKET_SIZE 12
#define IDE_IO_BUFFER_SIZE (64 * 1024)
#define IDE_MAX_MULT 16      /* READ/WRITE MULTIPLE block, sectors */
#define IDE_DSM_MAX_BLOCKS 8 /* DATA SET MANAGEMENT 512-byte blocks */

enum ide_kind {
    IDE_NONE = 0,
    IDE_HD,
    IDE_CD,
};

/* What finishing the current PIO data block leads to (saved as a number). */
enum ide_cont {
    IDE_CONT_NONE = 0,
    IDE_CONT_READ,     /* ATA PIO read: next DRQ block or done */
    IDE_CONT_WRITE,    /* ATA PIO write: write the block */
    IDE_CONT_IDENTIFY, /* one block of IDENTIFY data */
    IDE_CONT_PACKET,   /* the 12 command bytes of PACKET */
    IDE_CONT_ATAPI_IN, /* a chunk of ATAPI data to the host */
    IDE_CONT_MAX,
};

/* What the bus-master engine moves for the selected device. */
enum ide_dma_mode {
    IDE_DMA_NONE = 0,
    IDE_DMA_BLK_READ,  /* image -> memory */
    IDE_DMA_BLK_WRITE, /* memory -> image */
    IDE_DMA_BUF_IN,    /* io_buffer -> memory */
    IDE_DMA_BUF_OUT,   /* memory -> io_buffer */
    IDE_DMA_MODE_MAX,
};

/* How a DMA transfer ended, for the device's completion. */
enum ide_dma_result {
    IDE_DMA_OK,
    IDE_DMA_IO_ERROR,  /* the image failed (errno in the drive) */
    IDE_DMA_BUS_ERROR, /* PRD or target outside RAM, bus master off */
    IDE_DMA_SHORT_PRD, /* the table ended before the transfer */
};

struct ide_atapi {
    uint8_t packet[ATAPI_PACKET_SIZE];
    uint8_t sense_key, asc, ascq;
    bool tray_open, tray_locked;
    uint8_t media_state; /* ATAPI_MEDIA_*: NOT READY, then UNIT ATTENTION */
    uint8_t media_event; /* GESN media event code waiting to be reported */
    bool dma;            /* PACKET with the DMA feature bit */
    uint16_t bcl;        /* byte count limit of the PACKET command */
    uint32_t xfer_left;  /* bytes still to go to the host */
    uint32_t lba;        /* next medium sector to read */
    uint32_t sectors_left;
    uint32_t buf_pos, buf_len; /* unread part of io_buffer */
};

struct ide_bus;

struct ide_drive {
    struct ide_bus *bus;
    int unit;
    /* Configuration from the front device (not saved). */
    enum ide_kind kind;
    struct blk *blk;
    struct dm_dev *front;
    char drive_id[65];
    char serial[21], model[41], version[9];
    enum blockdev_error_action werror, rerror;
    bool discard;
    int bootindex;       /* -1: none */
    uint64_t nb_sectors; /* 512-byte sectors (HD) or 2048 (CD), 0 empty */
    uint16_t cyls, heads, secs; /* default CHS geometry (HD) */
    unsigned gen;               /* bumped by reset: stale completions dropped */
    bool io_inflight;           /* a request of this device is in flight */
    bool cmd_deferred;          /* CMD waits for a stale request to finish */
    int io_errno;               /* errno of the last failed request */

    /* Task file (ATA-7 section 6). */
    uint8_t feature, nsector, sector, lcyl, hcyl;
    uint8_t hob_feature, hob_nsector, hob_sector, hob_lcyl, hob_hcyl;
    uint8_t select, status, error;
    uint8_t cmd;
    bool irq_pending; /* INTRQ asserted by this device */
    /* Settings. */
    uint8_t mult_sectors; /* SET MULTIPLE MODE; 0 disabled */
    uint8_t xfer_mode;    /* SET FEATURES 03h value */
    bool wcache;
    bool lookahead;
    bool standby;
    uint16_t cur_cyls, cur_heads, cur_secs; /* INITIALIZE DEVICE PARAMETERS */
    /* Current command. */
    uint64_t lba;           /* next sector (ATA) */
    uint32_t sectors_left;  /* sectors still to transfer (ATA) */
    uint32_t block_sectors; /* sectors of the current DRQ block */
    uint32_t buf_sectors;   /* sectors read ahead into io_buffer */
    uint32_t buf_first;     /* index in io_buffer of the current block */
    uint8_t cont;           /* enum ide_cont */
    uint8_t dma_mode;       /* enum ide_dma_mode wanted; NONE: no DMA */
    uint32_t dsm_index;     /* DATA SET MANAGEMENT: next range entry */
    uint32_t data_ptr, data_end;
    struct ide_atapi atapi;
    uint8_t io_buffer[IDE_IO_BUFFER_SIZE];
};

/* Bus-master registers and engine state of one channel (SFF-8038i). */
struct ide_bmdma {
    uint8_t cmd;        /* BMIC */
    uint8_t status;     /* BMIS */
    uint32_t prd_table; /* BMIDTP */
    /* The walk of the table for the current transfer. */
    uint32_t prd_next;  /* address of the next descriptor */
    uint32_t prd_count; /* descriptors fetched */
    uint32_t cur_addr, cur_left;
    bool cur_eot, table_done, walking;
    uint64_t offset;      /* image byte offset of the next chunk */
    uint32_t done, total; /* bytes of the device's transfer */
    bool inflight;
};

#define BM_CMD_START 0x01
#define BM_CMD_WRITE 0x08 /* 1: bus master writes memory (device reads) */
#define BM_STAT_ACTIVE 0x01
#define BM_STAT_ERROR 0x02
#define BM_STAT_INTR 0x04
#define BM_STAT_DRV0_DMA 0x20
#define BM_STAT_DRV1_DMA 0x40
#define BM_STAT_SIMPLEX 0x80

struct ide_bus {
    struct ide_drive drive[2];
    struct ide_bmdma bm;
    struct dm_pci_dev *pci; /* bus master, NULL without DMA */
    struct dm_irq_line irq;
    uint8_t devctl;
    uint8_t unit; /* selected device */
    int index;    /* 0 primary, 1 secondary */
};

static inline struct ide_drive *ide_cur(struct ide_bus *b)
{
    return &b->drive[b->unit & 1];
}

/* core.c: the channel. */
void ide_bus_init(struct ide_bus *b, int index, struct dm_pci_dev *pci);
void ide_bus_reset(struct ide_bus *b);
uint32_t ide_ioport_read(struct ide_bus *b, unsigned reg, unsigned size);
void ide_ioport_write(struct ide_bus *b, unsigned reg, uint32_t val,
                      unsigned size);
uint8_t ide_status_read(struct ide_bus *b); /* alternate status */
void ide_ctl_write(struct ide_bus *b, uint8_t val);
void ide_update_irq(struct ide_bus *b);
void ide_set_irq(struct ide_drive *d);
void ide_drive_reset(struct ide_drive *d);
void ide_set_signature(struct ide_drive *d);
void ide_abort(struct ide_drive *d);
/* Start a PIO data block of io_buffer[START, START + LEN); CONT says what
 * its end leads to; IRQ raises INTRQ with DRQ. */
void ide_pio_start(struct ide_drive *d, uint32_t start, uint32_t len,
                   enum ide_cont cont, bool irq);
/* Asynchronous image I/O of the device into or out of io_buffer[0, LEN)
 * (FLUSH and DISCARD use no buffer). DONE runs on the main loop unless the
 * device was reset meanwhile; RET is 0 or -errno. */
enum ide_io_op {
    IDE_IO_READ,
    IDE_IO_WRITE,
    IDE_IO_FLUSH,
    IDE_IO_DISCARD,
};
typedef void (*ide_io_done_fn)(struct ide_drive *d, int ret);
void ide_io_submit(struct ide_drive *d, enum ide_io_op op, uint64_t off,
                   uint32_t len, ide_io_done_fn done);
/* The bus master finished (or failed) the device's transfer. */
void ide_dma_done(struct ide_drive *d, enum ide_dma_result r);
/* Attach/detach a device at UNIT (the front devices). */
bool ide_attach(struct ide_bus *b, int unit, enum ide_kind kind,
                struct blk *blk, const struct blockdev_drive *conf,
                struct dm_dev *front, GError **errp);
void ide_detach(struct ide_drive *d);
/* A CD-ROM's medium changed under the guest (BLK may be NULL: removed). */
void ide_cd_set_medium(struct ide_drive *d, struct blk *blk);
extern const struct dm_vmstate ide_bus_vmstate;
bool ide_bus_post_load(struct ide_bus *b, GError **errp);

/* atapi.c: MMC-5 / SPC-3 commands of the CD-ROM. */
void atapi_packet_received(struct ide_drive *d);
void atapi_chunk_consumed(struct ide_drive *d);
void atapi_dma_done(struct ide_drive *d, enum ide_dma_result r);
void atapi_reset(struct ide_drive *d);
void atapi_identify(struct ide_drive *d, uint16_t *id);
void atapi_medium_changed(struct ide_drive *d, bool inserted);
void atapi_set_sense(struct ide_drive *d, uint8_t key, uint8_t asc,
                     uint8_t ascq);
void atapi_eject_request(struct ide_drive *d);

/* piix.c: the bus-master engine. The device asks for a transfer of TOTAL
 * bytes in MODE (OFFSET: image byte offset for the BLK modes); it runs when
 * the guest has started the engine. */
void ide_bmdma_request(struct ide_bus *b, enum ide_dma_mode mode,
                       uint64_t offset, uint32_t total);
void ide_bmdma_cancel(struct ide_bus *b);
/* Continue a transfer the engine was in when its state was loaded. */
void ide_bmdma_kick(struct ide_bus *b);
/* INTRQ of the channel rose: latch BMIS interrupt. */
void ide_bmdma_irq(struct ide_bus *b);

/* piix.c: the controllers of a machine. */
extern const struct dm_dev_type piix3_ide_type;
/* Bus NAME ("ide.N" on the first controller, or "<controller id>.N"), the
 * first controller's primary bus when NAME is NULL, or NULL. */
struct ide_bus *ide_bus_find(struct dm_machine *m, const char *name);
/* The attached drives of every controller, in controller, bus, unit
 * order; returns how many (at most MAX). */
#define IDE_MAX_DRIVES 16
unsigned ide_drives(struct dm_machine *m, struct ide_drive **out, unsigned max);
/* SeaBIOS' path of D: "/pci@i0cf8/ide@1,1/drive@B/disk@U" (g_free). */
char *ide_drive_fw_path(const struct ide_drive *d);

/* drive.c: the front devices. */
extern const struct dm_dev_type ide_hd_type;
extern const struct dm_dev_type ide_cd_type;
/* Rewrite fw_cfg "bootorder" from the attached drives and -boot. */
void ide_bootorder_update(struct dm_machine *m);

/* Helpers shared by core.c and atapi.c. */
void ide_padstr(char *dst, const char *src, size_t len);
void ide_put_id_string(uint16_t *id, unsigned word, const char *s, size_t len);

#endif
