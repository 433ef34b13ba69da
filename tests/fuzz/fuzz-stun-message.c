/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-stun-message.c: libFuzzer harness for the STUN codec: decode; on success re-encode,
 * re-decode and compare, and run the MESSAGE-INTEGRITY and FINGERPRINT checks. */
#include "pinhole-stun-message.h"

#include <stdint.h>
#include <string.h>

static const guint8 key[] = "VOkJxbRl1RmTxUk/WvJxBt";

static gboolean
same_address (GInetSocketAddress *a,
              GInetSocketAddress *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_inet_socket_address_get_port (a) == g_inet_socket_address_get_port (b)
         && g_inet_address_equal (g_inet_socket_address_get_address (a),
                                  g_inet_socket_address_get_address (b));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;
  g_autoptr(PinholeStunMessage) back = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gboolean looks;

  looks = pinhole_stun_message_looks_like_stun (data, size);
  msg = pinhole_stun_message_decode (data, size, &error);
  if (msg == NULL)
    {
      g_assert (error != NULL);
      return 0;
    }
  g_assert (looks);

  /* the checks must give an answer, never crash */
  if (!pinhole_stun_message_verify_integrity (msg, key, sizeof key - 1, &error))
    g_clear_error (&error);
  if (msg->has_fingerprint)
    g_assert (pinhole_stun_message_check_fingerprint (msg, NULL));
  else
    g_assert (!pinhole_stun_message_check_fingerprint (msg, NULL));

  /* what decoded re-encodes (unless a text is too long for an encoder) and decodes the same */
  bytes = pinhole_stun_message_encode (msg, msg->has_message_integrity ? key : NULL,
                                       sizeof key - 1, msg->has_fingerprint, &error);
  if (bytes == NULL)
    {
      g_assert (error != NULL);
      return 0;
    }
  back = pinhole_stun_message_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                      &error);
  if (back == NULL)
    g_error ("re-encoded message does not decode: %s", error->message);

  g_assert (back->klass == msg->klass);
  g_assert (back->method == msg->method);
  g_assert (memcmp (back->transaction_id, msg->transaction_id, sizeof msg->transaction_id) == 0);
  g_assert (same_address (back->mapped_address, msg->mapped_address));
  g_assert (same_address (back->xor_mapped_address, msg->xor_mapped_address));
  g_assert (same_address (back->response_origin, msg->response_origin));
  g_assert (same_address (back->other_address, msg->other_address));
  g_assert (g_strcmp0 (back->username, msg->username) == 0);
  g_assert (g_strcmp0 (back->software, msg->software) == 0);
  g_assert (g_strcmp0 (back->realm, msg->realm) == 0);
  g_assert (g_strcmp0 (back->nonce, msg->nonce) == 0);
  g_assert (back->error_code == msg->error_code);
  g_assert (back->has_priority == msg->has_priority && back->priority == msg->priority);
  g_assert (back->use_candidate == msg->use_candidate);
  g_assert (back->ice_controlled == msg->ice_controlled);
  g_assert (back->ice_controlling == msg->ice_controlling);
  g_assert (back->change_request == msg->change_request);
  g_assert (back->has_fingerprint == msg->has_fingerprint);
  g_assert (back->has_message_integrity == msg->has_message_integrity);
  if (back->has_message_integrity)
    g_assert (pinhole_stun_message_verify_integrity (back, key, sizeof key - 1, NULL));
  return 0;
}
