/*
 * test-qtest-protocol.c: QEMU's qtest text protocol as hvmdm speaks it, in
 * process (dm_qtest_process) and end to end: the built hvmdm started with
 * -accel qtest connects to a socket this test listens on (as libqtest does),
 * or talks over its stdin/stdout with -qtest stdio.
 */
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#include "hvmdm/accel.h"
#include "hvmdm/irq.h"
#include "hvmdm/machine.h"
#include "hvmdm/qtest.h"
#include "hvmdm/timer.h"

#define RAM_ADDR 0x10000      /* ordinary RAM in any machine */
#define UNCLAIMED_PORT 0x1234 /* nothing decodes it */
#define HANG_GUARD_MS 60000   /* a stuck peer fails the test */
#define I440FX_ID 0x12378086u /* vendor 8086, device 1237 */

/* ---- in process ---------------------------------------------------------- */

static void assert_reply(struct dm_machine *m, const char *cmd,
                         const char *want)
{
    g_autofree char *got = th_qtest(m, cmd);

    g_assert_cmpstr(got, ==, want);
}

static void test_qtest_endianness_is_little(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    assert_reply(m, "endianness", "OK little\n");
    th_pc_free(m);
}

static void test_qtest_unknown_command_fails(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    assert_reply(m, "frobnicate 1 2", "FAIL Unknown command 'frobnicate'\n");
    th_pc_free(m);
}

static void test_qtest_malformed_arguments_fail(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    assert_reply(m, "outb 0x80", "FAIL 'outb' needs 2 arguments\n");
    assert_reply(m, "readb xyz", "FAIL invalid number 'xyz'\n");
    assert_reply(m, "outb 0x10000 1", "FAIL port 0x10000 out of range\n");
    assert_reply(m, "read 0x0 0", "FAIL read of zero bytes\n");
    assert_reply(m, "write 0x0 4 1", "ERR invalid argument size\n");
    assert_reply(m, "write 0x0 4 0xzz", "FAIL invalid hex data\n");
    th_pc_free(m);
}

static void test_qtest_unclaimed_port_reads_all_ones(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    assert_reply(m, "inb 0x1234", "OK 0x00ff\n");
    assert_reply(m, "inw 0x1234", "OK 0xffff\n");
    assert_reply(m, "inl 0x1234", "OK 0xffffffff\n");
    assert_reply(m, "outl 0x1234 0x55", "OK\n");
    th_pc_free(m);
}

static void test_qtest_writel_then_readb_is_little_endian(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    assert_reply(m, "writel 0x10000 0x12345678", "OK\n");
    assert_reply(m, "readl 0x10000", "OK 0x0000000012345678\n");
    assert_reply(m, "readb 0x10000", "OK 0x0000000000000078\n");
    assert_reply(m, "readw 0x10002", "OK 0x0000000000001234\n");
    assert_reply(m, "writeq 0x10008 0x0102030405060708", "OK\n");
    assert_reply(m, "readq 0x10008", "OK 0x0102030405060708\n");
    g_assert_cmphex(th_readb(m, RAM_ADDR + 8), ==, 0x08);
    th_pc_free(m);
}

static void test_qtest_write_hex_zero_fills_short_data(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    assert_reply(m, "write 0x10000 4 0xdeadbeef", "OK\n");
    assert_reply(m, "read 0x10000 4", "OK 0xdeadbeef\n");
    assert_reply(m, "write 0x10000 4 0xab", "OK\n");
    assert_reply(m, "read 0x10000 4", "OK 0xab000000\n");
    th_pc_free(m);
}

static void test_qtest_b64_round_trip(void)
{
    struct dm_machine *m = th_machine_new("-m 16");
    g_autofree char *b64 = g_base64_encode((const guchar *)"hello", 5);
    g_autofree char *cmd = g_strdup_printf("b64write 0x10000 5 %s", b64);
    g_autofree char *want = g_strdup_printf("OK %s\n", b64);

    assert_reply(m, cmd, "OK\n");
    assert_reply(m, "b64read 0x10000 5", want);
    assert_reply(m, "read 0x10000 5", "OK 0x68656c6c6f\n");
    th_pc_free(m);
}

static void test_qtest_memset_fills_range(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    th_memset(m, RAM_ADDR, 0, 32);
    assert_reply(m, "memset 0x10004 8 0x5a", "OK\n");
    assert_reply(m, "read 0x10000 16",
                 "OK 0x000000005a5a5a5a5a5a5a5a00000000\n");
    assert_reply(m, "memset 0x10000 0 0x11", "OK\n");
    g_assert_cmphex(th_readb(m, RAM_ADDR), ==, 0);
    th_pc_free(m);
}

static void test_qtest_clock_step_and_set_report_ns(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    assert_reply(m, "clock_step 1000", "OK 1000\n");
    assert_reply(m, "clock_set 5000", "OK 5000\n");
    /* time never goes back: FAIL with where it stands */
    assert_reply(m, "clock_set 10", "FAIL 5000\n");
    assert_reply(m, "clock_step",
                 "FAIL cannot advance clock to the next deadline because "
                 "there is no pending deadline\n");
    th_pc_free(m);
}

static void count_fire(void *opaque)
{
    (*(int *)opaque)++;
}

static void test_qtest_clock_step_runs_next_timer(void)
{
    struct dm_machine *m = th_machine_new("-m 16");
    struct dm_timer t;
    int fired = 0;

    dm_timer_init(&t, m->clock, count_fire, &fired);
    dm_timer_mod(&t, 2500);
    assert_reply(m, "clock_step", "OK 2500\n");
    g_assert_cmpint(fired, ==, 1);
    th_pc_free(m);
}

static void test_qtest_set_irq_in_reports_raise_and_lower(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    assert_reply(m, "irq_intercept_in ioapic", "OK\n");
    assert_reply(m, "set_irq_in ioapic unnamed-gpio-in 5 1",
                 "IRQ raise 5\nOK\n");
    g_assert_cmpint(th_irq_level(m, 5), ==, 1);
    /* same level again: no message */
    assert_reply(m, "set_irq_in ioapic unnamed-gpio-in 5 1", "OK\n");
    assert_reply(m, "set_irq_in ioapic unnamed-gpio-in 5 0",
                 "IRQ lower 5\nOK\n");
    assert_reply(m, "irq_intercept_in /machine/nosuchdevice",
                 "FAIL Unknown device\n");
    th_pc_free(m);
}

static void test_qtest_isa_line_sets_gsi_level(void)
{
    struct dm_machine *m = th_machine_new("-m 16");
    struct dm_irq_line line = { 0 };
    GError *err = NULL;

    g_assert_true(dm_isa_irq_connect(m, &line, 9, &err));
    g_assert_no_error(err);
    dm_irq_raise(&line);
    g_assert_cmpint(th_irq_level(m, 9), ==, 1);
    dm_irq_lower(&line);
    g_assert_cmpint(th_irq_level(m, 9), ==, 0);
    g_assert_cmpint(dm_qtest_gsi_level(m, DM_QTEST_NR_GSI), ==, -1);
    th_pc_free(m);
}

static void test_qtest_msi_is_recorded(void)
{
    struct dm_machine *m = th_machine_new("-m 16");
    uint64_t addr = 0;
    uint32_t data = 0;

    g_assert_cmpuint(dm_qtest_msi_count(m, NULL, NULL), ==, 0);
    m->accel->send_msi(m, 0xfee01000, 0x4031); /* APIC 1, vector 0x31 */
    g_assert_cmpuint(dm_qtest_msi_count(m, &addr, &data), ==, 1);
    g_assert_cmphex(addr, ==, 0xfee01000);
    g_assert_cmphex(data, ==, 0x4031);
    th_pc_free(m);
}

static void test_qtest_several_lines_in_one_call(void)
{
    struct dm_machine *m = th_machine_new("-m 16");

    assert_reply(m, "writeb 0x10000 0x7f\r\n\nreadb 0x10000\n",
                 "OK\nOK 0x000000000000007f\n");
    th_pc_free(m);
}

/* ---- the hvmdm program ----------------------------------------------------- */

static char *hvmdm_path(void)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = NULL;
    char *path;

    g_assert_nonnull(self);
    dir = g_path_get_dirname(self);
    path = g_build_filename(dir, "..", "..", "hvmdm", NULL);
    g_assert_true(g_file_test(path, G_FILE_TEST_IS_EXECUTABLE));
    return path;
}

struct peer {
    int in_fd;  /* replies from hvmdm */
    int out_fd; /* commands to hvmdm */
    GString *buf;
    GPid pid;
};

static void peer_send(struct peer *p, const char *line)
{
    size_t len = strlen(line);

    g_assert_cmpint(write(p->out_fd, line, len), ==, (ssize_t)len);
}

static char *peer_line(struct peer *p)
{
    for (;;) {
        char *nl = memchr(p->buf->str, '\n', p->buf->len);
        struct pollfd pfd = { .fd = p->in_fd, .events = POLLIN };
        char chunk[4096];
        ssize_t n;

        if (nl) {
            size_t len = (size_t)(nl - p->buf->str);
            char *line = g_strndup(p->buf->str, len);

            g_string_erase(p->buf, 0, (gssize)len + 1);
            return line;
        }
        g_assert_cmpint(poll(&pfd, 1, HANG_GUARD_MS), ==, 1);
        n = read(p->in_fd, chunk, sizeof(chunk));
        g_assert_cmpint(n, >, 0);
        g_string_append_len(p->buf, chunk, n);
    }
}

static void peer_expect(struct peer *p, const char *cmd, const char *want)
{
    g_autofree char *got = NULL;

    peer_send(p, cmd);
    got = peer_line(p);
    g_assert_cmpstr(got, ==, want);
}

static int peer_wait_exit(struct peer *p)
{
    int status = 0;

    for (int i = 0; i < HANG_GUARD_MS / 10; i++) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);

        if (r == p->pid) {
            g_spawn_close_pid(p->pid);
            g_assert_true(WIFEXITED(status));
            return WEXITSTATUS(status);
        }
        g_usleep(10000);
    }
    kill(p->pid, SIGKILL);
    g_assert_not_reached();
}

/* The session both transports run: board present, memory, async IRQ lines. */
static void run_session(struct peer *p)
{
    g_autofree char *line = NULL;

    peer_expect(p, "endianness\n", "OK little");
    /* i440FX host bridge at 00:00.0 */
    peer_expect(p, "outl 0xcf8 0x80000000\n", "OK");
    peer_expect(p, "inl 0xcfc\n", "OK 0x12378086");
    peer_expect(p, "writel 0x10000 0xcafef00d\n", "OK");
    peer_expect(p, "readl 0x10000\n", "OK 0x00000000cafef00d");
    peer_expect(p, "clock_step 1000000\n", "OK 1000000");
    peer_expect(p, "irq_intercept_in ioapic\n", "OK");
    peer_send(p, "set_irq_in ioapic unnamed-gpio-in 7 1\n");
    line = peer_line(p);
    g_assert_cmpstr(line, ==, "IRQ raise 7");
    g_free(line);
    line = peer_line(p);
    g_assert_cmpstr(line, ==, "OK");
    peer_expect(p, "nosuchcommand\n", "FAIL Unknown command 'nosuchcommand'");
}

static void test_qtest_socket_client_session_then_quit_on_close(void)
{
    g_autofree char *bin = hvmdm_path();
    g_autofree char *dir = g_dir_make_tmp("hvmdm-qtest-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "qtest.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s", sock);
    char *argv[] = { bin,    "-accel",      "qtest", "-qtest", spec, "-display",
                     "none", "-nodefaults", "-m",    "32",     NULL };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct pollfd pfd;
    struct peer p = { .buf = g_string_new(NULL) };
    GError *err = NULL;
    int lfd, cfd;

    g_assert_cmpuint(strlen(sock), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, sock);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(lfd, >=, 0);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(lfd, 1), ==, 0);

    g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                  &p.pid, &err);
    g_assert_no_error(err);
    pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
    g_assert_cmpint(poll(&pfd, 1, HANG_GUARD_MS), ==, 1);
    cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(cfd, >=, 0);
    p.in_fd = p.out_fd = cfd;

    run_session(&p);

    close(cfd); /* the test is done: hvmdm ends */
    g_assert_cmpint(peer_wait_exit(&p), ==, 0);
    close(lfd);
    unlink(sock);
    rmdir(dir);
    g_string_free(p.buf, TRUE);
}

static void test_qtest_stdio_session_then_quit_on_eof(void)
{
    g_autofree char *bin = hvmdm_path();
    char *argv[] = { bin,     "-accel",   "qtest", "-qtest",
                     "stdio", "-display", "none",  "-nodefaults",
                     "-m",    "32",       NULL };
    struct peer p = { .buf = g_string_new(NULL) };
    GError *err = NULL;

    g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                             NULL, &p.pid, &p.out_fd, &p.in_fd, NULL, &err);
    g_assert_no_error(err);

    run_session(&p);

    close(p.out_fd); /* end of input: the test is done, hvmdm ends */
    g_assert_cmpint(peer_wait_exit(&p), ==, 0);
    close(p.in_fd);
    g_string_free(p.buf, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qtest/endianness-is-little",
                    test_qtest_endianness_is_little);
    g_test_add_func("/qtest/unknown-command-fails",
                    test_qtest_unknown_command_fails);
    g_test_add_func("/qtest/malformed-arguments-fail",
                    test_qtest_malformed_arguments_fail);
    g_test_add_func("/qtest/unclaimed-port-reads-all-ones",
                    test_qtest_unclaimed_port_reads_all_ones);
    g_test_add_func("/qtest/writel-then-readb-is-little-endian",
                    test_qtest_writel_then_readb_is_little_endian);
    g_test_add_func("/qtest/write-hex-zero-fills-short-data",
                    test_qtest_write_hex_zero_fills_short_data);
    g_test_add_func("/qtest/b64-round-trip", test_qtest_b64_round_trip);
    g_test_add_func("/qtest/memset-fills-range", test_qtest_memset_fills_range);
    g_test_add_func("/qtest/clock-step-and-set-report-ns",
                    test_qtest_clock_step_and_set_report_ns);
    g_test_add_func("/qtest/clock-step-runs-next-timer",
                    test_qtest_clock_step_runs_next_timer);
    g_test_add_func("/qtest/set-irq-in-reports-raise-and-lower",
                    test_qtest_set_irq_in_reports_raise_and_lower);
    g_test_add_func("/qtest/isa-line-sets-gsi-level",
                    test_qtest_isa_line_sets_gsi_level);
    g_test_add_func("/qtest/msi-is-recorded", test_qtest_msi_is_recorded);
    g_test_add_func("/qtest/several-lines-in-one-call",
                    test_qtest_several_lines_in_one_call);
    g_test_add_func("/qtest/socket-client-session-then-quit-on-close",
                    test_qtest_socket_client_session_then_quit_on_close);
    g_test_add_func("/qtest/stdio-session-then-quit-on-eof",
                    test_qtest_stdio_session_then_quit_on_eof);
    return g_test_run();
}
