/*
 * chardev-socket.c: the socket backend: unix (path=) and tcp (host=, port=)
 * streams, as a client or a server (server=on), or an inherited socket (fd=,
 * listening or connected, as libxl hands over its QMP socket).
 *
 * A server takes one client at a time: it stops accepting while one is
 * connected and accepts the next after it leaves. wait=on (the default for
 * servers, as in QEMU) blocks start-up until the first client connects.
 * Accepts QEMU's legacy spellings "server" and "nowait". Left out:
 * reconnect=, telnet and tn3270 negotiation, websockets, TLS.
 */
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chardev-int.h"
#include "hvmdm/log.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/trace.h"

struct chr_socket {
    bool server;
    bool is_unix;
    bool nodelay;
    bool unlink_path; /* we bound PATH: remove it when done */
    char *path;       /* unix */
    char *addr;       /* tcp "host:port" as bound or connected */
    int listen_fd;    /* servers; -1 otherwise */
    struct dm_fd_watch *listen_watch;
    int fd; /* the connected peer, -1 when none */
};

static void chr_socket_listen_ready(void *opaque, int fd, GIOCondition cond);

static void chr_socket_set_listening(struct dm_chr *c, bool on)
{
    struct chr_socket *s = c->be;

    if (on && !s->listen_watch && s->listen_fd >= 0) {
        s->listen_watch =
            dm_fd_watch_add(s->listen_fd, G_IO_IN, chr_socket_listen_ready, c);
    } else if (!on && s->listen_watch) {
        dm_fd_watch_remove(s->listen_watch);
        s->listen_watch = NULL;
    }
}

static void chr_socket_connected(struct dm_chr *c, int fd)
{
    struct chr_socket *s = c->be;

    if (!s->is_unix && s->nodelay) {
        int one = 1;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    s->fd = fd;
    c->out_is_socket = true;
    chr_socket_set_listening(c, false);
    dm_chr_be_set_fds(c, fd, fd);
    dm_chr_be_opened(c);
}

static void chr_socket_listen_ready(void *opaque, int lfd, GIOCondition cond)
{
    struct dm_chr *c = opaque;
    struct chr_socket *s = c->be;
    int fd;

    if (s->fd >= 0) {
        chr_socket_set_listening(c, false);
        return;
    }
    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED) {
            dm_warn("chardev[%s]: accept: %s", c->id, g_strerror(errno));
        }
        return;
    }
    dm_trace(chr_socket_accept, "chardev %s: client connected", c->id);
    chr_socket_connected(c, fd);
}

static void chr_socket_hangup(struct dm_chr *c)
{
    struct chr_socket *s = c->be;
    int fd = s->fd;

    dm_trace(chr_socket_hangup, "chardev %s: peer left", c->id);
    s->fd = -1;
    dm_chr_be_set_fds(c, -1, -1);
    if (fd >= 0) {
        close(fd);
    }
    dm_chr_be_closed(c);
    if (s->server) {
        chr_socket_set_listening(c, true);
    }
}

/* ---- addresses ------------------------------------------------------------ */

static bool chr_unix_addr(const char *path, struct sockaddr_un *sa,
                          GError **errp)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "socket: path=%s: longer than %zu bytes", path,
                    sizeof(sa->sun_path) - 1);
        return false;
    }
    strcpy(sa->sun_path, path);
    return true;
}

static int chr_unix_open(struct chr_socket *s, GError **errp)
{
    struct sockaddr_un sa;
    int fd;

    if (!chr_unix_addr(s->path, &sa, errp)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "socket: %s",
                    g_strerror(errno));
        return -1;
    }
    if (s->server) {
        unlink(s->path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(fd, 1) < 0) {
            g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                        "socket: cannot listen on %s: %s", s->path,
                        g_strerror(errno));
            close(fd);
            return -1;
        }
        s->unlink_path = true;
    } else if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                    "socket: cannot connect to %s: %s", s->path,
                    g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static char *chr_sockaddr_str(const struct sockaddr *sa, socklen_t len)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return g_strdup("?");
    }
    if (strchr(host, ':')) {
        return g_strdup_printf("[%s]:%s", host, serv);
    }
    return g_strdup_printf("%s:%s", host, serv);
}

static int chr_tcp_open(struct chr_socket *s, const char *host,
                        const char *port, int family, GError **errp)
{
    struct addrinfo hints = {
        .ai_family = family,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = s->server ? AI_PASSIVE : 0,
    };
    struct addrinfo *res, *ai;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int rc, fd = -1, err = 0;

    rc = getaddrinfo(host && *host ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "socket: host=%s,port=%s: %s", host ? host : "", port,
                    gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int one = 1;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (s->server) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
                listen(fd, 1) == 0) {
                break;
            }
        } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "socket: cannot %s %s:%s: %s",
                    s->server ? "listen on" : "connect to", host ? host : "",
                    port, g_strerror(err));
        return -1;
    }
    if ((s->server ? getsockname(fd, (struct sockaddr *)&ss, &sslen)
                   : getpeername(fd, (struct sockaddr *)&ss, &sslen)) == 0) {
        s->addr = chr_sockaddr_str((struct sockaddr *)&ss, sslen);
    } else {
        s->addr = g_strdup_printf("%s:%s", host ? host : "", port);
    }
    return fd;
}

/* An inherited socket: listening means we are its server. */
static int chr_fd_adopt(struct chr_socket *s, const char *str, GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    uint64_t v;
    int fd, listening = 0;
    socklen_t optlen = sizeof(listening);

    if (!dm_parse_uint(str, &v) || v > INT32_MAX ||
        getsockopt((int)v, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) <
            0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "socket: fd=%s: not an open socket", str);
        return -1;
    }
    fd = (int)v;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    s->server = listening != 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0 &&
        ss.ss_family == AF_UNIX) {
        s->is_unix = true;
        s->path = g_strdup(((struct sockaddr_un *)&ss)->sun_path);
    } else {
        s->addr = g_strdup_printf("fd%d", fd);
    }
    return fd;
}

/* ---- the driver ------------------------------------------------------------ */

struct chr_socket_opts {
    bool server, wait, nodelay;
    int family;
};

static bool chr_socket_parse(struct dm_chr *c, const struct dm_opts *o,
                             struct chr_socket_opts *so, GError **errp)
{
    GError *err = NULL;
    bool nowait, telnet, v4, v6;
    const char *reconnect = dm_opts_get(o, "reconnect");

    so->server = dm_opts_get_bool(o, "server", false, &err);
    if (!err) {
        so->wait = dm_opts_get_bool(o, "wait", so->server, &err);
    }
    if (!err) {
        nowait = dm_opts_get_bool(o, "nowait", false, &err);
        so->wait = so->wait && !nowait;
    }
    if (!err) {
        so->nodelay = dm_opts_get_bool(o, "nodelay", false, &err);
    }
    if (!err) {
        telnet = dm_opts_get_bool(o, "telnet", false, &err);
        if (!err && telnet) {
            g_set_error(&err, DM_ERROR, DM_ERROR_INVALID,
                        "socket: telnet=on is not supported");
        }
    }
    if (!err) {
        v4 = dm_opts_get_bool(o, "ipv4", false, &err);
    }
    if (!err) {
        v6 = dm_opts_get_bool(o, "ipv6", false, &err);
        so->family = v4 && !v6 ? AF_INET : v6 && !v4 ? AF_INET6 : AF_UNSPEC;
    }
    if (!err && reconnect && strcmp(reconnect, "0") != 0) {
        g_set_error(&err, DM_ERROR, DM_ERROR_INVALID,
                    "socket: reconnect=%s: reconnecting is not supported",
                    reconnect);
    }
    if (err) {
        g_propagate_error(errp, err);
        return false;
    }
    return true;
}

/* wait=on: block start-up until the first client is there. */
static bool chr_socket_wait_client(struct dm_chr *c, GError **errp)
{
    struct chr_socket *s = c->be;
    g_autofree char *name = dm_chr_filename(c);
    struct pollfd p = { .fd = s->listen_fd, .events = POLLIN };
    int fd;

    fprintf(stderr, "hvmdm: waiting for connection on: %s\n", name);
    for (;;) {
        if (poll(&p, 1, -1) < 0 && errno != EINTR) {
            break;
        }
        fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            chr_socket_connected(c, fd);
            return true;
        }
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            break;
        }
    }
    g_set_error(errp, DM_ERROR, DM_ERROR_IO, "socket: accept: %s",
                g_strerror(errno));
    return false;
}

static bool chr_socket_open(struct dm_chr *c, const struct dm_opts *o,
                            GError **errp)
{
    const char *path = dm_opts_get(o, "path");
    const char *host = dm_opts_get(o, "host");
    const char *port = dm_opts_get(o, "port");
    const char *fdstr = dm_opts_get(o, "fd");
    struct chr_socket_opts so;
    struct chr_socket *s;
    int fd;

    if (!chr_socket_parse(c, o, &so, errp)) {
        return false;
    }
    if ((path != NULL) + (port != NULL) + (fdstr != NULL) != 1 ||
        (host && !port)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "socket: give exactly one of path=, host=/port= or fd=");
        return false;
    }
    s = g_new0(struct chr_socket, 1);
    s->server = so.server;
    s->nodelay = so.nodelay;
    s->listen_fd = -1;
    s->fd = -1;
    c->be = s;
    if (fdstr) {
        fd = chr_fd_adopt(s, fdstr, errp);
    } else if (path) {
        s->is_unix = true;
        s->path = g_strdup(path);
        fd = chr_unix_open(s, errp);
    } else {
        fd = chr_tcp_open(s, host, port, so.family, errp);
    }
    if (fd < 0 || !dm_chr_set_nonblock(fd, errp)) {
        if (fd >= 0) {
            close(fd);
        }
        return false; /* dm_chr_free calls close for the rest */
    }
    if (!s->server) {
        chr_socket_connected(c, fd);
        return true;
    }
    s->listen_fd = fd;
    if (so.wait && !fdstr) {
        return chr_socket_wait_client(c, errp);
    }
    chr_socket_set_listening(c, true);
    return true;
}

static void chr_socket_close(struct dm_chr *c)
{
    struct chr_socket *s = c->be;

    if (!s) {
        return;
    }
    chr_socket_set_listening(c, false);
    if (s->fd >= 0) {
        close(s->fd);
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    if (s->unlink_path) {
        unlink(s->path);
    }
    g_free(s->path);
    g_free(s->addr);
    g_free(s);
    c->be = NULL;
}

static char *chr_socket_filename(struct dm_chr *c)
{
    struct chr_socket *s = c->be;

    return g_strdup_printf(
        "%s%s:%s%s",
        dm_chr_is_open(c) ? "" : "disconnected:", s->is_unix ? "unix" : "tcp",
        s->is_unix ? s->path : s->addr, s->server ? ",server=on" : "");
}

static const char *const chr_socket_keys[] = {
    "path",    "host", "port", "fd",     "server",    "wait", "nowait",
    "nodelay", "ipv4", "ipv6", "telnet", "reconnect", NULL,
};

const struct dm_chr_driver dm_chr_driver_socket = {
    .name = "socket",
    .keys = chr_socket_keys,
    .open = chr_socket_open,
    .hangup = chr_socket_hangup,
    .close = chr_socket_close,
    .filename = chr_socket_filename,
};
