/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-util.h: the helpers every test folder shares: waits that iterate a main context
 * until a condition or a deadline (no sleep()), and temporary folders made and removed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*PhTestCondition) (gpointer data);

/* ---- waiting ---- */

gboolean ph_iterate_until         (PhTestCondition  done,
                                   gpointer         data,
                                   guint            timeout_ms);
gboolean ph_iterate_context_until (GMainContext    *context,     /* nullable: the default */
                                   PhTestCondition  done,
                                   gpointer         data,
                                   guint            timeout_ms);
gboolean ph_wait_flag             (const gboolean  *flag,
                                   guint            timeout_ms);
gboolean ph_wait_flag_in          (GMainContext    *context,     /* nullable: the default */
                                   const gboolean  *flag,
                                   guint            timeout_ms);
gboolean ph_wait_pointer          (gpointer const  *pointer,
                                   guint            timeout_ms);
void     ph_iterate_for           (guint            ms);

/* ---- temporary folders ---- */

char    *ph_make_tmp_dir          (const char      *tmpl);
gboolean ph_remove_tree           (const char      *path);

G_END_DECLS
