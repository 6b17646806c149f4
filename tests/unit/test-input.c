/*
 * test-input.c: the input handler registry (core/input.c) and the key code
 * tables (core/keycodes.c).
 */
#include "hvmdm/input.h"
#include "hvmdm/keycodes.h"

struct recorder {
    struct dm_input_handler h;
    unsigned keys, rel, abs;
    unsigned last_key;
    bool last_down;
    int last_dz;
    unsigned last_buttons;
};

static void rec_key(void *opaque, unsigned code, bool down)
{
    struct recorder *r = opaque;

    r->keys++;
    r->last_key = code;
    r->last_down = down;
}

static void rec_rel(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    struct recorder *r = opaque;

    r->rel++;
    r->last_dz = dz;
    r->last_buttons = buttons;
}

static void rec_abs(void *opaque, int x, int y, int dz, unsigned buttons)
{
    struct recorder *r = opaque;

    r->abs++;
}

static void recorder_init(struct recorder *r, const char *name, bool key,
                          bool rel, bool abs)
{
    memset(r, 0, sizeof(*r));
    r->h.name = name;
    r->h.key = key ? rec_key : NULL;
    r->h.mouse_rel = rel ? rec_rel : NULL;
    r->h.mouse_abs = abs ? rec_abs : NULL;
    r->h.opaque = r;
}

static void test_input_most_recent_handler_gets_keys(void)
{
    struct dm_input *in = dm_input_new();
    struct recorder a, b;

    recorder_init(&a, "a", true, false, false);
    recorder_init(&b, "b", true, false, false);
    dm_input_register(in, &a.h);
    dm_input_register(in, &b.h);
    dm_input_key(in, KEY_Q, true);
    g_assert_cmpuint(a.keys, ==, 0);
    g_assert_cmpuint(b.keys, ==, 1);
    g_assert_cmpuint(b.last_key, ==, KEY_Q);
    g_assert_true(b.last_down);

    dm_input_unregister(in, &b.h);
    dm_input_key(in, KEY_Q, false);
    g_assert_cmpuint(a.keys, ==, 1);
    g_assert_false(a.last_down);
    dm_input_free(in);
}

static void test_input_kinds_are_routed_separately(void)
{
    struct dm_input *in = dm_input_new();
    struct recorder ps2, tablet;

    recorder_init(&ps2, "ps2", true, true, false);
    recorder_init(&tablet, "tablet", false, false, true);
    g_assert_false(dm_input_has_abs(in));
    dm_input_register(in, &ps2.h);
    dm_input_register(in, &tablet.h);
    g_assert_true(dm_input_has_key(in));
    g_assert_true(dm_input_has_rel(in));
    g_assert_true(dm_input_has_abs(in));

    dm_input_key(in, KEY_A, true);
    dm_input_mouse_rel(in, 1, 1, 0, 0);
    dm_input_mouse_abs(in, 100, 100, 0, 0);
    g_assert_cmpuint(ps2.keys, ==, 1);
    g_assert_cmpuint(ps2.rel, ==, 1);
    g_assert_cmpuint(tablet.abs, ==, 1);
    dm_input_free(in);
}

static void test_input_events_without_handler_are_dropped(void)
{
    struct dm_input *in = dm_input_new();

    dm_input_key(in, KEY_A, true);
    dm_input_mouse_rel(in, 1, 2, 3, DM_BTN_LEFT);
    dm_input_mouse_abs(in, 1, 2, 3, DM_BTN_LEFT);
    g_assert_false(dm_input_has_key(in));
    dm_input_free(in);
}

static void test_input_wheel_buttons_become_dz(void)
{
    struct dm_input *in = dm_input_new();
    struct recorder r;

    recorder_init(&r, "mouse", false, true, false);
    dm_input_register(in, &r.h);
    dm_input_mouse_rel(in, 0, 0, 0, DM_BTN_LEFT | DM_BTN_WHEEL_DOWN);
    g_assert_cmpint(r.last_dz, ==, 1);
    g_assert_cmphex(r.last_buttons, ==, DM_BTN_LEFT);
    /* Held, not pressed again: no further detent. */
    dm_input_mouse_rel(in, 0, 0, 0, DM_BTN_LEFT | DM_BTN_WHEEL_DOWN);
    g_assert_cmpint(r.last_dz, ==, 0);
    dm_input_mouse_rel(in, 0, 0, 0, DM_BTN_WHEEL_UP);
    g_assert_cmpint(r.last_dz, ==, -1);
    g_assert_cmphex(r.last_buttons, ==, 0);
    dm_input_free(in);
}

static void test_input_leds_recorded(void)
{
    struct dm_input *in = dm_input_new();

    g_assert_cmphex(dm_input_leds(in), ==, 0);
    dm_input_set_leds(in, DM_LED_CAPS_LOCK | 0xf0);
    g_assert_cmphex(dm_input_leds(in), ==, DM_LED_CAPS_LOCK);
    dm_input_free(in);
}

static void test_keycodes_set2_translates_to_set1(void)
{
    unsigned checked = 0;

    for (unsigned code = 1; code < DM_KEYCODE_MAX; code++) {
        const struct dm_keycode_info *k = dm_keycode_info(code);

        if (!k || !k->set1 || !k->set2 || code == KEY_HANGEUL ||
            code == KEY_HANJA) {
            continue;
        }
        g_assert_cmphex(k->set1 >> 8, ==, k->set2 >> 8);
        g_assert_cmphex(dm_keycode_translate_set2((uint8_t)k->set2), ==,
                        k->set1 & 0xff);
        checked++;
    }
    g_assert_cmpuint(checked, >, 100);
}

static void test_keycodes_make_and_break(void)
{
    uint8_t b[DM_SCANCODE_MAX_LEN];

    g_assert_cmpuint(dm_keycode_scancodes(KEY_A, true, 1, b), ==, 1);
    g_assert_cmphex(b[0], ==, 0x1e);
    g_assert_cmpuint(dm_keycode_scancodes(KEY_A, false, 1, b), ==, 1);
    g_assert_cmphex(b[0], ==, 0x9e);
    g_assert_cmpuint(dm_keycode_scancodes(KEY_A, false, 2, b), ==, 2);
    g_assert_cmphex(b[0], ==, 0xf0);
    g_assert_cmphex(b[1], ==, 0x1c);
    g_assert_cmpuint(dm_keycode_scancodes(KEY_KPENTER, false, 2, b), ==, 3);
    g_assert_cmphex(b[0], ==, 0xe0);
    g_assert_cmphex(b[1], ==, 0xf0);
    g_assert_cmphex(b[2], ==, 0x5a);
    g_assert_cmpuint(dm_keycode_scancodes(KEY_F7, true, 2, b), ==, 1);
    g_assert_cmphex(b[0], ==, 0x83);
    /* Set 3 is answered with set 2 codes. */
    g_assert_cmpuint(dm_keycode_scancodes(KEY_A, true, 3, b), ==, 1);
    g_assert_cmphex(b[0], ==, 0x1c);
    g_assert_cmpuint(dm_keycode_scancodes(0, true, 1, b), ==, 0);
    g_assert_cmpuint(dm_keycode_scancodes(100000, true, 1, b), ==, 0);
}

static void test_keycodes_print_screen_and_pause_sequences(void)
{
    static const uint8_t prt_make1[] = { 0xe0, 0x2a, 0xe0, 0x37 };
    static const uint8_t prt_break2[] = { 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12 };
    static const uint8_t pause2[] = { 0xe1, 0x14, 0x77, 0xe1,
                                      0xf0, 0x14, 0xf0, 0x77 };
    uint8_t b[DM_SCANCODE_MAX_LEN];

    g_assert_cmpuint(dm_keycode_scancodes(KEY_SYSRQ, true, 1, b), ==, 4);
    g_assert_cmpmem(b, 4, prt_make1, sizeof(prt_make1));
    g_assert_cmpuint(dm_keycode_scancodes(KEY_SYSRQ, false, 2, b), ==, 6);
    g_assert_cmpmem(b, 6, prt_break2, sizeof(prt_break2));
    g_assert_cmpuint(dm_keycode_scancodes(KEY_PAUSE, true, 2, b), ==, 8);
    g_assert_cmpmem(b, 8, pause2, sizeof(pause2));
    g_assert_cmpuint(dm_keycode_scancodes(KEY_PAUSE, false, 2, b), ==, 0);
}

static void test_keycodes_from_qnum(void)
{
    g_assert_cmpuint(dm_keycode_from_qnum(0x1e), ==, KEY_A);
    g_assert_cmpuint(dm_keycode_from_qnum(0x9c), ==, KEY_KPENTER);
    g_assert_cmpuint(dm_keycode_from_qnum(0xc8), ==, KEY_UP);
    g_assert_cmpuint(dm_keycode_from_qnum(0xb7), ==, KEY_SYSRQ);
    g_assert_cmpuint(dm_keycode_from_qnum(0xc6), ==, KEY_PAUSE);
    g_assert_cmpuint(dm_keycode_from_qnum(0), ==, 0);
    g_assert_cmpuint(dm_keycode_from_qnum(0x1234), ==, 0);
}

static void test_keycodes_usb_usages(void)
{
    g_assert_cmpuint(dm_keycode_info(KEY_A)->usb, ==, 0x04);
    g_assert_cmpuint(dm_keycode_info(KEY_ENTER)->usb, ==, 0x28);
    g_assert_cmpuint(dm_keycode_info(KEY_LEFTCTRL)->usb, ==, 0xe0);
    g_assert_null(dm_keycode_info(0));
    g_assert_null(dm_keycode_info(DM_KEYCODE_MAX));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/input/most-recent-handler-gets-keys",
                    test_input_most_recent_handler_gets_keys);
    g_test_add_func("/input/kinds-are-routed-separately",
                    test_input_kinds_are_routed_separately);
    g_test_add_func("/input/events-without-handler-are-dropped",
                    test_input_events_without_handler_are_dropped);
    g_test_add_func("/input/wheel-buttons-become-dz",
                    test_input_wheel_buttons_become_dz);
    g_test_add_func("/input/leds-recorded", test_input_leds_recorded);
    g_test_add_func("/keycodes/set2-translates-to-set1",
                    test_keycodes_set2_translates_to_set1);
    g_test_add_func("/keycodes/make-and-break", test_keycodes_make_and_break);
    g_test_add_func("/keycodes/print-screen-and-pause-sequences",
                    test_keycodes_print_screen_and_pause_sequences);
    g_test_add_func("/keycodes/from-qnum", test_keycodes_from_qnum);
    g_test_add_func("/keycodes/usb-usages", test_keycodes_usb_usages);
    return g_test_run();
}
