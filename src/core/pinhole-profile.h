/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-profile.h: one identity's local state, a SQLite file in its profile folder:
 * settings and the device key, contacts' device keys (trusted on first use, changes held
 * back until the user trusts them, verified when the user compared them), per-contact
 * settings, and the chat history with how far the user has read it. */
#pragma once

#include <gio/gio.h>
#include "pinhole-enum-types.h"
#include "pinhole-identity.h"

G_BEGIN_DECLS

typedef enum
{
  PINHOLE_KEY_TRUSTED,    /* the key on record */
  PINHOLE_KEY_NEW,        /* the contact's first device key: recorded and trusted */
  PINHOLE_KEY_CHANGED,    /* differs from the record, or a further device: not trusted */
} PinholeKeyCheck;

typedef struct
{
  char                    *peer;
  char                    *id;
  PinholeMessageDirection  direction;
  char                    *text;
  gint64                   timestamp;  /* seconds since the epoch, the sender's clock */
  PinholeMessageState      state;
  gint64                   seq;        /* the order of recording: a cursor for older pages */
} PinholeHistoryEntry;

void pinhole_history_entry_free (PinholeHistoryEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeHistoryEntry, pinhole_history_entry_free)

#define PINHOLE_TYPE_PROFILE (pinhole_profile_get_type ())
G_DECLARE_FINAL_TYPE (PinholeProfile, pinhole_profile, PINHOLE, PROFILE, GObject)

PinholeProfile  *pinhole_profile_open             (const char   *dir,
                                                   GError      **error);
const char      *pinhole_profile_get_dir          (PinholeProfile *self);
char            *pinhole_profile_dup_setting      (PinholeProfile *self,
                                                   const char     *key);
gboolean         pinhole_profile_set_setting      (PinholeProfile *self,
                                                   const char     *key,
                                                   const char     *value,
                                                   GError        **error);
PinholeIdentity *pinhole_profile_get_identity     (PinholeProfile *self);

PinholeKeyCheck  pinhole_profile_check_key        (PinholeProfile *self,
                                                   const char     *user,
                                                   const char     *device,
                                                   GBytes         *key,
                                                   GError        **error);
PinholeKeyState  pinhole_profile_peek_key         (PinholeProfile *self,
                                                   const char     *user,
                                                   const char     *device,
                                                   GBytes         *key);
gboolean         pinhole_profile_has_untrusted_key (PinholeProfile *self,
                                                    const char     *user);
gboolean         pinhole_profile_trust_keys       (PinholeProfile *self,
                                                   const char     *user,
                                                   GError        **error);
GPtrArray       *pinhole_profile_list_fingerprints (PinholeProfile *self,
                                                    const char     *user);
gboolean         pinhole_profile_get_verified     (PinholeProfile *self,
                                                   const char     *user,
                                                   const char     *device,
                                                   GBytes         *key);
gboolean         pinhole_profile_set_verified     (PinholeProfile *self,
                                                   const char     *user,
                                                   const char     *device,
                                                   GBytes         *key,
                                                   gboolean        verified,
                                                   GError        **error);

gboolean         pinhole_profile_get_relay_only   (PinholeProfile *self,
                                                   const char     *user);
gboolean         pinhole_profile_set_relay_only   (PinholeProfile *self,
                                                   const char     *user,
                                                   gboolean        relay_only,
                                                   GError        **error);

gboolean         pinhole_profile_add_message      (PinholeProfile          *self,
                                                   const char              *peer,
                                                   const char              *id,
                                                   PinholeMessageDirection  direction,
                                                   const char              *text,
                                                   gint64                   timestamp,
                                                   PinholeMessageState      state,
                                                   gboolean                *out_added,
                                                   GError                 **error);
gboolean         pinhole_profile_set_message_state (PinholeProfile          *self,
                                                    const char              *peer,
                                                    const char              *id,
                                                    PinholeMessageDirection  direction,
                                                    PinholeMessageState      state,
                                                    gboolean                *out_changed,
                                                    GError                 **error);
void             pinhole_profile_sync_async       (PinholeProfile      *self,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean         pinhole_profile_sync_finish      (PinholeProfile *self,
                                                   GAsyncResult   *result,
                                                   GError        **error);
GPtrArray       *pinhole_profile_list_messages    (PinholeProfile *self,
                                                   const char     *peer,
                                                   gint64          before,
                                                   guint           limit,
                                                   GError        **error);
GPtrArray       *pinhole_profile_list_held        (PinholeProfile *self,
                                                   const char     *peer,
                                                   GError        **error);
GStrv            pinhole_profile_list_held_peers  (PinholeProfile *self,
                                                   GError        **error);
guint            pinhole_profile_count_unread     (PinholeProfile *self,
                                                   const char     *peer);
gboolean         pinhole_profile_mark_read        (PinholeProfile *self,
                                                   const char     *peer,
                                                   GError        **error);

/* the transfers that are not over (pinhole-profile-transfers.c, docs/transfer.md §8) */
typedef struct
{
  char    *id;
  gint     direction;    /* PinholeTransferDirection */
  char    *peer;         /* the contact's user */
  char    *device;       /* the device that accepted or offered; nullable */
  char    *manifest;     /* its JSON */
  char    *sources;      /* outgoing: a JSON array of local paths, beside the entries */
  char    *folder;       /* incoming, once accepted */
  char    *accepted;     /* a JSON array of entry indices, once accepted */
  gint     state;        /* PinholeTransferState */
  gint64   created;      /* seconds since the epoch */
} PinholeTransferRecord;

void             pinhole_transfer_record_free     (PinholeTransferRecord *record);
gboolean         pinhole_profile_save_transfer    (PinholeProfile              *self,
                                                   const PinholeTransferRecord *record,
                                                   GError                     **error);
gboolean         pinhole_profile_forget_transfer  (PinholeProfile *self,
                                                   const char     *id,
                                                   GError        **error);
GPtrArray       *pinhole_profile_list_transfers   (PinholeProfile *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeTransferRecord, pinhole_transfer_record_free)

G_END_DECLS
