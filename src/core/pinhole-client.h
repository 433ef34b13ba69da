/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client.h: one device's connection to a pinhole-server: account, contacts, presence,
 * and end-to-end encrypted chat with contacts' devices over sessions (relay for now) or, for
 * offline devices, sealed messages stored on the server. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "pinhole-contact.h"
#include "pinhole-conversation.h"
#include "pinhole-profile.h"
#include "pinhole-session.h"
#include "pinhole-transfer.h"

G_BEGIN_DECLS

/* the longest chat message, in bytes of UTF-8 */
#define PINHOLE_CHAT_MAX_TEXT 8192


#define PINHOLE_TYPE_CLIENT (pinhole_client_get_type ())
G_DECLARE_FINAL_TYPE (PinholeClient, pinhole_client, PINHOLE, CLIENT, GObject)


PinholeClient *pinhole_client_new              (PinholeProfile      *profile);
PinholeProfile *pinhole_client_get_profile     (PinholeClient       *self);
const char    *pinhole_client_get_user         (PinholeClient       *self);
const char    *pinhole_client_get_device       (PinholeClient       *self);
gboolean       pinhole_client_is_connected     (PinholeClient       *self);
void           pinhole_client_set_direct_paths (PinholeClient       *self,
                                                gboolean             enabled);
gboolean       pinhole_client_set_ca_file      (PinholeClient       *self,
                                                const char          *path,
                                                GError             **error);
GTlsCertificate *pinhole_client_dup_rejected_certificate (PinholeClient *self);
gboolean       pinhole_client_trust_certificate (PinholeClient      *self,
                                                 GTlsCertificate    *certificate,
                                                 GError            **error);
char          *pinhole_certificate_dup_fingerprint (GTlsCertificate *certificate);
char          *pinhole_fingerprint_of_der (const guint8 *der,
                                           gsize         len);
char          *pinhole_client_complete_server_url (const char       *url);
gboolean       pinhole_client_is_profile_server (PinholeClient       *self,
                                                 const char          *server_url);

void           pinhole_client_register_async   (PinholeClient       *self,
                                                const char          *server_url,
                                                const char          *user,
                                                const char          *password,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean       pinhole_client_register_finish  (PinholeClient       *self,
                                                GAsyncResult        *result,
                                                GError             **error);
void           pinhole_client_login_async      (PinholeClient       *self,
                                                const char          *server_url,
                                                const char          *password,
                                                gboolean             announce,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean       pinhole_client_login_finish     (PinholeClient       *self,
                                                GAsyncResult        *result,
                                                GError             **error);
void           pinhole_client_disconnect       (PinholeClient       *self);

void           pinhole_client_request_async    (PinholeClient       *self,
                                                JsonObject          *stanza,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
JsonObject    *pinhole_client_request_finish   (PinholeClient       *self,
                                                GAsyncResult        *result,
                                                GError             **error);

/* a device of the logged-in account (pinhole-client-devices.c) */
typedef struct
{
  char     *name;
  gboolean  online;
  gboolean  is_this;    /* the device this client logged in as */
} PinholeAccountDevice;

void           pinhole_account_device_free     (PinholeAccountDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeAccountDevice, pinhole_account_device_free)

void           pinhole_client_list_devices_async  (PinholeClient       *self,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
GPtrArray     *pinhole_client_list_devices_finish (PinholeClient       *self,
                                                   GAsyncResult        *result,
                                                   GError             **error);
void           pinhole_client_revoke_device_async (PinholeClient       *self,
                                                   const char          *device,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean       pinhole_client_revoke_device_finish (PinholeClient      *self,
                                                    GAsyncResult       *result,
                                                    GError            **error);

void           pinhole_client_contact_async    (PinholeClient       *self,
                                                const char          *verb,
                                                const char          *user,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
char          *pinhole_client_contact_finish   (PinholeClient       *self,
                                                GAsyncResult        *result,
                                                GError             **error);
GListModel    *pinhole_client_get_contacts     (PinholeClient       *self);
GListModel    *pinhole_client_get_pending_requests (PinholeClient   *self);
PinholeContact *pinhole_client_lookup_contact  (PinholeClient       *self,
                                                const char          *user);
PinholeConversation *pinhole_client_get_conversation (PinholeClient *self,
                                                      const char    *user);
void           pinhole_client_set_presence     (PinholeClient       *self,
                                                const char          *show);
gboolean       pinhole_client_trust            (PinholeClient       *self,
                                                const char          *user,
                                                GError             **error);
gboolean       pinhole_client_set_verified     (PinholeClient       *self,
                                                const char          *user,
                                                const char          *device,
                                                gboolean             verified,
                                                GError             **error);
char          *pinhole_client_dup_safety_number (PinholeClient      *self);

void           pinhole_client_send_message_async  (PinholeClient       *self,
                                                   const char          *user,
                                                   const char          *text,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean       pinhole_client_send_message_finish (PinholeClient       *self,
                                                   GAsyncResult        *result,
                                                   guint               *out_live,
                                                   guint               *out_stored,
                                                   GError             **error);

/* file transfer (pinhole-client-transfer.c, docs/transfer.md) */
GListModel    *pinhole_client_get_transfers       (PinholeClient       *self);
PinholeTransfer *pinhole_client_lookup_transfer   (PinholeClient       *self,
                                                   const char          *id);
void           pinhole_client_resume_transfers    (PinholeClient       *self);
PinholeTransfer *pinhole_client_find_transfer     (PinholeClient       *self,
                                                   const char          *id,
                                                   gboolean             live,
                                                   GError             **error);
gboolean       pinhole_client_control_transfer    (PinholeClient       *self,
                                                   const char          *id,
                                                   PinholeTransferAction action,
                                                   const char          *folder,
                                                   GError             **error);
void           pinhole_client_send_files_async    (PinholeClient       *self,
                                                   const char          *user,
                                                   const char *const   *paths,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
PinholeTransfer *pinhole_client_send_files_finish (PinholeClient       *self,
                                                   GAsyncResult        *result,
                                                   GError             **error);

void           pinhole_client_open_session_async  (PinholeClient       *self,
                                                   const char          *user,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
PinholeSession *pinhole_client_open_session_finish (PinholeClient      *self,
                                                    GAsyncResult       *result,
                                                    GError            **error);

void           pinhole_client_shutdown_async   (PinholeClient       *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean       pinhole_client_shutdown_finish  (PinholeClient       *self,
                                                GAsyncResult        *result,
                                                GError             **error);
void           pinhole_client_settle_async     (PinholeClient       *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean       pinhole_client_settle_finish    (PinholeClient       *self,
                                                GAsyncResult        *result,
                                                GError             **error);
char          *pinhole_client_dup_network_description (PinholeClient *self);
GPtrArray     *pinhole_client_dup_local_candidates (PinholeClient *self);
gboolean       pinhole_client_set_relay_only   (PinholeClient       *self,
                                                const char          *user,
                                                gboolean             relay_only,
                                                GError             **error);

G_END_DECLS
