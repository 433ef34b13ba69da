/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer-message.c: the transfer messages of channel 2 (docs/transfer.md §4) as JSON
 * through the stanza parser, every member checked against its type and bound before the
 * message is handed on; and the binary BLOCK and DATA frames of the data channels (§3). */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-transfer-message.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "pinhole-error.h"
#include "pinhole-session.h"
#include "pinhole-stanza.h"

static const char *const type_names[] = {
  [PINHOLE_TRANSFER_MESSAGE_OFFER] = "offer",
  [PINHOLE_TRANSFER_MESSAGE_ACCEPT] = "accept",
  [PINHOLE_TRANSFER_MESSAGE_DECLINE] = "decline",
  [PINHOLE_TRANSFER_MESSAGE_TAKEN] = "taken",
  [PINHOLE_TRANSFER_MESSAGE_HAVE] = "have",
  [PINHOLE_TRANSFER_MESSAGE_READY] = "ready",
  [PINHOLE_TRANSFER_MESSAGE_SENDING] = "sending",
  [PINHOLE_TRANSFER_MESSAGE_VERIFIED] = "verified",
  [PINHOLE_TRANSFER_MESSAGE_RESENT] = "resent",
  [PINHOLE_TRANSFER_MESSAGE_FILE_DONE] = "file-done",
  [PINHOLE_TRANSFER_MESSAGE_DONE] = "done",
  [PINHOLE_TRANSFER_MESSAGE_PAUSE] = "pause",
  [PINHOLE_TRANSFER_MESSAGE_RESUME] = "resume",
  [PINHOLE_TRANSFER_MESSAGE_CANCEL] = "cancel",
  [PINHOLE_TRANSFER_MESSAGE_FAILED] = "failed",
};

/* the largest block index of any file: 1 PiB in 1 MiB blocks */
#define MAX_BLOCK (PINHOLE_MANIFEST_MAX_SIZE / PINHOLE_MANIFEST_BLOCK_SIZE)

const char *
pinhole_transfer_message_type_to_string (PinholeTransferMessageType type)
{
  g_return_val_if_fail ((guint) type < G_N_ELEMENTS (type_names), NULL);
  return type_names[type];
}

gboolean
pinhole_transfer_id_is_valid (const char *id)
{
  if (strlen (id) != PINHOLE_TRANSFER_ID_LEN)
    return FALSE;
  for (const char *p = id; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

/* Returns: (transfer full): 128 random bits as a transfer id */
char *
pinhole_transfer_id_new (void)
{
  char *id = g_malloc (PINHOLE_TRANSFER_ID_LEN + 1);

  for (int i = 0; i < PINHOLE_TRANSFER_ID_LEN / 8; i++)
    g_snprintf (id + 8 * i, 9, "%08x", g_random_int ());
  return id;
}

PinholeTransferMessage *
pinhole_transfer_message_new (PinholeTransferMessageType  type,
                              const char                 *id)
{
  PinholeTransferMessage *self;

  g_return_val_if_fail (pinhole_transfer_id_is_valid (id), NULL);
  self = g_new0 (PinholeTransferMessage, 1);
  self->type = type;
  memcpy (self->id, id, PINHOLE_TRANSFER_ID_LEN + 1);
  return self;
}

void
pinhole_transfer_message_free (PinholeTransferMessage *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->part, g_bytes_unref);
  g_clear_pointer (&self->entries, g_array_unref);
  g_clear_pointer (&self->blocks, g_bytes_unref);
  g_free (self->reason);
  g_free (self);
}

/* ---- parsing ---- */

static gboolean
get_uint (JsonObject *object,
          const char *member,
          guint64     max,
          guint64    *out,
          GError    **error)
{
  gint64 v;

  if (!pinhole_stanza_require_int (object, member, 0, (gint64) MIN (max, (guint64) G_MAXINT64),
                                   &v, error))
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static gboolean
get_window (JsonObject *object,
            guint      *out,
            GError    **error)
{
  gint64 v;

  if (!pinhole_stanza_require_int (object, "window", 1, PINHOLE_TRANSFER_MAX_WINDOW, &v, error))
    return FALSE;
  *out = (guint) v;
  return TRUE;
}

static gboolean
get_entry (JsonObject *object,
           guint32    *out,
           GError    **error)
{
  guint64 v;

  if (!get_uint (object, "entry", PINHOLE_MANIFEST_MAX_ENTRIES - 1, &v, error))
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

static gboolean
parse_offer (PinholeTransferMessage *m,
             JsonObject             *object,
             GError                **error)
{
  if (!get_uint (object, "size", PINHOLE_MANIFEST_MAX_BYTES, &m->manifest_size, error) ||
      !get_uint (object, "offset", PINHOLE_MANIFEST_MAX_BYTES, &m->offset, error) ||
      !get_uint (object, "files", PINHOLE_MANIFEST_MAX_ENTRIES, &m->files, error) ||
      !get_uint (object, "bytes", PINHOLE_MANIFEST_MAX_ENTRIES * PINHOLE_MANIFEST_MAX_SIZE,
                 &m->bytes, error))
    return FALSE;
  m->part = pinhole_stanza_require_base64 (object, "part", 1, PINHOLE_TRANSFER_MAX_PART, error);
  if (m->part == NULL)
    return FALSE;
  /* compare with what remains: offset + length can be checked without overflow here, both
   * are bounded, but the manifest must be covered exactly */
  if (m->offset > m->manifest_size ||
      g_bytes_get_size (m->part) > m->manifest_size - m->offset)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "offer part of %" G_GSIZE_FORMAT " bytes at %" G_GUINT64_FORMAT
                   " overruns a manifest of %" G_GUINT64_FORMAT, g_bytes_get_size (m->part),
                   m->offset, m->manifest_size);
      return FALSE;
    }
  if (m->files == 0)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "offer of no files");
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_accept (PinholeTransferMessage *m,
              JsonObject             *object,
              GError                **error)
{
  JsonNode *node = json_object_get_member (object, "entries");
  g_autoptr(GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  JsonArray *array;

  if (!get_window (object, &m->window, error))
    return FALSE;
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "\"entries\" is not an array");
      return FALSE;
    }
  array = json_node_get_array (node);
  if (json_array_get_length (array) == 0 ||
      json_array_get_length (array) > PINHOLE_MANIFEST_MAX_ENTRIES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "accept of %u entries, 1 to %d allowed", json_array_get_length (array),
                   PINHOLE_MANIFEST_MAX_ENTRIES);
      return FALSE;
    }
  m->entries = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *e = json_array_get_element (array, i);
      gint64 v = -1;

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64 ||
          (v = json_node_get_int (e)) < 0 || v >= PINHOLE_MANIFEST_MAX_ENTRIES)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "accepted entry %u is not an index below %d", i,
                       PINHOLE_MANIFEST_MAX_ENTRIES);
          return FALSE;
        }
      if (!g_hash_table_add (seen, GINT_TO_POINTER ((gint) v + 1)))
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "entry %" G_GINT64_FORMAT " is accepted twice", v);
          return FALSE;
        }
      {
        guint32 index = (guint32) v;

        g_array_append_val (m->entries, index);
      }
    }
  return TRUE;
}

static gboolean
parse_have (PinholeTransferMessage *m,
            JsonObject             *object,
            GError                **error)
{
  if (!get_entry (object, &m->entry, error))
    return FALSE;
  if (pinhole_stanza_get_flag (object, "done"))
    {
      m->done = TRUE;
      return TRUE;
    }
  if (!get_uint (object, "first", MAX_BLOCK, &m->first, error))
    return FALSE;
  if (m->first % 8 != 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "\"first\" is %" G_GUINT64_FORMAT ", not a multiple of 8", m->first);
      return FALSE;
    }
  m->blocks = pinhole_stanza_require_base64 (object, "blocks", 1, PINHOLE_TRANSFER_MAX_HAVE,
                                             error);
  return m->blocks != NULL;
}

static gboolean
parse_block_ref (PinholeTransferMessage *m,
                 JsonObject             *object,
                 GError                **error)
{
  return get_entry (object, &m->entry, error) &&
         get_uint (object, "block", MAX_BLOCK, &m->block, error);
}

static gboolean
parse_reason (PinholeTransferMessage *m,
              JsonObject             *object,
              gboolean                required,
              GError                **error)
{
  const char *reason = required ?
    pinhole_stanza_require_string (object, "reason", PINHOLE_TRANSFER_MAX_REASON, error) :
    pinhole_stanza_optional_string (object, "reason", PINHOLE_TRANSFER_MAX_REASON, error);

  if (reason == NULL)
    return !required && (error == NULL || *error == NULL);
  m->reason = g_strdup (reason);
  return TRUE;
}

/**
 * pinhole_transfer_message_parse:
 * @payload: a frame of channel 2
 * Returns: (transfer full): the message, every member of its type checked (§4); or %NULL with
 *   PINHOLE_ERROR_PROTOCOL (PINHOLE_ERROR_LIMIT for one too large)
 */
PinholeTransferMessage *
pinhole_transfer_message_parse (GBytes  *payload,
                                GError **error)
{
  gsize len;
  const char *text = g_bytes_get_data (payload, &len);
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(PinholeTransferMessage) m = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *type, *id;
  gint64 v;
  guint i;
  gboolean ok = TRUE;

  object = pinhole_stanza_parse (text, len, error);
  if (object == NULL)
    return NULL;
  type = pinhole_stanza_get_type (object);
  for (i = 0; i < G_N_ELEMENTS (type_names); i++)
    if (strcmp (type, type_names[i]) == 0)
      break;
  if (i == G_N_ELEMENTS (type_names))
    {
      g_autofree char *quoted = g_strescape (type, NULL);

      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "unknown transfer message \"%.40s\"", quoted);
      return NULL;
    }
  id = pinhole_stanza_require_string (object, "id", PINHOLE_TRANSFER_ID_LEN, &local_error);
  if (id == NULL || !pinhole_transfer_id_is_valid (id))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "%s: \"id\" is not %d lowercase hex digits", type_names[i],
                   PINHOLE_TRANSFER_ID_LEN);
      return NULL;
    }
  m = pinhole_transfer_message_new ((PinholeTransferMessageType) i, id);

  switch (m->type)
    {
    case PINHOLE_TRANSFER_MESSAGE_OFFER:
      ok = parse_offer (m, object, &local_error);
      break;
    case PINHOLE_TRANSFER_MESSAGE_ACCEPT:
      ok = parse_accept (m, object, &local_error);
      break;
    case PINHOLE_TRANSFER_MESSAGE_HAVE:
      ok = parse_have (m, object, &local_error);
      break;
    case PINHOLE_TRANSFER_MESSAGE_READY:
      ok = get_window (object, &m->window, &local_error);
      break;
    case PINHOLE_TRANSFER_MESSAGE_SENDING:
      ok = pinhole_stanza_require_int (object, "channel", PINHOLE_SESSION_CHANNEL_BULK, 255, &v,
                                       &local_error);
      m->channel = ok ? (guint) v : 0;
      break;
    case PINHOLE_TRANSFER_MESSAGE_VERIFIED:
    case PINHOLE_TRANSFER_MESSAGE_RESENT:
      ok = parse_block_ref (m, object, &local_error);
      break;
    case PINHOLE_TRANSFER_MESSAGE_FILE_DONE:
      {
        const char *hex;

        ok = get_entry (object, &m->entry, &local_error);
        hex = ok ? pinhole_stanza_require_string (object, "sha256", 64, &local_error) : NULL;
        ok = hex != NULL && pinhole_sha256_from_hex (hex, m->sha256);
        if (!ok && local_error == NULL)
          g_set_error_literal (&local_error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "\"sha256\" is not 64 lowercase hex digits");
      }
      break;
    case PINHOLE_TRANSFER_MESSAGE_CANCEL:
      ok = parse_reason (m, object, FALSE, &local_error);
      break;
    case PINHOLE_TRANSFER_MESSAGE_FAILED:
      ok = pinhole_stanza_require_int (object, "code", 0, PINHOLE_ERROR_CERTIFICATE, &v,
                                       &local_error) &&
           parse_reason (m, object, TRUE, &local_error);
      m->code = ok ? (gint) v : 0;
      break;
    case PINHOLE_TRANSFER_MESSAGE_DECLINE:
    case PINHOLE_TRANSFER_MESSAGE_TAKEN:
    case PINHOLE_TRANSFER_MESSAGE_DONE:
    case PINHOLE_TRANSFER_MESSAGE_PAUSE:
    case PINHOLE_TRANSFER_MESSAGE_RESUME:
    default:
      break;
    }
  if (!ok)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ",
                                  type_names[m->type]);
      return NULL;
    }
  return g_steal_pointer (&m);
}

/* ---- encoding ---- */

/* Returns: (transfer full): the message as one frame of channel 2 */
GBytes *
pinhole_transfer_message_encode (const PinholeTransferMessage *self)
{
  g_autoptr(JsonObject) o = pinhole_stanza_new (type_names[self->type], NULL);
  char *text;
  gsize len;

  json_object_set_string_member (o, "id", self->id);
  switch (self->type)
    {
    case PINHOLE_TRANSFER_MESSAGE_OFFER:
      json_object_set_int_member (o, "size", (gint64) self->manifest_size);
      json_object_set_int_member (o, "offset", (gint64) self->offset);
      json_object_set_int_member (o, "files", (gint64) self->files);
      json_object_set_int_member (o, "bytes", (gint64) self->bytes);
      pinhole_stanza_set_base64 (o, "part", self->part);
      break;
    case PINHOLE_TRANSFER_MESSAGE_ACCEPT:
      {
        JsonArray *array = json_array_new ();

        for (guint i = 0; self->entries != NULL && i < self->entries->len; i++)
          json_array_add_int_element (array, g_array_index (self->entries, guint32, i));
        json_object_set_array_member (o, "entries", array);
        json_object_set_int_member (o, "window", self->window);
      }
      break;
    case PINHOLE_TRANSFER_MESSAGE_HAVE:
      json_object_set_int_member (o, "entry", self->entry);
      if (self->done)
        json_object_set_boolean_member (o, "done", TRUE);
      else
        {
          json_object_set_int_member (o, "first", (gint64) self->first);
          pinhole_stanza_set_base64 (o, "blocks", self->blocks);
        }
      break;
    case PINHOLE_TRANSFER_MESSAGE_READY:
      json_object_set_int_member (o, "window", self->window);
      break;
    case PINHOLE_TRANSFER_MESSAGE_SENDING:
      json_object_set_int_member (o, "channel", self->channel);
      break;
    case PINHOLE_TRANSFER_MESSAGE_VERIFIED:
    case PINHOLE_TRANSFER_MESSAGE_RESENT:
      json_object_set_int_member (o, "entry", self->entry);
      json_object_set_int_member (o, "block", (gint64) self->block);
      break;
    case PINHOLE_TRANSFER_MESSAGE_FILE_DONE:
      {
        char hex[2 * PINHOLE_MANIFEST_SHA256_BYTES + 1];

        pinhole_sha256_to_hex (self->sha256, hex);
        json_object_set_int_member (o, "entry", self->entry);
        json_object_set_string_member (o, "sha256", hex);
      }
      break;
    case PINHOLE_TRANSFER_MESSAGE_FAILED:
      json_object_set_int_member (o, "code", self->code);
      json_object_set_string_member (o, "reason", self->reason != NULL ? self->reason : "");
      break;
    case PINHOLE_TRANSFER_MESSAGE_CANCEL:
      if (self->reason != NULL)
        json_object_set_string_member (o, "reason", self->reason);
      break;
    case PINHOLE_TRANSFER_MESSAGE_DECLINE:
    case PINHOLE_TRANSFER_MESSAGE_TAKEN:
    case PINHOLE_TRANSFER_MESSAGE_DONE:
    case PINHOLE_TRANSFER_MESSAGE_PAUSE:
    case PINHOLE_TRANSFER_MESSAGE_RESUME:
    default:
      break;
    }
  text = pinhole_stanza_to_string (o, &len);
  return g_bytes_new_take (text, len);
}

/* ---- data frames (§3) ---- */

static guint32
get_u32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static guint64
get_u64 (const guint8 *p)
{
  return (guint64) get_u32 (p) << 32 | get_u32 (p + 4);
}

static void
put_u32 (guint8  *p,
         guint32  v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

static void
put_u64 (guint8  *p,
         guint64  v)
{
  put_u32 (p, (guint32) (v >> 32));
  put_u32 (p + 4, (guint32) v);
}

/**
 * pinhole_transfer_data_parse:
 * @out: filled on success; its data points into @payload, which the caller keeps
 * Returns: whether @payload is a well-formed BLOCK or DATA frame; otherwise %FALSE with
 *   PINHOLE_ERROR_PROTOCOL. Whether it fits the transfer is for the caller to check.
 */
gboolean
pinhole_transfer_data_parse (GBytes               *payload,
                             PinholeTransferData  *out,
                             GError              **error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (payload, &len);

  memset (out, 0, sizeof *out);
  if (len >= 1 && p[0] == PINHOLE_TRANSFER_DATA_BLOCK && len == PINHOLE_TRANSFER_BLOCK_FRAME)
    {
      out->kind = PINHOLE_TRANSFER_DATA_BLOCK;
      out->entry = get_u32 (p + 1);
      out->block = get_u32 (p + 5);
      memcpy (out->sha256, p + 9, PINHOLE_MANIFEST_SHA256_BYTES);
    }
  else if (len > PINHOLE_TRANSFER_DATA_HEADER && p[0] == PINHOLE_TRANSFER_DATA_DATA)
    {
      out->kind = PINHOLE_TRANSFER_DATA_DATA;
      out->entry = get_u32 (p + 1);
      out->offset = get_u64 (p + 5);
      out->data = p + PINHOLE_TRANSFER_DATA_HEADER;
      out->len = len - PINHOLE_TRANSFER_DATA_HEADER;
    }
  else
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "transfer data frame of kind %d and %" G_GSIZE_FORMAT " bytes",
                   len > 0 ? p[0] : -1, len);
      return FALSE;
    }
  if (out->entry >= PINHOLE_MANIFEST_MAX_ENTRIES ||
      (out->kind == PINHOLE_TRANSFER_DATA_BLOCK && out->block > MAX_BLOCK) ||
      (out->kind == PINHOLE_TRANSFER_DATA_DATA &&
       (out->offset > PINHOLE_MANIFEST_MAX_SIZE ||
        out->len > PINHOLE_MANIFEST_MAX_SIZE - out->offset)))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "transfer data frame for entry %u beyond any offered file", out->entry);
      return FALSE;
    }
  return TRUE;
}

GBytes *
pinhole_transfer_data_build_block (guint32       entry,
                                   guint64       block,
                                   const guint8 *sha256)
{
  guint8 *p = g_malloc (PINHOLE_TRANSFER_BLOCK_FRAME);

  g_return_val_if_fail (block <= MAX_BLOCK, NULL);
  p[0] = PINHOLE_TRANSFER_DATA_BLOCK;
  put_u32 (p + 1, entry);
  put_u32 (p + 5, (guint32) block);
  memcpy (p + 9, sha256, PINHOLE_MANIFEST_SHA256_BYTES);
  return g_bytes_new_take (p, PINHOLE_TRANSFER_BLOCK_FRAME);
}

/* @len: 1 .. PINHOLE_SESSION_MAX_PAYLOAD - PINHOLE_TRANSFER_DATA_HEADER */
GBytes *
pinhole_transfer_data_build_data (guint32       entry,
                                  guint64       offset,
                                  const guint8 *data,
                                  gsize         len)
{
  guint8 *p;

  g_return_val_if_fail (len > 0 && len <= PINHOLE_SESSION_MAX_PAYLOAD -
                        PINHOLE_TRANSFER_DATA_HEADER, NULL);
  p = g_malloc (PINHOLE_TRANSFER_DATA_HEADER + len);
  p[0] = PINHOLE_TRANSFER_DATA_DATA;
  put_u32 (p + 1, entry);
  put_u64 (p + 5, offset);
  memcpy (p + PINHOLE_TRANSFER_DATA_HEADER, data, len);
  return g_bytes_new_take (p, PINHOLE_TRANSFER_DATA_HEADER + len);
}
