/*
 * input.c: routes keyboard and pointer events from the user interfaces to
 * the device that currently takes them.
 *
 * Handlers are kept most recent first; each event goes to the first handler
 * that has a callback for it, so a USB tablet plugged after the PS/2 mouse
 * takes the pointer while the PS/2 keyboard keeps the keys. Wheel buttons
 * become DZ detents here, once, for every device. Keys held down are not
 * released on a handler switch.
 */
#include "hvmdm/input.h"
#include "hvmdm/trace.h"

struct dm_input {
    GPtrArray *handlers;   /* const struct dm_input_handler *, oldest first */
    unsigned prev_buttons; /* as the UI last reported them, wheel included */
    unsigned leds;         /* DM_LED_* */
};

struct dm_input *dm_input_new(void)
{
    struct dm_input *in = g_new0(struct dm_input, 1);

    in->handlers = g_ptr_array_new();
    return in;
}

void dm_input_free(struct dm_input *in)
{
    if (!in) {
        return;
    }
    g_ptr_array_free(in->handlers, TRUE);
    g_free(in);
}

void dm_input_register(struct dm_input *in, const struct dm_input_handler *h)
{
    /* Registering again moves the handler to the front. */
    g_ptr_array_remove(in->handlers, (gpointer)h);
    g_ptr_array_add(in->handlers, (gpointer)h);
    dm_trace(input_register, "%s", h->name ? h->name : "?");
}

void dm_input_unregister(struct dm_input *in, const struct dm_input_handler *h)
{
    if (in && g_ptr_array_remove(in->handlers, (gpointer)h)) {
        dm_trace(input_unregister, "%s", h->name ? h->name : "?");
    }
}

enum dm_input_kind {
    DM_INPUT_KIND_KEY,
    DM_INPUT_KIND_REL,
    DM_INPUT_KIND_ABS,
};

static bool dm_input_handler_is(const struct dm_input_handler *h,
                                enum dm_input_kind kind)
{
    switch (kind) {
    case DM_INPUT_KIND_KEY:
        return h->key != NULL;
    case DM_INPUT_KIND_REL:
        return h->mouse_rel != NULL;
    case DM_INPUT_KIND_ABS:
        return h->mouse_abs != NULL;
    }
    return false;
}

static const struct dm_input_handler *dm_input_find(struct dm_input *in,
                                                    enum dm_input_kind kind)
{
    for (guint i = in->handlers->len; i > 0; i--) {
        const struct dm_input_handler *h = in->handlers->pdata[i - 1];

        if (dm_input_handler_is(h, kind)) {
            return h;
        }
    }
    return NULL;
}

bool dm_input_has_key(struct dm_input *in)
{
    return dm_input_find(in, DM_INPUT_KIND_KEY) != NULL;
}

bool dm_input_has_rel(struct dm_input *in)
{
    return dm_input_find(in, DM_INPUT_KIND_REL) != NULL;
}

bool dm_input_has_abs(struct dm_input *in)
{
    return dm_input_find(in, DM_INPUT_KIND_ABS) != NULL;
}

void dm_input_key(struct dm_input *in, unsigned evdev_code, bool down)
{
    const struct dm_input_handler *h = dm_input_find(in, DM_INPUT_KIND_KEY);

    dm_trace(input_key, "code %u %s -> %s", evdev_code, down ? "down" : "up",
             h ? h->name : "nobody");
    if (h) {
        h->key(h->opaque, evdev_code, down);
    }
}

/* Turn wheel button presses into detents (up = -1) and strip the bits. */
static unsigned dm_input_wheel(struct dm_input *in, unsigned buttons, int *dz)
{
    unsigned pressed = buttons & ~in->prev_buttons;

    in->prev_buttons = buttons;
    if (pressed & DM_BTN_WHEEL_UP) {
        *dz -= 1;
    }
    if (pressed & DM_BTN_WHEEL_DOWN) {
        *dz += 1;
    }
    return buttons & ~(unsigned)(DM_BTN_WHEEL_UP | DM_BTN_WHEEL_DOWN);
}

void dm_input_mouse_rel(struct dm_input *in, int dx, int dy, int dz,
                        unsigned buttons)
{
    const struct dm_input_handler *h = dm_input_find(in, DM_INPUT_KIND_REL);

    buttons = dm_input_wheel(in, buttons, &dz);
    dm_trace(input_mouse_rel, "dx %d dy %d dz %d buttons 0x%x -> %s", dx, dy,
             dz, buttons, h ? h->name : "nobody");
    if (h) {
        h->mouse_rel(h->opaque, dx, dy, dz, buttons);
    }
}

void dm_input_mouse_abs(struct dm_input *in, int x, int y, int dz,
                        unsigned buttons)
{
    const struct dm_input_handler *h = dm_input_find(in, DM_INPUT_KIND_ABS);

    buttons = dm_input_wheel(in, buttons, &dz);
    x = CLAMP(x, 0, 0x7fff);
    y = CLAMP(y, 0, 0x7fff);
    dm_trace(input_mouse_abs, "x %d y %d dz %d buttons 0x%x -> %s", x, y, dz,
             buttons, h ? h->name : "nobody");
    if (h) {
        h->mouse_abs(h->opaque, x, y, dz, buttons);
    }
}

void dm_input_set_leds(struct dm_input *in, unsigned leds)
{
    leds &= DM_LED_SCROLL_LOCK | DM_LED_NUM_LOCK | DM_LED_CAPS_LOCK;
    if (in->leds != leds) {
        dm_trace(input_leds, "0x%x", leds);
        in->leds = leds;
    }
}

unsigned dm_input_leds(struct dm_input *in)
{
    return in->leds;
}
