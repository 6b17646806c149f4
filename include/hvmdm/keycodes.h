/*
 * keycodes.h: key numbering shared by the user interfaces and the keyboard
 * devices.
 *
 * A key is named by its Linux evdev code (KEY_A = 30 ..., the names from
 * <linux/input-event-codes.h>, included here). For each key the table in
 * core/keycodes.c gives its IBM PC scan codes in set 1 (XT) and set 2 (AT)
 * and its USB HID usage (Keyboard/Keypad page 0x07). Scan codes are written
 * as 0x00xx for one byte and 0xe0xx for the 0xe0-prefixed keys; Print Screen
 * and Pause have their own multi-byte sequences, produced by
 * dm_keycode_scancodes().
 */
#ifndef HVMDM_KEYCODES_H
#define HVMDM_KEYCODES_H

#include <linux/input-event-codes.h>

#include "hvmdm/common.h"

/* Keys are numbered below this (evdev KEY_* codes 1..255). */
#define DM_KEYCODE_MAX 256

/* Longest make or break sequence of one key (Pause in set 2). */
#define DM_SCANCODE_MAX_LEN 8

struct dm_keycode_info {
    uint16_t set1; /* XT scan code, 0xe0xx when prefixed; 0 none */
    uint16_t set2; /* AT scan code, 0xe0xx when prefixed; 0 none */
    uint8_t usb;   /* USB HID usage on page 0x07; 0 none */
};

/* The codes of EVDEV, or NULL when the key has none at all. */
const struct dm_keycode_info *dm_keycode_info(unsigned evdev);

/*
 * The bytes a PS/2 keyboard in scan code set SET (1 or 2; 3 is answered as
 * 2) sends when EVDEV goes down or up, written to BUF (at least
 * DM_SCANCODE_MAX_LEN bytes). Returns how many; 0 when the key has no scan
 * code or sends nothing on release (Pause, Hangeul, Hanja).
 */
unsigned dm_keycode_scancodes(unsigned evdev, bool down, unsigned set,
                              uint8_t *buf);

/*
 * The evdev code of a set 1 scan code given as QEMU's VNC extension and the
 * "qnum" numbering do: 0x00-0x7f plain, 0x80 | code for 0xe0-prefixed keys
 * (0xb7 = Print Screen, 0xc6 = Pause). 0 when unknown.
 */
unsigned dm_keycode_from_qnum(unsigned qnum);

/* The 8042 controller's set 2 to set 1 translation of one byte (command
 * byte XLATE bit). 0xf0 (break prefix) is handled by the caller. */
uint8_t dm_keycode_translate_set2(uint8_t code);

#endif
