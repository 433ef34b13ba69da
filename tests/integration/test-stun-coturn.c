/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-stun-coturn.c: our STUN Binding client against a real coturn (Debian's turnserver) on
 * 127.0.0.1, over UDP and TCP; coturn is started per test and stopped by its PID. */
#include "pinhole-error.h"
#include "pinhole-stun-client.h"
#include "../pinhole-test-missing.h"
#include "pinhole-test-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#define TURNSERVER    "/usr/bin/turnserver"
#define READY_MS      15000
#define STOP_MS       5000
#define WAIT_MS       10000

typedef struct
{
  GSubprocess *turnserver;
  char        *tmpdir;
  char        *missing;     /* why coturn cannot run here, or NULL */
  guint16      port;
  gboolean     exited;
} Fixture;

static GSocketAddress *
loopback_address (guint16 port)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_from_string ("127.0.0.1");

  return g_inet_socket_address_new (lo, port);
}

/* a port free for both UDP and TCP right now; coturn binds it a moment later */
static guint16
free_port (void)
{
  for (guint attempt = 0; attempt < 32; attempt++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) udp = NULL;
      g_autoptr(GSocket) tcp = NULL;
      g_autoptr(GSocketAddress) any = loopback_address (0);
      g_autoptr(GSocketAddress) local = NULL;
      g_autoptr(GSocketAddress) same = NULL;
      guint16 port;

      udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                          &error);
      g_assert_no_error (error);
      g_assert_true (g_socket_bind (udp, any, FALSE, &error));
      local = g_socket_get_local_address (udp, &error);
      g_assert_no_error (error);
      port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
      tcp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                          &error);
      g_assert_no_error (error);
      same = loopback_address (port);
      if (g_socket_bind (tcp, same, TRUE, NULL))
        return port;
    }
  g_error ("no free port for both UDP and TCP on 127.0.0.1");
  return 0;
}

static void
exited_cb (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  Fixture *f = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  f->exited = TRUE;
}

typedef struct
{
  gboolean                 done;
  PinholeStunClientResult *result;
  GError                  *error;
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_clear_pointer (&o->result, pinhole_stun_client_result_free);
  g_clear_error (&o->error);
  o->done = FALSE;
}

static void
udp_done_cb (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  Outcome *o = user_data;

  o->result = pinhole_stun_client_binding_udp_finish (res, &o->error);
  o->done = TRUE;
}

static void
tcp_done_cb (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  Outcome *o = user_data;

  o->result = pinhole_stun_client_binding_tcp_finish (res, &o->error);
  o->done = TRUE;
}

/* in the child before exec: should this test process die without its teardown, coturn goes
 * too */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(PinholeStunClientOptions) options = NULL;
  g_autoptr(GSocketAddress) server = NULL;
  g_autofree char *port_arg = NULL;
  g_autofree char *pid_arg = NULL;
  g_autofree char *log_path = NULL;
  gint64 deadline;
  gboolean answered = FALSE;

  if (!g_file_test (TURNSERVER, G_FILE_TEST_IS_EXECUTABLE))
    {
      f->missing = g_strdup (TURNSERVER " (Debian package coturn) is not installed");
      return;
    }

  f->tmpdir = g_dir_make_tmp ("pinhole-coturn-XXXXXX", &error);
  g_assert_no_error (error);
  f->port = free_port ();
  port_arg = g_strdup_printf ("--listening-port=%u", f->port);
  pid_arg = g_strdup_printf ("--pidfile=%s/turn.pid", f->tmpdir);
  log_path = g_build_filename (f->tmpdir, "turn.log", NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
  g_subprocess_launcher_set_cwd (launcher, f->tmpdir);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  f->turnserver = g_subprocess_launcher_spawn (launcher, &error, TURNSERVER, "-n",
                                               "--listening-ip=127.0.0.1", port_arg,
                                               "--no-tls", "--no-dtls", "--stun-only",
                                               "--no-cli", "--no-auth", "--log-file=stdout",
                                               "--simple-log", pid_arg, NULL);
  g_assert_no_error (error);
  if (f->turnserver == NULL)
    return;
  g_subprocess_wait_async (f->turnserver, NULL, exited_cb, f);
  g_test_message ("coturn pid %s on 127.0.0.1:%u, log %s",
                  g_subprocess_get_identifier (f->turnserver), f->port, log_path);

  /* bounded wait until coturn answers a Binding request over UDP */
  options = pinhole_stun_client_options_new ();
  options->rto_ms = 50;
  options->rc = 4;
  server = loopback_address (f->port);
  deadline = g_get_monotonic_time () + READY_MS * G_TIME_SPAN_MILLISECOND;
  while (!answered && !f->exited && g_get_monotonic_time () < deadline)
    {
      Outcome o = { 0 };

      pinhole_stun_client_binding_udp_async (NULL, server, options, NULL, udp_done_cb, &o);
      ph_wait_flag (&o.done, WAIT_MS);
      g_assert_true (o.done);
      if (!o.done)
        return;
      answered = o.result != NULL;
      outcome_clear (&o);
    }
  if (!answered)
    {
      g_autofree char *log = NULL;

      g_file_get_contents (log_path, &log, NULL, NULL);
      g_test_message ("coturn log:\n%s", log != NULL ? log : "(none)");
    }
  g_assert_false (f->exited);
  g_assert_true (answered);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->turnserver != NULL)
    {
      if (!f->exited)
        {
          g_subprocess_send_signal (f->turnserver, SIGTERM);
          if (!ph_wait_flag (&f->exited, STOP_MS))
            {
              g_test_message ("coturn ignored SIGTERM; killing it");
              g_subprocess_force_exit (f->turnserver);
              ph_wait_flag (&f->exited, STOP_MS);
            }
        }
      g_assert_true (f->exited);
      g_clear_object (&f->turnserver);
    }
  ph_remove_tree (f->tmpdir);
  g_clear_pointer (&f->tmpdir, g_free);
  g_clear_pointer (&f->missing, g_free);
}

/* TRUE when the test may go on; a missing coturn fails the test (pinhole-test-missing.h) */
static gboolean
have_coturn (Fixture *f)
{
  /* a failed assertion in the setup: the test is failed already, teardown stops coturn */
  if (g_test_failed ())
    return FALSE;
  if (f->missing == NULL)
    return TRUE;
  ph_test_missing (f->missing);
  return FALSE;
}

static void
assert_mapped (PinholeStunClientResult *result,
               guint16                  port)
{
  g_autofree char *ip = NULL;

  g_assert_nonnull (result->mapped_address);
  if (result->mapped_address == NULL)
    return;
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (result->mapped_address));
  g_assert_cmpstr (ip, ==, "127.0.0.1");
  g_assert_cmpuint (g_inet_socket_address_get_port (result->mapped_address), ==, port);
}

static void
test_udp (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) any = loopback_address (0);
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) server = NULL;
  Outcome o = { 0 };

  if (!have_coturn (f))
    return;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                         &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  local = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  server = loopback_address (f->port);

  pinhole_stun_client_binding_udp_async (socket, server, NULL, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  if (o.result == NULL)
    return;
  assert_mapped (o.result, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  /* coturn names the address it answered from (RFC 5780 §7.3) */
  g_assert_nonnull (o.result->response_origin);
  if (o.result->response_origin != NULL)
    g_assert_cmpuint (g_inet_socket_address_get_port (o.result->response_origin), ==, f->port);
  outcome_clear (&o);
}

static void
test_tcp (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(GSocketAddress) server = NULL;
  Outcome o = { 0 };

  if (!have_coturn (f))
    return;

  server = loopback_address (f->port);
  pinhole_stun_client_binding_tcp_async (server, NULL, NULL, tcp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  if (o.result == NULL)
    return;
  g_assert_nonnull (o.result->local_address);
  if (o.result->local_address == NULL)
    return;
  assert_mapped (o.result, g_inet_socket_address_get_port (o.result->local_address));
  outcome_clear (&o);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* a failed check must still reach the teardown that stops coturn */
  g_test_set_nonfatal_assertions ();

  g_test_add ("/stun/coturn/udp", Fixture, NULL, fixture_setup, test_udp, fixture_teardown);
  g_test_add ("/stun/coturn/tcp", Fixture, NULL, fixture_setup, test_tcp, fixture_teardown);

  return g_test_run ();
}
