/*
 * test-chardev.c: character devices with a recording frontend, through real
 * unix and tcp sockets, FIFOs, files, ptys and stdout: bytes both ways,
 * servers taking the next client, output that never blocks the writer,
 * input paced by can_read, mon: escapes, the -serial short forms and bad
 * options.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <termios.h>
#include <unistd.h>

#include "hvmdm/chardev.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/main-loop.h"

#include "harness.h"

#define HANG_GUARD_US (10 * G_USEC_PER_SEC)
#define CTRL_A "\x01"

#define PUMP_UNTIL(cond)                                      \
    do {                                                      \
        gint64 end_ = g_get_monotonic_time() + HANG_GUARD_US; \
        while (!(cond)) {                                     \
            g_assert_cmpint(g_get_monotonic_time(), <, end_); \
            if (!dm_main_loop_iterate(false)) {               \
                g_usleep(200);                                \
            }                                                 \
        }                                                     \
    } while (0)

/* A frontend that records what it gets and takes at most ROOM bytes. */
struct rec {
    GByteArray *got;
    int room;
    int opened, closed;
};

static int rec_can_read(void *opaque)
{
    struct rec *r = opaque;

    return r->room;
}

static void rec_read(void *opaque, const uint8_t *buf, int len)
{
    struct rec *r = opaque;

    g_assert_cmpint(len, <=, r->room);
    g_byte_array_append(r->got, buf, (guint)len);
    if (r->room != INT32_MAX) {
        r->room -= len;
    }
}

static void rec_event(void *opaque, enum dm_chr_event ev)
{
    struct rec *r = opaque;

    if (ev == DM_CHR_EVENT_OPENED) {
        r->opened++;
    } else {
        r->closed++;
    }
}

static void rec_attach(struct rec *r, struct dm_chr *c)
{
    const struct dm_chr_frontend fe = {
        .can_read = rec_can_read,
        .read = rec_read,
        .event = rec_event,
        .opaque = r,
    };
    GError *err = NULL;

    r->got = g_byte_array_new();
    if (!r->room) {
        r->room = INT32_MAX;
    }
    g_assert_true(dm_chr_attach(c, &fe, &err));
    g_assert_no_error(err);
}

static bool rec_has(struct rec *r, const char *s)
{
    size_t len = strlen(s);

    return r->got->len == len && memcmp(r->got->data, s, len) == 0;
}

static char *tmp_dir(void)
{
    GError *err = NULL;
    char *dir = g_dir_make_tmp("test-chardev-XXXXXX", &err);

    g_assert_no_error(err);
    return dir;
}

static void rm_tree(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);

        unlink(p);
    }
    rmdir(dir);
}

static int unix_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

static void send_str(int fd, const char *s)
{
    size_t len = strlen(s);

    g_assert_cmpint(write(fd, s, len), ==, (ssize_t)len);
}

/* Read exactly LEN bytes from FD. */
static void recv_exact(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        g_assert_cmpint(poll(&p, 1, 10000), ==, 1);
        n = read(fd, (char *)buf + got, len - got);
        g_assert_cmpint(n, >, 0);
        got += (size_t)n;
    }
}

static void chr_write_str(struct dm_chr *c, const char *s)
{
    g_assert_cmpint(dm_chr_write(c, (const uint8_t *)s, (int)strlen(s)), ==,
                    (int)strlen(s));
}

static struct dm_chr *new_chr(struct dm_machine *m, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static struct dm_chr *new_chr(struct dm_machine *m, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *opts = NULL;
    GError *err = NULL;
    struct dm_chr *c;

    va_start(ap, fmt);
    opts = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c = dm_chr_new(m, opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(c);
    return c;
}

/* ---- sockets ------------------------------------------------------------- */

static void test_chr_unix_server_carries_bytes_and_takes_next_client(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "s", NULL);
    struct rec r = { 0 };
    struct dm_chr *c;
    char buf[4];
    int fd;

    c = new_chr(m, "socket,id=s0,path=%s,server=on,wait=off", path);
    rec_attach(&r, c);
    g_assert_false(dm_chr_is_open(c));

    fd = unix_connect(path);
    PUMP_UNTIL(r.opened == 1);
    send_str(fd, "ping");
    PUMP_UNTIL(r.got->len == 4);
    g_assert_true(rec_has(&r, "ping"));
    chr_write_str(c, "pong");
    recv_exact(fd, buf, 4);
    g_assert_cmpmem(buf, 4, "pong", 4);

    close(fd);
    PUMP_UNTIL(r.closed == 1);
    g_assert_false(dm_chr_is_open(c));
    chr_write_str(c, "lost"); /* nobody there: dropped, not queued */

    fd = unix_connect(path);
    PUMP_UNTIL(r.opened == 2);
    send_str(fd, "again");
    PUMP_UNTIL(r.got->len == 9);
    g_assert_true(rec_has(&r, "pingagain"));
    chr_write_str(c, "ok");
    recv_exact(fd, buf, 2);
    g_assert_cmpmem(buf, 2, "ok", 2);

    close(fd);
    th_pc_free(m);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS)); /* unlinked */
    g_byte_array_free(r.got, TRUE);
    rm_tree(dir);
}

static void test_chr_unix_client_connects_to_listener(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "s", NULL);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct rec r = { 0 };
    struct dm_chr *c;
    char buf[3];
    int lfd, fd;

    strcpy(sa.sun_path, path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(lfd, 1), ==, 0);

    c = new_chr(m, "socket,id=s0,path=%s", path);
    rec_attach(&r, c);
    fd = accept(lfd, NULL, NULL);
    g_assert_cmpint(r.opened, ==, 1); /* told at attach: already open */

    chr_write_str(c, "abc");
    recv_exact(fd, buf, 3);
    g_assert_cmpmem(buf, 3, "abc", 3);
    send_str(fd, "xyz");
    PUMP_UNTIL(r.got->len == 3);
    g_assert_true(rec_has(&r, "xyz"));

    close(fd);
    PUMP_UNTIL(r.closed == 1);
    th_pc_free(m);
    close(lfd);
    g_byte_array_free(r.got, TRUE);
    rm_tree(dir);
}

static void test_chr_unix_client_refused_is_an_error(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *opts =
        g_strdup_printf("socket,id=s0,path=%s/nobody-listens", dir);
    GError *err = NULL;

    g_assert_null(dm_chr_new(m, opts, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "cannot connect"));
    g_assert_null(dm_chr_find(m, "s0"));
    g_error_free(err);
    th_pc_free(m);
    rm_tree(dir);
}

static void test_chr_tcp_server_on_ephemeral_port(void)
{
    struct dm_machine *m = th_machine_new("");
    struct sockaddr_in sa = { .sin_family = AF_INET };
    g_autofree char *name = NULL;
    struct rec r = { 0 };
    struct dm_chr *c;
    const char *colon;
    char buf[2];
    int fd;

    c = new_chr(m, "socket,id=t0,host=127.0.0.1,port=0,server=on,wait=off");
    rec_attach(&r, c);
    name = dm_chr_filename(c);
    g_assert_true(g_str_has_prefix(name, "disconnected:tcp:127.0.0.1:"));
    g_assert_true(g_str_has_suffix(name, ",server=on"));
    colon = strrchr(name, ':');
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);

    PUMP_UNTIL(r.opened == 1);
    send_str(fd, "in");
    PUMP_UNTIL(r.got->len == 2);
    g_assert_true(rec_has(&r, "in"));
    chr_write_str(c, "ou");
    recv_exact(fd, buf, 2);
    g_assert_cmpmem(buf, 2, "ou", 2);

    close(fd);
    th_pc_free(m);
    g_byte_array_free(r.got, TRUE);
}

/* fd=N: a listening socket handed over by the caller (libxl's QMP). */
static void test_chr_inherited_listening_socket(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "s", NULL);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_autofree char *name = NULL;
    g_autofree char *want = NULL;
    struct rec r = { 0 };
    struct dm_chr *c;
    char buf[2];
    int lfd, fd;

    strcpy(sa.sun_path, path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(lfd, 1), ==, 0);

    c = new_chr(m, "socket,id=q0,fd=%d,server=on,wait=off", lfd);
    rec_attach(&r, c);
    name = dm_chr_filename(c);
    want = g_strdup_printf("disconnected:unix:%s,server=on", path);
    g_assert_cmpstr(name, ==, want);
    fd = unix_connect(path);
    PUMP_UNTIL(r.opened == 1);
    chr_write_str(c, "{}");
    recv_exact(fd, buf, 2);
    g_assert_cmpmem(buf, 2, "{}", 2);

    close(fd);
    th_pc_free(m); /* closes LFD: it was handed over */
    g_assert_cmpint(fcntl(lfd, F_GETFD), ==, -1);
    g_byte_array_free(r.got, TRUE);
    rm_tree(dir);
}

/* wait=on: creation returns only once a client is there. */
static gpointer connect_when_listening(gpointer path)
{
    gint64 end = g_get_monotonic_time() + HANG_GUARD_US;

    while (g_get_monotonic_time() < end) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);

        strcpy(sa.sun_path, path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            return GINT_TO_POINTER(fd);
        }
        close(fd);
        g_usleep(1000);
    }
    return GINT_TO_POINTER(-1);
}

static void test_chr_unix_server_wait_blocks_until_client(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "s", NULL);
    GThread *t = g_thread_new("client", connect_when_listening, path);
    struct dm_chr *c;
    char buf[5];
    int fd;

    c = new_chr(m, "socket,id=s0,path=%s,server", path); /* wait is on */

    g_assert_true(dm_chr_is_open(c));
    fd = GPOINTER_TO_INT(g_thread_join(t));
    g_assert_cmpint(fd, >=, 0);
    chr_write_str(c, "ready");
    recv_exact(fd, buf, 5);
    g_assert_cmpmem(buf, 5, "ready", 5);
    close(fd);
    th_pc_free(m);
    rm_tree(dir);
}

/* ---- flow control ----------------------------------------------------------- */

static void test_chr_output_never_blocks_and_drops_past_the_cap(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "s", NULL);
    g_autofree char *logpath = g_build_filename(dir, "log", NULL);
    g_autofree char *log = NULL;
    enum { CHUNK = 64 * 1024, TOTAL = 4 * 1024 * 1024, CAP = 1024 * 1024 };
    uint8_t *chunk = g_malloc(CHUNK);
    uint8_t *in = g_malloc(TOTAL);
    size_t got = 0;
    struct rec r = { 0 };
    struct dm_chr *c;
    FILE *logf;
    int fd;

    c = new_chr(m, "socket,id=s0,path=%s,server=on,wait=off", path);
    rec_attach(&r, c);
    fd = unix_connect(path);
    PUMP_UNTIL(r.opened == 1);
    logf = fopen(logpath, "w");
    dm_log_set_file(logf);

    /* the peer reads nothing meanwhile: every call returns at once */
    for (int i = 0; i < TOTAL / CHUNK; i++) {
        for (int j = 0; j < CHUNK; j++) {
            chunk[j] = (uint8_t)((i * CHUNK + j) % 251);
        }
        g_assert_cmpint(dm_chr_write(c, chunk, CHUNK), ==, CHUNK);
    }

    /* drain: the peer reads until nothing is left anywhere */
    for (;;) {
        ssize_t n = recv(fd, in + got, TOTAL - got, MSG_DONTWAIT);

        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        g_assert_cmpint(errno, ==, EAGAIN);
        if (!dm_main_loop_iterate(false)) {
            struct pollfd p = { .fd = fd, .events = POLLIN };

            if (poll(&p, 1, 0) == 0) {
                break;
            }
        }
    }
    dm_log_set_file(NULL);
    fclose(logf);

    /* at least what the queue holds arrived, in order; the rest was cut */
    g_assert_cmpuint(got, >=, CAP);
    g_assert_cmpuint(got, <, TOTAL);
    for (size_t i = 0; i < CAP; i++) {
        g_assert_cmpuint(in[i], ==, (uint8_t)(i % 251));
    }
    g_assert_true(g_file_get_contents(logpath, &log, NULL, NULL));
    g_assert_nonnull(strstr(log, "dropping output"));
    g_assert_null(strstr(strstr(log, "dropping output") + 1,
                         "dropping output")); /* said once */

    close(fd);
    th_pc_free(m);
    g_free(chunk);
    g_free(in);
    g_byte_array_free(r.got, TRUE);
    rm_tree(dir);
}

static void test_chr_input_waits_for_can_read(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "s", NULL);
    struct rec r = { .room = 0 };
    struct dm_chr *c;
    int fd;

    c = new_chr(m, "socket,id=s0,path=%s,server=on,wait=off", path);
    rec_attach(&r, c);
    r.room = 0;
    fd = unix_connect(path);
    PUMP_UNTIL(r.opened == 1);

    send_str(fd, "abcdef");
    for (int i = 0; i < 20; i++) {
        dm_main_loop_iterate(false);
    }
    g_assert_cmpuint(r.got->len, ==, 0);

    r.room = 4;
    dm_chr_accept_input(c);
    PUMP_UNTIL(r.got->len == 4);
    for (int i = 0; i < 20; i++) {
        dm_main_loop_iterate(false);
    }
    g_assert_true(rec_has(&r, "abcd"));

    r.room = 10;
    dm_chr_accept_input(c);
    PUMP_UNTIL(r.got->len == 6);
    g_assert_true(rec_has(&r, "abcdef"));

    close(fd);
    th_pc_free(m);
    g_byte_array_free(r.got, TRUE);
    rm_tree(dir);
}

/* ---- mon: escapes -------------------------------------------------------------- */

static void test_chr_mux_ctrl_a_keys(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "s", NULL);
    g_autofree char *spec =
        g_strdup_printf("mon:unix:%s,server=on,wait=off", path);
    GString *out = g_string_new(NULL);
    struct rec r = { 0 };
    GError *err = NULL;
    struct dm_chr *c;
    int fd;

    c = dm_chr_new_short(m, spec, "serial0", &err);
    g_assert_no_error(err);
    rec_attach(&r, c);
    fd = unix_connect(path);
    PUMP_UNTIL(r.opened == 1);

    send_str(fd, "a" CTRL_A CTRL_A "b" CTRL_A "h" CTRL_A "c" CTRL_A "z");
    PUMP_UNTIL(r.got->len == 3);
    g_assert_true(rec_has(&r, "a" CTRL_A "b"));
    g_assert_cmpint(m->shutdown_cause, ==, DM_SHUTDOWN_NONE);

    send_str(fd, CTRL_A "x");
    PUMP_UNTIL(m->shutdown_cause != DM_SHUTDOWN_NONE);
    g_assert_cmpint(m->shutdown_cause, ==, DM_SHUTDOWN_USER_QUIT);
    g_assert_true(rec_has(&r, "a" CTRL_A "b"));

    /* the help line, the monitor note and the farewell came back */
    for (;;) {
        char buf[256];
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (strstr(out->str, "terminating")) {
            break;
        }
        g_assert_cmpint(poll(&p, 1, 10000), ==, 1);
        n = read(fd, buf, sizeof(buf));
        g_assert_cmpint(n, >, 0);
        g_string_append_len(out, buf, n);
    }
    g_assert_nonnull(strstr(out->str, "Ctrl-A x"));
    g_assert_nonnull(strstr(out->str, "no monitor"));

    close(fd);
    th_pc_free(m);
    g_string_free(out, TRUE);
    g_byte_array_free(r.got, TRUE);
    rm_tree(dir);
}

/* ---- files, pipes, ptys, stdio ------------------------------------------------- */

static void test_chr_file_truncates_or_appends(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "out", NULL);
    g_autofree char *data = NULL;
    struct dm_chr *c;

    g_assert_true(g_file_set_contents(path, "old", -1, NULL));
    c = new_chr(m, "file,id=f0,path=%s", path);
    chr_write_str(c, "one");
    dm_chr_free(c);
    c = new_chr(m, "file,id=f1,path=%s,append=on", path);
    chr_write_str(c, "two");
    dm_chr_free(c);

    g_assert_true(g_file_get_contents(path, &data, NULL, NULL));
    g_assert_cmpstr(data, ==, "onetwo");
    th_pc_free(m);
    rm_tree(dir);
}

static void test_chr_pipe_uses_in_and_out_fifos(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *base = g_build_filename(dir, "p", NULL);
    g_autofree char *in = g_strconcat(base, ".in", NULL);
    g_autofree char *out = g_strconcat(base, ".out", NULL);
    struct rec r = { 0 };
    struct dm_chr *c;
    char buf[3];
    int wfd, rfd;

    g_assert_cmpint(mkfifo(in, 0600), ==, 0);
    g_assert_cmpint(mkfifo(out, 0600), ==, 0);
    c = new_chr(m, "pipe,id=p0,path=%s", base);
    rec_attach(&r, c);
    wfd = open(in, O_WRONLY | O_NONBLOCK);
    rfd = open(out, O_RDONLY | O_NONBLOCK);
    g_assert_cmpint(wfd, >=, 0);
    g_assert_cmpint(rfd, >=, 0);

    send_str(wfd, "to");
    PUMP_UNTIL(r.got->len == 2);
    g_assert_true(rec_has(&r, "to"));
    chr_write_str(c, "fro");
    recv_exact(rfd, buf, 3);
    g_assert_cmpmem(buf, 3, "fro", 3);

    close(wfd);
    close(rfd);
    th_pc_free(m);
    g_byte_array_free(r.got, TRUE);
    rm_tree(dir);
}

static void test_chr_pty_discards_output_until_a_client_opens(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *name = NULL;
    struct rec r = { 0 };
    struct termios tio;
    struct dm_chr *c;
    char buf[8];
    int fd;

    c = new_chr(m, "pty,id=p0");
    rec_attach(&r, c);
    g_assert_nonnull(dm_chr_pty_path(c));
    name = dm_chr_filename(c);
    g_assert_true(g_str_has_prefix(name, "pty:/dev/pts/"));
    g_assert_false(dm_chr_is_open(c));
    chr_write_str(c, "stale"); /* nobody reads: discarded at once */

    fd = open(dm_chr_pty_path(c), O_RDWR | O_NOCTTY);
    g_assert_cmpint(fd, >=, 0);
    tcgetattr(fd, &tio);
    cfmakeraw(&tio);
    tcsetattr(fd, TCSANOW, &tio);
    PUMP_UNTIL(r.opened == 1);
    chr_write_str(c, "fresh");
    recv_exact(fd, buf, 5);
    g_assert_cmpmem(buf, 5, "fresh", 5); /* not "stale" */
    send_str(fd, "key");
    PUMP_UNTIL(r.got->len == 3);
    g_assert_true(rec_has(&r, "key"));

    close(fd);
    PUMP_UNTIL(r.closed == 1);
    g_assert_false(dm_chr_is_open(c));
    /* the next client is seen too */
    fd = open(dm_chr_pty_path(c), O_RDWR | O_NOCTTY);
    PUMP_UNTIL(r.opened == 2);
    close(fd);
    th_pc_free(m);
    g_byte_array_free(r.got, TRUE);
}

static void test_chr_stdio_writes_stdout(void)
{
    if (g_test_subprocess()) {
        struct dm_machine *m = th_machine_new("");
        struct dm_chr *c = new_chr(m, "stdio,id=con,signal=off");
        GError *err = NULL;

        chr_write_str(c, "to the terminal");
        /* one terminal per process */
        g_assert_null(dm_chr_new(m, "stdio,id=con2", &err));
        g_assert_nonnull(err);
        g_error_free(err);
        th_pc_free(m);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("*to the terminal*");
}

static void test_chr_fd_input_eof_reports_closed_output_goes_on(void)
{
    struct dm_machine *m = th_machine_new("");
    struct rec r = { 0 };
    struct dm_chr *c;
    char buf[5];
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    c = new_chr(m, "fd,id=f0,fd=%d", sv[1]);
    rec_attach(&r, c);
    send_str(sv[0], "last");
    shutdown(sv[0], SHUT_WR);

    PUMP_UNTIL(r.closed == 1);

    g_assert_true(rec_has(&r, "last"));
    chr_write_str(c, "still");
    recv_exact(sv[0], buf, 5);
    g_assert_cmpmem(buf, 5, "still", 5);
    close(sv[0]);
    th_pc_free(m);
    g_byte_array_free(r.got, TRUE);
}

/* ---- parsing ------------------------------------------------------------------- */

static void test_chr_short_forms(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = tmp_dir();
    g_autofree char *file = g_build_filename(dir, "log", NULL);
    g_autofree char *fspec = g_strdup_printf("file:%s", file);
    g_autofree char *uspec =
        g_strdup_printf("unix:%s/u,server=on,wait=off", dir);
    g_autofree char *uname = NULL;
    g_autofree char *tname = NULL;
    g_autofree char *data = NULL;
    GError *err = NULL;
    struct dm_chr *c;

    g_assert_null(dm_chr_new_short(m, "none", "serial0", &err));
    g_assert_no_error(err);

    c = dm_chr_new_short(m, "null", "serial0", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(dm_chr_id(c), ==, "serial0");
    g_assert_true(dm_chr_new_short(m, "chardev:serial0", NULL, &err) == c);

    c = dm_chr_new_short(m, fspec, "serial1", &err);
    g_assert_no_error(err);
    chr_write_str(c, "logged");
    g_assert_true(g_file_get_contents(file, &data, NULL, NULL));
    g_assert_cmpstr(data, ==, "logged");

    c = dm_chr_new_short(m, uspec, "serial2", &err);
    g_assert_no_error(err);
    uname = dm_chr_filename(c);
    g_assert_true(g_str_has_prefix(uname, "disconnected:unix:"));
    g_assert_true(g_str_has_suffix(uname, "/u,server=on"));

    c = dm_chr_new_short(m, "tcp:127.0.0.1:0,server=on,wait=off", NULL, &err);
    g_assert_no_error(err);
    tname = dm_chr_filename(c);
    g_assert_true(g_str_has_prefix(tname, "disconnected:tcp:127.0.0.1:"));

    g_assert_null(dm_chr_new_short(m, "chardev:nosuch", NULL, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(dm_chr_new_short(m, "bogus", NULL, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "tcp:[HOST]:PORT"));
    g_clear_error(&err);
    g_assert_null(dm_chr_new_short(m, "tcp:4444", NULL, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    th_pc_free(m);
    rm_tree(dir);
}

static void test_chr_bad_options_are_refused(void)
{
    static const struct {
        const char *opts;
        const char *msg;
    } cases[] = {
        { "nosuch,id=a", "unknown backend" },
        { "null", "id=" },
        { "null,id=9x", "id=9x" },
        { "null,id=a,path=/x", "path" },
        { "file,id=a", "path= is required" },
        { "file,id=a,path=/nonexistent-dir/f", "/nonexistent-dir/f" },
        { "socket,id=a", "exactly one" },
        { "socket,id=a,path=/x,port=1", "exactly one" },
        { "socket,id=a,path=/x,telnet=on", "telnet" },
        { "socket,id=a,path=/x,reconnect=5", "reconnect" },
        { "socket,id=a,path=/x,server=maybe", "server=maybe" },
        { "stdio,id=a,signal=perhaps", "signal=perhaps" },
        { "fd,id=a,fd=999999", "fd=999999" },
    };
    struct dm_machine *m = th_machine_new("");
    GError *err = NULL;

    new_chr(m, "null,id=taken");
    g_assert_null(dm_chr_new(m, "null,id=taken", &err));
    g_assert_nonnull(strstr(err->message, "exists"));
    g_clear_error(&err);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_null(dm_chr_new(m, cases[i].opts, &err));
        g_assert_nonnull(err);
        if (!strstr(err->message, cases[i].msg)) {
            g_error("%s: message '%s' lacks '%s'", cases[i].opts, err->message,
                    cases[i].msg);
        }
        g_assert_null(strchr(err->message, '\n'));
        g_clear_error(&err);
    }
    th_pc_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chardev/unix-server-next-client",
                    test_chr_unix_server_carries_bytes_and_takes_next_client);
    g_test_add_func("/chardev/unix-client",
                    test_chr_unix_client_connects_to_listener);
    g_test_add_func("/chardev/unix-client-refused",
                    test_chr_unix_client_refused_is_an_error);
    g_test_add_func("/chardev/tcp-server",
                    test_chr_tcp_server_on_ephemeral_port);
    g_test_add_func("/chardev/inherited-listening-fd",
                    test_chr_inherited_listening_socket);
    g_test_add_func("/chardev/unix-server-wait",
                    test_chr_unix_server_wait_blocks_until_client);
    g_test_add_func("/chardev/output-never-blocks",
                    test_chr_output_never_blocks_and_drops_past_the_cap);
    g_test_add_func("/chardev/input-waits-for-can-read",
                    test_chr_input_waits_for_can_read);
    g_test_add_func("/chardev/mux-ctrl-a", test_chr_mux_ctrl_a_keys);
    g_test_add_func("/chardev/file", test_chr_file_truncates_or_appends);
    g_test_add_func("/chardev/pipe", test_chr_pipe_uses_in_and_out_fifos);
    g_test_add_func("/chardev/pty",
                    test_chr_pty_discards_output_until_a_client_opens);
    g_test_add_func("/chardev/stdio", test_chr_stdio_writes_stdout);
    g_test_add_func("/chardev/fd-eof",
                    test_chr_fd_input_eof_reports_closed_output_goes_on);
    g_test_add_func("/chardev/short-forms", test_chr_short_forms);
    g_test_add_func("/chardev/bad-options", test_chr_bad_options_are_refused);
    return g_test_run();
}
