/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-tls.c: pinhole-server with --tls-cert/--tls-key serves wss://, with a self-signed
 * certificate made by openssl at test time: the client trusts it only through --ca-file, which
 * the profile remembers, and refuses it otherwise. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"
#include "../pinhole-test-missing.h"

typedef struct
{
  PhFixture  base;
  char      *cert;   /* PEM, the server's certificate and the clients' CA file */
} TlsFixture;

/* a self-signed certificate for 127.0.0.1, and its key */
static gboolean
make_certificate (const char *cert,
                  const char *key)
{
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  const char *argv[] = { openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                         "-keyout", key, "-out", cert, NULL };
  g_autoptr(GError) error = NULL;
  PhProc *p;
  gboolean done;

  if (openssl == NULL)
    {
      ph_test_missing ("openssl is not installed");
      return FALSE;
    }
  p = ph_proc_spawn (argv, NULL, FALSE, &error);
  g_assert_no_error (error);
  if (p == NULL)
    return FALSE;
  done = ph_proc_wait (p, PH_CLI_MS);
  if (!done || p->status != 0)
    g_test_fail_printf ("openssl req -x509 failed (status %d): %s", p->status,
                        p->err_text->str);
  done = done && p->status == 0;
  ph_proc_free (p);
  return done;
}

static void
tls_setup (TlsFixture   *f,
           gconstpointer data)
{
  g_autofree char *key = NULL;

  ph_fixture_setup_bare (&f->base, data);
  if (f->base.home == NULL)
    return;
  f->cert = g_build_filename (f->base.home, "cert.pem", NULL);
  key = g_build_filename (f->base.home, "key.pem", NULL);
  if (make_certificate (f->cert, key))
    {
      const char *args[] = { "--tls-cert", f->cert, "--tls-key", key, NULL };

      if (ph_fixture_start_server (&f->base, args))
        g_assert_true (g_str_has_prefix (f->base.server->url, "wss://127.0.0.1:"));
    }
}

static void
tls_teardown (TlsFixture   *f,
              gconstpointer data)
{
  ph_fixture_teardown (&f->base, data);
  g_clear_pointer (&f->cert, g_free);
}

/* `register USER` over wss://, trusting @ca_file (nullable) */
static PhResult *
register_with_ca (TlsFixture *f,
                  const char *user,
                  const char *ca_file)
{
  g_autofree char *password = ph_password_of (user);
  const char *with_ca[] = { "--ca-file", ca_file, "register", user, NULL };
  const char *without[] = { "register", user, NULL };
  const char *const env[] = { "LC_ALL=C", NULL };
  PhCliOptions options = { env, FALSE };

  return ph_fixture_cli_with (&f->base, user, f->base.server->url, password, &options,
                              ca_file ? with_ca : without);
}

/* with the server's certificate as CA file at register, every later command of the profile
 * trusts it, and chat works */
static void
test_ca_file (TlsFixture   *f,
              gconstpointer data)
{
  PhProc *bob;
  guint cursor = 0;

  if (f->base.server == NULL)
    return;
  ph_return_if_failed ();
  for (guint i = 0; i < 2; i++)
    {
      const char *user = i == 0 ? "alice" : "bob";
      g_autoptr(PhResult) r = register_with_ca (f, user, f->cert);
      JsonObject *event = ph_result_event (r, "registered");

      g_assert_cmpint (r->status, ==, 0);
      g_assert_nonnull (event);
      if (event != NULL)
        g_assert_cmpstr (ph_event_string (event, "server"), ==, f->base.server->url);
    }
  ph_fixture_contacts (&f->base, "alice", "bob");
  bob = ph_fixture_listen (&f->base, "bob", "bob");
  ph_return_if_failed ();
  {
    g_autoptr(PhResult) r = ph_fixture_cli (&f->base, "alice", "send", "bob", "over TLS", NULL);
    JsonObject *sent = ph_result_event (r, "sent");

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (sent);
    if (sent != NULL)
      g_assert_cmpint (json_object_get_int_member_with_default (sent, "delivered", -1), ==, 1);
  }
  g_assert_nonnull (ph_proc_wait_named (bob, &cursor, "message", "text", "over TLS",
                                        PH_EVENT_MS));
}

/* without a CA file the self-signed certificate is refused: exit status 1, one line that
 * names the server and the reason, and nothing reached the server */
static void
test_untrusted_refused (TlsFixture   *f,
                        gconstpointer data)
{
  g_autofree char *expected = NULL;

  if (f->base.server == NULL)
    return;
  ph_return_if_failed ();
  {
    g_autoptr(PhResult) r = register_with_ca (f, "carol", NULL);

    expected = g_strdup_printf ("pinhole-cli: cannot reach the server at %s: "
                                "Unacceptable TLS certificate\n", f->base.server->url);
    g_assert_cmpint (r->status, ==, 1);
    g_assert_cmpstr (r->err, ==, expected);
    g_assert_cmpuint (r->events->len, ==, 0);
  }
  {
    /* the name is still free: the refused client never spoke to the server */
    g_autoptr(PhResult) r = register_with_ca (f, "carol", f->cert);

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (ph_result_event (r, "registered"));
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, func) \
  g_test_add (path, TlsFixture, NULL, tls_setup, func, tls_teardown)
  ADD ("/integration/tls/ca-file", test_ca_file);
  ADD ("/integration/tls/untrusted-refused", test_untrusted_refused);
#undef ADD
  return g_test_run ();
}
