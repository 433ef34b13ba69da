/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-tls.c: pinhole-server with --tls-cert/--tls-key serves wss://, with a self-signed
 * certificate made by openssl at test time: the client trusts it through --ca-file, which the
 * profile remembers, or once the user trusted the fingerprint it was refused with (pinned in
 * the profile), and refuses it otherwise; a pin accepts that one certificate only. A file
 * crosses the wss:// relay intact. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"
#include "../pinhole-test-missing.h"
#include "pinhole-test-transfer.h"

#include "pinhole-client.h"
#include "pinhole-error.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  PhFixture  base;
  char      *cert;   /* PEM, the server's certificate and the clients' CA file */
  char      *key;
} TlsFixture;

/* runs openssl with @args; Returns: whether it succeeded, with its first line of output */
static gboolean
run_openssl (const char *const *args,
             char              **out_line)
{
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  PhProc *p;
  gboolean done;

  if (openssl == NULL)
    {
      ph_test_missing ("openssl is not installed");
      return FALSE;
    }
  g_ptr_array_add (argv, openssl);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  p = ph_proc_spawn ((const char *const *) argv->pdata, NULL, FALSE, &error);
  g_assert_no_error (error);
  if (p == NULL)
    return FALSE;
  done = ph_proc_wait (p, PH_CLI_MS);
  if (!done || p->status != 0)
    g_test_fail_printf ("openssl %s failed (status %d): %s", args[0], p->status,
                        p->err_text->str);
  done = done && p->status == 0;
  if (done && out_line != NULL)
    *out_line = p->lines->len > 0 ? g_strdup (g_ptr_array_index (p->lines, 0)) : NULL;
  ph_proc_free (p);
  return done;
}

/* a self-signed certificate for 127.0.0.1, and its key */
static gboolean
make_certificate (const char *cert,
                  const char *key)
{
  const char *args[] = { "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                         "-keyout", key, "-out", cert, NULL };

  return run_openssl (args, NULL);
}

/* Returns: (transfer full): @cert's SHA-256 fingerprint as openssl prints it, "AB:CD:…" */
static char *
openssl_fingerprint (const char *cert)
{
  const char *args[] = { "x509", "-in", cert, "-noout", "-fingerprint", "-sha256", NULL };
  g_autofree char *line = NULL;
  const char *equals;

  if (!run_openssl (args, &line) || line == NULL || (equals = strchr (line, '=')) == NULL)
    {
      g_test_fail_printf ("no fingerprint from openssl x509: %s", line ? line : "(nothing)");
      return g_strdup ("");
    }
  return g_strdup (equals + 1);
}

static void
tls_setup (TlsFixture   *f,
           gconstpointer data)
{
  ph_fixture_setup_bare (&f->base, data);
  if (f->base.home == NULL)
    return;
  f->cert = g_build_filename (f->base.home, "cert.pem", NULL);
  f->key = g_build_filename (f->base.home, "key.pem", NULL);
  if (make_certificate (f->cert, f->key))
    {
      const char *args[] = { "--tls-cert", f->cert, "--tls-key", f->key, NULL };

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
  g_clear_pointer (&f->key, g_free);
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

/* relay frames over TLS: with relay-only on both sides, a file of several MiB (many 32 KiB
 * frames, WebSocket messages split across TLS records) arrives byte for byte, and every
 * progress line names the relay */
static void
test_relay_transfer (TlsFixture   *f,
                     gconstpointer data)
{
  g_autofree char *outbox = g_build_filename (f->base.home, "outbox", NULL);
  g_autofree char *inbox = g_build_filename (f->base.home, "inbox", NULL);
  g_autofree char *sent = g_build_filename (outbox, "photos.tar", NULL);
  g_autofree char *arrived = g_build_filename (inbox, "photos.tar", NULL);
  const char *listen[] = { "listen", "--accept-files", inbox, NULL };
  const gsize len = 6 * 1024 * 1024 + 321;
  g_autoptr(PhResult) r = NULL;
  guint progress = 0;
  guint cursor = 0;
  PhProc *bob;

  if (f->base.server == NULL)
    return;
  ph_return_if_failed ();
  for (guint i = 0; i < 2; i++)
    {
      const char *user = i == 0 ? "alice" : "bob";
      g_autoptr(PhResult) reg = register_with_ca (f, user, f->cert);

      g_assert_cmpint (reg->status, ==, 0);
    }
  ph_fixture_contacts (&f->base, "alice", "bob");
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(PhResult) set = ph_fixture_cli (&f->base, i == 0 ? "alice" : "bob", "set",
                                                i == 0 ? "bob" : "alice", "relay-only", "on",
                                                NULL);

      g_assert_cmpint (set->status, ==, 0);
    }
  g_assert_cmpint (g_mkdir (inbox, 0700), ==, 0);
  ph_test_write_file (outbox, "photos.tar", len, 7);
  bob = ph_fixture_spawn (&f->base, "bob", NULL, listen);
  g_assert_nonnull (bob);
  ph_return_if_failed ();
  g_assert_nonnull (ph_proc_wait_named (bob, &cursor, "online", "user", "bob", PH_EVENT_MS));
  ph_return_if_failed ();

  r = ph_fixture_cli (&f->base, "alice", "send-file", "bob", sent, NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (ph_result_event (r, "done"));
  for (guint i = 0; i < r->events->len; i++)
    {
      JsonObject *event = r->events->pdata[i];

      if (g_strcmp0 (ph_event_string (event, "event"), "progress") != 0)
        continue;
      progress++;
      g_assert_cmpstr (ph_event_string (event, "path"), ==, "relay");
    }
  g_assert_cmpuint (progress, >, 0);
  g_assert_nonnull (ph_proc_wait_named (bob, &cursor, "done", NULL, NULL, PH_EVENT_MS));
  ph_test_assert_same_file (sent, arrived);
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

    g_autofree char *fingerprint = openssl_fingerprint (f->cert);

    expected = g_strdup_printf ("pinhole-cli: the certificate of %s is not trusted (no trusted "
                                "authority signed it); its SHA-256 fingerprint is %s\n",
                                f->base.server->url, fingerprint);
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

/* ---- in-process clients, as the app uses them ---- */

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* registers @user (@registering) or logs in with the token; Returns: whether it worked */
static gboolean
sign_in (TlsFixture    *f,
         PinholeClient *client,
         gboolean       registering,
         const char    *user,
         GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *password = ph_password_of (user);

  if (registering)
    pinhole_client_register_async (client, f->base.server->url, user, password, NULL,
                                   store_result_cb, &result);
  else
    pinhole_client_login_async (client, NULL, NULL, TRUE, NULL, store_result_cb, &result);
  if (!ph_wait_pointer ((gpointer *) &result, PH_CLI_MS))
    {
      g_test_fail_printf ("no answer to %s within %d ms", registering ? "register" : "login",
                          PH_CLI_MS);
      return FALSE;
    }
  return registering ? pinhole_client_register_finish (client, result, error)
                     : pinhole_client_login_finish (client, result, error);
}

/* the last attempt was refused for the server's certificate, whose fingerprint openssl gives
 * for @cert; Returns: (transfer full) (nullable): that certificate */
static GTlsCertificate *
assert_refused (TlsFixture    *f,
                PinholeClient *client,
                const GError  *error,
                const char    *cert)
{
  g_autofree char *expected = openssl_fingerprint (cert);
  g_autoptr(GTlsCertificate) rejected = pinhole_client_dup_rejected_certificate (client);
  g_autofree char *fingerprint = NULL;

  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE);
  if (error == NULL)
    return NULL;
  g_assert_nonnull (strstr (error->message, "not trusted"));
  g_assert_nonnull (strstr (error->message, expected));
  g_assert_nonnull (rejected);
  if (rejected == NULL)
    return NULL;
  fingerprint = pinhole_certificate_dup_fingerprint (rejected);
  g_assert_cmpstr (fingerprint, ==, expected);
  g_assert_false (pinhole_client_is_connected (client));
  return g_steal_pointer (&rejected);
}

static PinholeClient *
client_new (TlsFixture *f,
            const char *name)
{
  g_autofree char *dir = ph_fixture_profile (&f->base, name);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) profile = pinhole_profile_open (dir, &error);
  PinholeClient *client;

  g_assert_no_error (error);
  client = pinhole_client_new (profile);
  pinhole_client_set_direct_paths (client, FALSE);
  return client;
}

/* registering @user is refused for the server's certificate, which is then trusted;
 * Returns: (transfer full) (nullable): that certificate */
static GTlsCertificate *
trust_after_refusal (TlsFixture    *f,
                     PinholeClient *client,
                     const char    *user)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) rejected = NULL;

  g_assert_false (sign_in (f, client, TRUE, user, &error));
  rejected = assert_refused (f, client, error, f->cert);
  if (rejected == NULL)
    return NULL;
  g_clear_error (&error);
  g_assert_true (pinhole_client_trust_certificate (client, rejected, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&rejected);
}

/* the first sign-in is refused with the certificate's fingerprint; once trusted, register and
 * later log-ins work; a server that then shows another certificate is refused again */
static void
test_trust_fingerprint (TlsFixture   *f,
                        gconstpointer data)
{
  g_autoptr(PinholeClient) client = NULL;
  g_autoptr(GTlsCertificate) first = NULL;
  g_autoptr(GTlsCertificate) second = NULL;
  g_autoptr(GError) error = NULL;

  if (f->base.server == NULL)
    return;
  ph_return_if_failed ();
  client = client_new (f, "carol");
  first = trust_after_refusal (f, client, "carol");
  ph_return_if_failed ();
  g_assert_true (sign_in (f, client, TRUE, "carol", &error));
  g_assert_no_error (error);
  g_assert_null (pinhole_client_dup_rejected_certificate (client));
  pinhole_client_disconnect (client);
  g_assert_true (sign_in (f, client, FALSE, "carol", &error));
  g_assert_no_error (error);
  pinhole_client_disconnect (client);
  ph_return_if_failed ();

  /* the same server, the same port, another self-signed certificate */
  g_assert_true (ph_server_stop (f->base.server, NULL));
  g_assert_true (make_certificate (f->cert, f->key));
  g_assert_true (ph_server_restart (f->base.server, NULL));
  ph_return_if_failed ();
  g_assert_false (sign_in (f, client, FALSE, "carol", &error));
  second = assert_refused (f, client, error, f->cert);
  ph_return_if_failed ();
  g_assert_false (g_tls_certificate_is_same (first, second));
  g_assert_nonnull (strstr (error->message, "not the one trusted"));
}

/* a pin is for one certificate of one server: another profile, without it, is still refused */
static void
test_pin_per_profile (TlsFixture   *f,
                      gconstpointer data)
{
  g_autoptr(PinholeClient) carol = NULL;
  g_autoptr(PinholeClient) dave = NULL;
  g_autoptr(GTlsCertificate) rejected = NULL;
  g_autoptr(GError) error = NULL;

  if (f->base.server == NULL)
    return;
  ph_return_if_failed ();
  carol = client_new (f, "carol");
  dave = client_new (f, "dave");
  rejected = trust_after_refusal (f, carol, "carol");
  ph_return_if_failed ();
  g_assert_false (sign_in (f, dave, TRUE, "dave", &error));
  g_clear_pointer (&rejected, g_object_unref);
  rejected = assert_refused (f, dave, error, f->cert);
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
  ADD ("/integration/tls/trust-fingerprint", test_trust_fingerprint);
  ADD ("/integration/tls/pin-per-profile", test_pin_per_profile);
  ADD ("/integration/tls/relay-transfer", test_relay_transfer);
#undef ADD
  return g_test_run ();
}
