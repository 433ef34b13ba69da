/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stanza.c: validated parsing and building of rendezvous stanzas (JSON objects, one per
 * WebSocket text message) and relay frames (binary messages), docs/protocol.md §2–§3. */
#define G_LOG_DOMAIN "pinhole-stanza"

#include "pinhole-stanza.h"
#include "pinhole-error.h"

#include <math.h>
#include <string.h>

/* json-glib's parser recurses once per nesting level, so depth is bounded before it runs:
 * a hostile 64 KiB of '[' must not exhaust the stack. Its scanner also reads single-quoted
 * strings and comments, which are not JSON (RFC 8259) and could hide brackets from this count,
 * so a quote or slash outside a string refuses the text. */
static gboolean
nesting_is_bounded (const char *text,
                    gsize       len,
                    guint       max_depth)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '\'' || c == '/' || c == '#')
        return FALSE;
      else if (c == '{' || c == '[')
        {
          if (++depth > max_depth)
            return FALSE;
        }
      else if ((c == '}' || c == ']') && depth > 0)
        depth--;
    }
  return TRUE;
}

/* json-glib decodes "\u0000" into a NUL that ends the C string it hands out: "ab\u0000cd"
 * would read as "ab", and no JsonNode keeps the length, so the text is searched before it
 * is parsed. Returns: whether a string holds one; then @out_member names the member whose
 * value (or name) it is in. The text is valid UTF-8 and its nesting bounded. */
static gboolean
find_nul_escape (const char *text,
                 gsize       len,
                 char      **out_member)
{
  gsize key_start = 0, key_len = 0;   /* the member name seen last */

  for (gsize i = 0; i < len; i++)
    {
      gsize start, end;
      gboolean nul = FALSE;

      if (text[i] != '"')
        continue;
      start = ++i;
      for (; i < len && text[i] != '"'; i++)
        if (text[i] == '\\')
          {
            if (i + 5 < len && text[i + 1] == 'u' && memcmp (text + i + 2, "0000", 4) == 0)
              nul = TRUE;
            i++;
          }
      end = MIN (i, len);
      for (i++; i < len && g_ascii_isspace (text[i]); i++)
        ;
      if (i < len && text[i] == ':')
        {
          if (nul)
            {
              *out_member = NULL;
              return TRUE;
            }
          key_start = start;
          key_len = MIN (end - start, 64);
        }
      else if (nul)
        {
          *out_member = key_len > 0 ? g_strndup (text + key_start, key_len) : NULL;
          return TRUE;
        }
      i--;
    }
  return FALSE;
}

/* What json-glib parsed but could not write back as JSON: a stanza the server forwards (a
 * "signal" payload) must stay parseable for its recipient. json-glib reads 1e400 as infinity
 * and writes it back as "inf.0", writes 1e40 as "1e+40.0", and decodes a lone surrogate escape
 * ("\udb66") into bytes that are not UTF-8: no parser takes any of them back. The depth check has bounded the recursion.
 * Returns: NULL, or what is wrong */
static const char *
unsound_value (JsonNode *node)
{
  const char *problem = NULL;

  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (problem == NULL && json_object_iter_next (&iter, &name, &member))
          problem = g_utf8_validate (name, -1, NULL) ? unsound_value (member)
                                                     : "a member name that is not UTF-8";
        return problem;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; problem == NULL && i < json_array_get_length (array); i++)
          problem = unsound_value (json_array_get_element (array, i));
        return problem;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
        {
          g_autofree char *text = NULL;
          g_autoptr(JsonNode) back = NULL;

          if (!isfinite (json_node_get_double (node)))
            return "a number out of range";
          /* json-glib 1.6 writes 1e40 as "1e+40.0", which no parser reads back */
          text = json_to_string (node, FALSE);
          back = json_from_string (text, NULL);
          if (back == NULL)
            return "a number that cannot be written back as JSON";
        }
      if (json_node_get_value_type (node) == G_TYPE_STRING &&
          !g_utf8_validate (json_node_get_string (node), -1, NULL))
        return "a string that is not UTF-8 (a lone surrogate escape)";
      return NULL;
    case JSON_NODE_NULL:
    default:
      return NULL;
    }
}

/**
 * pinhole_stanza_parse_document:
 * @what: the document's name in error messages ("stanza", "manifest")
 * @max_len: the largest @len accepted
 * Parses a JSON object with the stanza rules (size, UTF-8, depth, finite numbers, no NUL in a
 * string: refused, not truncated) but no required members.
 * Returns: (transfer full): the object, or %NULL with PINHOLE_ERROR_PROTOCOL
 *   (PINHOLE_ERROR_LIMIT when too large)
 */
JsonObject *
pinhole_stanza_parse_document (const char *what,
                               const char *text,
                               gsize       len,
                               gsize       max_len,
                               GError    **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *nul_member = NULL;
  const char *problem;
  JsonNode *root;
  JsonObject *object;

  if (len > max_len)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "%s of %" G_GSIZE_FORMAT " bytes exceeds the limit of %" G_GSIZE_FORMAT,
                   what, len, max_len);
      return NULL;
    }
  if (len == 0 || memchr (text, '\0', len) != NULL || !g_utf8_validate_len (text, len, NULL))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "%s is empty or not valid UTF-8 text", what);
      return NULL;
    }
  if (!nesting_is_bounded (text, len, PINHOLE_STANZA_MAX_DEPTH))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "%s nests deeper than %d levels or is not strict JSON",
                   what, PINHOLE_STANZA_MAX_DEPTH);
      return NULL;
    }

  if (find_nul_escape (text, len, &nul_member))
    {
      if (nul_member != NULL)
        g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                     "\"%s\" holds a NUL character (\\u0000)", nul_member);
      else
        g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                             "a member name holds a NUL character (\\u0000)");
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local_error))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "%s is not JSON: %s",
                   what, local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "%s is not a JSON object",
                   what);
      return NULL;
    }
  problem = unsound_value (root);
  if (problem != NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "%s has %s", what, problem);
      return NULL;
    }
  object = json_node_get_object (root);
  return json_object_ref (object);
}

/* a document of at most PINHOLE_STANZA_MAX_BYTES: for control messages inside sessions */
JsonObject *
pinhole_stanza_parse_object (const char *text,
                             gsize       len,
                             GError    **error)
{
  return pinhole_stanza_parse_document ("stanza", text, len, PINHOLE_STANZA_MAX_BYTES, error);
}

/**
 * pinhole_stanza_parse:
 * Returns: (transfer full): the stanza, an object with a string "type", or %NULL with
 *   PINHOLE_ERROR_PROTOCOL (PINHOLE_ERROR_LIMIT when too large)
 */
JsonObject *
pinhole_stanza_parse (const char *text,
                      gsize       len,
                      GError    **error)
{
  g_autoptr(JsonObject) object = pinhole_stanza_parse_object (text, len, error);

  if (object == NULL)
    return NULL;
  if (pinhole_stanza_get_type (object) == NULL)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "stanza has no string member \"type\"");
      return NULL;
    }
  return g_steal_pointer (&object);
}

/**
 * pinhole_stanza_to_string:
 * Returns: (transfer full): compact JSON text
 */
char *
pinhole_stanza_to_string (JsonObject *stanza,
                          gsize      *out_len)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), stanza);
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, node);
  return json_generator_to_data (generator, out_len);
}

static const char *
string_member (JsonObject *object,
               const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) !=
      G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* Returns: (transfer none) (nullable): the stanza's "type" */
const char *
pinhole_stanza_get_type (JsonObject *stanza)
{
  return string_member (stanza, "type");
}

/* Returns: (transfer none) (nullable): the stanza's "id" */
const char *
pinhole_stanza_get_id (JsonObject *stanza)
{
  return string_member (stanza, "id");
}

static const char *
get_string (JsonObject *stanza,
            const char *member,
            gsize       max_len,
            gboolean    required,
            GError    **error)
{
  JsonNode *node = json_object_get_member (stanza, member);
  const char *value;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "\"%s\" is missing", member);
      return NULL;
    }
  value = string_member (stanza, member);
  if (value == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "\"%s\" is not a string", member);
      return NULL;
    }
  if (strlen (value) > max_len)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "\"%s\" is %" G_GSIZE_FORMAT " bytes long, at most %" G_GSIZE_FORMAT
                   " allowed", member, strlen (value), max_len);
      return NULL;
    }
  return value;
}

/* Returns: (transfer none): the string member, or %NULL with an error naming it */
const char *
pinhole_stanza_require_string (JsonObject *stanza,
                               const char *member,
                               gsize       max_len,
                               GError    **error)
{
  return get_string (stanza, member, max_len, TRUE, error);
}

/* Returns: (transfer none) (nullable): the string member; %NULL and no error when absent */
const char *
pinhole_stanza_optional_string (JsonObject *stanza,
                                const char *member,
                                gsize       max_len,
                                GError    **error)
{
  return get_string (stanza, member, max_len, FALSE, error);
}

/* Returns: whether @member is the boolean true; missing, false or of another type is %FALSE */
gboolean
pinhole_stanza_get_flag (JsonObject *stanza,
                         const char *member)
{
  JsonNode *node = json_object_get_member (stanza, member);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

gboolean
pinhole_stanza_require_int (JsonObject *stanza,
                            const char *member,
                            gint64      min,
                            gint64      max,
                            gint64     *out,
                            GError    **error)
{
  JsonNode *node = json_object_get_member (stanza, member);
  gint64 value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "\"%s\" is not an integer",
                   member);
      return FALSE;
    }
  value = json_node_get_int (node);
  if (value < min || value > max)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "\"%s\" is %" G_GINT64_FORMAT ", outside %" G_GINT64_FORMAT "..%"
                   G_GINT64_FORMAT, member, value, min, max);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

/**
 * pinhole_stanza_require_base64:
 * Returns: (transfer full): the decoded bytes of a base64 string member
 */
GBytes *
pinhole_stanza_require_base64 (JsonObject *stanza,
                               const char *member,
                               gsize       min_len,
                               gsize       max_len,
                               GError    **error)
{
  /* base64 grows 3 bytes into 4 characters */
  const char *text = pinhole_stanza_require_string (stanza, member, (max_len + 2) / 3 * 4,
                                                    error);
  gsize text_len, out_len = 0;
  g_autofree guchar *decoded = NULL;
  gint state = 0;
  guint save = 0;

  if (text == NULL)
    return NULL;
  text_len = strlen (text);
  /* canonical RFC 4648 base64: groups of four, '=' only as the final padding */
  for (gsize i = 0; i < text_len; i++)
    if (!(g_ascii_isalnum (text[i]) || text[i] == '+' || text[i] == '/' ||
          (text[i] == '=' && i + 2 >= text_len && text_len % 4 == 0 &&
           (i + 1 == text_len || text[i + 1] == '='))))
      {
        g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "\"%s\" is not base64",
                     member);
        return NULL;
      }
  if (text_len % 4 != 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "\"%s\" is not base64: %" G_GSIZE_FORMAT " characters", member, text_len);
      return NULL;
    }
  decoded = g_malloc ((text_len / 4 + 1) * 3 + 1);
  out_len = g_base64_decode_step (text, text_len, decoded, &state, &save);
  if (out_len < min_len || out_len > max_len)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "\"%s\" decodes to %" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT
                   "..%" G_GSIZE_FORMAT, member, out_len, min_len, max_len);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&decoded), out_len);
}

void
pinhole_stanza_set_base64 (JsonObject *stanza,
                           const char *member,
                           GBytes     *bytes)
{
  gsize len;
  const guchar *data = g_bytes_get_data (bytes, &len);

  g_autofree char *encoded = g_base64_encode (data, len);

  json_object_set_string_member (stanza, member, encoded);
}

/* user names: 1-32 of [a-z0-9._-], starting with a letter or digit (docs/protocol.md §4) */
gboolean
pinhole_user_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len < 1 || len > 32 || !(g_ascii_islower (name[0]) || g_ascii_isdigit (name[0])))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!(g_ascii_islower (name[i]) || g_ascii_isdigit (name[i]) || name[i] == '.' ||
          name[i] == '_' || name[i] == '-'))
      return FALSE;
  return TRUE;
}

/* device names: 1-64 of [A-Za-z0-9_-] */
gboolean
pinhole_device_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len < 1 || len > 64)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!(g_ascii_isalnum (name[i]) || name[i] == '_' || name[i] == '-'))
      return FALSE;
  return TRUE;
}

const char *
pinhole_stanza_error_condition (int code)
{
  switch (code)
    {
    case PINHOLE_STANZA_ERROR_BAD_REQUEST: return "bad-request";
    case PINHOLE_STANZA_ERROR_NOT_AUTHORIZED: return "not-authorized";
    case PINHOLE_STANZA_ERROR_FORBIDDEN: return "forbidden";
    case PINHOLE_STANZA_ERROR_NOT_FOUND: return "item-not-found";
    case PINHOLE_STANZA_ERROR_CONFLICT: return "conflict";
    case PINHOLE_STANZA_ERROR_TOO_LARGE: return "too-large";
    case PINHOLE_STANZA_ERROR_RATE_LIMITED: return "rate-limited";
    case PINHOLE_STANZA_ERROR_UNAVAILABLE: return "unavailable";
    default: return "internal-error";
    }
}

/* the stanza error code a server answers for a local GError */
int
pinhole_stanza_error_code_for (const GError *error)
{
  if (error->domain != PINHOLE_ERROR)
    return PINHOLE_STANZA_ERROR_INTERNAL;
  switch ((PinholeError) error->code)
    {
    case PINHOLE_ERROR_PROTOCOL: return PINHOLE_STANZA_ERROR_BAD_REQUEST;
    case PINHOLE_ERROR_AUTH: return PINHOLE_STANZA_ERROR_NOT_AUTHORIZED;
    case PINHOLE_ERROR_NOT_ALLOWED: return PINHOLE_STANZA_ERROR_FORBIDDEN;
    case PINHOLE_ERROR_NOT_FOUND: return PINHOLE_STANZA_ERROR_NOT_FOUND;
    case PINHOLE_ERROR_EXISTS: return PINHOLE_STANZA_ERROR_CONFLICT;
    case PINHOLE_ERROR_LIMIT: return PINHOLE_STANZA_ERROR_UNAVAILABLE;
    case PINHOLE_ERROR_NO_PATH: return PINHOLE_STANZA_ERROR_UNAVAILABLE;
    default: return PINHOLE_STANZA_ERROR_INTERNAL;
    }
}

/* the GError a client raises for an "error" stanza */
void
pinhole_stanza_error_to_gerror (int         code,
                                const char *text,
                                GError    **error)
{
  PinholeError local;

  switch (code)
    {
    case PINHOLE_STANZA_ERROR_BAD_REQUEST: local = PINHOLE_ERROR_PROTOCOL; break;
    case PINHOLE_STANZA_ERROR_NOT_AUTHORIZED: local = PINHOLE_ERROR_AUTH; break;
    case PINHOLE_STANZA_ERROR_FORBIDDEN: local = PINHOLE_ERROR_NOT_ALLOWED; break;
    case PINHOLE_STANZA_ERROR_NOT_FOUND: local = PINHOLE_ERROR_NOT_FOUND; break;
    case PINHOLE_STANZA_ERROR_CONFLICT: local = PINHOLE_ERROR_EXISTS; break;
    case PINHOLE_STANZA_ERROR_TOO_LARGE:
    case PINHOLE_STANZA_ERROR_RATE_LIMITED:
    case PINHOLE_STANZA_ERROR_UNAVAILABLE: local = PINHOLE_ERROR_LIMIT; break;
    default: local = PINHOLE_ERROR_FAILED; break;
    }
  g_set_error_literal (error, PINHOLE_ERROR, local, text);
}

/**
 * pinhole_stanza_new:
 * @id: (nullable): request id
 * Returns: (transfer full): a stanza with "type" (and "id")
 */
JsonObject *
pinhole_stanza_new (const char *type,
                    const char *id)
{
  JsonObject *stanza = json_object_new ();

  json_object_set_string_member (stanza, "type", type);
  if (id != NULL)
    json_object_set_string_member (stanza, "id", id);
  return stanza;
}

/* Returns: (transfer full): {"type":"error","id":…,"code":…,"condition":…,"text":…} */
JsonObject *
pinhole_stanza_new_error (const char *id,
                          int         code,
                          const char *text)
{
  JsonObject *stanza = pinhole_stanza_new ("error", id);

  json_object_set_int_member (stanza, "code", code);
  json_object_set_string_member (stanza, "condition", pinhole_stanza_error_condition (code));
  json_object_set_string_member (stanza, "text", text);
  return stanza;
}

/* Returns: (transfer full): a relay frame, the channel in network byte order then the payload */
GBytes *
pinhole_relay_frame_build (guint32       channel,
                           const guint8 *payload,
                           gsize         len)
{
  guint8 *frame;

  g_return_val_if_fail (len <= PINHOLE_RELAY_MAX_PAYLOAD, NULL);
  frame = g_malloc (PINHOLE_RELAY_HEADER_BYTES + len);
  frame[0] = (guint8) (channel >> 24);
  frame[1] = (guint8) (channel >> 16);
  frame[2] = (guint8) (channel >> 8);
  frame[3] = (guint8) channel;
  if (len > 0)
    memcpy (frame + PINHOLE_RELAY_HEADER_BYTES, payload, len);
  return g_bytes_new_take (frame, PINHOLE_RELAY_HEADER_BYTES + len);
}

gboolean
pinhole_relay_frame_parse (GBytes   *frame,
                           guint32  *out_channel,
                           GBytes  **out_payload,
                           GError  **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  if (len < PINHOLE_RELAY_HEADER_BYTES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "relay frame of %" G_GSIZE_FORMAT " bytes has no channel header", len);
      return FALSE;
    }
  if (len - PINHOLE_RELAY_HEADER_BYTES > PINHOLE_RELAY_MAX_PAYLOAD)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "relay payload of %" G_GSIZE_FORMAT " bytes exceeds %d",
                   len - PINHOLE_RELAY_HEADER_BYTES, PINHOLE_RELAY_MAX_PAYLOAD);
      return FALSE;
    }
  *out_channel = (guint32) data[0] << 24 | (guint32) data[1] << 16 | (guint32) data[2] << 8 |
                 data[3];
  if (out_payload != NULL)
    *out_payload = g_bytes_new_from_bytes (frame, PINHOLE_RELAY_HEADER_BYTES,
                                           len - PINHOLE_RELAY_HEADER_BYTES);
  return TRUE;
}
