/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path-popover.c: the path to a contact in full: its kind and remote address, the
 * round-trip time, why it is relayed, both sides' NAT behaviour, each candidate and what its
 * check did, and the relay-only switch. Follows the contact's notify; no protocol logic. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-path-popover.h"

#include <glib/gi18n.h>

#include "pinhole-path-text.h"

struct _PinholePathPopover
{
  GtkPopover      parent_instance;

  /* template children */
  GtkImage       *kind_image;
  GtkLabel       *kind_label;
  GtkLabel       *remote_label;
  GtkLabel       *rtt_label;
  GtkLabel       *explain_label;
  GtkWidget      *relay_box;
  GtkLabel       *reason_label;
  GtkWidget      *retry_button;
  GtkLabel       *our_nat_label;
  GtkLabel       *their_nat_title;
  GtkLabel       *their_nat_label;
  GtkBox         *local_box;
  GtkLabel       *checks_title;
  GtkGrid        *checks_grid;
  GtkLabel       *relay_only_subtitle;
  GtkSwitch      *relay_only_switch;

  /* owned */
  PinholeClient  *client;
  PinholeContact *contact;
  PinholeDevice  *device;     /* the contact's current device, whose nat we follow */

  gboolean        syncing;    /* the switch is being set from the profile */
};

G_DEFINE_FINAL_TYPE (PinholePathPopover, pinhole_path_popover, GTK_TYPE_POPOVER)

static void
clear_children (GtkContainer *container)
{
  g_autoptr(GList) children = gtk_container_get_children (container);

  for (GList *l = children; l != NULL; l = l->next)
    gtk_widget_destroy (l->data);
}

static GtkWidget *
mono_label (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_widget_set_can_focus (label, FALSE);
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_line_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_style_context_add_class (gtk_widget_get_style_context (label), "monospace");
  gtk_style_context_add_class (gtk_widget_get_style_context (label), "candidate");
  gtk_widget_show (label);
  return label;
}

static void
update_checks (PinholePathPopover *self)
{
  g_autoptr(GPtrArray) local = pinhole_client_dup_local_candidates (self->client);
  g_autoptr(GPtrArray) checks = self->device ? pinhole_device_dup_checks (self->device) : NULL;
  g_autofree char *title = NULL;

  clear_children (GTK_CONTAINER (self->local_box));
  clear_children (GTK_CONTAINER (self->checks_grid));
  if (local == NULL || local->len == 0)
    /* Translators: this device has no candidate addresses for a direct path */
    gtk_container_add (GTK_CONTAINER (self->local_box), mono_label (_("none")));
  for (guint i = 0; local != NULL && i < local->len; i++)
    gtk_container_add (GTK_CONTAINER (self->local_box),
                       mono_label (g_ptr_array_index (local, i)));

  /* Translators: a heading in the path popover; %s is the contact's user name */
  title = g_strdup_printf (_("%s’s device"), pinhole_contact_get_user (self->contact));
  gtk_label_set_text (self->checks_title, title);
  if (checks == NULL || checks->len == 0)
    {
      /* Translators: no search for a direct path to this device, or one without candidates */
      const char *words = checks == NULL ? _("no search") : _("no candidates yet");

      gtk_grid_attach (self->checks_grid, mono_label (words), 0, 0, 1, 1);
      return;
    }
  /* the address matters most: the candidate on its line, what its check did under it */
  for (guint i = 0; i < checks->len; i++)
    {
      g_autofree char *candidate = NULL;
      g_autofree char *result = NULL;
      gboolean ok = pinhole_path_text_split_check (g_ptr_array_index (checks, i), &candidate,
                                                   &result);
      GtkWidget *result_label = gtk_label_new (result);
      GtkStyleContext *style = gtk_widget_get_style_context (result_label);

      gtk_label_set_xalign (GTK_LABEL (result_label), 0);
      gtk_label_set_line_wrap (GTK_LABEL (result_label), TRUE);
      gtk_style_context_add_class (style, ok ? "check-succeeded" : "dim-label");
      gtk_style_context_add_class (style, "check-result");
      gtk_widget_show (result_label);
      gtk_grid_attach (self->checks_grid, mono_label (candidate), 0, 2 * i, 1, 1);
      gtk_grid_attach (self->checks_grid, result_label, 0, 2 * i + 1, 1, 1);
    }
}

static void
sync_relay_only (PinholePathPopover *self)
{
  const char *user = pinhole_contact_get_user (self->contact);
  g_autofree char *subtitle =
    /* Translators: the "Relay only for this contact" switch; %s is the contact's user name */
    g_strdup_printf (_("%s never learns your addresses; messages always go through the server."),
                     user);

  self->syncing = TRUE;
  gtk_switch_set_active (self->relay_only_switch,
                         pinhole_profile_get_relay_only (pinhole_client_get_profile (self->client),
                                                         user));
  self->syncing = FALSE;
  gtk_label_set_text (self->relay_only_subtitle, subtitle);
}

static gboolean
can_retry (PinholeContact *contact)
{
  if (pinhole_contact_get_path_kind (contact) != PINHOLE_PATH_KIND_RELAY)
    return FALSE;
  switch (pinhole_contact_get_relay_reason (contact))
    {
    case PINHOLE_RELAY_REASON_RELAY_ONLY:
    case PINHOLE_RELAY_REASON_CONTACT_RELAY_ONLY:
    case PINHOLE_RELAY_REASON_DIRECT_OFF:
    case PINHOLE_RELAY_REASON_NO_SOCKETS:
    case PINHOLE_RELAY_REASON_SEARCHING:
      return FALSE;
    default:
      return TRUE;
    }
}

static void
update (PinholePathPopover *self)
{
  PinholeContact *contact = self->contact;
  PinholePathKind kind;
  const char *user, *remote, *reason;
  const PinholeNatInfo *nat;
  g_autofree char *title = NULL;
  g_autofree char *rtt = NULL;
  g_autofree char *explain = NULL;
  g_autofree char *ours = NULL;
  g_autofree char *theirs = NULL;
  g_autofree char *theirs_title = NULL;
  g_autofree char *reason_text = NULL;
  GtkStyleContext *style = gtk_widget_get_style_context (GTK_WIDGET (self->kind_image));

  if (contact == NULL)
    return;
  kind = pinhole_contact_get_path_kind (contact);
  user = pinhole_contact_get_user (contact);
  title = pinhole_path_text_title (kind, -1);
  gtk_label_set_text (self->kind_label, title);
  gtk_image_set_from_icon_name (self->kind_image, pinhole_path_text_icon_name (kind),
                                GTK_ICON_SIZE_DND);
  if (kind == PINHOLE_PATH_KIND_RELAY || kind == PINHOLE_PATH_KIND_NONE)
    gtk_style_context_remove_class (style, "direct");
  else
    gtk_style_context_add_class (style, "direct");
  remote = pinhole_contact_get_remote (contact);
  gtk_label_set_text (self->remote_label, remote != NULL ? remote : "");
  /* on the relay the remote is the server, which the title already says */
  gtk_widget_set_visible (GTK_WIDGET (self->remote_label),
                          remote != NULL && *remote != '\0' && kind != PINHOLE_PATH_KIND_RELAY);
  rtt = pinhole_path_text_rtt (pinhole_contact_get_rtt_ms (contact));
  gtk_label_set_text (self->rtt_label, rtt != NULL ? rtt : "");
  if (rtt != NULL)
    {
      /* Translators: a screen reader's name for the round-trip time, "Round trip 23 ms" */
      g_autofree char *name = g_strdup_printf (_("Round trip %s"), rtt);

      atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self->rtt_label)), name);
    }
  explain = pinhole_path_text_explain (kind, user);
  gtk_label_set_text (self->explain_label, explain);

  reason = pinhole_contact_get_relay_reason_text (contact);
  gtk_widget_set_visible (self->relay_box, kind == PINHOLE_PATH_KIND_RELAY);
  if (reason != NULL && *reason != '\0')
    {
      /* Translators: %s is the core's reason in lower case (the CLI prints it after
         "relayed: "), e.g. "UDP is blocked on this network and TCP punching failed" */
      reason_text = g_strdup_printf (_("Why relayed: %s."), reason);
      gtk_label_set_text (self->reason_label, reason_text);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->reason_label), reason_text != NULL);
  gtk_widget_set_visible (self->retry_button, can_retry (contact));

  ours = pinhole_client_dup_network_description (self->client);
  /* Translators: under "This device": this device does not look for direct paths */
  gtk_label_set_text (self->our_nat_label, ours != NULL ? ours : _("direct paths are off"));
  theirs_title = g_strdup_printf (_("%s’s device"), user);
  gtk_label_set_text (self->their_nat_title, theirs_title);
  nat = self->device != NULL ? pinhole_device_get_nat (self->device) : NULL;
  theirs = nat != NULL ? pinhole_nat_info_describe (nat) : NULL;
  /* Translators: the contact's device has not described its network yet */
  gtk_label_set_text (self->their_nat_label, theirs != NULL ? theirs : _("not told yet"));

  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    update_checks (self);
}

static void
follow_device (PinholePathPopover *self)
{
  PinholeDevice *device = self->contact ? pinhole_contact_get_current_device (self->contact)
                                        : NULL;

  if (device == self->device)
    return;
  if (self->device != NULL)
    g_signal_handlers_disconnect_by_data (self->device, self);
  g_set_object (&self->device, device);
  if (device != NULL)
    g_signal_connect_object (device, "notify::nat", G_CALLBACK (update), self,
                             G_CONNECT_SWAPPED);
}

static void
current_device_cb (PinholePathPopover *self)
{
  follow_device (self);
  update (self);
}

static void
retry_clicked_cb (PinholePathPopover *self)
{
  if (self->device != NULL)
    pinhole_device_retry_direct (self->device);
}

static void
relay_only_cb (PinholePathPopover *self)
{
  g_autoptr(GError) error = NULL;
  gboolean active = gtk_switch_get_active (self->relay_only_switch);

  if (self->syncing || self->contact == NULL)
    return;
  if (!pinhole_client_set_relay_only (self->client, pinhole_contact_get_user (self->contact),
                                      active, &error))
    {
      g_message ("relay-only not changed: %s", error->message);
      sync_relay_only (self);
    }
}

static void
pinhole_path_popover_map (GtkWidget *widget)
{
  PinholePathPopover *self = PINHOLE_PATH_POPOVER (widget);

  GTK_WIDGET_CLASS (pinhole_path_popover_parent_class)->map (widget);
  if (self->contact != NULL)
    {
      /* the dialog may have turned the switch since */
      sync_relay_only (self);
      update_checks (self);
    }
}

static void
pinhole_path_popover_dispose (GObject *object)
{
  PinholePathPopover *self = PINHOLE_PATH_POPOVER (object);

  pinhole_path_popover_set_contact (self, NULL, NULL);
  G_OBJECT_CLASS (pinhole_path_popover_parent_class)->dispose (object);
}

static void
pinhole_path_popover_class_init (PinholePathPopoverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_path_popover_dispose;
  widget_class->map = pinhole_path_popover_map;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-path-popover.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, PinholePathPopover, name)
  BIND (kind_image);
  BIND (kind_label);
  BIND (remote_label);
  BIND (rtt_label);
  BIND (explain_label);
  BIND (relay_box);
  BIND (reason_label);
  BIND (retry_button);
  BIND (our_nat_label);
  BIND (their_nat_title);
  BIND (their_nat_label);
  BIND (local_box);
  BIND (checks_title);
  BIND (checks_grid);
  BIND (relay_only_subtitle);
  BIND (relay_only_switch);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, retry_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, relay_only_cb);
}

static void
pinhole_path_popover_init (PinholePathPopover *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
pinhole_path_popover_new (void)
{
  return g_object_new (PINHOLE_TYPE_PATH_POPOVER, NULL);
}

/**
 * pinhole_path_popover_set_contact:
 * @contact: (nullable): the contact whose path to show
 */
void
pinhole_path_popover_set_contact (PinholePathPopover *self,
                                  PinholeClient      *client,
                                  PinholeContact     *contact)
{
  static const char *const props[] = {
    "notify::path-kind", "notify::rtt-ms", "notify::remote", "notify::relay-reason",
    "notify::relay-reason-text",
  };

  g_return_if_fail (PINHOLE_IS_PATH_POPOVER (self));

  if (self->contact != NULL)
    g_signal_handlers_disconnect_by_data (self->contact, self);
  g_set_object (&self->client, client);
  g_set_object (&self->contact, contact);
  follow_device (self);
  if (contact == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (props); i++)
    g_signal_connect_object (contact, props[i], G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::current-device", G_CALLBACK (current_device_cb),
                           self, G_CONNECT_SWAPPED);
  sync_relay_only (self);
  update (self);
}
