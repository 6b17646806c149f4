/*
 * vmdk.h: what the VMDK files of block/ share: the parsed text descriptor,
 * the sparse extent (hosted sparse and stream-optimized) and the extent map.
 * Spec: VMware Virtual Disk Format 1.1 (plus the 5.0 zeroed-grain GTE).
 */
#ifndef HVMDM_BLOCK_VMDK_H
#define HVMDM_BLOCK_VMDK_H

#include "block-int.h"

#define VMDK_SECTOR 512u
/* Limits on what we accept from a file. */
#define VMDK_DESC_MAX (1u * 1024 * 1024) /* descriptor text, bytes */
#define VMDK_MAX_EXTENTS 4096u           /* extent lines */
#define VMDK_MAX_SECTORS (1ull << 37)    /* 64 TiB virtual disk */
#define VMDK_MAX_GRAIN_SECTORS 2048u     /* 1 MiB grains */
#define VMDK_GTES_PER_GT 512u            /* fixed by the spec */
#define VMDK_MAX_GD_ENTRIES (1u << 24)   /* 64 MiB of directory */
#define VMDK_NO_CID 0xffffffffu          /* parentCID without parent */

/* ---- descriptor (vmdk-desc.c) ------------------------------------------- */

enum vmdk_access {
    VMDK_ACCESS_RW,
    VMDK_ACCESS_RDONLY,
    VMDK_ACCESS_NOACCESS,
};

enum vmdk_extent_type {
    VMDK_EXTENT_FLAT, /* FLAT and VMFS: plain sectors at an offset */
    VMDK_EXTENT_SPARSE,
    VMDK_EXTENT_ZERO,
};

struct vmdk_desc_extent {
    enum vmdk_access access;
    enum vmdk_extent_type type;
    uint64_t sectors;
    uint64_t offset; /* FLAT: first sector inside the file */
    char *filename;  /* NULL for ZERO */
    unsigned line;   /* for messages */
};

struct vmdk_desc {
    uint32_t cid;
    uint32_t parent_cid;
    bool has_cid;
    char *create_type; /* NULL when absent */
    char *parent_hint; /* parentFileNameHint, NULL when absent */
    struct vmdk_desc_extent *extents;
    unsigned n_extents;
    uint32_t cylinders, heads, sectors_per_track; /* ddb.geometry.*, or 0 */
};

/* Parse descriptor TEXT (LEN bytes, not necessarily NUL-terminated) read
 * from FILENAME (named in messages). */
bool vmdk_desc_parse(struct vmdk_desc *d, const char *filename,
                     const char *text, size_t len, GError **errp);
void vmdk_desc_free(struct vmdk_desc *d);
/* TEXT with its CID line set to CID (other lines kept byte for byte), or
 * NULL when TEXT has no CID line. */
char *vmdk_desc_set_cid(const char *text, uint32_t cid);
/* Descriptor text for a new image (one extent line per entry). */
char *vmdk_desc_format(const struct vmdk_desc *d);
/* "RW", "FLAT"... as written in descriptors */
const char *vmdk_access_name(enum vmdk_access a);
const char *vmdk_extent_type_name(enum vmdk_extent_type t);

/* ---- sparse extents (vmdk-sparse.c) ------------------------------------- */

/* SparseExtentHeader, on disk little-endian, 512 bytes (VDF 1.1 sec. 4). */
#define VMDK_MAGIC 0x564d444bu /* "KDMV" */
#define VMDK_HDR_VERSION 4
#define VMDK_HDR_FLAGS 8
#define VMDK_HDR_CAPACITY 12
#define VMDK_HDR_GRAIN_SIZE 20
#define VMDK_HDR_DESC_OFFSET 28
#define VMDK_HDR_DESC_SIZE 36
#define VMDK_HDR_GTES_PER_GT 44
#define VMDK_HDR_RGD_OFFSET 48
#define VMDK_HDR_GD_OFFSET 56
#define VMDK_HDR_OVERHEAD 64
#define VMDK_HDR_UNCLEAN 72
#define VMDK_HDR_NL_CHARS 73 /* '\n', ' ', '\r', '\n' */
#define VMDK_HDR_COMPRESS 77

#define VMDK_FLAG_NL_TEST (1u << 0)     /* newline-detection chars valid */
#define VMDK_FLAG_RGD (1u << 1)         /* redundant grain table in use */
#define VMDK_FLAG_ZERO_GRAIN (1u << 2)  /* GTE 1 means a zeroed grain (v2) */
#define VMDK_FLAG_COMPRESSED (1u << 16) /* grains compressed */
#define VMDK_FLAG_MARKERS (1u << 17)    /* stream markers present */

#define VMDK_COMPRESS_NONE 0
#define VMDK_COMPRESS_DEFLATE 1
#define VMDK_GD_AT_END 0xffffffffffffffffull /* stream: GD in the footer */

/* Stream markers (VDF 1.1 sec. 6): {u64 val; u32 size; u32 type} */
#define VMDK_MARKER_EOS 0
#define VMDK_MARKER_GT 1
#define VMDK_MARKER_GD 2
#define VMDK_MARKER_FOOTER 3

struct vmdk_sparse {
    struct blk_file *f;
    const char *filename; /* for messages */
    uint32_t version;
    uint32_t flags;
    uint64_t capacity;      /* sectors */
    uint64_t grain_sectors; /* power of two */
    uint64_t grain_bytes;
    uint64_t desc_offset, desc_size; /* sectors; 0 when none */
    uint64_t gd_off, rgd_off;        /* bytes; rgd_off 0 when unused */
    uint32_t gd_entries;
    uint32_t *gd, *rgd; /* host-endian copies */
    uint32_t **gt;      /* cached grain tables, per GD entry */
    bool compressed, markers, zero_grain;
    uint64_t file_end;     /* next allocation, bytes, sector aligned */
    uint64_t reserved_end; /* file size reserved ahead of file_end */
    uint8_t *zbuf;         /* compressed grain */
    uint8_t *gbuf;         /* decompressed grain */
    uint64_t gbuf_sector;  /* GTE of the grain in gbuf, 0 for none */
};

/* Validate the header of F (and the footer of a stream) and load the grain
 * directories. NAME is the file's name for messages. */
bool vmdk_sparse_open(struct vmdk_sparse *sp, struct blk_file *f,
                      const char *name, bool writable, GError **errp);
void vmdk_sparse_close(struct vmdk_sparse *sp);

/* What one grain of a sparse extent holds. */
enum vmdk_grain_kind {
    VMDK_GRAIN_UNALLOCATED, /* read from the parent, or zeros */
    VMDK_GRAIN_ZERO,
    VMDK_GRAIN_NORMAL,
    VMDK_GRAIN_COMPRESSED,
};

/* Classify grain G (index inside the extent); *SECTOR is the GTE. */
int vmdk_sparse_lookup(struct vmdk_sparse *sp, uint64_t g,
                       enum vmdk_grain_kind *kind, uint64_t *sector);
/* Decompress the grain at SECTOR (for grain G) into sp->gbuf. */
int vmdk_sparse_load_compressed(struct vmdk_sparse *sp, uint64_t g,
                                uint64_t sector);
/* Write the whole grain G (grain_bytes in BUF) to newly allocated space and
 * point its grain table entry at it: data, then GT (and the redundant GT),
 * then GD entries for a new table. */
int vmdk_sparse_write_new_grain(struct vmdk_sparse *sp, uint64_t g,
                                const uint8_t *buf);
/* Give back space reserved ahead of the allocation pointer. */
int vmdk_sparse_trim(struct vmdk_sparse *sp);

/* ---- the image (vmdk.c) ------------------------------------------------- */

struct vmdk_extent {
    enum vmdk_extent_type type;
    enum vmdk_access access;
    uint64_t start; /* bytes into the virtual disk */
    uint64_t len;   /* bytes */
    struct blk_file *f;
    struct blk_file own; /* when the extent is its own file */
    bool own_open;
    uint64_t flat_off; /* bytes */
    struct vmdk_sparse *sp;
};

struct vmdk {
    struct blk *b;
    GMutex lock; /* sparse metadata and grain caches */
    struct vmdk_desc desc;
    bool has_desc;
    char *desc_text;    /* as read, up to its first NUL */
    uint64_t desc_pos;  /* where it lives in b->file */
    size_t desc_room;   /* bytes it may grow to */
    bool desc_embedded; /* inside a sparse extent (else the whole file) */
    bool cid_updated;   /* this open has written: the CID changed */
    struct vmdk_extent *ext;
    unsigned n_ext;
    struct blk *parent;
    uint8_t *cow; /* one grain, for partial writes */
};

#endif
