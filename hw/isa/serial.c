/*
 * serial.c: the 16550A UART of PC COM ports (National Semiconductor PC16550D
 * datasheet, June 1995): RBR/THR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR and
 * the divisor latch; 16-byte receive and transmit FIFOs with trigger levels
 * 1/4/8/14, the character timeout interrupt (four character times at the
 * programmed rate, on the machine clock), loopback, modem status deltas.
 * As on a PC board, MCR.OUT2 gates the interrupt onto the ISA line.
 * Transmitted bytes reach the character device at once (no baud pacing);
 * the modem inputs read as a connected cable (DCD, DSR, CTS). Left out:
 * parity/framing errors, break (neither exists on a byte stream), DMA mode.
 */
#include "hvmdm/chardev.h"
#include "hvmdm/dev.h"
#include "hvmdm/io.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/timer.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

#define SERIAL_FIFO_SIZE 16
#define SERIAL_NR_PORTS 8 /* registers at iobase + 0..7 */
#define SERIAL_INDEX_AUTO 0xffffffffu
#define SERIAL_INPUT_HZ 115200    /* 1.8432 MHz crystal / 16 */
#define SERIAL_TIMEOUT_CHARS 4    /* PC16550D: FIFO timeout after 4 chars */
#define SERIAL_DEFAULT_DIVISOR 12 /* 9600 baud until the guest sets one */

/* Register offsets (PC16550D Table II). */
#define SERIAL_RBR 0 /* read, DLAB=0: receiver buffer */
#define SERIAL_THR 0 /* write, DLAB=0: transmitter holding */
#define SERIAL_DLL 0 /* DLAB=1: divisor latch LSB */
#define SERIAL_IER 1 /* DLAB=0 */
#define SERIAL_DLM 1 /* DLAB=1: divisor latch MSB */
#define SERIAL_IIR 2 /* read */
#define SERIAL_FCR 2 /* write */
#define SERIAL_LCR 3
#define SERIAL_MCR 4
#define SERIAL_LSR 5
#define SERIAL_MSR 6
#define SERIAL_SCR 7

#define SERIAL_IER_ERBFI 0x01 /* received data available */
#define SERIAL_IER_ETBEI 0x02 /* transmitter holding register empty */
#define SERIAL_IER_ELSI 0x04  /* receiver line status */
#define SERIAL_IER_EDSSI 0x08 /* modem status */
#define SERIAL_IER_MASK 0x0f

#define SERIAL_IIR_NO_INT 0x01
#define SERIAL_IIR_MSI 0x00   /* modem status (priority 4) */
#define SERIAL_IIR_THRI 0x02  /* THR empty (3) */
#define SERIAL_IIR_RDI 0x04   /* received data available (2) */
#define SERIAL_IIR_RLSI 0x06  /* receiver line status (1, highest) */
#define SERIAL_IIR_CTI 0x0c   /* character timeout (2) */
#define SERIAL_IIR_FIFOS 0xc0 /* FIFOs enabled */

#define SERIAL_FCR_FE 0x01 /* FIFO enable */
#define SERIAL_FCR_RX_RESET 0x02
#define SERIAL_FCR_TX_RESET 0x04
#define SERIAL_FCR_DMA 0x08
#define SERIAL_FCR_TRIGGER 0xc0 /* RX trigger: 1, 4, 8, 14 bytes */

#define SERIAL_LCR_WLS 0x03 /* word length 5..8 */
#define SERIAL_LCR_STB 0x04 /* 1.5 / 2 stop bits */
#define SERIAL_LCR_PEN 0x08 /* parity enable */
#define SERIAL_LCR_BREAK 0x40
#define SERIAL_LCR_DLAB 0x80 /* divisor latch access */

#define SERIAL_MCR_DTR 0x01
#define SERIAL_MCR_RTS 0x02
#define SERIAL_MCR_OUT1 0x04
#define SERIAL_MCR_OUT2 0x08 /* PC: enables the IRQ driver */
#define SERIAL_MCR_LOOP 0x10
#define SERIAL_MCR_MASK 0x1f

#define SERIAL_LSR_DR 0x01 /* data ready */
#define SERIAL_LSR_OE 0x02 /* overrun */
#define SERIAL_LSR_PE 0x04
#define SERIAL_LSR_FE 0x08
#define SERIAL_LSR_BI 0x10
#define SERIAL_LSR_THRE 0x20  /* THR (TX FIFO) empty */
#define SERIAL_LSR_TEMT 0x40  /* THR and shift register empty */
#define SERIAL_LSR_RXERR 0x80 /* error in RCVR FIFO */
#define SERIAL_LSR_ERRORS \
    (SERIAL_LSR_OE | SERIAL_LSR_PE | SERIAL_LSR_FE | SERIAL_LSR_BI)

#define SERIAL_MSR_DCTS 0x01
#define SERIAL_MSR_DDSR 0x02
#define SERIAL_MSR_TERI 0x04 /* trailing edge of RI */
#define SERIAL_MSR_DDCD 0x08
#define SERIAL_MSR_DELTAS 0x0f
#define SERIAL_MSR_CTS 0x10
#define SERIAL_MSR_DSR 0x20
#define SERIAL_MSR_RI 0x40
#define SERIAL_MSR_DCD 0x80
/* A cable with the other end up: carrier, data set ready, clear to send. */
#define SERIAL_MSR_CONNECTED (SERIAL_MSR_DCD | SERIAL_MSR_DSR | SERIAL_MSR_CTS)

static const uint16_t serial_default_iobase[] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
static const uint8_t serial_default_irq[] = { 4, 3, 4, 3 };

struct serial {
    struct dm_dev dev;
    /* properties */
    uint32_t index;  /* COM1..4 defaults; auto: next free */
    uint16_t iobase; /* 0: from the index */
    uint8_t irq;     /* 0: from the index */
    struct dm_chr *chr;
    /* registers */
    uint16_t divisor;
    uint8_t rbr; /* last byte read (16450 mode: the holding reg) */
    uint8_t ier, fcr, lcr, mcr, lsr, msr, scr;
    bool thr_ipending;     /* THRE interrupt armed, cleared by IIR read */
    bool timeout_ipending; /* character timeout interrupt */
    uint8_t rx_fifo[SERIAL_FIFO_SIZE];
    uint8_t rx_head, rx_count;
    uint8_t tx_fifo[SERIAL_FIFO_SIZE];
    uint8_t tx_count;
    int64_t timeout_left; /* saved: ns to the timeout, -1 when idle */
    struct dm_timer timeout_timer;
    struct dm_irq_line irq_line;
    struct dm_io_region io;
    bool attached;
};

static bool serial_fifo_on(struct serial *s)
{
    return s->fcr & SERIAL_FCR_FE;
}

static unsigned serial_rx_trigger(struct serial *s)
{
    static const uint8_t level[] = { 1, 4, 8, 14 };

    return level[(s->fcr & SERIAL_FCR_TRIGGER) >> 6];
}

/* The pending interrupt of highest priority, as IIR bits 0-3. */
static uint8_t serial_iir_id(struct serial *s)
{
    if ((s->ier & SERIAL_IER_ELSI) && (s->lsr & SERIAL_LSR_ERRORS)) {
        return SERIAL_IIR_RLSI;
    }
    if (s->ier & SERIAL_IER_ERBFI) {
        if (serial_fifo_on(s)) {
            if (s->rx_count >= serial_rx_trigger(s)) {
                return SERIAL_IIR_RDI;
            }
            if (s->timeout_ipending) {
                return SERIAL_IIR_CTI;
            }
        } else if (s->lsr & SERIAL_LSR_DR) {
            return SERIAL_IIR_RDI;
        }
    }
    if ((s->ier & SERIAL_IER_ETBEI) && s->thr_ipending) {
        return SERIAL_IIR_THRI;
    }
    if ((s->ier & SERIAL_IER_EDSSI) && (s->msr & SERIAL_MSR_DELTAS)) {
        return SERIAL_IIR_MSI;
    }
    return SERIAL_IIR_NO_INT;
}

/*
 * INTR reaches the ISA line through a driver enabled by OUT2 (active low on
 * the pin). In loopback the UART forces OUT2 inactive, so the line is off.
 */
static void serial_update_irq(struct serial *s)
{
    bool gate =
        (s->mcr & (SERIAL_MCR_OUT2 | SERIAL_MCR_LOOP)) == SERIAL_MCR_OUT2;

    dm_irq_set(&s->irq_line, gate && serial_iir_id(s) != SERIAL_IIR_NO_INT);
}

/* Nanoseconds per character frame (start, data, parity, stop bits). */
static int64_t serial_char_ns(struct serial *s)
{
    unsigned wl = 5 + (s->lcr & SERIAL_LCR_WLS);
    unsigned half_bits = 2 * (1 + wl + !!(s->lcr & SERIAL_LCR_PEN));
    /* A divisor of 0 counts 65536 input clocks. */
    uint64_t div = s->divisor ? s->divisor : 65536;

    if (s->lcr & SERIAL_LCR_STB) {
        half_bits += wl == 5 ? 3 : 4;
    } else {
        half_bits += 2;
    }
    return (int64_t)(half_bits * div * 1000000000ull / (2 * SERIAL_INPUT_HZ));
}

/* Data entered or left the RX FIFO: the timeout starts over. */
static void serial_rx_activity(struct serial *s)
{
    s->timeout_ipending = false;
    if (serial_fifo_on(s) && s->rx_count) {
        dm_timer_mod(&s->timeout_timer,
                     dm_clock_now(s->dev.m->clock) +
                         SERIAL_TIMEOUT_CHARS * serial_char_ns(s));
    } else {
        dm_timer_del(&s->timeout_timer);
    }
}

static void serial_timeout(void *opaque)
{
    struct serial *s = opaque;

    if (serial_fifo_on(s) && s->rx_count) {
        dm_trace(serial_timeout, "%s: character timeout, %u bytes", s->dev.id,
                 s->rx_count);
        s->timeout_ipending = true;
        serial_update_irq(s);
    }
}

static void serial_rx_clear(struct serial *s)
{
    s->rx_head = 0;
    s->rx_count = 0;
    s->lsr &= ~(SERIAL_LSR_DR | SERIAL_LSR_RXERR);
    serial_rx_activity(s);
}

static void serial_receive_byte(struct serial *s, uint8_t b)
{
    dm_trace(serial_rx, "%s: rx 0x%02x", s->dev.id, b);
    if (serial_fifo_on(s)) {
        if (s->rx_count == SERIAL_FIFO_SIZE) {
            /* the shift register's byte is overwritten, not queued */
            s->lsr |= SERIAL_LSR_OE;
        } else {
            s->rx_fifo[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = b;
            s->rx_count++;
        }
        serial_rx_activity(s);
    } else {
        if (s->lsr & SERIAL_LSR_DR) {
            s->lsr |= SERIAL_LSR_OE;
        }
        s->rbr = b;
    }
    s->lsr |= SERIAL_LSR_DR;
}

static void serial_accept_input(struct serial *s)
{
    if (s->chr && s->attached) {
        dm_chr_accept_input(s->chr);
    }
}

/* ---- the character device side ------------------------------------------- */

static int serial_can_read(void *opaque)
{
    struct serial *s = opaque;

    if (s->mcr & SERIAL_MCR_LOOP) {
        return 0; /* the serial input is disconnected in loopback */
    }
    if (serial_fifo_on(s)) {
        return SERIAL_FIFO_SIZE - s->rx_count;
    }
    return (s->lsr & SERIAL_LSR_DR) ? 0 : 1;
}

static void serial_chr_read(void *opaque, const uint8_t *buf, int len)
{
    struct serial *s = opaque;

    for (int i = 0; i < len; i++) {
        serial_receive_byte(s, buf[i]);
    }
    serial_update_irq(s);
}

/* Everything in the TX FIFO goes out now: to RX in loopback, else to the
 * chardev; then the transmitter is empty and says so. */
static void serial_tx_drain(struct serial *s)
{
    uint8_t n = MIN(s->tx_count, SERIAL_FIFO_SIZE);

    if (s->mcr & SERIAL_MCR_LOOP) {
        for (uint8_t i = 0; i < n; i++) {
            serial_receive_byte(s, s->tx_fifo[i]);
        }
    } else if (s->chr && n) {
        dm_chr_write(s->chr, s->tx_fifo, n);
    }
    s->tx_count = 0;
    s->lsr |= SERIAL_LSR_THRE | SERIAL_LSR_TEMT;
    s->thr_ipending = true;
}

/* ---- registers --------------------------------------------------------------- */

/* MSR bits 4-7 from the modem inputs (in loopback: from MCR), with the
 * delta bits of what changed. */
static void serial_update_msr(struct serial *s)
{
    uint8_t in, old = s->msr & ~SERIAL_MSR_DELTAS, changed;

    if (s->mcr & SERIAL_MCR_LOOP) {
        in = (s->mcr & SERIAL_MCR_RTS ? SERIAL_MSR_CTS : 0) |
             (s->mcr & SERIAL_MCR_DTR ? SERIAL_MSR_DSR : 0) |
             (s->mcr & SERIAL_MCR_OUT1 ? SERIAL_MSR_RI : 0) |
             (s->mcr & SERIAL_MCR_OUT2 ? SERIAL_MSR_DCD : 0);
    } else {
        in = SERIAL_MSR_CONNECTED;
    }
    changed = old ^ in;
    s->msr = in | (s->msr & SERIAL_MSR_DELTAS);
    if (changed & SERIAL_MSR_CTS) {
        s->msr |= SERIAL_MSR_DCTS;
    }
    if (changed & SERIAL_MSR_DSR) {
        s->msr |= SERIAL_MSR_DDSR;
    }
    if (changed & SERIAL_MSR_DCD) {
        s->msr |= SERIAL_MSR_DDCD;
    }
    if ((old & SERIAL_MSR_RI) && !(in & SERIAL_MSR_RI)) {
        s->msr |= SERIAL_MSR_TERI;
    }
}

static void serial_write_fcr(struct serial *s, uint8_t val)
{
    bool can_read_changed = false;

    if ((val ^ s->fcr) & SERIAL_FCR_FE) {
        /* switching between 16450 and FIFO mode empties both FIFOs */
        s->tx_count = 0;
        serial_rx_clear(s);
        can_read_changed = true;
    }
    if (!(val & SERIAL_FCR_FE)) {
        /* the other bits are programmed only while FCR0 is set */
        s->fcr = 0;
    } else {
        if (val & SERIAL_FCR_RX_RESET) {
            serial_rx_clear(s);
            can_read_changed = true;
        }
        if (val & SERIAL_FCR_TX_RESET) {
            s->tx_count = 0;
        }
        s->fcr = val & (SERIAL_FCR_FE | SERIAL_FCR_DMA | SERIAL_FCR_TRIGGER);
    }
    if (can_read_changed) {
        serial_accept_input(s);
    }
}

static void serial_write_thr(struct serial *s, uint8_t val)
{
    dm_trace(serial_tx, "%s: tx 0x%02x", s->dev.id, val);
    if (serial_fifo_on(s)) {
        if (s->tx_count < SERIAL_FIFO_SIZE) {
            s->tx_fifo[s->tx_count++] = val;
        }
    } else {
        s->tx_fifo[0] = val;
        s->tx_count = 1;
    }
    s->thr_ipending = false;
    s->lsr &= ~(SERIAL_LSR_THRE | SERIAL_LSR_TEMT);
    serial_tx_drain(s);
}

static uint8_t serial_read_rbr(struct serial *s)
{
    if (serial_fifo_on(s)) {
        if (s->rx_count) {
            s->rbr = s->rx_fifo[s->rx_head];
            s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
            s->rx_count--;
        }
        if (!s->rx_count) {
            s->lsr &= ~(SERIAL_LSR_DR | SERIAL_LSR_RXERR);
        }
        serial_rx_activity(s);
    } else {
        s->lsr &= ~SERIAL_LSR_DR;
    }
    serial_accept_input(s);
    return s->rbr;
}

static uint64_t serial_io_read(void *opaque, uint64_t off, unsigned size)
{
    struct serial *s = opaque;
    bool dlab = s->lcr & SERIAL_LCR_DLAB;
    uint8_t v;

    switch (off) {
    case SERIAL_RBR:
        v = dlab ? (uint8_t)s->divisor : serial_read_rbr(s);
        break;
    case SERIAL_IER:
        v = dlab ? (uint8_t)(s->divisor >> 8) : s->ier;
        break;
    case SERIAL_IIR:
        v = serial_iir_id(s);
        if (v == SERIAL_IIR_THRI) {
            s->thr_ipending = false; /* reading IIR reports it once */
        }
        if (serial_fifo_on(s)) {
            v |= SERIAL_IIR_FIFOS;
        }
        break;
    case SERIAL_LCR:
        v = s->lcr;
        break;
    case SERIAL_MCR:
        v = s->mcr;
        break;
    case SERIAL_LSR:
        v = s->lsr;
        s->lsr &= ~(SERIAL_LSR_ERRORS | SERIAL_LSR_RXERR);
        break;
    case SERIAL_MSR:
        v = s->msr;
        s->msr &= ~SERIAL_MSR_DELTAS;
        break;
    case SERIAL_SCR:
        v = s->scr;
        break;
    default:
        return 0xff; /* unreachable: the region is 8 bytes */
    }
    serial_update_irq(s);
    dm_trace(serial_read, "%s: read 0x%x -> 0x%02x", s->dev.id, (unsigned)off,
             v);
    return v;
}

static void serial_io_write(void *opaque, uint64_t off, uint64_t val,
                            unsigned size)
{
    struct serial *s = opaque;
    bool dlab = s->lcr & SERIAL_LCR_DLAB;
    uint8_t v = (uint8_t)val, old;

    dm_trace(serial_write, "%s: write 0x%x <- 0x%02x", s->dev.id, (unsigned)off,
             v);
    switch (off) {
    case SERIAL_THR:
        if (dlab) {
            s->divisor = (uint16_t)((s->divisor & 0xff00) | v);
        } else {
            serial_write_thr(s, v);
        }
        break;
    case SERIAL_IER:
        if (dlab) {
            s->divisor = (uint16_t)((s->divisor & 0x00ff) | v << 8);
            break;
        }
        old = s->ier;
        s->ier = v & SERIAL_IER_MASK;
        if (!(old & SERIAL_IER_ETBEI) && (s->ier & SERIAL_IER_ETBEI) &&
            (s->lsr & SERIAL_LSR_THRE)) {
            /* enabling ETBEI with THR empty interrupts at once */
            s->thr_ipending = true;
        } else if (!(s->ier & SERIAL_IER_ETBEI)) {
            s->thr_ipending = false;
        }
        break;
    case SERIAL_FCR:
        serial_write_fcr(s, v);
        break;
    case SERIAL_LCR:
        if ((v ^ s->lcr) & SERIAL_LCR_BREAK) {
            dm_trace(serial_break, "%s: break %s", s->dev.id,
                     v & SERIAL_LCR_BREAK ? "on" : "off");
        }
        s->lcr = v;
        break;
    case SERIAL_MCR:
        old = s->mcr;
        s->mcr = v & SERIAL_MCR_MASK;
        if (old != s->mcr) {
            serial_update_msr(s);
        }
        if ((old ^ s->mcr) & SERIAL_MCR_LOOP) {
            serial_accept_input(s);
        }
        break;
    case SERIAL_LSR:
    case SERIAL_MSR:
        /* factory test access on the PC16550D: not emulated */
        dm_trace(serial_write_ro, "%s: write to read-only 0x%x ignored",
                 s->dev.id, (unsigned)off);
        break;
    case SERIAL_SCR:
        s->scr = v;
        break;
    default:
        break;
    }
    serial_update_irq(s);
}

static const struct dm_io_ops serial_io_ops = {
    .read = serial_io_read,
    .write = serial_io_write,
    .valid = { .min = 1, .max = 4 },
    .impl = { .min = 1, .max = 1 },
};

/* ---- device ------------------------------------------------------------------- */

/* Master reset (PC16550D Table IV); the divisor and SCR keep their value. */
static void serial_reset(struct dm_dev *d)
{
    struct serial *s = dm_container_of(d, struct serial, dev);

    s->ier = 0;
    s->fcr = 0;
    s->lcr = 0;
    s->mcr = 0;
    s->lsr = SERIAL_LSR_THRE | SERIAL_LSR_TEMT;
    s->msr = SERIAL_MSR_CONNECTED;
    s->rbr = 0;
    s->tx_count = 0;
    s->thr_ipending = false;
    serial_rx_clear(s);
    serial_update_irq(s);
    serial_accept_input(s);
}

/* The next COM index not taken by another isa-serial of the machine. */
static uint32_t serial_auto_index(struct serial *s)
{
    GPtrArray *devs = s->dev.m->devs;
    uint32_t used = 0;

    for (guint i = 0; i < devs->len; i++) {
        struct dm_dev *d = g_ptr_array_index(devs, i);

        if (d != &s->dev && d->type == s->dev.type) {
            struct serial *o = dm_container_of(d, struct serial, dev);

            if (o->index < 32) {
                used |= 1u << o->index;
            }
        }
    }
    for (uint32_t i = 0; i < DM_ARRAY_SIZE(serial_default_iobase); i++) {
        if (!(used & (1u << i))) {
            return i;
        }
    }
    return DM_ARRAY_SIZE(serial_default_iobase);
}

static bool serial_realize(struct dm_dev *d, GError **errp)
{
    struct serial *s = dm_container_of(d, struct serial, dev);
    const struct dm_chr_frontend fe = {
        .can_read = serial_can_read,
        .read = serial_chr_read,
        .opaque = s,
    };

    if (s->index == SERIAL_INDEX_AUTO) {
        s->index = serial_auto_index(s);
    }
    if ((!s->iobase || !s->irq) &&
        s->index >= DM_ARRAY_SIZE(serial_default_iobase)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "isa-serial[%s]: index=%u: expected 0..3, or give iobase= "
                    "and irq=",
                    d->id, s->index);
        return false;
    }
    if (!s->iobase) {
        s->iobase = serial_default_iobase[s->index];
    }
    if (!s->irq) {
        s->irq = serial_default_irq[s->index];
    }
    if (s->irq >= DM_ISA_IRQS || s->iobase > 0x10000 - SERIAL_NR_PORTS) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "isa-serial[%s]: iobase=0x%x irq=%u: expected an iobase "
                    "up to 0xfff8 and an irq of 1..15",
                    d->id, s->iobase, s->irq);
        return false;
    }
    s->divisor = SERIAL_DEFAULT_DIVISOR;
    s->scr = 0;
    dm_timer_init(&s->timeout_timer, d->m->clock, serial_timeout, s);
    dm_io_region_init(&s->io, "isa-serial", &serial_io_ops, s, SERIAL_NR_PORTS);
    if (!dm_isa_irq_connect(d->m, &s->irq_line, s->irq, errp) ||
        !dm_io_map(d->m->pio, &s->io, s->iobase, errp)) {
        g_prefix_error(errp, "isa-serial[%s]: ", d->id);
        return false;
    }
    if (s->chr) {
        if (!dm_chr_attach(s->chr, &fe, errp)) {
            g_prefix_error(errp, "isa-serial[%s]: ", d->id);
            dm_io_unmap(&s->io);
            return false;
        }
        s->attached = true;
    }
    return true;
}

static void serial_unrealize(struct dm_dev *d)
{
    struct serial *s = dm_container_of(d, struct serial, dev);

    if (s->attached) {
        dm_chr_detach(s->chr);
        s->attached = false;
    }
    dm_timer_del(&s->timeout_timer);
    dm_io_unmap(&s->io);
}

/* ---- saved state ---------------------------------------------------------- */

static bool serial_pre_save(void *opaque, GError **errp)
{
    struct serial *s = opaque;

    s->timeout_left = -1;
    if (dm_timer_pending(&s->timeout_timer)) {
        s->timeout_left =
            MAX(s->timeout_timer.deadline - dm_clock_now(s->dev.m->clock), 0);
    }
    return true;
}

static bool serial_post_load(void *opaque, int version, GError **errp)
{
    struct serial *s = opaque;

    if (s->rx_head >= SERIAL_FIFO_SIZE || s->rx_count > SERIAL_FIFO_SIZE ||
        s->tx_count > SERIAL_FIFO_SIZE ||
        (!(s->fcr & SERIAL_FCR_FE) && (s->rx_count || s->tx_count > 1))) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "isa-serial[%s]: FIFO state out of range: rx %u at %u, "
                    "tx %u, fcr 0x%02x",
                    s->dev.id, s->rx_count, s->rx_head, s->tx_count, s->fcr);
        return false;
    }
    if (s->timeout_left < -1) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "isa-serial[%s]: timeout %" PRId64 " ns out of range",
                    s->dev.id, s->timeout_left);
        return false;
    }
    s->ier &= SERIAL_IER_MASK;
    s->mcr &= SERIAL_MCR_MASK;
    s->fcr &= SERIAL_FCR_FE | SERIAL_FCR_DMA | SERIAL_FCR_TRIGGER;
    if (serial_fifo_on(s)) {
        s->lsr = (uint8_t)((s->lsr & ~SERIAL_LSR_DR) |
                           (s->rx_count ? SERIAL_LSR_DR : 0));
    }
    if (s->timeout_left >= 0 && serial_fifo_on(s) && s->rx_count) {
        dm_timer_mod(&s->timeout_timer,
                     dm_clock_now(s->dev.m->clock) + s->timeout_left);
    } else {
        dm_timer_del(&s->timeout_timer);
    }
    if (s->tx_count) {
        serial_tx_drain(s);
    }
    serial_update_irq(s);
    serial_accept_input(s);
    return true;
}

static const struct dm_vmstate_field serial_vmstate_fields[] = {
    DM_VMS_UINT16(struct serial, divisor),
    DM_VMS_UINT8(struct serial, rbr),
    DM_VMS_UINT8(struct serial, ier),
    DM_VMS_UINT8(struct serial, fcr),
    DM_VMS_UINT8(struct serial, lcr),
    DM_VMS_UINT8(struct serial, mcr),
    DM_VMS_UINT8(struct serial, lsr),
    DM_VMS_UINT8(struct serial, msr),
    DM_VMS_UINT8(struct serial, scr),
    DM_VMS_BOOL(struct serial, thr_ipending),
    DM_VMS_BOOL(struct serial, timeout_ipending),
    DM_VMS_BUFFER(struct serial, rx_fifo),
    DM_VMS_UINT8(struct serial, rx_head),
    DM_VMS_UINT8(struct serial, rx_count),
    DM_VMS_BUFFER(struct serial, tx_fifo),
    DM_VMS_UINT8(struct serial, tx_count),
    DM_VMS_INT64(struct serial, timeout_left),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate serial_vmstate = {
    .name = "isa-serial",
    .version = 1,
    .min_version = 1,
    .fields = serial_vmstate_fields,
    .pre_save = serial_pre_save,
    .post_load = serial_post_load,
};

static const struct dm_prop serial_props[] = {
    DM_PROP(struct serial, index, DM_PROP_U32, "0xffffffff"),
    DM_PROP(struct serial, iobase, DM_PROP_U16, NULL),
    DM_PROP(struct serial, irq, DM_PROP_U8, NULL),
    DM_PROP_NAMED("chardev", struct serial, chr, DM_PROP_CHR, NULL),
    DM_PROP_END,
};

const struct dm_dev_type serial_type = {
    .name = "isa-serial",
    .bus = DM_BUS_ISA,
    .size = sizeof(struct serial),
    .props = serial_props,
    .user_creatable = true,
    .realize = serial_realize,
    .unrealize = serial_unrealize,
    .reset = serial_reset,
    .vmsd = &serial_vmstate,
    .desc = "16550A UART (COM port)",
};
