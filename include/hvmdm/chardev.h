/*
 * chardev.h: character devices, the byte streams behind serial ports and
 * debug consoles.
 *
 * Backends (-chardev BACKEND,id=ID,... and the short -serial forms): null,
 * stdio (raw terminal; signal=off honoured), mon:stdio (Ctrl-A x quits, Ctrl-A
 * Ctrl-A sends Ctrl-A), pty (the path is printed), file:PATH (path=), pipe,
 * unix:PATH[,server=on,wait=off], tcp:HOST:PORT[,server=on,wait=off], fd.
 * A frontend (UART, debugcon) attaches handlers; input arrives on the main
 * loop with dm_lock held, paced by can_read.
 */
#ifndef HVMDM_CHARDEV_H
#define HVMDM_CHARDEV_H

#include "hvmdm/common.h"

enum dm_chr_event {
    DM_CHR_EVENT_OPENED, /* a client connected / the backend is ready */
    /* the peer went away; for stdio, pipe and fd: input reached its end
     * (output still works) */
    DM_CHR_EVENT_CLOSED,
};

struct dm_chr_frontend {
    /* How many bytes the frontend can take now (0 pauses input). */
    int (*can_read)(void *opaque);
    void (*read)(void *opaque, const uint8_t *buf, int len);
    void (*event)(void *opaque, enum dm_chr_event ev); /* may be NULL */
    void *opaque;
};

struct dm_chr;

/* Parse a -chardev option string ("socket,id=c0,path=/tmp/s,server=on"). */
struct dm_chr *dm_chr_new(struct dm_machine *m, const char *opts,
                          GError **errp);
/* Parse a -serial / -debugcon short form ("stdio", "pty", "file:PATH",
 * "unix:PATH,server=on", "tcp::4444,server=on,wait=off", "null", "none"
 * returns NULL without error, "chardev:ID" looks up an existing one). */
struct dm_chr *dm_chr_new_short(struct dm_machine *m, const char *spec,
                                const char *id, GError **errp);
struct dm_chr *dm_chr_find(struct dm_machine *m, const char *id);
const char *dm_chr_id(struct dm_chr *c);
/* Pty backends: the slave path; NULL otherwise. */
const char *dm_chr_pty_path(struct dm_chr *c);
/* What QMP's query-chardev reports as "filename" ("pty:/dev/pts/3",
 * "unix:/run/s,server=on", "disconnected:tcp:0.0.0.0:4444,server=on",
 * "stdio", "null"...); g_free it. */
char *dm_chr_filename(struct dm_chr *c);
/* True while a peer is there (a socket client, a pty reader); output
 * written while false is dropped. */
bool dm_chr_is_open(struct dm_chr *c);

/* Attach a frontend; false if one is already attached. */
bool dm_chr_attach(struct dm_chr *c, const struct dm_chr_frontend *fe,
                   GError **errp);
void dm_chr_detach(struct dm_chr *c);
/* Frontend calls this when can_read may have grown. */
void dm_chr_accept_input(struct dm_chr *c);
/* Write all of BUF (buffering what the backend cannot take yet; bytes are
 * dropped only when no client is connected). Returns LEN or -errno. */
int dm_chr_write(struct dm_chr *c, const uint8_t *buf, int len);
void dm_chr_free(struct dm_chr *c);
/* Free every chardev of M (machine teardown, after the devices: frontends
 * detach in their unrealize). */
void dm_chr_free_all(struct dm_machine *m);

#endif
