/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stanza.h: the JSON stanzas and binary relay frames of the rendezvous protocol
 * (docs/protocol.md): validated parsing, typed field access and building. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PINHOLE_PROTOCOL_VERSION 1
#define PINHOLE_WEBSOCKET_PROTOCOL "pinhole-1"
#define PINHOLE_WEBSOCKET_PATH "/pinhole"

/* docs/protocol.md §2: limits every peer enforces */
#define PINHOLE_STANZA_MAX_BYTES (64 * 1024)
#define PINHOLE_STANZA_MAX_DEPTH 8
#define PINHOLE_RELAY_HEADER_BYTES 4
#define PINHOLE_RELAY_MAX_PAYLOAD (64 * 1024)
/* the largest WebSocket message either side takes, one frame or fragments together */
#define PINHOLE_WS_MAX_MESSAGE MAX (PINHOLE_STANZA_MAX_BYTES, \
                                    PINHOLE_RELAY_HEADER_BYTES + PINHOLE_RELAY_MAX_PAYLOAD)

/* error codes carried by "error" stanzas (docs/protocol.md §3) */
typedef enum
{
  PINHOLE_STANZA_ERROR_BAD_REQUEST = 400,
  PINHOLE_STANZA_ERROR_NOT_AUTHORIZED = 401,
  PINHOLE_STANZA_ERROR_FORBIDDEN = 403,
  PINHOLE_STANZA_ERROR_NOT_FOUND = 404,
  PINHOLE_STANZA_ERROR_CONFLICT = 409,
  PINHOLE_STANZA_ERROR_TOO_LARGE = 413,
  PINHOLE_STANZA_ERROR_RATE_LIMITED = 429,
  PINHOLE_STANZA_ERROR_INTERNAL = 500,
  PINHOLE_STANZA_ERROR_UNAVAILABLE = 503,
} PinholeStanzaError;

JsonObject *pinhole_stanza_parse_document (const char  *what,
                                           const char  *text,
                                           gsize        len,
                                           gsize        max_len,
                                           GError     **error);
JsonObject *pinhole_stanza_parse_object   (const char  *text,
                                           gsize        len,
                                           GError     **error);
JsonObject *pinhole_stanza_parse          (const char  *text,
                                           gsize        len,
                                           GError     **error);
char       *pinhole_stanza_to_string      (JsonObject  *stanza,
                                           gsize       *out_len);

const char *pinhole_stanza_get_type       (JsonObject  *stanza);
const char *pinhole_stanza_get_id         (JsonObject  *stanza);

const char *pinhole_stanza_require_string (JsonObject  *stanza,
                                           const char  *member,
                                           gsize        max_len,
                                           GError     **error);
const char *pinhole_stanza_optional_string (JsonObject *stanza,
                                            const char *member,
                                            gsize       max_len,
                                            GError    **error);
gboolean    pinhole_stanza_get_flag       (JsonObject  *stanza,
                                           const char  *member);
gboolean    pinhole_stanza_require_int    (JsonObject  *stanza,
                                           const char  *member,
                                           gint64       min,
                                           gint64       max,
                                           gint64      *out,
                                           GError     **error);
GBytes     *pinhole_stanza_require_base64 (JsonObject  *stanza,
                                           const char  *member,
                                           gsize        min_len,
                                           gsize        max_len,
                                           GError     **error);
void        pinhole_stanza_set_base64     (JsonObject  *stanza,
                                           const char  *member,
                                           GBytes      *bytes);

gboolean    pinhole_user_name_is_valid    (const char  *name);
gboolean    pinhole_device_name_is_valid  (const char  *name);

const char *pinhole_stanza_error_condition (int         code);
int         pinhole_stanza_error_code_for (const GError *error);
void        pinhole_stanza_error_to_gerror (int          code,
                                            const char  *text,
                                            GError     **error);

JsonObject *pinhole_stanza_new            (const char  *type,
                                           const char  *id);
JsonObject *pinhole_stanza_new_error      (const char  *id,
                                           int          code,
                                           const char  *text);

GBytes     *pinhole_relay_frame_build     (guint32      channel,
                                           const guint8 *payload,
                                           gsize        len);
gboolean    pinhole_relay_frame_parse     (GBytes      *frame,
                                           guint32     *out_channel,
                                           GBytes     **out_payload,
                                           GError     **error);

G_END_DECLS
