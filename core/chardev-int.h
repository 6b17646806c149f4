/*
 * chardev-int.h: what the character-device core (core/chardev.c) shares with
 * its backends (core/chardev-socket.c, core/chardev-stdio.c).
 *
 * The core owns the byte paths: fd watches on the main loop, the output queue
 * (capped, never blocking the writer), input paced by the frontend's
 * can_read, and the mux escape keys of mon: chardevs. A backend opens its fds,
 * says when a peer is there (dm_chr_be_opened / dm_chr_be_closed) and
 * decides what a hang-up means.
 */
#ifndef HVMDM_CORE_CHARDEV_INT_H
#define HVMDM_CORE_CHARDEV_INT_H

#include "hvmdm/chardev.h"
#include "hvmdm/config.h"

/* Output queued while the peer cannot take it; beyond this, dropped. */
#define DM_CHR_OUTQ_MAX (1024 * 1024)
/* Mux input waiting for the frontend (typed keys it has not taken yet). */
#define DM_CHR_MUX_INQ_MAX 4096
/* One read from a backend. */
#define DM_CHR_READ_MAX 4096

struct dm_fd_watch;

struct dm_chr_driver {
    const char *name;        /* backend name in -chardev */
    const char *const *keys; /* accepted keys besides the common ones */
    bool (*open)(struct dm_chr *c, const struct dm_opts *o, GError **errp);
    /* Input ended (EOF, hang-up) or output failed (EPIPE): the peer is gone.
     * NULL: the core stops the direction that failed and keeps the other. */
    void (*hangup)(struct dm_chr *c);
    void (*close)(struct dm_chr *c); /* close fds, free c->be */
    /* QEMU's query-chardev filename ("pty:/dev/pts/3"); NULL: the name. */
    char *(*filename)(struct dm_chr *c);
};

struct dm_chr {
    struct dm_machine *m;
    char *id;
    const struct dm_chr_driver *drv;
    void *be;               /* the backend's own state */
    int in_fd, out_fd;      /* -1: none; owned by the backend */
    bool out_is_socket;     /* send() with MSG_NOSIGNAL */
    bool open;              /* a peer is there: output written, input read */
    bool in_dead, out_dead; /* that direction failed and stays off */
    struct dm_fd_watch *in_watch;  /* on in_fd (and out_fd when equal) */
    struct dm_fd_watch *out_watch; /* on out_fd when it differs */
    GByteArray *outq;
    bool outq_warned; /* one warning per overflow episode */
    bool has_fe;
    struct dm_chr_frontend fe;
    /* mon: (mux) chardevs: Ctrl-A escapes on input */
    bool mux;
    bool mux_escape; /* the previous byte was Ctrl-A */
    GByteArray *mux_inq;
    char *pty_path;
};

/* Backends: the fds to use (either may be -1). */
void dm_chr_be_set_fds(struct dm_chr *c, int in_fd, int out_fd);
/* A peer is there: start reading and writing, tell the frontend. */
void dm_chr_be_opened(struct dm_chr *c);
/* The peer left: stop watching, drop queued output, tell the frontend. */
void dm_chr_be_closed(struct dm_chr *c);
/* Re-derive which fd events are watched (after any state change). */
void dm_chr_update_watches(struct dm_chr *c);
bool dm_chr_set_nonblock(int fd, GError **errp);

extern const struct dm_chr_driver dm_chr_driver_socket;
extern const struct dm_chr_driver dm_chr_driver_stdio;

#endif
