/*
 * ps2.c: the PS/2 keyboard (IBM "Keyboard, 101/102-key" in the PC AT and
 * PS/2 technical references) and the PS/2 mouse with Microsoft IntelliMouse
 * wheel extension, as byte-level protocol engines for the i8042.
 *
 * Keyboard: scan code sets 1 and 2 (set 3 accepted and answered as set 2),
 * LEDs, echo, identify (0xab 0x83), enable/disable, defaults, reset (BAT
 * 0xaa), resend; make/break codes from keycodes.c. Mouse: stream and remote
 * modes, scaling, resolution, sample rate, status, identify (0, or 3 after
 * the 200/100/80 sample-rate knock), wrap mode, 3- and 4-byte packets.
 * Left out: typematic repeat (UIs repeat keys themselves), per-key set 3
 * types, the IntelliMouse Explorer (ID 4) buttons.
 */
#include "hvmdm/input.h"
#include "hvmdm/keycodes.h"
#include "hvmdm/log.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

#include "ps2.h"

/* Replies (both devices). */
#define PS2_ACK 0xfa
#define PS2_RESEND 0xfe
#define PS2_BAT_OK 0xaa /* basic assurance test passed */
#define PS2_ECHO 0xee

/* Keyboard commands. */
#define KBD_CMD_SET_LEDS 0xed
#define KBD_CMD_ECHO 0xee
#define KBD_CMD_SCANCODE 0xf0
#define KBD_CMD_GET_ID 0xf2
#define KBD_CMD_TYPEMATIC 0xf3
#define KBD_CMD_ENABLE 0xf4
#define KBD_CMD_DISABLE 0xf5
#define KBD_CMD_DEFAULTS 0xf6
#define KBD_CMD_SET3_ALL_FIRST 0xf7 /* 0xf7-0xfa: set 3 key types, all keys */
#define KBD_CMD_SET3_ALL_LAST 0xfa
#define KBD_CMD_SET3_KEY_FIRST 0xfb /* 0xfb-0xfd: set 3 key types, a list */
#define KBD_CMD_SET3_KEY_LAST 0xfd
#define KBD_CMD_RESEND 0xfe
#define KBD_CMD_RESET 0xff
#define KBD_ID_1 0xab
#define KBD_ID_2 0x83
#define KBD_FIRST_CMD 0xed         /* bytes below this are parameters */
#define KBD_DEFAULT_TYPEMATIC 0x2b /* 10.9 characters/s after 500 ms */

/* Mouse commands. */
#define MOUSE_CMD_SCALE_11 0xe6
#define MOUSE_CMD_SCALE_21 0xe7
#define MOUSE_CMD_RESOLUTION 0xe8
#define MOUSE_CMD_STATUS 0xe9
#define MOUSE_CMD_STREAM 0xea
#define MOUSE_CMD_READ_DATA 0xeb
#define MOUSE_CMD_RESET_WRAP 0xec
#define MOUSE_CMD_WRAP 0xee
#define MOUSE_CMD_REMOTE 0xf0
#define MOUSE_CMD_GET_ID 0xf2
#define MOUSE_CMD_SAMPLE_RATE 0xf3
#define MOUSE_CMD_ENABLE 0xf4
#define MOUSE_CMD_DISABLE 0xf5
#define MOUSE_CMD_DEFAULTS 0xf6
#define MOUSE_CMD_RESEND 0xfe
#define MOUSE_CMD_RESET 0xff
#define MOUSE_FIRST_CMD 0xe6

/* Mode bits, placed as in the first status byte (0xe9). */
#define PS2_MOUSE_REMOTE 0x40
#define PS2_MOUSE_ENABLED 0x20
#define PS2_MOUSE_SCALE21 0x10
#define PS2_MOUSE_MODE_MASK 0x70

/* First packet byte. */
#define PS2_PKT_ALWAYS1 0x08
#define PS2_PKT_X_SIGN 0x10
#define PS2_PKT_Y_SIGN 0x20
#define PS2_PKT_X_OVERFLOW 0x40
#define PS2_PKT_Y_OVERFLOW 0x80

#define PS2_MOUSE_ID_STANDARD 0
#define PS2_MOUSE_ID_WHEEL 3
#define PS2_MOUSE_DEFAULT_RATE 100
#define PS2_MOUSE_DEFAULT_RES 2    /* 4 counts/mm */
#define PS2_MOUSE_MAX_DELTA 255    /* 9-bit two's complement, kept symmetric */
#define PS2_MOUSE_MAX_BACKLOG 4096 /* motion kept while the host lags */
#define PS2_BUTTONS 0x07           /* DM_BTN_LEFT | RIGHT | MIDDLE */

/* ---- queues --------------------------------------------------------- */

static unsigned ps2_queue_free(const struct ps2_queue *q)
{
    return PS2_QUEUE_SIZE - q->count;
}

static bool ps2_queue_push(struct ps2_queue *q, uint8_t v)
{
    if (q->count >= PS2_QUEUE_SIZE) {
        return false;
    }
    q->data[(q->rptr + q->count) % PS2_QUEUE_SIZE] = v;
    q->count++;
    return true;
}

static uint8_t ps2_queue_pop(struct ps2_queue *q)
{
    uint8_t v;

    if (q->count == 0) {
        return 0;
    }
    v = q->data[q->rptr];
    q->rptr = (q->rptr + 1) % PS2_QUEUE_SIZE;
    q->count--;
    return v;
}

static void ps2_queue_clear(struct ps2_queue *q)
{
    q->rptr = 0;
    q->count = 0;
}

/* ---- keyboard ------------------------------------------------------- */

static void ps2_kbd_reply(struct ps2_kbd *k, uint8_t v)
{
    if (!ps2_queue_push(&k->reply, v)) {
        dm_guest_error("ps2-kbd: replies not read, 0x%02x dropped", v);
    }
}

static void ps2_kbd_defaults(struct ps2_kbd *k)
{
    k->scancode_set = 2;
    k->typematic = KBD_DEFAULT_TYPEMATIC;
}

static void ps2_kbd_set_leds(struct ps2_kbd *k, uint8_t leds)
{
    k->leds = leds & 0x07;
    if (k->input) {
        dm_input_set_leds(k->input, k->leds);
    }
}

void ps2_kbd_init(struct ps2_kbd *k, struct dm_input *input,
                  ps2_notify_fn notify, void *opaque)
{
    k->input = input;
    k->notify = notify;
    k->opaque = opaque;
}

void ps2_kbd_reset(struct ps2_kbd *k)
{
    ps2_queue_clear(&k->reply);
    ps2_queue_clear(&k->keys);
    k->param_cmd = 0;
    k->scanning = true;
    k->last = 0;
    ps2_kbd_defaults(k);
    ps2_kbd_set_leds(k, 0);
}

/* The byte after a command that takes one (or, for 0xfb-0xfd, a list). */
static void ps2_kbd_param(struct ps2_kbd *k, uint8_t val)
{
    uint8_t cmd = k->param_cmd;

    k->param_cmd = 0;
    switch (cmd) {
    case KBD_CMD_SET_LEDS:
        ps2_kbd_set_leds(k, val);
        ps2_kbd_reply(k, PS2_ACK);
        break;
    case KBD_CMD_TYPEMATIC:
        k->typematic = val & 0x7f;
        ps2_kbd_reply(k, PS2_ACK);
        break;
    case KBD_CMD_SCANCODE:
        if (val == 0) {
            ps2_kbd_reply(k, PS2_ACK);
            ps2_kbd_reply(k, k->scancode_set);
        } else if (val <= 3) {
            k->scancode_set = val;
            ps2_kbd_reply(k, PS2_ACK);
        } else {
            ps2_kbd_reply(k, PS2_RESEND);
        }
        break;
    default: /* set 3 key list: acknowledged, keys keep make/break */
        ps2_kbd_reply(k, PS2_ACK);
        k->param_cmd = cmd;
        break;
    }
}

static void ps2_kbd_command(struct ps2_kbd *k, uint8_t val)
{
    switch (val) {
    case KBD_CMD_SET_LEDS:
    case KBD_CMD_TYPEMATIC:
    case KBD_CMD_SCANCODE:
        ps2_kbd_reply(k, PS2_ACK);
        k->param_cmd = val;
        break;
    case KBD_CMD_ECHO:
        ps2_kbd_reply(k, PS2_ECHO);
        break;
    case KBD_CMD_GET_ID:
        ps2_kbd_reply(k, PS2_ACK);
        ps2_kbd_reply(k, KBD_ID_1);
        ps2_kbd_reply(k, KBD_ID_2);
        break;
    case KBD_CMD_ENABLE:
        ps2_queue_clear(&k->keys);
        k->scanning = true;
        ps2_kbd_reply(k, PS2_ACK);
        break;
    case KBD_CMD_DISABLE:
        ps2_queue_clear(&k->keys);
        ps2_kbd_defaults(k);
        k->scanning = false;
        ps2_kbd_reply(k, PS2_ACK);
        break;
    case KBD_CMD_DEFAULTS:
        ps2_queue_clear(&k->keys);
        ps2_kbd_defaults(k);
        ps2_kbd_reply(k, PS2_ACK);
        break;
    case KBD_CMD_SET3_ALL_FIRST ... KBD_CMD_SET3_ALL_LAST:
        ps2_kbd_reply(k, PS2_ACK);
        break;
    case KBD_CMD_SET3_KEY_FIRST ... KBD_CMD_SET3_KEY_LAST:
        ps2_kbd_reply(k, PS2_ACK);
        k->param_cmd = val;
        break;
    case KBD_CMD_RESEND:
        ps2_kbd_reply(k, k->last);
        break;
    case KBD_CMD_RESET:
        ps2_kbd_reset(k);
        ps2_kbd_reply(k, PS2_ACK);
        ps2_kbd_reply(k, PS2_BAT_OK);
        break;
    default:
        dm_guest_error("ps2-kbd: unknown command 0x%02x", val);
        ps2_kbd_reply(k, PS2_RESEND);
        break;
    }
}

void ps2_kbd_write(struct ps2_kbd *k, uint8_t val)
{
    dm_trace(ps2_kbd_write, "0x%02x%s", val, k->param_cmd ? " (param)" : "");
    if (k->param_cmd && val < KBD_FIRST_CMD) {
        ps2_kbd_param(k, val);
    } else {
        k->param_cmd = 0;
        ps2_kbd_command(k, val);
    }
    k->notify(k->opaque);
}

bool ps2_kbd_has_data(const struct ps2_kbd *k)
{
    return k->reply.count || k->keys.count;
}

uint8_t ps2_kbd_read(struct ps2_kbd *k)
{
    uint8_t v =
        k->reply.count ? ps2_queue_pop(&k->reply) : ps2_queue_pop(&k->keys);

    k->last = v;
    return v;
}

void ps2_kbd_key(struct ps2_kbd *k, unsigned evdev, bool down)
{
    uint8_t buf[DM_SCANCODE_MAX_LEN];
    unsigned set = k->scancode_set == 1 ? 1 : 2;
    unsigned n;

    if (!k->scanning) {
        return;
    }
    n = dm_keycode_scancodes(evdev, down, set, buf);
    if (n == 0) {
        return;
    }
    if (ps2_queue_free(&k->keys) < n) {
        /* Buffer overrun: the key is lost and the last place in the buffer
         * holds the overrun code. */
        uint8_t overrun = set == 1 ? 0xff : 0x00;
        struct ps2_queue *q = &k->keys;

        dm_trace(ps2_kbd_overrun, "key %u dropped", evdev);
        if (ps2_queue_free(q) > 0) {
            ps2_queue_push(q, overrun);
        } else {
            q->data[(q->rptr + q->count - 1) % PS2_QUEUE_SIZE] = overrun;
        }
    } else {
        for (unsigned i = 0; i < n; i++) {
            ps2_queue_push(&k->keys, buf[i]);
        }
    }
    k->notify(k->opaque);
}

/* ---- mouse ---------------------------------------------------------- */

static void ps2_mouse_reply(struct ps2_mouse *ms, uint8_t v)
{
    if (!ps2_queue_push(&ms->reply, v)) {
        dm_guest_error("ps2-mouse: replies not read, 0x%02x dropped", v);
    }
}

static void ps2_mouse_clear_motion(struct ps2_mouse *ms)
{
    ms->dx = ms->dy = ms->dz = 0;
    ms->report = false;
    ps2_queue_clear(&ms->packets);
}

static void ps2_mouse_defaults(struct ps2_mouse *ms)
{
    ms->mode = 0; /* stream mode, reporting disabled, 1:1 scaling */
    ms->resolution = PS2_MOUSE_DEFAULT_RES;
    ms->sample_rate = PS2_MOUSE_DEFAULT_RATE;
}

void ps2_mouse_init(struct ps2_mouse *ms, ps2_notify_fn notify, void *opaque)
{
    ms->notify = notify;
    ms->opaque = opaque;
}

void ps2_mouse_reset(struct ps2_mouse *ms)
{
    ps2_queue_clear(&ms->reply);
    ps2_mouse_clear_motion(ms);
    ps2_mouse_defaults(ms);
    ms->param_cmd = 0;
    ms->id = PS2_MOUSE_ID_STANDARD;
    memset(ms->rates, 0, sizeof(ms->rates));
    ms->wrap = false;
    ms->last = 0;
}

/* 2:1 scaling (stream mode): small counts follow a table, larger double. */
static int ps2_mouse_scale(int d)
{
    static const int small[] = { 0, 1, 1, 3, 6, 9 };
    int a = d < 0 ? -d : d;
    int r = a < (int)DM_ARRAY_SIZE(small) ? small[a] : 2 * a;

    return d < 0 ? -r : r;
}

static uint8_t ps2_mouse_axis(int v, uint8_t sign, uint8_t overflow,
                              uint8_t *b0)
{
    if (v > PS2_MOUSE_MAX_DELTA || v < -PS2_MOUSE_MAX_DELTA) {
        *b0 |= overflow;
        v = v < 0 ? -PS2_MOUSE_MAX_DELTA : PS2_MOUSE_MAX_DELTA;
    }
    if (v < 0) {
        *b0 |= sign;
    }
    return (uint8_t)v;
}

/* Take one packet's worth of the pending motion into P; returns its
 * length (3, or 4 with the wheel byte once identified as IntelliMouse). */
static unsigned ps2_mouse_packet(struct ps2_mouse *ms, uint8_t *p, bool scale)
{
    int dx = CLAMP(ms->dx, -PS2_MOUSE_MAX_DELTA, PS2_MOUSE_MAX_DELTA);
    int dy = CLAMP(ms->dy, -PS2_MOUSE_MAX_DELTA, PS2_MOUSE_MAX_DELTA);
    int dz = CLAMP(ms->dz, -8, 7);

    ms->dx -= dx;
    ms->dy -= dy;
    ms->dz -= dz;
    if (scale) {
        dx = ps2_mouse_scale(dx);
        dy = ps2_mouse_scale(dy);
    }
    p[0] = PS2_PKT_ALWAYS1 | (ms->buttons & PS2_BUTTONS);
    p[1] = ps2_mouse_axis(dx, PS2_PKT_X_SIGN, PS2_PKT_X_OVERFLOW, &p[0]);
    p[2] = ps2_mouse_axis(dy, PS2_PKT_Y_SIGN, PS2_PKT_Y_OVERFLOW, &p[0]);
    if (ms->id == PS2_MOUSE_ID_WHEEL) {
        p[3] = (uint8_t)dz;
        return 4;
    }
    return 3;
}

/* Stream mode: queue packets while there is something to report and room
 * for a whole packet; the rest waits for the host to read. */
static void ps2_mouse_flush(struct ps2_mouse *ms)
{
    unsigned len = ms->id == PS2_MOUSE_ID_WHEEL ? 4 : 3;
    uint8_t p[4];

    if ((ms->mode & PS2_MOUSE_REMOTE) || !(ms->mode & PS2_MOUSE_ENABLED)) {
        return;
    }
    while ((ms->report || ms->dx || ms->dy || ms->dz) &&
           ps2_queue_free(&ms->packets) >= len) {
        unsigned n = ps2_mouse_packet(ms, p, ms->mode & PS2_MOUSE_SCALE21);

        for (unsigned i = 0; i < n; i++) {
            ps2_queue_push(&ms->packets, p[i]);
        }
        ms->report = false;
    }
}

static bool ps2_mouse_rate_valid(uint8_t rate)
{
    static const uint8_t rates[] = { 10, 20, 40, 60, 80, 100, 200 };

    for (unsigned i = 0; i < DM_ARRAY_SIZE(rates); i++) {
        if (rates[i] == rate) {
            return true;
        }
    }
    return false;
}

static void ps2_mouse_param(struct ps2_mouse *ms, uint8_t val)
{
    uint8_t cmd = ms->param_cmd;

    ms->param_cmd = 0;
    if (cmd == MOUSE_CMD_RESOLUTION) {
        if (val > 3) {
            ps2_mouse_reply(ms, PS2_RESEND);
            return;
        }
        ms->resolution = val;
        ps2_mouse_reply(ms, PS2_ACK);
        return;
    }
    /* MOUSE_CMD_SAMPLE_RATE */
    if (!ps2_mouse_rate_valid(val)) {
        ps2_mouse_reply(ms, PS2_RESEND);
        return;
    }
    ms->sample_rate = val;
    ms->rates[0] = ms->rates[1];
    ms->rates[1] = ms->rates[2];
    ms->rates[2] = val;
    if (ms->rates[0] == 200 && ms->rates[1] == 100 && ms->rates[2] == 80) {
        /* The IntelliMouse knock: from now on 4-byte packets. */
        ms->id = PS2_MOUSE_ID_WHEEL;
    }
    ps2_mouse_reply(ms, PS2_ACK);
}

static void ps2_mouse_status(struct ps2_mouse *ms)
{
    /* Status byte 1: mode bits, then left, middle, right in bits 2..0. */
    uint8_t b = ms->mode & PS2_MOUSE_MODE_MASK;

    b |= ms->buttons & DM_BTN_LEFT ? 0x04 : 0;
    b |= ms->buttons & DM_BTN_MIDDLE ? 0x02 : 0;
    b |= ms->buttons & DM_BTN_RIGHT ? 0x01 : 0;
    ps2_mouse_reply(ms, PS2_ACK);
    ps2_mouse_reply(ms, b);
    ps2_mouse_reply(ms, ms->resolution);
    ps2_mouse_reply(ms, ms->sample_rate);
}

static void ps2_mouse_command(struct ps2_mouse *ms, uint8_t val)
{
    uint8_t p[4];
    unsigned n;

    if (val != MOUSE_CMD_RESEND) {
        /* A command cuts any packet in flight. */
        ps2_queue_clear(&ms->packets);
    }
    switch (val) {
    case MOUSE_CMD_SCALE_11:
        ms->mode &= ~PS2_MOUSE_SCALE21;
        ps2_mouse_reply(ms, PS2_ACK);
        break;
    case MOUSE_CMD_SCALE_21:
        ms->mode |= PS2_MOUSE_SCALE21;
        ps2_mouse_reply(ms, PS2_ACK);
        break;
    case MOUSE_CMD_RESOLUTION:
    case MOUSE_CMD_SAMPLE_RATE:
        ps2_mouse_reply(ms, PS2_ACK);
        ms->param_cmd = val;
        break;
    case MOUSE_CMD_STATUS:
        ps2_mouse_status(ms);
        break;
    case MOUSE_CMD_STREAM:
        ms->mode &= ~PS2_MOUSE_REMOTE;
        ps2_mouse_clear_motion(ms);
        ps2_mouse_reply(ms, PS2_ACK);
        break;
    case MOUSE_CMD_READ_DATA:
        ps2_mouse_reply(ms, PS2_ACK);
        n = ps2_mouse_packet(ms, p, false);
        for (unsigned i = 0; i < n; i++) {
            ps2_mouse_reply(ms, p[i]);
        }
        break;
    case MOUSE_CMD_RESET_WRAP:
        ps2_mouse_reply(ms, PS2_ACK);
        break;
    case MOUSE_CMD_WRAP:
        ms->wrap = true;
        ps2_mouse_clear_motion(ms);
        ps2_mouse_reply(ms, PS2_ACK);
        break;
    case MOUSE_CMD_REMOTE:
        ms->mode |= PS2_MOUSE_REMOTE;
        ps2_mouse_clear_motion(ms);
        ps2_mouse_reply(ms, PS2_ACK);
        break;
    case MOUSE_CMD_GET_ID:
        ps2_mouse_reply(ms, PS2_ACK);
        ps2_mouse_reply(ms, ms->id);
        break;
    case MOUSE_CMD_ENABLE:
        ms->mode |= PS2_MOUSE_ENABLED;
        ps2_mouse_clear_motion(ms);
        ps2_mouse_reply(ms, PS2_ACK);
        break;
    case MOUSE_CMD_DISABLE:
        ms->mode &= ~PS2_MOUSE_ENABLED;
        ps2_mouse_clear_motion(ms);
        ps2_mouse_reply(ms, PS2_ACK);
        break;
    case MOUSE_CMD_DEFAULTS:
        ps2_mouse_defaults(ms);
        ps2_mouse_clear_motion(ms);
        ps2_mouse_reply(ms, PS2_ACK);
        break;
    case MOUSE_CMD_RESEND:
        ps2_mouse_reply(ms, ms->last);
        break;
    case MOUSE_CMD_RESET:
        ps2_mouse_reset(ms);
        ps2_mouse_reply(ms, PS2_ACK);
        ps2_mouse_reply(ms, PS2_BAT_OK);
        ps2_mouse_reply(ms, PS2_MOUSE_ID_STANDARD);
        break;
    default:
        dm_guest_error("ps2-mouse: unknown command 0x%02x", val);
        ps2_mouse_reply(ms, PS2_RESEND);
        break;
    }
}

void ps2_mouse_write(struct ps2_mouse *ms, uint8_t val)
{
    dm_trace(ps2_mouse_write, "0x%02x%s", val,
             ms->param_cmd ? " (param)"
             : ms->wrap    ? " (wrap)"
                           : "");
    if (ms->wrap && val != MOUSE_CMD_RESET) {
        /* Wrap mode echoes everything but "reset wrap mode" and reset. */
        if (val == MOUSE_CMD_RESET_WRAP) {
            ms->wrap = false;
            ps2_mouse_reply(ms, PS2_ACK);
        } else {
            ps2_mouse_reply(ms, val);
        }
    } else if (ms->param_cmd && val < MOUSE_FIRST_CMD) {
        ps2_mouse_param(ms, val);
    } else {
        ms->param_cmd = 0;
        ps2_mouse_command(ms, val);
    }
    ms->notify(ms->opaque);
}

bool ps2_mouse_has_data(const struct ps2_mouse *ms)
{
    return ms->reply.count || ms->packets.count;
}

uint8_t ps2_mouse_read(struct ps2_mouse *ms)
{
    uint8_t v = ms->reply.count ? ps2_queue_pop(&ms->reply)
                                : ps2_queue_pop(&ms->packets);

    ms->last = v;
    ps2_mouse_flush(ms);
    return v;
}

static int32_t ps2_mouse_accumulate(int32_t acc, int d)
{
    d = CLAMP(d, -PS2_MOUSE_MAX_BACKLOG, PS2_MOUSE_MAX_BACKLOG);
    return CLAMP(acc + d, -PS2_MOUSE_MAX_BACKLOG, PS2_MOUSE_MAX_BACKLOG);
}

void ps2_mouse_event(struct ps2_mouse *ms, int dx, int dy, int dz,
                     unsigned buttons)
{
    buttons &= PS2_BUTTONS;
    ms->dx = ps2_mouse_accumulate(ms->dx, dx);
    ms->dy = ps2_mouse_accumulate(ms->dy, -dy); /* PS/2 counts y upwards */
    if (ms->id == PS2_MOUSE_ID_WHEEL) {
        ms->dz = ps2_mouse_accumulate(ms->dz, dz);
    }
    if (buttons != ms->buttons) {
        ms->buttons = (uint8_t)buttons;
        ms->report = true;
    }
    ps2_mouse_flush(ms);
    if (ps2_mouse_has_data(ms)) {
        ms->notify(ms->opaque);
    }
}

/* ---- saved state ---------------------------------------------------- */

static bool ps2_queue_post_load(void *opaque, int version, GError **errp)
{
    struct ps2_queue *q = opaque;

    if (q->rptr >= PS2_QUEUE_SIZE || q->count > PS2_QUEUE_SIZE) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "ps2 queue: read pointer %u, count %u out of range",
                    q->rptr, q->count);
        return false;
    }
    return true;
}

static const struct dm_vmstate_field ps2_queue_fields[] = {
    DM_VMS_BUFFER(struct ps2_queue, data),
    DM_VMS_UINT8(struct ps2_queue, rptr),
    DM_VMS_UINT8(struct ps2_queue, count),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate ps2_queue_vmstate = {
    .name = "ps2-queue",
    .version = 1,
    .min_version = 1,
    .fields = ps2_queue_fields,
    .post_load = ps2_queue_post_load,
};

static bool ps2_kbd_post_load(void *opaque, int version, GError **errp)
{
    struct ps2_kbd *k = opaque;
    uint8_t p = k->param_cmd;

    if (k->scancode_set < 1 || k->scancode_set > 3) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "ps2-kbd: scan code set %u", k->scancode_set);
        return false;
    }
    if (p != 0 && p != KBD_CMD_SET_LEDS && p != KBD_CMD_TYPEMATIC &&
        p != KBD_CMD_SCANCODE &&
        (p < KBD_CMD_SET3_KEY_FIRST || p > KBD_CMD_SET3_KEY_LAST)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "ps2-kbd: pending command 0x%02x", p);
        return false;
    }
    ps2_kbd_set_leds(k, k->leds);
    return true;
}

static const struct dm_vmstate_field ps2_kbd_fields[] = {
    DM_VMS_STRUCT(struct ps2_kbd, reply, &ps2_queue_vmstate),
    DM_VMS_STRUCT(struct ps2_kbd, keys, &ps2_queue_vmstate),
    DM_VMS_UINT8(struct ps2_kbd, param_cmd),
    DM_VMS_UINT8(struct ps2_kbd, scancode_set),
    DM_VMS_BOOL(struct ps2_kbd, scanning),
    DM_VMS_UINT8(struct ps2_kbd, leds),
    DM_VMS_UINT8(struct ps2_kbd, typematic),
    DM_VMS_UINT8(struct ps2_kbd, last),
    DM_VMS_END_OF_LIST,
};

const struct dm_vmstate ps2_kbd_vmstate = {
    .name = "ps2-kbd",
    .version = 1,
    .min_version = 1,
    .fields = ps2_kbd_fields,
    .post_load = ps2_kbd_post_load,
};

static bool ps2_mouse_post_load(void *opaque, int version, GError **errp)
{
    struct ps2_mouse *ms = opaque;
    uint8_t p = ms->param_cmd;

    if (ms->resolution > 3 ||
        (ms->id != PS2_MOUSE_ID_STANDARD && ms->id != PS2_MOUSE_ID_WHEEL) ||
        (p != 0 && p != MOUSE_CMD_RESOLUTION && p != MOUSE_CMD_SAMPLE_RATE)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "ps2-mouse: resolution %u, id %u, pending command 0x%02x",
                    ms->resolution, ms->id, p);
        return false;
    }
    ms->mode &= PS2_MOUSE_MODE_MASK;
    ms->buttons &= PS2_BUTTONS;
    ms->dx = CLAMP(ms->dx, -PS2_MOUSE_MAX_BACKLOG, PS2_MOUSE_MAX_BACKLOG);
    ms->dy = CLAMP(ms->dy, -PS2_MOUSE_MAX_BACKLOG, PS2_MOUSE_MAX_BACKLOG);
    ms->dz = CLAMP(ms->dz, -PS2_MOUSE_MAX_BACKLOG, PS2_MOUSE_MAX_BACKLOG);
    return true;
}

static const struct dm_vmstate_field ps2_mouse_fields[] = {
    DM_VMS_STRUCT(struct ps2_mouse, reply, &ps2_queue_vmstate),
    DM_VMS_STRUCT(struct ps2_mouse, packets, &ps2_queue_vmstate),
    DM_VMS_UINT8(struct ps2_mouse, param_cmd),
    DM_VMS_UINT8(struct ps2_mouse, mode),
    DM_VMS_UINT8(struct ps2_mouse, resolution),
    DM_VMS_UINT8(struct ps2_mouse, sample_rate),
    DM_VMS_UINT8(struct ps2_mouse, id),
    DM_VMS_UINT_ARRAY(struct ps2_mouse, rates),
    DM_VMS_BOOL(struct ps2_mouse, wrap),
    DM_VMS_UINT8(struct ps2_mouse, buttons),
    DM_VMS_BOOL(struct ps2_mouse, report),
    DM_VMS_INT32(struct ps2_mouse, dx),
    DM_VMS_INT32(struct ps2_mouse, dy),
    DM_VMS_INT32(struct ps2_mouse, dz),
    DM_VMS_UINT8(struct ps2_mouse, last),
    DM_VMS_END_OF_LIST,
};

const struct dm_vmstate ps2_mouse_vmstate = {
    .name = "ps2-mouse",
    .version = 1,
    .min_version = 1,
    .fields = ps2_mouse_fields,
    .post_load = ps2_mouse_post_load,
};
