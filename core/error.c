/*
 * error.c: the GError domain every hvmdm error is reported in (DM_ERROR).
 *
 * Codes are in common.h (enum dm_error_code); the message carries the detail.
 */
#include "hvmdm/common.h"

G_DEFINE_QUARK(hvmdm-error-quark, dm_error)
