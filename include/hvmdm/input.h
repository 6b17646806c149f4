/*
 * input.h: keyboard and pointer events from the user interfaces (VNC, SDL,
 * tests) to the devices that take them (PS/2, USB HID).
 *
 * Keys are named by QEMU's "qcode"-compatible numbering used in keycodes.h:
 * the Linux evdev code of the key (KEY_A = 30 ...), which every UI can map to.
 * The most recently registered handler of a kind receives the events: a
 * handler is of the kinds whose callbacks it sets (key, mouse_rel,
 * mouse_abs); unregistering it hands the events back to the one before.
 *
 * Wheel motion reaches handlers only in DZ, in detents, positive towards the
 * user ("down", as the PS/2 IntelliMouse counts). A UI may instead report
 * the wheel as DM_BTN_WHEEL_* button presses (VNC buttons 4 and 5): each
 * press becomes one detent and the bits are stripped before the handler sees
 * BUTTONS. All calls run with dm_lock held.
 */
#ifndef HVMDM_INPUT_H
#define HVMDM_INPUT_H

#include "hvmdm/common.h"

enum dm_input_button {
    DM_BTN_LEFT = 1u << 0,
    DM_BTN_RIGHT = 1u << 1,
    DM_BTN_MIDDLE = 1u << 2,
    DM_BTN_WHEEL_UP = 1u << 3,
    DM_BTN_WHEEL_DOWN = 1u << 4,
};

struct dm_input_handler {
    const char *name;
    /* Keyboard: evdev key code, pressed or released. */
    void (*key)(void *opaque, unsigned evdev_code, bool down);
    /* Relative pointer: movement and the full button state (DM_BTN_*). */
    void (*mouse_rel)(void *opaque, int dx, int dy, int dz, unsigned buttons);
    /* Absolute pointer: x, y in 0..0x7fff. */
    void (*mouse_abs)(void *opaque, int x, int y, int dz, unsigned buttons);
    void *opaque;
};

/* Keyboard LEDs as the guest last set them (dm_input_set_leds), which the
 * UIs may mirror (dm_input_leds). */
enum dm_input_led {
    DM_LED_SCROLL_LOCK = 1u << 0,
    DM_LED_NUM_LOCK = 1u << 1,
    DM_LED_CAPS_LOCK = 1u << 2,
};

struct dm_input; /* per machine: m->input */

struct dm_input *dm_input_new(void);
void dm_input_free(struct dm_input *in);
void dm_input_register(struct dm_input *in, const struct dm_input_handler *h);
void dm_input_unregister(struct dm_input *in, const struct dm_input_handler *h);

void dm_input_key(struct dm_input *in, unsigned evdev_code, bool down);
void dm_input_mouse_rel(struct dm_input *in, int dx, int dy, int dz,
                        unsigned buttons);
void dm_input_mouse_abs(struct dm_input *in, int x, int y, int dz,
                        unsigned buttons);

/* Whether a handler of that kind is registered (a UI sends absolute
 * positions only when some device takes them, relative motion otherwise). */
bool dm_input_has_key(struct dm_input *in);
bool dm_input_has_rel(struct dm_input *in);
bool dm_input_has_abs(struct dm_input *in);

/* LED state (DM_LED_*): set by keyboard devices, read by UIs. */
void dm_input_set_leds(struct dm_input *in, unsigned leds);
unsigned dm_input_leds(struct dm_input *in);

#endif
