/*
 * keycodes.c: evdev key codes to PC scan codes (set 1, set 2) and USB HID
 * usages, and the 8042's set 2 to set 1 translation.
 *
 * Scan codes: IBM PC AT Technical Reference (keyboard), Microsoft "Keyboard
 * Scan Code Specification" rev 1.3a; the table agrees with the translation
 * below for every key (a unit test checks it). Keys that only exist in scan
 * code set 3 and the Alt/Ctrl variants of Print Screen and Pause (SysRq 0x54,
 * Break 0xe0 0x46) are left out.
 */
#include "hvmdm/keycodes.h"

/* Print Screen and Pause have sequences of their own, see
 * dm_keycode_scancodes(); their entries only carry the USB usage. */
static const struct dm_keycode_info dm_keycode_table[DM_KEYCODE_MAX] = {
    [KEY_ESC] = { 0x0001, 0x0076, 41 },
    [KEY_1] = { 0x0002, 0x0016, 30 },
    [KEY_2] = { 0x0003, 0x001e, 31 },
    [KEY_3] = { 0x0004, 0x0026, 32 },
    [KEY_4] = { 0x0005, 0x0025, 33 },
    [KEY_5] = { 0x0006, 0x002e, 34 },
    [KEY_6] = { 0x0007, 0x0036, 35 },
    [KEY_7] = { 0x0008, 0x003d, 36 },
    [KEY_8] = { 0x0009, 0x003e, 37 },
    [KEY_9] = { 0x000a, 0x0046, 38 },
    [KEY_0] = { 0x000b, 0x0045, 39 },
    [KEY_MINUS] = { 0x000c, 0x004e, 45 },
    [KEY_EQUAL] = { 0x000d, 0x0055, 46 },
    [KEY_BACKSPACE] = { 0x000e, 0x0066, 42 },
    [KEY_TAB] = { 0x000f, 0x000d, 43 },
    [KEY_Q] = { 0x0010, 0x0015, 20 },
    [KEY_W] = { 0x0011, 0x001d, 26 },
    [KEY_E] = { 0x0012, 0x0024, 8 },
    [KEY_R] = { 0x0013, 0x002d, 21 },
    [KEY_T] = { 0x0014, 0x002c, 23 },
    [KEY_Y] = { 0x0015, 0x0035, 28 },
    [KEY_U] = { 0x0016, 0x003c, 24 },
    [KEY_I] = { 0x0017, 0x0043, 12 },
    [KEY_O] = { 0x0018, 0x0044, 18 },
    [KEY_P] = { 0x0019, 0x004d, 19 },
    [KEY_LEFTBRACE] = { 0x001a, 0x0054, 47 },
    [KEY_RIGHTBRACE] = { 0x001b, 0x005b, 48 },
    [KEY_ENTER] = { 0x001c, 0x005a, 40 },
    [KEY_LEFTCTRL] = { 0x001d, 0x0014, 224 },
    [KEY_A] = { 0x001e, 0x001c, 4 },
    [KEY_S] = { 0x001f, 0x001b, 22 },
    [KEY_D] = { 0x0020, 0x0023, 7 },
    [KEY_F] = { 0x0021, 0x002b, 9 },
    [KEY_G] = { 0x0022, 0x0034, 10 },
    [KEY_H] = { 0x0023, 0x0033, 11 },
    [KEY_J] = { 0x0024, 0x003b, 13 },
    [KEY_K] = { 0x0025, 0x0042, 14 },
    [KEY_L] = { 0x0026, 0x004b, 15 },
    [KEY_SEMICOLON] = { 0x0027, 0x004c, 51 },
    [KEY_APOSTROPHE] = { 0x0028, 0x0052, 52 },
    [KEY_GRAVE] = { 0x0029, 0x000e, 53 },
    [KEY_LEFTSHIFT] = { 0x002a, 0x0012, 225 },
    [KEY_BACKSLASH] = { 0x002b, 0x005d, 49 },
    [KEY_Z] = { 0x002c, 0x001a, 29 },
    [KEY_X] = { 0x002d, 0x0022, 27 },
    [KEY_C] = { 0x002e, 0x0021, 6 },
    [KEY_V] = { 0x002f, 0x002a, 25 },
    [KEY_B] = { 0x0030, 0x0032, 5 },
    [KEY_N] = { 0x0031, 0x0031, 17 },
    [KEY_M] = { 0x0032, 0x003a, 16 },
    [KEY_COMMA] = { 0x0033, 0x0041, 54 },
    [KEY_DOT] = { 0x0034, 0x0049, 55 },
    [KEY_SLASH] = { 0x0035, 0x004a, 56 },
    [KEY_RIGHTSHIFT] = { 0x0036, 0x0059, 229 },
    [KEY_KPASTERISK] = { 0x0037, 0x007c, 85 },
    [KEY_LEFTALT] = { 0x0038, 0x0011, 226 },
    [KEY_SPACE] = { 0x0039, 0x0029, 44 },
    [KEY_CAPSLOCK] = { 0x003a, 0x0058, 57 },
    [KEY_F1] = { 0x003b, 0x0005, 58 },
    [KEY_F2] = { 0x003c, 0x0006, 59 },
    [KEY_F3] = { 0x003d, 0x0004, 60 },
    [KEY_F4] = { 0x003e, 0x000c, 61 },
    [KEY_F5] = { 0x003f, 0x0003, 62 },
    [KEY_F6] = { 0x0040, 0x000b, 63 },
    [KEY_F7] = { 0x0041, 0x0083, 64 },
    [KEY_F8] = { 0x0042, 0x000a, 65 },
    [KEY_F9] = { 0x0043, 0x0001, 66 },
    [KEY_F10] = { 0x0044, 0x0009, 67 },
    [KEY_NUMLOCK] = { 0x0045, 0x0077, 83 },
    [KEY_SCROLLLOCK] = { 0x0046, 0x007e, 71 },
    [KEY_KP7] = { 0x0047, 0x006c, 95 },
    [KEY_KP8] = { 0x0048, 0x0075, 96 },
    [KEY_KP9] = { 0x0049, 0x007d, 97 },
    [KEY_KPMINUS] = { 0x004a, 0x007b, 86 },
    [KEY_KP4] = { 0x004b, 0x006b, 92 },
    [KEY_KP5] = { 0x004c, 0x0073, 93 },
    [KEY_KP6] = { 0x004d, 0x0074, 94 },
    [KEY_KPPLUS] = { 0x004e, 0x0079, 87 },
    [KEY_KP1] = { 0x004f, 0x0069, 89 },
    [KEY_KP2] = { 0x0050, 0x0072, 90 },
    [KEY_KP3] = { 0x0051, 0x007a, 91 },
    [KEY_KP0] = { 0x0052, 0x0070, 98 },
    [KEY_KPDOT] = { 0x0053, 0x0071, 99 },
    [KEY_ZENKAKUHANKAKU] = { 0x0076, 0x005f, 148 },
    [KEY_102ND] = { 0x0056, 0x0061, 100 },
    [KEY_F11] = { 0x0057, 0x0078, 68 },
    [KEY_F12] = { 0x0058, 0x0007, 69 },
    [KEY_RO] = { 0x0073, 0x0051, 135 },
    [KEY_KATAKANA] = { 0x0078, 0x0063, 146 },
    [KEY_HIRAGANA] = { 0x0077, 0x0062, 147 },
    [KEY_HENKAN] = { 0x0079, 0x0064, 138 },
    [KEY_KATAKANAHIRAGANA] = { 0x0070, 0x0013, 136 },
    [KEY_MUHENKAN] = { 0x007b, 0x0067, 139 },
    [KEY_KPJPCOMMA] = { 0x005c, 0x0027, 140 },
    [KEY_KPENTER] = { 0xe01c, 0xe05a, 88 },
    [KEY_RIGHTCTRL] = { 0xe01d, 0xe014, 228 },
    [KEY_KPSLASH] = { 0xe035, 0xe04a, 84 },
    [KEY_SYSRQ] = { 0x0000, 0x0000, 70 },
    [KEY_RIGHTALT] = { 0xe038, 0xe011, 230 },
    [KEY_HOME] = { 0xe047, 0xe06c, 74 },
    [KEY_UP] = { 0xe048, 0xe075, 82 },
    [KEY_PAGEUP] = { 0xe049, 0xe07d, 75 },
    [KEY_LEFT] = { 0xe04b, 0xe06b, 80 },
    [KEY_RIGHT] = { 0xe04d, 0xe074, 79 },
    [KEY_END] = { 0xe04f, 0xe069, 77 },
    [KEY_DOWN] = { 0xe050, 0xe072, 81 },
    [KEY_PAGEDOWN] = { 0xe051, 0xe07a, 78 },
    [KEY_INSERT] = { 0xe052, 0xe070, 73 },
    [KEY_DELETE] = { 0xe053, 0xe071, 76 },
    [KEY_MACRO] = { 0xe06f, 0xe06f, 0 },
    [KEY_MUTE] = { 0xe020, 0xe023, 127 },
    [KEY_VOLUMEDOWN] = { 0xe02e, 0xe021, 129 },
    [KEY_VOLUMEUP] = { 0xe030, 0xe032, 128 },
    [KEY_POWER] = { 0xe05e, 0xe037, 102 },
    [KEY_KPEQUAL] = { 0x0059, 0x000f, 103 },
    [KEY_KPPLUSMINUS] = { 0xe04e, 0xe079, 0 },
    [KEY_PAUSE] = { 0x0000, 0x0000, 72 },
    [KEY_KPCOMMA] = { 0x007e, 0x006d, 133 },
    [KEY_HANGEUL] = { 0x00f2, 0x00f2, 144 },
    [KEY_HANJA] = { 0x00f1, 0x00f1, 145 },
    [KEY_YEN] = { 0x007d, 0x006a, 137 },
    [KEY_LEFTMETA] = { 0xe05b, 0xe01f, 227 },
    [KEY_RIGHTMETA] = { 0xe05c, 0xe027, 231 },
    [KEY_COMPOSE] = { 0xe05d, 0xe02f, 101 },
    [KEY_STOP] = { 0xe068, 0xe028, 120 },
    [KEY_AGAIN] = { 0x0000, 0x0000, 121 },
    [KEY_UNDO] = { 0x0000, 0x0000, 122 },
    [KEY_FRONT] = { 0x0000, 0x0000, 119 },
    [KEY_COPY] = { 0x0000, 0x0000, 124 },
    [KEY_OPEN] = { 0x0000, 0x0000, 116 },
    [KEY_PASTE] = { 0x0000, 0x0000, 125 },
    [KEY_FIND] = { 0x0000, 0x0000, 126 },
    [KEY_CUT] = { 0x0000, 0x0000, 123 },
    [KEY_HELP] = { 0x0000, 0x0000, 117 },
    [KEY_MENU] = { 0x0000, 0x0000, 118 },
    [KEY_CALC] = { 0xe021, 0xe02b, 251 },
    [KEY_SLEEP] = { 0xe05f, 0xe03f, 248 },
    [KEY_WAKEUP] = { 0xe063, 0xe05e, 0 },
    [KEY_WWW] = { 0x0000, 0x0000, 240 },
    [KEY_SCREENLOCK] = { 0x0000, 0x0000, 249 },
    [KEY_MAIL] = { 0xe06c, 0xe048, 0 },
    [KEY_BOOKMARKS] = { 0xe066, 0xe018, 0 },
    [KEY_COMPUTER] = { 0xe06b, 0xe040, 0 },
    [KEY_BACK] = { 0xe06a, 0xe038, 241 },
    [KEY_FORWARD] = { 0xe069, 0xe030, 242 },
    [KEY_EJECTCD] = { 0x0000, 0x0000, 236 },
    [KEY_NEXTSONG] = { 0xe019, 0xe04d, 235 },
    [KEY_PLAYPAUSE] = { 0xe022, 0xe034, 232 },
    [KEY_PREVIOUSSONG] = { 0xe010, 0xe015, 234 },
    [KEY_STOPCD] = { 0xe024, 0xe03b, 233 },
    [KEY_HOMEPAGE] = { 0xe032, 0xe03a, 0 },
    [KEY_REFRESH] = { 0xe067, 0xe020, 250 },
    [KEY_EDIT] = { 0x0000, 0x0000, 247 },
    [KEY_SCROLLUP] = { 0x0000, 0x0000, 245 },
    [KEY_SCROLLDOWN] = { 0x0000, 0x0000, 246 },
    [KEY_KPLEFTPAREN] = { 0x0000, 0x0000, 182 },
    [KEY_KPRIGHTPAREN] = { 0x0000, 0x0000, 183 },
    [KEY_F13] = { 0x005d, 0x002f, 104 },
    [KEY_F14] = { 0x005e, 0x0037, 105 },
    [KEY_F15] = { 0x005f, 0x003f, 106 },
    [KEY_F16] = { 0x0000, 0x0000, 107 },
    [KEY_F17] = { 0x0000, 0x0000, 108 },
    [KEY_F18] = { 0x0000, 0x0000, 109 },
    [KEY_F19] = { 0x0000, 0x0000, 110 },
    [KEY_F20] = { 0x0000, 0x0000, 111 },
    [KEY_F21] = { 0x0000, 0x0000, 112 },
    [KEY_F22] = { 0x0000, 0x0000, 113 },
    [KEY_F23] = { 0x0000, 0x0000, 114 },
    [KEY_F24] = { 0x0000, 0x0000, 115 },
    [KEY_SEARCH] = { 0xe065, 0xe010, 0 },
    [KEY_MEDIA] = { 0xe06d, 0xe050, 0 },
};

/*
 * What the 8042 puts in its output buffer for a byte received from the
 * keyboard when XLATE is set: set 2 make codes 0x00-0x7f map to set 1 codes,
 * 0x83 (F7) to 0x41, everything else passes unchanged.
 */
static const uint8_t dm_set2_to_set1[128] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, /* 0x00 */
    0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, /* 0x10 */
    0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, /* 0x20 */
    0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, /* 0x30 */
    0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, /* 0x40 */
    0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, /* 0x50 */
    0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, /* 0x60 */
    0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, /* 0x70 */
    0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

uint8_t dm_keycode_translate_set2(uint8_t code)
{
    if (code < 0x80) {
        return dm_set2_to_set1[code];
    }
    return code == 0x83 ? 0x41 : code;
}

const struct dm_keycode_info *dm_keycode_info(unsigned evdev)
{
    const struct dm_keycode_info *k;

    if (evdev >= DM_KEYCODE_MAX) {
        return NULL;
    }
    k = &dm_keycode_table[evdev];
    if (!k->set1 && !k->set2 && !k->usb && evdev != KEY_SYSRQ &&
        evdev != KEY_PAUSE) {
        return NULL;
    }
    return k;
}

/* Print Screen: a fake left shift press around the 0xe0 0x37 (set 1) or
 * 0xe0 0x7c (set 2) key, released in reverse order. */
static unsigned dm_print_screen(bool down, unsigned set, uint8_t *buf)
{
    static const uint8_t set1_make[] = { 0xe0, 0x2a, 0xe0, 0x37 };
    static const uint8_t set1_break[] = { 0xe0, 0xb7, 0xe0, 0xaa };
    static const uint8_t set2_make[] = { 0xe0, 0x12, 0xe0, 0x7c };
    static const uint8_t set2_break[] = { 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12 };
    const uint8_t *seq;
    unsigned len;

    if (set == 1) {
        seq = down ? set1_make : set1_break;
        len = down ? sizeof(set1_make) : sizeof(set1_break);
    } else {
        seq = down ? set2_make : set2_break;
        len = down ? sizeof(set2_make) : sizeof(set2_break);
    }
    memcpy(buf, seq, len);
    return len;
}

/* Pause: Ctrl + NumLock make and break behind 0xe1 prefixes, all sent on
 * the press; nothing on release. */
static unsigned dm_pause(bool down, unsigned set, uint8_t *buf)
{
    static const uint8_t set1_seq[] = { 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5 };
    static const uint8_t set2_seq[] = { 0xe1, 0x14, 0x77, 0xe1,
                                        0xf0, 0x14, 0xf0, 0x77 };

    if (!down) {
        return 0;
    }
    if (set == 1) {
        memcpy(buf, set1_seq, sizeof(set1_seq));
        return sizeof(set1_seq);
    }
    memcpy(buf, set2_seq, sizeof(set2_seq));
    return sizeof(set2_seq);
}

unsigned dm_keycode_scancodes(unsigned evdev, bool down, unsigned set,
                              uint8_t *buf)
{
    const struct dm_keycode_info *k = dm_keycode_info(evdev);
    unsigned code, n = 0;

    if (!k) {
        return 0;
    }
    if (evdev == KEY_SYSRQ) {
        return dm_print_screen(down, set, buf);
    }
    if (evdev == KEY_PAUSE) {
        return dm_pause(down, set, buf);
    }
    code = set == 1 ? k->set1 : k->set2;
    if (!code) {
        return 0;
    }
    if (evdev == KEY_HANGEUL || evdev == KEY_HANJA) {
        /* A single byte on the press, no break code. */
        if (!down) {
            return 0;
        }
        buf[0] = (uint8_t)code;
        return 1;
    }
    if (code >> 8) {
        buf[n++] = (uint8_t)(code >> 8);
    }
    if (set == 1) {
        buf[n++] = (uint8_t)((code & 0x7f) | (down ? 0 : 0x80));
    } else {
        if (!down) {
            buf[n++] = 0xf0;
        }
        buf[n++] = (uint8_t)code;
    }
    return n;
}

unsigned dm_keycode_from_qnum(unsigned qnum)
{
    unsigned want;

    if (qnum == 0 || qnum > 0xff) {
        return 0;
    }
    if (qnum == 0xb7 || qnum == 0x54) {
        return KEY_SYSRQ;
    }
    if (qnum == 0xc6) {
        return KEY_PAUSE;
    }
    want = qnum & 0x80 ? 0xe000 | (qnum & 0x7f) : qnum;
    for (unsigned i = 1; i < DM_KEYCODE_MAX; i++) {
        if (dm_keycode_table[i].set1 == want) {
            return i;
        }
    }
    return 0;
}
