/*
 * test-opts.c: the option-string parser and value parsers of core/config.c,
 * and argv parsing into struct dm_config (in process).
 */
#include "hvmdm/config.h"

static struct dm_opts *parse_ok(const char *s, const char *implied)
{
    GError *err = NULL;
    struct dm_opts *o = dm_opts_parse(s, implied, &err);

    g_assert_no_error(err);
    g_assert_nonnull(o);
    return o;
}

static void test_opts_implied_key_takes_leading_value(void)
{
    struct dm_opts *o = parse_ok("socket,id=c0,path=/tmp/s", "backend");

    g_assert_cmpstr(dm_opts_get(o, "backend"), ==, "socket");
    g_assert_cmpstr(dm_opts_get(o, "id"), ==, "c0");
    g_assert_cmpstr(dm_opts_get(o, "path"), ==, "/tmp/s");
    g_assert_cmpuint(o->kv->len, ==, 3);
    dm_opts_free(o);
}

static void test_opts_leading_key_value_skips_implied_key(void)
{
    struct dm_opts *o = parse_ok("id=c0,backend=pty", "backend");

    g_assert_cmpstr(dm_opts_get(o, "backend"), ==, "pty");
    g_assert_cmpstr(g_array_index(o->kv, struct dm_kv, 0).key, ==, "id");
    dm_opts_free(o);
}

static void test_opts_bare_leading_value_without_implied_key_is_flag(void)
{
    struct dm_opts *o = parse_ok("server,wait=off", NULL);

    g_assert_cmpstr(dm_opts_get(o, "server"), ==, "on");
    g_assert_cmpstr(dm_opts_get(o, "wait"), ==, "off");
    dm_opts_free(o);
}

static void test_opts_double_comma_is_literal_comma(void)
{
    struct dm_opts *o = parse_ok("file,path=/tmp/a,,b,,,id=x", "backend");

    g_assert_cmpstr(dm_opts_get(o, "path"), ==, "/tmp/a,b,");
    g_assert_cmpstr(dm_opts_get(o, "id"), ==, "x");
    dm_opts_free(o);
}

static void test_opts_value_may_contain_equals(void)
{
    struct dm_opts *o = parse_ok("name=opt/x,string=a=b", NULL);

    g_assert_cmpstr(dm_opts_get(o, "string"), ==, "a=b");
    dm_opts_free(o);
}

static void test_opts_last_value_wins(void)
{
    struct dm_opts *o = parse_ok("a=1,a=2", NULL);

    g_assert_cmpstr(dm_opts_get(o, "a"), ==, "2");
    g_assert_null(dm_opts_get(o, "b"));
    dm_opts_free(o);
}

static void test_opts_bool_forms(void)
{
    struct dm_opts *o = parse_ok("a,b=on,c=off,d=yes,e=no,f=true,g=false,h=2",
                                 NULL);
    GError *err = NULL;

    g_assert_true(dm_opts_get_bool(o, "a", false, &err));
    g_assert_true(dm_opts_get_bool(o, "b", false, &err));
    g_assert_false(dm_opts_get_bool(o, "c", true, &err));
    g_assert_true(dm_opts_get_bool(o, "d", false, &err));
    g_assert_false(dm_opts_get_bool(o, "e", true, &err));
    g_assert_true(dm_opts_get_bool(o, "f", false, &err));
    g_assert_false(dm_opts_get_bool(o, "g", true, &err));
    g_assert_true(dm_opts_get_bool(o, "missing", true, &err));
    g_assert_no_error(err);
    dm_opts_get_bool(o, "h", false, &err);
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "h=2"));
    g_error_free(err);
    dm_opts_free(o);
}

static void test_opts_empty_key_refused(void)
{
    GError *err = NULL;

    g_assert_null(dm_opts_parse("a=1,=2", NULL, &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_null(dm_opts_parse("a=1,b c=2", NULL, &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "b c"));
    g_clear_error(&err);
}

static void test_opts_check_keys_names_unknown_key(void)
{
    static const char *const keys[] = { "id", "path", NULL };
    struct dm_opts *o = parse_ok("id=x,bogus=1", NULL);
    GError *err = NULL;

    g_assert_false(dm_opts_check_keys(o, keys, "-chardev id=x,bogus=1", &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "-chardev"));
    g_assert_nonnull(strstr(err->message, "bogus"));
    g_error_free(err);
    dm_opts_free(o);
}

static void test_parse_size_suffixes(void)
{
    uint64_t v;

    g_assert_true(dm_parse_size("512", DM_MiB, &v));
    g_assert_cmpuint(v, ==, 512 * DM_MiB);
    g_assert_true(dm_parse_size("512", 1, &v));
    g_assert_cmpuint(v, ==, 512);
    g_assert_true(dm_parse_size("4k", 1, &v));
    g_assert_cmpuint(v, ==, 4096);
    g_assert_true(dm_parse_size("4K", DM_MiB, &v));
    g_assert_cmpuint(v, ==, 4096);
    g_assert_true(dm_parse_size("2G", 1, &v));
    g_assert_cmpuint(v, ==, 2 * DM_GiB);
    g_assert_true(dm_parse_size("1T", 1, &v));
    g_assert_cmpuint(v, ==, 1024 * DM_GiB);
    g_assert_true(dm_parse_size("1.5G", 1, &v));
    g_assert_cmpuint(v, ==, 3 * DM_GiB / 2);
    g_assert_true(dm_parse_size("0x1000", 1, &v));
    g_assert_cmpuint(v, ==, 0x1000);
    g_assert_true(dm_parse_size("256MiB", 1, &v));
    g_assert_cmpuint(v, ==, 256 * DM_MiB);
}

static void test_parse_size_rejects_garbage_and_overflow(void)
{
    uint64_t v = 42;

    g_assert_false(dm_parse_size("", 1, &v));
    g_assert_false(dm_parse_size("M", 1, &v));
    g_assert_false(dm_parse_size("12Q", 1, &v));
    g_assert_false(dm_parse_size("-1", 1, &v));
    g_assert_false(dm_parse_size("1.", 1, &v));
    g_assert_false(dm_parse_size("99999999999999999999", 1, &v));
    g_assert_false(dm_parse_size("20000000T", 1, &v));
    g_assert_cmpuint(v, ==, 42);
}

static void test_parse_uint_and_bool(void)
{
    uint64_t v;
    bool b;

    g_assert_true(dm_parse_uint("0x1f", &v));
    g_assert_cmpuint(v, ==, 0x1f);
    g_assert_true(dm_parse_uint("18446744073709551615", &v));
    g_assert_cmpuint(v, ==, UINT64_MAX);
    g_assert_false(dm_parse_uint("18446744073709551616", &v));
    g_assert_false(dm_parse_uint("12a", &v));
    g_assert_false(dm_parse_uint("0x", &v));
    g_assert_false(dm_parse_uint("", &v));
    g_assert_true(dm_parse_bool("off", &b));
    g_assert_false(b);
    g_assert_false(dm_parse_bool("On", &b));
}

/* ---- argv --------------------------------------------------------------- */

static bool parse_argv(struct dm_config *cfg, const char *line, GError **errp)
{
    g_auto(GStrv) argv = g_strsplit(line, " ", -1);
    bool exit_now;

    return dm_config_parse_argv(cfg, (int)g_strv_length(argv), argv,
                                &exit_now, errp);
}

static void test_config_defaults(void)
{
    struct dm_config *cfg = dm_config_new();

    g_assert_cmpuint(cfg->ram_size, ==, 128 * DM_MiB);
    g_assert_cmpuint(cfg->smp, ==, 1);
    g_assert_cmpstr(cfg->machine, ==, "pc");
    g_assert_cmpstr(cfg->accel, ==, "kvm");
    dm_config_free(cfg);
}

static void test_config_parses_common_options(void)
{
    struct dm_config *cfg = dm_config_new();
    GError *err = NULL;

    g_assert_true(parse_argv(cfg,
                             "-m 512 --smp 2,maxcpus=4 -machine xenfv,"
                             "suppress-vmdesc=on -accel qtest -nodefaults "
                             "-serial stdio -serial pty -name guest1,"
                             "process=dm-1 -no-reboot -trace enable=ide_* "
                             "-boot order=cd -display none",
                             &err));
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->ram_size, ==, 512 * DM_MiB);
    g_assert_cmpuint(cfg->smp, ==, 2);
    g_assert_cmpuint(cfg->smp_maxcpus, ==, 4);
    g_assert_cmpstr(cfg->machine, ==, "xenfv");
    g_assert_cmpstr(cfg->accel, ==, "qtest");
    g_assert_true(cfg->nodefaults);
    g_assert_cmpuint(cfg->serials->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(cfg->serials, 1), ==, "pty");
    g_assert_cmpstr(cfg->name, ==, "guest1");
    g_assert_cmpstr(cfg->process_name, ==, "dm-1");
    g_assert_true(cfg->no_reboot);
    g_assert_cmpstr(g_ptr_array_index(cfg->traces, 0), ==, "ide_*");
    g_assert_cmpstr(cfg->boot, ==, "order=cd");
    g_assert_true(cfg->display_none);
    dm_config_free(cfg);
}

static void test_config_mem_size_forms(void)
{
    struct dm_config *cfg = dm_config_new();
    GError *err = NULL;

    g_assert_true(parse_argv(cfg, "-m size=2G", &err));
    g_assert_cmpuint(cfg->ram_size, ==, 2 * DM_GiB);
    g_assert_true(parse_argv(cfg, "-m 1536k", &err));
    g_assert_cmpuint(cfg->ram_size, ==, 1536 * DM_KiB);
    g_assert_no_error(err);
    dm_config_free(cfg);
}

static void assert_argv_error(const char *line, const char *needle)
{
    struct dm_config *cfg = dm_config_new();
    GError *err = NULL;

    g_assert_false(parse_argv(cfg, line, &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    if (!strstr(err->message, needle)) {
        g_error("'%s': message '%s' lacks '%s'", line, err->message, needle);
    }
    g_assert_null(strchr(err->message, '\n'));
    g_error_free(err);
    dm_config_free(cfg);
}

static void test_config_errors_name_the_option(void)
{
    assert_argv_error("-m 0", "-m 0: memory size must be at least 1 MiB");
    assert_argv_error("-m 2T", "-m 2T: memory size must be at most 1 TiB");
    assert_argv_error("-m lots", "-m lots: expected a memory size");
    assert_argv_error("-smp 0", "-smp 0:");
    assert_argv_error("-smp 256", "-smp 256:");
    assert_argv_error("-smp 4,maxcpus=2", "-smp 4,maxcpus=2:");
    assert_argv_error("-M q35", "-M q35: unknown machine type 'q35'");
    assert_argv_error("-accel tcg", "-accel tcg: unknown accelerator 'tcg'");
    assert_argv_error("-frobnicate", "-frobnicate: unknown option");
    assert_argv_error("-m", "-m: missing argument");
    assert_argv_error("-bios /nonexistent/bios.bin",
                      "-bios /nonexistent/bios.bin:");
    assert_argv_error("-monitor stdio", "-monitor stdio: not supported yet");
    assert_argv_error("-chardev socket,path=/x", "missing id=");
    assert_argv_error("-device no-such-device", "unknown device type");
    assert_argv_error("-fw_cfg name=opt/a", "-fw_cfg name=opt/a:");
    assert_argv_error("stray", "stray: unexpected argument");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/opts/implied-key", test_opts_implied_key_takes_leading_value);
    g_test_add_func("/opts/leading-key-value",
                    test_opts_leading_key_value_skips_implied_key);
    g_test_add_func("/opts/bare-flag",
                    test_opts_bare_leading_value_without_implied_key_is_flag);
    g_test_add_func("/opts/double-comma", test_opts_double_comma_is_literal_comma);
    g_test_add_func("/opts/value-equals", test_opts_value_may_contain_equals);
    g_test_add_func("/opts/last-wins", test_opts_last_value_wins);
    g_test_add_func("/opts/bool-forms", test_opts_bool_forms);
    g_test_add_func("/opts/empty-key", test_opts_empty_key_refused);
    g_test_add_func("/opts/check-keys", test_opts_check_keys_names_unknown_key);
    g_test_add_func("/opts/size-suffixes", test_parse_size_suffixes);
    g_test_add_func("/opts/size-garbage", test_parse_size_rejects_garbage_and_overflow);
    g_test_add_func("/opts/uint-bool", test_parse_uint_and_bool);
    g_test_add_func("/config/defaults", test_config_defaults);
    g_test_add_func("/config/common-options", test_config_parses_common_options);
    g_test_add_func("/config/mem-forms", test_config_mem_size_forms);
    g_test_add_func("/config/errors", test_config_errors_name_the_option);
    return g_test_run();
}
