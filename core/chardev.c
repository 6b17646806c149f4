/*
 * chardev.c: character devices, the byte streams behind serial ports, debug
 * consoles and the qtest protocol; the simple backends (null, file, pipe,
 * pty, fd) live here too, sockets and the terminal in their own files.
 *
 * Everything is event driven on the main loop: input is read only while the
 * frontend can take it (can_read), output never blocks the writer (what the
 * peer cannot take yet is queued up to 1 MiB, then dropped with one warning).
 * mon: chardevs interpret Ctrl-A escapes as QEMU's mux does (x quits, h
 * helps, Ctrl-A sends Ctrl-A); there is no monitor to switch to yet.
 * Left out: logfile=, ringbuf/memory, serial/parallel host devices, udp.
 */
#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "chardev-int.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/trace.h"

#define CHR_CTRL_A 0x01

bool dm_chr_set_nonblock(int fd, GError **errp)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                    "cannot make fd %d non-blocking: %s", fd,
                    g_strerror(errno));
        return false;
    }
    return true;
}

/* ---- the byte paths ------------------------------------------------------ */

/* write(2), without SIGPIPE on sockets whose peer left. */
static ssize_t chr_sys_write(struct dm_chr *c, const void *buf, size_t len)
{
    if (c->out_is_socket) {
        return send(c->out_fd, buf, len, MSG_NOSIGNAL);
    }
    return write(c->out_fd, buf, len);
}

static void chr_fd_ready(void *opaque, int fd, GIOCondition cond);

static void chr_watch_set(struct dm_chr *c, struct dm_fd_watch **w, int fd,
                          GIOCondition events)
{
    if (!events || fd < 0) {
        if (*w) {
            dm_fd_watch_remove(*w);
            *w = NULL;
        }
        return;
    }
    if (*w) {
        dm_fd_watch_set_events(*w, events);
    } else {
        *w = dm_fd_watch_add(fd, events, chr_fd_ready, c);
    }
}

/* How many input bytes we would read now. */
static int chr_input_room(struct dm_chr *c)
{
    int n;

    if (!c->open || c->in_dead || c->in_fd < 0) {
        return 0;
    }
    if (c->mux) {
        /* Escapes are read even without a frontend, so Ctrl-A x works
         * while the guest ignores its serial port. */
        return DM_CHR_MUX_INQ_MAX - (int)c->mux_inq->len;
    }
    if (!c->has_fe) {
        return 0;
    }
    n = c->fe.can_read(c->fe.opaque);
    return MIN(MAX(n, 0), DM_CHR_READ_MAX);
}

void dm_chr_update_watches(struct dm_chr *c)
{
    GIOCondition in_ev = 0, out_ev = 0;

    if (chr_input_room(c) > 0) {
        in_ev = G_IO_IN | G_IO_HUP | G_IO_ERR;
    }
    if (c->open && !c->out_dead && c->out_fd >= 0 && c->outq->len) {
        out_ev = G_IO_OUT;
    }
    if (c->out_fd == c->in_fd) {
        chr_watch_set(c, &c->in_watch, c->in_fd, in_ev | out_ev);
        chr_watch_set(c, &c->out_watch, -1, 0);
    } else {
        chr_watch_set(c, &c->in_watch, c->in_fd, in_ev);
        chr_watch_set(c, &c->out_watch, c->out_fd, out_ev);
    }
}

static void chr_input_ended(struct dm_chr *c)
{
    dm_trace(chr_input_end, "chardev %s: input ended", c->id);
    if (c->drv->hangup) {
        c->drv->hangup(c);
        return;
    }
    /* stdin at end of file: nothing more will come, but output still
     * works; the frontend hears that its peer is done (qtest quits) */
    c->in_dead = true;
    dm_chr_update_watches(c);
    if (c->has_fe && c->fe.event) {
        c->fe.event(c->fe.opaque, DM_CHR_EVENT_CLOSED);
    }
}

static void chr_output_failed(struct dm_chr *c, int err)
{
    dm_trace(chr_output_fail, "chardev %s: write failed: %s", c->id,
             g_strerror(err));
    g_byte_array_set_size(c->outq, 0);
    if (c->drv->hangup) {
        c->drv->hangup(c);
    } else {
        if (!c->out_dead) {
            dm_warn("chardev[%s]: write failed: %s: output dropped from now on",
                    c->id, g_strerror(err));
        }
        c->out_dead = true;
    }
    dm_chr_update_watches(c);
}

/* Write the output queue; stops at EAGAIN. */
static void chr_flush_output(struct dm_chr *c)
{
    while (c->outq->len && c->open && !c->out_dead) {
        ssize_t n = chr_sys_write(c, c->outq->data, c->outq->len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                chr_output_failed(c, errno);
                return;
            }
            break;
        }
        g_byte_array_remove_range(c->outq, 0, (guint)n);
    }
    if (!c->outq->len) {
        c->outq_warned = false;
    }
}

/* Write bytes from the backend side's own voice (mux help lines). */
static void chr_write_local(struct dm_chr *c, const char *s)
{
    dm_chr_write(c, (const uint8_t *)s, (int)strlen(s));
}

/* Hand queued mux input to the frontend as far as it can take it. */
static void chr_mux_deliver(struct dm_chr *c)
{
    uint8_t buf[DM_CHR_MUX_INQ_MAX];

    while (c->mux_inq->len && c->has_fe) {
        int n = c->fe.can_read(c->fe.opaque);

        if (n <= 0) {
            break;
        }
        n = MIN(n, (int)c->mux_inq->len);
        /* copy out first: the frontend may write back through us */
        memcpy(buf, c->mux_inq->data, (size_t)n);
        g_byte_array_remove_range(c->mux_inq, 0, (guint)n);
        c->fe.read(c->fe.opaque, buf, n);
    }
}

static void chr_mux_escape(struct dm_chr *c, uint8_t ch)
{
    static const uint8_t ctrl_a = CHR_CTRL_A;

    switch (ch) {
    case 'x':
    case 'X':
        chr_write_local(c, "\r\nhvmdm: terminating on Ctrl-A x\r\n");
        dm_machine_request_shutdown(c->m, DM_SHUTDOWN_USER_QUIT);
        break;
    case 'h':
    case 'H':
    case '?':
        chr_write_local(c, "\r\nCtrl-A h: this help  Ctrl-A x: quit  "
                           "Ctrl-A c: monitor  Ctrl-A Ctrl-A: send Ctrl-A\r\n");
        break;
    case 'c':
    case 'C':
        chr_write_local(c, "\r\nhvmdm: no monitor on this console; "
                           "Ctrl-A h for help\r\n");
        break;
    case CHR_CTRL_A:
        g_byte_array_append(c->mux_inq, &ctrl_a, 1);
        break;
    default:
        /* unknown escapes are swallowed, as on QEMU's mux */
        break;
    }
}

static void chr_mux_input(struct dm_chr *c, const uint8_t *buf, int len)
{
    for (int i = 0; i < len; i++) {
        if (c->mux_escape) {
            c->mux_escape = false;
            chr_mux_escape(c, buf[i]);
        } else if (buf[i] == CHR_CTRL_A) {
            c->mux_escape = true;
        } else {
            g_byte_array_append(c->mux_inq, &buf[i], 1);
        }
    }
    chr_mux_deliver(c);
}

static void chr_read_input(struct dm_chr *c)
{
    uint8_t buf[DM_CHR_READ_MAX];
    int room = chr_input_room(c);
    ssize_t n;

    if (room <= 0) {
        return;
    }
    n = read(c->in_fd, buf, (size_t)MIN(room, (int)sizeof(buf)));
    if (n == 0) {
        chr_input_ended(c);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            /* EIO: a pty whose last client closed; ECONNRESET... */
            chr_input_ended(c);
        }
        return;
    }
    if (c->mux) {
        chr_mux_input(c, buf, (int)n);
    } else {
        c->fe.read(c->fe.opaque, buf, (int)n);
    }
}

static void chr_fd_ready(void *opaque, int fd, GIOCondition cond)
{
    struct dm_chr *c = opaque;

    if ((cond & G_IO_OUT) && fd == c->out_fd) {
        chr_flush_output(c);
    }
    if ((cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && fd == c->in_fd &&
        chr_input_room(c) > 0) {
        chr_read_input(c);
    } else if ((cond & (G_IO_HUP | G_IO_ERR)) && fd == c->out_fd &&
               c->outq->len) {
        chr_flush_output(c); /* reports the failure */
    }
    dm_chr_update_watches(c);
}

void dm_chr_be_set_fds(struct dm_chr *c, int in_fd, int out_fd)
{
    chr_watch_set(c, &c->in_watch, -1, 0);
    chr_watch_set(c, &c->out_watch, -1, 0);
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->in_dead = in_fd < 0;
    c->out_dead = out_fd < 0;
    dm_chr_update_watches(c);
}

void dm_chr_be_opened(struct dm_chr *c)
{
    if (c->open) {
        return;
    }
    dm_trace(chr_opened, "chardev %s: opened", c->id);
    c->open = true;
    c->mux_escape = false;
    if (c->has_fe && c->fe.event) {
        c->fe.event(c->fe.opaque, DM_CHR_EVENT_OPENED);
    }
    dm_chr_update_watches(c);
}

void dm_chr_be_closed(struct dm_chr *c)
{
    if (!c->open) {
        return;
    }
    dm_trace(chr_closed, "chardev %s: closed", c->id);
    c->open = false;
    g_byte_array_set_size(c->outq, 0);
    c->outq_warned = false;
    dm_chr_update_watches(c);
    if (c->has_fe && c->fe.event) {
        c->fe.event(c->fe.opaque, DM_CHR_EVENT_CLOSED);
    }
}

int dm_chr_write(struct dm_chr *c, const uint8_t *buf, int len)
{
    int done = 0;

    if (len < 0) {
        return -EINVAL;
    }
    if (!c->open || c->out_dead || c->out_fd < 0 || len == 0) {
        return len; /* nobody is there to see it */
    }
    if (!c->outq->len) {
        while (done < len) {
            ssize_t n = chr_sys_write(c, buf + done, (size_t)(len - done));

            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                    chr_output_failed(c, errno);
                    return len;
                }
                break;
            }
            done += (int)n;
        }
    }
    if (done < len) {
        guint room = DM_CHR_OUTQ_MAX - c->outq->len;
        guint take = MIN(room, (guint)(len - done));

        g_byte_array_append(c->outq, buf + done, take);
        if (take < (guint)(len - done) && !c->outq_warned) {
            c->outq_warned = true;
            dm_warn("chardev[%s]: peer not reading, output queue full "
                    "(%u KiB): dropping output",
                    c->id, DM_CHR_OUTQ_MAX / 1024);
        }
        dm_chr_update_watches(c);
    }
    return len;
}

/* ---- frontends ------------------------------------------------------------ */

bool dm_chr_attach(struct dm_chr *c, const struct dm_chr_frontend *fe,
                   GError **errp)
{
    if (c->has_fe) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "chardev '%s' is already in use", c->id);
        return false;
    }
    assert(fe->can_read && fe->read);
    c->fe = *fe;
    c->has_fe = true;
    if (c->open && c->fe.event) {
        c->fe.event(c->fe.opaque, DM_CHR_EVENT_OPENED);
    }
    if (c->mux) {
        chr_mux_deliver(c);
    }
    dm_chr_update_watches(c);
    return true;
}

void dm_chr_detach(struct dm_chr *c)
{
    c->has_fe = false;
    memset(&c->fe, 0, sizeof(c->fe));
    dm_chr_update_watches(c);
}

void dm_chr_accept_input(struct dm_chr *c)
{
    if (c->mux) {
        chr_mux_deliver(c);
    }
    dm_chr_update_watches(c);
}

/* ---- null, file, pipe, fd ------------------------------------------------- */

static bool chr_null_open(struct dm_chr *c, const struct dm_opts *o,
                          GError **errp)
{
    dm_chr_be_set_fds(c, -1, -1);
    dm_chr_be_opened(c);
    return true;
}

static const struct dm_chr_driver chr_driver_null = {
    .name = "null",
    .open = chr_null_open,
};

struct chr_fds {
    int in_fd, out_fd;
};

static void chr_fds_close(struct dm_chr *c)
{
    struct chr_fds *f = c->be;

    if (!f) {
        return;
    }
    if (f->in_fd >= 0) {
        close(f->in_fd);
    }
    if (f->out_fd >= 0 && f->out_fd != f->in_fd) {
        close(f->out_fd);
    }
    g_free(f);
    c->be = NULL;
}

static void chr_fds_start(struct dm_chr *c, int in_fd, int out_fd)
{
    struct chr_fds *f = g_new(struct chr_fds, 1);

    f->in_fd = in_fd;
    f->out_fd = out_fd;
    c->be = f;
    dm_chr_be_set_fds(c, in_fd, out_fd);
    dm_chr_be_opened(c);
}

static const char *chr_need_path(const struct dm_opts *o, const char *backend,
                                 GError **errp)
{
    const char *path = dm_opts_get(o, "path");

    if (!path || !*path) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "%s: path= is required",
                    backend);
        return NULL;
    }
    return path;
}

static bool chr_file_open(struct dm_chr *c, const struct dm_opts *o,
                          GError **errp)
{
    const char *path = chr_need_path(o, "file", errp);
    GError *err = NULL;
    bool append;
    int fd;

    if (!path) {
        return false;
    }
    append = dm_opts_get_bool(o, "append", false, &err);
    if (err) {
        g_propagate_error(errp, err);
        return false;
    }
    fd = open(path,
              O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC),
              0666);
    if (fd < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "file %s: %s", path,
                    g_strerror(errno));
        return false;
    }
    chr_fds_start(c, -1, fd);
    return true;
}

static const char *const chr_file_keys[] = { "path", "append", NULL };

static const struct dm_chr_driver chr_driver_file = {
    .name = "file",
    .keys = chr_file_keys,
    .open = chr_file_open,
    .close = chr_fds_close,
};

/* FIFOs are opened read-write so that opening never waits for the other
 * end and our reader never sees end-of-file. */
static int chr_open_fifo(const char *path, GError **errp)
{
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "pipe %s: %s", path,
                    g_strerror(errno));
    }
    return fd;
}

static bool chr_pipe_open(struct dm_chr *c, const struct dm_opts *o,
                          GError **errp)
{
    const char *path = chr_need_path(o, "pipe", errp);
    g_autofree char *in_path = NULL;
    g_autofree char *out_path = NULL;
    int in_fd, out_fd;

    if (!path) {
        return false;
    }
    in_path = g_strconcat(path, ".in", NULL);
    out_path = g_strconcat(path, ".out", NULL);
    if (access(in_path, F_OK) == 0 && access(out_path, F_OK) == 0) {
        in_fd = chr_open_fifo(in_path, errp);
        if (in_fd < 0) {
            return false;
        }
        out_fd = chr_open_fifo(out_path, errp);
        if (out_fd < 0) {
            close(in_fd);
            return false;
        }
    } else {
        in_fd = out_fd = chr_open_fifo(path, errp);
        if (in_fd < 0) {
            return false;
        }
    }
    chr_fds_start(c, in_fd, out_fd);
    return true;
}

static const char *const chr_pipe_keys[] = { "path", NULL };

static const struct dm_chr_driver chr_driver_pipe = {
    .name = "pipe",
    .keys = chr_pipe_keys,
    .open = chr_pipe_open,
    .close = chr_fds_close,
};

/* An inherited fd used both ways (the caller hands it over). */
static bool chr_fd_open(struct dm_chr *c, const struct dm_opts *o,
                        GError **errp)
{
    const char *s = dm_opts_get(o, "fd");
    uint64_t fd;

    if (!s || !dm_parse_uint(s, &fd) || fd > INT_MAX ||
        fcntl((int)fd, F_GETFD) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "fd: fd=%s: expected an open file descriptor", s ? s : "");
        return false;
    }
    if (!dm_chr_set_nonblock((int)fd, errp)) {
        return false;
    }
    chr_fds_start(c, (int)fd, (int)fd);
    return true;
}

static const char *const chr_fd_keys[] = { "fd", NULL };

static const struct dm_chr_driver chr_driver_fd = {
    .name = "fd",
    .keys = chr_fd_keys,
    .open = chr_fd_open,
    .close = chr_fds_close,
};

/* ---- pty ------------------------------------------------------------------ */

/*
 * The master end is ours; a client (screen, xl console) opens the slave.
 * While nobody has it open the master reports a hang-up on every poll, so
 * we do not watch it then: inotify tells us when the slave is opened.
 * Output while nobody is there is discarded.
 */
struct chr_pty {
    int master;
    int notify_fd; /* inotify on the slave path, -1 if unavailable */
    struct dm_fd_watch *notify_watch;
};

static bool chr_pty_slave_open(int master)
{
    struct pollfd p = { .fd = master, .events = POLLIN };

    return poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP);
}

static void chr_pty_notify(void *opaque, int fd, GIOCondition cond)
{
    struct dm_chr *c = opaque;
    struct chr_pty *p = c->be;
    char buf[512];

    while (read(fd, buf, sizeof(buf)) > 0) {
        /* drain: we only care that something happened */
    }
    if (!c->open && chr_pty_slave_open(p->master)) {
        dm_chr_be_opened(c);
    }
}

static void chr_pty_hangup(struct dm_chr *c)
{
    dm_chr_be_closed(c);
}

static bool chr_pty_open(struct dm_chr *c, const struct dm_opts *o,
                         GError **errp)
{
    struct chr_pty *p;
    struct termios tio;
    char name[64];
    int master;

    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
        ptsname_r(master, name, sizeof(name)) != 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "pty: cannot create: %s",
                    g_strerror(errno));
        if (master >= 0) {
            close(master);
        }
        return false;
    }
    /* Raw bytes both ways (the termios of a pair lives on the slave). */
    if (tcgetattr(master, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(master, TCSANOW, &tio);
    }
    if (!dm_chr_set_nonblock(master, errp)) {
        close(master);
        return false;
    }
    p = g_new0(struct chr_pty, 1);
    p->master = master;
    p->notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (p->notify_fd >= 0 &&
        inotify_add_watch(p->notify_fd, name, IN_OPEN) < 0) {
        close(p->notify_fd);
        p->notify_fd = -1;
    }
    c->be = p;
    c->pty_path = g_strdup(name);
    dm_chr_be_set_fds(c, master, master);
    if (p->notify_fd >= 0) {
        p->notify_watch =
            dm_fd_watch_add(p->notify_fd, G_IO_IN, chr_pty_notify, c);
    } else {
        /* Without inotify we cannot see clients come: treat the pty as
         * connected (output then waits in the tty until one reads). */
        dm_warn("chardev[%s]: inotify unavailable: pty %s assumed connected",
                c->id, name);
        dm_chr_be_opened(c);
    }
    /* The line QEMU prints; tools look for it. */
    fprintf(stderr, "char device redirected to %s (label %s)\n", name, c->id);
    return true;
}

static void chr_pty_close(struct dm_chr *c)
{
    struct chr_pty *p = c->be;

    if (!p) {
        return;
    }
    dm_fd_watch_remove(p->notify_watch);
    if (p->notify_fd >= 0) {
        close(p->notify_fd);
    }
    close(p->master);
    g_free(p);
    c->be = NULL;
}

static char *chr_pty_filename(struct dm_chr *c)
{
    return g_strdup_printf("pty:%s", c->pty_path);
}

static const struct dm_chr_driver chr_driver_pty = {
    .name = "pty",
    .open = chr_pty_open,
    .hangup = chr_pty_hangup,
    .close = chr_pty_close,
    .filename = chr_pty_filename,
};

/* ---- creation and lookup -------------------------------------------------- */

static const struct dm_chr_driver *const chr_drivers[] = {
    &chr_driver_null, &dm_chr_driver_stdio,  &chr_driver_pty, &chr_driver_file,
    &chr_driver_pipe, &dm_chr_driver_socket, &chr_driver_fd,  NULL,
};

static const struct dm_chr_driver *chr_driver_find(const char *name)
{
    for (int i = 0; chr_drivers[i]; i++) {
        if (strcmp(chr_drivers[i]->name, name) == 0) {
            return chr_drivers[i];
        }
    }
    return NULL;
}

static bool chr_check_keys(const struct dm_chr_driver *drv,
                           const struct dm_opts *o, GError **errp)
{
    static const char *const common[] = { "backend", "id", "mux" };
    g_autoptr(GPtrArray) keys = g_ptr_array_new();

    for (size_t i = 0; i < DM_ARRAY_SIZE(common); i++) {
        g_ptr_array_add(keys, (gpointer)common[i]);
    }
    for (int i = 0; drv->keys && drv->keys[i]; i++) {
        g_ptr_array_add(keys, (gpointer)drv->keys[i]);
    }
    g_ptr_array_add(keys, NULL);
    return dm_opts_check_keys(o, (const char *const *)keys->pdata, drv->name,
                              errp);
}

static bool chr_id_valid(const char *id)
{
    if (!g_ascii_isalpha(*id)) {
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

struct dm_chr *dm_chr_new(struct dm_machine *m, const char *opts, GError **errp)
{
    struct dm_opts *o = dm_opts_parse(opts, "backend", errp);
    const struct dm_chr_driver *drv;
    const char *backend, *id;
    struct dm_chr *c = NULL;
    GError *err = NULL;
    bool mux;

    if (!o) {
        return NULL;
    }
    backend = dm_opts_get(o, "backend");
    id = dm_opts_get(o, "id");
    if (!backend) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "backend missing (null, stdio, pty, file, pipe, socket, "
                    "fd)");
        goto out;
    }
    drv = chr_driver_find(backend);
    if (!drv) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "unknown backend '%s' (null, stdio, pty, file, pipe, "
                    "socket, fd)",
                    backend);
        goto out;
    }
    if (!id || !chr_id_valid(id)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "id=%s: expected an identifier (a letter, then letters, "
                    "digits, '-', '.', '_')",
                    id ? id : "");
        goto out;
    }
    if (dm_chr_find(m, id)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "id=%s: a chardev with this id exists already", id);
        goto out;
    }
    if (!chr_check_keys(drv, o, errp)) {
        goto out;
    }
    mux = dm_opts_get_bool(o, "mux", false, &err);
    if (err) {
        g_propagate_error(errp, err);
        goto out;
    }

    c = g_new0(struct dm_chr, 1);
    c->m = m;
    c->id = g_strdup(id);
    c->drv = drv;
    c->in_fd = c->out_fd = -1;
    c->in_dead = c->out_dead = true;
    c->outq = g_byte_array_new();
    c->mux = mux;
    c->mux_inq = g_byte_array_new();
    if (!drv->open(c, o, errp)) {
        dm_chr_free(c);
        c = NULL;
        goto out;
    }
    g_ptr_array_add(m->chardevs, c);
out:
    dm_opts_free(o);
    return c;
}

/* Option-string escaping: a literal comma is written twice. */
static void chr_append_escaped(GString *s, const char *v)
{
    for (; *v; v++) {
        if (*v == ',') {
            g_string_append_c(s, ',');
        }
        g_string_append_c(s, *v);
    }
}

/* "tcp:[HOST]:PORT[,opts]" -> "host=HOST,port=PORT[,opts]" on S. */
static bool chr_short_tcp(GString *s, const char *rest, GError **errp)
{
    const char *comma = strchr(rest, ',');
    g_autofree char *hp =
        comma ? g_strndup(rest, (gsize)(comma - rest)) : g_strdup(rest);
    char *colon = strrchr(hp, ':');
    char *host = hp;

    if (!colon || !colon[1]) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "tcp:%s: expected tcp:[HOST]:PORT", rest);
        return false;
    }
    *colon = '\0';
    if (host[0] == '[' && colon > host && colon[-1] == ']') {
        colon[-1] = '\0';
        host++;
    }
    if (*host) {
        g_string_append(s, ",host=");
        chr_append_escaped(s, host);
    }
    g_string_append(s, ",port=");
    chr_append_escaped(s, colon + 1);
    if (comma) {
        g_string_append(s, comma);
    }
    return true;
}

struct dm_chr *dm_chr_new_short(struct dm_machine *m, const char *spec,
                                const char *id, GError **errp)
{
    g_autoptr(GString) s = g_string_new(NULL);
    g_autofree char *gen_id = NULL;
    bool mux = false;
    const char *rest;

    if (strcmp(spec, "none") == 0) {
        return NULL;
    }
    if (g_str_has_prefix(spec, "chardev:")) {
        struct dm_chr *c = dm_chr_find(m, spec + 8);

        if (!c) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "no chardev with id '%s'", spec + 8);
        }
        return c;
    }
    if (g_str_has_prefix(spec, "mon:")) {
        mux = true;
        spec += 4;
    }
    if (!id) {
        for (unsigned n = 0;; n++) {
            g_free(gen_id);
            gen_id = g_strdup_printf("chr%u", n);
            if (!dm_chr_find(m, gen_id)) {
                break;
            }
        }
        id = gen_id;
    }
    if (strcmp(spec, "null") == 0 || strcmp(spec, "stdio") == 0 ||
        strcmp(spec, "pty") == 0) {
        g_string_append(s, spec);
    } else if ((rest = g_str_has_prefix(spec, "file:") ? spec + 5 : NULL)) {
        g_string_append(s, "file,path=");
        chr_append_escaped(s, rest);
    } else if ((rest = g_str_has_prefix(spec, "pipe:") ? spec + 5 : NULL)) {
        g_string_append(s, "pipe,path=");
        chr_append_escaped(s, rest);
    } else if ((rest = g_str_has_prefix(spec, "unix:") ? spec + 5 : NULL)) {
        /* the path ends at the first comma; options follow */
        g_string_append(s, "socket,path=");
        g_string_append(s, rest);
    } else if ((rest = g_str_has_prefix(spec, "tcp:") ? spec + 4 : NULL)) {
        g_string_append(s, "socket");
        if (!chr_short_tcp(s, rest, errp)) {
            return NULL;
        }
    } else {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "unknown character device; expected stdio, mon:stdio, "
                    "pty, null, none, file:PATH, pipe:PATH, unix:PATH, "
                    "tcp:[HOST]:PORT or chardev:ID");
        return NULL;
    }
    g_string_append(s, ",id=");
    chr_append_escaped(s, id);
    if (mux) {
        g_string_append(s, ",mux=on");
    }
    return dm_chr_new(m, s->str, errp);
}

struct dm_chr *dm_chr_find(struct dm_machine *m, const char *id)
{
    if (!m->chardevs) {
        return NULL;
    }
    for (guint i = 0; i < m->chardevs->len; i++) {
        struct dm_chr *c = g_ptr_array_index(m->chardevs, i);

        if (strcmp(c->id, id) == 0) {
            return c;
        }
    }
    return NULL;
}

const char *dm_chr_id(struct dm_chr *c)
{
    return c->id;
}

const char *dm_chr_pty_path(struct dm_chr *c)
{
    return c->pty_path;
}

char *dm_chr_filename(struct dm_chr *c)
{
    if (c->drv->filename) {
        return c->drv->filename(c);
    }
    return g_strdup(c->drv->name);
}

bool dm_chr_is_open(struct dm_chr *c)
{
    return c->open;
}

void dm_chr_free(struct dm_chr *c)
{
    if (!c) {
        return;
    }
    if (c->m && c->m->chardevs) {
        g_ptr_array_remove(c->m->chardevs, c);
    }
    c->has_fe = false;
    chr_watch_set(c, &c->in_watch, -1, 0);
    chr_watch_set(c, &c->out_watch, -1, 0);
    if (c->drv->close) {
        c->drv->close(c);
    }
    g_byte_array_free(c->outq, TRUE);
    g_byte_array_free(c->mux_inq, TRUE);
    g_free(c->pty_path);
    g_free(c->id);
    g_free(c);
}

void dm_chr_free_all(struct dm_machine *m)
{
    if (!m->chardevs) {
        return;
    }
    while (m->chardevs->len) {
        dm_chr_free(g_ptr_array_index(m->chardevs, m->chardevs->len - 1));
    }
}
