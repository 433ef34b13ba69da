/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-fixture.h: the fixture the claim tests share (test-keys, test-tls,
 * test-contacts, test-paths): one server, one folder of profiles, the long-running clients,
 * and the few steps every such test takes (register, log in another device, make contacts,
 * listen). Checks fail the test without aborting it, so that teardown stops every process. */
#pragma once

#include "pinhole-test-harness.h"

G_BEGIN_DECLS

typedef struct
{
  PhServer  *server;
  char      *home;    /* profiles, one folder per profile name */
  GPtrArray *procs;   /* PhProc*: long-running clients, stopped in teardown */
} PhFixture;

/* for g_test_add (): a running server, or none yet (then ph_fixture_start_server) */
void        ph_fixture_setup        (PhFixture     *f,
                                     gconstpointer  data);
void        ph_fixture_setup_bare   (PhFixture     *f,
                                     gconstpointer  data);
void        ph_fixture_teardown     (PhFixture     *f,
                                     gconstpointer  data);
gboolean    ph_fixture_start_server (PhFixture          *f,
                                     const char *const  *args);   /* nullable */
char       *ph_fixture_profile      (PhFixture     *f,
                                     const char    *profile);
char       *ph_password_of          (const char    *user);

PhResult   *ph_fixture_cli          (PhFixture     *f,
                                     const char    *profile,
                                     ...) G_GNUC_NULL_TERMINATED;
PhResult   *ph_fixture_cli_options  (PhFixture          *f,
                                     const char         *profile,
                                     const PhCliOptions *options,    /* nullable */
                                     ...) G_GNUC_NULL_TERMINATED;
PhResult   *ph_fixture_cli_with     (PhFixture          *f,
                                     const char         *profile,
                                     const char         *url,        /* nullable */
                                     const char         *password,   /* nullable */
                                     const PhCliOptions *options,    /* nullable */
                                     const char *const  *args);

PhResult   *ph_fixture_cli_full     (PhFixture     *f,
                                     const char    *profile,
                                     const char    *url,        /* nullable */
                                     const char    *password,   /* nullable */
                                     const char    *stdin_text, /* nullable */
                                     ...) G_GNUC_NULL_TERMINATED;

void        ph_fixture_register     (PhFixture     *f,
                                     const char    *user);
char       *ph_fixture_login        (PhFixture     *f,
                                     const char    *profile,
                                     const char    *user);
void        ph_fixture_contact_request (PhFixture  *f,
                                        const char *user,
                                        const char *verb,
                                        const char *other,
                                        const char *expected_relation);
void        ph_fixture_contacts     (PhFixture     *f,
                                     const char    *a,
                                     const char    *b);
PhProc     *ph_fixture_listen       (PhFixture     *f,
                                     const char    *profile,
                                     const char    *user);
const char *ph_listen_device        (PhProc        *listen);
PhProc     *ph_fixture_spawn        (PhFixture          *f,
                                     const char         *profile,
                                     const PhCliOptions *options,    /* nullable */
                                     const char *const  *args);

JsonObject *ph_result_event         (PhResult      *r,
                                     const char    *event);
void        ph_assert_result_event  (PhResult      *r,
                                     const char    *event,
                                     const char    *member,
                                     const char    *value);

G_END_DECLS
