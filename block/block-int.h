/*
 * block-int.h: what the files of block/ share and nobody else sees: the host
 * file layer, format drivers, requests and the asynchronous engines.
 */
#ifndef HVMDM_BLOCK_INT_H
#define HVMDM_BLOCK_INT_H

#include <sys/types.h>

#include "hvmdm/block.h"

/* ---- host files (file.c) ------------------------------------------------ */

struct blk_file {
    int fd;
    char *filename;
    bool read_only;
    bool direct;   /* O_DIRECT: buffers and offsets must be aligned */
    bool no_flush; /* cache=unsafe */
    bool is_bdev;
    size_t mem_align; /* buffer address alignment (1 when not direct) */
    size_t off_align; /* offset and length alignment (1 when not direct) */
    GMutex rmw_lock;  /* serialises read-modify-write of partial blocks */
};

bool blk_file_open(struct blk_file *f, const char *filename, bool read_only,
                   enum blk_cache cache, GError **errp);
void blk_file_close(struct blk_file *f);
/* Current size in bytes (files: st_size, block devices: BLKGETSIZE64). */
int64_t blk_file_size(struct blk_file *f);
/* Whole transfers: reads past the end of the file return zeros. */
int blk_file_preadv(struct blk_file *f, uint64_t off, const struct iovec *iov,
                    int niov);
int blk_file_pwritev(struct blk_file *f, uint64_t off, const struct iovec *iov,
                     int niov);
int blk_file_pread(struct blk_file *f, uint64_t off, void *buf, size_t len);
int blk_file_pwrite(struct blk_file *f, uint64_t off, const void *buf,
                    size_t len);
int blk_file_flush(struct blk_file *f);
/* Deallocate [off, off+len) (hole punch / BLKDISCARD); advisory. */
int blk_file_discard(struct blk_file *f, uint64_t off, uint64_t len);
/* True when OFF, the lengths and the addresses of IOV suit F directly. */
bool blk_file_mem_aligned(const struct blk_file *f, const struct iovec *iov,
                          int niov);
bool blk_file_off_aligned(const struct blk_file *f, uint64_t off, uint64_t len);
/* Aligned for F's O_DIRECT needs; free with g_aligned_free(). */
void *blk_file_alloc(const struct blk_file *f, size_t len);

/* ---- iovec helpers (file.c) --------------------------------------------- */

size_t blk_iov_size(const struct iovec *iov, int niov);
/* Copy between a flat buffer and IOV starting LEN bytes at byte OFF. */
void blk_iov_to_buf(const struct iovec *iov, int niov, size_t off, void *buf,
                    size_t len);
void blk_iov_from_buf(const struct iovec *iov, int niov, size_t off,
                      const void *buf, size_t len);
void blk_iov_memset(const struct iovec *iov, int niov, size_t off, int c,
                    size_t len);
/* The sub-vector [OFF, OFF+LEN) of IOV into DST (at most NIOV entries). */
int blk_iov_slice(const struct iovec *iov, int niov, size_t off, size_t len,
                  struct iovec *dst);

/* ---- formats -------------------------------------------------------------- */

struct blk_driver {
    const char *name;
    enum blk_format format;
    bool native_async; /* requests map 1:1 onto the host file */
    /* b->file is open; set b->size and b->drv_state. */
    bool (*open)(struct blk *b, GError **errp);
    void (*close)(struct blk *b);
    /* Synchronous, any thread, may run concurrently with each other. */
    int (*preadv)(struct blk *b, uint64_t off, const struct iovec *iov,
                  int niov, uint64_t len);
    int (*pwritev)(struct blk *b, uint64_t off, const struct iovec *iov,
                   int niov, uint64_t len);
    int (*flush)(struct blk *b);
    int (*discard)(struct blk *b, uint64_t off, uint64_t len);
};

extern const struct blk_driver blk_raw_driver;
extern const struct blk_driver blk_qcow2_driver;
extern const struct blk_driver blk_vmdk_driver;

/* Identity of the files in a backing chain, for loop detection. */
#define BLK_MAX_CHAIN 64
struct blk_chain {
    dev_t dev[BLK_MAX_CHAIN];
    ino_t ino[BLK_MAX_CHAIN];
    unsigned depth;
};

struct blk_aio;

struct blk {
    char *filename;
    char *id;
    const struct blk_driver *drv;
    void *drv_state;
    struct blk_file file;
    struct blk_opts opts;
    uint64_t size;
    bool read_only;
    bool probed;        /* format was guessed */
    bool guard_sector0; /* probed raw and writable: refuse format headers */
    struct blk_chain *chain; /* during open only */
    struct blk_aio *aio;     /* NULL for backing files */
    unsigned in_flight;
};

/* Open FILENAME as a backing file of PARENT (read-only, no async engine). */
struct blk *blk_open_backing(struct blk *parent, const char *filename,
                             enum blk_format format, GError **errp);
/* Guess the format from the first bytes of an image. */
enum blk_format blk_probe(const uint8_t *buf, size_t len);

/* ---- requests and the asynchronous engines (aio.c, uring.c) ------------- */

enum blk_op {
    BLK_OP_READ,
    BLK_OP_WRITE,
    BLK_OP_FLUSH,
    BLK_OP_DISCARD,
};

#define BLK_REQ_INLINE_IOV 4

struct blk_req {
    struct blk *b;
    enum blk_op op;
    uint64_t off;
    uint64_t len;
    struct iovec *iov; /* what the engine transfers */
    int niov;
    struct iovec iov_inline[BLK_REQ_INLINE_IOV];
    struct iovec *guest_iov; /* the caller's vector when bouncing */
    int guest_niov;
    void *bounce;  /* aligned copy for O_DIRECT */
    uint64_t done; /* bytes transferred so far (io_uring) */
    blk_cb cb;
    void *opaque;
    int ret;
    bool preset; /* ret is final: complete without running */
    struct blk_req *next;
};

/* Run R synchronously in the calling thread; sets r->ret. */
void blk_req_run(struct blk_req *r);
/* Finish R on the main loop: bounce copy-out, callback, free. */
void blk_req_complete(struct blk_req *r);

struct blk_aio *blk_aio_new(struct blk *b, enum blk_aio_mode mode);
void blk_aio_free(struct blk_aio *a);
bool blk_aio_uses_uring(const struct blk_aio *a);
/* Hand R to io_uring (if NATIVE and possible) or to a worker thread. */
void blk_aio_submit(struct blk_aio *a, struct blk_req *r, bool native);

struct blk_uring;
typedef void (*blk_uring_done_fn)(struct blk_req *r);
#ifdef CONFIG_URING
struct blk_uring *blk_uring_new(int fd, blk_uring_done_fn done);
void blk_uring_free(struct blk_uring *u);
/* False when the ring cannot take R now (the caller uses a thread). */
bool blk_uring_submit(struct blk_uring *u, struct blk_req *r);
#else
static inline struct blk_uring *blk_uring_new(int fd, blk_uring_done_fn done)
{
    return NULL;
}
static inline void blk_uring_free(struct blk_uring *u)
{
}
static inline bool blk_uring_submit(struct blk_uring *u, struct blk_req *r)
{
    return false;
}
#endif

#endif
