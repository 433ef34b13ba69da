/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-model.h: the fixture and helpers of the model tests (test-model*.c): two
 * PinholeClients in the test process, as a view would drive them, on a real pinhole-server. */
#pragma once

#include "pinhole-test-harness.h"

#include "pinhole-client.h"

#define PH_MODEL_WAIT_MS 15000

typedef struct
{
  PhServer      *server;
  char          *home;
  PinholeClient *alice;
  PinholeClient *bob;
  /* what the views saw; freed after the clients, whose signals write here */
  GPtrArray     *seen_props;
  GPtrArray     *seen_states;
  GPtrArray     *seen_received;
} PhModelFixture;

/* a place for one asynchronous result */
typedef struct
{
  GAsyncResult *result;
} PhModelWait;

char           *ph_model_profile_dir      (PhModelFixture      *f,
                                           const char          *user);
int             ph_model_cli              (PhModelFixture      *f,
                                           const char          *user,
                                           gboolean             with_password,
                                           const char          *arg1,
                                           const char          *arg2);
void            ph_model_store_result_cb  (GObject             *source,
                                           GAsyncResult        *result,
                                           gpointer             user_data);
gboolean        ph_model_has_result       (gpointer             data);
GAsyncResult   *ph_model_wait             (PhModelWait         *w);
gboolean        ph_model_log_in           (PinholeClient       *client);
PinholeClient  *ph_model_client_new       (PhModelFixture      *f,
                                           const char          *user,
                                           gboolean             direct_paths);
PinholeClient  *ph_model_client_log_in    (PhModelFixture      *f,
                                           const char          *user);
gboolean        ph_model_wait_presence    (PinholeClient       *client,
                                           const char          *user,
                                           PinholePresence      presence);
void            ph_model_fixture_setup    (PhModelFixture      *f,
                                           gconstpointer        data);
void            ph_model_fixture_teardown (PhModelFixture      *f,
                                           gconstpointer        data);
PinholeMessage *ph_model_send_text        (PinholeConversation *conversation,
                                           const char          *text,
                                           GError             **error);
void            ph_model_count_cb         (GObject             *object,
                                           GParamSpec          *pspec,
                                           guint               *count);
