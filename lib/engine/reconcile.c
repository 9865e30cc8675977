/* Owns reconcile: run on every engine open, it repairs what crashed processes left behind.
 * It stays cheap by looking only where trouble can be: boxes the store says are live (is
 * their monitor?), intent files nobody holds (a create, start or remove that died
 * half-way: finish or undo it), and trash entries nobody is deleting. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "engine/rootfs.h"
#include "linux/proc.h"
#include "store/boxes.h"
#include "util/strutil.h"



static int
reconcile_live_boxes (box_engine *eng, box_error **err)
{
  store_live_box *live = NULL;
  size_t n = 0;
  if (store_box_list_live (eng->store, &live, &n, err) < 0)
    return box_err_code (err);
  for (size_t i = 0; i < n; i++)
    if (!proc_is_alive (live[i].monitor.pid, live[i].monitor.start_ticks))
      {
        /* a box that cannot be repaired now is tried again on the next open; it must not
         * make the engine unusable */
        box_error *local = NULL;
        engine_box_mark_dead (eng, live[i].id, "the box's monitor died", false, &local);
        box_error_free (local);
      }
  free (live);
  return 0;
}

/* An unheld intent (fd, now ours): the process that took it died before finishing. */
static int
finish_intent (box_engine *eng, const char *id, int fd, box_error **err)
{
  _cleanup_ (box_box_freep) box_box *box = NULL;
  int found = store_box_get_by_id (eng->store, id, &box, err);
  if (found < 0)
    return found;
  if (found == 0)
    {
      /* a create that died before its row, or a remove after it: the directory is left,
       * and the runtime's state when the intent names a runtime (a monitor that ended an
       * --rm box deletes its row while the runtime releases the box: killed then, it left
       * an OCI runtime's state and cgroups behind) */
      char runtime[PATH_MAX + 16]; /* "oci:" and a path */
      engine_intent_read_runtime (fd, runtime, sizeof runtime);
      if (runtime[0] && engine_box_release (eng->root, id, runtime, err) < 0)
        return box_err_code (err);
      return engine_box_remove_dir (eng->root, id, err);
    }
  store_box_monitor monitor = { 0 };
  if (store_box_get_monitor (eng->store, id, &monitor, err) < 0)
    return box_err_code (err);
  bool live = box->state == BOX_STATE_RUNNING || box->state == BOX_STATE_PAUSED
              || box->state == BOX_STATE_RESTARTING;
  if (live && proc_is_alive (monitor.pid, monitor.start_ticks))
    return 0; /* the start succeeded; only its caller died */
  if (live)
    return engine_box_mark_dead (eng, id, "the box's monitor died", true, err);
  /* a start that died before the box ran: whatever it mounted or created goes */
  return engine_box_release (eng->root, id, box->runtime, err);
}

static int
reconcile_intents (box_engine *eng, box_error **err)
{
  _cleanup_free_ char *path = NULL;
  if (asprintf (&path, "%s/" ENGINE_INTENTS_DIR, eng->root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_closedir_ DIR *dir = opendir (path);
  if (!dir)
    return errno == ENOENT ? 0 : box_err_errno (err, errno, "open %s", path);
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      if (strlen (de->d_name) != BOX_ID_HEX_LENGTH || !str_is_lower_hex (de->d_name))
        continue;
      int fd = -1;
      int held = engine_intent_lock (eng->root, de->d_name, false, &fd, err);
      if (held < 0)
        return box_err_code (err);
      if (held == 0)
        continue; /* its process is alive and working */
      box_error *local = NULL;
      if (finish_intent (eng, de->d_name, fd, &local) < 0)
        {
          box_error_free (local); /* retried on the next open */
          close (fd);
          continue;
        }
      engine_intent_done (eng->root, de->d_name, fd);
    }
  return 0;
}

/* Trash entries nobody holds: the removal of a box whose remover died mid-way. */
static int
reconcile_trash (box_engine *eng, box_error **err)
{
  _cleanup_free_ char *path = NULL;
  if (asprintf (&path, "%s/" ENGINE_TRASH_DIR, eng->root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_closedir_ DIR *dir = opendir (path);
  if (!dir)
    return errno == ENOENT ? 0 : box_err_errno (err, errno, "open %s", path);
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      if (strlen (de->d_name) != BOX_ID_HEX_LENGTH || !str_is_lower_hex (de->d_name))
        continue;
      int fd = openat (dirfd (dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        continue; /* deleted meanwhile */
      if (flock (fd, LOCK_EX | LOCK_NB) < 0)
        {
          close (fd); /* its remover is alive and deleting it */
          continue;
        }
      box_error *local = NULL;
      if (engine_trash_remove (eng->root, de->d_name, fd, &local) < 0)
        box_error_free (local); /* retried on the next open */
    }
  return 0;
}

int
engine_reconcile (box_engine *eng, box_error **err)
{
  if (reconcile_live_boxes (eng, err) < 0 || reconcile_intents (eng, err) < 0
      || reconcile_trash (eng, err) < 0)
    return box_err_wrap (err, "reconcile %s", eng->root);
  return 0;
}
