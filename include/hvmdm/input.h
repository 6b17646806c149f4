/*
 * input.h: keyboard and pointer events from the user interfaces (VNC, SDL,
 * tests) to the devices that take them (PS/2, USB HID).
 *
 * Keys are named by QEMU's "qcode"-compatible numbering used in keycodes.h:
 * the Linux evdev code of the key (KEY_A = 30 ...), which every UI can map to.
 * The most recently registered handler of a kind receives the events.
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
    /* Keyboard LEDs changed by the guest: the UI may mirror them. */
    void *opaque;
};

struct dm_input;  /* per machine: m->input */

struct dm_input *dm_input_new(void);
void dm_input_free(struct dm_input *in);
void dm_input_register(struct dm_input *in, const struct dm_input_handler *h);
void dm_input_unregister(struct dm_input *in, const struct dm_input_handler *h);

void dm_input_key(struct dm_input *in, unsigned evdev_code, bool down);
void dm_input_mouse_rel(struct dm_input *in, int dx, int dy, int dz,
                        unsigned buttons);
void dm_input_mouse_abs(struct dm_input *in, int x, int y, int dz,
                        unsigned buttons);

#endif
