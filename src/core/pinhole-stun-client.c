/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-client.c: what every STUN Binding transaction shares: options and results, the
 * request (RFC 8489 §6.1) and the response check (§6.3.3, §6.3.4, §9.1.4); the transactions
 * themselves are in pinhole-stun-client-udp.c (§6.2.1) and pinhole-stun-client-tcp.c (§6.2.2). */
#define G_LOG_DOMAIN "pinhole-stun"

#include "pinhole-stun-client-private.h"
#include "pinhole-error.h"
#include "pinhole-stun-message.h"

#include <string.h>

PinholeStunClientOptions *
pinhole_stun_client_options_new (void)
{
  PinholeStunClientOptions *options = g_new0 (PinholeStunClientOptions, 1);

  /* RFC 8489 §6.2.1 and §6.2.2 defaults */
  options->rto_ms = 500;
  options->rc = 7;
  options->rm = 16;
  options->tcp_timeout_ms = 39500;
  return options;
}

PinholeStunClientOptions *
pinhole_stun_client_options_copy (const PinholeStunClientOptions *options)
{
  PinholeStunClientOptions *copy;

  g_return_val_if_fail (options != NULL, NULL);

  copy = g_memdup2 (options, sizeof *options);
  copy->username = g_strdup (options->username);
  copy->password = g_strdup (options->password);
  copy->software = g_strdup (options->software);
  copy->tcp_local_address = options->tcp_local_address != NULL
                            ? g_object_ref (options->tcp_local_address) : NULL;
  return copy;
}

void
pinhole_stun_client_options_free (PinholeStunClientOptions *options)
{
  if (options == NULL)
    return;
  g_free (options->username);
  g_free (options->password);
  g_free (options->software);
  g_clear_object (&options->tcp_local_address);
  g_free (options);
}

void
pinhole_stun_client_result_free (PinholeStunClientResult *result)
{
  if (result == NULL)
    return;
  g_clear_object (&result->mapped_address);
  g_clear_object (&result->other_address);
  g_clear_object (&result->response_origin);
  g_clear_object (&result->local_address);
  g_clear_object (&result->server_address);
  g_free (result);
}

char *
_pinhole_stun_client_address_to_string (GSocketAddress *address)
{
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      g_autofree char *ip =
        g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (inet));
    }
  return g_strdup ("(non-IP address)");
}

GBytes *
_pinhole_stun_client_build_request (const PinholeStunClientOptions  *options,
                                    guint8                          *transaction_id,
                                    GError                         **error)
{
  g_autoptr(PinholeStunMessage) msg = NULL;
  const guint8 *key = NULL;
  gsize key_len = 0;

  msg = pinhole_stun_message_new (PINHOLE_STUN_CLASS_REQUEST, PINHOLE_STUN_METHOD_BINDING, NULL);
  pinhole_stun_message_set_random_transaction_id (msg);
  memcpy (transaction_id, msg->transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN);
  msg->username = g_strdup (options->username);
  msg->software = g_strdup (options->software);
  if (options->password != NULL)
    {
      /* §9.1.1: the key is the OpaqueString of the password, used here as given */
      key = (const guint8 *) options->password;
      key_len = strlen (options->password);
    }
  return pinhole_stun_message_encode (msg, key, key_len, TRUE, error);
}

/* §6.3.3 and §6.3.4: what a received message means for the transaction */
ResponseVerdict
_pinhole_stun_client_handle_response (const guint8                    *data,
                                      gsize                            len,
                                      const guint8                    *transaction_id,
                                      const PinholeStunClientOptions  *options,
                                      GSocketAddress                  *local,
                                      GSocketAddress                  *from,
                                      PinholeStunClientResult        **result,
                                      GError                         **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;
  GInetSocketAddress *mapped;

  if (!pinhole_stun_message_looks_like_stun (data, len))
    {
      g_debug ("ignoring %" G_GSIZE_FORMAT " bytes that are not STUN", len);
      return RESPONSE_IGNORE;
    }
  msg = pinhole_stun_message_decode (data, len, &local_error);
  if (msg == NULL)
    {
      g_debug ("ignoring malformed STUN message: %s", local_error->message);
      return RESPONSE_IGNORE;
    }
  if (memcmp (msg->transaction_id, transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN) != 0
      || msg->method != PINHOLE_STUN_METHOD_BINDING
      || (msg->klass != PINHOLE_STUN_CLASS_SUCCESS && msg->klass != PINHOLE_STUN_CLASS_ERROR))
    {
      g_debug ("ignoring STUN message of another transaction");
      return RESPONSE_IGNORE;
    }
  /* §6.3.1: "If the client does not understand an attribute in a response, it MUST
   * discard the response" (comprehension-required ones) */
  if (msg->unknown_required != NULL)
    {
      g_debug ("ignoring STUN response with %u unknown comprehension-required attributes",
               msg->unknown_required->len);
      return RESPONSE_IGNORE;
    }

  if (msg->klass == PINHOLE_STUN_CLASS_ERROR)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN server answered error %u (%s)", msg->error_code,
                   msg->error_reason != NULL ? msg->error_reason : "no reason");
      return RESPONSE_DONE;
    }

  /* §9.1.4: "If the value does not match, or if MESSAGE-INTEGRITY was absent, the response
   * MUST be discarded, as if it was never received." */
  if (options->password != NULL
      && !pinhole_stun_message_verify_integrity (msg, (const guint8 *) options->password,
                                                 strlen (options->password), &local_error))
    {
      g_debug ("discarding STUN response: %s", local_error->message);
      return RESPONSE_IGNORE;
    }

  mapped = msg->xor_mapped_address != NULL ? msg->xor_mapped_address : msg->mapped_address;
  if (mapped == NULL)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "STUN Binding response has no XOR-MAPPED-ADDRESS");
      return RESPONSE_DONE;
    }

  *result = g_new0 (PinholeStunClientResult, 1);
  (*result)->mapped_address = g_object_ref (mapped);
  (*result)->other_address = msg->other_address ? g_object_ref (msg->other_address) : NULL;
  (*result)->response_origin = msg->response_origin ? g_object_ref (msg->response_origin) : NULL;
  (*result)->local_address = G_IS_INET_SOCKET_ADDRESS (local)
                             ? G_INET_SOCKET_ADDRESS (g_object_ref (local)) : NULL;
  (*result)->server_address = G_IS_INET_SOCKET_ADDRESS (from)
                              ? G_INET_SOCKET_ADDRESS (g_object_ref (from)) : NULL;
  return RESPONSE_DONE;
}

void
_pinhole_stun_client_clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}
