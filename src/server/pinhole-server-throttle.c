/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-throttle.c: back-off for password guessing and for mass registration. Each
 * source address may create a few accounts an hour (--max-registrations), then waits as a
 * failed log-in does. For password guessing, each account and each source
 * address has a few free failed log-ins (wrong password, unknown user); after those, every
 * failure closes the door for twice as long as the one before (1 s, 2 s, … up to 15 min), and
 * a log-in tried meanwhile is answered 429 without the password being checked. A log-in that
 * succeeds clears the account's count, not the address's. The table is bounded: entries
 * older than an hour go first, and a table still full is emptied (the server then forgets,
 * rather than grows). */
#define G_LOG_DOMAIN "pinhole-server"

#include "pinhole-server-private.h"

#define FREE_PER_ACCOUNT 5
#define FREE_PER_ADDRESS 20
#define MAX_WAIT_S       (15 * 60)
#define FORGET_AFTER_US  ((gint64) G_USEC_PER_SEC * 3600)
#define MAX_ENTRIES      65536

typedef struct
{
  guint  failures;
  gint64 last;        /* monotonic µs of the last failure */
  gint64 until;       /* log-ins wait until then */
} Strike;

static char *
account_key (const char *user)
{
  return g_strconcat ("user ", user, NULL);
}

static char *
address_key (const char *address)
{
  return g_strconcat ("address ", address, NULL);
}

static char *
registration_key (const char *address)
{
  return g_strconcat ("register ", address, NULL);
}

/* Returns: the seconds @key still has to wait, 0 when it may try */
static guint
wait_for (PinholeServer *server,
          const char    *key)
{
  Strike *s = g_hash_table_lookup (server->strikes, key);
  gint64 now = g_get_monotonic_time ();

  if (s == NULL || s->until <= now)
    return 0;
  return (guint) ((s->until - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
}

static void
prune (PinholeServer *server)
{
  GHashTableIter iter;
  Strike *s;
  gint64 now = g_get_monotonic_time ();

  g_hash_table_iter_init (&iter, server->strikes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &s))
    if (s->last < now - FORGET_AFTER_US && s->until <= now)
      g_hash_table_iter_remove (&iter);
  if (g_hash_table_size (server->strikes) >= MAX_ENTRIES)
    {
      g_message ("%u accounts and addresses failed to log in within the hour: forgetting them",
                 g_hash_table_size (server->strikes));
      g_hash_table_remove_all (server->strikes);
    }
}

static void
strike (PinholeServer *server,
        char          *key,      /* (transfer full) */
        guint          free_failures)
{
  Strike *s = g_hash_table_lookup (server->strikes, key);
  gint64 now = g_get_monotonic_time ();

  if (s == NULL)
    {
      if (g_hash_table_size (server->strikes) >= MAX_ENTRIES / 2)
        prune (server);
      s = g_new0 (Strike, 1);
      g_hash_table_insert (server->strikes, g_strdup (key), s);
    }
  else if (s->last < now - FORGET_AFTER_US)
    s->failures = 0;
  g_free (key);
  s->failures++;
  s->last = now;
  if (s->failures > free_failures)
    s->until = now + (gint64) MIN ((guint64) 1 << MIN (s->failures - free_failures - 1, 20),
                                   MAX_WAIT_S) * G_USEC_PER_SEC;
}

/**
 * _pinhole_server_login_wait:
 * Returns: how many seconds a password log-in to @user from @address must wait (0: none)
 */
guint
_pinhole_server_login_wait (PinholeServer *server,
                            const char    *user,
                            const char    *address)
{
  g_autofree char *a = account_key (user);
  g_autofree char *b = address_key (address);

  return MAX (wait_for (server, a), wait_for (server, b));
}

void
_pinhole_server_login_failed (PinholeServer *server,
                              const char    *user,
                              const char    *address)
{
  strike (server, account_key (user), FREE_PER_ACCOUNT);
  strike (server, address_key (address), FREE_PER_ADDRESS);
}

void
_pinhole_server_login_succeeded (PinholeServer *server,
                                 const char    *user)
{
  g_autofree char *a = account_key (user);

  g_hash_table_remove (server->strikes, a);
}

/* Returns: how many seconds a registration from @address must wait (0: none) */
guint
_pinhole_server_register_wait (PinholeServer *server,
                               const char    *address)
{
  g_autofree char *key = registration_key (address);

  return wait_for (server, key);
}

/* an account was created from @address */
void
_pinhole_server_registered (PinholeServer *server,
                            const char    *address)
{
  /* the next one waits once max_registrations are made */
  strike (server, registration_key (address), MAX (server->limits.max_registrations, 1) - 1);
}
