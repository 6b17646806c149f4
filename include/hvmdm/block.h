/*
 * block.h: disk images as seen by devices and tools.
 *
 * A struct blk is one opened image (raw, qcow2; vmdk later) with its backing
 * chain. Devices use the asynchronous vectored calls: the request runs on
 * io_uring or a worker thread and CB runs later on the main loop with dm_lock
 * held, never from inside the submitting call. Tools and tests use the
 * synchronous helpers, which run the request in the calling thread.
 *
 * Offsets and lengths are in bytes; a request must lie inside [0, size).
 * Results are 0 or -errno (-EINVAL out of range, -EROFS on a read-only image,
 * -EIO, -ENOSPC, -EPERM for a write the format guard refused).
 */
#ifndef HVMDM_BLOCK_H
#define HVMDM_BLOCK_H

#include <sys/uio.h>

#include "hvmdm/common.h"

enum blk_format {
    BLK_FORMAT_PROBE = 0, /* guess from the contents (warned about) */
    BLK_FORMAT_RAW,
    BLK_FORMAT_QCOW2,
    BLK_FORMAT_VMDK,
};

enum blk_cache {
    BLK_CACHE_WRITEBACK = 0, /* host page cache, flush = fdatasync */
    BLK_CACHE_WRITETHROUGH,  /* every write reaches the disk (O_DSYNC) */
    BLK_CACHE_NONE,          /* O_DIRECT, flush = fdatasync */
    BLK_CACHE_DIRECTSYNC,    /* O_DIRECT | O_DSYNC */
    BLK_CACHE_UNSAFE,        /* host page cache, flushes ignored */
};

enum blk_aio_mode {
    BLK_AIO_AUTO = 0, /* io_uring when built in and available, else threads */
    BLK_AIO_URING,    /* io_uring, falling back to threads if it fails */
    BLK_AIO_THREADS,  /* worker threads only */
};

struct blk_opts {
    enum blk_format format;
    enum blk_cache cache;
    enum blk_aio_mode aio;
    bool read_only;
    const char *id; /* drive id for messages, or NULL */
};

struct blk;

/* Completion: RET is 0 or -errno. Runs on the main loop with dm_lock held. */
typedef void (*blk_cb)(void *opaque, int ret);

/* Open FILENAME (OPTS may be NULL for defaults). One error line on failure,
 * naming the file and what is wrong with it. */
struct blk *blk_open(const char *filename, const struct blk_opts *opts,
                     GError **errp);
/* Waits for requests in flight (running the main loop if needed), writes
 * back metadata, closes. */
void blk_close(struct blk *b);

uint64_t blk_size(const struct blk *b); /* virtual size in bytes */
bool blk_is_read_only(const struct blk *b);
enum blk_format blk_get_format(const struct blk *b);
bool blk_format_was_probed(const struct blk *b);
const char *blk_filename(const struct blk *b);
/* "raw", "qcow2", "vmdk" */
const char *blk_format_name(enum blk_format f);
/* True when the asynchronous calls of B go through io_uring. */
bool blk_uses_uring(const struct blk *b);

/* Asynchronous calls. IOV is copied; the buffers it points to must stay
 * valid until CB runs. */
void blk_preadv(struct blk *b, uint64_t off, const struct iovec *iov, int niov,
                blk_cb cb, void *opaque);
void blk_pwritev(struct blk *b, uint64_t off, const struct iovec *iov, int niov,
                 blk_cb cb, void *opaque);
void blk_flush(struct blk *b, blk_cb cb, void *opaque);
void blk_discard(struct blk *b, uint64_t off, uint64_t len, blk_cb cb,
                 void *opaque);
/* Requests submitted and not completed yet. */
unsigned blk_in_flight(const struct blk *b);
/* Run the main loop (dm_lock held by the caller) until nothing is in flight. */
void blk_drain(struct blk *b);

/* Synchronous calls, in the calling thread (tools, tests, formats reading
 * their backing file). Return 0 or -errno. */
int blk_pread(struct blk *b, uint64_t off, void *buf, size_t len);
int blk_pwrite(struct blk *b, uint64_t off, const void *buf, size_t len);
int blk_preadv_sync(struct blk *b, uint64_t off, const struct iovec *iov,
                    int niov);
int blk_pwritev_sync(struct blk *b, uint64_t off, const struct iovec *iov,
                     int niov);
int blk_flush_sync(struct blk *b);
int blk_discard_sync(struct blk *b, uint64_t off, uint64_t len);

/* Option strings as -drive spells them; false (with ERRP set) if unknown. */
bool blk_parse_format(const char *s, enum blk_format *out, GError **errp);
bool blk_parse_cache(const char *s, enum blk_cache *out, GError **errp);
bool blk_parse_aio(const char *s, enum blk_aio_mode *out, GError **errp);

/* ---- creating, inspecting and repairing images (hvmdm-img) ----------------
 * block/qcow2-create.c and block/qcow2-check.c. */

struct qcow2_create_opts {
    uint64_t size;              /* virtual size in bytes */
    uint64_t cluster_size;      /* power of two, 512 B .. 2 MiB; 0: 64 KiB */
    unsigned version;           /* 2 (compat=0.10) or 3 (compat=1.1); 0: 3 */
    unsigned refcount_bits;     /* 1..64, power of two (v2: 16); 0: 16 */
    const char *backing_file;   /* recorded as given, or NULL */
    const char *backing_format; /* recorded in a header extension, or NULL */
    bool prealloc_metadata;     /* map every cluster at creation */
};

/* Write a new, empty qcow2 image to FILENAME (created or truncated). */
bool qcow2_create(const char *filename, const struct qcow2_create_opts *o,
                  GError **errp);
/* Grow the writable qcow2 image B to SIZE bytes (the L1 table moves when it
 * must). Shrinking is refused. */
bool qcow2_grow(struct blk *b, uint64_t size, GError **errp);

struct qcow2_snapshot_info {
    char *id;
    char *name;
    uint64_t vm_state_size;
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t icount; /* UINT64_MAX when not recorded */
};

struct qcow2_info {
    unsigned version;
    uint64_t cluster_size;
    unsigned refcount_bits;
    bool lazy_refcounts, dirty, corrupt;
    const char *compression; /* "zlib" or "zstd" */
    char *backing_file;      /* as recorded, or NULL */
    char *backing_format;    /* or NULL */
    unsigned nb_snapshots;
    struct qcow2_snapshot_info *snapshots;
};

/* Facts about the qcow2 image B (false if B is not qcow2 or its snapshot
 * table is unreadable). */
bool qcow2_get_info(struct blk *b, struct qcow2_info *info, GError **errp);
void qcow2_info_clear(struct qcow2_info *info);

enum blk_alloc {
    BLK_ALLOC_UNALLOCATED, /* not in this image: backing file or zeros */
    BLK_ALLOC_ZERO,        /* reads as zeros */
    BLK_ALLOC_DATA,        /* at host offset HOST of the image file */
    BLK_ALLOC_COMPRESSED,  /* compressed cluster(s) */
};

/* How the guest range at OFF (at most LEN bytes) is stored in the qcow2
 * image B: *PNUM bytes from OFF alike, *HOST the host offset of OFF for
 * BLK_ALLOC_DATA. Returns 0 or -errno. */
int qcow2_block_status(struct blk *b, uint64_t off, uint64_t len,
                       uint64_t *pnum, enum blk_alloc *kind, uint64_t *host);

enum qcow2_repair {
    QCOW2_REPAIR_NONE,
    QCOW2_REPAIR_LEAKS, /* lower refcounts nothing uses */
    QCOW2_REPAIR_ALL,   /* also raise refcounts that are too low, fix
                           OFLAG_COPIED, rebuild a broken refcount table */
};

struct qcow2_check_result {
    uint64_t leaks, corruptions;   /* found */
    uint64_t leaks_fixed, corruptions_fixed;
    uint64_t check_errors;         /* I/O errors that stopped parts of it */
    uint64_t total_clusters;       /* guest clusters */
    uint64_t allocated_clusters, fragmented_clusters, compressed_clusters;
    uint64_t image_end_offset;     /* end of the last used cluster */
    GPtrArray *messages;           /* one line per problem (char *) */
};

/* Recompute every reference count of the qcow2 image B from its L1/L2
 * tables, snapshots and metadata, compare with the stored ones and, with
 * REPAIR, fix the image file (B itself is left stale: reopen it). False with
 * ERRP only when the check could not run at all. */
bool qcow2_check(struct blk *b, enum qcow2_repair repair,
                 struct qcow2_check_result *res, GError **errp);
void qcow2_check_result_clear(struct qcow2_check_result *res);

/* Create a VMDK image at PATH of SIZE bytes (rounded up to 512). SUBFORMAT
 * is "monolithicSparse" (NULL means that), "monolithicFlat",
 * "twoGbMaxExtentSparse" or "twoGbMaxExtentFlat"; extent files go beside
 * PATH ("disk-flat.vmdk", "disk-s001.vmdk"...). Existing files are
 * overwritten. (block/vmdk-create.c) */
bool vmdk_create(const char *path, uint64_t size, const char *subformat,
                 GError **errp);
/* The same with PARENT (a vmdk image, path relative to PATH's directory or
 * absolute; NULL for none) as parentFileNameHint; SIZE 0 takes the parent's
 * size. */
bool vmdk_create_backed(const char *path, uint64_t size, const char *subformat,
                        const char *parent, GError **errp);

/* Facts about the vmdk image B for hvmdm-img info (block/vmdk-check.c). */
struct vmdk_info {
    char *create_type;   /* createType, or NULL (a bare sparse extent) */
    char *parent_hint;   /* parentFileNameHint as written, or NULL */
    uint32_t cid;        /* 0xffffffff when not recorded */
    uint32_t parent_cid; /* 0xffffffff without a parent */
    unsigned n_extents;
    char **extent_files; /* NULL-terminated; "" for ZERO/NOACCESS extents */
    uint64_t grain_size; /* bytes, of the last sparse extent; 0 if none */
    bool compressed;     /* stream-optimized grains */
};
bool vmdk_get_info(struct blk *b, struct vmdk_info *info, GError **errp);
void vmdk_info_clear(struct vmdk_info *info);

struct vmdk_check_result {
    uint64_t corruptions;      /* found */
    uint64_t check_errors;     /* I/O errors that stopped parts of it */
    uint64_t total_grains;     /* in sparse extents */
    uint64_t allocated_grains;
    GPtrArray *messages;       /* one line per problem (char *) */
};

/* Check the sparse extents of the vmdk image B: every grain inside its file,
 * no grain used twice, grain directory and tables equal to their redundant
 * copies. False with ERRP only when B is not vmdk. */
bool vmdk_check(struct blk *b, struct vmdk_check_result *res, GError **errp);
void vmdk_check_result_clear(struct vmdk_check_result *res);

#endif
