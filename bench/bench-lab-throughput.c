/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-lab-throughput.c: bulk throughput of one session in the NAT lab (root, network
 * namespaces) over the relay, a direct TCP path and a direct UDP path, alternated run by run
 * with iperf3 TCP over the same two lab links, for each link setting; a copy of this program
 * runs as a PinholeClient in each host's namespace and takes commands on standard input.
 *
 *   bench-lab-throughput [--runs 5] [--mib 32] [--lossy-mib 8] [--loss 0,100] [--delay-ms 0]
 *                        [--paths relay,tcp,udp] [--build DIR]
 */
#define G_LOG_DOMAIN "bench-lab"

#include "bench-common.h"
#include "bench-lab.h"
#include "natlab-pinhole.h"
#include "pinhole-client.h"

#include <gio/gunixinputstream.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD       "bench-lab-password-1"
#define STEP_MS        30000
#define PATH_MS        30000
#define QUEUE_BYTES    (4u * 1024 * 1024)

/* ================= the client in a host namespace ================= */

typedef struct
{
  PinholeClient    *client;
  PinholeSession   *session;
  char             *url;
  char             *peer;
  GDataInputStream *in;
  GMainLoop        *loop;

  /* a transfer this side sends */
  GBytes           *chunk;
  guint64           to_send;
  guint64           queued;
  gboolean          sending;
  GError           *send_error;

  /* a transfer this side receives */
  guint64           expect;
  guint64           received;
  gboolean          expecting;
  char             *last_kind;
  guint             kind_changes;

  /* a bounded poll under way (wait-online, wait-path, drain) */
  guint             poll_id;
  gint64            poll_deadline;
  char             *want_kind;
} Child;

static void
emit (JsonObject *o)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), o);
  g_autofree char *text = json_to_string (node, FALSE);

  printf ("%s\n", text);
  fflush (stdout);
}

static void
emit_event (const char *event)
{
  g_autoptr(JsonObject) o = json_object_new ();

  json_object_set_string_member (o, "event", event);
  emit (o);
}

static void
emit_error (const char *what,
            const char *message)
{
  g_autoptr(JsonObject) o = json_object_new ();

  json_object_set_string_member (o, "event", "error");
  json_object_set_string_member (o, "what", what);
  json_object_set_string_member (o, "message", message);
  emit (o);
}

static char *
current_kind (Child *c)
{
  PinholeContact *contact = pinhole_client_lookup_contact (c->client, c->peer);

  return g_strdup (pinhole_path_kind_to_string (contact ? pinhole_contact_get_path_kind (contact)
                                                        : PINHOLE_PATH_KIND_NONE));
}

/* the contact's path as the model has it */
static void
emit_path (Child      *c,
           const char *event)
{
  g_autoptr(JsonObject) report = json_object_new ();
  PinholeContact *contact = pinhole_client_lookup_contact (c->client, c->peer);
  g_autofree char *kind = current_kind (c);

  json_object_set_string_member (report, "event", event);
  if (contact != NULL && pinhole_contact_get_path_kind (contact) != PINHOLE_PATH_KIND_NONE)
    {
      json_object_set_string_member (report, "path", kind);
      json_object_set_string_member (report, "remote", pinhole_contact_get_remote (contact));
      json_object_set_double_member (report, "rtt_ms", pinhole_contact_get_rtt_ms (contact));
      if (pinhole_contact_get_relay_reason_text (contact) != NULL)
        json_object_set_string_member (report, "reason",
                                       pinhole_contact_get_relay_reason_text (contact));
    }
  emit (report);
}

static void
register_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (pinhole_client_register_finish (PINHOLE_CLIENT (source), result, &error))
    emit_event ("registered");
  else
    emit_error ("register", error->message);
}

static void
login_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (pinhole_client_login_finish (PINHOLE_CLIENT (source), result, &error))
    emit_event ("logged-in");
  else
    emit_error ("login", error->message);
}

static void
contact_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  /* the relation the server answered with does not matter here */
  g_free (pinhole_client_contact_finish (PINHOLE_CLIENT (source), result, &error));

  if (error == NULL)
    emit_event ("contact");
  else
    emit_error ("contact", error->message);
}

static void
fill (Child *c)
{
  while (c->sending && c->queued < c->to_send &&
         pinhole_session_get_send_queue_bytes (c->session) < QUEUE_BYTES)
    {
      if (!pinhole_session_send (c->session, PINHOLE_SESSION_CHANNEL_TRANSFER, c->chunk, NULL,
                                 &c->send_error))
        {
          c->sending = FALSE;
          emit_error ("send", c->send_error->message);
          g_clear_error (&c->send_error);
          return;
        }
      c->queued += g_bytes_get_size (c->chunk);
    }
  if (c->sending && c->queued >= c->to_send)
    {
      c->sending = FALSE;
      emit_event ("queued");
    }
}

static void
queue_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 Child      *c)
{
  fill (c);
}

static void
frame_cb (PinholeSession *session,
          guint           channel,
          GBytes         *payload,
          Child          *c)
{
  if (channel != PINHOLE_SESSION_CHANNEL_TRANSFER || !c->expecting)
    return;
  c->received += g_bytes_get_size (payload);
  if (c->received >= c->expect)
    {
      g_autoptr(JsonObject) o = json_object_new ();
      g_autofree char *kind = current_kind (c);
      gint64 now = g_get_monotonic_time ();

      c->expecting = FALSE;
      json_object_set_string_member (o, "event", "received");
      json_object_set_int_member (o, "t_us", now);
      json_object_set_int_member (o, "bytes", (gint64) c->received);
      json_object_set_string_member (o, "path", kind);
      json_object_set_int_member (o, "path_changes", c->kind_changes);
      emit (o);
    }
}

static void
path_changed_cb (PinholeClient *client,
                 const char    *user,
                 const char    *device,
                 const char    *path,
                 gdouble        rtt_ms,
                 Child         *c)
{
  if (g_strcmp0 (user, c->peer) != 0 || g_strcmp0 (path, c->last_kind) == 0)
    return;
  g_free (c->last_kind);
  c->last_kind = g_strdup (path);
  if (c->expecting)
    c->kind_changes++;
}

static void
session_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Child *c = user_data;
  g_autoptr(GError) error = NULL;
  PinholeSession *session = pinhole_client_open_session_finish (PINHOLE_CLIENT (source), result,
                                                                &error);

  if (session == NULL)
    {
      emit_error ("open", error->message);
      return;
    }
  g_clear_object (&c->session);
  c->session = session;
  g_signal_connect (session, "notify::send-queue-bytes", G_CALLBACK (queue_notify_cb), c);
  g_signal_connect (session, "frame-received", G_CALLBACK (frame_cb), c);
  emit_path (c, "open");
}

static gboolean
sees_online (Child *c)
{
  PinholeContact *contact = pinhole_client_lookup_contact (c->client, c->peer);

  return contact != NULL && pinhole_contact_get_relation (contact) == PINHOLE_RELATION_MUTUAL &&
         pinhole_contact_get_presence (contact) == PINHOLE_PRESENCE_ONLINE;
}

static gboolean
poll_online_cb (gpointer data)
{
  Child *c = data;

  if (sees_online (c))
    emit_event ("online");
  else if (g_get_monotonic_time () > c->poll_deadline)
    emit_error ("wait-online", "the peer never showed online");
  else
    return G_SOURCE_CONTINUE;
  c->poll_id = 0;
  return G_SOURCE_REMOVE;
}

static gboolean
poll_path_cb (gpointer data)
{
  Child *c = data;
  g_autofree char *kind = current_kind (c);

  if (strcmp (kind, c->want_kind) == 0)
    emit_path (c, "path");
  else if (g_get_monotonic_time () > c->poll_deadline)
    emit_path (c, "path-timeout");
  else
    return G_SOURCE_CONTINUE;
  c->poll_id = 0;
  return G_SOURCE_REMOVE;
}

static gboolean
poll_drain_cb (gpointer data)
{
  Child *c = data;

  if (c->session == NULL || pinhole_session_get_send_queue_bytes (c->session) == 0)
    emit_event ("drained");
  else if (g_get_monotonic_time () > c->poll_deadline)
    emit_error ("drain", "the send queue did not drain");
  else
    return G_SOURCE_CONTINUE;
  c->poll_id = 0;
  return G_SOURCE_REMOVE;
}

static void
start_poll (Child       *c,
            GSourceFunc  func,
            guint        timeout_ms)
{
  g_clear_handle_id (&c->poll_id, g_source_remove);
  c->poll_deadline = g_get_monotonic_time () + timeout_ms * G_GINT64_CONSTANT (1000);
  c->poll_id = g_timeout_add (50, func, c);
}

static void
handle_command (Child      *c,
                const char *line)
{
  g_auto(GStrv) w = g_strsplit (line, " ", 4);
  guint n = g_strv_length (w);
  g_autoptr(GError) error = NULL;

  if (n == 0)
    return;
  if (strcmp (w[0], "register") == 0 && n == 2)
    pinhole_client_register_async (c->client, c->url, w[1], PASSWORD, NULL, register_cb, c);
  else if (strcmp (w[0], "login") == 0)
    pinhole_client_login_async (c->client, c->url, NULL, TRUE, NULL, login_cb, c);
  else if (strcmp (w[0], "contact") == 0 && n == 3)
    pinhole_client_contact_async (c->client, w[1], w[2], NULL, contact_cb, c);
  else if (strcmp (w[0], "relay-only") == 0 && n == 2)
    {
      if (pinhole_client_set_relay_only (c->client, c->peer, strcmp (w[1], "on") == 0, &error))
        emit_event ("relay-only");
      else
        emit_error ("relay-only", error->message);
    }
  else if (strcmp (w[0], "wait-online") == 0)
    start_poll (c, poll_online_cb, STEP_MS);
  else if (strcmp (w[0], "open") == 0)
    pinhole_client_open_session_async (c->client, c->peer, NULL, session_cb, c);
  else if (strcmp (w[0], "wait-path") == 0 && n == 2)
    {
      g_free (c->want_kind);
      c->want_kind = g_strdup (w[1]);
      start_poll (c, poll_path_cb, PATH_MS);
    }
  else if (strcmp (w[0], "path") == 0)
    emit_path (c, "path");
  else if (strcmp (w[0], "drain") == 0)
    start_poll (c, poll_drain_cb, STEP_MS);
  else if (strcmp (w[0], "expect") == 0 && n == 2 && c->session != NULL)
    {
      c->expect = g_ascii_strtoull (w[1], NULL, 10);
      c->received = 0;
      c->kind_changes = 0;
      g_free (c->last_kind);
      c->last_kind = current_kind (c);
      c->expecting = TRUE;
      emit_event ("expecting");
    }
  else if (strcmp (w[0], "send") == 0 && n == 2 && c->session != NULL)
    {
      g_autoptr(JsonObject) o = json_object_new ();

      c->to_send = g_ascii_strtoull (w[1], NULL, 10);
      c->queued = 0;
      c->sending = TRUE;
      json_object_set_string_member (o, "event", "sending");
      json_object_set_int_member (o, "t_us", g_get_monotonic_time ());
      emit (o);
      fill (c);
    }
  else if (strcmp (w[0], "quit") == 0)
    g_main_loop_quit (c->loop);
  else
    emit_error ("command", line);
}

static void
read_command (Child *c);

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Child *c = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                                result, NULL, &error);

  if (line == NULL)
    {
      /* the driver went away */
      g_main_loop_quit (c->loop);
      return;
    }
  handle_command (c, g_strstrip (line));
  read_command (c);
}

static void
read_command (Child *c)
{
  g_data_input_stream_read_line_async (c->in, G_PRIORITY_DEFAULT, NULL, line_cb, c);
}

static int
child_main (const char *url,
            const char *profile_dir,
            const char *peer)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) profile = pinhole_profile_open (profile_dir, &error);
  g_autoptr(GInputStream) stdin_stream = g_unix_input_stream_new (0, FALSE);
  Child c = { 0 };
  guint8 *data;

  /* standard output carries the replies; GLib would print debug messages there */
  g_log_writer_default_set_use_stderr (TRUE);
  if (profile == NULL)
    {
      emit_error ("profile", error->message);
      return 1;
    }
  c.client = pinhole_client_new (profile);
  c.url = g_strdup (url);
  c.peer = g_strdup (peer);
  c.loop = g_main_loop_new (NULL, FALSE);
  c.in = g_data_input_stream_new (stdin_stream);
  g_data_input_stream_set_newline_type (c.in, G_DATA_STREAM_NEWLINE_TYPE_LF);
  data = g_malloc (PINHOLE_SESSION_MAX_PAYLOAD);
  for (guint i = 0; i < PINHOLE_SESSION_MAX_PAYLOAD; i++)
    data[i] = (guint8) (i * 31);
  c.chunk = g_bytes_new_take (data, PINHOLE_SESSION_MAX_PAYLOAD);
  g_signal_connect (c.client, "path-changed", G_CALLBACK (path_changed_cb), &c);
  emit_event ("ready");
  read_command (&c);
  g_main_loop_run (c.loop);

  g_clear_handle_id (&c.poll_id, g_source_remove);
  if (c.session != NULL)
    g_signal_handlers_disconnect_by_data (c.session, &c);
  g_clear_object (&c.session);
  g_signal_handlers_disconnect_by_data (c.client, &c);
  pinhole_client_disconnect (c.client);
  g_clear_object (&c.client);
  g_clear_object (&c.in);
  g_bytes_unref (c.chunk);
  g_main_loop_unref (c.loop);
  g_free (c.url);
  g_free (c.peer);
  g_free (c.last_kind);
  g_free (c.want_kind);
  emit_event ("bye");
  return 0;
}

/* ================= the driver ================= */

typedef enum
{
  MODE_RELAY,
  MODE_TCP,
  MODE_UDP,
  N_MODES
} Mode;

static const char *const mode_kind[N_MODES] = { "relay", "tcp-punch", "udp-punch" };
static const char *const mode_title[N_MODES] = { "relay", "direct TCP", "direct UDP" };
static const char *const mode_option[N_MODES] = { "relay", "tcp", "udp" };
static gboolean mode_enabled[N_MODES];

typedef struct
{
  Natlab        *lab;
  NatlabPinhole *ph;
  char          *self_exe;
  char          *bob_address;   /* bob's router's public address, where iperf3 is forwarded */
  PhProc        *alice;
  PhProc        *bob;
  guint          alice_cursor;
  guint          bob_cursor;
} Bench;

typedef struct
{
  const char *want;
} ReplyMatch;

static gboolean
reply_match (JsonObject *event,
             gpointer    data)
{
  ReplyMatch *m = data;
  const char *name = json_object_get_string_member_with_default (event, "event", "");

  return strcmp (name, m->want) == 0 || strcmp (name, "error") == 0 ||
         strcmp (name, "path-timeout") == 0;
}

/* writes @command (nullable: only wait) to the child and waits for event @want */
static JsonObject *
child_call (PhProc     *p,
            guint      *cursor,
            const char *command,
            const char *want,
            guint       timeout_ms,
            GError    **error)
{
  ReplyMatch m = { want };
  JsonObject *event;
  const char *name;

  if (command != NULL)
    {
      g_autofree char *line = g_strconcat (command, "\n", NULL);

      if (!ph_proc_write (p, line))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot write '%s'", p->name,
                       command);
          return NULL;
        }
    }
  event = ph_proc_wait_event (p, cursor, reply_match, &m, timeout_ms);
  if (event == NULL && p->out_eof)
    {
      ph_proc_wait (p, STEP_MS);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: ended (%s %d) before '%s' "
                   "after '%s'%s%s", p->name, p->signaled ? "signal" : "status",
                   p->signaled ? g_subprocess_get_term_sig (p->proc) : p->status, want,
                   command ? command : "(wait)", p->err_text->len ? ": " : "",
                   p->err_text->str);
      return NULL;
    }
  if (event == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no '%s' after '%s' in %u ms%s%s",
                   p->name, want, command ? command : "(wait)", timeout_ms,
                   p->err_text->len ? ": " : "", p->err_text->str);
      return NULL;
    }
  name = json_object_get_string_member_with_default (event, "event", "");
  if (strcmp (name, want) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: '%s': %s %s %s", p->name,
                   command ? command : "(wait)", name,
                   json_object_get_string_member_with_default (event, "path", ""),
                   json_object_get_string_member_with_default (
                     event, strcmp (name, "error") == 0 ? "message" : "reason", ""));
      return NULL;
    }
  return event;
}

static PhProc *
spawn_child (Bench      *b,
             const char *user,
             const char *peer,
             guint      *cursor,
             GError    **error)
{
  g_autofree char *profile = g_build_filename (b->ph->home, user, NULL);
  /* BENCH_LAB_CHILD_GDB: the clients under gdb, which prints a backtrace if one crashes */
  const char *gdb[] = { "gdb", "-q", "-batch", "-ex", "run", "-ex", "bt", "--args" };
  const char *argv[G_N_ELEMENTS (gdb) + 9] = { NULL };
  guint n = 0;
  /* BENCH_LAB_CHILD_DEBUG=DOMAINS: G_MESSAGES_DEBUG for the clients only */
  g_autofree char *debug = g_getenv ("BENCH_LAB_CHILD_DEBUG")
    ? g_strconcat ("G_MESSAGES_DEBUG=", g_getenv ("BENCH_LAB_CHILD_DEBUG"), NULL) : NULL;
  const char *env[] = { debug, NULL };
  PhProc *p;

  if (g_getenv ("BENCH_LAB_CHILD_GDB") != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (gdb); i++)
      argv[n++] = gdb[i];
  argv[n++] = b->self_exe;
  argv[n++] = "--child";
  argv[n++] = "--server";
  argv[n++] = b->ph->url;
  argv[n++] = "--profile";
  argv[n++] = profile;
  argv[n++] = "--peer";
  argv[n++] = peer;
  p = natlab_pinhole_spawn (natlab_pinhole_ns (b->ph, user), argv, env, TRUE, error);
  if (p == NULL)
    return NULL;
  g_free (p->name);
  p->name = g_strdup_printf ("%s's client", user);
  *cursor = 0;
  if (child_call (p, cursor, NULL, "ready", STEP_MS, error) == NULL)
    {
      ph_proc_free (p);
      return NULL;
    }
  return p;
}

static void
stop_children (Bench *b)
{
  PhProc **procs[] = { &b->alice, &b->bob };
  guint *cursors[] = { &b->alice_cursor, &b->bob_cursor };

  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    {
      if (*procs[i] == NULL)
        continue;
      if (!(*procs[i])->exited)
        {
          GError *error = NULL;

          if (child_call (*procs[i], cursors[i], "quit", "bye", STEP_MS, &error) == NULL)
            {
              fprintf (stderr, "bench-lab-throughput: %s\n", error->message);
              g_error_free (error);
            }
          ph_proc_wait (*procs[i], STEP_MS);
        }
      if (g_getenv ("BENCH_LAB_CHILD_LOG") != NULL)
        {
          fprintf (stderr, "---- %s, standard output lines that are not replies:\n",
                   (*procs[i])->name);
          for (guint j = 0; j < (*procs[i])->lines->len; j++)
            {
              const char *line = g_ptr_array_index ((*procs[i])->lines, j);

              if (line[0] != '{')
                fprintf (stderr, "%s\n", line);
            }
          fprintf (stderr, "---- %s, standard error:\n%s", (*procs[i])->name,
                   (*procs[i])->err_text->str);
        }
      g_clear_pointer (procs[i], ph_proc_free);
    }
}

static gboolean
start_children (Bench   *b,
                GError **error)
{
  b->alice = spawn_child (b, "alice", "bob", &b->alice_cursor, error);
  if (b->alice == NULL)
    return FALSE;
  b->bob = spawn_child (b, "bob", "alice", &b->bob_cursor, error);
  return b->bob != NULL;
}

/* a command to @p that must answer @want: the JSON reply or %NULL */
#define CALL(p, cur, cmd, want, ms) child_call ((p), (cur), (cmd), (want), (ms), error)

static gboolean
make_accounts (Bench   *b,
               GError **error)
{
  gboolean ok = start_children (b, error) &&
                CALL (b->alice, &b->alice_cursor, "register alice", "registered", STEP_MS) &&
                CALL (b->bob, &b->bob_cursor, "register bob", "registered", STEP_MS) &&
                CALL (b->alice, &b->alice_cursor, "contact subscribe bob", "contact", STEP_MS) &&
                CALL (b->bob, &b->bob_cursor, "contact accept alice", "contact", STEP_MS);

  stop_children (b);
  return ok;
}

/* on the home router: drop direct traffic of the kind that must not win (iperf3's port
 * excepted), so that the agent confirms the other kind */
static gboolean
set_kind_filter (Bench   *b,
                 Mode     mode,
                 GError **error)
{
  static const BenchLabKind kinds[N_MODES] = { BENCH_LAB_KIND_ANY, BENCH_LAB_KIND_TCP,
                                               BENCH_LAB_KIND_UDP };

  return bench_lab_keep_kind (b->lab, "home", b->bob_address, kinds[mode],
                              BENCH_LAB_IPERF_PORT, error);
}

/* a session from alice to bob on the path kind of @mode, both clients logged in again */
static gboolean
open_session (Bench   *b,
              Mode     mode,
              GError **error)
{
  g_autofree char *wait = g_strconcat ("wait-path ", mode_kind[mode], NULL);
  JsonObject *report;

  if (!set_kind_filter (b, mode, error) || !start_children (b, error) ||
      !CALL (b->alice, &b->alice_cursor, "login", "logged-in", STEP_MS) ||
      !CALL (b->bob, &b->bob_cursor, "login", "logged-in", STEP_MS) ||
      !CALL (b->alice, &b->alice_cursor, mode == MODE_RELAY ? "relay-only on" : "relay-only off",
             "relay-only", STEP_MS) ||
      !CALL (b->alice, &b->alice_cursor, "wait-online", "online", STEP_MS) ||
      !CALL (b->bob, &b->bob_cursor, "wait-online", "online", STEP_MS) ||
      !CALL (b->alice, &b->alice_cursor, "open", "open", STEP_MS) ||
      !CALL (b->bob, &b->bob_cursor, "open", "open", STEP_MS) ||
      !CALL (b->alice, &b->alice_cursor, wait, "path", PATH_MS + 5000) ||
      (report = CALL (b->bob, &b->bob_cursor, wait, "path", PATH_MS + 5000)) == NULL)
    return FALSE;
  fprintf (stderr, "  %s: path %s, remote %s\n", mode_title[mode],
           json_object_get_string_member_with_default (report, "path", "?"),
           json_object_get_string_member_with_default (report, "remote", "?"));
  return TRUE;
}

typedef struct
{
  double   mbps;
  char    *path_after;
  gint64   path_changes;
} RunResult;

/* one transfer of @bytes from alice to bob over the open session */
static gboolean
pinhole_run (Bench      *b,
             guint64     bytes,
             RunResult  *out,
             GError    **error)
{
  g_autofree char *expect = g_strdup_printf ("expect %" G_GUINT64_FORMAT, bytes);
  g_autofree char *send = g_strdup_printf ("send %" G_GUINT64_FORMAT, bytes);
  /* 1 s per 100 KB and 60 s more */
  guint timeout_ms = (guint) MIN (bytes / 100 + 60000, 1800000);
  JsonObject *sending, *received;
  gint64 t0, t1;

  if (!CALL (b->alice, &b->alice_cursor, "drain", "drained", STEP_MS) ||
      !CALL (b->bob, &b->bob_cursor, expect, "expecting", STEP_MS) ||
      (sending = CALL (b->alice, &b->alice_cursor, send, "sending", STEP_MS)) == NULL)
    return FALSE;
  t0 = json_object_get_int_member (sending, "t_us");
  received = CALL (b->bob, &b->bob_cursor, NULL, "received", timeout_ms);
  if (received == NULL)
    return FALSE;
  t1 = json_object_get_int_member (received, "t_us");
  out->mbps = bytes / ((t1 - t0) / 1e6) / 1e6;
  out->path_after = g_strdup (json_object_get_string_member_with_default (received, "path",
                                                                          "?"));
  out->path_changes = json_object_get_int_member_with_default (received, "path_changes", -1);
  return TRUE;
}

/* iperf3 TCP from alice's host to bob's router's forwarded port, @bytes; MB/s received */
static gboolean
iperf_run (Bench    *b,
           guint64   bytes,
           double   *out_mbps,
           GError  **error)
{
  return bench_lab_iperf3 (natlab_pinhole_ns (b->ph, "alice"), b->bob_address,
                           BENCH_LAB_IPERF_PORT, bytes, out_mbps, error);
}

/* the whole comparison for one link setting, in a lab of its own; prints table rows */
static gboolean
bench_setting (const char *self_exe,
               guint       delay_ms,
               guint       loss,
               guint       runs,
               guint       mib,
               GError    **error)
{
  g_autoptr(Natlab) lab = NULL;
  Bench b = { 0 };
  g_autoptr(GArray) all_iperf = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *rates[N_MODES] = { NULL };
  GArray *iperf[N_MODES] = { NULL };
  GString *notes[N_MODES] = { NULL };
  guint64 bytes = (guint64) mib * 1024 * 1024;
  g_autofree char *load_before = bench_loadavg ();
  g_autofree char *load_after = NULL;
  gboolean ok = FALSE;
  double baseline;

  lab = natlab_new (error);
  if (lab == NULL || !natlab_add_site (lab, "home", NATLAB_NAT_PORT_RESTRICTED, error) ||
      !natlab_add_site (lab, "work", NATLAB_NAT_PORT_RESTRICTED, error) ||
      !natlab_set_link (lab, "home", delay_ms, loss, error) ||
      !natlab_set_link (lab, "work", delay_ms, loss, error))
    return FALSE;
  b.lab = lab;
  b.self_exe = g_strdup (self_exe);
  b.ph = natlab_pinhole_new (lab, error);
  if (b.ph == NULL || !natlab_pinhole_add_user (b.ph, "home", "alice", error) ||
      !natlab_pinhole_add_user (b.ph, "work", "bob", error) ||
      !natlab_pinhole_start_server (b.ph, "7300", error))
    goto out;
  b.bob_address = g_strdup (natlab_router_public_address (lab, "work"));
  /* iperf3's baseline crosses the same two links and NATs as a direct path: alice's router
   * masquerades it, bob's router forwards port 5201 to bob's host */
  if (!bench_lab_forward (lab, "work", "bobh", BENCH_LAB_IPERF_PORT, error))
    goto out;
  {
    g_autoptr(GSubprocess) server = natlab_spawn (lab, natlab_pinhole_ns (b.ph, "bob"),
                                                  G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                  G_SUBPROCESS_FLAGS_STDERR_SILENCE, error,
                                                  "iperf3", "-s", "-p", BENCH_LAB_IPERF_PORT,
                                                  NULL);
    if (server == NULL)
      goto out;
  }
  /* a short first iperf3 run, retried until the server listens; not counted */
  for (guint i = 0; ; i++)
    {
      double warm;
      g_autoptr(GError) warm_error = NULL;

      if (iperf_run (&b, 1024 * 1024, &warm, &warm_error))
        break;
      if (i == 20)
        {
          g_propagate_error (error, g_steal_pointer (&warm_error));
          goto out;
        }
      g_usleep (250 * 1000);
    }
  if (!make_accounts (&b, error))
    goto out;

  for (guint m = 0; m < N_MODES; m++)
    {
      rates[m] = g_array_new (FALSE, FALSE, sizeof (double));
      iperf[m] = g_array_new (FALSE, FALSE, sizeof (double));
      notes[m] = g_string_new (NULL);
      if (!mode_enabled[m])
        continue;
      if (!open_session (&b, m, error))
        {
          g_string_append_printf (notes[m], "no %s path: %s", mode_kind[m], (*error)->message);
          fprintf (stderr, "bench-lab-throughput: %s\n", (*error)->message);
          g_clear_error (error);
          stop_children (&b);
          continue;
        }
      for (guint r = 0; r < runs; r++)
        {
          RunResult result = { 0 };
          double mbps;
          g_autofree char *wait = g_strconcat ("wait-path ", mode_kind[m], NULL);

          /* a path that fell back in the previous run gets time to come back */
          if (!CALL (b.alice, &b.alice_cursor, wait, "path", PATH_MS + 5000))
            {
              g_string_append_printf (notes[m], "%sbefore run %u: %s", notes[m]->len ? "; " : "",
                                      r + 1, (*error)->message);
              fprintf (stderr, "bench-lab-throughput: %s\n", (*error)->message);
              g_clear_error (error);
              break;
            }
          if (!pinhole_run (&b, bytes, &result, error))
            {
              g_string_append_printf (notes[m], "%srun %u failed: %s", notes[m]->len ? "; " : "",
                                      r + 1, (*error)->message);
              fprintf (stderr, "bench-lab-throughput: %s\n", (*error)->message);
              g_clear_error (error);
              break;
            }
          fprintf (stderr, "  %s run %u: %.2f MB/s (path %s after, %" G_GINT64_FORMAT
                   " path changes)\n", mode_title[m], r + 1, result.mbps, result.path_after,
                   result.path_changes);
          if (strcmp (result.path_after, mode_kind[m]) != 0 || result.path_changes != 0)
            g_string_append_printf (notes[m], "%srun %u ended on %s after %" G_GINT64_FORMAT
                                    " path changes", notes[m]->len ? "; " : "", r + 1,
                                    result.path_after, result.path_changes);
          g_array_append_val (rates[m], result.mbps);
          g_free (result.path_after);
          if (!iperf_run (&b, bytes, &mbps, error))
            {
              fprintf (stderr, "bench-lab-throughput: %s\n", (*error)->message);
              g_clear_error (error);
              continue;
            }
          fprintf (stderr, "  iperf3 run: %.2f MB/s\n", mbps);
          g_array_append_val (iperf[m], mbps);
          g_array_append_val (all_iperf, mbps);
        }
      stop_children (&b);
    }
  load_after = bench_loadavg ();

  baseline = bench_median_of (all_iperf);
  {
    g_autofree char *all = bench_join_values (all_iperf, "%.1f");

    printf ("| %u ms, %.0f%% per link | iperf3 TCP | %.1f (%s) | 1 | loadavg %s → %s |\n",
            delay_ms, loss / 100.0, baseline, all, load_before, load_after);
  }
  for (guint m = 0; m < N_MODES; m++)
    {
      g_autofree char *list = bench_join_values (rates[m], "%.1f");
      double med = bench_median_of (rates[m]);

      if (!mode_enabled[m])
        continue;
      if (rates[m]->len == 0)
        printf ("| | %s | — | — | %s |\n", mode_title[m], notes[m]->str);
      else
        printf ("| | %s (%s) | %.2f (%s) | %.3f | iperf3 alongside: %.1f%s%s |\n",
                mode_title[m], mode_kind[m], med, list, med / baseline,
                bench_median_of (iperf[m]), notes[m]->len ? "; " : "", notes[m]->str);
    }
  fflush (stdout);
  ok = TRUE;

out:
  stop_children (&b);
  for (guint m = 0; m < N_MODES; m++)
    {
      if (rates[m] != NULL)
        g_array_unref (rates[m]);
      if (iperf[m] != NULL)
        g_array_unref (iperf[m]);
      if (notes[m] != NULL)
        g_string_free (notes[m], TRUE);
    }
  natlab_pinhole_free (b.ph);
  g_free (b.self_exe);
  g_free (b.bob_address);
  return ok;
}

int
main (int   argc,
      char *argv[])
{
  gboolean child = FALSE;
  char *server_url = NULL, *profile = NULL, *peer = NULL, *build = NULL;
  gint runs = 5, mib = 32, lossy_mib = 8, delay_ms = 0;
  char *losses = NULL, *paths = NULL;
  GOptionEntry entries[] = {
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "transfers per path and setting (5)", "N" },
    { "mib", 0, 0, G_OPTION_ARG_INT, &mib, "MiB per transfer without loss (32)", "N" },
    { "lossy-mib", 0, 0, G_OPTION_ARG_INT, &lossy_mib, "MiB per transfer with loss (8)", "N" },
    { "delay-ms", 0, 0, G_OPTION_ARG_INT, &delay_ms, "one-way delay per site link (0)", "MS" },
    { "loss", 0, 0, G_OPTION_ARG_STRING, &losses,
      "loss settings per 10000 on each site link (0,100)", "N,N" },
    { "paths", 0, 0, G_OPTION_ARG_STRING, &paths,
      "which of relay,tcp,udp to measure (all three)", "LIST" },
    { "build", 'b', 0, G_OPTION_ARG_FILENAME, &build, "build folder (default _build-bench)",
      "DIR" },
    { "child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &child, NULL, NULL },
    { "server", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &server_url, NULL, NULL },
    { "profile", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &profile, NULL, NULL },
    { "peer", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &peer, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- session throughput in the NAT lab");
  g_autoptr(GError) error = NULL;
  g_autofree char *self_exe = NULL;
  g_auto(GStrv) loss_list = NULL;
  int status = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || runs < 1 || runs > 50 ||
      mib < 1 || mib > 4096 || lossy_mib < 1 || lossy_mib > 4096 || delay_ms < 0 ||
      delay_ms > 1000)
    {
      fprintf (stderr, "bench-lab-throughput: %s\n", error ? error->message : "bad arguments");
      return 2;
    }
  if (child)
    {
      if (server_url == NULL || profile == NULL || peer == NULL)
        return 2;
      return child_main (server_url, profile, peer);
    }

  self_exe = g_file_read_link ("/proc/self/exe", &error);
  if (self_exe == NULL)
    {
      fprintf (stderr, "bench-lab-throughput: %s\n", error->message);
      return 1;
    }
  {
    g_autofree char *dir = g_canonicalize_filename (build ? build : "_build-bench", NULL);
    g_autofree char *server = g_build_filename (dir, "src", "server", "pinhole-server", NULL);
    g_autofree char *cli = g_build_filename (dir, "src", "cli", "pinhole-cli", NULL);

    g_setenv ("PINHOLE_SERVER_PROGRAM", server, TRUE);
    g_setenv ("PINHOLE_CLI_PROGRAM", cli, TRUE);
  }
  /* the lab's routers answer no port mapping requests (only NATLAB_NAT_MINIUPNPD does) */
  g_setenv ("PINHOLE_NO_PORT_MAPPING", "1", TRUE);

  {
    g_auto(GStrv) wanted = g_strsplit (paths ? paths : "relay,tcp,udp", ",", 8);

    for (guint m = 0; m < N_MODES; m++)
      mode_enabled[m] = g_strv_contains ((const char * const *) wanted, mode_option[m]);
  }
  loss_list = g_strsplit (losses ? losses : "0,100", ",", 8);
  printf ("| link (each site) | path | median MB/s (runs) | ratio to iperf3 | notes |\n"
          "|---|---|---|---|---|\n");
  fflush (stdout);
  for (guint i = 0; loss_list[i] != NULL; i++)
    {
      guint loss = (guint) g_ascii_strtoull (loss_list[i], NULL, 10);

      fprintf (stderr, "== %u ms, loss %u/10000 per link\n", (guint) delay_ms, loss);
      if (!bench_setting (self_exe, (guint) delay_ms, loss, (guint) runs,
                          (guint) (loss > 0 ? lossy_mib : mib), &error))
        {
          fprintf (stderr, "bench-lab-throughput: %u ms, loss %u/10000: %s\n", (guint) delay_ms,
                   loss, error->message);
          g_clear_error (&error);
          status = 1;
        }
    }
  g_free (server_url);
  g_free (profile);
  g_free (peer);
  g_free (build);
  g_free (losses);
  g_free (paths);
  return status;
}
