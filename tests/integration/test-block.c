/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-block.c: `block` on a real pinhole-server, with raw clients: a blocked user's request
 * is gone, and asking again looks like asking anyone but reaches no one, whatever decline and
 * re-ask had done before; a blocked contact is removed and can no longer write or open a
 * channel; a stranger blocked is told nothing; after `unblock` a request gets through again. */
#include "pinhole-test-peer.h"

typedef struct
{
  PhServer *server;
  PhPeer   *alice;
  PhPeer   *bob;
} Fixture;

static void
setup (Fixture      *f,
       gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->server = ph_server_start (&error);
  g_assert_no_error (error);
  if (f->server == NULL)
    return;
  f->alice = ph_peer_new (f->server->url, "alice");
  f->bob = ph_peer_new (f->server->url, "bob");
  ph_peer_register (f->alice);
  ph_peer_register (f->bob);
}

static void
teardown (Fixture      *f,
          gconstpointer data)
{
  g_clear_pointer (&f->alice, ph_peer_free);
  g_clear_pointer (&f->bob, ph_peer_free);
  g_clear_pointer (&f->server, ph_server_free);
}

static const char *
relation_in_roster (PhPeer     *observer,
                    const char *user)
{
  g_autoptr(JsonObject) item = ph_peer_roster_item (observer, user);
  static char relation[32];

  g_strlcpy (relation, item ? ph_json_get_string (item, "relation") : "absent",
             sizeof relation);
  return relation;
}

static void
test_block_request (Fixture      *f,
                    gconstpointer data)
{
  ph_return_if_failed ();
  /* declined, alice asks again: declining is not enough */
  ph_peer_ask (f->alice, f->bob);
  ph_peer_relate (f->bob, "decline", f->alice, "none");
  ph_peer_ask (f->alice, f->bob);
  ph_return_if_failed ();

  ph_peer_mark (f->alice);
  ph_peer_relate (f->bob, "block", f->alice, "blocked");
  ph_peer_expect_push (f->alice, "contact", "user", "bob", "relation", "none", NULL);
  g_assert_cmpstr (relation_in_roster (f->bob, "alice"), ==, "blocked");
  ph_return_if_failed ();

  /* asking again looks like asking anyone, and bob hears nothing */
  ph_peer_mark (f->bob);
  ph_peer_relate (f->alice, "subscribe", f->bob, "requested");
  ph_peer_expect_no_push (f->bob, "contact-request", "alice");
  ph_peer_expect_no_push (f->bob, "contact", "alice");
  g_assert_cmpstr (relation_in_roster (f->bob, "alice"), ==, "blocked");
  /* nor can bob accept what he never saw */
  ph_peer_expect (f->bob, 404, "\"type\":\"accept\",\"user\":\"alice\"");

  /* unblocked, a request gets through */
  ph_peer_relate (f->bob, "unblock", f->alice, "none");
  g_assert_cmpstr (relation_in_roster (f->bob, "alice"), ==, "absent");
  ph_peer_expect (f->bob, 404, "\"type\":\"unblock\",\"user\":\"alice\"");
  ph_peer_ask (f->alice, f->bob);
  ph_peer_relate (f->bob, "accept", f->alice, "mutual");
}

static void
test_block_contact (Fixture      *f,
                    gconstpointer data)
{
  ph_return_if_failed ();
  ph_peer_befriend (f->alice, f->bob);
  ph_return_if_failed ();
  ph_peer_mark (f->alice);
  ph_peer_relate (f->bob, "block", f->alice, "blocked");
  ph_peer_expect_push (f->alice, "contact", "user", "bob", "relation", "none", NULL);
  ph_return_if_failed ();
  /* no longer a contact: no message, no channel */
  ph_peer_expect (f->alice, 403, "\"type\":\"message\",\"user\":\"bob\",\"device\":\"%s\","
                  "\"message\":\"m1\",\"sealed\":\"c2VhbGVk\"", f->bob->device);
  ph_peer_expect (f->alice, 403, "\"type\":\"relay-open\",\"user\":\"bob\",\"device\":\"%s\"",
                  f->bob->device);
}

/* blocking someone who never asked tells them nothing */
static void
test_block_stranger (Fixture      *f,
                     gconstpointer data)
{
  ph_return_if_failed ();
  ph_peer_mark (f->alice);
  ph_peer_relate (f->bob, "block", f->alice, "blocked");
  ph_peer_expect_no_push (f->alice, "contact", "bob");
  ph_peer_relate (f->alice, "subscribe", f->bob, "requested");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_debug_enabled (FALSE);
  g_test_set_nonfatal_assertions ();
#define ADD(path, func) g_test_add (path, Fixture, NULL, setup, func, teardown)
  ADD ("/integration/block/request", test_block_request);
  ADD ("/integration/block/contact", test_block_contact);
  ADD ("/integration/block/stranger", test_block_stranger);
#undef ADD
  return g_test_run ();
}
