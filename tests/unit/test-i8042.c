/*
 * test-i8042.c: the keyboard controller ("i8042") with its PS/2 keyboard and
 * mouse, and System Control Port A ("port92"), through ports 0x60/0x64/0x92
 * and the input layer on the qtest machine.
 */
#include "hvmdm/dev.h"
#include "hvmdm/input.h"
#include "hvmdm/keycodes.h"
#include "hvmdm/machine.h"
#include "hvmdm/vmstate.h"

#include "harness.h"

#define DATA 0x60
#define CMD 0x64
#define PORT92 0x92
#define KBD_IRQ 1
#define AUX_IRQ 12

#define STR_OBF 0x01
#define STR_SYS 0x04
#define STR_CMD 0x08
#define STR_AUXDATA 0x20

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_ENABLE 0xa8
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTPUT 0xd0
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_PULSE_RESET 0xfe

#define ACK 0xfa

static struct dm_machine *kbc_machine(void)
{
    struct dm_machine *m = th_machine_new("");
    GError *err = NULL;
    struct dm_dev *d = dm_dev_new(m, "i8042", "", &err);

    g_assert_no_error(err);
    g_assert_nonnull(d);
    dm_dev_new(m, "port92", "", &err);
    g_assert_no_error(err);
    dm_machine_reset(m);
    return m;
}

static struct dm_dev *find_dev(struct dm_machine *m, const char *type)
{
    for (guint i = 0; i < m->devs->len; i++) {
        struct dm_dev *d = g_ptr_array_index(m->devs, i);

        if (strcmp(d->type->name, type) == 0) {
            return d;
        }
    }
    g_assert_not_reached();
}

static void write_ctr(struct dm_machine *m, uint8_t ctr)
{
    th_outb(m, CMD, CMD_WRITE_CTR);
    th_outb(m, DATA, ctr);
}

/* Read one byte, which must be there. */
static uint8_t read_byte(struct dm_machine *m)
{
    g_assert_cmphex(th_inb(m, CMD) & STR_OBF, ==, STR_OBF);
    return th_inb(m, DATA);
}

static void assert_empty(struct dm_machine *m)
{
    g_assert_cmphex(th_inb(m, CMD) & STR_OBF, ==, 0);
}

/* Read everything pending into BUF; returns the count. */
static unsigned drain(struct dm_machine *m, uint8_t *buf, unsigned max)
{
    unsigned n = 0;

    while (th_inb(m, CMD) & STR_OBF) {
        uint8_t v = th_inb(m, DATA);

        if (n < max) {
            buf[n] = v;
        }
        n++;
        g_assert_cmpuint(n, <, 1000);
    }
    return n;
}

static void mouse_cmd(struct dm_machine *m, uint8_t val)
{
    th_outb(m, CMD, CMD_WRITE_AUX);
    th_outb(m, DATA, val);
}

/* Interface enabled, reporting on, interrupts for both devices. */
static void mouse_enable(struct dm_machine *m)
{
    write_ctr(m, CTR_KBDINT | CTR_AUXINT | CTR_SYS | CTR_XLATE);
    th_outb(m, CMD, CMD_AUX_ENABLE);
    mouse_cmd(m, 0xf4);
    g_assert_cmphex(th_inb(m, CMD) & STR_AUXDATA, ==, STR_AUXDATA);
    g_assert_cmphex(read_byte(m), ==, ACK);
    assert_empty(m);
}

static void test_i8042_self_test_returns_0x55(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, CMD, CMD_SELF_TEST);
    g_assert_cmphex(read_byte(m), ==, 0x55);
    g_assert_cmphex(th_inb(m, CMD) & (STR_SYS | STR_CMD), ==,
                    STR_SYS | STR_CMD);
    th_outb(m, CMD, CMD_KBD_TEST);
    g_assert_cmphex(read_byte(m), ==, 0x00);
    assert_empty(m);
    th_pc_free(m);
}

static void test_i8042_command_byte_read_write(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, CMD, CMD_READ_CTR);
    g_assert_cmphex(read_byte(m), ==, CTR_KBDINT | CTR_AUXINT | CTR_XLATE);
    write_ctr(m, CTR_XLATE | CTR_AUXDIS | CTR_SYS);
    g_assert_cmphex(th_inb(m, CMD) & STR_CMD, ==, 0); /* last: data */
    th_outb(m, CMD, CMD_READ_CTR);
    g_assert_cmphex(read_byte(m), ==, CTR_XLATE | CTR_AUXDIS | CTR_SYS);
    g_assert_cmphex(th_inb(m, CMD) & STR_SYS, ==, STR_SYS);
    th_pc_free(m);
}

static void test_i8042_key_translated_to_set1(void)
{
    struct dm_machine *m = kbc_machine();
    uint8_t buf[8];

    dm_input_key(m->input, KEY_A, true);
    dm_input_key(m->input, KEY_A, false);
    dm_input_key(m->input, KEY_RIGHTCTRL, true);
    dm_input_key(m->input, KEY_RIGHTCTRL, false);
    g_assert_cmpuint(drain(m, buf, sizeof(buf)), ==, 6);
    g_assert_cmphex(buf[0], ==, 0x1e);
    g_assert_cmphex(buf[1], ==, 0x9e);
    g_assert_cmphex(buf[2], ==, 0xe0);
    g_assert_cmphex(buf[3], ==, 0x1d);
    g_assert_cmphex(buf[4], ==, 0xe0);
    g_assert_cmphex(buf[5], ==, 0x9d);
    th_pc_free(m);
}

static void test_i8042_key_in_set2_without_translation(void)
{
    struct dm_machine *m = kbc_machine();
    uint8_t buf[8];

    write_ctr(m, CTR_KBDINT);
    dm_input_key(m->input, KEY_A, true);
    dm_input_key(m->input, KEY_A, false);
    dm_input_key(m->input, KEY_HOME, false);
    g_assert_cmpuint(drain(m, buf, sizeof(buf)), ==, 6);
    g_assert_cmphex(buf[0], ==, 0x1c);
    g_assert_cmphex(buf[1], ==, 0xf0);
    g_assert_cmphex(buf[2], ==, 0x1c);
    g_assert_cmphex(buf[3], ==, 0xe0);
    g_assert_cmphex(buf[4], ==, 0xf0);
    g_assert_cmphex(buf[5], ==, 0x6c);
    th_pc_free(m);
}

static void test_i8042_keyboard_set1_emitted_directly(void)
{
    struct dm_machine *m = kbc_machine();
    uint8_t buf[8];

    write_ctr(m, CTR_KBDINT);
    th_outb(m, DATA, 0xf0); /* select scan code set */
    g_assert_cmphex(read_byte(m), ==, ACK);
    th_outb(m, DATA, 0x01);
    g_assert_cmphex(read_byte(m), ==, ACK);
    dm_input_key(m->input, KEY_PAUSE, true);
    g_assert_cmpuint(drain(m, buf, sizeof(buf)), ==, 6);
    g_assert_cmphex(buf[0], ==, 0xe1);
    g_assert_cmphex(buf[1], ==, 0x1d);
    g_assert_cmphex(buf[2], ==, 0x45);
    g_assert_cmphex(buf[5], ==, 0xc5);
    th_outb(m, DATA, 0xf0);
    th_outb(m, DATA, 0x00); /* query */
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, 0x01);
    th_pc_free(m);
}

static void test_i8042_irq1_raised_then_lowered_by_read(void)
{
    struct dm_machine *m = kbc_machine();

    g_assert_cmpint(th_irq_level(m, KBD_IRQ), ==, 0);
    dm_input_key(m->input, KEY_RIGHTCTRL, true); /* 0xe0 0x1d */
    g_assert_cmpint(th_irq_level(m, KBD_IRQ), ==, 1);
    g_assert_cmphex(th_inb(m, DATA), ==, 0xe0);
    /* The next byte follows at once: the line went down and up again. */
    g_assert_cmpint(th_irq_level(m, KBD_IRQ), ==, 1);
    g_assert_cmphex(th_inb(m, DATA), ==, 0x1d);
    g_assert_cmpint(th_irq_level(m, KBD_IRQ), ==, 0);
    g_assert_cmpint(th_irq_level(m, AUX_IRQ), ==, 0);
    th_pc_free(m);
}

static void test_i8042_no_irq1_when_disabled_in_command_byte(void)
{
    struct dm_machine *m = kbc_machine();

    write_ctr(m, CTR_XLATE);
    dm_input_key(m->input, KEY_A, true);
    g_assert_cmpint(th_irq_level(m, KBD_IRQ), ==, 0);
    g_assert_cmphex(read_byte(m), ==, 0x1e);
    th_pc_free(m);
}

static void test_i8042_keyboard_interface_disable_holds_keys(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, CMD, CMD_KBD_DISABLE);
    dm_input_key(m->input, KEY_A, true);
    assert_empty(m);
    th_outb(m, CMD, CMD_KBD_ENABLE);
    g_assert_cmphex(read_byte(m), ==, 0x1e);
    th_pc_free(m);
}

static void test_i8042_keyboard_reset_reply(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, DATA, 0xff);
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, 0xaa);
    assert_empty(m);
    th_pc_free(m);
}

static void test_i8042_keyboard_id_translated_and_raw(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, DATA, 0xf2);
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, 0xab);
    g_assert_cmphex(read_byte(m), ==, 0x41); /* 0x83 through XLATE */
    write_ctr(m, CTR_KBDINT);
    th_outb(m, DATA, 0xf2);
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, 0xab);
    g_assert_cmphex(read_byte(m), ==, 0x83);
    th_pc_free(m);
}

static void test_i8042_keyboard_leds_reach_input_layer(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, DATA, 0xed);
    g_assert_cmphex(read_byte(m), ==, ACK);
    th_outb(m, DATA, 0x06); /* num + caps */
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(dm_input_leds(m->input), ==,
                    DM_LED_NUM_LOCK | DM_LED_CAPS_LOCK);
    th_pc_free(m);
}

static void test_i8042_keyboard_disabled_drops_keys(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, DATA, 0xf5);
    g_assert_cmphex(read_byte(m), ==, ACK);
    dm_input_key(m->input, KEY_B, true);
    assert_empty(m);
    th_outb(m, DATA, 0xf4);
    g_assert_cmphex(read_byte(m), ==, ACK);
    dm_input_key(m->input, KEY_B, true);
    g_assert_cmphex(read_byte(m), ==, 0x30);
    th_pc_free(m);
}

static void test_i8042_key_queue_overflow_keeps_working(void)
{
    struct dm_machine *m = kbc_machine();
    uint8_t buf[64];
    unsigned n;

    for (int i = 0; i < 200; i++) {
        dm_input_key(m->input, KEY_DELETE, i % 2 == 0); /* 2 bytes each */
    }
    n = drain(m, buf, sizeof(buf));
    /* At most the output buffer and the 16-byte queue; the last byte is the
     * overrun code (set 2 0x00, translated to 0xff). */
    g_assert_cmpuint(n, >, 8);
    g_assert_cmpuint(n, <=, 17);
    g_assert_cmphex(buf[n - 1], ==, 0xff);
    dm_input_key(m->input, KEY_A, true);
    g_assert_cmphex(read_byte(m), ==, 0x1e);
    th_pc_free(m);
}

static void test_i8042_mouse_reset_reply(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, CMD, CMD_AUX_ENABLE);
    mouse_cmd(m, 0xff);
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, 0xaa);
    g_assert_cmphex(read_byte(m), ==, 0x00);
    assert_empty(m);
    th_pc_free(m);
}

static void test_i8042_mouse_motion_makes_packet_and_irq12(void)
{
    struct dm_machine *m = kbc_machine();

    mouse_enable(m);
    dm_input_mouse_rel(m->input, 10, 5, 0, DM_BTN_LEFT);
    g_assert_cmpint(th_irq_level(m, AUX_IRQ), ==, 1);
    g_assert_cmpint(th_irq_level(m, KBD_IRQ), ==, 0);
    g_assert_cmphex(th_inb(m, CMD) & STR_AUXDATA, ==, STR_AUXDATA);
    g_assert_cmphex(read_byte(m), ==, 0x08 | 0x01 | 0x20); /* left, y < 0 */
    g_assert_cmphex(read_byte(m), ==, 10);
    g_assert_cmphex(read_byte(m), ==, 0xfb); /* -5: down */
    g_assert_cmpint(th_irq_level(m, AUX_IRQ), ==, 0);
    assert_empty(m);
    th_pc_free(m);
}

static void test_i8042_mouse_large_motion_is_split(void)
{
    struct dm_machine *m = kbc_machine();
    uint8_t buf[16];

    mouse_enable(m);
    dm_input_mouse_rel(m->input, -300, 0, 0, 0);
    g_assert_cmpuint(drain(m, buf, sizeof(buf)), ==, 6);
    g_assert_cmphex(buf[0], ==, 0x08 | 0x10); /* x negative */
    g_assert_cmphex(buf[1], ==, (uint8_t)-255);
    g_assert_cmphex(buf[3], ==, 0x08 | 0x10);
    g_assert_cmphex(buf[4], ==, (uint8_t)-45);
    th_pc_free(m);
}

static void test_i8042_intellimouse_knock_gives_id3_and_wheel(void)
{
    static const uint8_t knock[] = { 200, 100, 80 };
    struct dm_machine *m = kbc_machine();

    mouse_enable(m);
    mouse_cmd(m, 0xf2);
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, 0x00);
    for (unsigned i = 0; i < DM_ARRAY_SIZE(knock); i++) {
        mouse_cmd(m, 0xf3);
        g_assert_cmphex(read_byte(m), ==, ACK);
        mouse_cmd(m, knock[i]);
        g_assert_cmphex(read_byte(m), ==, ACK);
    }
    mouse_cmd(m, 0xf2);
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, 0x03);

    dm_input_mouse_rel(m->input, 1, 0, 2, 0);
    g_assert_cmphex(read_byte(m), ==, 0x08);
    g_assert_cmphex(read_byte(m), ==, 1);
    g_assert_cmphex(read_byte(m), ==, 0);
    g_assert_cmphex(read_byte(m), ==, 2);
    /* A VNC-style wheel-up button press is one detent up. */
    dm_input_mouse_rel(m->input, 0, 0, 0, DM_BTN_WHEEL_UP);
    g_assert_cmphex(read_byte(m), ==, 0x08);
    g_assert_cmphex(read_byte(m), ==, 0);
    g_assert_cmphex(read_byte(m), ==, 0);
    g_assert_cmphex(read_byte(m), ==, 0xff);
    assert_empty(m);
    th_pc_free(m);
}

static void test_i8042_mouse_status_and_remote_read(void)
{
    struct dm_machine *m = kbc_machine();

    mouse_enable(m);
    mouse_cmd(m, 0xf0); /* remote mode */
    g_assert_cmphex(read_byte(m), ==, ACK);
    dm_input_mouse_rel(m->input, 3, 0, 0, DM_BTN_RIGHT);
    assert_empty(m);
    mouse_cmd(m, 0xe9);
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, 0x40 | 0x20 | 0x01); /* remote, on, R */
    g_assert_cmphex(read_byte(m), ==, 2);                  /* 4 counts/mm */
    g_assert_cmphex(read_byte(m), ==, 100);                /* reports/s */
    mouse_cmd(m, 0xeb);
    g_assert_cmphex(read_byte(m), ==, ACK);
    g_assert_cmphex(read_byte(m), ==, 0x08 | 0x02);
    g_assert_cmphex(read_byte(m), ==, 3);
    g_assert_cmphex(read_byte(m), ==, 0);
    assert_empty(m);
    th_pc_free(m);
}

static void test_i8042_write_aux_output_buffer_raises_irq12(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, CMD, CMD_WRITE_AUX_OBUF);
    th_outb(m, DATA, 0x5a);
    g_assert_cmpint(th_irq_level(m, AUX_IRQ), ==, 1);
    g_assert_cmphex(th_inb(m, CMD) & STR_AUXDATA, ==, STR_AUXDATA);
    g_assert_cmphex(th_inb(m, DATA), ==, 0x5a);
    g_assert_cmpint(th_irq_level(m, AUX_IRQ), ==, 0);
    th_pc_free(m);
}

static void test_i8042_pulse_0xfe_requests_reset(void)
{
    struct dm_machine *m = kbc_machine();

    g_assert_false(m->reset_requested);
    th_outb(m, CMD, 0xff); /* pulse nothing */
    g_assert_false(m->reset_requested);
    th_outb(m, CMD, CMD_PULSE_RESET);
    g_assert_true(m->reset_requested);
    th_pc_free(m);
}

static void test_i8042_output_port_a20_and_reset(void)
{
    struct dm_machine *m = kbc_machine();

    th_outb(m, CMD, CMD_WRITE_OUTPUT);
    th_outb(m, DATA, 0xcd); /* A20 off, not reset */
    th_outb(m, CMD, CMD_READ_OUTPUT);
    g_assert_cmphex(read_byte(m) & 0x03, ==, 0x01);
    g_assert_false(m->reset_requested);
    th_outb(m, CMD, CMD_WRITE_OUTPUT);
    th_outb(m, DATA, 0xce); /* bit 0 low: reset */
    g_assert_true(m->reset_requested);
    th_pc_free(m);
}

static void test_port92_fast_reset_and_a20(void)
{
    struct dm_machine *m = kbc_machine();

    g_assert_cmphex(th_inb(m, PORT92), ==, 0x00);
    th_outb(m, PORT92, 0x02);
    g_assert_cmphex(th_inb(m, PORT92), ==, 0x02);
    g_assert_false(m->reset_requested);
    th_outb(m, PORT92, 0x03);
    g_assert_true(m->reset_requested);
    dm_machine_reset(m);
    g_assert_cmphex(th_inb(m, PORT92), ==, 0x00);
    th_pc_free(m);
}

static void save_load(struct dm_dev *a, struct dm_dev *b)
{
    struct dm_vmstate_stream *w, *r;
    GError *err = NULL;
    GBytes *bytes;

    w = dm_vmstate_writer_new();
    g_assert_true(dm_vmstate_save_section(w, a->type->name, a->id,
                                          a->type->vmsd, a, &err));
    g_assert_no_error(err);
    bytes = dm_vmstate_writer_finish(w);
    r = dm_vmstate_reader_new(bytes, &err);
    g_assert_no_error(err);
    g_assert_true(dm_vmstate_load_section(r, b->type->name, b->id,
                                          b->type->vmsd, b, &err));
    g_assert_no_error(err);
    dm_vmstate_stream_free(r);
    g_bytes_unref(bytes);
}

static void test_i8042_state_round_trip(void)
{
    struct dm_machine *ma = kbc_machine(), *mb = kbc_machine();
    static const uint8_t knock[] = { 0xf3, 200, 0xf3, 100, 0xf3, 80 };
    uint8_t buf[16];

    mouse_enable(ma);
    for (unsigned i = 0; i < DM_ARRAY_SIZE(knock); i++) {
        mouse_cmd(ma, knock[i]);
    }
    drain(ma, buf, sizeof(buf));
    dm_input_key(ma->input, KEY_ESC, true);  /* in the output buffer */
    dm_input_key(ma->input, KEY_ESC, false); /* queued */
    save_load(find_dev(ma, "i8042"), find_dev(mb, "i8042"));
    save_load(find_dev(ma, "port92"), find_dev(mb, "port92"));

    g_assert_cmpint(th_irq_level(mb, KBD_IRQ), ==, 1);
    g_assert_cmphex(read_byte(mb), ==, 0x01);
    g_assert_cmphex(read_byte(mb), ==, 0x81);
    th_outb(mb, CMD, CMD_READ_CTR);
    g_assert_cmphex(read_byte(mb), ==,
                    CTR_KBDINT | CTR_AUXINT | CTR_SYS | CTR_XLATE);
    dm_input_mouse_rel(mb->input, 0, 0, 1, 0);
    g_assert_cmpuint(drain(mb, buf, sizeof(buf)), ==, 4); /* wheel mouse */
    th_pc_free(mb);
    th_pc_free(ma);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/i8042/self-test-returns-0x55",
                    test_i8042_self_test_returns_0x55);
    g_test_add_func("/i8042/command-byte-read-write",
                    test_i8042_command_byte_read_write);
    g_test_add_func("/i8042/key-translated-to-set1",
                    test_i8042_key_translated_to_set1);
    g_test_add_func("/i8042/key-in-set2-without-translation",
                    test_i8042_key_in_set2_without_translation);
    g_test_add_func("/i8042/keyboard-set1-emitted-directly",
                    test_i8042_keyboard_set1_emitted_directly);
    g_test_add_func("/i8042/irq1-raised-then-lowered-by-read",
                    test_i8042_irq1_raised_then_lowered_by_read);
    g_test_add_func("/i8042/no-irq1-when-disabled-in-command-byte",
                    test_i8042_no_irq1_when_disabled_in_command_byte);
    g_test_add_func("/i8042/keyboard-interface-disable-holds-keys",
                    test_i8042_keyboard_interface_disable_holds_keys);
    g_test_add_func("/i8042/keyboard-reset-reply",
                    test_i8042_keyboard_reset_reply);
    g_test_add_func("/i8042/keyboard-id-translated-and-raw",
                    test_i8042_keyboard_id_translated_and_raw);
    g_test_add_func("/i8042/keyboard-leds-reach-input-layer",
                    test_i8042_keyboard_leds_reach_input_layer);
    g_test_add_func("/i8042/keyboard-disabled-drops-keys",
                    test_i8042_keyboard_disabled_drops_keys);
    g_test_add_func("/i8042/key-queue-overflow-keeps-working",
                    test_i8042_key_queue_overflow_keeps_working);
    g_test_add_func("/i8042/mouse-reset-reply", test_i8042_mouse_reset_reply);
    g_test_add_func("/i8042/mouse-motion-makes-packet-and-irq12",
                    test_i8042_mouse_motion_makes_packet_and_irq12);
    g_test_add_func("/i8042/mouse-large-motion-is-split",
                    test_i8042_mouse_large_motion_is_split);
    g_test_add_func("/i8042/intellimouse-knock-gives-id3-and-wheel",
                    test_i8042_intellimouse_knock_gives_id3_and_wheel);
    g_test_add_func("/i8042/mouse-status-and-remote-read",
                    test_i8042_mouse_status_and_remote_read);
    g_test_add_func("/i8042/write-aux-output-buffer-raises-irq12",
                    test_i8042_write_aux_output_buffer_raises_irq12);
    g_test_add_func("/i8042/pulse-0xfe-requests-reset",
                    test_i8042_pulse_0xfe_requests_reset);
    g_test_add_func("/i8042/output-port-a20-and-reset",
                    test_i8042_output_port_a20_and_reset);
    g_test_add_func("/port92/fast-reset-and-a20",
                    test_port92_fast_reset_and_a20);
    g_test_add_func("/i8042/state-round-trip", test_i8042_state_round_trip);
    return g_test_run();
}
