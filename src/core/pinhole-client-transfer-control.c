/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-transfer-control.c: what a person does to a transfer by its id (accept,
 * decline, pause, resume, cancel), with the one set of checks and sentences that the CLI, the
 * running instance's D-Bus methods and the app share. */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-client-private.h"
#include "pinhole-enum-types.h"
#include "pinhole-error.h"
#include "pinhole-transfer-message.h"

static const char *
state_nick (PinholeTransferState state)
{
  GEnumClass *klass = g_type_class_ref (PINHOLE_TYPE_TRANSFER_STATE);
  GEnumValue *value = g_enum_get_value (klass, state);

  g_type_class_unref (klass);
  return value != NULL ? value->value_nick : "unknown";
}

/* Returns: (transfer none): the transfer's state as its one name ("running", "done"…) */
const char *
pinhole_transfer_state_to_string (PinholeTransferState state)
{
  return state_nick (state);
}

/**
 * pinhole_client_find_transfer:
 * Returns: (transfer none): the transfer @id, or %NULL with an error that says why there is
 * no such transfer, or that it is over when @live
 */
PinholeTransfer *
pinhole_client_find_transfer (PinholeClient  *self,
                              const char     *id,
                              gboolean        live,
                              GError        **error)
{
  PinholeTransfer *t;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), NULL);
  if (!pinhole_transfer_id_is_valid (id))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND,
                           "a transfer id is 32 lowercase hex digits");
      return NULL;
    }
  t = pinhole_client_lookup_transfer (self, id);
  if (t == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "no transfer %s here", id);
      return NULL;
    }
  if (live && pinhole_transfer_is_over (t))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED, "transfer %s is over (%s)",
                   id, state_nick (pinhole_transfer_get_state (t)));
      return NULL;
    }
  return t;
}

/**
 * pinhole_client_control_transfer:
 * @folder: (nullable): for %PINHOLE_TRANSFER_ACTION_ACCEPT, where to save
 * Does @action to the transfer @id, or says why not: an unknown id, a transfer that is over,
 * an answer to an offer that is not one waiting for us, a pause of a paused transfer.
 */
gboolean
pinhole_client_control_transfer (PinholeClient          *self,
                                 const char             *id,
                                 PinholeTransferAction   action,
                                 const char             *folder,
                                 GError                **error)
{
  PinholeTransfer *t = pinhole_client_find_transfer (self, id, TRUE, error);
  gboolean incoming;
  PinholeTransferState state;

  if (t == NULL)
    return FALSE;
  incoming = pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_INCOMING;
  state = pinhole_transfer_get_state (t);
  switch (action)
    {
    case PINHOLE_TRANSFER_ACTION_ACCEPT:
    case PINHOLE_TRANSFER_ACTION_DECLINE:
      if (!incoming)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                       "transfer %s is one you send: only its recipient answers it", id);
          return FALSE;
        }
      if (state != PINHOLE_TRANSFER_STATE_OFFERED)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                       "transfer %s was answered already (%s)", id, state_nick (state));
          return FALSE;
        }
      if (action == PINHOLE_TRANSFER_ACTION_DECLINE)
        {
          pinhole_transfer_decline (t);
          return TRUE;
        }
      if (!pinhole_transfer_is_linked (t))
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
                       "the device that offered %s is not connected", id);
          return FALSE;
        }
      return pinhole_transfer_accept (t, folder, NULL, error);
    case PINHOLE_TRANSFER_ACTION_PAUSE:
    case PINHOLE_TRANSFER_ACTION_RESUME:
      if (state != PINHOLE_TRANSFER_STATE_RUNNING && state != PINHOLE_TRANSFER_STATE_PAUSED)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                       "transfer %s has not started (%s)", id, state_nick (state));
          return FALSE;
        }
      if ((action == PINHOLE_TRANSFER_ACTION_PAUSE) == pinhole_transfer_is_paused_here (t))
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                       action == PINHOLE_TRANSFER_ACTION_PAUSE ? "transfer %s is paused already"
                                                               : "transfer %s is not paused here",
                       id);
          return FALSE;
        }
      if (action == PINHOLE_TRANSFER_ACTION_PAUSE)
        pinhole_transfer_pause (t);
      else
        pinhole_transfer_resume (t);
      return TRUE;
    case PINHOLE_TRANSFER_ACTION_CANCEL:
      pinhole_transfer_cancel (t);
      return TRUE;
    default:
      g_return_val_if_reached (FALSE);
    }
}
