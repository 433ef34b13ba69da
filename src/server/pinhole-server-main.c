/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-main.c: the pinhole-server program: options, storage, listeners, and a
 * clean shutdown on SIGINT/SIGTERM. */
#define G_LOG_DOMAIN "pinhole-server"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "pinhole-server.h"
#include "pinhole-server-log.h"
#include "pinhole-sqlite-store.h"
#include "pinhole-stun-responder.h"

#define DEFAULT_LISTEN "127.0.0.1:7300"
#define DEFAULT_STUN_PORT 3478
#define SHUTDOWN_GRACE_MS 2000
/* descriptors kept out of the connection cap: the database and its WAL, the STUN sockets, the
 * listeners, the log */
#define FDS_KEPT 32

typedef struct
{
  GMainLoop     *loop;
  PinholeServer *server;
  gboolean       stopping;
  gint64         deadline;
} Run;

static gboolean
drain_cb (gpointer user_data)
{
  Run *run = user_data;

  if (pinhole_server_get_n_connections (run->server) == 0 ||
      g_get_monotonic_time () > run->deadline)
    {
      g_main_loop_quit (run->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
stop_cb (gpointer user_data)
{
  Run *run = user_data;

  if (run->stopping)
    {
      g_main_loop_quit (run->loop);
      return G_SOURCE_CONTINUE;
    }
  run->stopping = TRUE;
  g_message ("shutting down");
  pinhole_server_shutdown (run->server);
  run->deadline = g_get_monotonic_time () + SHUTDOWN_GRACE_MS * 1000;
  g_timeout_add (20, drain_cb, run);
  return G_SOURCE_CONTINUE;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT"; Returns: (transfer full) */
static GInetSocketAddress *
parse_listen (const char *text,
              GError    **error)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (text, ':');
  guint64 port;
  g_autoptr(GInetAddress) address = NULL;

  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--listen %s: expected HOST:PORT", text);
      return NULL;
    }
  host = g_strndup (text, colon - text);
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);
      g_free (host);
      host = inner;
    }
  address = host[0] == '\0' ? g_inet_address_new_any (G_SOCKET_FAMILY_IPV4)
                            : g_inet_address_new_from_string (host);
  if (address == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--listen %s: \"%s\" is not an IP address", text, host);
      return NULL;
    }
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address, (guint16) port));
}

/* raises the soft limit on open files to the hard one, and returns how many connections fit
 * under it with room for the database, the STUN sockets and the log */
static guint
connections_the_fds_allow (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return G_MAXUINT;
  if (rl.rlim_cur < rl.rlim_max)
    {
      rlim_t want = rl.rlim_max;

      rl.rlim_cur = want;
      if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
        getrlimit (RLIMIT_NOFILE, &rl);
    }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > G_MAXUINT)
    return G_MAXUINT;
  return rl.rlim_cur > FDS_KEPT ? (guint) (rl.rlim_cur - FDS_KEPT) : 1;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *listen = NULL;
  g_autofree char *db = NULL;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *metrics = NULL;
  gboolean log_json = FALSE;
  g_autoptr(GInetSocketAddress) metrics_address = NULL;
  gint stun_port = DEFAULT_STUN_PORT;
  gint max_offline = 0;
  gint max_per_address = 0;
  gint max_offline_per_sender = 0;
  gint offline_days = 0;
  gint max_receipts = 0;
  gint handshake_timeout = 0;
  gint max_devices = 0;
  gint max_registrations = 0;
  gint token_days = 0;
  gint stall_timeout = 0;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
      "WebSocket address (default " DEFAULT_LISTEN "; use :443 where only HTTPS gets out)",
      "HOST:PORT" },
    { "stun-port", 's', 0, G_OPTION_ARG_INT, &stun_port,
      "STUN port on UDP and TCP, and the next one, same host (default 3478; 0 picks; -1: none)",
      "PORT" },
    { "db", 'd', 0, G_OPTION_ARG_FILENAME, &db,
      "SQLite database (default: the user data folder)", "FILE" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "PEM certificate: serve wss://",
      "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "PEM private key of --tls-cert",
      "FILE" },
    { "max-offline", 0, 0, G_OPTION_ARG_INT, &max_offline,
      "sealed messages kept for one offline device (default 1000)", "N" },
    { "max-offline-per-sender", 0, 0, G_OPTION_ARG_INT, &max_offline_per_sender,
      "of those, from one sender (default 250)", "N" },
    { "offline-days", 0, 0, G_OPTION_ARG_INT, &offline_days,
      "days a sealed message, or a receipt, waits before it is dropped (default 30)", "N" },
    { "max-receipts", 0, 0, G_OPTION_ARG_INT, &max_receipts,
      "receipts kept for one offline device of their messages' sender; the oldest beyond go "
      "(default 1000)", "N" },
    { "max-per-address", 0, 0, G_OPTION_ARG_INT, &max_per_address,
      "connections open at once from one address (default 256; raise it behind a reverse "
      "proxy, whose address every client has)", "N" },
    { "handshake-timeout", 0, 0, G_OPTION_ARG_INT, &handshake_timeout,
      "seconds a connection has to open its WebSocket, and then to log in (default 10)", "S" },
    { "max-devices", 0, 0, G_OPTION_ARG_INT, &max_devices,
      "devices one account may have (default 16)", "N" },
    { "max-registrations", 0, 0, G_OPTION_ARG_INT, &max_registrations,
      "accounts one address may create within an hour before each further one waits "
      "(default 20; raise it behind a reverse proxy)", "N" },
    { "token-days", 0, 0, G_OPTION_ARG_INT, &token_days,
      "days a device's login token lasts unless it logs in (it gets a new one daily; "
      "default 90)", "N" },
    { "stall-timeout", 0, 0, G_OPTION_ARG_INT, &stall_timeout,
      "seconds a client with more than 256 KiB waiting for it may take nothing before it is "
      "closed (default 10)", "S" },
    { "metrics", 0, 0, G_OPTION_ARG_STRING, &metrics,
      "serve /metrics (Prometheus) and /healthz over HTTP here (default: no metrics)",
      "HOST:PORT" },
    { "log-json", 0, 0, G_OPTION_ARG_NONE, &log_json,
      "write the log to standard error as one JSON object per line", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(PinholeStore) store = NULL;
  g_autoptr(PinholeServer) server = NULL;
  g_autoptr(PinholeStunResponder) stun = NULL;
  g_autoptr(PinholeStunResponder) stun_alt = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *address_text = NULL;
  PinholeServerLimits limits;
  Run run = { 0 };

  setlocale (LC_ALL, "");
  context = g_option_context_new ("- Pinhole rendezvous, relay and STUN server");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    goto fail;
  if (log_json)
    pinhole_server_log_use_json ();
  if (version)
    {
      printf ("pinhole-server %s\n", PINHOLE_VERSION);
      return 0;
    }
  if ((tls_cert == NULL) != (tls_key == NULL))
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--tls-cert and --tls-key go together");
      goto fail;
    }
  if (stun_port > 65535 || stun_port < -1)
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--stun-port %d is not a port", stun_port);
      goto fail;
    }

  address = parse_listen (listen ? listen : DEFAULT_LISTEN, &error);
  if (address == NULL)
    goto fail;
  if (metrics != NULL && (metrics_address = parse_listen (metrics, &error)) == NULL)
    goto fail;
  if (tls_cert != NULL &&
      (certificate = g_tls_certificate_new_from_files (tls_cert, tls_key, &error)) == NULL)
    goto fail;
  if (db == NULL)
    db = g_build_filename (g_get_user_data_dir (), "pinhole-server", "pinhole.db", NULL);
  store = pinhole_sqlite_store_open (db, &error);
  if (store == NULL)
    goto fail;

  pinhole_server_limits_init_default (&limits);
  if (max_offline > 0)
    limits.max_offline_per_device = (guint) max_offline;
  if (max_per_address > 0)
    limits.max_per_address = (guint) max_per_address;
  if (max_offline_per_sender > 0)
    limits.max_offline_per_sender = (guint) max_offline_per_sender;
  if (offline_days > 0)
    limits.offline_days = (guint) offline_days;
  if (max_receipts > 0)
    limits.max_receipts_per_device = (guint) max_receipts;
  if (handshake_timeout > 0)
    limits.handshake_timeout_s = (guint) handshake_timeout;
  if (max_devices > 0)
    limits.max_devices = (guint) max_devices;
  if (max_registrations > 0)
    limits.max_registrations = (guint) max_registrations;
  if (token_days > 0)
    limits.token_days = (guint) token_days;
  if (stall_timeout > 0)
    limits.stall_timeout_s = (guint) stall_timeout;
  limits.max_connections = MIN (limits.max_connections, connections_the_fds_allow ());
  server = pinhole_server_new (store, &limits);
  if (!pinhole_server_listen (server, address, certificate, &error))
    goto fail;
  if (metrics_address != NULL &&
      !pinhole_server_listen_metrics (server, metrics_address, &error))
    goto fail;

  if (stun_port >= 0)
    {
      stun = pinhole_stun_responder_new ();
      if (!pinhole_stun_responder_listen (stun, g_inet_socket_address_get_address (address),
                                          (guint16) stun_port, &error))
        goto fail;
      /* a second port, so that clients can tell endpoint-independent from endpoint-dependent
       * NAT mapping (RFC 5780 §4.3): the next port when given one, any free port otherwise */
      stun_alt = pinhole_stun_responder_new ();
      if (!pinhole_stun_responder_listen (stun_alt, g_inet_socket_address_get_address (address),
                                          stun_port > 0 && stun_port < 65535
                                          ? (guint16) (stun_port + 1) : 0, &error))
        goto fail;
      pinhole_server_set_stun_ports (server, pinhole_stun_responder_get_udp_port (stun),
                                     pinhole_stun_responder_get_udp_port (stun_alt));
    }

  /* tests and scripts read these two lines to learn the ports */
  address_text = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  printf ("pinhole-server %s listening on %s://%s%s%s:%u%s\n", PINHOLE_VERSION,
          certificate ? "wss" : "ws",
          strchr (address_text, ':') ? "[" : "", address_text,
          strchr (address_text, ':') ? "]" : "", pinhole_server_get_port (server),
          "/pinhole");
  if (stun != NULL)
    printf ("stun on %s port %u and %u (udp and tcp)\n", address_text,
            pinhole_stun_responder_get_udp_port (stun),
            pinhole_stun_responder_get_udp_port (stun_alt));
  printf ("database %s\n", db);
  if (metrics_address != NULL)
    {
      g_autofree char *metrics_host = g_inet_address_to_string (
        g_inet_socket_address_get_address (metrics_address));

      printf ("metrics on http://%s%s%s:%u/metrics\n", strchr (metrics_host, ':') ? "[" : "",
              metrics_host, strchr (metrics_host, ':') ? "]" : "",
              pinhole_server_get_metrics_port (server));
    }
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  run.loop = loop;
  run.server = server;
  g_unix_signal_add (SIGINT, stop_cb, &run);
  g_unix_signal_add (SIGTERM, stop_cb, &run);
  g_main_loop_run (loop);
  return 0;

fail:
  fprintf (stderr, "pinhole-server: %s\n", error->message);
  return 1;
}
