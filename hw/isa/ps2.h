/*
 * ps2.h: the PS/2 keyboard and mouse behind the i8042 (hw/isa/i8042.c),
 * private to the two files.
 *
 * Each device has two byte queues towards the controller: replies to the
 * commands the host sent, which go first, and input data (scan codes, mouse
 * packets). The controller pulls bytes with ps2_*_read when its output
 * buffer is free; a device calls NOTIFY when it has queued something.
 */
#ifndef HVMDM_HW_ISA_PS2_H
#define HVMDM_HW_ISA_PS2_H

#include "hvmdm/common.h"

struct dm_input;
struct dm_vmstate;

#define PS2_QUEUE_SIZE 16

struct ps2_queue {
    uint8_t data[PS2_QUEUE_SIZE];
    uint8_t rptr;  /* index of the oldest byte */
    uint8_t count; /* bytes queued, 0..PS2_QUEUE_SIZE */
};

typedef void (*ps2_notify_fn)(void *opaque);

struct ps2_kbd {
    struct ps2_queue reply;
    struct ps2_queue keys;
    uint8_t param_cmd;    /* command waiting for its parameter byte, or 0 */
    uint8_t scancode_set; /* 1, 2 or 3 (3 is sent as 2) */
    bool scanning;        /* enabled (0xf4) / disabled (0xf5) */
    uint8_t leds;         /* 0xed parameter: scroll, num, caps lock */
    uint8_t typematic;    /* 0xf3 parameter (repeat is the UI's business) */
    uint8_t last;         /* last byte sent, for 0xfe resend */

    /* Not saved. */
    struct dm_input *input; /* LED mirror, may be NULL */
    ps2_notify_fn notify;
    void *opaque;
};

struct ps2_mouse {
    struct ps2_queue reply;
    struct ps2_queue packets;
    uint8_t param_cmd;   /* 0xe8 or 0xf3 waiting for its parameter, or 0 */
    uint8_t mode;        /* PS2_MOUSE_* bits as in the 0xe9 status byte */
    uint8_t resolution;  /* 0..3: 1, 2, 4, 8 counts/mm */
    uint8_t sample_rate; /* reports/s */
    uint8_t id;          /* 0 standard, 3 IntelliMouse (wheel) */
    uint8_t rates[3];    /* the last three sample rates, newest last */
    bool wrap;           /* wrap (echo) mode */
    uint8_t buttons;     /* DM_BTN_LEFT/RIGHT/MIDDLE */
    bool report;         /* buttons changed since the last packet */
    int32_t dx, dy, dz;  /* motion not yet reported (PS/2 axes: y up) */
    uint8_t last;

    ps2_notify_fn notify;
    void *opaque;
};

void ps2_kbd_init(struct ps2_kbd *k, struct dm_input *input,
                  ps2_notify_fn notify, void *opaque);
/* Power-on state: set 2, scanning, queues empty. */
void ps2_kbd_reset(struct ps2_kbd *k);
/* A byte from the host (port 0x60). */
void ps2_kbd_write(struct ps2_kbd *k, uint8_t val);
bool ps2_kbd_has_data(const struct ps2_kbd *k);
/* Next byte for the controller; only when ps2_kbd_has_data. */
uint8_t ps2_kbd_read(struct ps2_kbd *k);
/* A key event from the user (evdev code). */
void ps2_kbd_key(struct ps2_kbd *k, unsigned evdev, bool down);

void ps2_mouse_init(struct ps2_mouse *ms, ps2_notify_fn notify, void *opaque);
void ps2_mouse_reset(struct ps2_mouse *ms);
void ps2_mouse_write(struct ps2_mouse *ms, uint8_t val);
bool ps2_mouse_has_data(const struct ps2_mouse *ms);
uint8_t ps2_mouse_read(struct ps2_mouse *ms);
/* Relative motion from the user: DX right, DY down (screen), DZ wheel
 * detents towards the user, BUTTONS DM_BTN_*. */
void ps2_mouse_event(struct ps2_mouse *ms, int dx, int dy, int dz,
                     unsigned buttons);

extern const struct dm_vmstate ps2_kbd_vmstate;
extern const struct dm_vmstate ps2_mouse_vmstate;

#endif
