/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-url.c: what a server address the user typed means: "ws://host:port" and
 * "wss://host" complete to the /pinhole endpoint, and two addresses name the same server when
 * their normal forms are equal (the rule that keeps a token on its own server). */
#include "pinhole-client-private.h"
#include "pinhole-server-url.h"
#include "pinhole-stanza.h"

#include <string.h>

/* "ws://host:port" and "wss://host" name the server, whose endpoint is PINHOLE_WEBSOCKET_PATH
 * (docs/protocol.md §1); any other path (e.g. behind a reverse proxy) is kept as given.
 * @completed: (out): whether the path was added
 * Returns: (transfer full) (nullable): the URI to connect to, or %NULL if @url is not ws(s) */
GUri *
_pinhole_server_uri_parse (const char *url,
                  gboolean   *completed)
{
  g_autoptr(GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);

  *completed = FALSE;
  if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "ws") != 0 &&
                      g_strcmp0 (g_uri_get_scheme (uri), "wss") != 0))
    return NULL;
  /* SOUP_HTTP_URI_FLAGS normalise a missing path to "/" */
  if (g_strcmp0 (g_uri_get_path (uri), "/") != 0)
    return g_steal_pointer (&uri);
  *completed = TRUE;
  return g_uri_build_with_user (g_uri_get_flags (uri), g_uri_get_scheme (uri),
                                g_uri_get_user (uri), g_uri_get_password (uri),
                                g_uri_get_auth_params (uri), g_uri_get_host (uri),
                                g_uri_get_port (uri), PINHOLE_WEBSOCKET_PATH,
                                g_uri_get_query (uri), g_uri_get_fragment (uri));
}

/* "scheme://host:port/path" of a ws:// or wss:// URL: the path completed as the connection
 * completes it, the host in lower case, the port made explicit. Two URLs name the same server
 * when these are equal; ws:// never equals wss://, even on the same host and port.
 * Returns: (transfer full) (nullable): %NULL if @url is not a ws(s) URL */
static char *
server_url_normalize (const char *url)
{
  g_autoptr(GUri) uri = NULL;
  g_autofree char *host = NULL;
  gboolean completed;
  gboolean tls;
  int port;

  if (url == NULL)
    return NULL;
  uri = _pinhole_server_uri_parse (url, &completed);
  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return NULL;
  tls = g_strcmp0 (g_uri_get_scheme (uri), "wss") == 0;
  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  port = g_uri_get_port (uri);
  if (port == -1)
    port = tls ? 443 : 80;
  return g_strdup_printf ("%s://%s%s%s:%d%s", tls ? "wss" : "ws", strchr (host, ':') ? "[" : "",
                          host, strchr (host, ':') ? "]" : "", port, g_uri_get_path (uri));
}

/* Returns: whether @a and @b (nullable) are both ws(s) URLs that name the same server */
gboolean
_pinhole_server_urls_equal (const char *a,
                            const char *b)
{
  g_autofree char *own = server_url_normalize (a);
  g_autofree char *given = server_url_normalize (b);

  return own != NULL && given != NULL && strcmp (own, given) == 0;
}

/**
 * pinhole_client_complete_server_url:
 * @url: a server address as the user gave it
 * Returns: (transfer full) (nullable): @url with the path a connection adds ("ws://host" is
 *   "ws://host/pinhole"), or %NULL if @url is not a ws:// or wss:// URL
 */
char *
pinhole_client_complete_server_url (const char *url)
{
  g_autoptr(GUri) uri = NULL;
  gboolean completed;

  g_return_val_if_fail (url != NULL, NULL);
  uri = _pinhole_server_uri_parse (url, &completed);
  return uri != NULL ? g_uri_to_string (uri) : NULL;
}

/**
 * pinhole_client_is_profile_server:
 * @server_url: a server address
 * Whether @server_url names the server the profile's account and login token belong to (the
 * one of its last register or login): the same scheme, host, port and path. A token or a
 * password goes to that server only.
 * Returns: %FALSE when it names another server, or the profile has none yet
 */
gboolean
pinhole_client_is_profile_server (PinholeClient *self,
                                  const char    *server_url)
{
  g_autofree char *stored = NULL;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), FALSE);
  stored = pinhole_profile_dup_setting (self->profile, "server");
  return _pinhole_server_urls_equal (stored, server_url);
}

