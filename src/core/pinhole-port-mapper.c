/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-port-mapper.c: port mappings at the home router: map with the first backend that
 * works (UPnP-IGD, PCP, then NAT-PMP: pinhole-port-mapper-upnp.c, -pcp.c, -natpmp.c), renew
 * at half the lease (RFC 6886 §3.3, RFC 6887 §11.2.1), delete at shutdown and dispose
 * (§3.4, §15). Every backend blocks, so every router exchange runs in a GTask worker on a
 * copied job. */
#define G_LOG_DOMAIN "pinhole-portmap"

#include "pinhole-port-mapper-private.h"

#include "pinhole-error.h"

/* shutdown deletes what it can within this time */
#define SHUTDOWN_DEADLINE_MS 3000
/* a failed renewal is retried while at least this much of the lease is left */
#define RENEW_MIN_LEFT_MS 2000

static void
port_job_free (PinholePortMapperJob *job)
{
  g_free (job->internal_address);
  g_free (job->control_url);
  g_free (job->service_type);
  g_free (job->lan_address);
  g_free (job->external_address);
  g_free (job->gateway_source);
  g_free (job->reason);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholePortMapperJob, port_job_free)

static PinholePortMapperJob *
port_job_copy (const PinholePortMapperJob *src)
{
  PinholePortMapperJob *job = g_memdup2 (src, sizeof *src);

  job->internal_address = g_strdup (src->internal_address);
  job->control_url = g_strdup (src->control_url);
  job->service_type = g_strdup (src->service_type);
  job->lan_address = g_strdup (src->lan_address);
  job->external_address = g_strdup (src->external_address);
  job->gateway_source = g_strdup (src->gateway_source);
  job->reason = g_strdup (src->reason);
  return job;
}

/* one mapping the mapper keeps alive; lives on the main context only */
typedef struct
{
  PinholePortMapping   *mapping;      /* owned: what callers see */
  PinholePortMapperJob *job;          /* owned: how to renew and delete it */
  gint64                expires_us;   /* monotonic; G_MAXINT64 when permanent */
  GSource              *renew_source; /* owned: the next renewal, on the mapper's context */
  gboolean              renewing;
} Record;

static void
record_free (Record *record)
{
  if (record->renew_source != NULL)
    {
      g_source_destroy (record->renew_source);
      g_clear_pointer (&record->renew_source, g_source_unref);
    }
  pinhole_port_mapping_free (record->mapping);
  port_job_free (record->job);
  g_free (record);
}

struct _PinholePortMapper
{
  GObject                  parent_instance;

  /* owned */
  GMainContext            *context;         /* where signals and timers run */
  GCancellable            *cancellable;     /* renewals; cancelled in dispose and shutdown */
  GHashTable              *records;         /* id → Record */
  GInetAddress            *external_address;

  PinholePortMapMethods    methods;
  GTask                   *shutdown_task;   /* owned: waits for renewals in flight */
  guint                    renewals_in_flight;
  guint                    next_id;
  PinholePortMapperAnswer  upnp_answer;
  PinholePortMapperAnswer  pcp_answer;
  PinholePortMapperAnswer  nat_pmp_answer;
  gboolean                 shut_down;
};

G_DEFINE_FINAL_TYPE (PinholePortMapper, pinhole_port_mapper, G_TYPE_OBJECT)
G_DEFINE_BOXED_TYPE (PinholePortMapping, pinhole_port_mapping,
                     pinhole_port_mapping_copy, pinhole_port_mapping_free)

enum { SIGNAL_MAPPING_CHANGED, SIGNAL_MAPPING_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

static void       schedule_renewal (PinholePortMapper *self, Record *record, gint64 delay_ms);
static GPtrArray *take_all_jobs    (PinholePortMapper *self);
static void       start_delete     (GTask *task, GPtrArray *jobs);

/* ---- PinholePortMapping ---- */

PinholePortMapping *
pinhole_port_mapping_copy (const PinholePortMapping *mapping)
{
  PinholePortMapping *copy;

  g_return_val_if_fail (mapping != NULL, NULL);

  copy = g_memdup2 (mapping, sizeof *mapping);
  if (copy->internal_address)
    g_object_ref (copy->internal_address);
  if (copy->external_address)
    g_object_ref (copy->external_address);
  copy->reason = g_strdup (mapping->reason);
  return copy;
}

void
pinhole_port_mapping_free (PinholePortMapping *mapping)
{
  if (mapping == NULL)
    return;
  g_clear_object (&mapping->internal_address);
  g_clear_object (&mapping->external_address);
  g_free (mapping->reason);
  g_free (mapping);
}

const char *
_pinhole_port_mapper_protocol_name (PinholePortMapProtocol protocol)
{
  return protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP ? "TCP" : "UDP";
}

char *
pinhole_port_mapping_to_string (const PinholePortMapping *mapping)
{
  g_autofree char *ext = NULL;
  g_autofree char *in = NULL;

  g_return_val_if_fail (mapping != NULL, NULL);

  ext = mapping->external_address ? g_inet_address_to_string (mapping->external_address)
                                  : g_strdup ("?");
  in = mapping->internal_address ? g_inet_address_to_string (mapping->internal_address)
                                 : g_strdup ("?");
  return g_strdup_printf ("%s %s %s:%u -> %s:%u lease %u s",
                          pinhole_path_kind_to_string (mapping->kind),
                          mapping->protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP ? "tcp" : "udp",
                          ext, mapping->external_port, in, mapping->internal_port,
                          mapping->lifetime_s);
}

/* ---- workers ---- */

/* in the order map_thread tries them: UPnP-IGD, then PCP before NAT-PMP, its predecessor on
 * the same port (docs/architecture.md, "Port mapping") */
static const PinholePortMapperBackend *const backends[] = {
  &_pinhole_port_mapper_upnp_backend,
  &_pinhole_port_mapper_pcp_backend,
  &_pinhole_port_mapper_natpmp_backend,
};

/* the backend that made a job's mapping */
static const PinholePortMapperBackend *
backend_for (const PinholePortMapperJob *job)
{
  for (guint i = 0; i < G_N_ELEMENTS (backends); i++)
    if (backends[i]->kind == job->method)
      return backends[i];
  g_assert_not_reached ();
  return NULL;
}

static void
map_thread (GTask        *task,
            gpointer      source_object,
            gpointer      task_data,
            GCancellable *cancellable)
{
  PinholePortMapperJob *job = task_data;
  g_autoptr(GString) reason = g_string_new (NULL);
  gboolean ok = FALSE;

  job->upnp_answer = PINHOLE_PORT_MAPPER_ANSWER_NOT_TRIED;
  job->pcp_answer = PINHOLE_PORT_MAPPER_ANSWER_NOT_TRIED;
  job->nat_pmp_answer = PINHOLE_PORT_MAPPER_ANSWER_NOT_TRIED;

  for (guint i = 0; i < G_N_ELEMENTS (backends) && !ok; i++)
    {
      if (!(job->methods & backends[i]->method) || g_cancellable_is_cancelled (cancellable))
        continue;
      if (reason->len > 0)
        g_string_append (reason, "; ");
      ok = backends[i]->map (task, job, reason, cancellable);
    }

  if (ok && g_cancellable_is_cancelled (cancellable))
    {
      /* the caller is gone: take the mapping back */
      backend_for (job)->remove (job, G_MAXINT64, NULL);
      ok = FALSE;
    }

  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "port mapping cancelled");
      return;
    }
  if (!ok)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
                               "no port mapping: %s",
                               reason->len ? reason->str : "no method enabled");
      return;
    }

  g_clear_pointer (&job->reason, g_free);
  if (reason->len > 0)
    job->reason = g_strdup (reason->str);
  g_task_return_boolean (task, TRUE);
}

static void
renew_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  PinholePortMapperJob *job = task_data;
  GError *error = NULL;

  if (backend_for (job)->renew (job, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

typedef struct
{
  GPtrArray *jobs;      /* PinholePortMapperJob */
  gint64     deadline_us;
} DeleteJobs;

static void
delete_jobs_free (DeleteJobs *d)
{
  g_ptr_array_unref (d->jobs);
  g_free (d);
}

static void
delete_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  DeleteJobs *d = task_data;
  guint failed = 0, i;
  g_autoptr(GString) errors = g_string_new (NULL);

  for (i = 0; i < d->jobs->len; i++)
    {
      PinholePortMapperJob *job = g_ptr_array_index (d->jobs, i);
      gint64 left_ms = (d->deadline_us - g_get_monotonic_time ()) / 1000;
      g_autoptr(GError) error = NULL;

      if (left_ms <= 0)
        {
          failed += d->jobs->len - i;
          g_string_append (errors, " (out of time)");
          break;
        }
      if (!backend_for (job)->remove (job, left_ms, &error))
        {
          failed++;
          g_string_append_printf (errors, " %s", error->message);
        }
    }

  if (failed > 0)
    g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                             "%u of %u port mappings not deleted:%s", failed, d->jobs->len,
                             errors->str);
  else
    g_task_return_boolean (task, TRUE);
}

/* ---- main-context side ---- */

static GInetAddress *
address_or_null (const char *s)
{
  return s ? g_inet_address_new_from_string (s) : NULL;
}

static void
set_external_address (PinholePortMapper *self,
                      const char        *address)
{
  g_autoptr(GInetAddress) a = address_or_null (address);

  if (a != NULL)
    g_set_object (&self->external_address, a);
}

static PinholePortMapping *
mapping_from_job (const PinholePortMapperJob *job,
                  guint                       id)
{
  PinholePortMapping *m = g_new0 (PinholePortMapping, 1);

  m->id = id;
  m->kind = job->method;
  m->protocol = job->protocol;
  m->internal_port = job->internal_port;
  m->internal_address = address_or_null (job->method == PINHOLE_PATH_KIND_UPNP
                                          ? job->lan_address : job->gateway_source);
  m->external_address = address_or_null (job->external_address);
  m->external_port = job->external_port;
  m->lifetime_s = job->granted_lifetime_s;
  m->reason = g_strdup (job->reason);
  return m;
}

#define MIN_RENEW_MS 2000

static gint64
renew_delay_ms (guint lifetime_s)
{
  /* renew at half the lease: RFC 6886 §3.3; a permanent UPnP mapping is checked as often
   * as a default lease would be renewed, to notice a router that forgot it */
  if (lifetime_s == 0)
    lifetime_s = PINHOLE_PORT_MAPPER_DEFAULT_LEASE_S;
  /* a router that grants a lease of a second or two gets a renewal no more often than this,
   * not one per half second in a worker thread */
  return MAX ((gint64) lifetime_s * 1000 / 2, MIN_RENEW_MS);
}

static void
record_set_lease (Record *record,
                  guint   lifetime_s)
{
  record->expires_us = lifetime_s == 0
    ? G_MAXINT64 : g_get_monotonic_time () + (gint64) lifetime_s * G_USEC_PER_SEC;
}

static void
lose_record (PinholePortMapper *self,
             Record            *record,
             const GError      *error)
{
  g_autoptr(PinholePortMapping) mapping = pinhole_port_mapping_copy (record->mapping);

  g_debug ("lost mapping %u: %s", mapping->id, error->message);
  g_hash_table_remove (self->records, GUINT_TO_POINTER (mapping->id));
  g_signal_emit (self, signals[SIGNAL_MAPPING_LOST], 0, mapping, error);
}

static void
renew_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  PinholePortMapper *self = PINHOLE_PORT_MAPPER (source);
  guint id = GPOINTER_TO_UINT (user_data);
  PinholePortMapperJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  Record *record;
  gboolean changed;

  g_task_propagate_boolean (G_TASK (result), &error);
  g_assert (self->renewals_in_flight > 0);
  self->renewals_in_flight--;
  if (self->shut_down)
    {
      /* deleting now cannot race with a renewal that re-adds the mapping after it */
      if (self->renewals_in_flight == 0 && self->shutdown_task != NULL)
        {
          g_autoptr(GTask) task = g_steal_pointer (&self->shutdown_task);
          start_delete (task, take_all_jobs (self));
        }
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  record = g_hash_table_lookup (self->records, GUINT_TO_POINTER (id));
  if (record == NULL)
    return;
  record->renewing = FALSE;

  if (error != NULL)
    {
      gint64 left_ms = record->expires_us == G_MAXINT64
        ? G_MAXINT64 : (record->expires_us - g_get_monotonic_time ()) / 1000;

      if (left_ms > RENEW_MIN_LEFT_MS && record->expires_us != G_MAXINT64)
        {
          g_debug ("renewing mapping %u failed (%s); again in %" G_GINT64_FORMAT " ms", id,
                   error->message, left_ms / 2);
          schedule_renewal (self, record, left_ms / 2);
          return;
        }
      lose_record (self, record, error);
      return;
    }

  changed = record->job->external_port != job->external_port
    || g_strcmp0 (record->job->external_address, job->external_address) != 0;
  record->job->external_port = job->external_port;
  g_free (record->job->external_address);
  record->job->external_address = g_strdup (job->external_address);
  record->job->granted_lifetime_s = job->granted_lifetime_s;
  record->job->pcp_epoch = job->pcp_epoch;
  record->job->lifetime_s = job->lifetime_s;
  g_clear_object (&record->mapping->external_address);
  record->mapping->external_address = address_or_null (job->external_address);
  set_external_address (self, job->external_address);
  record->mapping->external_port = job->external_port;
  record->mapping->lifetime_s = job->granted_lifetime_s;
  record_set_lease (record, job->granted_lifetime_s);
  g_debug ("renewed mapping %u: lease %u s", id, job->granted_lifetime_s);
  schedule_renewal (self, record, renew_delay_ms (job->granted_lifetime_s));
  if (changed)
    g_signal_emit (self, signals[SIGNAL_MAPPING_CHANGED], 0, record->mapping);
}

typedef struct
{
  PinholePortMapper *self;   /* borrowed: the mapper removes its sources in dispose */
  guint              id;
} RenewSource;

static gboolean
renew_source_cb (gpointer user_data)
{
  RenewSource *rs = user_data;
  PinholePortMapper *self = rs->self;
  Record *record = g_hash_table_lookup (self->records, GUINT_TO_POINTER (rs->id));
  g_autoptr(GTask) task = NULL;

  if (record == NULL)
    return G_SOURCE_REMOVE;
  g_clear_pointer (&record->renew_source, g_source_unref);
  record->renewing = TRUE;
  self->renewals_in_flight++;

  task = g_task_new (self, self->cancellable, renew_done_cb, GUINT_TO_POINTER (rs->id));
  g_task_set_source_tag (task, renew_source_cb);
  g_task_set_task_data (task, port_job_copy (record->job), (GDestroyNotify) port_job_free);
  g_task_run_in_thread (task, renew_thread);
  return G_SOURCE_REMOVE;
}

static void
schedule_renewal (PinholePortMapper *self,
                  Record            *record,
                  gint64             delay_ms)
{
  RenewSource *rs = g_new0 (RenewSource, 1);
  GSource *source;

  rs->self = self;
  rs->id = record->mapping->id;
  if (record->renew_source != NULL)
    {
      g_source_destroy (record->renew_source);
      g_source_unref (record->renew_source);
    }
  source = g_timeout_source_new ((guint) CLAMP (delay_ms, 0, G_MAXUINT));
  g_source_set_callback (source, renew_source_cb, rs, g_free);
  g_source_set_static_name (source, "[pinhole] port mapping renewal");
  g_source_attach (source, self->context);
  record->renew_source = source;
}

/* ---- public API ---- */

PinholePortMapper *
pinhole_port_mapper_new (void)
{
  return g_object_new (PINHOLE_TYPE_PORT_MAPPER, NULL);
}

void
pinhole_port_mapper_set_methods (PinholePortMapper     *self,
                                 PinholePortMapMethods  methods)
{
  g_return_if_fail (PINHOLE_IS_PORT_MAPPER (self));
  self->methods = methods & PINHOLE_PORT_MAP_METHOD_ALL;
}

PinholePortMapMethods
pinhole_port_mapper_get_methods (PinholePortMapper *self)
{
  g_return_val_if_fail (PINHOLE_IS_PORT_MAPPER (self), 0);
  return self->methods;
}

void
pinhole_port_mapper_map_async (PinholePortMapper      *self,
                               PinholePortMapProtocol  protocol,
                               guint16                 internal_port,
                               GInetAddress           *internal_address,
                               guint                   lifetime_s,
                               GCancellable           *cancellable,
                               GAsyncReadyCallback     callback,
                               gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  PinholePortMapperJob *job;

  g_return_if_fail (PINHOLE_IS_PORT_MAPPER (self));
  g_return_if_fail (protocol == PINHOLE_PORT_MAP_PROTOCOL_UDP
                    || protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP);
  g_return_if_fail (internal_port != 0);
  g_return_if_fail (internal_address == NULL || G_IS_INET_ADDRESS (internal_address));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_port_mapper_map_async);

  if (self->shut_down)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "the port mapper is shut down");
      return;
    }

  job = g_new0 (PinholePortMapperJob, 1);
  job->kind = PINHOLE_PORT_MAPPER_JOB_MAP;
  job->methods = self->methods;
  job->protocol = protocol;
  job->internal_port = internal_port;
  job->internal_address = internal_address ? g_inet_address_to_string (internal_address) : NULL;
  job->lifetime_s = lifetime_s;
  job->upnp_discover_ms = PINHOLE_PORT_MAPPER_UPNP_DISCOVER_MS;
  job->nat_pmp_deadline_ms = PINHOLE_PORT_MAPPER_NAT_PMP_DEADLINE_MS;
  job->pcp_deadline_ms = PINHOLE_PORT_MAPPER_PCP_DEADLINE_MS;
  g_task_set_task_data (task, job, (GDestroyNotify) port_job_free);
  /* discovery cannot be interrupted: a cancelled caller gets its answer at once and the
   * worker finishes alone, taking back anything it made (map_thread) */
  g_task_set_return_on_cancel (task, TRUE);
  g_task_run_in_thread (task, map_thread);
}

static void
note_answers (PinholePortMapper          *self,
              const PinholePortMapperJob *job)
{
  if (job == NULL)
    return;
  if (job->upnp_answer != PINHOLE_PORT_MAPPER_ANSWER_NOT_TRIED)
    self->upnp_answer = job->upnp_answer;
  if (job->pcp_answer != PINHOLE_PORT_MAPPER_ANSWER_NOT_TRIED)
    self->pcp_answer = job->pcp_answer;
  if (job->nat_pmp_answer != PINHOLE_PORT_MAPPER_ANSWER_NOT_TRIED)
    self->nat_pmp_answer = job->nat_pmp_answer;
}

PinholePortMapping *
pinhole_port_mapper_map_finish (PinholePortMapper  *self,
                                GAsyncResult       *result,
                                GError            **error)
{
  GTask *task = G_TASK (result);
  g_autoptr(GError) local_error = NULL;
  PinholePortMapperJob *job;
  Record *record;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (task) == pinhole_port_mapper_map_async, NULL);

  if (!g_task_propagate_boolean (task, &local_error))
    {
      /* a cancelled worker may still be running (return-on-cancel): leave its job alone */
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        note_answers (self, g_task_get_task_data (task));
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  job = g_task_get_task_data (task);
  note_answers (self, job);

  if (job->external_address)
    set_external_address (self, job->external_address);

  if (self->shut_down)
    {
      /* shut down while the worker mapped: take it back without keeping it */
      g_autoptr(GTask) del = g_task_new (NULL, NULL, NULL, NULL);
      GPtrArray *jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) port_job_free);

      g_ptr_array_add (jobs, port_job_copy (job));
      start_delete (del, jobs);
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED, "the port mapper is shut down");
      return NULL;
    }

  record = g_new0 (Record, 1);
  record->job = port_job_copy (job);
  record->mapping = mapping_from_job (job, ++self->next_id);
  record_set_lease (record, job->granted_lifetime_s);
  g_hash_table_insert (self->records, GUINT_TO_POINTER (record->mapping->id), record);
  schedule_renewal (self, record, renew_delay_ms (job->granted_lifetime_s));

  {
    g_autofree char *s = pinhole_port_mapping_to_string (record->mapping);
    g_debug ("mapped %s", s);
  }
  return pinhole_port_mapping_copy (record->mapping);
}

static GPtrArray *
take_all_jobs (PinholePortMapper *self)
{
  GPtrArray *jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) port_job_free);
  GHashTableIter iter;
  Record *record;

  g_hash_table_iter_init (&iter, self->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &record))
    g_ptr_array_add (jobs, port_job_copy (record->job));
  g_hash_table_remove_all (self->records);
  return jobs;
}

/* deletes jobs (taken) at the router in a worker, within SHUTDOWN_DEADLINE_MS */
static void
start_delete (GTask     *task,
              GPtrArray *jobs)
{
  DeleteJobs *d = g_new0 (DeleteJobs, 1);

  d->jobs = jobs;
  d->deadline_us = g_get_monotonic_time () + SHUTDOWN_DEADLINE_MS * 1000;
  g_task_set_task_data (task, d, (GDestroyNotify) delete_jobs_free);
  g_task_run_in_thread (task, delete_thread);
}

void
pinhole_port_mapper_shutdown_async (PinholePortMapper   *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GHashTableIter iter;
  Record *record;

  g_return_if_fail (PINHOLE_IS_PORT_MAPPER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_port_mapper_shutdown_async);

  if (self->shut_down)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "the port mapper is shut down already");
      return;
    }
  self->shut_down = TRUE;
  /* NAT-PMP renewals stop waiting at once; UPnP ones finish their one SOAP call */
  g_cancellable_cancel (self->cancellable);
  g_hash_table_iter_init (&iter, self->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &record))
    if (record->renew_source != NULL)
      {
        g_source_destroy (record->renew_source);
        g_clear_pointer (&record->renew_source, g_source_unref);
      }

  if (self->renewals_in_flight > 0)
    self->shutdown_task = g_steal_pointer (&task);
  else
    start_delete (task, take_all_jobs (self));
}

gboolean
pinhole_port_mapper_shutdown_finish (PinholePortMapper  *self,
                                     GAsyncResult       *result,
                                     GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

GInetAddress *
pinhole_port_mapper_get_external_address (PinholePortMapper *self)
{
  g_return_val_if_fail (PINHOLE_IS_PORT_MAPPER (self), NULL);
  return self->external_address;
}

GPtrArray *
pinhole_port_mapper_dup_mappings (PinholePortMapper *self)
{
  GPtrArray *out;
  GHashTableIter iter;
  Record *record;

  g_return_val_if_fail (PINHOLE_IS_PORT_MAPPER (self), NULL);

  out = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_port_mapping_free);
  g_hash_table_iter_init (&iter, self->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &record))
    g_ptr_array_add (out, pinhole_port_mapping_copy (record->mapping));
  return out;
}

static const char *
answer_name (PinholePortMapperAnswer a)
{
  switch (a)
    {
    case PINHOLE_PORT_MAPPER_ANSWER_YES:
      return "answered";
    case PINHOLE_PORT_MAPPER_ANSWER_NONE:
      return "none";
    case PINHOLE_PORT_MAPPER_ANSWER_NOT_TRIED:
    default:
      return "not tried";
    }
}

char *
pinhole_port_mapper_dup_summary (PinholePortMapper *self)
{
  g_return_val_if_fail (PINHOLE_IS_PORT_MAPPER (self), NULL);
  return g_strdup_printf ("upnp: %s, pcp: %s, nat-pmp: %s", answer_name (self->upnp_answer),
                          answer_name (self->pcp_answer), answer_name (self->nat_pmp_answer));
}

/* ---- GObject ---- */

static void
pinhole_port_mapper_dispose (GObject *object)
{
  PinholePortMapper *self = PINHOLE_PORT_MAPPER (object);

  g_cancellable_cancel (self->cancellable);
  if (self->records != NULL && g_hash_table_size (self->records) > 0)
    {
      /* best effort: a worker of its own deletes what shutdown did not */
      g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);

      start_delete (task, take_all_jobs (self));
    }
  g_clear_pointer (&self->records, g_hash_table_unref);
  g_clear_object (&self->external_address);

  G_OBJECT_CLASS (pinhole_port_mapper_parent_class)->dispose (object);
}

static void
pinhole_port_mapper_finalize (GObject *object)
{
  PinholePortMapper *self = PINHOLE_PORT_MAPPER (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->shutdown_task);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (pinhole_port_mapper_parent_class)->finalize (object);
}

static void
pinhole_port_mapper_class_init (PinholePortMapperClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_port_mapper_dispose;
  object_class->finalize = pinhole_port_mapper_finalize;

  /**
   * PinholePortMapper::mapping-changed:
   * @mapping: the mapping with its new external address or port
   * A renewal gave the mapping another external address or port.
   */
  signals[SIGNAL_MAPPING_CHANGED] =
    g_signal_new ("mapping-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1,
                  PINHOLE_TYPE_PORT_MAPPING | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * PinholePortMapper::mapping-lost:
   * @mapping: the mapping as it was
   * @error: why it could not be renewed
   * The router would not renew the mapping; the mapper no longer keeps it.
   */
  signals[SIGNAL_MAPPING_LOST] =
    g_signal_new ("mapping-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2,
                  PINHOLE_TYPE_PORT_MAPPING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
pinhole_port_mapper_init (PinholePortMapper *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
  self->records = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) record_free);
  self->methods = PINHOLE_PORT_MAP_METHOD_ALL;
}
