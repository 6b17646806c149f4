/*
 * config.h: the parsed command line, and the option-string parser every
 * option goes through.
 *
 * Option strings follow QEMU's syntax: "value" or "key=value,key=value", an
 * implied first key ("-chardev socket,id=x" = "backend=socket,id=x"), ",,"
 * for a literal comma, "key" alone meaning "key=on".
 */
#ifndef HVMDM_CONFIG_H
#define HVMDM_CONFIG_H

#include <stdio.h>

#include "hvmdm/common.h"

#define HVMDM_VERSION "0.1.0"

struct dm_kv {
    char *key;
    char *value;
};

/* A parsed "key=value,..." list, keys in order of appearance. */
struct dm_opts {
    GArray *kv;  /* struct dm_kv */
};

/* Parse S; IMPLIED_KEY names a leading bare value ("socket" -> backend=socket),
 * NULL when a bare leading value is an error. */
struct dm_opts *dm_opts_parse(const char *s, const char *implied_key,
                              GError **errp);
void dm_opts_free(struct dm_opts *o);
/* Last value given for KEY, or NULL. */
const char *dm_opts_get(const struct dm_opts *o, const char *key);
bool dm_opts_get_bool(const struct dm_opts *o, const char *key, bool def,
                      GError **errp);
/* Sizes with optional k/K, M, G, T suffix (binary units); the default unit of
 * a bare number is DEF_UNIT bytes (1 for bytes, 1 MiB for -m). */
bool dm_parse_size(const char *s, uint64_t def_unit, uint64_t *out);
bool dm_parse_bool(const char *s, bool *out);  /* on/off/yes/no/true/false */
bool dm_parse_uint(const char *s, uint64_t *out);  /* decimal, 0x hex */
/* Error unless every key of O is in the NULL-terminated list ALLOWED;
 * WHAT names the option ("-chardev"). */
bool dm_opts_check_keys(const struct dm_opts *o, const char *const *allowed,
                        const char *what, GError **errp);

/* What the command line asked for. Strings are owned. */
struct dm_config {
    uint64_t ram_size;          /* bytes, -m (default 128 MiB) */
    unsigned smp;               /* -smp (default 1) */
    unsigned smp_maxcpus, smp_sockets, smp_cores, smp_threads;
    char *machine;              /* -M: "pc" or "xenfv" */
    char *accel;                /* "kvm", "qtest" */
    char *bios;                 /* -bios, or NULL for the default */
    char *name;                 /* -name */
    char *process_name;         /* -name ...,process= */
    char *qtest;                /* -qtest chardev spec */
    char *qtest_log;            /* -qtest-log */
    GPtrArray *serials;         /* -serial specs (char *), in order */
    GPtrArray *chardevs;        /* -chardev option strings */
    GPtrArray *devices;         /* -device option strings */
    GPtrArray *debugcons;       /* -debugcon specs */
    GPtrArray *fw_cfg;          /* -fw_cfg option strings */
    GPtrArray *traces;          /* -trace patterns */
    char *monitor;              /* -monitor spec ("none") */
    bool nodefaults;
    bool nographic;
    bool display_none;
    bool no_reboot;
    bool no_shutdown;
    char *boot;                 /* -boot string, parsed by the board */
    GPtrArray *drives;          /* -drive option strings; -hda..-hdd and
                                 * -cdrom FILE in the same form (blockdev.h) */
    GPtrArray *drive_sources;   /* per drive, the option as the user gave it
                                 * ("-hda a.img"), for messages */
    int log_level;              /* -d / -v verbosity (enum dm_log_level,
                                 * default DM_LOG_WARN) */
};

struct dm_config *dm_config_new(void);
void dm_config_free(struct dm_config *cfg);
/* Parse argv (after argv[0]); on error fills ERRP with one line naming the
 * option. --help and --version set *EXIT_NOW after printing. */
bool dm_config_parse_argv(struct dm_config *cfg, int argc, char **argv,
                          bool *exit_now, GError **errp);
/* The --help text. */
void dm_config_print_usage(FILE *out);

#endif
