/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-transfer.h: what the transfer tests share: files of known content, and an
 * async result kept for the test to finish the call. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* @rel below @root, its folders made, @len bytes that follow from @seed */
void ph_test_write_file      (const char   *root,
                              const char   *rel,
                              gsize         len,
                              guint8        seed);
/* a GAsyncReadyCallback: stores a reference to the result in *(GAsyncResult **) user_data */
void ph_test_store_result_cb (GObject      *source,
                              GAsyncResult *result,
                              gpointer      user_data);

void  ph_test_assert_same_file (const char   *a,
                               const char   *b);
guint ph_test_count_partials   (const char   *dir);

G_END_DECLS
