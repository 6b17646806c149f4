/*
 * test-serial.c: the 16550A UART ("isa-serial") at COM1 (0x3f8, IRQ 4) on
 * the qtest machine, driven through its ports as a guest driver would:
 * reset values, the THR-empty interrupt, OUT2 gating, the divisor latch,
 * loopback, RX FIFO trigger levels and the character timeout with bytes from
 * a real unix socket and a real pty, overrun, hostile accesses and a
 * save/restore round trip; the debug console (0xe9) and the POST port (0x80).
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "hvmdm/chardev.h"
#include "hvmdm/dev.h"
#include "hvmdm/machine.h"
#include "hvmdm/main-loop.h"

#include "harness.h"

#define COM1 0x3f8
#define COM1_IRQ 4

#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define IER_ERBFI 0x01
#define IER_ETBEI 0x02
#define IER_ELSI 0x04
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_CTI 0x0c
#define IIR_FIFOS 0xc0
#define FCR_FE 0x01
#define FCR_TRIGGER_8 0x80
#define FCR_TRIGGER_14 0xc0
#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_DELTAS_ALL 0x0f /* DCTS, DDSR, TERI, DDCD */
#define MSR_CONNECTED 0xb0  /* DCD, DSR, CTS */
#define MSR_ALL_INPUTS 0xf0

/* 115200 baud, 8N1: ten bits of 1/115200 s per character. */
#define CHAR_NS_115200 (10ll * 1000000000ll / 115200)

#define HANG_GUARD_US (10 * G_USEC_PER_SEC)

struct rig {
    struct dm_machine *m;
    struct dm_dev *uart;
    char *dir;
    int listen_fd;
    int peer; /* the test's end of the socket or the pty slave */
};

static uint8_t rd(struct rig *r, unsigned reg)
{
    return th_inb(r->m, (uint16_t)(COM1 + reg));
}

static void wr(struct rig *r, unsigned reg, uint8_t val)
{
    th_outb(r->m, (uint16_t)(COM1 + reg), val);
}

static int irq4(struct rig *r)
{
    return dm_isa_irq_level(r->m, COM1_IRQ);
}

/* Run the main loop until COND holds; the guard only stops a hang. */
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

/* A machine with one isa-serial at COM1 on chardev CHR_OPTS (id c0), or
 * without a chardev when NULL. */
static void rig_init(struct rig *r, const char *chr_opts)
{
    GError *err = NULL;

    r->m = th_machine_new("");
    r->listen_fd = -1;
    r->peer = -1;
    if (chr_opts) {
        dm_chr_new(r->m, chr_opts, &err);
        g_assert_no_error(err);
    }
    r->uart =
        dm_dev_new(r->m, "isa-serial", chr_opts ? "chardev=c0" : "", &err);
    g_assert_no_error(err);
    dm_machine_reset(r->m);
}

/* The test listens on a unix socket; the UART's chardev connects to it. */
static void rig_init_socket(struct rig *r)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_autofree char *path = NULL;
    g_autofree char *opts = NULL;
    GError *err = NULL;
    int lfd;

    r->dir = g_dir_make_tmp("test-serial-XXXXXX", &err);
    g_assert_no_error(err);
    path = g_build_filename(r->dir, "sock", NULL);
    g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(lfd, >=, 0);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(lfd, 1), ==, 0);
    opts = g_strdup_printf("socket,id=c0,path=%s", path);
    rig_init(r, opts);
    r->peer = accept(lfd, NULL, NULL);
    g_assert_cmpint(r->peer, >=, 0);
    r->listen_fd = lfd;
}

static void rig_free(struct rig *r)
{
    th_pc_free(r->m);
    if (r->peer >= 0) {
        close(r->peer);
    }
    if (r->listen_fd >= 0) {
        close(r->listen_fd);
    }
    if (r->dir) {
        g_autofree char *path = g_build_filename(r->dir, "sock", NULL);

        unlink(path);
        rmdir(r->dir);
        g_free(r->dir);
    }
}

static void peer_send(struct rig *r, const char *s)
{
    size_t len = strlen(s);

    g_assert_cmpint(write(r->peer, s, len), ==, (ssize_t)len);
}

/* Read exactly LEN bytes the UART sent, waiting for them. */
static void peer_recv(struct rig *r, char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd p = { .fd = r->peer, .events = POLLIN };
        ssize_t n;

        g_assert_cmpint(poll(&p, 1, 10000), ==, 1);
        n = read(r->peer, buf + got, len - got);
        g_assert_cmpint(n, >, 0);
        got += (size_t)n;
    }
}

static bool peer_has_data(struct rig *r)
{
    struct pollfd p = { .fd = r->peer, .events = POLLIN };

    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Set 115200 baud, 8N1 through the divisor latch. */
static void set_115200_8n1(struct rig *r)
{
    wr(r, LCR, LCR_DLAB);
    wr(r, DLL, 1);
    wr(r, DLM, 0);
    wr(r, LCR, LCR_8N1);
}

/* ---- registers ---------------------------------------------------------- */

static void test_serial_reset_values(void)
{
    struct rig r = { 0 };

    rig_init(&r, NULL);

    g_assert_cmphex(rd(&r, IER), ==, 0x00);
    g_assert_cmphex(rd(&r, IIR), ==, 0x01);
    g_assert_cmphex(rd(&r, LCR), ==, 0x00);
    g_assert_cmphex(rd(&r, MCR), ==, 0x00);
    g_assert_cmphex(rd(&r, LSR), ==, 0x60);
    g_assert_cmphex(rd(&r, MSR), ==, 0xb0);
    g_assert_cmpint(irq4(&r), ==, 0);
    rig_free(&r);
}

static void test_serial_reset_clears_guest_settings(void)
{
    struct rig r = { 0 };

    rig_init(&r, NULL);
    wr(&r, IER, 0x0f);
    wr(&r, FCR, FCR_FE);
    wr(&r, LCR, 0x1b);
    wr(&r, MCR, MCR_OUT2 | MCR_DTR);
    g_assert_cmpint(irq4(&r), ==, 1);

    dm_machine_reset(r.m);

    g_assert_cmphex(rd(&r, IER), ==, 0x00);
    g_assert_cmphex(rd(&r, IIR), ==, 0x01); /* FIFOs off again */
    g_assert_cmphex(rd(&r, LCR), ==, 0x00);
    g_assert_cmphex(rd(&r, MCR), ==, 0x00);
    g_assert_cmphex(rd(&r, LSR), ==, 0x60);
    g_assert_cmpint(irq4(&r), ==, 0);
    rig_free(&r);
}

static void test_serial_thr_empty_raises_irq4_after_ier_write(void)
{
    struct rig r = { 0 };

    rig_init(&r, "null,id=c0");
    wr(&r, MCR, MCR_OUT2);
    g_assert_cmpint(irq4(&r), ==, 0);

    wr(&r, IER, IER_ETBEI);

    g_assert_cmpint(irq4(&r), ==, 1);
    g_assert_cmphex(rd(&r, IIR), ==, IIR_THRI);
    /* reading IIR reported it: cleared */
    g_assert_cmpint(irq4(&r), ==, 0);
    g_assert_cmphex(rd(&r, IIR), ==, IIR_NO_INT);
    rig_free(&r);
}

static void test_serial_thr_empty_irq_again_after_transmit(void)
{
    struct rig r = { 0 };

    rig_init(&r, "null,id=c0");
    wr(&r, MCR, MCR_OUT2);
    wr(&r, IER, IER_ETBEI);
    rd(&r, IIR);
    g_assert_cmpint(irq4(&r), ==, 0);

    wr(&r, THR, 'x');

    /* the byte went out at once: THR empty again, interrupt again */
    g_assert_cmphex(rd(&r, LSR) & (LSR_THRE | LSR_TEMT), ==,
                    LSR_THRE | LSR_TEMT);
    g_assert_cmpint(irq4(&r), ==, 1);
    g_assert_cmphex(rd(&r, IIR), ==, IIR_THRI);
    rig_free(&r);
}

static void test_serial_out2_gates_irq4(void)
{
    struct rig r = { 0 };

    rig_init(&r, "null,id=c0");
    wr(&r, IER, IER_ETBEI);
    g_assert_cmpint(irq4(&r), ==, 0); /* pending, but OUT2 low */

    wr(&r, MCR, MCR_OUT2);
    g_assert_cmpint(irq4(&r), ==, 1);

    wr(&r, MCR, MCR_OUT2 | MCR_LOOP); /* loopback forces OUT2 off */
    g_assert_cmpint(irq4(&r), ==, 0);

    wr(&r, MCR, 0);
    g_assert_cmpint(irq4(&r), ==, 0);
    g_assert_cmphex(rd(&r, IIR), ==, IIR_THRI); /* still pending inside */
    rig_free(&r);
}

static void test_serial_dlab_selects_divisor_latch(void)
{
    struct rig r = { 0 };

    rig_init(&r, NULL);
    wr(&r, IER, IER_ELSI);
    wr(&r, LCR, LCR_DLAB);
    wr(&r, DLL, 0x34);
    wr(&r, DLM, 0x12);

    g_assert_cmphex(rd(&r, DLL), ==, 0x34);
    g_assert_cmphex(rd(&r, DLM), ==, 0x12);

    wr(&r, LCR, LCR_8N1);
    g_assert_cmphex(rd(&r, IER), ==, IER_ELSI); /* untouched by DLM */
    g_assert_cmphex(rd(&r, LCR), ==, LCR_8N1);

    wr(&r, LCR, LCR_DLAB | LCR_8N1);
    g_assert_cmphex(rd(&r, DLL), ==, 0x34);
    g_assert_cmphex(rd(&r, DLM), ==, 0x12);
    rig_free(&r);
}

static void test_serial_scratch_register_holds_a_byte(void)
{
    struct rig r = { 0 };

    rig_init(&r, NULL);
    wr(&r, SCR, 0xa5);
    g_assert_cmphex(rd(&r, SCR), ==, 0xa5);
    rig_free(&r);
}

/* ---- loopback ------------------------------------------------------------ */

static void test_serial_loopback_returns_tx_to_rx_not_to_the_peer(void)
{
    struct rig r = { 0 };
    char buf[2];

    rig_init_socket(&r);
    wr(&r, FCR, FCR_FE);
    wr(&r, MCR, MCR_LOOP);

    wr(&r, THR, 'A');
    wr(&r, THR, 'B');

    g_assert_cmphex(rd(&r, LSR) & LSR_DR, ==, LSR_DR);
    g_assert_cmphex(rd(&r, RBR), ==, 'A');
    g_assert_cmphex(rd(&r, RBR), ==, 'B');
    g_assert_cmphex(rd(&r, LSR) & LSR_DR, ==, 0);
    dm_main_loop_iterate(false);
    g_assert_false(peer_has_data(&r));

    /* out of loopback the next byte goes to the peer */
    wr(&r, MCR, 0);
    wr(&r, THR, 'C');
    peer_recv(&r, buf, 1);
    g_assert_cmpint(buf[0], ==, 'C');
    rig_free(&r);
}

static void test_serial_loopback_modem_outputs_drive_msr(void)
{
    struct rig r = { 0 };

    rig_init(&r, NULL);
    g_assert_cmphex(rd(&r, MSR), ==, MSR_CONNECTED);

    /* RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD; only RI rose: no delta
     * (TERI is the trailing edge) */
    wr(&r, MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2);
    g_assert_cmphex(rd(&r, MSR), ==, MSR_ALL_INPUTS);

    /* everything drops: DCTS, DDSR, DDCD and TERI */
    wr(&r, MCR, MCR_LOOP);
    g_assert_cmphex(rd(&r, MSR), ==, MSR_DELTAS_ALL);
    g_assert_cmphex(rd(&r, MSR), ==, 0x00); /* deltas clear on read */

    /* leaving loopback: the cable is back */
    wr(&r, MCR, 0);
    g_assert_cmphex(rd(&r, MSR), ==, MSR_CONNECTED | 0x0b);
    rig_free(&r);
}

static void test_serial_rx_overrun_sets_oe_and_line_status_interrupt(void)
{
    struct rig r = { 0 };

    rig_init(&r, NULL);
    wr(&r, FCR, FCR_FE);
    wr(&r, IER, IER_ELSI | IER_ERBFI);
    wr(&r, MCR, MCR_LOOP);

    for (int i = 0; i < 17; i++) { /* one more than the FIFO holds */
        wr(&r, THR, (uint8_t)('a' + i));
    }

    g_assert_cmphex(rd(&r, IIR), ==, IIR_FIFOS | IIR_RLSI);
    g_assert_cmphex(rd(&r, LSR), ==, LSR_DR | LSR_OE | LSR_THRE | LSR_TEMT);
    g_assert_cmphex(rd(&r, LSR), ==, LSR_DR | LSR_THRE | LSR_TEMT);
    g_assert_cmphex(rd(&r, IIR), ==, IIR_FIFOS | IIR_RDI);
    for (int i = 0; i < 16; i++) {
        g_assert_cmphex(rd(&r, RBR), ==, 'a' + i);
    }
    g_assert_cmphex(rd(&r, LSR) & LSR_DR, ==, 0);
    rig_free(&r);
}

/* ---- receiving from a socket ----------------------------------------------- */

static void test_serial_rx_fifo_trigger_level_8_from_socket(void)
{
    struct rig r = { 0 };
    const char *data = "abcdefgh";

    rig_init_socket(&r);
    wr(&r, FCR, FCR_FE | FCR_TRIGGER_8);
    wr(&r, IER, IER_ERBFI);
    wr(&r, MCR, MCR_OUT2);

    peer_send(&r, "abcdefg"); /* 7 bytes: below the trigger */
    PUMP_UNTIL(rd(&r, LSR) & LSR_DR);
    g_assert_cmpint(irq4(&r), ==, 0);
    g_assert_cmphex(rd(&r, IIR), ==, IIR_FIFOS | IIR_NO_INT);

    peer_send(&r, "h");
    PUMP_UNTIL(irq4(&r));
    g_assert_cmphex(rd(&r, IIR), ==, IIR_FIFOS | IIR_RDI);

    for (int i = 0; i < 8; i++) {
        g_assert_cmphex(rd(&r, RBR), ==, data[i]);
        if (i == 0) {
            /* 7 left: below the trigger again */
            g_assert_cmpint(irq4(&r), ==, 0);
        }
    }
    g_assert_cmphex(rd(&r, LSR) & LSR_DR, ==, 0);
    rig_free(&r);
}

static void test_serial_socket_carries_bytes_both_ways(void)
{
    struct rig r = { 0 };
    char buf[5] = { 0 };
    const char *out = "hello";

    rig_init_socket(&r);
    set_115200_8n1(&r);

    for (int i = 0; out[i]; i++) {
        g_assert_cmphex(rd(&r, LSR) & LSR_THRE, ==, LSR_THRE);
        wr(&r, THR, (uint8_t)out[i]);
    }
    peer_recv(&r, buf, 5);
    g_assert_cmpmem(buf, 5, out, 5);

    /* 16450 mode: one byte at a time, the next waits in the socket */
    peer_send(&r, "xy");
    PUMP_UNTIL(rd(&r, LSR) & LSR_DR);
    g_assert_cmphex(rd(&r, RBR), ==, 'x');
    PUMP_UNTIL(rd(&r, LSR) & LSR_DR);
    g_assert_cmphex(rd(&r, RBR), ==, 'y');
    g_assert_cmphex(rd(&r, LSR) & (LSR_DR | LSR_OE), ==, 0);
    rig_free(&r);
}

static void test_serial_fifo_full_holds_back_socket_input(void)
{
    struct rig r = { 0 };
    char data[21];

    rig_init_socket(&r);
    wr(&r, FCR, FCR_FE);
    for (int i = 0; i < 20; i++) {
        data[i] = (char)('A' + i);
    }
    data[20] = '\0';

    peer_send(&r, data); /* 20 bytes for a 16-byte FIFO */
    PUMP_UNTIL(rd(&r, LSR) & LSR_DR);
    for (int i = 0; i < 10; i++) {
        dm_main_loop_iterate(false);
    }

    /* no overrun: the 4 extra bytes waited until there was room */
    for (int i = 0; i < 20; i++) {
        PUMP_UNTIL(rd(&r, LSR) & LSR_DR);
        g_assert_cmphex(rd(&r, LSR) & LSR_OE, ==, 0);
        g_assert_cmphex(rd(&r, RBR), ==, data[i]);
    }
    rig_free(&r);
}

static void test_serial_char_timeout_irq_after_four_char_times(void)
{
    struct rig r = { 0 };

    rig_init_socket(&r);
    set_115200_8n1(&r);
    wr(&r, FCR, FCR_FE | FCR_TRIGGER_14);
    wr(&r, IER, IER_ERBFI);
    wr(&r, MCR, MCR_OUT2);

    peer_send(&r, "abc"); /* below the trigger of 14 */
    PUMP_UNTIL(rd(&r, LSR) & LSR_DR);
    g_assert_cmpint(irq4(&r), ==, 0);

    th_clock_step(r.m, 4 * CHAR_NS_115200 - 1000);
    g_assert_cmpint(irq4(&r), ==, 0);

    th_clock_step(r.m, 2000);
    g_assert_cmpint(irq4(&r), ==, 1);
    g_assert_cmphex(rd(&r, IIR), ==, IIR_FIFOS | IIR_CTI);

    /* reading a byte clears the timeout and starts it over */
    g_assert_cmphex(rd(&r, RBR), ==, 'a');
    g_assert_cmpint(irq4(&r), ==, 0);
    th_clock_step(r.m, 4 * CHAR_NS_115200 + 1000);
    g_assert_cmpint(irq4(&r), ==, 1);
    g_assert_cmphex(rd(&r, RBR), ==, 'b');
    g_assert_cmphex(rd(&r, RBR), ==, 'c');
    th_clock_step(r.m, 10 * CHAR_NS_115200);
    g_assert_cmpint(irq4(&r), ==, 0); /* empty FIFO: no timeout */
    rig_free(&r);
}

/* ---- receiving from a pty -------------------------------------------------- */

static void test_serial_pty_carries_bytes_both_ways(void)
{
    struct rig r = { 0 };
    struct dm_chr *c;
    struct termios tio;
    char buf[2];

    rig_init(&r, "pty,id=c0");
    c = dm_chr_find(r.m, "c0");
    g_assert_nonnull(dm_chr_pty_path(c));
    r.peer = open(dm_chr_pty_path(c), O_RDWR | O_NOCTTY);
    g_assert_cmpint(r.peer, >=, 0);
    g_assert_cmpint(tcgetattr(r.peer, &tio), ==, 0);
    cfmakeraw(&tio);
    g_assert_cmpint(tcsetattr(r.peer, TCSANOW, &tio), ==, 0);
    PUMP_UNTIL(dm_chr_is_open(c));
    wr(&r, FCR, FCR_FE);

    peer_send(&r, "hi");
    PUMP_UNTIL(rd(&r, LSR) & LSR_DR);
    g_assert_cmphex(rd(&r, RBR), ==, 'h');
    PUMP_UNTIL(rd(&r, LSR) & LSR_DR);
    g_assert_cmphex(rd(&r, RBR), ==, 'i');

    wr(&r, THR, 'o');
    wr(&r, THR, 'k');
    peer_recv(&r, buf, 2);
    g_assert_cmpmem(buf, 2, "ok", 2);
    rig_free(&r);
}

/* ---- hostile guests ---------------------------------------------------------- */

static void test_serial_hostile_accesses_do_not_crash(void)
{
    struct rig r = { 0 };

    rig_init(&r, "null,id=c0");
    for (int dlab = 0; dlab < 2; dlab++) {
        wr(&r, LCR, dlab ? LCR_DLAB : 0);
        for (unsigned off = 0; off < 8; off++) {
            rd(&r, off);
            th_inw(r.m, (uint16_t)(COM1 + off));
            th_inl(r.m, (uint16_t)(COM1 + off));
        }
    }
    /* all ones everywhere, then everything again */
    for (int round = 0; round < 2; round++) {
        for (unsigned off = 0; off < 8; off++) {
            wr(&r, off, 0xff);
            th_outw(r.m, (uint16_t)(COM1 + off), 0xffff);
            th_outl(r.m, (uint16_t)(COM1 + off), 0xffffffff);
        }
        for (unsigned off = 0; off < 8; off++) {
            rd(&r, off);
        }
        wr(&r, LCR, 0);
        /* flood THR and read an empty RBR */
        for (int i = 0; i < 100; i++) {
            wr(&r, THR, (uint8_t)i);
            rd(&r, RBR);
        }
    }
    th_clock_step(r.m, 1000000000ll);
    /* still a working UART */
    wr(&r, LCR, 0);
    wr(&r, MCR, MCR_LOOP);
    wr(&r, FCR, 0);
    wr(&r, THR, 0x5a);
    g_assert_cmphex(rd(&r, RBR), ==, 0x5a);
    rig_free(&r);
}

/* ---- saved state -------------------------------------------------------------- */

/* Divisor 3, 7E1, FIFO at trigger 4 holding "xyz", SCR, IER, MCR. */
static void state_setup(struct rig *r)
{
    wr(r, LCR, LCR_DLAB);
    wr(r, DLL, 3);
    wr(r, DLM, 0);
    wr(r, LCR, 0x1a);
    wr(r, SCR, 0x5a);
    wr(r, FCR, FCR_FE | 0x40); /* trigger 4 */
    wr(r, MCR, MCR_LOOP);
    wr(r, THR, 'x');
    wr(r, THR, 'y');
    wr(r, THR, 'z');
    wr(r, MCR, MCR_OUT2 | MCR_DTR);
    wr(r, IER, IER_ERBFI | IER_ELSI);
}

static void test_serial_state_round_trip(void)
{
    struct rig a = { 0 }, b = { 0 };
    GError *err = NULL;
    GBytes *state;
    /* 7E1 at divisor 3: 10 bits of 3/115200 s */
    int64_t char_ns = 10ll * 3 * 1000000000ll / 115200;

    rig_init(&a, NULL);
    rig_init(&b, NULL);
    state_setup(&a);
    th_clock_step(a.m, char_ns); /* part of the timeout has run */
    state = dm_machine_save_state(a.m, &err);
    g_assert_no_error(err);

    g_assert_true(dm_machine_load_state(b.m, state, &err));
    g_assert_no_error(err);

    g_assert_cmphex(rd(&b, LCR), ==, 0x1a);
    g_assert_cmphex(rd(&b, MCR), ==, MCR_OUT2 | MCR_DTR);
    g_assert_cmphex(rd(&b, IER), ==, IER_ERBFI | IER_ELSI);
    g_assert_cmphex(rd(&b, SCR), ==, 0x5a);
    g_assert_cmphex(rd(&b, MSR), ==, rd(&a, MSR));
    wr(&b, LCR, 0x1a | LCR_DLAB);
    g_assert_cmphex(rd(&b, DLL), ==, 3);
    g_assert_cmphex(rd(&b, DLM), ==, 0);
    wr(&b, LCR, 0x1a);
    /* three bytes below trigger 4: the timeout fires after the rest of
     * its four character times */
    g_assert_cmpint(irq4(&b), ==, 0);
    th_clock_step(b.m, 3 * char_ns + 1000);
    g_assert_cmpint(irq4(&b), ==, 1);
    g_assert_cmphex(rd(&b, IIR), ==, IIR_FIFOS | IIR_CTI);
    g_assert_cmphex(rd(&b, RBR), ==, 'x');
    g_assert_cmphex(rd(&b, RBR), ==, 'y');
    g_assert_cmphex(rd(&b, RBR), ==, 'z');
    g_assert_cmphex(rd(&b, LSR), ==, LSR_THRE | LSR_TEMT);
    g_bytes_unref(state);
    rig_free(&a);
    rig_free(&b);
}

/* ---- the board's short forms ---------------------------------------------------- */

static void test_serial_auto_index_takes_com2(void)
{
    struct dm_machine *m = th_machine_new("");
    GError *err = NULL;

    dm_dev_new(m, "isa-serial", "", &err);
    g_assert_no_error(err);
    dm_dev_new(m, "isa-serial", "", &err);
    g_assert_no_error(err);
    dm_machine_reset(m);

    g_assert_cmphex(th_inb(m, 0x2f8 + LSR), ==, 0x60); /* COM2 */
    th_outb(m, 0x2f8 + MCR, MCR_OUT2);
    th_outb(m, 0x2f8 + IER, IER_ETBEI);
    g_assert_cmpint(dm_isa_irq_level(m, 3), ==, 1); /* IRQ 3 */
    g_assert_cmpint(dm_isa_irq_level(m, 4), ==, 0);
    th_pc_free(m);
}

/* ---- the debug console and the POST port ----------------------------------- */

#define DEBUGCON_PORT 0xe9
#define POST_PORT 0x80

static void test_debugcon_bytes_reach_chardev_and_port_reads_0xe9(void)
{
    struct dm_machine *m = th_machine_new("");
    g_autofree char *dir = g_dir_make_tmp("test-serial-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "log", NULL);
    g_autofree char *opts = g_strdup_printf("file,id=d0,path=%s", path);
    g_autofree char *data = NULL;
    GError *err = NULL;

    dm_chr_new(m, opts, &err);
    g_assert_no_error(err);
    dm_dev_new(m, "isa-debugcon", "chardev=d0", &err);
    g_assert_no_error(err);
    dm_machine_reset(m);

    for (const char *p = "SeaBIOS\n"; *p; p++) {
        th_outb(m, DEBUGCON_PORT, (uint8_t)*p);
    }

    g_assert_cmphex(th_inb(m, DEBUGCON_PORT), ==, 0xe9);
    g_assert_true(g_file_get_contents(path, &data, NULL, NULL));
    g_assert_cmpstr(data, ==, "SeaBIOS\n");
    th_pc_free(m);
    unlink(path);
    rmdir(dir);
}

static void test_post_port_reads_back_last_code(void)
{
    struct dm_machine *m = th_machine_new("");
    GError *err = NULL;

    dm_dev_new(m, "isa-post", "", &err);
    g_assert_no_error(err);
    dm_machine_reset(m);
    g_assert_cmphex(th_inb(m, POST_PORT), ==, 0x00);

    th_outb(m, POST_PORT, 0x12);
    th_outb(m, POST_PORT, 0x55);

    g_assert_cmphex(th_inb(m, POST_PORT), ==, 0x55);
    dm_machine_reset(m);
    g_assert_cmphex(th_inb(m, POST_PORT), ==, 0x00);
    th_pc_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/serial/reset-values", test_serial_reset_values);
    g_test_add_func("/serial/reset-clears-guest-settings",
                    test_serial_reset_clears_guest_settings);
    g_test_add_func("/serial/thr-empty-irq4-after-ier-write",
                    test_serial_thr_empty_raises_irq4_after_ier_write);
    g_test_add_func("/serial/thr-empty-irq-after-transmit",
                    test_serial_thr_empty_irq_again_after_transmit);
    g_test_add_func("/serial/out2-gates-irq4", test_serial_out2_gates_irq4);
    g_test_add_func("/serial/dlab-divisor",
                    test_serial_dlab_selects_divisor_latch);
    g_test_add_func("/serial/scratch",
                    test_serial_scratch_register_holds_a_byte);
    g_test_add_func("/serial/loopback-data",
                    test_serial_loopback_returns_tx_to_rx_not_to_the_peer);
    g_test_add_func("/serial/loopback-modem",
                    test_serial_loopback_modem_outputs_drive_msr);
    g_test_add_func("/serial/rx-overrun",
                    test_serial_rx_overrun_sets_oe_and_line_status_interrupt);
    g_test_add_func("/serial/rx-trigger-8-socket",
                    test_serial_rx_fifo_trigger_level_8_from_socket);
    g_test_add_func("/serial/socket-both-ways",
                    test_serial_socket_carries_bytes_both_ways);
    g_test_add_func("/serial/fifo-full-holds-back-input",
                    test_serial_fifo_full_holds_back_socket_input);
    g_test_add_func("/serial/char-timeout-irq",
                    test_serial_char_timeout_irq_after_four_char_times);
    g_test_add_func("/serial/pty-both-ways",
                    test_serial_pty_carries_bytes_both_ways);
    g_test_add_func("/serial/hostile-accesses",
                    test_serial_hostile_accesses_do_not_crash);
    g_test_add_func("/serial/state-round-trip", test_serial_state_round_trip);
    g_test_add_func("/serial/auto-index-com2",
                    test_serial_auto_index_takes_com2);
    g_test_add_func("/debugcon/bytes-reach-chardev",
                    test_debugcon_bytes_reach_chardev_and_port_reads_0xe9);
    g_test_add_func("/post/reads-back-last-code",
                    test_post_port_reads_back_last_code);
    return g_test_run();
}
