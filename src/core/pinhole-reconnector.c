/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-reconnector.c: first cut (see the header). */
#include "pinhole-reconnector.h"
struct _PinholeReconnector { GObject parent; PinholeClient *client; char *url; int state; };
G_DEFINE_FINAL_TYPE (PinholeReconnector, pinhole_reconnector, G_TYPE_OBJECT)
enum { PROP_0, PROP_STATE, N_PROPS };
static GParamSpec *props[N_PROPS];
static void get_property (GObject *o, guint id, GValue *v, GParamSpec *p)
{ g_value_set_int (v, PINHOLE_RECONNECTOR (o)->state); }
static void pinhole_reconnector_class_init (PinholeReconnectorClass *k)
{ G_OBJECT_CLASS (k)->get_property = get_property;
  props[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, 0, 3, 0, G_PARAM_READABLE);
  g_object_class_install_properties (G_OBJECT_CLASS (k), N_PROPS, props); }
static void pinhole_reconnector_init (PinholeReconnector *s) {}
PinholeReconnector *pinhole_reconnector_new (PinholeClient *c, const char *u)
{ PinholeReconnector *s = g_object_new (PINHOLE_TYPE_RECONNECTOR, NULL); s->client = c; s->url = g_strdup (u); return s; }
static void done (GObject *src, GAsyncResult *r, gpointer d)
{ PinholeReconnector *s = d; g_autoptr(GError) e = NULL;
  s->state = pinhole_client_login_finish (PINHOLE_CLIENT (src), r, &e) ? 2 : 0;
  if (e) g_message ("login: %s", e->message);
  g_object_notify_by_pspec (G_OBJECT (s), props[PROP_STATE]); g_object_unref (s); }
void pinhole_reconnector_start (PinholeReconnector *s)
{ s->state = 1; g_object_notify_by_pspec (G_OBJECT (s), props[PROP_STATE]);
  pinhole_client_set_direct_paths (s->client, TRUE);
  pinhole_client_login_async (s->client, s->url, NULL, TRUE, NULL, done, g_object_ref (s)); }
void pinhole_reconnector_stop (PinholeReconnector *s) {}
void pinhole_reconnector_retry_now (PinholeReconnector *s) { pinhole_reconnector_start (s); }
PinholeConnectionState pinhole_reconnector_get_state (PinholeReconnector *s) { return s->state; }
const char *pinhole_reconnector_get_error (PinholeReconnector *s) { return NULL; }
guint pinhole_reconnector_get_retry_seconds (PinholeReconnector *s) { return 0; }
