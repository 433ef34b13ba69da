/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-natlab-helper.c: the traffic helper test-natlab runs inside the lab's namespaces as
 * `test-natlab --helper MODE ...`: UDP and TCP echo, probes that report who answered, and
 * UDP round-trip times. */
#include "test-natlab-helper.h"

#include <gio/gio.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static GInetSocketAddress *
parse_endpoint (const char *text)
{
  g_autoptr(GSocketConnectable) c = g_network_address_parse (text, 0, NULL);
  g_autoptr(GInetAddress) addr = NULL;
  const char *colon = strrchr (text, ':');
  g_autofree char *host = NULL;

  if (c == NULL || colon == NULL)
    return NULL;
  host = g_strndup (text, colon - text);
  addr = g_inet_address_new_from_string (host);
  if (addr == NULL)
    return NULL;
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (addr,
                                                           (guint16) atoi (colon + 1)));
}

static char *
endpoint_string (GSocketAddress *a)
{
  GInetSocketAddress *in = G_INET_SOCKET_ADDRESS (a);
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (in));

  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (in));
}

static GSocket *
bound_socket (GSocketType  type,
              const char  *ip,
              guint16      port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) addr = g_inet_address_new_from_string (ip);
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (addr, port);
  GSocket *s;

  s = g_socket_new (G_SOCKET_FAMILY_IPV4, type, G_SOCKET_PROTOCOL_DEFAULT, &error);
  if (s == NULL || !g_socket_bind (s, sa, TRUE, &error))
    {
      g_printerr ("helper: bind %s:%u: %s\n", ip, port, error->message);
      exit (1);
    }
  return s;
}

/* replies to every datagram with the source address it came from */
static int
helper_udp_echo (const char *ip,
                 guint16     port)
{
  g_autoptr(GSocket) s = bound_socket (G_SOCKET_TYPE_DATAGRAM, ip, port);

  g_print ("ready\n");
  for (;;)
    {
      g_autoptr(GSocketAddress) from = NULL;
      g_autofree char *text = NULL;
      char buf[1500];
      gssize n;

      n = g_socket_receive_from (s, &from, buf, sizeof buf - 1, NULL, NULL);
      if (n < 0)
        continue;
      buf[n] = '\0';
      /* "probe 17" comes back as "probe 17 from IP:PORT" */
      text = g_strdup_printf ("%s from %s", buf, endpoint_string (from));
      g_socket_send_to (s, from, text, strlen (text), NULL, NULL);
    }
  return 0;
}

/* writes the peer's address to every connection and closes it */
static int
helper_tcp_echo (const char *ip,
                 guint16     port)
{
  g_autoptr(GSocket) s = bound_socket (G_SOCKET_TYPE_STREAM, ip, port);

  if (!g_socket_listen (s, NULL))
    return 1;
  g_print ("ready\n");
  for (;;)
    {
      g_autoptr(GSocket) c = g_socket_accept (s, NULL, NULL);
      g_autoptr(GSocketAddress) peer = NULL;
      g_autofree char *text = NULL;
      g_autofree char *peer_text = NULL;

      if (c == NULL)
        continue;
      peer = g_socket_get_remote_address (c, NULL);
      if (peer == NULL)
        continue;
      peer_text = endpoint_string (peer);
      text = g_strdup_printf ("from %s\n", peer_text);
      g_socket_send (c, text, strlen (text), NULL, NULL);
      g_socket_close (c, NULL);
    }
  return 0;
}

/* from one socket, one probe to each destination, a few tries each; prints
 * "DEST from IP:PORT" or "DEST none" per destination */
static int
helper_udp_probe (guint16     local_port,
                  int         n_dests,
                  char      **dests)
{
  g_autoptr(GSocket) s = bound_socket (G_SOCKET_TYPE_DATAGRAM, "0.0.0.0", local_port);
  int i;

  for (i = 0; i < n_dests; i++)
    {
      g_autoptr(GInetSocketAddress) dest = parse_endpoint (dests[i]);
      gboolean got = FALSE;
      int attempt;

      if (dest == NULL)
        return 2;
      for (attempt = 0; attempt < 8 && !got; attempt++)
        {
          gint64 deadline = g_get_monotonic_time () + 250 * 1000;

          g_socket_send_to (s, G_SOCKET_ADDRESS (dest), "probe", 5, NULL, NULL);
          while (!got)
            {
              g_autoptr(GSocketAddress) from = NULL;
              g_autofree char *from_text = NULL;
              char buf[1500];
              gint64 left = deadline - g_get_monotonic_time ();
              gssize n;

              if (left <= 0 || !g_socket_condition_timed_wait (s, G_IO_IN, left, NULL, NULL))
                break;
              n = g_socket_receive_from (s, &from, buf, sizeof buf - 1, NULL, NULL);
              if (n <= 0)
                continue;
              buf[n] = '\0';
              from_text = endpoint_string (from);
              if (g_str_equal (from_text, dests[i]) && g_str_has_prefix (buf, "probe from "))
                {
                  g_print ("%s %s\n", dests[i], buf + strlen ("probe "));
                  got = TRUE;
                }
            }
        }
      if (!got)
        g_print ("%s none\n", dests[i]);
    }
  return 0;
}

/* connects within timeout_ms and prints the echo's line, or "none: reason" */
static int
helper_tcp_probe (const char *dest_text,
                  guint       timeout_ms)
{
  g_autoptr(GInetSocketAddress) dest = parse_endpoint (dest_text);
  g_autoptr(GSocket) s = NULL;
  g_autoptr(GError) error = NULL;
  char buf[256];
  gssize n;

  if (dest == NULL)
    return 2;
  s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_socket_set_timeout (s, (timeout_ms + 999) / 1000);
  if (!g_socket_connect (s, G_SOCKET_ADDRESS (dest), NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING) ||
          !g_socket_condition_timed_wait (s, G_IO_OUT, (gint64) timeout_ms * 1000, NULL, NULL) ||
          !g_socket_check_connect_result (s, NULL))
        {
          g_print ("none: %s\n", error->message);
          return 0;
        }
    }
  n = g_socket_receive (s, buf, sizeof buf - 1, NULL, &error);
  if (n <= 0)
    {
      g_print ("none: %s\n", error ? error->message : "closed");
      return 0;
    }
  buf[n] = '\0';
  g_print ("%s", buf);
  return 0;
}

static int
cmp_double (gconstpointer a,
            gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* count numbered probes spaced interval_ms apart; prints
 * "sent N received M min X median Y" (milliseconds) */
static int
helper_udp_rtt (const char *dest_text,
                guint       count,
                guint       interval_ms)
{
  g_autoptr(GInetSocketAddress) dest = parse_endpoint (dest_text);
  g_autoptr(GSocket) s = bound_socket (G_SOCKET_TYPE_DATAGRAM, "0.0.0.0", 0);
  g_autofree gint64 *sent_at = g_new0 (gint64, count);
  g_autofree gboolean *seen = g_new0 (gboolean, count);
  g_autoptr(GArray) rtts = g_array_new (FALSE, FALSE, sizeof (double));
  guint next = 0;
  gint64 next_at = g_get_monotonic_time ();
  gint64 end = 0;

  if (dest == NULL)
    return 2;
  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      gint64 wake;

      if (next < count && now >= next_at)
        {
          char text[32];

          g_snprintf (text, sizeof text, "%u", next);
          sent_at[next] = now;
          g_socket_send_to (s, G_SOCKET_ADDRESS (dest), text, strlen (text), NULL, NULL);
          next++;
          next_at += (gint64) interval_ms * 1000;
          if (next == count)
            end = now + 1500 * 1000;   /* late replies still count */
        }
      if (next == count && now >= end)
        break;
      wake = next < count ? next_at : end;
      if (wake > now && g_socket_condition_timed_wait (s, G_IO_IN, wake - now, NULL, NULL))
        {
          char buf[256];
          gssize n = g_socket_receive (s, buf, sizeof buf - 1, NULL, NULL);
          guint64 seq;
          char *stop;

          if (n <= 0)
            continue;
          buf[n] = '\0';
          seq = g_ascii_strtoull (buf, &stop, 10);
          if (stop != buf && seq < next && !seen[seq])
            {
              double ms = (g_get_monotonic_time () - sent_at[seq]) / 1000.0;

              seen[seq] = TRUE;
              g_array_append_val (rtts, ms);
            }
        }
    }
  g_array_sort (rtts, cmp_double);
  g_print ("sent %u received %u min %.2f median %.2f\n", count, rtts->len,
           rtts->len ? g_array_index (rtts, double, 0) : -1.0,
           rtts->len ? g_array_index (rtts, double, rtts->len / 2) : -1.0);
  return 0;
}

int
natlab_helper_main (int    argc,
                    char **argv)
{
  const char *mode = argv[2];

  if (g_str_equal (mode, "udp-echo") && argc == 5)
    return helper_udp_echo (argv[3], (guint16) atoi (argv[4]));
  if (g_str_equal (mode, "tcp-echo") && argc == 5)
    return helper_tcp_echo (argv[3], (guint16) atoi (argv[4]));
  if (g_str_equal (mode, "udp-probe") && argc >= 5)
    return helper_udp_probe ((guint16) atoi (argv[3]), argc - 4, argv + 4);
  if (g_str_equal (mode, "tcp-probe") && argc == 5)
    return helper_tcp_probe (argv[3], (guint) atoi (argv[4]));
  if (g_str_equal (mode, "udp-rtt") && argc == 6)
    return helper_udp_rtt (argv[3], (guint) atoi (argv[4]), (guint) atoi (argv[5]));
  g_printerr ("helper: bad arguments\n");
  return 2;
}
