/*
 * chardev-stdio.c: the stdio backend: the terminal hvmdm was started from.
 *
 * While it runs, a terminal on stdin is raw (no echo, no line editing, no
 * CR/LF translation on input; output processing stays on); signal=off also
 * passes Ctrl-C and Ctrl-Z to the guest. The terminal is restored at exit
 * (atexit) and before a fatal signal kills the process. stdin and stdout are
 * reopened non-blocking through /proc/self/fd so the shell's file
 * descriptions (shared with stderr) keep their flags.
 * Only one stdio chardev may exist in a process: there is one terminal.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "chardev-int.h"
#include "hvmdm/log.h"

/*
 * The terminal is process-wide state, as the log and the big lock are: this
 * is the one place that saves and restores it, from atexit and from signal
 * handlers, which can only reach it through a file-scope variable.
 */
static struct {
    bool in_use;          /* a stdio chardev exists */
    bool tty_saved;       /* orig holds the terminal's settings */
    bool hooks_installed; /* atexit and signal handlers registered */
    int restore_fl_fd;    /* fd whose flags we changed, -1 if none */
    int restore_fl;
    struct termios orig;
} chr_term = { .restore_fl_fd = -1 };

static const int chr_fatal_signals[] = { SIGSEGV, SIGBUS,  SIGFPE,
                                         SIGILL,  SIGABRT, SIGQUIT };
static struct sigaction chr_old_actions[DM_ARRAY_SIZE(chr_fatal_signals)];

/* Async-signal-safe. */
static void chr_term_restore(void)
{
    if (chr_term.tty_saved) {
        tcsetattr(STDIN_FILENO, TCSANOW, &chr_term.orig);
    }
    if (chr_term.restore_fl_fd >= 0) {
        fcntl(chr_term.restore_fl_fd, F_SETFL, chr_term.restore_fl);
    }
}

static void chr_term_signal(int sig, siginfo_t *info, void *uc)
{
    chr_term_restore();
    for (size_t i = 0; i < DM_ARRAY_SIZE(chr_fatal_signals); i++) {
        struct sigaction *old = &chr_old_actions[i];

        if (chr_fatal_signals[i] != sig) {
            continue;
        }
        if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
            /* a sanitizer's or debugger's handler: let it report */
            old->sa_sigaction(sig, info, uc);
            return;
        }
        if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL) {
            old->sa_handler(sig);
            return;
        }
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
}

static void chr_term_install_hooks(void)
{
    struct sigaction sa = { .sa_sigaction = chr_term_signal };

    if (chr_term.hooks_installed) {
        return;
    }
    chr_term.hooks_installed = true;
    atexit(chr_term_restore);
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < DM_ARRAY_SIZE(chr_fatal_signals); i++) {
        sigaction(chr_fatal_signals[i], &sa, &chr_old_actions[i]);
    }
}

static void chr_term_make_raw(bool signals)
{
    struct termios t;

    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t) < 0) {
        return;
    }
    if (!chr_term.tty_saved) {
        chr_term.orig = t;
        chr_term.tty_saved = true;
    }
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR |
                             ICRNL | IXON);
    t.c_oflag |= OPOST;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
    if (!signals) {
        t.c_lflag &= ~(tcflag_t)ISIG;
    }
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

/*
 * A private non-blocking file description for FD: reopened through
 * /proc/self/fd (ttys, pipes, files). Sockets cannot be reopened: their
 * flags are changed and restored at exit. -1 if FD is closed.
 */
static int chr_stdio_reopen(int fd, int mode)
{
    g_autofree char *path = g_strdup_printf("/proc/self/fd/%d", fd);
    int nfd, fl;

    if (fcntl(fd, F_GETFD) < 0) {
        return -1;
    }
    nfd = open(path, mode | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (nfd >= 0) {
        return nfd;
    }
    nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    fl = fcntl(fd, F_GETFL);
    if (nfd >= 0 && fl >= 0 && !(fl & O_NONBLOCK) &&
        chr_term.restore_fl_fd < 0) {
        chr_term.restore_fl_fd = fd;
        chr_term.restore_fl = fl;
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
    return nfd;
}

struct chr_stdio {
    int in_fd, out_fd;
};

static bool chr_stdio_open(struct dm_chr *c, const struct dm_opts *o,
                           GError **errp)
{
    struct chr_stdio *s;
    GError *err = NULL;
    bool signals = dm_opts_get_bool(o, "signal", true, &err);

    if (err) {
        g_propagate_error(errp, err);
        return false;
    }
    if (chr_term.in_use) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "stdio: the terminal is already used by another chardev");
        return false;
    }
    chr_term.in_use = true;
    s = g_new(struct chr_stdio, 1);
    s->in_fd = chr_stdio_reopen(STDIN_FILENO, O_RDONLY);
    s->out_fd = chr_stdio_reopen(STDOUT_FILENO, O_WRONLY);
    c->be = s;
    chr_term_install_hooks();
    chr_term_make_raw(signals);
    dm_chr_be_set_fds(c, s->in_fd, s->out_fd);
    dm_chr_be_opened(c);
    return true;
}

static void chr_stdio_close(struct dm_chr *c)
{
    struct chr_stdio *s = c->be;

    if (!s) {
        return;
    }
    if (s->in_fd >= 0) {
        close(s->in_fd);
    }
    if (s->out_fd >= 0) {
        close(s->out_fd);
    }
    g_free(s);
    c->be = NULL;
    chr_term_restore();
    chr_term.tty_saved = false;
    chr_term.restore_fl_fd = -1;
    chr_term.in_use = false;
}

static const char *const chr_stdio_keys[] = { "signal", NULL };

const struct dm_chr_driver dm_chr_driver_stdio = {
    .name = "stdio",
    .keys = chr_stdio_keys,
    .open = chr_stdio_open,
    .close = chr_stdio_close,
};
