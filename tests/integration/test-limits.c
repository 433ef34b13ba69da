/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-limits.c: the server's per-message and per-peer bounds of docs/protocol.md §2, hit on
 * purpose by raw clients of a real pinhole-server on loopback: a sealed message's size, the
 * sealed messages waiting for one device, and the relay channels one connection opens. Each
 * test also shows that what is just within the bound is accepted. */
#include "pinhole-test-peer.h"

#include <sodium.h>
#include <string.h>

#define MAX_SEALED_BYTES  (16 * 1024)
#define MAX_OFFLINE       3          /* --max-offline for the queue test */
#define MAX_CHANNELS      256

typedef struct
{
  PhServer *server;
  PhPeer   *alice;
  PhPeer   *bob;
} Fixture;

static void
start (Fixture           *f,
       const char *const *server_args)
{
  g_autoptr(GError) error = NULL;

  f->server = ph_server_start_with (server_args, &error);
  g_assert_no_error (error);
  if (f->server == NULL)
    return;
  f->alice = ph_peer_new (f->server->url, "alice");
  f->bob = ph_peer_new (f->server->url, "bob");
  ph_peer_register (f->alice);
  ph_peer_register (f->bob);
  ph_peer_befriend (f->alice, f->bob);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  g_clear_pointer (&f->alice, ph_peer_free);
  g_clear_pointer (&f->bob, ph_peer_free);
  if (f->server != NULL && g_test_failed ())
    {
      g_autofree char *log = ph_server_dup_log (f->server);

      g_test_message ("server log:\n%s", log);
    }
  g_clear_pointer (&f->server, ph_server_free);
}

/* alice seals @n_bytes for bob's device, and the server answers @code */
static void
send_sealed (Fixture *f,
             gsize    n_bytes,
             gint64   code)
{
  static guint serial;
  g_autofree guint8 *bytes = g_malloc (n_bytes);
  g_autofree char *sealed = NULL;

  randombytes_buf (bytes, n_bytes);
  sealed = g_base64_encode (bytes, n_bytes);
  ph_peer_expect (f->alice, code, "\"type\":\"message\",\"user\":\"bob\",\"device\":\"%s\","
                  "\"message\":\"limit-%u\",\"sealed\":\"%s\"", f->bob->device, ++serial,
                  sealed);
}

static void
test_sealed_size (Fixture      *f,
                  gconstpointer data)
{
  start (f, NULL);
  ph_return_if_failed ();
  ph_peer_close (f->bob);
  send_sealed (f, MAX_SEALED_BYTES, PH_RESULT);
  send_sealed (f, MAX_SEALED_BYTES + 1, 400);
  /* the connection stays usable after the refusal */
  ph_peer_sync (f->alice);
}

static void
test_offline_queue (Fixture      *f,
                    gconstpointer data)
{
  g_autofree char *max = g_strdup_printf ("%d", MAX_OFFLINE);
  const char *args[] = { "--max-offline", max, NULL };

  start (f, args);
  ph_return_if_failed ();
  ph_peer_close (f->bob);
  for (guint i = 0; i < MAX_OFFLINE; i++)
    send_sealed (f, 32, PH_RESULT);
  ph_return_if_failed ();
  send_sealed (f, 32, 503);
  send_sealed (f, 32, 503);
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

static void
test_relay_channels (Fixture      *f,
                     gconstpointer data)
{
  guint opened = 0;

  start (f, NULL);
  ph_return_if_failed ();
  ph_peer_mark (f->bob);
  for (guint i = 0; i < MAX_CHANNELS; i++)
    {
      /* after the first 150, 40 a second: under the server's request rate (§2) */
      if (i >= 150)
        ph_iterate_until (never, NULL, 25);
      ph_peer_expect (f->alice, PH_RESULT, "\"type\":\"relay-open\",\"user\":\"bob\","
                      "\"device\":\"%s\"", f->bob->device);
      ph_return_if_failed ();
    }
  ph_peer_expect (f->alice, 503, "\"type\":\"relay-open\",\"user\":\"bob\",\"device\":\"%s\"",
                  f->bob->device);
  /* bob was told of each channel that opened, and of no other */
  ph_peer_sync (f->bob);
  for (guint i = f->bob->mark; i < f->bob->ws->texts->len; i++)
    opened += strstr (g_ptr_array_index (f->bob->ws->texts, i), "\"relay-open\"") != NULL;
  g_assert_cmpuint (opened, ==, MAX_CHANNELS);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_debug_enabled (FALSE);
  g_test_set_nonfatal_assertions ();
  if (sodium_init () < 0)
    {
      g_printerr ("libsodium cannot start\n");
      return 1;
    }

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, NULL, func, fixture_teardown)
  ADD ("/integration/limits/sealed-size", test_sealed_size);
  ADD ("/integration/limits/offline-queue", test_offline_queue);
  ADD ("/integration/limits/relay-channels", test_relay_channels);
#undef ADD

  return g_test_run ();
}
