/* Owns the serialization and thinning of transfer progress events. */
#include "registry/progress.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Blobs tracked for thinning; more concurrent blobs than this are reported unthinned. */
#define PROGRESS_TRACKED 64

struct progress_reporter {
  box_transfer_progress_fn fn;
  void *userdata;
  pthread_mutex_t lock;
  struct {
    char id[80];
    int64_t last;
  } tracked[PROGRESS_TRACKED];
};

int
progress_reporter_new (box_transfer_progress_fn fn, void *userdata, progress_reporter **out,
                       box_error **err)
{
  progress_reporter *p = calloc (1, sizeof *p);
  if (!p)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  p->fn = fn;
  p->userdata = userdata;
  pthread_mutex_init (&p->lock, NULL);
  *out = p;
  return 0;
}

void
progress_reporter_free (progress_reporter *p)
{
  if (!p)
    return;
  pthread_mutex_destroy (&p->lock);
  free (p);
}

/* False when a byte count should be dropped (too close to the last one passed on). */
static bool
worth_reporting (progress_reporter *p, const char *id, int64_t current, int64_t total)
{
  size_t free_slot = PROGRESS_TRACKED;
  for (size_t i = 0; i < PROGRESS_TRACKED; i++)
    {
      if (strcmp (p->tracked[i].id, id) == 0)
        {
          if (current != total && current - p->tracked[i].last < PROGRESS_BYTES_STEP
              && current >= p->tracked[i].last)
            return false;
          p->tracked[i].last = current;
          return true;
        }
      if (!p->tracked[i].id[0] && free_slot == PROGRESS_TRACKED)
        free_slot = i;
    }
  if (free_slot < PROGRESS_TRACKED && strlen (id) < sizeof p->tracked[0].id)
    {
      strcpy (p->tracked[free_slot].id, id);
      p->tracked[free_slot].last = current;
    }
  return true;
}

void
progress_report (progress_reporter *p, box_transfer_status status, const char *id, int64_t current,
                 int64_t total)
{
  if (!p || !p->fn)
    return;
  pthread_mutex_lock (&p->lock);
  bool bytes = status == BOX_TRANSFER_DOWNLOADING || status == BOX_TRANSFER_UPLOADING;
  if (!bytes || worth_reporting (p, id, current, total))
    {
      box_transfer_progress event = { status, id, current, total };
      p->fn (&event, p->userdata);
    }
  pthread_mutex_unlock (&p->lock);
}
