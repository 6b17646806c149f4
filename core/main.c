/*
 * main.c: the hvmdm program: parse the command line, build the machine
 * (dm_machine_new, the PC board), reset it and run it until shutdown.
 *
 * Every configuration error is one line "hvmdm: <message>" on stderr and exit
 * status 1, before any vCPU or worker thread starts.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "hvmdm/config.h"
#include "hvmdm/dev.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/trace.h"

/* SIGINT, SIGTERM and SIGHUP go to dm_machine_run's signalfd: blocked here,
 * before any thread exists, so that every thread inherits the mask. */
static void dm_block_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int dm_fail(GError *err)
{
    fprintf(stderr, "hvmdm: %s\n", err->message);
    g_error_free(err);
    return 1;
}

/* -trace, -d/-v and -name ...,process= take effect before anything runs. */
static bool dm_apply_process_options(struct dm_config *cfg, GError **errp)
{
    for (guint i = 0; i < cfg->traces->len; i++) {
        const char *pattern = g_ptr_array_index(cfg->traces, i);

        if (!dm_trace_enable(pattern)) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "-trace %s: invalid trace point pattern", pattern);
            return false;
        }
    }
    dm_log_set_level((enum dm_log_level)MIN(cfg->log_level, DM_LOG_DEBUG));
    if (cfg->process_name) {
        /* the kernel keeps 15 bytes; longer names are cut */
        prctl(PR_SET_NAME, cfg->process_name, 0, 0, 0);
    }
    return true;
}

int main(int argc, char **argv)
{
    struct dm_config *cfg = dm_config_new();
    struct dm_machine *m;
    GError *err = NULL;
    bool exit_now = false;
    int status;

    /* Sockets whose peer went away report EPIPE instead of killing us. */
    signal(SIGPIPE, SIG_IGN);
    dm_block_signals();
    if (!dm_config_parse_argv(cfg, argc - 1, argv + 1, &exit_now, &err)) {
        dm_config_free(cfg);
        return dm_fail(err);
    }
    if (exit_now) {
        dm_config_free(cfg);
        return 0;
    }
    if (!dm_apply_process_options(cfg, &err)) {
        dm_config_free(cfg);
        return dm_fail(err);
    }

    dm_lock();
    m = dm_machine_new(cfg, &err);  /* owns cfg from here */
    if (!m) {
        dm_unlock();
        return dm_fail(err);
    }
    if (!dm_pc_init(m, &err) || !dm_machine_add_user_devices(m, &err)) {
        dm_machine_free(m);
        dm_unlock();
        return dm_fail(err);
    }
    dm_machine_reset(m);
    dm_unlock();

    status = dm_machine_run(m);

    dm_lock();
    dm_machine_free(m);
    dm_unlock();
    return status;
}
