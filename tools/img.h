/*
 * img.h: what the hvmdm-img subcommands share: error lines, size and option
 * parsing, opening images and their backing chains, and where guest ranges
 * are stored (for map and convert).
 */
#ifndef HVMDM_TOOLS_IMG_H
#define HVMDM_TOOLS_IMG_H

#include "hvmdm/block.h"

/* Exit statuses (as qemu-img) */
#define IMG_EXIT_OK 0
#define IMG_EXIT_ERROR 1

#define IMG_MAX_CHAIN 64

/* Subcommands: each parses its own argv (argv[0] is the subcommand). */
int img_create(int argc, char **argv);
int img_info(int argc, char **argv);
int img_check(int argc, char **argv);
int img_convert(int argc, char **argv);
int img_resize(int argc, char **argv);
int img_compare(int argc, char **argv);
int img_map(int argc, char **argv);

/* "hvmdm-img: <message>" on stderr, one line. */
void img_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Print ERR as one error line and free it; returns IMG_EXIT_ERROR. */
int img_fail(GError *err);
/* One error line about a bad command line, plus a hint to --help. */
int img_usage_error(const char *cmd, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* "10G", "512", "1.5M", "64k": bytes, k/K, M, G, T, P, E (powers of 1024). */
bool img_parse_size(const char *s, uint64_t *out, GError **errp);
/* "1 GiB", "332 KiB", "0 B" (three significant digits, as qemu-img). */
char *img_human_size(uint64_t bytes);

/* -o key=value,key=value (",," escapes a comma); repeated -o accumulate. */
struct img_opts {
    GPtrArray *keys, *vals;
};
void img_opts_init(struct img_opts *o);
void img_opts_free(struct img_opts *o);
bool img_opts_parse(struct img_opts *o, const char *s, GError **errp);
/* Value of KEY (marked used), or NULL. */
const char *img_opts_get(struct img_opts *o, const char *key);
/* Fail on a key none of KNOWN (NULL-terminated) names. */
bool img_opts_check(struct img_opts *o, const char *fmt,
                    const char *const *known, GError **errp);

/* A format name from -f/-O/-F; NULL means probe (only for existing files). */
bool img_parse_format(const char *s, enum blk_format *out, GError **errp);
/* --output=human|json for command CMD: sets *JSON, or prints the usage error
 * and returns false. */
bool img_parse_output(const char *cmd, const char *arg, bool *json);

/* Open FILE (format FMT or probed) for the tools: read-only unless RW. */
struct blk *img_open(const char *file, enum blk_format fmt, bool rw,
                     enum blk_cache cache, GError **errp);

/* What new images can be made with (create and convert). */
struct img_create_req {
    const char *file;
    enum blk_format fmt;
    uint64_t size;
    bool has_size;
    const char *backing;     /* -b */
    const char *backing_fmt; /* -F */
    struct img_opts *opts;   /* -o, may be NULL */
};
bool img_create_image(struct img_create_req *r, GError **errp);

/* The backing file path of IMAGE as the driver resolves it: relative names
 * are relative to the image's directory. */
char *img_backing_path(const char *image, const char *backing);

/* An image and its backing chain, each opened read-only on its own. */
struct img_chain {
    unsigned n;
    struct blk *b[IMG_MAX_CHAIN];
    int fd[IMG_MAX_CHAIN]; /* the image files (not vmdk), read-only: for
                              SEEK_DATA / SEEK_HOLE and reading data at the
                              offsets img_chain_status reports */
};

/* The top image is TOP (not owned); its backing files are opened. */
bool img_chain_open(struct img_chain *c, struct blk *top, GError **errp);
void img_chain_close(struct img_chain *c);

/* How the range from OFF is stored, as qemu-img map reports it. */
struct img_extent {
    uint64_t len;
    unsigned depth;  /* image of the chain that holds it */
    bool present;    /* some image of the chain holds it */
    bool zero;       /* reads as zeros */
    bool data;       /* stored data */
    bool has_offset; /* offset is valid */
    uint64_t offset; /* host offset in that image's file */
};
int img_chain_status(struct img_chain *c, uint64_t off, uint64_t len,
                     struct img_extent *e);

#endif
