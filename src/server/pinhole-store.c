/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-store.c: the PinholeStore interface: dispatch and the records it returns. */
#include "pinhole-store.h"
#include "pinhole-enum-strings.h"

G_DEFINE_INTERFACE (PinholeStore, pinhole_store, G_TYPE_OBJECT)

static void
pinhole_store_default_init (PinholeStoreInterface *iface)
{
}

const char *
pinhole_relation_to_string (PinholeRelation relation)
{
  return pinhole_enum_to_nick (PINHOLE_TYPE_RELATION, relation);
}

void
pinhole_store_device_free (PinholeStoreDevice *device)
{
  g_free (device->user);
  g_free (device->device);
  g_clear_pointer (&device->key, g_bytes_unref);
  g_free (device);
}

void
pinhole_store_contact_free (PinholeStoreContact *contact)
{
  g_free (contact->user);
  g_free (contact);
}

void
pinhole_store_offline_free (PinholeStoreOffline *message)
{
  g_free (message->id);
  g_free (message->from_user);
  g_free (message->from_device);
  g_clear_pointer (&message->sealed, g_bytes_unref);
  g_free (message);
}

void
pinhole_store_receipt_free (PinholeStoreReceipt *receipt)
{
  g_free (receipt->id);
  g_free (receipt->user);
  g_free (receipt->device);
  g_free (receipt);
}

#define IFACE(self) PINHOLE_STORE_GET_IFACE (self)

gboolean
pinhole_store_create_account (PinholeStore *self, const char *user, const char *password_hash,
                              GError **error)
{
  return IFACE (self)->create_account (self, user, password_hash, error);
}

/* Returns: (transfer full): the Argon2id hash string, or %NULL and PINHOLE_ERROR_NOT_FOUND */
char *
pinhole_store_dup_password_hash (PinholeStore *self, const char *user, GError **error)
{
  return IFACE (self)->dup_password_hash (self, user, error);
}

gboolean
pinhole_store_put_device (PinholeStore *self, const char *user, const char *device, GBytes *key,
                          GBytes *token_hash, GError **error)
{
  return IFACE (self)->put_device (self, user, device, key, token_hash, error);
}

gboolean
pinhole_store_get_device (PinholeStore *self, const char *user, const char *device,
                          GBytes **out_key, GBytes **out_token_hash, GError **error)
{
  return IFACE (self)->get_device (self, user, device, out_key, out_token_hash, error);
}

/* Returns: (transfer full) (element-type PinholeStoreDevice) */
GPtrArray *
pinhole_store_list_devices (PinholeStore *self, const char *user, GError **error)
{
  return IFACE (self)->list_devices (self, user, error);
}

/* the device, its token and the sealed messages and receipts waiting for it; NOT_FOUND when
 * unknown */
gboolean
pinhole_store_remove_device (PinholeStore *self, const char *user, const char *device,
                             GError **error)
{
  return IFACE (self)->remove_device (self, user, device, error);
}

void
pinhole_store_token_clear (PinholeStoreToken *token)
{
  g_clear_pointer (&token->key, g_bytes_unref);
  g_clear_pointer (&token->hash, g_bytes_unref);
  g_clear_pointer (&token->prev_hash, g_bytes_unref);
  token->issued = token->prev_until = 0;
}

/* the device's token record; NOT_FOUND for an unknown device */
gboolean
pinhole_store_get_token (PinholeStore *self, const char *user, const char *device,
                         PinholeStoreToken *out, GError **error)
{
  return IFACE (self)->get_token (self, user, device, out, error);
}

/* a new token (its hash) issued now; the one it replaces logs in until @prev_until */
gboolean
pinhole_store_rotate_token (PinholeStore *self, const char *user, const char *device,
                            GBytes *new_hash, gint64 prev_until, GError **error)
{
  return IFACE (self)->rotate_token (self, user, device, new_hash, prev_until, error);
}

PinholeRelation
pinhole_store_get_relation (PinholeStore *self, const char *owner, const char *contact,
                            GError **error)
{
  return IFACE (self)->get_relation (self, owner, contact, error);
}

/* sets both directions of a relation in one transaction */
gboolean
pinhole_store_set_relation (PinholeStore *self, const char *a, const char *b,
                            PinholeRelation a_to_b, PinholeRelation b_to_a, GError **error)
{
  return IFACE (self)->set_relation (self, a, b, a_to_b, b_to_a, error);
}

/* Returns: (transfer full) (element-type PinholeStoreContact) */
GPtrArray *
pinhole_store_list_contacts (PinholeStore *self, const char *owner, GError **error)
{
  return IFACE (self)->list_contacts (self, owner, error);
}

/* fails with PINHOLE_ERROR_LIMIT when the device already has @max_queued messages waiting,
 * and PINHOLE_ERROR_EXISTS when a message with this id is queued for the device already */
gboolean
pinhole_store_queue_offline (PinholeStore *self, const char *to_user, const char *to_device,
                             const PinholeStoreOffline *message, guint max_queued, GError **error)
{
  return IFACE (self)->queue_offline (self, to_user, to_device, message, max_queued, error);
}

/* Returns: (transfer full) (element-type PinholeStoreOffline): oldest first */
GPtrArray *
pinhole_store_list_offline (PinholeStore *self, const char *user, const char *device,
                            guint limit, GError **error)
{
  return IFACE (self)->list_offline (self, user, device, limit, error);
}

/* removes a delivered message and, unless @max_receipts is 0, keeps its receipt for the
 * device that sent it, in the same transaction: of that device's receipts the newest
 * @max_receipts stay. Returns: (transfer full): the message, or %NULL with NOT_FOUND */
PinholeStoreOffline *
pinhole_store_take_offline (PinholeStore *self, const char *user, const char *device,
                            const char *id, guint max_receipts, GError **error)
{
  return IFACE (self)->take_offline (self, user, device, id, max_receipts, error);
}

/* @out_count: how many messages from @from_user wait for @to_user's @to_device */
gboolean
pinhole_store_count_offline_from (PinholeStore *self, const char *to_user, const char *to_device,
                                  const char *from_user, guint *out_count, GError **error)
{
  return IFACE (self)->count_offline_from (self, to_user, to_device, from_user, out_count,
                                           error);
}

/* removes the sealed messages stored before @stored_before (µs since the epoch, as
 * PinholeStoreOffline's timestamp); @out_purged: how many */
gboolean
pinhole_store_purge_offline (PinholeStore *self, gint64 stored_before, guint *out_purged,
                             GError **error)
{
  return IFACE (self)->purge_offline (self, stored_before, out_purged, error);
}

/* Returns: (transfer full) (element-type PinholeStoreReceipt): the receipts waiting for
 * @user's @device, oldest first */
GPtrArray *
pinhole_store_list_receipts (PinholeStore *self, const char *user, const char *device,
                             guint limit, GError **error)
{
  return IFACE (self)->list_receipts (self, user, device, limit, error);
}

/* removes, in one transaction, those of @receipts (element-type PinholeStoreReceipt: id,
 * user and device; the timestamp is not looked at) that are kept for @to_user's @to_device;
 * @out_removed: how many were */
gboolean
pinhole_store_remove_receipts (PinholeStore *self, const char *to_user, const char *to_device,
                               GPtrArray *receipts, guint *out_removed, GError **error)
{
  return IFACE (self)->remove_receipts (self, to_user, to_device, receipts, out_removed, error);
}

/* removes the receipts stored before @stored_before (µs since the epoch); @out_purged: how
 * many */
gboolean
pinhole_store_purge_receipts (PinholeStore *self, gint64 stored_before, guint *out_purged,
                              GError **error)
{
  return IFACE (self)->purge_receipts (self, stored_before, out_purged, error);
}

/**
 * pinhole_store_sync_async:
 * @cancellable: (nullable): a cancellable
 * @callback: called on the thread-default main context when the writes are durable
 *
 * Makes every write that returned before this call durable, without blocking the caller.
 * Calls made while a sync runs may share the next one (group commit).
 */
void
pinhole_store_sync_async (PinholeStore *self, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;

  if (IFACE (self)->sync_async != NULL)
    {
      IFACE (self)->sync_async (self, cancellable, callback, user_data);
      return;
    }
  /* durable at once */
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_store_sync_async);
  g_task_return_boolean (task, TRUE);
}

/* Returns: %TRUE when the writes before pinhole_store_sync_async() are durable */
gboolean
pinhole_store_sync_finish (PinholeStore *self, GAsyncResult *result, GError **error)
{
  if (IFACE (self)->sync_finish != NULL)
    return IFACE (self)->sync_finish (self, result, error);
  return g_task_propagate_boolean (G_TASK (result), error);
}
