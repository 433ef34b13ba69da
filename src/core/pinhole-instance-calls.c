/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-instance-calls.c: the methods of a running instance (org.pinhole.Pinhole.xml).
 * Every call is checked before it acts: the caller's uid, a bound on the calls held at once,
 * and the size of what it passes; then it runs on the client asynchronously, never blocking
 * the main loop, and its error crosses the bus as the PINHOLE_ERROR it is. */
#define G_LOG_DOMAIN "pinhole-instance"

#include "pinhole-instance-private.h"
#include "pinhole-error.h"
#include "pinhole-instance-bus.h"

#include <string.h>
#include <unistd.h>

typedef enum
{
  CALL_SEND,
  CALL_ADD,
  CALL_ACCEPT,
  CALL_DECLINE,
  CALL_REMOVE,
  CALL_BLOCK,
  CALL_UNBLOCK,
  CALL_SET_RELAY_ONLY,
  CALL_TRUST,
  CALL_OPEN_PATH,
  CALL_CLOSE_PATH,
  CALL_DESCRIBE_PATH,
  CALL_LIST_TRANSFERS,
  CALL_ACCEPT_TRANSFER,
  CALL_DECLINE_TRANSFER,
  CALL_PAUSE_TRANSFER,
  CALL_RESUME_TRANSFER,
  CALL_CANCEL_TRANSFER,
  CALL_SEND_FILES,
} CallKind;

/* the server's verb for each roster request */
static const char *const contact_verbs[] = {
  [CALL_ADD] = "subscribe",
  [CALL_ACCEPT] = "accept",
  [CALL_DECLINE] = "decline",
  [CALL_REMOVE] = "remove",
  [CALL_BLOCK] = "block",
  [CALL_UNBLOCK] = "unblock",
};

typedef struct
{
  /* owned */
  PinholeInstance       *self;
  GDBusMethodInvocation *invocation;
  char                  *user;
  char                  *text;
  char                 **paths;   /* SendFiles */

  CallKind               kind;
  gboolean               flag;
} Call;

static void
call_free (Call *call)
{
  g_assert (call->self->n_calls > 0);
  call->self->n_calls--;
  g_object_unref (call->invocation);
  g_object_unref (call->self);
  g_free (call->user);
  g_free (call->text);
  g_strfreev (call->paths);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void
return_error (Call   *call,
              GError *error)
{
  g_dbus_method_invocation_return_gerror (call->invocation, error);
}

/* ---- what the calls do ---- */

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;
  guint live = 0, stored = 0;

  if (!pinhole_client_send_message_finish (PINHOLE_CLIENT (source), result, &live, &stored,
                                           &error))
    return_error (call, error);
  else
    g_dbus_method_invocation_return_value (call->invocation,
                                           g_variant_new ("(uu)", live, stored));
}

static void
contact_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *relation = pinhole_client_contact_finish (PINHOLE_CLIENT (source), result,
                                                             &error);

  if (relation == NULL)
    return_error (call, error);
  else
    g_dbus_method_invocation_return_value (call->invocation, g_variant_new ("(s)", relation));
}

/* Returns: (transfer none) (nullable): the device whose session with @user is @session (or,
 * for %NULL, the device the conversation uses), or %NULL with @error */
static PinholeDevice *
session_device (PinholeInstance  *self,
                const char       *user,
                PinholeSession   *session,
                GError          **error)
{
  PinholeContact *contact = pinhole_client_lookup_contact (self->client, user);
  GListModel *devices = contact ? pinhole_contact_get_devices (contact) : NULL;
  PinholeDevice *current = contact ? pinhole_contact_get_current_device (contact) : NULL;

  for (guint i = 0; session != NULL && devices != NULL && i < g_list_model_get_n_items (devices);
       i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (devices, i);

      /* the contact holds the device: borrowed is safe until we return to the loop */
      if (pinhole_device_get_session (d) == session)
        return d;
    }
  if (session == NULL && current != NULL && pinhole_device_is_connected (current))
    return current;
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED, "the session with %s ended", user);
  return NULL;
}

static void
send_files_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeTransfer) t = pinhole_client_send_files_finish (PINHOLE_CLIENT (source),
                                                                   result, &error);
  PinholeContact *contact;
  gboolean waiting;

  if (t == NULL)
    {
      return_error (call, error);
      return;
    }
  contact = pinhole_client_lookup_contact (call->self->client, call->user);
  waiting = contact == NULL || pinhole_contact_get_presence (contact) == PINHOLE_PRESENCE_OFFLINE;
  g_dbus_method_invocation_return_value (call->invocation,
                                         g_variant_new ("(sb)", pinhole_transfer_get_id (t),
                                                        waiting));
}

static void
session_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeSession) session = pinhole_client_open_session_finish (PINHOLE_CLIENT (source),
                                                                          result, &error);
  PinholeDevice *device = NULL;
  g_autofree char *path = NULL;

  if (session != NULL)
    device = session_device (call->self, call->user, session, &error);
  if (device == NULL ||
      !_pinhole_instance_watch_path (call->self,
                                     g_dbus_method_invocation_get_sender (call->invocation),
                                     call->user, device, &error))
    {
      return_error (call, error);
      return;
    }
  path = pinhole_instance_dup_contact_path (call->user);
  g_dbus_method_invocation_return_value (call->invocation, g_variant_new ("(o)", path));
}

static void
describe_path (Call *call)
{
  g_autoptr(GError) error = NULL;
  PinholeDevice *device = session_device (call->self, call->user, NULL, &error);
  g_autoptr(GPtrArray) checks = NULL;
  g_autofree char *mine = NULL;
  const PinholeNatInfo *nat;
  g_auto(GVariantDict) report = G_VARIANT_DICT_INIT (NULL);

  if (device == NULL)
    {
      return_error (call, error);
      return;
    }
  checks = pinhole_device_dup_checks (device);
  if (checks != NULL)
    {
      g_ptr_array_add (checks, NULL);
      g_variant_dict_insert (&report, "candidates", "^as", (char **) checks->pdata);
    }
  mine = pinhole_client_dup_network_description (call->self->client);
  if (mine != NULL)
    g_variant_dict_insert (&report, "this_network", "s", mine);
  nat = pinhole_device_get_nat (device);
  if (nat != NULL)
    {
      g_autoptr(JsonObject) o = pinhole_nat_info_to_json (nat);
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), o);
      g_autofree char *theirs = json_to_string (node, FALSE);

      g_variant_dict_insert (&report, "their_network", "s", theirs);
    }
  g_dbus_method_invocation_return_value (call->invocation,
                                         g_variant_new ("(@a{sv})",
                                                        g_variant_dict_end (&report)));
}

static void
trust (Call *call)
{
  PinholeProfile *profile = pinhole_client_get_profile (call->self->client);
  g_autoptr(GError) error = NULL;

  if (!pinhole_profile_has_untrusted_key (profile, call->user))
    g_dbus_method_invocation_return_value (call->invocation, g_variant_new ("(b)", FALSE));
  else if (!pinhole_client_trust (call->self->client, call->user, &error))
    return_error (call, error);
  else
    g_dbus_method_invocation_return_value (call->invocation, g_variant_new ("(b)", TRUE));
}

static void
run (Call *call)
{
  PinholeInstance *self = call->self;
  GCancellable *cancellable = self->cancellable;
  g_autoptr(GError) error = NULL;

  switch (call->kind)
    {
    case CALL_SEND:
      pinhole_client_send_message_async (self->client, call->user, call->text, cancellable,
                                         send_cb, call);
      return;
    case CALL_ADD:
    case CALL_ACCEPT:
    case CALL_DECLINE:
    case CALL_REMOVE:
    case CALL_BLOCK:
    case CALL_UNBLOCK:
      pinhole_client_contact_async (self->client, contact_verbs[call->kind], call->user,
                                    cancellable, contact_cb, call);
      return;
    case CALL_OPEN_PATH:
      pinhole_client_open_session_async (self->client, call->user, cancellable, session_cb,
                                         call);
      return;
    case CALL_SET_RELAY_ONLY:
      if (!pinhole_client_set_relay_only (self->client, call->user, call->flag, &error))
        return_error (call, error);
      else
        g_dbus_method_invocation_return_value (call->invocation, NULL);
      break;
    case CALL_TRUST:
      trust (call);
      break;
    case CALL_DESCRIBE_PATH:
      describe_path (call);
      break;
    case CALL_SEND_FILES:
      pinhole_client_send_files_async (self->client, call->user,
                                       (const char *const *) call->paths, cancellable,
                                       send_files_cb, call);
      return;
    case CALL_LIST_TRANSFERS:
      g_dbus_method_invocation_return_value (call->invocation,
                                             _pinhole_instance_list_transfers (self));
      break;
    case CALL_ACCEPT_TRANSFER:
    case CALL_DECLINE_TRANSFER:
    case CALL_PAUSE_TRANSFER:
    case CALL_RESUME_TRANSFER:
    case CALL_CANCEL_TRANSFER:
      /* call->user holds the id, call->text the folder */
      if (!pinhole_client_control_transfer (self->client, call->user,
                                            PINHOLE_TRANSFER_ACTION_ACCEPT +
                                              (call->kind - CALL_ACCEPT_TRANSFER),
                                            call->text, &error))
        return_error (call, error);
      else
        g_dbus_method_invocation_return_value (call->invocation, NULL);
      break;
    case CALL_CLOSE_PATH:
      _pinhole_instance_unwatch_path (self, g_dbus_method_invocation_get_sender (call->invocation),
                                      call->user);
      g_dbus_method_invocation_return_value (call->invocation, NULL);
      break;
    default:
      g_assert_not_reached ();
    }
  call_free (call);
}

/* ---- who may call ---- */

/* The session bus admits only its own user, so this should never refuse anyone; but the
 * bus's policy is not ours to rely on (a bus opened to others, a misconfigured
 * DBUS_SESSION_BUS_ADDRESS): a method acts as this user, so only this user may call it.
 * The bus tells us the uid behind the caller's unique name. */
static void
caller_uid_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Call *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
                                                             result, &error);
  guint32 uid = G_MAXUINT32;

  if (reply != NULL)
    g_variant_get (reply, "(u)", &uid);
  if (uid != (guint32) getuid ())
    {
      g_debug ("refused a call from %s (uid %u): %s",
               g_dbus_method_invocation_get_sender (call->invocation), uid,
               error ? error->message : "another user");
      g_dbus_method_invocation_return_dbus_error (call->invocation,
                                                  "org.freedesktop.DBus.Error.AccessDenied",
                                                  "only the user who runs this Pinhole may "
                                                  "call it");
      call_free (call);
      return;
    }
  if (g_cancellable_is_cancelled (call->self->cancellable))
    {
      g_dbus_method_invocation_return_error_literal (call->invocation, PINHOLE_ERROR,
                                                     PINHOLE_ERROR_CLOSED,
                                                     "this Pinhole is shutting down");
      call_free (call);
      return;
    }
  g_debug ("call %s.%s from %s", g_dbus_method_invocation_get_interface_name (call->invocation),
           g_dbus_method_invocation_get_method_name (call->invocation),
           g_dbus_method_invocation_get_sender (call->invocation));
  run (call);
}

/* takes the call if the bounds allow it; Returns: TRUE (the invocation is handled) */
static gboolean
begin_with_paths (PinholeInstance       *self,
                  GDBusMethodInvocation *invocation,
                  CallKind               kind,
                  const char            *user,
                  const char            *text,
                  gboolean               flag,
                  const char *const     *paths)
{
  GDBusConnection *connection = g_dbus_method_invocation_get_connection (invocation);
  Call *call;

  if (self->n_calls >= PINHOLE_INSTANCE_MAX_CALLS)
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  "org.freedesktop.DBus.Error.LimitsExceeded",
                                                  "too many calls at once");
      return TRUE;
    }
  if (*user == '\0' || strlen (user) > PINHOLE_INSTANCE_MAX_USER)
    {
      g_dbus_method_invocation_return_error (invocation, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                                             "a user name is 1 to %d bytes",
                                             PINHOLE_INSTANCE_MAX_USER);
      return TRUE;
    }
  /* the same check and words as the client's, before we hold the text for a whole call */
  if (text != NULL && (*text == '\0' || strlen (text) > PINHOLE_CHAT_MAX_TEXT))
    {
      g_dbus_method_invocation_return_error (invocation, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                                             "a message is 1 to %d bytes of UTF-8 text",
                                             PINHOLE_CHAT_MAX_TEXT);
      return TRUE;
    }
  self->n_calls++;
  call = g_new0 (Call, 1);
  call->self = g_object_ref (self);
  call->invocation = g_object_ref (invocation);
  call->kind = kind;
  call->user = g_strdup (user);
  call->text = g_strdup (text);
  call->flag = flag;
  call->paths = g_strdupv ((char **) paths);
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", g_dbus_method_invocation_get_sender (invocation)),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          caller_uid_cb, call);
  return TRUE;
}

static gboolean
begin (PinholeInstance       *self,
       GDBusMethodInvocation *invocation,
       CallKind               kind,
       const char            *user,
       const char            *text,
       gboolean               flag)
{
  return begin_with_paths (self, invocation, kind, user, text, flag, NULL);
}

/* ---- org.pinhole.Pinhole.Instance ---- */

static gboolean
instance_send_cb (PinholeDBusInstance   *skeleton,
                  GDBusMethodInvocation *invocation,
                  const char            *user,
                  const char            *text,
                  PinholeInstance       *self)
{
  return begin (self, invocation, CALL_SEND, user, text, FALSE);
}

#define INSTANCE_USER_CALL(name, kind)                                     \
  static gboolean                                                          \
  instance_##name##_cb (PinholeDBusInstance   *skeleton,                   \
                        GDBusMethodInvocation *invocation,                 \
                        const char            *user,                       \
                        PinholeInstance       *self)                       \
  {                                                                        \
    return begin (self, invocation, kind, user, NULL, FALSE);              \
  }
INSTANCE_USER_CALL (add, CALL_ADD)
INSTANCE_USER_CALL (accept, CALL_ACCEPT)
INSTANCE_USER_CALL (decline, CALL_DECLINE)
INSTANCE_USER_CALL (remove, CALL_REMOVE)
INSTANCE_USER_CALL (block, CALL_BLOCK)
INSTANCE_USER_CALL (unblock, CALL_UNBLOCK)
INSTANCE_USER_CALL (trust, CALL_TRUST)
INSTANCE_USER_CALL (open_path, CALL_OPEN_PATH)
INSTANCE_USER_CALL (close_path, CALL_CLOSE_PATH)
INSTANCE_USER_CALL (describe_path, CALL_DESCRIBE_PATH)
#undef INSTANCE_USER_CALL

/* the transfer calls: the id goes where a user name would, with the same bounds */
#define INSTANCE_TRANSFER_CALL(name, kind)                                 \
  static gboolean                                                          \
  instance_##name##_cb (PinholeDBusInstance   *skeleton,                   \
                        GDBusMethodInvocation *invocation,                 \
                        const char            *id,                         \
                        PinholeInstance       *self)                       \
  {                                                                        \
    return begin (self, invocation, kind, id, NULL, FALSE);                \
  }
INSTANCE_TRANSFER_CALL (decline_transfer, CALL_DECLINE_TRANSFER)
INSTANCE_TRANSFER_CALL (pause_transfer, CALL_PAUSE_TRANSFER)
INSTANCE_TRANSFER_CALL (resume_transfer, CALL_RESUME_TRANSFER)
INSTANCE_TRANSFER_CALL (cancel_transfer, CALL_CANCEL_TRANSFER)
#undef INSTANCE_TRANSFER_CALL

static gboolean
instance_accept_transfer_cb (PinholeDBusInstance   *skeleton,
                             GDBusMethodInvocation *invocation,
                             const char            *id,
                             const char            *folder,
                             PinholeInstance       *self)
{
  return begin (self, invocation, CALL_ACCEPT_TRANSFER, id, folder, FALSE);
}

static gboolean
instance_send_files_cb (PinholeDBusInstance   *skeleton,
                        GDBusMethodInvocation *invocation,
                        const char            *user,
                        const char *const     *paths,
                        PinholeInstance       *self)
{
  guint n = g_strv_length ((char **) paths);

  /* checked before the call holds them: the client reads each path off the main loop */
  if (n == 0 || n > PINHOLE_INSTANCE_MAX_SEND_PATHS)
    {
      g_dbus_method_invocation_return_error (invocation, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                                             "send 1 to %d files or folders at once",
                                             PINHOLE_INSTANCE_MAX_SEND_PATHS);
      return TRUE;
    }
  for (guint i = 0; i < n; i++)
    if (!g_path_is_absolute (paths[i]) || strlen (paths[i]) > PINHOLE_INSTANCE_MAX_SEND_PATH)
      {
        g_dbus_method_invocation_return_error (invocation, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                                               "a path to send is absolute and at most %d "
                                               "bytes long", PINHOLE_INSTANCE_MAX_SEND_PATH);
        return TRUE;
      }
  return begin_with_paths (self, invocation, CALL_SEND_FILES, user, NULL, FALSE, paths);
}

static gboolean
instance_list_transfers_cb (PinholeDBusInstance   *skeleton,
                            GDBusMethodInvocation *invocation,
                            PinholeInstance       *self)
{
  /* no user: a name that passes the check, for the caller's uid and the bound on calls */
  return begin (self, invocation, CALL_LIST_TRANSFERS, "-", NULL, FALSE);
}

static gboolean
instance_set_relay_only_cb (PinholeDBusInstance   *skeleton,
                            GDBusMethodInvocation *invocation,
                            const char            *user,
                            gboolean               relay_only,
                            PinholeInstance       *self)
{
  return begin (self, invocation, CALL_SET_RELAY_ONLY, user, NULL, relay_only);
}

void
_pinhole_instance_connect_calls (PinholeInstance *self)
{
  static const struct
  {
    const char *signal;
    GCallback   handler;
  } handlers[] = {
    { "handle-send", G_CALLBACK (instance_send_cb) },
    { "handle-add", G_CALLBACK (instance_add_cb) },
    { "handle-accept", G_CALLBACK (instance_accept_cb) },
    { "handle-decline", G_CALLBACK (instance_decline_cb) },
    { "handle-remove", G_CALLBACK (instance_remove_cb) },
    { "handle-block", G_CALLBACK (instance_block_cb) },
    { "handle-unblock", G_CALLBACK (instance_unblock_cb) },
    { "handle-set-relay-only", G_CALLBACK (instance_set_relay_only_cb) },
    { "handle-trust", G_CALLBACK (instance_trust_cb) },
    { "handle-open-path", G_CALLBACK (instance_open_path_cb) },
    { "handle-close-path", G_CALLBACK (instance_close_path_cb) },
    { "handle-describe-path", G_CALLBACK (instance_describe_path_cb) },
    { "handle-send-files", G_CALLBACK (instance_send_files_cb) },
    { "handle-list-transfers", G_CALLBACK (instance_list_transfers_cb) },
    { "handle-accept-transfer", G_CALLBACK (instance_accept_transfer_cb) },
    { "handle-decline-transfer", G_CALLBACK (instance_decline_transfer_cb) },
    { "handle-pause-transfer", G_CALLBACK (instance_pause_transfer_cb) },
    { "handle-resume-transfer", G_CALLBACK (instance_resume_transfer_cb) },
    { "handle-cancel-transfer", G_CALLBACK (instance_cancel_transfer_cb) },
  };

  for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
    g_signal_connect (self->skeleton, handlers[i].signal, handlers[i].handler, self);
}

/* ---- org.pinhole.Pinhole.Contact: the same, for the object's user ---- */

static gboolean
contact_send_cb (PinholeDBusContact     *skeleton,
                 GDBusMethodInvocation  *invocation,
                 const char             *text,
                 PinholeInstanceContact *e)
{
  return begin (e->instance, invocation, CALL_SEND, e->user, text, FALSE);
}

#define CONTACT_CALL(name, kind)                                           \
  static gboolean                                                          \
  contact_##name##_cb (PinholeDBusContact     *skeleton,                   \
                       GDBusMethodInvocation  *invocation,                 \
                       PinholeInstanceContact *e)                          \
  {                                                                        \
    return begin (e->instance, invocation, kind, e->user, NULL, FALSE);    \
  }
CONTACT_CALL (accept, CALL_ACCEPT)
CONTACT_CALL (decline, CALL_DECLINE)
CONTACT_CALL (remove, CALL_REMOVE)
CONTACT_CALL (trust, CALL_TRUST)
#undef CONTACT_CALL

static gboolean
contact_set_relay_only_cb (PinholeDBusContact     *skeleton,
                           GDBusMethodInvocation  *invocation,
                           gboolean                relay_only,
                           PinholeInstanceContact *e)
{
  return begin (e->instance, invocation, CALL_SET_RELAY_ONLY, e->user, NULL, relay_only);
}

void
_pinhole_instance_connect_contact_calls (PinholeInstance        *self,
                                         PinholeInstanceContact *e)
{
  static const struct
  {
    const char *signal;
    GCallback   handler;
  } handlers[] = {
    { "handle-send", G_CALLBACK (contact_send_cb) },
    { "handle-accept", G_CALLBACK (contact_accept_cb) },
    { "handle-decline", G_CALLBACK (contact_decline_cb) },
    { "handle-remove", G_CALLBACK (contact_remove_cb) },
    { "handle-set-relay-only", G_CALLBACK (contact_set_relay_only_cb) },
    { "handle-trust", G_CALLBACK (contact_trust_cb) },
  };

  /* the skeleton goes with the record, and the handlers with it */
  for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
    g_signal_connect (e->skeleton, handlers[i].signal, handlers[i].handler, e);
}
