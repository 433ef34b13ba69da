/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-server-accept.c: what a real pinhole-server does with connections that come and do not
 * behave: a TCP connection that never opens its WebSocket, and a WebSocket that never logs in,
 * are closed after --handshake-timeout; one address gets at most --max-per-address
 * connections; and a server out of file descriptors neither spins nor stops accepting: once
 * the descriptors are free, a new client gets through within 5 s. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-harness.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* a TCP connection to 127.0.0.1:@port from @from (127.0.0.x), or %NULL */
static GSocket *
raw_connect (guint16     port,
             const char *from)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GInetAddress) local_ip = g_inet_address_new_from_string (from);
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (local_ip, 0);
  g_autoptr(GInetAddress) ip = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new (ip, port);

  g_assert_no_error (error);
  if (!g_socket_bind (s, local, FALSE, &error) || !g_socket_connect (s, to, NULL, &error))
    {
      g_test_message ("connect from %s: %s", from, error->message);
      return NULL;
    }
  return g_steal_pointer (&s);
}

/* whether the server closed @s within @timeout_ms (end of stream or a reset) */
static gboolean
closed_within (GSocket *s,
               guint    timeout_ms)
{
  struct pollfd p = { .fd = g_socket_get_fd (s), .events = POLLIN };
  char byte;

  if (poll (&p, 1, (int) timeout_ms) <= 0)
    return FALSE;
  return recv (p.fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

static gboolean
registers (PhServer   *server,
           const char *user)
{
  g_autofree char *dir = ph_make_tmp_dir ("pinhole-accept-XXXXXX");
  const char *args[] = { "register", user, NULL };
  g_autoptr(PhResult) r = ph_cli_run (server->url, dir, "password-of-someone", NULL, args);

  ph_remove_tree (dir);
  if (r->status != 0)
    g_test_message ("register %s: %s", user, r->err);
  return r->status == 0;
}

static void
test_half_open (void)
{
  const char *args[] = { "--handshake-timeout", "2", NULL };
  g_autoptr(GError) error = NULL;
  PhServer *server = ph_server_start_with (args, &error);
  GSocket *raw[20] = { NULL };
  guint closed = 0;

  g_assert_no_error (error);
  if (server == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (raw); i++)
    raw[i] = raw_connect (server->port, "127.0.0.1");
  /* they send nothing: each is closed once its 2 s are up, none before */
  g_assert_false (closed_within (raw[0], 1000));
  for (guint i = 0; i < G_N_ELEMENTS (raw); i++)
    closed += raw[i] != NULL && closed_within (raw[i], i == 0 ? 4000 : 500);
  g_assert_cmpuint (closed, ==, G_N_ELEMENTS (raw));
  g_assert_true (registers (server, "after-half-open"));
  for (guint i = 0; i < G_N_ELEMENTS (raw); i++)
    g_clear_object (&raw[i]);
  ph_server_free (server);
}

static void
test_login_timeout (void)
{
  const char *args[] = { "--handshake-timeout", "2", NULL };
  g_autoptr(GError) error = NULL;
  PhServer *server = ph_server_start_with (args, &error);
  PhWs *ws;

  g_assert_no_error (error);
  if (server == NULL)
    return;
  ws = ph_ws_connect (server->url, &error);
  g_assert_no_error (error);
  if (ws != NULL)
    {
      /* a WebSocket that never logs in is closed once its time is up */
      g_assert_false (ph_ws_wait_closed (ws, 1000));
      g_assert_true (ph_ws_wait_closed (ws, 4000));
      ph_ws_free (ws);
    }
  ph_server_free (server);
}

static void
test_per_address (void)
{
  const char *args[] = { "--max-per-address", "4", NULL };
  g_autoptr(GError) error = NULL;
  PhServer *server = ph_server_start_with (args, &error);
  GSocket *mine[4] = { NULL };
  g_autoptr(GSocket) fifth = NULL;
  g_autoptr(GSocket) elsewhere = NULL;

  g_assert_no_error (error);
  if (server == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (mine); i++)
    mine[i] = raw_connect (server->port, "127.0.0.1");
  fifth = raw_connect (server->port, "127.0.0.1");
  elsewhere = raw_connect (server->port, "127.0.0.2");
  g_assert_nonnull (fifth);
  g_assert_nonnull (elsewhere);
  if (fifth == NULL || elsewhere == NULL)
    goto out;
  /* the fifth from 127.0.0.1 is closed at once; the first four and another address's stay */
  g_assert_true (closed_within (fifth, 2000));
  g_assert_false (closed_within (mine[0], 500));
  g_assert_false (closed_within (elsewhere, 100));
  /* with its four gone, 127.0.0.1 gets in again */
  for (guint i = 0; i < G_N_ELEMENTS (mine); i++)
    g_clear_object (&mine[i]);
  g_assert_true (registers (server, "after-the-cap"));
out:
  for (guint i = 0; i < G_N_ELEMENTS (mine); i++)
    g_clear_object (&mine[i]);
  ph_server_free (server);
}

/* the CPU time (user + system) the process @pid has used, in clock ticks */
static guint64
cpu_ticks (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after;

  if (!g_file_get_contents (path, &stat, NULL, NULL) || (after = strrchr (stat, ')')) == NULL)
    return 0;
  fields = g_strsplit (after + 2, " ", 0);
  /* state is field 3 of stat(5); utime and stime are 14 and 15 */
  if (g_strv_length (fields) < 13)
    return 0;
  return g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10);
}

static void
test_out_of_fds (void)
{
  const char *wrapper[] = { "prlimit", "--nofile=64:64", "--", NULL };
  const char *args[] = { "--max-per-address", "1000", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  PhServer *server;
  guint64 before, spent;
  gint64 freed;
  gboolean got_in;

  ph_set_wrapper (wrapper, 1);
  server = ph_server_start_with (args, &error);
  ph_set_wrapper (NULL, 1);
  g_assert_no_error (error);
  if (server == NULL)
    return;
  /* more connections than the server has descriptors: STUN-over-TCP ones from many addresses
   * (8 each) until it runs out, then WebSocket ones */
  for (guint a = 2; a < 18; a++)
    for (guint i = 0; i < 8; i++)
      {
        g_autofree char *from = g_strdup_printf ("127.0.0.%u", a);
        GSocket *s = raw_connect (server->stun_port, from);

        if (s != NULL)
          g_ptr_array_add (held, s);
      }
  /* the STUN responder took what was left: these WebSocket ones find no descriptor */
  for (guint i = 0; i < 40; i++)
    {
      GSocket *s = raw_connect (server->port, "127.0.0.1");

      if (s != NULL)
        g_ptr_array_add (held, s);
    }
  g_assert_cmpuint (held->len, >, 100);
  /* out of descriptors with connections waiting: it waits, it does not spin */
  before = cpu_ticks (ph_proc_get_pid (server->proc));
  g_usleep (2 * G_USEC_PER_SEC);
  spent = cpu_ticks (ph_proc_get_pid (server->proc)) - before;
  g_test_message ("CPU while out of descriptors: %" G_GUINT64_FORMAT " ticks in 2 s", spent);
  g_assert_cmpuint (spent, <, (guint64) sysconf (_SC_CLK_TCK) / 4);

  /* every descriptor freed: a new client gets through within 5 s */
  g_ptr_array_set_size (held, 0);
  freed = g_get_monotonic_time ();
  got_in = registers (server, "after-the-drought");
  g_assert_true (got_in);
  g_assert_cmpint (g_get_monotonic_time () - freed, <, 5 * G_USEC_PER_SEC);
  ph_server_free (server);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
  g_test_add_func ("/integration/server-accept/half-open", test_half_open);
  g_test_add_func ("/integration/server-accept/login-timeout", test_login_timeout);
  g_test_add_func ("/integration/server-accept/per-address", test_per_address);
  g_test_add_func ("/integration/server-accept/out-of-fds", test_out_of_fds);
  return g_test_run ();
}
