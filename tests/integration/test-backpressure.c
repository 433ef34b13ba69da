/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-backpressure.c: what a real pinhole-server holds for clients that send and do not
 * read, or send messages that never end (issue 12, items 1 and 2): a relay reader that never
 * reads, tiny requests before log-in whose answers are never read, and a text message in
 * fragments that never finish. Raw WebSocket clients on blocking sockets do what libsoup's
 * client would not (stop reading, fragment); each case measures the server's VmRSS, requires
 * the offender closed for the stated reason, and then two honest clients on the same server
 * still log in and relay. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-peer.h"
#include "pinhole-test-model.h"
#include "pinhole-contact.h"
#include "pinhole-conversation.h"
#include "pinhole-device.h"
#include "pinhole-session-private.h"

#include <signal.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#define RSS_BOUND_KIB   (64 * 1024)   /* what a flood may add to the server's VmRSS */
#define STALL_TIMEOUT_S 2             /* --stall-timeout */

/* ---- the server's memory ---- */

static guint64
server_rss_kib (PhServer *server)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", ph_proc_get_pid (server->proc));
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents (path, &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line != NULL ? g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

/* ---- a raw WebSocket client on a blocking socket ---- */

/* Returns: (transfer full) (nullable): @len bytes of JSON as an object */
static JsonObject *
parse_object (const char *text,
              gsize       len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, text, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

typedef struct
{
  GSocket    *socket;
  GByteArray *in;
  guint       serial;
} Raw;

static void
raw_free (Raw *r)
{
  g_clear_object (&r->socket);
  g_byte_array_unref (r->in);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Raw, raw_free)

/* Returns: whether all of @len bytes went out (FALSE: the server closed or reset) */
static gboolean
raw_write (Raw          *r,
           const guint8 *data,
           gsize         len)
{
  while (len > 0)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_send_with_blocking (r->socket, (const char *) data, len, TRUE, NULL,
                                              &error);
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
    }
  return TRUE;
}

/* one client frame, masked as RFC 6455 §5.3 requires */
static gboolean
raw_send_frame (Raw          *r,
                guint8        opcode,
                gboolean      fin,
                const guint8 *payload,
                gsize         len)
{
  g_autoptr(GByteArray) f = g_byte_array_sized_new (len + 14);
  guint8 h[14];
  guint n = 0;
  const guint8 mask[4] = { 0x12, 0x34, 0x56, 0x78 };

  h[n++] = (fin ? 0x80 : 0) | opcode;
  if (len < 126)
    h[n++] = 0x80 | len;
  else if (len < 65536)
    {
      h[n++] = 0x80 | 126;
      h[n++] = len >> 8;
      h[n++] = len;
    }
  else
    {
      h[n++] = 0x80 | 127;
      for (int i = 7; i >= 0; i--)
        h[n++] = (guint64) len >> (8 * i);
    }
  memcpy (h + n, mask, 4);
  n += 4;
  g_byte_array_append (f, h, n);
  g_byte_array_set_size (f, n + len);
  for (gsize i = 0; i < len; i++)
    f->data[n + i] = payload[i] ^ mask[i & 3];
  return raw_write (r, f->data, f->len);
}

static gboolean
raw_send_text (Raw        *r,
               const char *text)
{
  return raw_send_frame (r, 0x1, TRUE, (const guint8 *) text, strlen (text));
}

/* reads more into r->in within @timeout_ms; Returns: FALSE at the end of the stream */
static gboolean
raw_read_more (Raw  *r,
               guint timeout_ms)
{
  struct pollfd p = { .fd = g_socket_get_fd (r->socket), .events = POLLIN };
  guint8 buf[65536];
  gssize n;

  if (poll (&p, 1, (int) timeout_ms) <= 0)
    return TRUE;
  n = recv (p.fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
    return FALSE;
  if (n > 0)
    g_byte_array_append (r->in, buf, n);
  return TRUE;
}

/* the next whole server frame from r->in: Returns: its opcode, or -1 when none is whole */
static int
raw_take_frame (Raw    *r,
                GBytes **payload)
{
  const guint8 *d = r->in->data;
  gsize have = r->in->len, at = 2;
  guint64 len;
  int opcode;

  if (have < 2)
    return -1;
  len = d[1] & 0x7f;
  if (len == 126)
    {
      if (have < 4)
        return -1;
      len = (guint64) d[2] << 8 | d[3];
      at = 4;
    }
  else if (len == 127)
    {
      if (have < 10)
        return -1;
      len = 0;
      for (int i = 2; i < 10; i++)
        len = len << 8 | d[i];
      at = 10;
    }
  if (have - at < len)
    return -1;
  opcode = d[0] & 0x0f;
  *payload = g_bytes_new (d + at, len);
  g_byte_array_remove_range (r->in, 0, at + len);
  return opcode;
}

/* the server's close frame or the end of the stream within @timeout_ms, reading (and
 * dropping) everything before it; Returns: the close code, 1006 for a stream that just
 * ended, or 0 if it is still open */
static guint
raw_wait_closed (Raw  *r,
                 guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GBytes) payload = NULL;
      int opcode;

      while ((opcode = raw_take_frame (r, &payload)) >= 0)
        {
          if (opcode == 0x8)
            {
              gsize len;
              const guint8 *p = g_bytes_get_data (payload, &len);

              return len >= 2 ? (guint) (p[0] << 8 | p[1]) : 1005;
            }
          g_clear_pointer (&payload, g_bytes_unref);
        }
      if (!raw_read_more (r, 100))
        return 1006;
    }
  return 0;
}

/* a WebSocket to the server at @port, upgraded, asking with @extra headers (each ending in
 * CRLF); @response: (out) (optional): the server's answer head; Returns: (transfer full) */
static Raw *
raw_connect_full (guint16     port,
                  const char *extra,
                  char      **response)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) ip = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new (ip, port);
  g_autoptr(Raw) r = g_new0 (Raw, 1);
  g_autofree char *request = g_strdup_printf (
    "GET /pinhole HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: pinhole-1\r\n%s\r\n", port,
    extra);
  gint64 deadline = g_get_monotonic_time () + PH_EVENT_MS * 1000;
  const char *end;

  r->in = g_byte_array_new ();
  r->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                            &error);
  g_assert_no_error (error);
  g_socket_connect (r->socket, to, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (r->socket, 10);
  g_assert_true (raw_write (r, (const guint8 *) request, strlen (request)));
  while (r->in->len == 0 ||
         (end = g_strstr_len ((const char *) r->in->data, r->in->len, "\r\n\r\n")) == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_assert_true (raw_read_more (r, 100));
    }
  g_assert_true (g_str_has_prefix ((const char *) r->in->data, "HTTP/1.1 101"));
  if (response != NULL)
    *response = g_strndup ((const char *) r->in->data, end + 4 - (const char *) r->in->data);
  g_byte_array_remove_range (r->in, 0, end + 4 - (const char *) r->in->data);
  return g_steal_pointer (&r);
}

static Raw *
raw_connect (guint16 port)
{
  return raw_connect_full (port, "", NULL);
}

/* sends a request (the members of @fields and an id) and reads until its answer;
 * Returns: (transfer full): the answer */
static JsonObject *
raw_call (Raw        *r,
          const char *fields)
{
  g_autofree char *id = g_strdup_printf ("raw-%u", ++r->serial);
  g_autofree char *text = g_strdup_printf ("{%s,\"id\":\"%s\"}", fields, id);
  gint64 deadline = g_get_monotonic_time () + PH_EVENT_MS * 1000;

  g_assert_true (raw_send_text (r, text));
  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GBytes) payload = NULL;

      while (raw_take_frame (r, &payload) == 0x1)
        {
          gsize len;
          const char *data = g_bytes_get_data (payload, &len);
          g_autoptr(JsonObject) o = parse_object (data, len);

          if (o != NULL && g_strcmp0 (ph_json_get_string (o, "id"), id) == 0)
            return g_steal_pointer (&o);
          g_clear_pointer (&payload, g_bytes_unref);
        }
      g_clear_pointer (&payload, g_bytes_unref);
      g_assert_true (raw_read_more (r, 100));
    }
  g_assert_not_reached ();
}

/* on @r: the challenge signed with @secret_key as @user's @device (docs/protocol.md §4) */
static char *
raw_proof (Raw          *r,
           const guint8 *secret_key,
           const char   *user,
           const char   *device)
{
  g_autoptr(JsonObject) reply = raw_call (r, "\"type\":\"challenge\"");
  const char *nonce64 = ph_json_get_string (reply, "nonce");

  g_assert_nonnull (nonce64);
  return ph_login_proof_sign (secret_key, nonce64, user, device);
}

/* @p's device logged in on a raw connection with its token */
static Raw *
raw_login (PhServer *server,
           PhPeer   *p)
{
  g_autoptr(Raw) r = raw_connect (server->port);
  g_autofree char *proof = raw_proof (r, p->secret_key, p->user, p->device);
  g_autofree char *fields = g_strdup_printf (
    "\"type\":\"login\",\"user\":\"%s\",\"device\":\"%s\",\"device_key\":\"%s\","
    "\"proof\":\"%s\",\"token\":\"%s\"", p->user, p->device, p->key64, proof, p->token);
  g_autoptr(JsonObject) reply = raw_call (r, fields);

  g_assert_cmpstr (ph_json_get_string (reply, "type"), ==, "result");
  return g_steal_pointer (&r);
}

/* ---- the fixture ---- */

typedef struct
{
  PhServer *server;
  guint64   rss_before;
  guint64   rss_max;
} Fixture;

static void
fixture_setup (Fixture      *f,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char *args[] = { "--stall-timeout", G_STRINGIFY (STALL_TIMEOUT_S), NULL };

  f->server = ph_server_start_with (args, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  if (f->server != NULL && g_test_failed ())
    {
      g_autofree char *log = ph_server_dup_log (f->server);

      g_test_message ("server log:\n%s", log);
    }
  g_clear_pointer (&f->server, ph_server_free);
}

static void
sample_rss (Fixture *f)
{
  f->rss_max = MAX (f->rss_max, server_rss_kib (f->server));
}

static void
expect_rss_bounded (Fixture    *f,
                    const char *what)
{
  sample_rss (f);
  g_test_message ("%s: server VmRSS %" G_GUINT64_FORMAT " KiB before, at most %"
                  G_GUINT64_FORMAT " KiB during", what, f->rss_before, f->rss_max);
  g_assert_cmpuint (f->rss_max, <, f->rss_before + RSS_BOUND_KIB);
}

/* two honest clients who never met log in, befriend and relay a frame on the same server */
static void
expect_honest_clients_served (Fixture *f)
{
  g_autoptr(PhPeer) carol = ph_peer_new (f->server->url, "carol");
  g_autoptr(PhPeer) dave = ph_peer_new (f->server->url, "dave");
  guint32 channel;

  g_assert_true (ph_peer_register (carol));
  g_assert_true (ph_peer_register (dave));
  ph_peer_befriend (carol, dave);
  channel = ph_peer_open_channel (carol, dave);
  ph_peer_expect_frame (carol, dave, channel);
  ph_peer_expect_frame (dave, carol, channel);
}

/* the server's log, once it stopped, has a line with @who and @why */
static void
expect_logged (Fixture    *f,
               const char *who,
               const char *why)
{
  g_autofree char *log = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean found = FALSE;

  g_assert_true (ph_server_stop (f->server, NULL));
  log = ph_server_dup_log (f->server);
  lines = g_strsplit (log, "\n", -1);
  for (guint i = 0; lines[i] != NULL && !found; i++)
    found = strstr (lines[i], who) != NULL && strstr (lines[i], why) != NULL;
  if (!found)
    g_test_message ("no line with \"%s\" and \"%s\" in the server log:\n%s", who, why, log);
  g_assert_true (found);
}

/* ---- the cases ---- */

/* alice relays 60 KiB frames as fast as the server takes them to bob, who never reads: the
 * frames beyond bob's window are dropped, bob is closed for taking nothing, and the server's
 * memory stays bounded (before: 3.1 GB in 14 s) */
static void
test_relay_reader (Fixture      *f,
                   gconstpointer data)
{
  g_autoptr(PhPeer) alice = ph_peer_new (f->server->url, "alice");
  g_autoptr(PhPeer) bob = ph_peer_new (f->server->url, "bob");
  g_autoptr(Raw) ra = NULL;
  g_autoptr(Raw) rb = NULL;
  g_autoptr(JsonObject) opened = NULL;
  g_autofree char *open = NULL;
  g_autofree guint8 *frame = g_malloc0 (60 * 1024);
  gint64 channel, start, end;
  guint sent = 0;
  guint code;

  g_assert_true (ph_peer_register (alice));
  g_assert_true (ph_peer_register (bob));
  ph_peer_befriend (alice, bob);
  ph_peer_close (alice);
  ph_peer_close (bob);
  rb = raw_login (f->server, bob);
  ra = raw_login (f->server, alice);
  open = g_strdup_printf ("\"type\":\"relay-open\",\"user\":\"bob\",\"device\":\"%s\"",
                          bob->device);
  opened = raw_call (ra, open);
  channel = json_object_get_int_member_with_default (opened, "channel", 0);
  g_assert_cmpint (channel, >, 0);
  frame[0] = channel >> 24;
  frame[1] = channel >> 16;
  frame[2] = channel >> 8;
  frame[3] = channel;

  /* from here bob reads nothing; alice sends 1000 frames a second (a tenth of the relay
   * rate limit) for longer than bob may stall */
  f->rss_before = server_rss_kib (f->server);
  start = g_get_monotonic_time ();
  end = start + (STALL_TIMEOUT_S * 2 + 2) * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end && raw_send_frame (ra, 0x2, TRUE, frame, 60 * 1024))
    {
      if (++sent % 50 != 0)
        continue;
      sample_rss (f);
      while (g_get_monotonic_time () < start + sent * (G_USEC_PER_SEC / 1000))
        ph_iterate_for (1);
    }
  g_test_message ("sent %u frames of 60 KiB in %.1f s", sent,
                  (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpuint (sent, >=, STALL_TIMEOUT_S * 2 * 1000);
  expect_rss_bounded (f, "relay to a reader that never reads");

  /* bob's connection ends, closed by the server; alice, who reads, is still served */
  code = raw_wait_closed (rb, (STALL_TIMEOUT_S * 3 + 5) * 1000);
  if (code == 0)
    expect_logged (f, "as bob (", "closed");
  {
    g_autoptr(JsonObject) pong = raw_call (ra, "\"type\":\"ping\"");
    g_assert_cmpstr (ph_json_get_string (pong, "type"), ==, "result");
  }
  expect_honest_clients_served (f);
  expect_logged (f, "as bob (",
                 "took nothing of what waits for it in " G_STRINGIFY (STALL_TIMEOUT_S) " s");
}

/* tiny requests before log-in, as fast as the socket takes them, answers never read: the
 * connection is closed for going on over the rate, and the memory stays bounded (before:
 * 669 MB in 20 s) */
static void
test_request_flood (Fixture      *f,
                    gconstpointer data)
{
  g_autoptr(Raw) r = raw_connect (f->server->port);
  const char stanza[] = "{\"type\":\"ping\",\"id\":\"p\"}";
  gint64 start, end;
  guint sent = 0;

  f->rss_before = server_rss_kib (f->server);
  start = g_get_monotonic_time ();
  end = start + 8 * G_USEC_PER_SEC;   /* within the 10 s a connection has to log in */
  while (sent < 2000000 && g_get_monotonic_time () < end && raw_send_text (r, stanza))
    {
      if (++sent % 5000 == 0)
        sample_rss (f);
    }
  g_test_message ("sent %u requests in %.1f s", sent, (g_get_monotonic_time () - start) / 1e6);
  expect_rss_bounded (f, "requests whose answers are never read");
  g_assert_cmpuint (raw_wait_closed (r, PH_EVENT_MS), !=, 0);
  expect_honest_clients_served (f);
  expect_logged (f, "(not logged in)", "too many requests");
}

/* WebSocket pings as fast as the socket takes them, pongs never read: libsoup answers each
 * without telling the server, so the bound must hold on the stream itself */
static void
test_ping_flood (Fixture      *f,
                 gconstpointer data)
{
  g_autoptr(Raw) r = raw_connect (f->server->port);
  guint8 payload[125];
  gint64 start, end;
  guint sent = 0;

  memset (payload, 'p', sizeof payload);
  f->rss_before = server_rss_kib (f->server);
  start = g_get_monotonic_time ();
  end = start + 8 * G_USEC_PER_SEC;   /* within the 10 s a connection has to log in */
  while (sent < 4000000 && g_get_monotonic_time () < end &&
         raw_send_frame (r, 0x9, TRUE, payload, sizeof payload))
    {
      if (++sent % 5000 == 0)
        sample_rss (f);
    }
  g_test_message ("sent %u pings in %.1f s", sent, (g_get_monotonic_time () - start) / 1e6);
  expect_rss_bounded (f, "pings whose pongs are never read");
  g_assert_cmpuint (raw_wait_closed (r, PH_EVENT_MS), !=, 0);
  expect_honest_clients_served (f);
  expect_logged (f, "(not logged in)", "more than 8388608 bytes wait for the peer");
}

/* a text message in 16 KiB fragments that never finish, before log-in: refused once past
 * 64 KiB + 4 with 1009, before the server holds it (before: 529 MB in 1.4 s from 2 connections) */
static void
test_endless_fragments (Fixture      *f,
                        gconstpointer data)
{
  g_autoptr(Raw) r = raw_connect (f->server->port);
  g_autofree guint8 *chunk = g_malloc (16 * 1024);
  gint64 end;
  guint sent = 0;
  gboolean ok;

  memset (chunk, 'a', 16 * 1024);
  f->rss_before = server_rss_kib (f->server);
  end = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;
  ok = raw_send_frame (r, 0x1, FALSE, (const guint8 *) "{\"type\":\"", 9);
  while (ok && sent < 16384 && g_get_monotonic_time () < end)   /* at most 256 MiB */
    {
      ok = raw_send_frame (r, 0x0, FALSE, chunk, 16 * 1024);
      if (ok && ++sent % 256 == 0)
        sample_rss (f);
    }
  g_test_message ("sent %u fragments of 16 KiB before the server stopped taking them", sent);
  expect_rss_bounded (f, "endless fragments");
  g_assert_cmpuint (raw_wait_closed (r, PH_EVENT_MS), ==, SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  expect_honest_clients_served (f);
  expect_logged (f, "(not logged in)", "a text message of more than 65540 bytes");
}

/* a relay frame in fragments past the relay limit, logged in: the same, for binary */
static void
test_binary_fragments (Fixture      *f,
                       gconstpointer data)
{
  g_autoptr(PhPeer) alice = ph_peer_new (f->server->url, "alice");
  g_autoptr(Raw) r = NULL;
  g_autofree guint8 *chunk = g_malloc0 (16 * 1024);
  guint sent = 0;
  gboolean ok = TRUE;

  g_assert_true (ph_peer_register (alice));
  ph_peer_close (alice);
  r = raw_login (f->server, alice);
  ok = raw_send_frame (r, 0x2, FALSE, chunk, 4);
  /* the limit is 4 + 64 KiB: the fifth fragment passes it */
  while (ok && sent < 1024)
    ok = raw_send_frame (r, 0x0, FALSE, chunk, 16 * 1024) && ++sent;
  g_assert_cmpuint (raw_wait_closed (r, PH_EVENT_MS), ==, SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  expect_logged (f, "as alice (", "a binary message of more than 65540 bytes");
}

/* tiny binary frames as fast as the socket takes them, logged in, on a channel that is not
 * open: dropped over the relay frame rate, and the connection closed for going on */
static void
test_frame_flood (Fixture      *f,
                  gconstpointer data)
{
  g_autoptr(PhPeer) alice = ph_peer_new (f->server->url, "alice");
  g_autoptr(Raw) r = NULL;
  const guint8 frame[] = { 0, 0, 0, 7, 'h', 'i' };
  gint64 end;
  guint sent = 0;

  g_assert_true (ph_peer_register (alice));
  ph_peer_close (alice);
  r = raw_login (f->server, alice);
  end = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;
  while (sent < 200000 && g_get_monotonic_time () < end &&
         raw_send_frame (r, 0x2, TRUE, frame, sizeof frame))
    sent++;
  g_test_message ("sent %u frames", sent);
  g_assert_cmpuint (raw_wait_closed (r, PH_EVENT_MS), ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  expect_logged (f, "as alice (", "too many requests");
}

/* permessage-deflate is refused: libsoup would inflate a frame past every limit */
static void
test_no_deflate (Fixture      *f,
                 gconstpointer data)
{
  g_autofree char *response = NULL;
  g_autoptr(Raw) r = raw_connect_full (f->server->port,
                                       "Sec-WebSocket-Extensions: permessage-deflate\r\n",
                                       &response);

  g_assert_nonnull (r);
  g_assert_null (strstr (response, "permessage-deflate"));
}

/* a WebSocket request with a body would put frames where the server does not look for them:
 * refused before it upgrades */
static void
test_request_with_body (Fixture      *f,
                        gconstpointer data)
{
  g_autoptr(Raw) r = g_new0 (Raw, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) ip = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new (ip, f->server->port);
  const char request[] =
    "GET /pinhole HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: pinhole-1\r\n"
    "Content-Length: 2\r\n\r\n\x81\x00";

  r->in = g_byte_array_new ();
  r->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                            &error);
  g_socket_connect (r->socket, to, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (raw_write (r, (const guint8 *) request, sizeof request - 1));
  g_assert_cmpuint (raw_wait_closed (r, PH_EVENT_MS), ==, 1006);
  g_assert_true (r->in->len == 0 ||
                 g_strstr_len ((const char *) r->in->data, r->in->len, "101") == NULL);
  expect_logged (f, "before its WebSocket opened", "a WebSocket request with a body");
}

/* ---- a hostile server, for the client ---- */

typedef struct
{
  GSocket *listener;
  gboolean bad_accept;    /* answers with a Sec-WebSocket-Accept for another key */
  guint    fragments;     /* sent before the client stopped taking them */
  gboolean upgraded;
} Hostile;

static gpointer
hostile_run (gpointer data)
{
  Hostile *h = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(Raw) r = g_new0 (Raw, 1);
  g_autofree guint8 *chunk = g_malloc (16 * 1024 + 4);
  g_autoptr(GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_autofree char *keyed = NULL;
  g_autofree char *accept = NULL;
  g_autofree char *answer = NULL;
  const char *key, *end;
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  r->in = g_byte_array_new ();
  r->socket = g_socket_accept (h->listener, NULL, &error);
  if (r->socket == NULL)
    return NULL;
  g_socket_set_blocking (r->socket, TRUE);
  g_socket_set_timeout (r->socket, 2);
  while (r->in->len == 0 ||
         (end = g_strstr_len ((const char *) r->in->data, r->in->len, "\r\n\r\n")) == NULL)
    if (g_get_monotonic_time () > deadline || !raw_read_more (r, 100))
      return NULL;
  g_byte_array_append (r->in, (const guint8 *) "", 1);
  key = strstr ((const char *) r->in->data, "Sec-WebSocket-Key: ");
  if (key == NULL)
    return NULL;
  key += strlen ("Sec-WebSocket-Key: ");
  keyed = g_strdup_printf ("%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                           (int) strcspn (key, "\r"), key);
  g_checksum_update (sha1, (const guchar *) keyed, -1);
  g_checksum_get_digest (sha1, digest, &digest_len);
  if (h->bad_accept)
    digest[0] ^= 1;
  accept = g_base64_encode (digest, digest_len);
  answer = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                            "Sec-WebSocket-Protocol: pinhole-1\r\n\r\n", accept);
  if (!raw_write (r, (const guint8 *) answer, strlen (answer)))
    return NULL;
  h->upgraded = TRUE;
  /* a text message that never ends, unmasked as a server's frames are */
  if (!raw_write (r, (const guint8 *) "\x01\x02{\"", 4))
    return NULL;
  chunk[0] = 0x00;
  chunk[1] = 126;
  chunk[2] = 0x40;
  chunk[3] = 0x00;
  memset (chunk + 4, 'a', 16 * 1024);
  while (h->fragments < 16384 && g_get_monotonic_time () < deadline &&
         raw_write (r, chunk, 16 * 1024 + 4))
    h->fragments++;
  return NULL;
}

typedef struct
{
  PhProc  *cli;
  guint64  rss_max;
} CliWatch;

static gboolean
sample_cli_cb (gpointer data)
{
  CliWatch *w = data;
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", ph_proc_get_pid (w->cli));
  g_autofree char *status = NULL;
  const char *line;

  if (g_file_get_contents (path, &status, NULL, NULL) &&
      (line = strstr (status, "VmRSS:")) != NULL)
    w->rss_max = MAX (w->rss_max, g_ascii_strtoull (line + 6, NULL, 10));
  return G_SOURCE_CONTINUE;
}

/* pinhole-cli registering with @h's server; Returns: (transfer full): the finished CLI */
static PhProc *
run_against (Hostile  *h,
             guint64  *rss_max)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) ip = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (ip, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  g_autofree char *profile = ph_make_tmp_dir ("pinhole-hostile-XXXXXX");
  const char *args[] = { "register", "alice", NULL };
  CliWatch w = { 0 };
  GThread *thread;
  guint sampler;

  h->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                              G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (h->listener, any, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (h->listener, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (h->listener, 10);
  bound = g_socket_get_local_address (h->listener, &error);
  url = g_strdup_printf ("ws://127.0.0.1:%u/pinhole",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  thread = g_thread_new ("hostile", hostile_run, h);
  w.cli = ph_cli_spawn (url, profile, "password-of-alice", FALSE, args);
  g_assert_nonnull (w.cli);
  sampler = g_timeout_add (20, sample_cli_cb, &w);
  g_assert_true (ph_proc_wait (w.cli, PH_EVENT_MS * 2));
  g_source_remove (sampler);
  g_thread_join (thread);
  g_clear_object (&h->listener);
  ph_remove_tree (profile);
  g_test_message ("pinhole-cli VmRSS at most %" G_GUINT64_FORMAT " KiB; it said: %s",
                  w.rss_max, w.cli->err_text->str);
  *rss_max = w.rss_max;
  return w.cli;
}

/* pinhole-cli registering with a server that answers with endless fragments: it refuses the
 * message once past 64 KiB + 4 and fails, saying so, with its memory bounded (before: 425 MB) */
static void
test_hostile_server (void)
{
  Hostile h = { 0 };
  guint64 rss_max;
  PhProc *cli = run_against (&h, &rss_max);

  g_test_message ("the hostile server sent %u fragments of 16 KiB", h.fragments);
  g_assert_true (h.upgraded);
  g_assert_cmpint (cli->status, !=, 0);
  g_assert_nonnull (strstr (cli->err_text->str,
                            "the server sent a text message of more than 65540 bytes"));
  g_assert_cmpuint (rss_max, <, RSS_BOUND_KIB);
  ph_proc_free (cli);
}

/* an answer with the wrong Sec-WebSocket-Accept is no WebSocket (RFC 6455 §4.1) */
static void
test_hostile_bad_accept (void)
{
  Hostile h = { .bad_accept = TRUE };
  guint64 rss_max;
  PhProc *cli = run_against (&h, &rss_max);

  g_assert_cmpint (cli->status, !=, 0);
  g_assert_nonnull (strstr (cli->err_text->str, "is not an upgrade to pinhole-1"));
  ph_proc_free (cli);
}

/* ---- drops at the relay, and the session's retransmission ---- */

static gboolean
message_settled (gpointer data)
{
  PinholeMessageState state = pinhole_message_get_state (data);

  return state == PINHOLE_MESSAGE_STATE_DELIVERED || state == PINHOLE_MESSAGE_STATE_FAILED;
}

/* bob (a pinhole-cli listen) stops reading (SIGSTOP) while a second device of alice's fills
 * his queue past the relay window; alice's next message on their relay session is dropped
 * at the server, and once bob reads again the session's retransmission delivers it, live,
 * not sealed */
static void
test_dropped_then_retransmitted (PhModelFixture *f,
                                 gconstpointer   data)
{
  g_autofree char *bob_dir = ph_model_profile_dir (f, "bob");
  const char *listen_args[] = { "listen", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(Raw) flood = NULL;
  g_autoptr(JsonObject) opened = NULL;
  g_autoptr(PinholeMessage) before = NULL;
  guint8 secret_key[64];
  g_autofree char *key = ph_device_key_new (secret_key);
  g_autofree char *proof = NULL;
  g_autofree char *fields = NULL;
  g_autofree guint8 *frame = g_malloc0 (60 * 1024);
  PhModelWait w = { NULL };
  PinholeConversation *to_bob;
  PinholeContact *contact;
  g_autoptr(PinholeDevice) device = NULL;
  PinholeSession *session;
  PinholeMessage *after = NULL;
  PhProc *bob;
  GPid bob_pid;
  guint64 retransmitted;
  gint64 channel, start;
  guint sent = 0;

  ph_return_if_failed ();
  bob = ph_cli_spawn (f->server->url, bob_dir, NULL, FALSE, listen_args);
  g_assert_true (ph_proc_wait_count (bob, "online", 1, PH_EVENT_MS));
  bob_pid = (GPid) g_ascii_strtoll (ph_proc_get_pid (bob), NULL, 10);
  f->alice = ph_model_client_new (f, "alice", FALSE);
  g_assert_true (pinhole_client_set_relay_only (f->alice, "bob", TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (ph_model_wait_presence (f->alice, "bob", PINHOLE_PRESENCE_ONLINE));
  to_bob = pinhole_client_get_conversation (f->alice, "bob");
  before = ph_model_send_text (to_bob, "before the flood", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pinhole_message_get_state (before), ==, PINHOLE_MESSAGE_STATE_DELIVERED);
  contact = pinhole_client_lookup_contact (f->alice, "bob");
  device = g_list_model_get_item (pinhole_contact_get_devices (contact), 0);
  session = pinhole_device_get_session (device);
  g_assert_nonnull (session);
  g_assert_cmpint (pinhole_device_get_path_kind (device), ==, PINHOLE_PATH_KIND_RELAY);

  /* a second device of alice's opens a channel to bob's */
  flood = raw_connect (f->server->port);
  proof = raw_proof (flood, secret_key, "alice", "flood");
  fields = g_strdup_printf ("\"type\":\"login\",\"user\":\"alice\",\"device\":\"flood\","
                            "\"device_key\":\"%s\",\"proof\":\"%s\","
                            "\"password\":\"password-of-alice\"", key, proof);
  g_clear_pointer (&opened, json_object_unref);
  opened = raw_call (flood, fields);
  g_assert_cmpstr (ph_json_get_string (opened, "type"), ==, "result");
  g_free (fields);
  fields = g_strdup_printf ("\"type\":\"relay-open\",\"user\":\"bob\",\"device\":\"%s\"",
                            pinhole_device_get_name (device));
  g_clear_pointer (&opened, json_object_unref);
  opened = raw_call (flood, fields);
  channel = json_object_get_int_member_with_default (opened, "channel", 0);
  g_assert_cmpint (channel, >, 0);
  frame[0] = channel >> 24;
  frame[1] = channel >> 16;
  frame[2] = channel >> 8;
  frame[3] = channel;

  /* bob stops reading; 3 s of 1000 frames a second fill his queue, and after 1.5 s alice
   * sends, her client running meanwhile */
  g_assert_cmpint (kill (bob_pid, SIGSTOP), ==, 0);
  retransmitted = _pinhole_session_get_retransmissions (session);
  start = g_get_monotonic_time ();
  while (g_get_monotonic_time () < start + 3 * G_USEC_PER_SEC &&
         raw_send_frame (flood, 0x2, TRUE, frame, 60 * 1024))
    {
      if (++sent % 50 != 0)
        continue;
      if (after == NULL && g_get_monotonic_time () > start + 3 * G_USEC_PER_SEC / 2)
        {
          pinhole_conversation_send_async (to_bob, "after the flood", NULL,
                                           ph_model_store_result_cb, &w);
          after = g_list_model_get_item (G_LIST_MODEL (to_bob),
                                         g_list_model_get_n_items (G_LIST_MODEL (to_bob)) - 1);
        }
      while (g_get_monotonic_time () < start + sent * (G_USEC_PER_SEC / 1000))
        ph_iterate_for (1);
    }
  g_assert_nonnull (after);
  g_assert_cmpstr (pinhole_message_get_text (after), ==, "after the flood");
  g_assert_cmpint (kill (bob_pid, SIGCONT), ==, 0);

  /* delivered live, within the time after which it would have gone sealed */
  g_assert_true (ph_iterate_until (message_settled, after, 12000));
  g_assert_true (ph_iterate_until (ph_model_has_result, &w, PH_EVENT_MS));
  g_test_message ("alice's session retransmitted %" G_GUINT64_FORMAT " frames",
                  _pinhole_session_get_retransmissions (session) - retransmitted);
  g_assert_cmpint (pinhole_message_get_state (after), ==, PINHOLE_MESSAGE_STATE_DELIVERED);
  g_assert_cmpuint (_pinhole_session_get_retransmissions (session), >, retransmitted);
  g_assert_true (pinhole_device_get_session (device) == session);
  g_object_unref (after);
  g_clear_object (&w.result);
  ph_proc_stop (bob);
  ph_proc_free (bob);
}

int
main (int   argc,
      char *argv[])
{
  /* bob may stall for longer than the 3 s he is stopped */
  static const char *stall_args[] = { "--stall-timeout", "60", NULL };

  g_test_init (&argc, &argv, NULL);
  g_test_add ("/integration/backpressure/relay-reader", Fixture, NULL, fixture_setup,
              test_relay_reader, fixture_teardown);
  g_test_add ("/integration/backpressure/request-flood", Fixture, NULL, fixture_setup,
              test_request_flood, fixture_teardown);
  g_test_add ("/integration/backpressure/ping-flood", Fixture, NULL, fixture_setup,
              test_ping_flood, fixture_teardown);
  g_test_add ("/integration/backpressure/endless-fragments", Fixture, NULL, fixture_setup,
              test_endless_fragments, fixture_teardown);
  g_test_add ("/integration/backpressure/binary-fragments", Fixture, NULL, fixture_setup,
              test_binary_fragments, fixture_teardown);
  g_test_add ("/integration/backpressure/frame-flood", Fixture, NULL, fixture_setup,
              test_frame_flood, fixture_teardown);
  g_test_add ("/integration/backpressure/no-deflate", Fixture, NULL, fixture_setup,
              test_no_deflate, fixture_teardown);
  g_test_add ("/integration/backpressure/request-with-body", Fixture, NULL, fixture_setup,
              test_request_with_body, fixture_teardown);
  g_test_add ("/integration/backpressure/dropped-then-retransmitted", PhModelFixture,
              stall_args, ph_model_fixture_setup, test_dropped_then_retransmitted,
              ph_model_fixture_teardown);
  g_test_add_func ("/integration/backpressure/hostile-server", test_hostile_server);
  g_test_add_func ("/integration/backpressure/hostile-bad-accept", test_hostile_bad_accept);
  return g_test_run ();
}
