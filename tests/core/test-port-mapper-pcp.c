/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-port-mapper-pcp.c: the mapper's PCP backend against a scripted PCP server on the
 * default gateway of a network namespace of our own (unshare): answers to drop before the
 * right one, an error result, a flood of ANNOUNCEs (the bound on what they make us send),
 * and a renewal whose epoch shows the server lost its state. A real server (miniupnpd) is
 * tests/natlab/test-port-mapper.c. */
#define _GNU_SOURCE
#include "pinhole-error.h"
#include "pinhole-pcp-message.h"
#include "pinhole-port-mapper.h"
#include "../pinhole-test-missing.h"
#include "pinhole-test-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#define GATEWAY "192.0.2.1"
/* the server's whole life, and the most requests it answers */
#define SERVER_MS 8000
#define SERVER_MAX_REQUESTS 64

static char *netns_unavailable;

typedef enum
{
  SCRIPT_NOISE_FIRST,     /* drop-worthy answers, then the right one */
  SCRIPT_NOT_AUTHORIZED,
  SCRIPT_ANNOUNCE_FLOOD,  /* 50 ANNOUNCEs of lost state per request, never an answer */
  SCRIPT_EPOCH_RESET,     /* the first answer at epoch 1000, every later one at epoch 3 */
  SCRIPT_PORT_ZERO,       /* SUCCESS, mapped to external port 0 */
  SCRIPT_LEASE_ZERO,      /* SUCCESS with a lease of 0 s: in PCP, no mapping */
} Script;

typedef struct
{
  Script   script;
  int      fd;
  guint    requests;      /* MAP requests with a lifetime */
  guint    deletes;       /* MAP requests with lifetime 0 */
  gint     stop;          /* atomic: the test is done with it */
} Server;

static void
put_u32 (guint8  *p,
         guint32  v)
{
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

/* a MAP response to req (60 bytes): as miniupnpd answers, with an external port of ours */
static void
answer (Server                *s,
        const struct sockaddr *to,
        const guint8          *req,
        guint8                 result,
        guint32                epoch,
        guint16                ext_port)
{
  guint8 r[PINHOLE_PCP_MAP_REQUEST_SIZE];

  memcpy (r, req, sizeof r);
  r[1] = 0x80 | PINHOLE_PCP_OPCODE_MAP;
  r[2] = 0;
  r[3] = result;
  put_u32 (r + 8, epoch);
  memset (r + 12, 0, 12);
  r[42] = ext_port >> 8;
  r[43] = ext_port & 0xff;
  memset (r + 44, 0, 10);
  r[54] = r[55] = 0xff;
  r[56] = 203; r[57] = 0; r[58] = 113; r[59] = 9;
  if (s->script == SCRIPT_LEASE_ZERO && result == 0 && ext_port != 0)
    put_u32 (r + 4, 0);
  sendto (s->fd, r, sizeof r, 0, to, sizeof (struct sockaddr_in));
}

static void
send_raw (Server                *s,
          const struct sockaddr *to,
          const guint8          *data,
          gsize                  len)
{
  sendto (s->fd, data, len, 0, to, sizeof (struct sockaddr_in));
}

static void
serve_one (Server                *s,
           const struct sockaddr *from,
           const guint8          *req,
           gsize                  len)
{
  guint32 lifetime = (guint32) req[4] << 24 | req[5] << 16 | req[6] << 8 | req[7];
  guint8 bad[PINHOLE_PCP_MAP_REQUEST_SIZE + 8];

  if (len != PINHOLE_PCP_MAP_REQUEST_SIZE || req[0] != 2 || req[1] != PINHOLE_PCP_OPCODE_MAP)
    return;
  if (lifetime == 0)
    {
      s->deletes++;
      answer (s, from, req, 0, 1000, 0);
      return;
    }
  s->requests++;
  switch (s->script)
    {
    case SCRIPT_NOISE_FIRST:
      send_raw (s, from, req, 8);                            /* short */
      send_raw (s, from, req, len);                          /* our request, no R bit */
      memcpy (bad, req, len);
      bad[24] ^= 0xff;                                       /* another nonce */
      bad[1] |= 0x80;
      send_raw (s, from, bad, len);
      memcpy (bad, req, len);
      bad[1] |= 0x80;
      bad[41] ^= 1;                                          /* another internal port */
      send_raw (s, from, bad, len);
      memcpy (bad, req, len);
      bad[1] |= 0x80;
      bad[60] = 200; bad[61] = 0; bad[62] = 0; bad[63] = 8;  /* option overruns */
      send_raw (s, from, bad, len + 4);
      answer (s, from, req, 0, 1000, 50001);
      break;
    case SCRIPT_NOT_AUTHORIZED:
      answer (s, from, req, PINHOLE_PCP_RESULT_NOT_AUTHORIZED, 1000, 0);
      break;
    case SCRIPT_ANNOUNCE_FLOOD:
      for (guint i = 0; i < 50; i++)
        {
          guint8 a[PINHOLE_PCP_HEADER_SIZE] = { 2, 0x80 | PINHOLE_PCP_OPCODE_ANNOUNCE };

          /* each epoch far from the last: the server "lost its state" every time */
          put_u32 (a + 8, (i % 2) ? 100000 : 1);
          send_raw (s, from, a, sizeof a);
        }
      break;
    case SCRIPT_PORT_ZERO:
      answer (s, from, req, 0, 1000, 0);
      break;
    case SCRIPT_LEASE_ZERO:
      answer (s, from, req, 0, 1000, 50001);
      break;
    case SCRIPT_EPOCH_RESET:
      answer (s, from, req, 0, s->requests == 1 ? 1000 : 3, s->requests == 1 ? 50001 : 50002);
      break;
    default:
      break;
    }
}

static gpointer
server_thread (gpointer data)
{
  Server *s = data;
  gint64 deadline = g_get_monotonic_time () + SERVER_MS * 1000;

  while (g_get_monotonic_time () < deadline && s->requests + s->deletes < SERVER_MAX_REQUESTS &&
         !g_atomic_int_get (&s->stop))
    {
      struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
      struct sockaddr_in from;
      socklen_t from_len = sizeof from;
      guint8 buf[1200];
      ssize_t n;

      if (poll (&pfd, 1, 50) <= 0)
        continue;
      n = recvfrom (s->fd, buf, sizeof buf, 0, (struct sockaddr *) &from, &from_len);
      if (n > 0)
        serve_one (s, (struct sockaddr *) &from, buf, (gsize) n);
    }
  return NULL;
}

static gboolean
run_ip (const char *args)
{
  g_autofree char *cmd = g_strdup_printf ("ip %s", args);
  g_auto(GStrv) argv = NULL;
  int status;

  return g_shell_parse_argv (cmd, NULL, &argv, NULL) &&
         g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                       G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

/* the namespace's default gateway GATEWAY is one of our own addresses (added after the
 * route, which the kernel would refuse through a local gateway) */
static gboolean
ensure_gateway (void)
{
  static gboolean done;

  if (netns_unavailable != NULL)
    {
      g_autofree char *what = g_strdup_printf ("no network namespace: %s", netns_unavailable);

      ph_test_missing (what);
      return FALSE;
    }
  if (done)
    return TRUE;
  if (!run_ip ("link set lo up") || !run_ip ("link add ph-pcp0 type veth peer name ph-pcp1") ||
      !run_ip ("addr add 192.0.2.2/24 dev ph-pcp0") ||
      !run_ip ("link set ph-pcp0 up") || !run_ip ("link set ph-pcp1 up") ||
      !run_ip ("route add default via " GATEWAY) || !run_ip ("addr add " GATEWAY "/32 dev lo"))
    {
      ph_test_missing ("cannot make a gateway in the namespace (ip)");
      return FALSE;
    }
  done = TRUE;
  return TRUE;
}

static GThread *
server_start (Server *s,
              Script  script)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (PINHOLE_PCP_SERVER_PORT) };

  memset (s, 0, sizeof *s);
  s->script = script;
  inet_pton (AF_INET, GATEWAY, &a.sin_addr);
  s->fd = socket (AF_INET, SOCK_DGRAM, 0);
  g_assert_cmpint (s->fd, >=, 0);
  g_assert_cmpint (bind (s->fd, (struct sockaddr *) &a, sizeof a), ==, 0);
  return g_thread_new ("pcp-server", server_thread, s);
}

static void
server_stop (Server  *s,
             GThread *thread)
{
  g_atomic_int_set (&s->stop, 1);
  g_thread_join (thread);
  close (s->fd);
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static PinholePortMapping *
map_pcp (PinholePortMapper *mapper,
         guint              lifetime_s,
         GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pinhole_port_mapper_set_methods (mapper, PINHOLE_PORT_MAP_METHOD_PCP);
  pinhole_port_mapper_map_async (mapper, PINHOLE_PORT_MAP_PROTOCOL_UDP, 40100, NULL, lifetime_s,
                                 NULL, store_result_cb, &result);
  g_assert_true (ph_wait_pointer ((gpointer *) &result,
                                  PINHOLE_PORT_MAPPER_PCP_DEADLINE_MS + 3000));
  return pinhole_port_mapper_map_finish (mapper, result, error);
}

static void
shutdown_mapper (PinholePortMapper *mapper)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pinhole_port_mapper_shutdown_async (mapper, NULL, store_result_cb, &result);
  g_assert_true (ph_wait_pointer ((gpointer *) &result, 5000));
  g_assert_true (pinhole_port_mapper_shutdown_finish (mapper, result, &error));
  g_assert_no_error (error);
}

/* five answers to drop (short, a request, another nonce, another port, an option that
 * overruns), then the right one: the mapping is the right one's */
static void
test_noise_dropped (void)
{
  g_autoptr(PinholePortMapper) mapper = pinhole_port_mapper_new ();
  g_autoptr(PinholePortMapping) m = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *ext = NULL;
  Server s;
  GThread *t;

  if (!ensure_gateway ())
    return;
  t = server_start (&s, SCRIPT_NOISE_FIRST);
  m = map_pcp (mapper, 600, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->kind, ==, PINHOLE_PATH_KIND_PCP);
  g_assert_cmpuint (m->external_port, ==, 50001);
  ext = g_inet_address_to_string (m->external_address);
  g_assert_cmpstr (ext, ==, "203.0.113.9");
  g_assert_cmpuint (m->lifetime_s, ==, 600);
  shutdown_mapper (mapper);
  server_stop (&s, t);
  g_assert_cmpuint (s.requests, ==, 1);
  g_assert_cmpuint (s.deletes, ==, 1);
}

static void
test_not_authorized (void)
{
  g_autoptr(PinholePortMapper) mapper = pinhole_port_mapper_new ();
  g_autoptr(PinholePortMapping) m = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;
  Server s;
  GThread *t;

  if (!ensure_gateway ())
    return;
  t = server_start (&s, SCRIPT_NOT_AUTHORIZED);
  m = map_pcp (mapper, 600, &error);
  g_assert_null (m);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH);
  g_assert_nonnull (strstr (error->message, "PCP: gateway " GATEWAY
                            " refused the mapping: NOT_AUTHORIZED"));
  summary = pinhole_port_mapper_dup_summary (mapper);
  g_assert_cmpstr (summary, ==, "upnp: not tried, pcp: answered, nat-pmp: not tried");
  server_stop (&s, t);
}

/* 50 ANNOUNCEs of lost state per request: we send again a bounded number of times, and give
 * up at the deadline */
static void
test_announce_flood (void)
{
  g_autoptr(PinholePortMapper) mapper = pinhole_port_mapper_new ();
  g_autoptr(PinholePortMapping) m = NULL;
  g_autoptr(GError) error = NULL;
  Server s;
  GThread *t;

  if (!ensure_gateway ())
    return;
  t = server_start (&s, SCRIPT_ANNOUNCE_FLOOD);
  m = map_pcp (mapper, 600, &error);
  g_assert_null (m);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH);
  g_assert_nonnull (strstr (error->message, "sent no valid answer"));
  server_stop (&s, t);
  g_test_message ("requests sent under the flood: %u", s.requests);
  /* the first, 4 after ANNOUNCEs, and the retransmissions of 2 s (250 ms doubling: 4) */
  g_assert_cmpuint (s.requests, <=, 1 + 4 + 4);
}

static gboolean
port_set (gpointer data)
{
  return *(guint *) data != 0;
}

static void
changed_cb (PinholePortMapper  *mapper,
            PinholePortMapping *mapping,
            gpointer            user_data)
{
  *(guint *) user_data = mapping->external_port;
}

/* the renewal's epoch shows the server lost its state, and it answers with another port:
 * the mapper takes the new port and says so */
static void
test_epoch_reset (void)
{
  g_autoptr(PinholePortMapper) mapper = pinhole_port_mapper_new ();
  g_autoptr(PinholePortMapping) m = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) now = NULL;
  guint changed_port = 0;
  Server s;
  GThread *t;

  if (!ensure_gateway ())
    return;
  t = server_start (&s, SCRIPT_EPOCH_RESET);
  g_signal_connect (mapper, "mapping-changed", G_CALLBACK (changed_cb), &changed_port);
  /* a 2 s lease: renewed after 1 s */
  m = map_pcp (mapper, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (m->external_port, ==, 50001);
  g_assert_true (ph_iterate_until (port_set, &changed_port, 4000));
  g_assert_cmpuint (changed_port, ==, 50002);
  now = pinhole_port_mapper_dup_mappings (mapper);
  g_assert_cmpuint (now->len, ==, 1);
  g_assert_cmpuint (((PinholePortMapping *) now->pdata[0])->external_port, ==, 50002);
  shutdown_mapper (mapper);
  server_stop (&s, t);
  g_assert_cmpuint (s.requests, >=, 2);
  g_assert_cmpuint (s.deletes, ==, 1);
}

/* a SUCCESS that maps nothing (port 0, or a lease of 0 s) is no mapping, with the reason */
static void
test_unusable_grant (void)
{
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(PinholePortMapper) mapper = pinhole_port_mapper_new ();
      g_autoptr(PinholePortMapping) m = NULL;
      g_autoptr(GError) error = NULL;
      Server s;
      GThread *t;

      if (!ensure_gateway ())
        return;
      t = server_start (&s, i == 0 ? SCRIPT_PORT_ZERO : SCRIPT_LEASE_ZERO);
      m = map_pcp (mapper, 600, &error);
      g_assert_null (m);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH);
      if (error != NULL)
        g_assert_nonnull (strstr (error->message, "PCP: gateway " GATEWAY
                                  " granted no usable mapping"));
      server_stop (&s, t);
    }
}

int
main (int   argc,
      char *argv[])
{
  /* before any thread exists: unshare moves only the calling thread */
  if (unshare (CLONE_NEWNET) != 0)
    netns_unavailable = g_strdup_printf ("unshare(CLONE_NEWNET): %s", g_strerror (errno));

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/portmap/pcp/noise-dropped", test_noise_dropped);
  g_test_add_func ("/portmap/pcp/not-authorized", test_not_authorized);
  g_test_add_func ("/portmap/pcp/announce-flood", test_announce_flood);
  g_test_add_func ("/portmap/pcp/epoch-reset", test_epoch_reset);
  g_test_add_func ("/portmap/pcp/unusable-grant", test_unusable_grant);

  return g_test_run ();
}
