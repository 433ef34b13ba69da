/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-peer.c: a raw WebSocket client logged in to pinhole-server as one user's device.
 * A push that must not come is checked after a ping round trip: the server answers requests in
 * order, so whatever it sent before the answer has arrived. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-peer.h"

#include <stdarg.h>
#include <string.h>

static guint last_id;

/* the reason also goes to the log: a later failed assertion drops g_test_fail_printf()'s */
static void G_GNUC_PRINTF (1, 2)
fail (const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_test_message ("%s", message);
  g_test_fail_printf ("%s", message);
}

/* Returns: (transfer full): a random base64 device key */
char *
ph_peer_new_key (void)
{
  guint8 key[32];

  for (guint i = 0; i < sizeof key; i++)
    key[i] = (guint8) g_random_int ();
  return g_base64_encode (key, sizeof key);
}

PhPeer *
ph_peer_new (const char *url,
             const char *user)
{
  PhPeer *p = g_new0 (PhPeer, 1);

  p->url = g_strdup (url);
  p->user = g_strdup (user);
  p->device = g_strdup_printf ("%s-desk", user);
  p->key64 = ph_device_key_new (p->secret_key);
  p->history = g_string_new (NULL);
  return p;
}

void
ph_peer_free (PhPeer *p)
{
  if (p == NULL)
    return;
  g_clear_pointer (&p->ws, ph_ws_free);
  g_string_free (p->history, TRUE);
  g_free (p->url);
  g_free (p->user);
  g_free (p->device);
  g_free (p->key64);
  g_free (p->token);
  g_free (p);
}

/* ---- JSON ---- */

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* Returns: (nullable): the string @member of @o (which may be %NULL) */
const char *
ph_json_get_string (JsonObject *o,
                    const char *member)
{
  JsonNode *node = o != NULL ? json_object_get_member (o, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* whether @member of @o, a string or an integer, reads @value */
static gboolean
member_is (JsonObject *o,
           const char *member,
           const char *value)
{
  JsonNode *node = json_object_get_member (o, member);
  g_autofree char *number = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return g_strcmp0 (json_node_get_string (node), value) == 0;
  if (json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  number = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  return strcmp (number, value) == 0;
}

/* ---- requests ---- */

static JsonObject *
call_va (PhPeer     *p,
         gint64      code,
         const char *fields_format,
         va_list     args)
{
  g_autofree char *id = g_strdup_printf ("r%u", ++last_id);
  g_autofree char *fields = g_strdup_vprintf (fields_format, args);
  g_autofree char *text = g_strdup_printf ("{\"id\":\"%s\",%s}", id, fields);
  JsonObject *reply;
  const char *type;
  gint64 got;

  if (p->ws == NULL)
    {
      fail ("%s is offline", p->user);
      return NULL;
    }
  ph_ws_send (p->ws, text);
  reply = ph_ws_wait_reply (p->ws, &p->cursor, id, PH_CLI_MS);
  if (reply == NULL)
    {
      fail ("%s: no answer to {%.40s...}", p->user, fields);
      return NULL;
    }
  type = ph_json_get_string (reply, "type");
  got = g_strcmp0 (type, "result") == 0 ? PH_RESULT
      : g_strcmp0 (type, "error") == 0 ? json_object_get_int_member_with_default (reply, "code", -1)
      : -1;
  if (got != code)
    fail ("%s sent {%.60s...}: expected %" G_GINT64_FORMAT ", got %s", p->user, fields, code,
          (char *) g_ptr_array_index (p->ws->texts, p->cursor - 1));
  return reply;
}

/**
 * ph_peer_call:
 * @code: %PH_RESULT, or the error code the request must get
 * Sends `{"id": …, FIELDS}` and checks the answer.
 * Returns: (transfer full) (nullable): the answer
 */
JsonObject *
ph_peer_call (PhPeer     *p,
              gint64      code,
              const char *fields_format,
              ...)
{
  JsonObject *reply;
  va_list args;

  va_start (args, fields_format);
  reply = call_va (p, code, fields_format, args);
  va_end (args);
  return reply;
}

/* ph_peer_call() for an answer that holds nothing else to check */
void
ph_peer_expect (PhPeer     *p,
                gint64      code,
                const char *fields_format,
                ...)
{
  JsonObject *reply;
  va_list args;

  va_start (args, fields_format);
  reply = call_va (p, code, fields_format, args);
  va_end (args);
  g_clear_pointer (&reply, json_object_unref);
}

/* whatever the server sent @p before this has arrived */
void
ph_peer_sync (PhPeer *p)
{
  ph_peer_expect (p, PH_RESULT, "\"type\":\"ping\"");
}

/* pushes are looked for from now on: after what the server sent so far, which has arrived */
void
ph_peer_mark (PhPeer *p)
{
  if (p->ws == NULL)
    return;
  ph_peer_sync (p);
  p->mark = p->ws->texts->len;
  p->mark_binary = p->ws->n_binary;
}

/* ---- accounts ---- */

/* Returns: (transfer full): @p's password */
char *
ph_peer_dup_password (PhPeer *p)
{
  return g_strconcat ("password-of-", p->user, "-d41c", NULL);
}

gboolean
ph_peer_connect (PhPeer *p)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (p->ws);
  p->ws = ph_ws_connect (p->url, &error);
  g_assert_no_error (error);
  p->cursor = p->mark = p->mark_binary = 0;
  return p->ws != NULL;
}

static gboolean
take_token (PhPeer     *p,
            JsonObject *reply)
{
  g_free (p->token);
  p->token = g_strdup (ph_json_get_string (reply, "token"));
  g_assert_nonnull (p->token);
  return p->token != NULL;
}

/* on @p's connection: @keyholder's signature of the challenge as @user's @device; Returns:
 * (transfer full): the proof, base64 */
char *
ph_peer_proof_as (PhPeer     *p,
                  PhPeer     *keyholder,
                  const char *user,
                  const char *device)
{
  char *proof = ph_ws_login_proof (p->ws, &p->cursor, keyholder->secret_key, user, device);

  g_assert_nonnull (proof);
  return proof;
}

/* sends @verb ("register" or "login") on a new connection, announcing @p's device, with
 * @member ("password" or "token") set to @secret; Returns: (transfer full): the answer */
static JsonObject *
log_in (PhPeer     *p,
        const char *verb,
        const char *member,
        const char *secret)
{
  g_autofree char *proof = NULL;

  if (!ph_peer_connect (p))
    return NULL;
  proof = ph_peer_proof_as (p, p, p->user, p->device);
  return ph_peer_call (p, PH_RESULT, "\"type\":\"%s\",\"user\":\"%s\",\"device\":\"%s\","
                       "\"device_key\":\"%s\",\"proof\":\"%s\",\"%s\":\"%s\"", verb, p->user,
                       p->device, p->key64, proof, member, secret);
}

/* a new account, with @p's device */
gboolean
ph_peer_register (PhPeer *p)
{
  g_autofree char *password = ph_peer_dup_password (p);
  g_autoptr(JsonObject) reply = log_in (p, "register", "password", password);

  return take_token (p, reply);
}

/* logs @p in on a new connection with the password, announcing its device */
gboolean
ph_peer_login_password (PhPeer *p)
{
  g_autofree char *password = ph_peer_dup_password (p);
  g_autoptr(JsonObject) reply = log_in (p, "login", "password", password);

  return take_token (p, reply);
}

/* logs @p in again on a new connection with its token, announcing its device */
gboolean
ph_peer_login (PhPeer *p)
{
  g_autoptr(JsonObject) reply = log_in (p, "login", "token", p->token);

  return reply != NULL;
}

void
ph_peer_close (PhPeer *p)
{
  if (p->ws == NULL)
    return;
  for (guint i = 0; i < p->ws->texts->len; i++)
    g_string_append_printf (p->history, "%s\n", (char *) g_ptr_array_index (p->ws->texts, i));
  g_clear_pointer (&p->ws, ph_ws_free);
}

/* ---- pushes ---- */

typedef struct
{
  PhPeer     *p;
  const char *type;
  const char *pairs[9];   /* member, value, …, NULL */
  JsonObject *found;
} PushWait;

static gboolean
push_found (gpointer data)
{
  PushWait *w = data;

  for (guint i = w->p->mark; i < w->p->ws->texts->len && w->found == NULL; i++)
    {
      g_autoptr(JsonObject) o = parse_object (g_ptr_array_index (w->p->ws->texts, i));
      gboolean match = o != NULL && g_strcmp0 (ph_json_get_string (o, "type"), w->type) == 0;

      for (guint k = 0; match && w->pairs[k] != NULL && w->pairs[k + 1] != NULL; k += 2)
        match = member_is (o, w->pairs[k], w->pairs[k + 1]);
      if (match)
        w->found = g_steal_pointer (&o);
    }
  return w->found != NULL || w->p->ws->closed;
}

static JsonObject *
wait_push_va (PhPeer     *p,
              const char *type,
              va_list     args)
{
  PushWait w = { p, type, { NULL }, NULL };

  if (p->ws == NULL)
    {
      fail ("%s is offline", p->user);
      return NULL;
    }
  for (guint k = 0; k < G_N_ELEMENTS (w.pairs) - 1; k++)
    if ((w.pairs[k] = va_arg (args, const char *)) == NULL)
      break;
  ph_iterate_until (push_found, &w, PH_EVENT_MS);
  if (w.found == NULL)
    fail ("%s got no \"%s\" push with %s=%s", p->user, type, w.pairs[0] ? w.pairs[0] : "-",
          w.pairs[1] ? w.pairs[1] : "-");
  return w.found;
}

/**
 * ph_peer_wait_push:
 * @...: member, value pairs (integers as decimal strings), then %NULL
 * Returns: (transfer full) (nullable): the first push of @type since @p's mark whose members
 *   read so; the test fails without
 */
JsonObject *
ph_peer_wait_push (PhPeer     *p,
                   const char *type,
                   ...)
{
  JsonObject *push;
  va_list args;

  va_start (args, type);
  push = wait_push_va (p, type, args);
  va_end (args);
  return push;
}

void
ph_peer_expect_push (PhPeer     *p,
                     const char *type,
                     ...)
{
  JsonObject *push;
  va_list args;

  va_start (args, type);
  push = wait_push_va (p, type, args);
  va_end (args);
  g_clear_pointer (&push, json_object_unref);
}

/* after a ping round trip: no push of @type (any, when %NULL) about @user (when given: its
 * "user" or "from") and no relay frame came to @p since its mark */
void
ph_peer_expect_no_push (PhPeer     *p,
                        const char *type,
                        const char *user)
{
  ph_peer_sync (p);
  if (p->ws == NULL)
    return;
  for (guint i = p->mark; i < p->ws->texts->len; i++)
    {
      const char *text = g_ptr_array_index (p->ws->texts, i);
      g_autoptr(JsonObject) o = parse_object (text);

      if (o == NULL || json_object_has_member (o, "id"))
        continue;   /* an answer to @p's own request */
      if ((type == NULL || g_strcmp0 (ph_json_get_string (o, "type"), type) == 0) &&
          (user == NULL || g_strcmp0 (ph_json_get_string (o, "user"), user) == 0 ||
           g_strcmp0 (ph_json_get_string (o, "from"), user) == 0))
        fail ("%s should not have got %s", p->user, text);
    }
  g_assert_cmpuint (p->ws->n_binary, ==, p->mark_binary);
}

/* whether any text @p ever received contains @needle */
gboolean
ph_peer_ever_received (PhPeer     *p,
                       const char *needle)
{
  if (strstr (p->history->str, needle) != NULL)
    return TRUE;
  for (guint i = 0; p->ws != NULL && i < p->ws->texts->len; i++)
    if (strstr (g_ptr_array_index (p->ws->texts, i), needle) != NULL)
      return TRUE;
  return FALSE;
}

/* ---- contacts and channels ---- */

/* @p sends the roster request @type ("subscribe", "accept"…) about @other; the answer names
 * the relation after it */
void
ph_peer_relate (PhPeer     *p,
                const char *type,
                PhPeer     *other,
                const char *relation)
{
  g_autoptr(JsonObject) reply = ph_peer_call (p, PH_RESULT, "\"type\":\"%s\",\"user\":\"%s\"",
                                              type, other->user);

  g_assert_cmpstr (ph_json_get_string (reply, "relation"), ==, relation);
}

/* @from asks @to, who is told */
void
ph_peer_ask (PhPeer *from,
             PhPeer *to)
{
  ph_peer_mark (to);
  ph_peer_relate (from, "subscribe", to, "requested");
  ph_peer_expect_push (to, "contact-request", "from", from->user, NULL);
}

/* @from asks @to, who accepts */
void
ph_peer_befriend (PhPeer *from,
                  PhPeer *to)
{
  ph_peer_ask (from, to);
  ph_peer_relate (to, "accept", from, "mutual");
}

/* Returns: the channel @actor opened to @target, which was told of it */
guint32
ph_peer_open_channel (PhPeer *actor,
                      PhPeer *target)
{
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *channel = NULL;
  gint64 id;

  ph_peer_mark (target);
  reply = ph_peer_call (actor, PH_RESULT, "\"type\":\"relay-open\",\"user\":\"%s\","
                        "\"device\":\"%s\"", target->user, target->device);
  id = reply != NULL ? json_object_get_int_member_with_default (reply, "channel", 0) : 0;
  g_assert_cmpint (id, >, 0);
  channel = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  ph_peer_expect_push (target, "relay-open", "channel", channel, "user", actor->user, "device",
                       actor->device, NULL);
  return (guint32) id;
}

void
ph_peer_expect_relay_closed (PhPeer  *p,
                             guint32  channel)
{
  g_autofree char *name = g_strdup_printf ("%u", channel);

  ph_peer_expect_push (p, "relay-closed", "channel", name, NULL);
}

/* @user's item in @observer's roster; Returns: (transfer full) (nullable) */
JsonObject *
ph_peer_roster_item (PhPeer     *observer,
                     const char *user)
{
  g_autoptr(JsonObject) reply = ph_peer_call (observer, PH_RESULT, "\"type\":\"roster\"");
  JsonArray *items;

  if (reply == NULL || !json_object_has_member (reply, "contacts"))
    return NULL;
  items = json_object_get_array_member (reply, "contacts");
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);

      if (g_strcmp0 (ph_json_get_string (item, "user"), user) == 0)
        return json_object_ref (item);
    }
  return NULL;
}

/* ---- relay frames ---- */

void
ph_peer_send_frame (PhPeer  *p,
                    guint32  channel)
{
  const guint8 frame[] = { channel >> 24, channel >> 16, channel >> 8, channel, 'h', 'e', 'y' };

  soup_websocket_connection_send_binary (p->ws->ws, frame, sizeof frame);
}

static gboolean
binary_arrived (gpointer data)
{
  PhPeer *p = data;

  return p->ws->n_binary > p->mark_binary || p->ws->closed;
}

/* a frame @from sends on @channel reaches @to */
void
ph_peer_expect_frame (PhPeer  *from,
                      PhPeer  *to,
                      guint32  channel)
{
  ph_peer_mark (to);
  ph_peer_send_frame (from, channel);
  g_assert_true (ph_iterate_until (binary_arrived, to, PH_EVENT_MS));
  g_assert_cmpuint (to->ws->n_binary, ==, to->mark_binary + 1);
}
