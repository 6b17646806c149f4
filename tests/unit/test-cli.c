/*
 * test-cli.c: the hvmdm program as a user meets it: bad options give one
 * stderr line naming the option and exit status 1 before anything starts;
 * --version, --help and -device help print and exit 0.
 *
 * The binary is $BUILD/hvmdm, found from this test's own location
 * ($BUILD/tests/unit/test-cli).
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "hvmdm/dev.h"

struct run {
    int status;       /* exit status, or -1 if it did not exit normally */
    char *out, *err;
};

static char *hvmdm_path(void)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = NULL;

    g_assert_nonnull(self);
    dir = g_path_get_dirname(self);
    return g_build_filename(dir, "..", "..", "hvmdm", NULL);
}

/* Run hvmdm with the NULL-terminated ARGS (argv[0] added). */
static struct run run_hvmdm(const char *const *args)
{
    g_autofree char *bin = hvmdm_path();
    GPtrArray *argv = g_ptr_array_new();
    struct run r = { .status = -1 };
    GError *err = NULL;
    int wait_status;

    g_ptr_array_add(argv, bin);
    for (int i = 0; args[i]; i++) {
        g_ptr_array_add(argv, (char *)args[i]);
    }
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE));
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL,
                               G_SPAWN_DEFAULT, NULL, NULL, &r.out, &r.err,
                               &wait_status, &err));
    g_assert_no_error(err);
    if (WIFEXITED(wait_status)) {
        r.status = WEXITSTATUS(wait_status);
    }
    g_ptr_array_free(argv, TRUE);
    return r;
}

static void run_free(struct run *r)
{
    g_free(r->out);
    g_free(r->err);
}

/* ARGS must fail with one "hvmdm: " line on stderr that contains NEEDLE. */
static void assert_fails(const char *const *args, const char *needle)
{
    struct run r = run_hvmdm(args);
    const char *nl;

    if (r.status != 1 || !g_str_has_prefix(r.err, "hvmdm: ") ||
        !strstr(r.err, needle)) {
        g_error("hvmdm %s ...: status %d, stderr '%s', expected '%s'",
                args[0], r.status, r.err, needle);
    }
    nl = strchr(r.err, '\n');
    g_assert_nonnull(nl);
    g_assert_cmpstr(nl + 1, ==, "");  /* exactly one line */
    g_assert_cmpstr(r.out, ==, "");
    run_free(&r);
}

static void test_cli_memory_zero_refused(void)
{
    assert_fails((const char *const[]){ "-m", "0", NULL },
                 "-m 0: memory size must be at least 1 MiB");
}

static void test_cli_memory_too_big_refused(void)
{
    assert_fails((const char *const[]){ "-m", "4T", NULL }, "-m 4T:");
}

static void test_cli_memory_garbage_refused(void)
{
    assert_fails((const char *const[]){ "--m", "12X", NULL },
                 "-m 12X: expected a memory size");
}

static void test_cli_smp_zero_and_too_many_refused(void)
{
    assert_fails((const char *const[]){ "-smp", "0", NULL }, "-smp 0:");
    assert_fails((const char *const[]){ "-smp", "256", NULL }, "-smp 256:");
}

static void test_cli_unknown_option_refused(void)
{
    assert_fails((const char *const[]){ "-m", "64", "-frobnicate", NULL },
                 "-frobnicate: unknown option");
}

static void test_cli_missing_argument_refused(void)
{
    assert_fails((const char *const[]){ "-serial", NULL },
                 "-serial: missing argument");
}

static void test_cli_missing_bios_file_refused(void)
{
    assert_fails((const char *const[]){ "-bios", "/nonexistent/bios.bin",
                                        NULL },
                 "-bios /nonexistent/bios.bin: /nonexistent/bios.bin: No "
                 "such file");
}

static void test_cli_unsupported_monitor_refused(void)
{
    assert_fails((const char *const[]){ "-monitor", "stdio", NULL },
                 "-monitor stdio: not supported yet");
}

static void test_cli_unknown_machine_and_accel_refused(void)
{
    assert_fails((const char *const[]){ "-M", "q35", NULL },
                 "-M q35: unknown machine type 'q35'");
    assert_fails((const char *const[]){ "-accel", "tcg", NULL },
                 "-accel tcg: unknown accelerator 'tcg'");
}

static void test_cli_unknown_device_refused(void)
{
    assert_fails((const char *const[]){ "-device", "no-such-nic,id=n0",
                                        NULL },
                 "-device no-such-nic,id=n0: unknown device type "
                 "'no-such-nic'");
}

static void test_cli_fw_cfg_without_contents_refused(void)
{
    assert_fails((const char *const[]){ "-fw_cfg", "name=opt/x", NULL },
                 "-fw_cfg name=opt/x: expected exactly one of file= and "
                 "string=");
}

static void test_cli_version_printed(void)
{
    struct run r = run_hvmdm((const char *const[]){ "--version", NULL });

    g_assert_cmpint(r.status, ==, 0);
    g_assert_true(g_str_has_prefix(r.out, "hvmdm version "));
    g_assert_cmpstr(r.err, ==, "");
    run_free(&r);
    r = run_hvmdm((const char *const[]){ "-version", NULL });
    g_assert_cmpint(r.status, ==, 0);
    g_assert_true(g_str_has_prefix(r.out, "hvmdm version "));
    run_free(&r);
}

static void test_cli_help_lists_options(void)
{
    struct run r = run_hvmdm((const char *const[]){ "-h", NULL });

    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "usage: hvmdm"));
    g_assert_nonnull(strstr(r.out, "-m SIZE"));
    g_assert_nonnull(strstr(r.out, "-device TYPE"));
    run_free(&r);
}

static void test_cli_device_help_lists_types(void)
{
    struct run r = run_hvmdm((const char *const[]){ "-device", "help", NULL });

    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "Devices"));
    for (const struct dm_dev_type *const *t = dm_dev_types(); *t; t++) {
        g_autofree char *name = g_strdup_printf("name \"%s\"", (*t)->name);

        if ((*t)->user_creatable) {
            g_assert_nonnull(strstr(r.out, name));
            if ((*t)->desc) {
                g_assert_nonnull(strstr(r.out, (*t)->desc));
            }
        } else {
            g_assert_null(strstr(r.out, name));
        }
    }
    run_free(&r);
}

/* hvmdm on the qtest accelerator, its protocol on a unix socket: the socket
 * appearing says the main loop is about to run with the signals taken. */
static void test_cli_sigterm_shuts_down_cleanly(void)
{
    g_autofree char *bin = hvmdm_path();
    g_autofree char *dir = g_dir_make_tmp("hvmdm-cli-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "qtest.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s,server=on,wait=off",
                                            sock);
    char *argv[] = { bin, "-accel", "qtest", "-display", "none", "-qtest",
                     spec, NULL };
    GError *err = NULL;
    GPid pid;
    int err_fd, status;
    char buf[512];
    ssize_t n;
    size_t got = 0;

    g_assert_nonnull(dir);
    g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                           NULL, &pid, NULL, NULL, &err_fd,
                                           &err));
    g_assert_no_error(err);
    /* wait (bounded: 30 s) for the socket */
    for (int i = 0; i < 3000 && !g_file_test(sock, G_FILE_TEST_EXISTS); i++) {
        g_usleep(10000);
    }
    g_assert_true(g_file_test(sock, G_FILE_TEST_EXISTS));

    g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    while (got < sizeof(buf) - 1 &&
           (n = read(err_fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
        got += (size_t)n;
    }
    buf[got] = '\0';

    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_true(g_str_has_prefix(buf, "hvmdm: terminating on signal 15"));
    g_assert_nonnull(strchr(buf, '\n'));
    g_assert_cmpstr(strchr(buf, '\n') + 1, ==, "");
    close(err_fd);
    g_spawn_close_pid(pid);
    unlink(sock);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cli/memory-zero", test_cli_memory_zero_refused);
    g_test_add_func("/cli/memory-too-big", test_cli_memory_too_big_refused);
    g_test_add_func("/cli/memory-garbage", test_cli_memory_garbage_refused);
    g_test_add_func("/cli/smp-range", test_cli_smp_zero_and_too_many_refused);
    g_test_add_func("/cli/unknown-option", test_cli_unknown_option_refused);
    g_test_add_func("/cli/missing-argument", test_cli_missing_argument_refused);
    g_test_add_func("/cli/missing-bios", test_cli_missing_bios_file_refused);
    g_test_add_func("/cli/monitor", test_cli_unsupported_monitor_refused);
    g_test_add_func("/cli/machine-accel",
                    test_cli_unknown_machine_and_accel_refused);
    g_test_add_func("/cli/unknown-device", test_cli_unknown_device_refused);
    g_test_add_func("/cli/fw-cfg", test_cli_fw_cfg_without_contents_refused);
    g_test_add_func("/cli/version", test_cli_version_printed);
    g_test_add_func("/cli/help", test_cli_help_lists_options);
    g_test_add_func("/cli/device-help", test_cli_device_help_lists_types);
    g_test_add_func("/cli/sigterm", test_cli_sigterm_shuts_down_cleanly);
    return g_test_run();
}
