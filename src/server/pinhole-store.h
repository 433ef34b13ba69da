/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-store.h: everything pinhole-server keeps on disk, behind one small interface:
 * accounts, device keys and login tokens, rosters, sealed offline messages and their delivery
 * receipts. SQLite
 * implements it (pinhole-sqlite-store.c); another database can implement the same calls.
 * The calls are quick and run on the main loop; a call that returns success has made its
 * change visible to every later call and survives a crash of the program, but is durable
 * (survives a power loss) only once pinhole_store_sync_async() that began after it completes.
 * The server sends every answer that promises durability after that sync (group commit:
 * one sync covers every write made before it began; docs/architecture.md "The server's
 * durability"). A store whose writes are durable at once leaves sync_async unset. */
#pragma once

#include <gio/gio.h>

#include "pinhole-enum-types.h"

G_BEGIN_DECLS

/* PinholeRelation (pinhole-enums.h) is the owner's relation to a contact: the server and the
 * client's model share it, and its nick is its name in roster stanzas */
const char *pinhole_relation_to_string (PinholeRelation relation);

typedef struct
{
  char   *user;
  char   *device;
  GBytes *key;          /* Ed25519 public key */
} PinholeStoreDevice;

typedef struct
{
  char           *user;
  PinholeRelation relation;
} PinholeStoreContact;

/* a device's login token, as kept: hashes only */
typedef struct
{
  GBytes *key;          /* the device's Ed25519 public key */
  GBytes *hash;         /* of the current token */
  gint64  issued;       /* real time µs the current token was issued */
  GBytes *prev_hash;    /* (nullable) of the token before the last rotation */
  gint64  prev_until;   /* real time µs until which that one still logs in */
} PinholeStoreToken;

void pinhole_store_token_clear (PinholeStoreToken *token);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PinholeStoreToken, pinhole_store_token_clear)

typedef struct
{
  char   *id;
  char   *from_user;
  char   *from_device;
  GBytes *sealed;
  gint64  timestamp;    /* microseconds since the epoch, when the server stored it */
} PinholeStoreOffline;

/* a sealed message's receipt, kept for the device that sent it until that device takes it */
typedef struct
{
  char   *id;           /* the message */
  char   *user;         /* whose device acknowledged it */
  char   *device;
  gint64  timestamp;    /* microseconds since the epoch, when it was acknowledged */
} PinholeStoreReceipt;

void pinhole_store_device_free  (PinholeStoreDevice  *device);
void pinhole_store_contact_free (PinholeStoreContact *contact);
void pinhole_store_offline_free (PinholeStoreOffline *message);
void pinhole_store_receipt_free (PinholeStoreReceipt *receipt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeStoreDevice, pinhole_store_device_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeStoreOffline, pinhole_store_offline_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeStoreReceipt, pinhole_store_receipt_free)

#define PINHOLE_TYPE_STORE (pinhole_store_get_type ())
G_DECLARE_INTERFACE (PinholeStore, pinhole_store, PINHOLE, STORE, GObject)

struct _PinholeStoreInterface
{
  GTypeInterface g_iface;

  gboolean (*create_account)    (PinholeStore *self, const char *user, const char *password_hash,
                                 GError **error);
  char *   (*dup_password_hash) (PinholeStore *self, const char *user, GError **error);
  gboolean (*put_device)        (PinholeStore *self, const char *user, const char *device,
                                 GBytes *key, GBytes *token_hash, GError **error);
  gboolean (*get_device)        (PinholeStore *self, const char *user, const char *device,
                                 GBytes **out_key, GBytes **out_token_hash, GError **error);
  GPtrArray *(*list_devices)    (PinholeStore *self, const char *user, GError **error);
  gboolean (*remove_device)     (PinholeStore *self, const char *user, const char *device,
                                 GError **error);
  gboolean (*get_token)         (PinholeStore *self, const char *user, const char *device,
                                 PinholeStoreToken *out, GError **error);
  gboolean (*rotate_token)      (PinholeStore *self, const char *user, const char *device,
                                 GBytes *new_hash, gint64 prev_until, GError **error);
  PinholeRelation (*get_relation) (PinholeStore *self, const char *owner, const char *contact,
                                   GError **error);
  gboolean (*set_relation)      (PinholeStore *self, const char *a, const char *b,
                                 PinholeRelation a_to_b, PinholeRelation b_to_a, GError **error);
  GPtrArray *(*list_contacts)   (PinholeStore *self, const char *owner, GError **error);
  gboolean (*queue_offline)     (PinholeStore *self, const char *to_user, const char *to_device,
                                 const PinholeStoreOffline *message, guint max_queued,
                                 GError **error);
  GPtrArray *(*list_offline)    (PinholeStore *self, const char *user, const char *device,
                                 guint limit, GError **error);
  PinholeStoreOffline *(*take_offline) (PinholeStore *self, const char *user, const char *device,
                                        const char *id, guint max_receipts, GError **error);
  gboolean (*count_offline_from) (PinholeStore *self, const char *to_user, const char *to_device,
                                  const char *from_user, guint *out_count, GError **error);
  gboolean (*purge_offline)     (PinholeStore *self, gint64 stored_before, guint *out_purged,
                                 GError **error);
  GPtrArray *(*list_receipts)   (PinholeStore *self, const char *user, const char *device,
                                 guint limit, GError **error);
  gboolean (*remove_receipts)   (PinholeStore *self, const char *to_user, const char *to_device,
                                 GPtrArray *receipts, guint *out_removed, GError **error);
  gboolean (*purge_receipts)    (PinholeStore *self, gint64 stored_before, guint *out_purged,
                                 GError **error);
  void     (*sync_async)        (PinholeStore *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*sync_finish)       (PinholeStore *self, GAsyncResult *result, GError **error);
};

gboolean   pinhole_store_create_account    (PinholeStore *self, const char *user,
                                            const char *password_hash, GError **error);
char      *pinhole_store_dup_password_hash (PinholeStore *self, const char *user,
                                            GError **error);
gboolean   pinhole_store_put_device        (PinholeStore *self, const char *user,
                                            const char *device, GBytes *key,
                                            GBytes *token_hash, GError **error);
gboolean   pinhole_store_get_device        (PinholeStore *self, const char *user,
                                            const char *device, GBytes **out_key,
                                            GBytes **out_token_hash, GError **error);
GPtrArray *pinhole_store_list_devices      (PinholeStore *self, const char *user,
                                            GError **error);
gboolean   pinhole_store_remove_device     (PinholeStore *self, const char *user,
                                            const char *device, GError **error);
gboolean   pinhole_store_get_token         (PinholeStore *self, const char *user,
                                            const char *device, PinholeStoreToken *out,
                                            GError **error);
gboolean   pinhole_store_rotate_token      (PinholeStore *self, const char *user,
                                            const char *device, GBytes *new_hash,
                                            gint64 prev_until, GError **error);
PinholeRelation pinhole_store_get_relation (PinholeStore *self, const char *owner,
                                            const char *contact, GError **error);
gboolean   pinhole_store_set_relation      (PinholeStore *self, const char *a, const char *b,
                                            PinholeRelation a_to_b, PinholeRelation b_to_a,
                                            GError **error);
GPtrArray *pinhole_store_list_contacts     (PinholeStore *self, const char *owner,
                                            GError **error);
gboolean   pinhole_store_queue_offline     (PinholeStore *self, const char *to_user,
                                            const char *to_device,
                                            const PinholeStoreOffline *message,
                                            guint max_queued, GError **error);
GPtrArray *pinhole_store_list_offline      (PinholeStore *self, const char *user,
                                            const char *device, guint limit, GError **error);
PinholeStoreOffline *pinhole_store_take_offline (PinholeStore *self, const char *user,
                                                 const char *device, const char *id,
                                                 guint max_receipts, GError **error);
gboolean   pinhole_store_count_offline_from (PinholeStore *self, const char *to_user,
                                             const char *to_device, const char *from_user,
                                             guint *out_count, GError **error);
gboolean   pinhole_store_purge_offline     (PinholeStore *self, gint64 stored_before,
                                            guint *out_purged, GError **error);
GPtrArray *pinhole_store_list_receipts     (PinholeStore *self, const char *user,
                                            const char *device, guint limit, GError **error);
gboolean   pinhole_store_remove_receipts   (PinholeStore *self, const char *to_user,
                                            const char *to_device, GPtrArray *receipts,
                                            guint *out_removed, GError **error);
gboolean   pinhole_store_purge_receipts    (PinholeStore *self, gint64 stored_before,
                                            guint *out_purged, GError **error);
void       pinhole_store_sync_async        (PinholeStore *self, GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data);
gboolean   pinhole_store_sync_finish       (PinholeStore *self, GAsyncResult *result,
                                            GError **error);

G_END_DECLS
