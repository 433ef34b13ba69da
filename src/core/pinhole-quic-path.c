/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-quic-path.c: session packets over QUIC, framed as on TCP on one bidirectional
 * stream, on a UDP socket the path shares with STUN checks.
 *
 * QUIC is ngtcp2's (Debian 12: 0.12) with GnuTLS for its TLS 1.3 handshake: loss recovery
 * (RFC 9002: SACK-like ACK ranges, a PTO in round trips rather than PseudoTcp's 1 s minimum),
 * CUBIC, flow control that tunes its windows, PMTU discovery, keepalive PINGs and an idle
 * timeout — all maintained and interoperability-tested elsewhere, which a home-made
 * reliability layer on UDP would not be. ngtcp2 does no I/O: this file feeds it the datagrams
 * the socket's owner hands over, writes the packets it makes, and arms one timer from
 * ngtcp2_conn_get_expiry(). ngtcp2's API changed before 1.0, so every ngtcp2 call lives in this
 * one file: moving to another ngtcp2 touches nothing else.
 *
 * Each end shows an ephemeral self-signed certificate (PinholeQuicCertificate) and accepts
 * from the peer exactly the certificate whose SHA-256 fingerprint the peer sent inside the
 * end-to-end encrypted session; the server requires the client's certificate, so the pinning
 * is mutual. The client (the initiator) opens stream 0; both ends send their frames on it. */
#define G_LOG_DOMAIN "pinhole-quic"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <string.h>
#include <sys/socket.h>

#include "pinhole-client.h"
#include "pinhole-error.h"
#include "pinhole-path-private.h"
#include "pinhole-quic-path.h"
#include "pinhole-stun-message.h"

#define FRAME_HEADER PINHOLE_PATH_FRAME_HEADER
/* connection ids this end picks: long enough to be unguessable off the path */
#define CID_LEN 16
/* the largest UDP payload ngtcp2 writes (its PMTU discovery stops at 1452) */
#define TX_BUFFER 2048
/* packets written in one go before the main loop gets a turn */
#define MAX_PACKETS_PER_WRITE 64
/* stream data handed to ngtcp2 in one call, in at most this many pieces */
#define MAX_VECS 16
/* rounds of writing and delivering in one pump when ::received handlers send again */
#define MAX_PUMP_ROUNDS 64
/* flow control: what each end lets the peer send at first, and how far ngtcp2 may grow it
 * as it measures the link (the receiver reads everything at once, so the windows only cover
 * data in flight and out-of-order data ngtcp2 holds) */
#define INITIAL_STREAM_WINDOW (2 * 1024 * 1024)
#define INITIAL_WINDOW (4 * 1024 * 1024)
#define MAX_STREAM_WINDOW (16 * 1024 * 1024)
#define MAX_WINDOW (24 * 1024 * 1024)
#define TLS_PRIORITY "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3"

struct _PinholeQuicPath
{
  GObject                  parent_instance;

  /* kind, remote, closed; queued: frame bytes not yet handed to ngtcp2 */
  PinholePathStream        base;

  /* owned */
  GSocket                 *socket;        /* a reference; the socket's owner reads it */
  GSocketAddress          *remote_addr;
  PinholeQuicCertificate  *certificate;
  char                    *peer_fingerprint;
  ngtcp2_conn             *conn;          /* NULL on the server until the client's Initial */
  gnutls_session_t         tls;
  GSource                 *timer;         /* its ready time is ngtcp2's expiry */
  GSource                 *writable;      /* while the socket has no room for blocked */
  GQueue                   frames;        /* GBytes frames (header + packet) not yet acked */
  GQueue                   inbox;         /* GBytes packets read, not yet emitted */
  guint8                  *rbuf;          /* FRAME_HEADER + MAX_PACKET: the frame being read */
  guint8                  *blocked;       /* a packet the socket had no room for */
  GError                  *error;         /* why a callback failed, until reported */
  char                    *refusal;       /* why this end refused the peer's certificate */

  ngtcp2_crypto_conn_ref   conn_ref;
  struct sockaddr_storage  local_sa;
  struct sockaddr_storage  remote_sa;
  ngtcp2_path              path;

  gsize                    blocked_len;
  gsize                    rlen;          /* bytes in rbuf */
  /* stream offsets of what is sent: the first frame in frames starts at head_offset;
   * submitted bytes are in ngtcp2, acked ones acknowledged; cursor is the frame that holds
   * offset submitted (cursor_offset its start), NULL when all is submitted */
  guint64                  head_offset;
  guint64                  submitted;
  guint64                  acked;
  GList                   *cursor;
  guint64                  cursor_offset;
  int64_t                  stream_id;     /* -1 until opened (client) or seen (server) */

  gboolean                 initiator;
  gboolean                 peer_verified; /* the peer showed the pinned certificate */
  gboolean                 handshake_done;/* confirmed (client) or completed (server) */
  gboolean                 stream_announced;
  gboolean                 peer_finished; /* the peer ended its side of the stream */
  gboolean                 connected;
  gboolean                 pumping;
  gboolean                 pump_again;
  gboolean                 sending;       /* inside send(): its caller sees what is queued */
  gboolean                 drain_wanted;  /* send() left bytes queued: emit ::drained later */
};

enum { PROP_0, PROP_CONNECTED, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void pinhole_quic_path_iface_init (PinholePathInterface *iface);
static void pump (PinholeQuicPath *self);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeQuicPath, pinhole_quic_path, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PINHOLE_TYPE_PATH,
                                                      pinhole_quic_path_iface_init))

/* a random connection id that never puts the STUN magic cookie where a short header with
 * a cleared fixed bit would show it (see pinhole-quic-path.h) */
static gboolean
random_cid (uint8_t *data,
            size_t   len)
{
  /* each try collides with probability 2^-32 */
  for (guint tries = 0; tries < 4; tries++)
    {
      if (gnutls_rnd (GNUTLS_RND_RANDOM, data, len) != 0)
        return FALSE;
      if (len < 7 || ((guint32) data[3] << 24 | (guint32) data[4] << 16 |
                      (guint32) data[5] << 8 | data[6]) != PINHOLE_STUN_MAGIC_COOKIE)
        return TRUE;
    }
  return FALSE;
}

static ngtcp2_tstamp
now_ts (void)
{
  return (ngtcp2_tstamp) g_get_monotonic_time () * NGTCP2_MICROSECONDS;
}

static void
fail_in_callback (PinholeQuicPath *self,
                  gint             code,
                  const char      *message)
{
  if (self->error == NULL)
    self->error = g_error_new_literal (PINHOLE_ERROR, code, message);
}

/* ---- TLS: the pinned certificate ---- */

static ngtcp2_conn *
get_conn_cb (ngtcp2_crypto_conn_ref *ref)
{
  return ((PinholeQuicPath *) ref->user_data)->conn;
}

/* GnuTLS calls this with the peer's Certificate message; it checks the peer's signature over
 * the handshake with that certificate's key itself. Only the pinned certificate passes. */
static int
verify_peer_cb (gnutls_session_t session)
{
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr (session);
  PinholeQuicPath *self = ref->user_data;
  const gnutls_datum_t *certs;
  unsigned int n = 0;
  g_autofree char *fingerprint = NULL;

  certs = gnutls_certificate_get_peers (session, &n);
  if (certs == NULL || n == 0)
    {
      g_free (self->refusal);
      self->refusal = g_strdup ("the peer showed no certificate");
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
  fingerprint = pinhole_fingerprint_of_der (certs[0].data, certs[0].size);
  if (g_ascii_strcasecmp (fingerprint, self->peer_fingerprint) != 0)
    {
      g_free (self->refusal);
      self->refusal = g_strdup_printf ("the peer's certificate %s is not the one it announced "
                                       "in the session (%s)", fingerprint,
                                       self->peer_fingerprint);
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
  self->peer_verified = TRUE;
  return 0;
}

static gboolean
setup_tls (PinholeQuicPath  *self,
           GError          **error)
{
  gnutls_datum_t alpn = { (unsigned char *) PINHOLE_QUIC_PATH_ALPN,
                          sizeof PINHOLE_QUIC_PATH_ALPN - 1 };
  unsigned int flags = GNUTLS_NO_END_OF_EARLY_DATA;
  int rv;

  flags |= self->initiator ? GNUTLS_CLIENT : GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET;
  rv = gnutls_init (&self->tls, flags);
  if (rv == 0)
    rv = gnutls_priority_set_direct (self->tls, TLS_PRIORITY, NULL);
  if (rv == 0)
    rv = self->initiator ? ngtcp2_crypto_gnutls_configure_client_session (self->tls)
                         : ngtcp2_crypto_gnutls_configure_server_session (self->tls);
  if (rv == 0)
    rv = gnutls_credentials_set (self->tls, GNUTLS_CRD_CERTIFICATE,
                                 pinhole_quic_certificate_get_credentials (self->certificate));
  if (rv == 0)
    rv = gnutls_alpn_set_protocols (self->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  if (rv != 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "TLS for QUIC: %s",
                   rv < 0 ? gnutls_strerror (rv) : "ngtcp2 refused the session");
      return FALSE;
    }
  gnutls_session_set_ptr (self->tls, &self->conn_ref);
  gnutls_session_set_verify_function (self->tls, verify_peer_cb);
  if (!self->initiator)
    gnutls_certificate_server_set_request (self->tls, GNUTLS_CERT_REQUIRE);
  ngtcp2_conn_set_tls_native_handle (self->conn, self->tls);
  return TRUE;
}

/* ---- ngtcp2 callbacks: they record state; pump() acts on it outside ngtcp2 ---- */

static void
rand_cb (uint8_t                *dest,
         size_t                  destlen,
         const ngtcp2_rand_ctx  *rand_ctx)
{
  gnutls_rnd (GNUTLS_RND_RANDOM, dest, destlen);
}

static int
get_new_connection_id_cb (ngtcp2_conn *conn,
                          ngtcp2_cid  *cid,
                          uint8_t     *token,
                          size_t       cidlen,
                          void        *user_data)
{
  if (!random_cid (cid->data, cidlen) ||
      gnutls_rnd (GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  cid->datalen = cidlen;
  return 0;
}

static int
handshake_completed_cb (ngtcp2_conn *conn,
                        void        *user_data)
{
  PinholeQuicPath *self = user_data;

  /* GnuTLS asks for the peer's certificate; this holds even if it did not */
  if (!self->peer_verified)
    {
      fail_in_callback (self, PINHOLE_ERROR_CERTIFICATE,
                        "the QUIC handshake ended without the peer's pinned certificate");
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
  /* the server has seen the client's certificate and Finished; the client waits for
   * HANDSHAKE_DONE, the server's word that it took the client's certificate */
  if (!self->initiator)
    self->handshake_done = TRUE;
  return 0;
}

static int
handshake_confirmed_cb (ngtcp2_conn *conn,
                        void        *user_data)
{
  PinholeQuicPath *self = user_data;

  self->handshake_done = TRUE;
  return 0;
}

static int
stream_open_cb (ngtcp2_conn *conn,
                int64_t      stream_id,
                void        *user_data)
{
  PinholeQuicPath *self = user_data;

  /* the transport parameters allow the client one bidirectional stream and nothing else */
  if (self->stream_id == -1 && !self->initiator)
    self->stream_id = stream_id;
  return 0;
}

static void
take_frame_bytes (PinholeQuicPath *self,
                  const uint8_t  **data,
                  size_t          *len,
                  gsize            want)
{
  gsize n = MIN (want, *len);

  memcpy (self->rbuf + self->rlen, *data, n);
  self->rlen += n;
  *data += n;
  *len -= n;
}

static int
recv_stream_data_cb (ngtcp2_conn   *conn,
                     uint32_t       flags,
                     int64_t        stream_id,
                     uint64_t       offset,
                     const uint8_t *data,
                     size_t         datalen,
                     void          *user_data,
                     void          *stream_user_data)
{
  PinholeQuicPath *self = user_data;
  size_t consumed = datalen;

  if (stream_id != self->stream_id)
    {
      fail_in_callback (self, PINHOLE_ERROR_PROTOCOL, "the peer sent on a second QUIC stream");
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
  while (datalen > 0)
    {
      gsize len;

      if (self->rlen < FRAME_HEADER)
        {
          take_frame_bytes (self, &data, &datalen, FRAME_HEADER - self->rlen);
          if (self->rlen < FRAME_HEADER)
            break;
          if (pinhole_path_frame_header_get (self->rbuf) > PINHOLE_PATH_MAX_PACKET)
            {
              fail_in_callback (self, PINHOLE_ERROR_PROTOCOL,
                                "the peer sent a frame longer than the packet limit");
              return NGTCP2_ERR_CALLBACK_FAILURE;
            }
        }
      len = pinhole_path_frame_header_get (self->rbuf);
      take_frame_bytes (self, &data, &datalen, FRAME_HEADER + len - self->rlen);
      if (self->rlen == FRAME_HEADER + len)
        {
          g_queue_push_tail (&self->inbox, g_bytes_new (self->rbuf + FRAME_HEADER, len));
          self->rlen = 0;
        }
    }
  if (flags & NGTCP2_STREAM_DATA_FLAG_FIN)
    self->peer_finished = TRUE;
  /* every byte is taken at once (the inbox holds at most one datagram's worth): the peer may
   * send as many again */
  ngtcp2_conn_extend_max_stream_offset (conn, stream_id, consumed);
  ngtcp2_conn_extend_max_offset (conn, consumed);
  return 0;
}

static int
acked_stream_data_offset_cb (ngtcp2_conn *conn,
                             int64_t      stream_id,
                             uint64_t     offset,
                             uint64_t     datalen,
                             void        *user_data,
                             void        *stream_user_data)
{
  PinholeQuicPath *self = user_data;
  GBytes *head;

  /* ngtcp2 reports acknowledged stream data in order, without gaps */
  self->acked = MAX (self->acked, offset + datalen);
  while ((head = g_queue_peek_head (&self->frames)) != NULL &&
         self->head_offset + g_bytes_get_size (head) <= self->acked &&
         self->frames.head != self->cursor)
    {
      self->head_offset += g_bytes_get_size (head);
      g_bytes_unref (g_queue_pop_head (&self->frames));
    }
  return 0;
}

static int
stream_close_cb (ngtcp2_conn *conn,
                 uint32_t     flags,
                 int64_t      stream_id,
                 uint64_t     app_error_code,
                 void        *user_data,
                 void        *stream_user_data)
{
  PinholeQuicPath *self = user_data;

  if (stream_id == self->stream_id)
    fail_in_callback (self, PINHOLE_ERROR_CLOSED, "the peer closed the QUIC stream");
  return 0;
}

static void
fill_callbacks (ngtcp2_callbacks *callbacks,
                gboolean          client)
{
  memset (callbacks, 0, sizeof *callbacks);
  if (client)
    {
      callbacks->client_initial = ngtcp2_crypto_client_initial_cb;
      callbacks->recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
  else
    callbacks->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  callbacks->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  callbacks->encrypt = ngtcp2_crypto_encrypt_cb;
  callbacks->decrypt = ngtcp2_crypto_decrypt_cb;
  callbacks->hp_mask = ngtcp2_crypto_hp_mask_cb;
  callbacks->update_key = ngtcp2_crypto_update_key_cb;
  callbacks->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  callbacks->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  callbacks->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  callbacks->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  callbacks->rand = rand_cb;
  callbacks->get_new_connection_id = get_new_connection_id_cb;
  callbacks->handshake_completed = handshake_completed_cb;
  callbacks->handshake_confirmed = handshake_confirmed_cb;
  callbacks->stream_open = stream_open_cb;
  callbacks->recv_stream_data = recv_stream_data_cb;
  callbacks->acked_stream_data_offset = acked_stream_data_offset_cb;
  callbacks->stream_close = stream_close_cb;
}

/* ---- making the connection ---- */

static void
fill_settings (PinholeQuicPath        *self,
               ngtcp2_settings        *settings,
               ngtcp2_transport_params *params)
{
  ngtcp2_settings_default (settings);
  settings->initial_ts = now_ts ();
  settings->cc_algo = NGTCP2_CC_ALGO_CUBIC;
  settings->max_stream_window = MAX_STREAM_WINDOW;
  settings->max_window = MAX_WINDOW;
  settings->handshake_timeout = PINHOLE_QUIC_PATH_HANDSHAKE_TIMEOUT_MS * NGTCP2_MILLISECONDS;

  ngtcp2_transport_params_default (params);
  params->initial_max_stream_data_bidi_local = INITIAL_STREAM_WINDOW;
  params->initial_max_stream_data_bidi_remote = INITIAL_STREAM_WINDOW;
  params->initial_max_data = INITIAL_WINDOW;
  /* one stream, the client's */
  params->initial_max_streams_bidi = self->initiator ? 0 : 1;
  params->initial_max_streams_uni = 0;
  params->max_idle_timeout = PINHOLE_QUIC_PATH_IDLE_TIMEOUT_MS * NGTCP2_MILLISECONDS;
  /* the peer must keep the fixed bit (RFC 9287 would let it clear it): it is what tells
   * QUIC from STUN on the shared socket */
  params->grease_quic_bit = 0;
}

static gboolean
new_conn (PinholeQuicPath   *self,
          const ngtcp2_cid  *dcid,
          const ngtcp2_cid  *original_dcid,
          uint32_t           version,
          GError           **error)
{
  ngtcp2_callbacks callbacks;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  int rv;

  fill_callbacks (&callbacks, self->initiator);
  fill_settings (self, &settings, &params);
  scid.datalen = CID_LEN;
  if (!random_cid (scid.data, CID_LEN))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                           "QUIC: no random connection id");
      return FALSE;
    }
  if (self->initiator)
    rv = ngtcp2_conn_client_new (&self->conn, dcid, &scid, &self->path, version, &callbacks,
                                 &settings, &params, NULL, self);
  else
    {
      params.original_dcid = *original_dcid;
      rv = ngtcp2_conn_server_new (&self->conn, dcid, &scid, &self->path, version, &callbacks,
                                   &settings, &params, NULL, self);
    }
  if (rv != 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "QUIC: %s", ngtcp2_strerror (rv));
      return FALSE;
    }
  ngtcp2_conn_set_keep_alive_timeout (self->conn,
                                      PINHOLE_QUIC_PATH_KEEPALIVE_MS * NGTCP2_MILLISECONDS);
  return setup_tls (self, error);
}

/* ---- sending datagrams ---- */

/* TRUE when the socket took the datagram or lost it; FALSE when it had no room */
static gboolean
send_datagram (PinholeQuicPath *self,
               const guint8    *data,
               gsize            len)
{
  GOutputVector vector = { data, len };
  g_autoptr(GError) error = NULL;
  GPollableReturn res;

  /* the socket is shared and may be blocking: a zero timeout never waits */
  res = g_socket_send_message_with_timeout (self->socket, self->remote_addr, &vector, 1, NULL, 0,
                                            G_SOCKET_MSG_NONE, 0, NULL, NULL, &error);
  if (res == G_POLLABLE_RETURN_WOULD_BLOCK)
    return FALSE;
  /* a datagram lost here is recovered like one lost on the way */
  if (res == G_POLLABLE_RETURN_FAILED)
    g_debug ("%s: send failed: %s", self->base.remote, error->message);
  return TRUE;
}

static gboolean
writable_cb (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  PinholeQuicPath *self = user_data;
  g_autoptr(PinholeQuicPath) hold G_GNUC_UNUSED = g_object_ref (self);

  pump (self);
  return G_SOURCE_CONTINUE;
}

/* the packet the socket refused last time; FALSE while it still has no room */
static gboolean
flush_blocked (PinholeQuicPath *self)
{
  if (self->blocked_len == 0)
    return TRUE;
  if (!send_datagram (self, self->blocked, self->blocked_len))
    {
      if (self->writable == NULL)
        {
          self->writable = g_socket_create_source (self->socket, G_IO_OUT, NULL);
          g_source_set_callback (self->writable, G_SOURCE_FUNC (writable_cb), self, NULL);
          g_source_set_static_name (self->writable, "pinhole-quic-path writable");
          g_source_attach (self->writable, g_main_context_get_thread_default ());
        }
      return FALSE;
    }
  self->blocked_len = 0;
  if (self->writable != NULL)
    {
      g_source_destroy (self->writable);
      g_clear_pointer (&self->writable, g_source_unref);
    }
  return TRUE;
}

/* tells the peer the connection is over, once; nothing when it is closing already */
static void
send_close (PinholeQuicPath                     *self,
            const ngtcp2_connection_close_error *ccerr)
{
  guint8 buf[TX_BUFFER];
  ngtcp2_ssize n;

  if (self->conn == NULL || ngtcp2_conn_is_in_closing_period (self->conn) ||
      ngtcp2_conn_is_in_draining_period (self->conn))
    return;
  n = ngtcp2_conn_write_connection_close (self->conn, NULL, NULL, buf, sizeof buf, ccerr,
                                          now_ts ());
  if (n > 0)
    send_datagram (self, buf, (gsize) n);
}

/* ---- the stream ---- */

/* up to MAX_VECS pieces of the frames from offset submitted, at most @limit bytes */
static gsize
unsent_vecs (PinholeQuicPath *self,
             ngtcp2_vec      *vecs,
             guint64          limit)
{
  gsize n = 0;
  guint64 offset = self->cursor_offset;
  guint64 total = 0;

  for (GList *l = self->cursor; l != NULL && n < MAX_VECS && total < limit; l = l->next)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (l->data, &size);
      guint64 skip = self->submitted > offset ? self->submitted - offset : 0;
      guint64 len = MIN ((guint64) size - skip, limit - total);

      vecs[n].base = (uint8_t *) data + skip;
      vecs[n].len = (size_t) len;
      n++;
      total += len;
      offset += size;
    }
  return n;
}

static void
advance_submitted (PinholeQuicPath *self,
                   guint64          n)
{
  self->submitted += n;
  self->base.queued -= (gsize) n;
  while (self->cursor != NULL &&
         self->cursor_offset + g_bytes_get_size (self->cursor->data) <= self->submitted)
    {
      self->cursor_offset += g_bytes_get_size (self->cursor->data);
      self->cursor = self->cursor->next;
    }
}

static void
close_with_liberr (PinholeQuicPath *self,
                   int              liberr,
                   const char      *what)
{
  g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "QUIC %s: %s",
                                         what, ngtcp2_strerror (liberr));
  ngtcp2_connection_close_error ccerr;

  ngtcp2_connection_close_error_default (&ccerr);
  ngtcp2_connection_close_error_set_transport_error_liberr (&ccerr, liberr, NULL, 0);
  send_close (self, &ccerr);
  _pinhole_path_stream_close (&self->base, error);
}

/* writes what ngtcp2 has to send: stream data, ACKs, retransmissions, PINGs.
 * Returns: FALSE when it stopped only because of MAX_PACKETS_PER_WRITE */
static gboolean
write_packets (PinholeQuicPath *self)
{
  guint8 buf[TX_BUFFER];
  ngtcp2_tstamp ts = now_ts ();

  if (!flush_blocked (self))
    return TRUE;
  for (guint i = 0; i < MAX_PACKETS_PER_WRITE; i++)
    {
      ngtcp2_vec vecs[MAX_VECS];
      gsize nvecs = 0;
      int64_t stream_id = -1;
      ngtcp2_ssize datalen = -1, n;

      if (self->stream_id >= 0)
        {
          guint64 room = PINHOLE_QUIC_PATH_MAX_UNACKED - (self->submitted - self->acked);
          guint64 window = MIN (ngtcp2_conn_get_max_stream_data_left (self->conn,
                                                                      self->stream_id),
                                ngtcp2_conn_get_max_data_left (self->conn));

          room = MIN (room, window);
          if (self->cursor != NULL && room > 0)
            nvecs = unsent_vecs (self, vecs, room);
          /* the client's first frame, even an empty one, tells the server of the stream */
          if (nvecs > 0 || (self->initiator && !self->stream_announced))
            stream_id = self->stream_id;
        }
      n = ngtcp2_conn_writev_stream (self->conn, NULL, NULL, buf, sizeof buf, &datalen,
                                     NGTCP2_WRITE_STREAM_FLAG_NONE, stream_id, vecs, nvecs, ts);
      if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED)
        n = ngtcp2_conn_writev_stream (self->conn, NULL, NULL, buf, sizeof buf, &datalen,
                                       NGTCP2_WRITE_STREAM_FLAG_NONE, -1, NULL, 0, ts);
      if (n < 0)
        {
          close_with_liberr (self, (int) n, "write");
          return TRUE;
        }
      if (datalen >= 0 && stream_id >= 0)
        {
          self->stream_announced = TRUE;
          advance_submitted (self, (guint64) datalen);
        }
      if (n == 0)
        break;
      if (!send_datagram (self, buf, (gsize) n))
        {
          memcpy (self->blocked, buf, (gsize) n);
          self->blocked_len = (gsize) n;
          flush_blocked (self);
          break;
        }
      if (i + 1 == MAX_PACKETS_PER_WRITE)
        {
          ngtcp2_conn_update_pkt_tx_time (self->conn, ts);
          return FALSE;
        }
    }
  ngtcp2_conn_update_pkt_tx_time (self->conn, ts);
  return TRUE;
}

/* ---- the pump ---- */

static void
schedule_timer (PinholeQuicPath *self)
{
  ngtcp2_tstamp expiry;

  if (self->base.closed || self->conn == NULL)
    {
      g_source_set_ready_time (self->timer, -1);
      return;
    }
  expiry = ngtcp2_conn_get_expiry (self->conn);
  if (expiry == UINT64_MAX)
    g_source_set_ready_time (self->timer, -1);
  else
    g_source_set_ready_time (self->timer, (gint64) (expiry / NGTCP2_MICROSECONDS));
}

static void
shut_down (PinholePath *path)
{
  PinholeQuicPath *self = PINHOLE_QUIC_PATH (path);

  self->base.closed = TRUE;
  g_queue_clear_full (&self->frames, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&self->inbox, (GDestroyNotify) g_bytes_unref);
  self->cursor = NULL;
  self->base.queued = 0;
  g_source_set_ready_time (self->timer, -1);
  if (self->writable != NULL)
    {
      g_source_destroy (self->writable);
      g_clear_pointer (&self->writable, g_source_unref);
    }
}

/* the error a failed ngtcp2 call leaves: from a callback, the TLS stack or the peer */
static void
close_after (PinholeQuicPath *self,
             int              liberr)
{
  g_autoptr(GError) error = g_steal_pointer (&self->error);
  ngtcp2_connection_close_error ccerr;

  ngtcp2_connection_close_error_default (&ccerr);
  if (liberr == NGTCP2_ERR_DRAINING)
    {
      const ngtcp2_connection_close_error *peer = NULL;
      ngtcp2_connection_close_error received;

      ngtcp2_conn_get_connection_close_error (self->conn, &received);
      peer = &received;
      if (error != NULL)
        ;
      else if (peer->type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
               (peer->error_code & 0xff00) == NGTCP2_CRYPTO_ERROR)
        error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE,
                             "the peer refused the QUIC handshake (TLS alert %u): it did not "
                             "take this end's certificate",
                             (guint) (peer->error_code & 0xff));
      else if (peer->error_code == 0)
        error = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                     "the peer closed the QUIC path");
      else
        error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                             "the peer closed the QUIC path with error 0x%" G_GINT64_MODIFIER "x",
                             (guint64) peer->error_code);
    }
  else if (self->refusal != NULL)
    {
      ngtcp2_connection_close_error_set_transport_error_tls_alert (
        &ccerr, ngtcp2_conn_get_tls_alert (self->conn), NULL, 0);
      send_close (self, &ccerr);
      g_clear_error (&error);
      error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE,
                           "QUIC handshake refused: %s", self->refusal);
    }
  else if (liberr == NGTCP2_ERR_IDLE_CLOSE)
    error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                         "no packet from the peer for %d ms", PINHOLE_QUIC_PATH_IDLE_TIMEOUT_MS);
  else if (liberr == NGTCP2_ERR_HANDSHAKE_TIMEOUT)
    error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                         "no QUIC handshake within %d ms", PINHOLE_QUIC_PATH_HANDSHAKE_TIMEOUT_MS);
  else if (liberr == NGTCP2_ERR_CRYPTO)
    {
      ngtcp2_connection_close_error_set_transport_error_tls_alert (
        &ccerr, ngtcp2_conn_get_tls_alert (self->conn), NULL, 0);
      send_close (self, &ccerr);
      if (error == NULL)
        error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE,
                             "the QUIC handshake failed (TLS alert %u)",
                             ngtcp2_conn_get_tls_alert (self->conn));
    }
  else
    {
      if (error != NULL && error->code == PINHOLE_ERROR_CLOSED)
        ngtcp2_connection_close_error_set_application_error (&ccerr, 0, NULL, 0);
      else
        ngtcp2_connection_close_error_set_transport_error_liberr (&ccerr, liberr, NULL, 0);
      send_close (self, &ccerr);
      if (error == NULL)
        error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "QUIC: %s",
                             ngtcp2_strerror (liberr));
    }
  _pinhole_path_stream_close (&self->base, error);
}

/* acts on whatever the last call into ngtcp2 changed: the handshake, the stream, packets
 * read, packets to write, the next timer */
static void
pump (PinholeQuicPath *self)
{
  g_autoptr(PinholeQuicPath) hold G_GNUC_UNUSED = NULL;
  guint rounds = 0;
  gboolean more = FALSE;

  if (self->pumping)
    {
      self->pump_again = TRUE;
      return;
    }
  if (self->conn == NULL || self->base.closed)
    return;
  hold = g_object_ref (self);
  self->pumping = TRUE;
  do
    {
      GBytes *packet;

      self->pump_again = FALSE;
      if (self->handshake_done && self->initiator && self->stream_id < 0)
        {
          int rv = ngtcp2_conn_open_bidi_stream (self->conn, &self->stream_id, NULL);

          if (rv != 0)
            {
              close_with_liberr (self, rv, "stream");
              break;
            }
        }
      if (self->handshake_done && !self->connected)
        {
          self->connected = TRUE;
          g_debug ("%s: connected", self->base.remote);
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
        }
      more = !self->base.closed && !write_packets (self);
      while (!self->base.closed && (packet = g_queue_pop_head (&self->inbox)) != NULL)
        {
          pinhole_path_emit_received (PINHOLE_PATH (self), packet);
          g_bytes_unref (packet);
        }
      if (self->peer_finished && !self->base.closed)
        {
          g_autoptr(GError) error = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                                         "the peer ended the QUIC stream");
          _pinhole_path_stream_close (&self->base, error);
        }
    }
  while ((self->pump_again || more) && !self->base.closed && ++rounds < MAX_PUMP_ROUNDS);
  self->pumping = FALSE;
  if ((self->pump_again || more) && !self->base.closed)
    g_source_set_ready_time (self->timer, 0);   /* finish in the next iteration */
  else
    schedule_timer (self);
  if (self->drain_wanted && !self->sending && self->base.queued == 0 && !self->base.closed)
    {
      self->drain_wanted = FALSE;
      pinhole_path_emit_drained (PINHOLE_PATH (self));
    }
}

static gboolean
timer_cb (gpointer user_data)
{
  PinholeQuicPath *self = user_data;
  g_autoptr(PinholeQuicPath) hold G_GNUC_UNUSED = g_object_ref (self);
  int rv;

  if (self->base.closed)
    return G_SOURCE_CONTINUE;
  if (self->conn == NULL)
    {
      /* pinhole_quic_path_new() could not start the connection */
      if (self->error != NULL)
        {
          g_autoptr(GError) error = g_steal_pointer (&self->error);

          _pinhole_path_stream_close (&self->base, error);
        }
      return G_SOURCE_CONTINUE;
    }
  rv = ngtcp2_conn_handle_expiry (self->conn, now_ts ());
  if (rv != 0)
    close_after (self, rv);
  else
    pump (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
timer_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs timer_funcs = { NULL, NULL, timer_dispatch, NULL, NULL, NULL };

/* ---- PinholePath ---- */

static gboolean
quic_send (PinholePath *path,
           GBytes      *packet,
           GError     **error)
{
  PinholeQuicPath *self = PINHOLE_QUIC_PATH (path);
  gsize len = g_bytes_get_size (packet);
  guint8 *frame;

  if (!_pinhole_path_stream_reserve (&self->base, len, error))
    return FALSE;
  frame = g_malloc (FRAME_HEADER + len);
  pinhole_path_frame_header_put (frame, (guint32) len);
  if (len > 0)
    memcpy (frame + FRAME_HEADER, g_bytes_get_data (packet, NULL), len);
  g_queue_push_tail (&self->frames, g_bytes_new_take (frame, FRAME_HEADER + len));
  if (self->cursor == NULL)
    {
      self->cursor = self->frames.tail;
      self->cursor_offset = self->submitted;
    }
  self->sending = TRUE;
  pump (self);
  self->sending = FALSE;
  if (self->base.queued > 0)
    self->drain_wanted = TRUE;
  return TRUE;
}

static PinholePathKind
quic_get_kind (PinholePath *path)
{
  return PINHOLE_QUIC_PATH (path)->base.kind;
}

static void
quic_set_kind (PinholePath     *path,
               PinholePathKind  kind)
{
  PINHOLE_QUIC_PATH (path)->base.kind = kind;
}

static const char *
quic_get_remote (PinholePath *path)
{
  return PINHOLE_QUIC_PATH (path)->base.remote;
}

static void
quic_close (PinholePath *path)
{
  PinholeQuicPath *self = PINHOLE_QUIC_PATH (path);
  ngtcp2_connection_close_error ccerr;

  if (self->base.closed)
    return;
  /* the peer learns at once instead of after its idle timeout */
  ngtcp2_connection_close_error_default (&ccerr);
  ngtcp2_connection_close_error_set_application_error (&ccerr, 0, NULL, 0);
  send_close (self, &ccerr);
  _pinhole_path_stream_close (&self->base, NULL);
}

static gsize
quic_get_queued_bytes (PinholePath *path)
{
  return PINHOLE_QUIC_PATH (path)->base.queued;
}

static void
pinhole_quic_path_iface_init (PinholePathInterface *iface)
{
  iface->send = quic_send;
  iface->get_kind = quic_get_kind;
  iface->set_kind = quic_set_kind;
  iface->get_remote = quic_get_remote;
  iface->close = quic_close;
  iface->get_queued_bytes = quic_get_queued_bytes;
}

/* ---- GObject ---- */

static void
pinhole_quic_path_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  PinholeQuicPath *self = PINHOLE_QUIC_PATH (object);

  switch (prop_id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_quic_path_dispose (GObject *object)
{
  PinholeQuicPath *self = PINHOLE_QUIC_PATH (object);

  if (!self->base.closed && self->timer != NULL)
    quic_close (PINHOLE_PATH (self));
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (self->writable != NULL)
    {
      g_source_destroy (self->writable);
      g_clear_pointer (&self->writable, g_source_unref);
    }
  g_clear_pointer (&self->conn, ngtcp2_conn_del);
  g_clear_pointer (&self->tls, gnutls_deinit);
  g_clear_object (&self->socket);
  g_clear_object (&self->remote_addr);
  g_clear_object (&self->certificate);
  g_queue_clear_full (&self->frames, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&self->inbox, (GDestroyNotify) g_bytes_unref);
  self->cursor = NULL;
  G_OBJECT_CLASS (pinhole_quic_path_parent_class)->dispose (object);
}

static void
pinhole_quic_path_finalize (GObject *object)
{
  PinholeQuicPath *self = PINHOLE_QUIC_PATH (object);

  g_clear_error (&self->error);
  g_free (self->refusal);
  g_free (self->peer_fingerprint);
  g_free (self->rbuf);
  g_free (self->blocked);
  _pinhole_path_stream_clear (&self->base);
  G_OBJECT_CLASS (pinhole_quic_path_parent_class)->finalize (object);
}

static void
pinhole_quic_path_class_init (PinholeQuicPathClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = pinhole_quic_path_get_property;
  object_class->dispose = pinhole_quic_path_dispose;
  object_class->finalize = pinhole_quic_path_finalize;

  /**
   * PinholeQuicPath:connected:
   * Whether the QUIC handshake completed with the pinned certificates on both ends.
   */
  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pinhole_quic_path_init (PinholeQuicPath *self)
{
  _pinhole_path_stream_init (&self->base, PINHOLE_PATH (self), G_LOG_DOMAIN, "QUIC",
                             PINHOLE_QUIC_PATH_MAX_QUEUED, shut_down);
  g_queue_init (&self->frames);
  g_queue_init (&self->inbox);
  self->rbuf = g_malloc (FRAME_HEADER + PINHOLE_PATH_MAX_PACKET);
  self->blocked = g_malloc (TX_BUFFER);
  self->stream_id = -1;
  self->conn_ref.get_conn = get_conn_cb;
  self->conn_ref.user_data = self;
}

static gboolean
to_native (GSocketAddress          *address,
           struct sockaddr_storage *out,
           ngtcp2_addr             *addr)
{
  gssize len = g_socket_address_get_native_size (address);

  if (len <= 0 || (gsize) len > sizeof *out ||
      !g_socket_address_to_native (address, out, sizeof *out, NULL))
    return FALSE;
  ngtcp2_addr_init (addr, (ngtcp2_sockaddr *) out, (ngtcp2_socklen) len);
  return TRUE;
}

/**
 * pinhole_quic_path_new:
 * @socket: a bound UDP socket; the path sends on it but never reads it or closes it
 * @remote: the peer's address
 * @kind: how the address was found
 * @initiator: whether this end is the QUIC client; the other end must not be
 * @certificate: what this end shows in the handshake (its fingerprint went to the peer)
 * @peer_fingerprint: the peer's certificate fingerprint as the session delivered it
 *   (pinhole_quic_certificate_get_fingerprint() on the peer)
 *
 * The path runs on the thread-default main context. The socket's owner hands it every
 * datagram from @remote that pinhole_quic_path_claims() with pinhole_quic_path_receive().
 * A path that cannot start (GnuTLS or ngtcp2 refused) is closed from the next main-loop
 * iteration on, with its error in ::closed.
 *
 * Returns: (transfer full): the path
 */
PinholeQuicPath *
pinhole_quic_path_new (GSocket                *socket,
                       GSocketAddress         *remote,
                       PinholePathKind         kind,
                       gboolean                initiator,
                       PinholeQuicCertificate *certificate,
                       const char             *peer_fingerprint)
{
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GError) error = NULL;
  PinholeQuicPath *self;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (remote), NULL);
  g_return_val_if_fail (kind <= PINHOLE_PATH_KIND_RELAY, NULL);
  g_return_val_if_fail (PINHOLE_IS_QUIC_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (peer_fingerprint != NULL, NULL);

  self = g_object_new (PINHOLE_TYPE_QUIC_PATH, NULL);
  self->socket = g_object_ref (socket);
  self->remote_addr = g_object_ref (remote);
  self->certificate = g_object_ref (certificate);
  self->peer_fingerprint = g_strdup (peer_fingerprint);
  self->initiator = initiator;
  self->base.kind = kind;
  self->base.remote = pinhole_socket_address_to_string (remote);

  self->timer = g_source_new (&timer_funcs, sizeof (GSource));
  g_source_set_callback (self->timer, timer_cb, self, NULL);
  g_source_set_static_name (self->timer, "pinhole-quic-path timer");
  g_source_attach (self->timer, g_main_context_get_thread_default ());

  local = g_socket_get_local_address (socket, &error);
  if (local == NULL || !to_native (local, &self->local_sa, &self->path.local) ||
      !to_native (remote, &self->remote_sa, &self->path.remote))
    {
      if (error == NULL)
        error = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                                     "QUIC: the socket's addresses are not IP addresses");
    }
  else if (initiator)
    {
      ngtcp2_cid dcid;

      dcid.datalen = CID_LEN;
      gnutls_rnd (GNUTLS_RND_RANDOM, dcid.data, CID_LEN);
      new_conn (self, &dcid, NULL, NGTCP2_PROTO_VER_V1, &error);
    }
  if (error != NULL)
    {
      /* timer_cb reports it from the main loop, when the caller has connected ::closed */
      self->error = g_steal_pointer (&error);
      g_source_set_ready_time (self->timer, 0);
      return self;
    }
  pump (self);
  return self;
}

/**
 * pinhole_quic_path_receive:
 * @data: one datagram from the path's remote address that pinhole_quic_path_claims()
 *
 * Datagrams that are not QUIC packets of this connection are ignored.
 */
void
pinhole_quic_path_receive (PinholeQuicPath *self,
                           const guint8    *data,
                           gsize            len)
{
  g_autoptr(PinholeQuicPath) hold G_GNUC_UNUSED = NULL;
  ngtcp2_pkt_info pi = { 0 };
  int rv;

  g_return_if_fail (PINHOLE_IS_QUIC_PATH (self));
  g_return_if_fail (data != NULL || len == 0);

  if (self->base.closed || len == 0)
    return;
  hold = g_object_ref (self);
  if (self->conn == NULL)
    {
      ngtcp2_pkt_hd hd;
      g_autoptr(GError) error = NULL;

      /* the server: only a client's Initial starts the connection */
      if (self->initiator || ngtcp2_accept (&hd, data, len) != 0)
        return;
      if (!new_conn (self, &hd.scid, &hd.dcid, hd.version, &error))
        {
          _pinhole_path_stream_close (&self->base, error);
          return;
        }
    }
  rv = ngtcp2_conn_read_pkt (self->conn, &self->path, &pi, data, len, now_ts ());
  if (rv != 0)
    {
      close_after (self, rv);
      return;
    }
  pump (self);
}

gboolean
pinhole_quic_path_is_connected (PinholeQuicPath *self)
{
  g_return_val_if_fail (PINHOLE_IS_QUIC_PATH (self), FALSE);
  return self->connected;
}
