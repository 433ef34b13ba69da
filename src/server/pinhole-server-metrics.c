/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-metrics.c: what an operator's monitoring reads. `/healthz` answers 200 "ok"
 * while the server serves, on the main listener (for a load balancer: it stops accepting at
 * once when the server shuts down) and on the metrics listener, which says 503 while the
 * server drains; `/metrics` is Prometheus's text exposition format
 * (version 0.0.4), only on the metrics listener (`--metrics HOST:PORT`, off by default),
 * since the counts say how busy the server is and who may see that is the operator's choice.
 * Everything is read from the server's own tables and counters when asked: nothing here
 * runs between scrapes. */
#define G_LOG_DOMAIN "pinhole-server"

#include "pinhole-server-private.h"

static const char *const drop_reasons[PINHOLE_SERVER_N_DROPS] = {
  [PINHOLE_SERVER_DROP_MALFORMED] = "malformed",
  [PINHOLE_SERVER_DROP_NO_CHANNEL] = "no-channel",
  [PINHOLE_SERVER_DROP_WINDOW] = "window",
  [PINHOLE_SERVER_DROP_RATE] = "rate",
  [PINHOLE_SERVER_DROP_BEFORE_LOGIN] = "before-login",
};

static void
family (GString    *out,
        const char *name,
        const char *type,
        const char *help)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample (GString    *out,
        const char *name,
        const char *labels,
        guint64     value)
{
  g_string_append_printf (out, "%s%s%s%s %" G_GUINT64_FORMAT "\n", name,
                          labels != NULL ? "{" : "", labels != NULL ? labels : "",
                          labels != NULL ? "}" : "", value);
}

/* bytes queued for the clients: in their streams and behind commits */
static guint64
queued_bytes (PinholeServer *self)
{
  GHashTableIter iter;
  gpointer key;
  guint64 total = 0;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      PinholeServerConnection *c = key;

      total += pinhole_ws_stream_get_queued_bytes (c->stream) + c->outbox_bytes;
    }
  return total;
}

/* Returns: (transfer full): the metrics in Prometheus's text format */
char *
_pinhole_server_metrics_text (PinholeServer *self)
{
  const PinholeServerMetrics *m = &self->metrics;
  GString *out = g_string_new (NULL);
  char number[G_ASCII_DTOSTR_BUF_SIZE];
  const char *type;
  char *labels;

  family (out, "pinhole_build_info", "gauge", "The version of this pinhole-server.");
  sample (out, "pinhole_build_info", "version=\"" PINHOLE_VERSION "\"", 1);

  family (out, "pinhole_connections", "gauge",
          "Client connections open: before the WebSocket upgrade, and upgraded.");
  sample (out, "pinhole_connections", "state=\"handshake\"",
          g_hash_table_size (self->handshakes));
  sample (out, "pinhole_connections", "state=\"websocket\"",
          g_hash_table_size (self->connections));
  family (out, "pinhole_devices_logged_in", "gauge", "Devices logged in.");
  sample (out, "pinhole_devices_logged_in", NULL, g_hash_table_size (self->devices));
  family (out, "pinhole_relay_channels", "gauge", "Relay channels open.");
  sample (out, "pinhole_relay_channels", NULL, g_hash_table_size (self->channels));
  family (out, "pinhole_queued_bytes", "gauge",
          "Bytes waiting to be sent to clients, in all connections.");
  sample (out, "pinhole_queued_bytes", NULL, queued_bytes (self));
  family (out, "pinhole_commits_pending", "gauge", "Answers waiting for the disk.");
  sample (out, "pinhole_commits_pending", NULL, self->pending_commits);

  family (out, "pinhole_requests_total", "counter", "Requests handled, by type.");
  for (guint i = 0; (type = _pinhole_server_request_type (i)) != NULL; i++)
    {
      labels = g_strdup_printf ("type=\"%s\"", type);
      sample (out, "pinhole_requests_total", labels, m->requests[i]);
      g_free (labels);
    }
  family (out, "pinhole_relay_frames_total", "counter", "Relay frames forwarded.");
  sample (out, "pinhole_relay_frames_total", NULL, m->relay_frames);
  family (out, "pinhole_relay_bytes_total", "counter",
          "Bytes of the relay frames forwarded, channel headers included.");
  sample (out, "pinhole_relay_bytes_total", NULL, m->relay_bytes);
  family (out, "pinhole_relay_frames_dropped_total", "counter",
          "Relay frames not forwarded, by reason (the sessions retransmit).");
  for (guint i = 0; i < PINHOLE_SERVER_N_DROPS; i++)
    {
      labels = g_strdup_printf ("reason=\"%s\"", drop_reasons[i]);
      sample (out, "pinhole_relay_frames_dropped_total", labels, m->relay_dropped[i]);
      g_free (labels);
    }

  family (out, "pinhole_commit_wait_seconds", "summary",
          "How long answers that promise durability waited for the store's sync.");
  /* in the C locale's notation whatever the server's locale: "0.001234", never "0,001234" */
  g_string_append_printf (out, "pinhole_commit_wait_seconds_sum %s\n",
                          g_ascii_formatd (number, sizeof number, "%.6f",
                                           m->commit_wait_us / 1e6));
  sample (out, "pinhole_commit_wait_seconds_count", NULL, m->commits);
  family (out, "pinhole_commit_failures_total", "counter",
          "Syncs that failed: their answers said \"not done\".");
  sample (out, "pinhole_commit_failures_total", NULL, m->commit_failures);
  return g_string_free (out, FALSE);
}

void
_pinhole_server_healthz (PinholeServer     *self,
                         SoupServerMessage *msg)
{
  static const char ok[] = "ok\n";
  static const char draining[] = "shutting down\n";

  if (self->shutting_down)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, draining,
                                        sizeof draining - 1);
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, ok, sizeof ok - 1);
}

static void
metrics_cb (SoupServer        *soup,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  PinholeServer *self = user_data;
  char *text;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET &&
      soup_server_message_get_method (msg) != SOUP_METHOD_HEAD)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }
  if (g_strcmp0 (path, "/healthz") == 0)
    {
      _pinhole_server_healthz (self, msg);
      return;
    }
  if (g_strcmp0 (path, "/metrics") != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  text = _pinhole_server_metrics_text (self);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain; version=0.0.4; charset=utf-8",
                                    SOUP_MEMORY_TAKE, text, strlen (text));
}

/**
 * pinhole_server_listen_metrics:
 * @address: where to serve /metrics and /healthz over plain HTTP, usually a loopback or
 *   private address that only the monitoring reaches
 *
 * libsoup's own listener is enough here: the clients never reach this address, so none of
 * the main listener's bounds (pinhole-acceptor.c) are needed.
 */
gboolean
pinhole_server_listen_metrics (PinholeServer      *self,
                               GInetSocketAddress *address,
                               GError            **error)
{
  g_autoptr(SoupServer) soup = NULL;

  g_return_val_if_fail (self->metrics_soup == NULL, FALSE);
  soup = soup_server_new ("server-header", "pinhole-server/" PINHOLE_VERSION, NULL);
  soup_server_add_handler (soup, NULL, metrics_cb, self, NULL);
  if (!soup_server_listen (soup, G_SOCKET_ADDRESS (address), 0, error))
    return FALSE;
  self->metrics_soup = g_steal_pointer (&soup);
  return TRUE;
}

/* Returns: the port of the metrics listener, 0 if there is none */
guint16
pinhole_server_get_metrics_port (PinholeServer *self)
{
  g_autoslist(GUri) uris = NULL;

  if (self->metrics_soup == NULL)
    return 0;
  uris = soup_server_get_uris (self->metrics_soup);
  return uris != NULL ? (guint16) g_uri_get_port (uris->data) : 0;
}
