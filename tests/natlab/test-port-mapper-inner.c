/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-port-mapper-inner.c: the side of test-port-mapper that runs inside the LAN host's
 * namespace: a PinholePortMapper driven by lines on stdin, reporting on stdout, and the
 * one-shot UDP sender and TCP connector the outer side starts on the server host. */
#include "test-port-mapper-inner.h"
#include "pinhole-error.h"
#include "pinhole-port-mapper.h"

#include <stdio.h>
#include <string.h>
#include <gio/gunixinputstream.h>

/* Lines on stdout:
 *   mapped <id> <kind> <udp|tcp> <ext-addr> <ext-port> <lease> <internal-port>
 *   map-failed <domain> <code> <elapsed-ms> <message>
 *   recv udp <internal-port> <payload>   accept tcp <internal-port>
 *   changed <id> <ext-port>   lost <id> <message>   shutdown ok|<message>
 * Commands on stdin:
 *   map <udp|tcp> <lease> <all|upnp|pcp|nat-pmp> [cancel-after-ms]
 *   shutdown | summary | dispose (drops the mapper unshut, makes a new one) | quit */

typedef struct
{
  PinholePortMapper *mapper;
  GDataInputStream  *in;
  GMainLoop         *loop;
  GPtrArray         *keep;    /* sockets, services, sources */
} Inner;

static void
say (const char *format,
     ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format,
     ...)
{
  va_list ap;

  va_start (ap, format);
  vprintf (format, ap);
  va_end (ap);
  putchar ('\n');
  fflush (stdout);
}

typedef struct
{
  guint16 port;
  gint64  start_us;
} MapCall;

static void
inner_map_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autofree MapCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholePortMapping) m = NULL;
  gint64 elapsed_ms = (g_get_monotonic_time () - call->start_us) / 1000;

  m = pinhole_port_mapper_map_finish (PINHOLE_PORT_MAPPER (source), result, &error);
  if (m == NULL)
    {
      say ("map-failed %s %d %" G_GINT64_FORMAT " %s", g_quark_to_string (error->domain),
           error->code, elapsed_ms, error->message);
      return;
    }
  {
    g_autofree char *ext = m->external_address ? g_inet_address_to_string (m->external_address)
                                               : g_strdup ("-");
    say ("mapped %u %s %s %s %u %u %u", m->id, pinhole_path_kind_to_string (m->kind),
         m->protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP ? "tcp" : "udp", ext, m->external_port,
         m->lifetime_s, m->internal_port);
    if (m->reason != NULL)
      g_printerr ("inner: mapping reason: %s\n", m->reason);
  }
}

static gboolean
udp_readable_cb (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  char buf[256];
  gssize n = g_socket_receive (socket, buf, sizeof buf - 1, NULL, NULL);

  if (n >= 0)
    {
      buf[n] = '\0';
      g_strdelimit (buf, "\r\n ", '_');
      say ("recv udp %u %s", GPOINTER_TO_UINT (user_data), buf);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
tcp_incoming_cb (GSocketService    *service,
                 GSocketConnection *connection,
                 GObject           *source_object,
                 gpointer           user_data)
{
  say ("accept tcp %u", GPOINTER_TO_UINT (user_data));
  return FALSE;
}

/* a socket on a free port of every local address, kept open until exit */
static guint16
inner_open_port (Inner      *inner,
                 gboolean    tcp,
                 GError    **error)
{
  if (tcp)
    {
      GSocketService *service = g_socket_service_new ();
      guint16 port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL,
                                                          error);

      if (port == 0)
        {
          g_object_unref (service);
          return 0;
        }
      g_signal_connect (service, "incoming", G_CALLBACK (tcp_incoming_cb),
                        GUINT_TO_POINTER (port));
      g_socket_service_start (service);
      g_ptr_array_add (inner->keep, service);
      return port;
    }
  else
    {
      g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                                G_SOCKET_PROTOCOL_UDP, error);
      g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) bind_to = g_inet_socket_address_new (any, 0);
      g_autoptr(GSocketAddress) local = NULL;
      GSource *source;
      guint16 port;

      if (socket == NULL || !g_socket_bind (socket, bind_to, FALSE, error))
        return 0;
      local = g_socket_get_local_address (socket, error);
      if (local == NULL)
        return 0;
      port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
      source = g_socket_create_source (socket, G_IO_IN, NULL);
      g_source_set_callback (source, (GSourceFunc) (void (*) (void)) udp_readable_cb,
                             GUINT_TO_POINTER (port), NULL);
      g_source_attach (source, NULL);
      g_ptr_array_add (inner->keep, g_steal_pointer (&socket));
      g_ptr_array_add (inner->keep, source);
      return port;
    }
}

static void
keep_free (gpointer p)
{
  if (G_IS_OBJECT (p))
    g_object_unref (p);
  else
    {
      g_source_destroy (p);
      g_source_unref (p);
    }
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void               inner_read_next  (Inner *inner);
static PinholePortMapper *inner_new_mapper (void);

static void
inner_shutdown_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Inner *inner = user_data;
  g_autoptr(GError) error = NULL;

  if (pinhole_port_mapper_shutdown_finish (PINHOLE_PORT_MAPPER (source), result, &error))
    say ("shutdown ok");
  else
    say ("shutdown %s", error->message);
  inner_read_next (inner);
}

static void
inner_command (Inner      *inner,
               const char *line)
{
  g_auto(GStrv) w = g_strsplit (line, " ", -1);
  guint n = g_strv_length (w);

  if (n >= 4 && g_str_equal (w[0], "map"))
    {
      g_autoptr(GError) error = NULL;
      gboolean tcp = g_str_equal (w[1], "tcp");
      MapCall *call = g_new0 (MapCall, 1);
      g_autoptr(GCancellable) cancellable = NULL;
      PinholePortMapMethods methods = PINHOLE_PORT_MAP_METHOD_ALL;

      if (g_str_equal (w[3], "upnp"))
        methods = PINHOLE_PORT_MAP_METHOD_UPNP;
      else if (g_str_equal (w[3], "nat-pmp"))
        methods = PINHOLE_PORT_MAP_METHOD_NAT_PMP;
      else if (g_str_equal (w[3], "pcp"))
        methods = PINHOLE_PORT_MAP_METHOD_PCP;
      pinhole_port_mapper_set_methods (inner->mapper, methods);

      call->port = inner_open_port (inner, tcp, &error);
      if (call->port == 0)
        {
          say ("map-failed local 0 0 %s", error->message);
          g_free (call);
          inner_read_next (inner);
          return;
        }
      if (n >= 5)
        {
          cancellable = g_cancellable_new ();
          g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) g_ascii_strtoull (w[4], NULL, 10),
                              cancel_cb, g_object_ref (cancellable), g_object_unref);
        }
      call->start_us = g_get_monotonic_time ();
      pinhole_port_mapper_map_async (inner->mapper,
                                     tcp ? PINHOLE_PORT_MAP_PROTOCOL_TCP
                                         : PINHOLE_PORT_MAP_PROTOCOL_UDP,
                                     call->port, NULL, (guint) g_ascii_strtoull (w[2], NULL, 10),
                                     cancellable, inner_map_cb, call);
      inner_read_next (inner);
    }
  else if (n >= 1 && g_str_equal (w[0], "shutdown"))
    pinhole_port_mapper_shutdown_async (inner->mapper, NULL, inner_shutdown_cb, inner);
  else if (n >= 1 && g_str_equal (w[0], "dispose"))
    {
      g_object_unref (inner->mapper);
      inner->mapper = inner_new_mapper ();
      say ("disposed");
      inner_read_next (inner);
    }
  else if (n >= 1 && g_str_equal (w[0], "summary"))
    {
      g_autofree char *s = pinhole_port_mapper_dup_summary (inner->mapper);
      say ("summary %s", s);
      inner_read_next (inner);
    }
  else
    g_main_loop_quit (inner->loop);
}

static void
inner_line_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Inner *inner = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                                result, NULL, NULL);

  if (line == NULL)
    {
      g_main_loop_quit (inner->loop);
      return;
    }
  inner_command (inner, line);
}

static void
inner_read_next (Inner *inner)
{
  g_data_input_stream_read_line_async (inner->in, G_PRIORITY_DEFAULT, NULL, inner_line_cb,
                                       inner);
}

static void
mapping_changed_cb (PinholePortMapper  *mapper,
                    PinholePortMapping *m,
                    gpointer            user_data)
{
  say ("changed %u %u", m->id, m->external_port);
}

static void
mapping_lost_cb (PinholePortMapper  *mapper,
                 PinholePortMapping *m,
                 const GError       *error,
                 gpointer           user_data)
{
  say ("lost %u %s", m->id, error->message);
}

static PinholePortMapper *
inner_new_mapper (void)
{
  PinholePortMapper *mapper = pinhole_port_mapper_new ();

  g_signal_connect (mapper, "mapping-changed", G_CALLBACK (mapping_changed_cb), NULL);
  g_signal_connect (mapper, "mapping-lost", G_CALLBACK (mapping_lost_cb), NULL);
  return mapper;
}

int
inner_main (void)
{
  Inner inner = { 0 };
  g_autoptr(GInputStream) stdin_stream = g_unix_input_stream_new (0, FALSE);

  inner.mapper = inner_new_mapper ();
  inner.in = g_data_input_stream_new (stdin_stream);
  inner.loop = g_main_loop_new (NULL, FALSE);
  inner.keep = g_ptr_array_new_with_free_func (keep_free);
  say ("ready");
  inner_read_next (&inner);
  g_main_loop_run (inner.loop);

  g_clear_object (&inner.mapper);
  g_ptr_array_unref (inner.keep);
  g_object_unref (inner.in);
  g_main_loop_unref (inner.loop);
  return 0;
}

/* ======== helpers run in the server namespace ======== */

int
send_udp_main (const char *host,
               const char *port,
               const char *payload)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new_from_string (host,
                                                                        atoi (port));

  if (socket == NULL || to == NULL
      || g_socket_send_to (socket, to, payload, strlen (payload), NULL, &error) < 0)
    {
      g_printerr ("send-udp: %s\n", error ? error->message : "bad address");
      return 1;
    }
  return 0;
}

int
connect_tcp_main (const char *host,
                  const char *port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;

  g_socket_client_set_timeout (client, 3);
  /* straight to the address: no proxy settings of the machine, and no libproxy */
  g_socket_client_set_enable_proxy (client, FALSE);
  connection = g_socket_client_connect_to_host (client, host, (guint16) atoi (port), NULL,
                                                &error);
  if (connection == NULL)
    {
      g_printerr ("connect-tcp %s:%s: %s\n", host, port, error->message);
      return 1;
    }
  return 0;
}
