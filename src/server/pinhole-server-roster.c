/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-roster.c: contacts and presence (docs/protocol.md §5): "roster", "subscribe",
 * "accept", "decline", "remove" and "presence". Presence and device keys are shared only
 * between mutual contacts. */
#define G_LOG_DOMAIN "pinhole-server"

#include "pinhole-server-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

static const char *
device_show (PinholeServer *server,
             const char    *user,
             const char    *device)
{
  PinholeServerConnection *c = _pinhole_server_find_device (server, user, device);

  return c != NULL && c->show != NULL ? c->show : "offline";
}

static JsonArray *
devices_json (PinholeServer *server,
              const char    *user)
{
  g_autoptr(GPtrArray) devices = pinhole_store_list_devices (server->store, user, NULL);
  JsonArray *array = json_array_new ();

  for (guint i = 0; devices != NULL && i < devices->len; i++)
    {
      PinholeStoreDevice *d = g_ptr_array_index (devices, i);
      JsonObject *o = json_object_new ();

      json_object_set_string_member (o, "device", d->device);
      pinhole_stanza_set_base64 (o, "key", d->key);
      json_object_set_string_member (o, "show", device_show (server, user, d->device));
      json_array_add_object_element (array, o);
    }
  return array;
}

void
_pinhole_server_handle_roster (PinholeServerConnection *c,
                               JsonObject              *stanza,
                               const char              *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) contacts = pinhole_store_list_contacts (c->server->store, c->user, &error);
  g_autoptr(JsonObject) result = json_object_new ();
  JsonArray *items;

  if (contacts == NULL)
    {
      _pinhole_server_send_gerror (c, id, error);
      return;
    }
  items = json_array_new ();
  for (guint i = 0; i < contacts->len; i++)
    {
      PinholeStoreContact *contact = g_ptr_array_index (contacts, i);
      JsonObject *item = json_object_new ();

      json_object_set_string_member (item, "user", contact->user);
      json_object_set_string_member (item, "relation",
                                     pinhole_relation_to_string (contact->relation));
      if (contact->relation == PINHOLE_RELATION_MUTUAL)
        json_object_set_array_member (item, "devices", devices_json (c->server, contact->user));
      json_array_add_object_element (items, item);
    }
  json_object_set_array_member (result, "contacts", items);
  /* the user's own other devices, so that they can be told apart from strangers */
  json_object_set_array_member (result, "own_devices", devices_json (c->server, c->user));
  _pinhole_server_send_result (c, id, result);
}

/* the "user" of a roster request: a valid, existing account that is not the requester */
static const char *
require_other_user (PinholeServerConnection *c,
                    JsonObject              *stanza,
                    GError                 **error)
{
  const char *user = pinhole_stanza_require_string (stanza, "user", 32, error);
  g_autofree char *hash = NULL;

  if (user == NULL)
    return NULL;
  if (strcmp (user, c->user) == 0)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "you cannot be your own contact");
      return NULL;
    }
  if (!pinhole_user_name_is_valid (user) ||
      (hash = pinhole_store_dup_password_hash (c->server->store, user, NULL)) == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "unknown user %s", user);
      return NULL;
    }
  return user;
}

static void
send_relation (PinholeServer   *server,
               const char      *to,
               const char      *user,
               PinholeRelation  relation)
{
  g_autoptr(JsonObject) push = pinhole_stanza_new ("contact", NULL);

  json_object_set_string_member (push, "user", user);
  json_object_set_string_member (push, "relation", pinhole_relation_to_string (relation));
  _pinhole_server_send_to_user (server, to, push);
}

static void
reply_relation (PinholeServerConnection *c,
                const char              *id,
                const char              *user,
                PinholeRelation          relation)
{
  g_autoptr(JsonObject) result = json_object_new ();

  json_object_set_string_member (result, "user", user);
  json_object_set_string_member (result, "relation", pinhole_relation_to_string (relation));
  _pinhole_server_send_result (c, id, result);
}

/* both users' devices learn each other's presence once they are mutual contacts */
static void
exchange_presences (PinholeServer *server,
                    const char    *a,
                    const char    *b)
{
  const char *pair[2][2] = { { a, b }, { b, a } };

  for (guint p = 0; p < 2; p++)
    {
      GPtrArray *conns = g_hash_table_lookup (server->users, pair[p][0]);

      for (guint i = 0; conns != NULL && i < conns->len; i++)
        _pinhole_server_send_presences_of (g_ptr_array_index (conns, i), pair[p][1]);
    }
}

static gboolean
make_mutual (PinholeServerConnection *c,
             const char              *id,
             const char              *user)
{
  g_autoptr(GError) error = NULL;

  if (!pinhole_store_set_relation (c->server->store, c->user, user, PINHOLE_RELATION_MUTUAL,
                                   PINHOLE_RELATION_MUTUAL, &error))
    {
      _pinhole_server_send_gerror (c, id, error);
      return FALSE;
    }
  _pinhole_server_commit_begin (c, id, PINHOLE_SERVER_COMMIT_NONE);
  reply_relation (c, id, user, PINHOLE_RELATION_MUTUAL);
  send_relation (c->server, user, c->user, PINHOLE_RELATION_MUTUAL);
  /* the requester's other devices learn it too */
  send_relation (c->server, c->user, user, PINHOLE_RELATION_MUTUAL);
  exchange_presences (c->server, c->user, user);
  _pinhole_server_commit_end (c->server);
  return TRUE;
}

void
_pinhole_server_handle_subscribe (PinholeServerConnection *c,
                                  JsonObject              *stanza,
                                  const char              *id)
{
  g_autoptr(GError) error = NULL;
  PinholeStore *store = c->server->store;
  const char *user = require_other_user (c, stanza, &error);
  PinholeRelation relation;

  if (user == NULL)
    goto fail;
  relation = pinhole_store_get_relation (store, c->user, user, &error);
  if (error != NULL)
    goto fail;
  /* asking someone who blocked you looks like asking anyone, and reaches no one */
  if (pinhole_store_get_relation (store, user, c->user, NULL) == PINHOLE_RELATION_BLOCKED)
    {
      if (!pinhole_store_set_relation (store, c->user, user, PINHOLE_RELATION_REQUESTED,
                                       PINHOLE_RELATION_BLOCKED, &error))
        goto fail;
      _pinhole_server_commit_begin (c, id, PINHOLE_SERVER_COMMIT_NONE);
      reply_relation (c, id, user, PINHOLE_RELATION_REQUESTED);
      _pinhole_server_commit_end (c->server);
      return;
    }
  switch (relation)
    {
    case PINHOLE_RELATION_MUTUAL:
      reply_relation (c, id, user, relation);
      return;
    case PINHOLE_RELATION_INCOMING:
      /* asking someone who already asked you is accepting */
      make_mutual (c, id, user);
      return;
    case PINHOLE_RELATION_NONE:
    case PINHOLE_RELATION_REQUESTED:
    default:
      if (!pinhole_store_set_relation (store, c->user, user, PINHOLE_RELATION_REQUESTED,
                                       PINHOLE_RELATION_INCOMING, &error))
        goto fail;
      _pinhole_server_commit_begin (c, id, PINHOLE_SERVER_COMMIT_NONE);
      reply_relation (c, id, user, PINHOLE_RELATION_REQUESTED);
      {
        g_autoptr(JsonObject) push = pinhole_stanza_new ("contact-request", NULL);
        json_object_set_string_member (push, "from", c->user);
        _pinhole_server_send_to_user (c->server, user, push);
      }
      _pinhole_server_commit_end (c->server);
      return;
    }

fail:
  _pinhole_server_send_gerror (c, id, error);
}

void
_pinhole_server_handle_accept (PinholeServerConnection *c,
                               JsonObject              *stanza,
                               const char              *id)
{
  g_autoptr(GError) error = NULL;
  const char *user = require_other_user (c, stanza, &error);
  PinholeRelation relation;

  if (user == NULL)
    goto fail;
  relation = pinhole_store_get_relation (c->server->store, c->user, user, &error);
  if (error != NULL)
    goto fail;
  if (relation == PINHOLE_RELATION_MUTUAL)
    {
      reply_relation (c, id, user, relation);
      return;
    }
  if (relation != PINHOLE_RELATION_INCOMING)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "no contact request from %s",
                   user);
      goto fail;
    }
  make_mutual (c, id, user);
  return;

fail:
  _pinhole_server_send_gerror (c, id, error);
}

typedef enum
{
  END_DECLINE,   /* a pending request */
  END_REMOVE,    /* whatever there is */
  END_BLOCK,     /* whatever there is, and later requests too */
  END_UNBLOCK,   /* a block */
} EndHow;

/* decline, remove and block end the relation (the other side sees "none"); decline needs a
 * pending request, unblock a block */
static void
end_relation (PinholeServerConnection *c,
              JsonObject              *stanza,
              const char              *id,
              EndHow                   how)
{
  g_autoptr(GError) error = NULL;
  const char *user = require_other_user (c, stanza, &error);
  PinholeRelation relation;
  PinholeRelation ours = how == END_BLOCK ? PINHOLE_RELATION_BLOCKED : PINHOLE_RELATION_NONE;

  if (user == NULL)
    goto fail;
  relation = pinhole_store_get_relation (c->server->store, c->user, user, &error);
  if (error != NULL)
    goto fail;
  if (how == END_DECLINE && relation != PINHOLE_RELATION_INCOMING)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "no contact request from %s",
                   user);
      goto fail;
    }
  if (how == END_UNBLOCK && relation != PINHOLE_RELATION_BLOCKED)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "%s is not blocked", user);
      goto fail;
    }
  if (!pinhole_store_set_relation (c->server->store, c->user, user, ours,
                                   PINHOLE_RELATION_NONE, &error))
    goto fail;

  /* relay channels exist only between mutual contacts */
  {
    GHashTableIter iter;
    PinholeServerChannel *ch;
    g_autoptr(GArray) doomed = g_array_new (FALSE, FALSE, sizeof (guint32));

    g_hash_table_iter_init (&iter, c->server->channels);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &ch))
      if ((strcmp (ch->ends[0]->user, c->user) == 0 && strcmp (ch->ends[1]->user, user) == 0) ||
          (strcmp (ch->ends[1]->user, c->user) == 0 && strcmp (ch->ends[0]->user, user) == 0))
        g_array_append_val (doomed, ch->id);
    for (guint i = 0; i < doomed->len; i++)
      _pinhole_server_close_channel (c->server, g_array_index (doomed, guint32, i), NULL);
  }

  /* the channels closed at once; the answer and the pushes once the change is on disk */
  _pinhole_server_commit_begin (c, id, PINHOLE_SERVER_COMMIT_NONE);
  reply_relation (c, id, user, ours);
  /* the other side hears "none" when it knew of a relation; a block tells it no more than a
   * removal, and nothing at all when it knew of none (or asked while blocked) */
  if (how != END_UNBLOCK && relation != PINHOLE_RELATION_NONE &&
      relation != PINHOLE_RELATION_BLOCKED)
    send_relation (c->server, user, c->user, PINHOLE_RELATION_NONE);
  send_relation (c->server, c->user, user, ours);
  _pinhole_server_commit_end (c->server);
  return;

fail:
  _pinhole_server_send_gerror (c, id, error);
}

void
_pinhole_server_handle_decline (PinholeServerConnection *c,
                                JsonObject              *stanza,
                                const char              *id)
{
  end_relation (c, stanza, id, END_DECLINE);
}

void
_pinhole_server_handle_remove (PinholeServerConnection *c,
                               JsonObject              *stanza,
                               const char              *id)
{
  end_relation (c, stanza, id, END_REMOVE);
}

void
_pinhole_server_handle_block (PinholeServerConnection *c,
                              JsonObject              *stanza,
                              const char              *id)
{
  end_relation (c, stanza, id, END_BLOCK);
}

void
_pinhole_server_handle_unblock (PinholeServerConnection *c,
                                JsonObject              *stanza,
                                const char              *id)
{
  end_relation (c, stanza, id, END_UNBLOCK);
}

void
_pinhole_server_handle_presence (PinholeServerConnection *c,
                                 JsonObject              *stanza,
                                 const char              *id)
{
  g_autoptr(GError) error = NULL;
  const char *show = pinhole_stanza_require_string (stanza, "show", 16, &error);

  if (show == NULL)
    goto fail;
  if (_pinhole_server_find_device (c->server, c->user, c->device) != c)
    {
      g_set_error_literal (&error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "this connection logged in without announcing its device");
      goto fail;
    }
  if (strcmp (show, "online") != 0 && strcmp (show, "away") != 0)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "\"show\" is \"%s\", expected \"online\" or \"away\"", show);
      goto fail;
    }
  if (g_strcmp0 (c->show, show) != 0)
    {
      g_free (c->show);
      c->show = g_strdup (show);
      _pinhole_server_broadcast_presence (c, show);
    }
  _pinhole_server_send_result (c, id, NULL);
  return;

fail:
  _pinhole_server_send_gerror (c, id, error);
}
