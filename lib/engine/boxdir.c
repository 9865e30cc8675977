/* Owns the per-box directory (and its removal through the trash), intent locks, the runtime
 * context of an engine root, the release of what a stopped box still holds, and finding the
 * helper programs. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "engine/rootfs.h"
#include "linux/cgroup.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/random.h"

int
engine_box_dir (const char *root, const char *id, char **out, box_error **err)
{
  if (asprintf (out, "%s/" ENGINE_BOXES_DIR "/%s", root, id) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

/* Spares of this layout (ENGINE_SPARE_DIR): rootfs/, upper/ and work/ as rootfs_make_dirs_at
 * makes them, and nothing else. Another layout gets another prefix, and its spares are not
 * taken for this one. */
#define SPARE_LAYOUT_PREFIX "1-"

static bool
is_spare_of_this_layout (const char *name)
{
  return strncmp (name, SPARE_LAYOUT_PREFIX, strlen (SPARE_LAYOUT_PREFIX)) == 0;
}

/* Renames a spare to dir; false when none is left (or the spares cannot be read). */
static bool
take_spare (const char *root, const char *dir)
{
  char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/" ENGINE_SPARE_DIR, root);
  _cleanup_closedir_ DIR *spares = opendir (path);
  if (!spares)
    return false;
  for (struct dirent *de; (de = readdir (spares));)
    {
      if (!is_spare_of_this_layout (de->d_name))
        continue;
      if (renameat2 (dirfd (spares), de->d_name, AT_FDCWD, dir, RENAME_NOREPLACE) == 0)
        return true;
      if (errno != ENOENT) /* ENOENT: another process took it first */
        return false;
    }
  return false;
}

int
engine_box_make_dir (const char *root, const char *id, char **out, box_error **err)
{
  *out = NULL;
  _cleanup_free_ char *boxes = NULL, *dir = NULL;
  if (asprintf (&boxes, "%s/" ENGINE_BOXES_DIR, root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (engine_box_dir (root, id, &dir, err) < 0)
    return box_err_code (err);
  if (mkdir (boxes, 0711) < 0 && errno != EEXIST)
    return box_err_errno (err, errno, "mkdir %s", boxes);
  /* Boxes come and go by the hundred. Where ext4 runs without a journal, giving a file or
   * directory an inode scans past every inode of its block group deleted in the last
   * minutes: with every box directory in the group of boxes/, that scan was a quarter of the
   * CPU time of `box run --rm`. Spread over the disk's groups, each box's inodes (its
   * directory, files and overlay dirs) land where few went. Placing a directory so costs
   * more (0.35 ms here, scanning the groups), which a spare saves. */
  fs_spread_subdirectories (boxes);
  if (!take_spare (root, dir))
    {
      if (mkdir (dir, 0711) < 0)
        return box_err_errno (err, errno, "mkdir %s", dir);
      if (rootfs_prepare_dirs (dir, err) < 0)
        return box_err_code (err);
    }
  *out = TAKE_PTR (dir);
  return 0;
}

int
engine_intent_lock (const char *root, const char *id, bool wait, int *out_fd, box_error **err)
{
  _cleanup_free_ char *path = NULL;
  if (asprintf (&path, "%s/" ENGINE_INTENTS_DIR "/%s", root, id) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (;;)
    {
      _cleanup_close_ int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0 && errno == ENOENT)
        {
          _cleanup_free_ char *dir = NULL;
          if (asprintf (&dir, "%s/" ENGINE_INTENTS_DIR, root) < 0)
            return box_err (err, BOX_E_INTERNAL, "out of memory");
          if (mkdir (dir, 0700) < 0 && errno != EEXIST)
            return box_err_errno (err, errno, "mkdir %s", dir);
          continue;
        }
      if (fd < 0)
        return box_err_errno (err, errno, "open %s", path);
      int rc;
      do
        rc = flock (fd, LOCK_EX | (wait ? 0 : LOCK_NB));
      while (rc < 0 && errno == EINTR);
      if (rc < 0)
        {
          if (errno == EWOULDBLOCK)
            return 0;
          return box_err_errno (err, errno, "lock %s", path);
        }
      /* the holder before us may have finished and unlinked the file: then our lock is on a
       * file nobody else sees, and we start over */
      struct stat by_fd, by_path;
      if (fstat (fd, &by_fd) < 0)
        return box_err_errno (err, errno, "stat %s", path);
      if (stat (path, &by_path) < 0 || by_fd.st_ino != by_path.st_ino
          || by_fd.st_dev != by_path.st_dev)
        continue;
      *out_fd = TAKE_FD (fd);
      return 1;
    }
}

void
engine_intent_done (const char *root, const char *id, int fd)
{
  if (fd < 0)
    return;
  char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/" ENGINE_INTENTS_DIR "/%s", root, id);
  unlink (path);
  close (fd);
}

int
engine_intent_note_runtime (int fd, const char *runtime_name)
{
  size_t len = strlen (runtime_name);
  ssize_t n;
  do
    n = pwrite (fd, runtime_name, len, 0);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t) len)
    return n < 0 ? -errno : -EIO;
  return ftruncate (fd, (off_t) len) < 0 ? -errno : 0;
}

void
engine_intent_read_runtime (int fd, char *buf, size_t size)
{
  ssize_t n;
  do
    n = pread (fd, buf, size - 1, 0);
  while (n < 0 && errno == EINTR);
  buf[n > 0 ? n : 0] = '\0';
}

int
engine_runtime_open (const char *root, const char *name, engine_runtime *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  if (!name || !*name)
    name = ENGINE_DEFAULT_RUNTIME;
  out->backend = runtime_backend_lookup (name);
  if (!out->backend)
    return box_err (err, BOX_E_INVALID,
                    "unknown runtime \"%s\" (known: native, runc, oci:/path/to/runtime)", name);
  if (asprintf (&out->state_dir, "%s/" ENGINE_RUNTIME_DIR, root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (mkdir (out->state_dir, 0700) < 0 && errno != EEXIST)
    return box_err_errno (err, errno, "mkdir %s", out->state_dir);
  out->ctx.state_dir = out->state_dir;
  return 0;
}

void
engine_runtime_clear (engine_runtime *rt)
{
  free (rt->state_dir);
  rt->state_dir = NULL;
}

int
engine_box_release (const char *root, const char *id, const char *runtime_name, box_error **err)
{
  if (engine_box_release_runtime (root, id, runtime_name, err) < 0)
    return box_err_code (err);
  _cleanup_free_ char *dir = NULL;
  if (engine_box_dir (root, id, &dir, err) < 0)
    return box_err_code (err);
  if (rootfs_unmount (dir, err) < 0)
    return box_err_wrap (err, "release box %s", id);
  return 0;
}

int
engine_box_release_runtime (const char *root, const char *id, const char *runtime_name,
                            box_error **err)
{
  engine_runtime rt;
  if (engine_runtime_open (root, runtime_name, &rt, err) < 0)
    return box_err_wrap (err, "release box %s", id);
  int rc = rt.backend->delete (rt.backend, &rt.ctx, id, true, err);
  engine_runtime_clear (&rt);
  if (rc < 0)
    return box_err_wrap (err, "release box %s", id);
  /* and whatever the backend left in the cgroup the bundle named (a runtime killed half-way
   * through its create leaves one that it never recorded) */
  char cgroup[sizeof ENGINE_CGROUP_PARENT + BOX_ID_HEX_LENGTH + 2];
  snprintf (cgroup, sizeof cgroup, ENGINE_CGROUP_PARENT "/%s", id);
  if (cgroup_destroy (cgroup, ENGINE_CGROUP_EMPTY_TIMEOUT_MS, err) < 0)
    return box_err_wrap (err, "release box %s", id);
  return 0;
}

int
engine_box_retire_dir (const char *root, const char *id, int *out_lock_fd, box_error **err)
{
  *out_lock_fd = -1;
  _cleanup_free_ char *dir = NULL;
  if (engine_box_dir (root, id, &dir, err) < 0)
    return box_err_code (err);
  if (rootfs_unmount (dir, err) < 0)
    return box_err_wrap (err, "remove box %s", id);
  /* never recurse through a mount: that would delete inside whatever is mounted there */
  if (rootfs_is_mounted (dir))
    return box_err (err, BOX_E_BUSY, "remove box %s: %s/rootfs is still mounted", id, dir);
  _cleanup_close_ int lock_fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (lock_fd < 0)
    return errno == ENOENT ? 0 : box_err_errno (err, errno, "open %s", dir);
  /* held until the directory is deleted: reconcile leaves a locked trash entry alone */
  int rc;
  do
    rc = flock (lock_fd, LOCK_EX);
  while (rc < 0 && errno == EINTR);
  if (rc < 0)
    return box_err_errno (err, errno, "lock %s", dir);
  _cleanup_free_ char *trash = NULL;
  if (asprintf (&trash, "%s/" ENGINE_TRASH_DIR, root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (mkdir (trash, 0700) < 0 && errno != EEXIST)
    return box_err_errno (err, errno, "mkdir %s", trash);
  _cleanup_free_ char *target = NULL;
  if (asprintf (&target, "%s/%s", trash, id) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (rename (dir, target) < 0)
    {
      if (errno == ENOENT)
        return 0; /* removed meanwhile */
      return box_err_errno (err, errno, "rename %s to %s", dir, target);
    }
  *out_lock_fd = TAKE_FD (lock_fd);
  return 0;
}

int
engine_trash_remove (const char *root, const char *id, int lock_fd, box_error **err)
{
  _cleanup_close_ int lock = lock_fd;
  _cleanup_free_ char *trash = NULL;
  if (asprintf (&trash, "%s/" ENGINE_TRASH_DIR, root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_close_ int trash_fd = open (trash, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (trash_fd < 0)
    return errno == ENOENT ? 0 : box_err_errno (err, errno, "open %s", trash);
  if (fs_remove_tree (trash_fd, id, err) < 0)
    return box_err_wrap (err, "remove the directory of box %s", id);
  return 0;
}

/* The spares of this layout. Those of another layout (another version of box) go: renamed
 * into the trash under a box id first (a process may be taking one at the same moment; and
 * reconcile deletes such an entry should this process die before it does). */
static size_t
count_spares (const char *spare_dir, int trash_fd)
{
  _cleanup_closedir_ DIR *spares = opendir (spare_dir);
  if (!spares)
    return 0;
  size_t n = 0;
  for (struct dirent *de; (de = readdir (spares));)
    {
      char id[BOX_ID_HEX_LENGTH + 1];
      box_error *ignored = NULL;
      if (is_spare_of_this_layout (de->d_name))
        n++;
      else if (de->d_name[0] != '.' && random_id (id, &ignored) == 0
               && renameat2 (dirfd (spares), de->d_name, trash_fd, id, RENAME_NOREPLACE) == 0)
        fs_remove_tree (trash_fd, id, &ignored);
      box_error_free (ignored);
    }
  return n;
}

/* Empties the directory at box_fd (everything in it goes) and makes a spare's layout in it;
 * anything left or already there is a failure. */
static int
empty_to_spare_layout (int box_fd, const char *what, box_error **err)
{
  int list_fd = fcntl (box_fd, F_DUPFD_CLOEXEC, 0);
  if (list_fd < 0)
    return box_err_errno (err, errno, "read %s", what);
  _cleanup_closedir_ DIR *entries = fdopendir (list_fd);
  if (!entries)
    {
      close (list_fd);
      return box_err_errno (err, errno, "read %s", what);
    }
  struct dirent *de;
  while ((errno = 0, de = readdir (entries)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0
        && fs_remove_tree (box_fd, de->d_name, err) < 0)
      return box_err_code (err);
  if (errno)
    return box_err_errno (err, errno, "read %s", what);
  return rootfs_make_dirs_at (box_fd, what, true, err);
}

/* Empties trash/<id> to a spare's layout and renames it into spare/. A failure leaves it in
 * the trash, for the caller (or, after a crash, reconcile) to delete. */
static int
make_spare (const char *root, int trash_fd, const char *id, box_error **err)
{
  _cleanup_free_ char *spare_dir = NULL;
  if (asprintf (&spare_dir, "%s/" ENGINE_SPARE_DIR, root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (count_spares (spare_dir, trash_fd) >= ENGINE_SPARE_DIRS)
    return box_err (err, BOX_E_BUSY, "enough spare directories");
  if (mkdir (spare_dir, 0700) < 0 && errno != EEXIST)
    return box_err_errno (err, errno, "mkdir %s", spare_dir);

  /* everything goes, the subdirectories too: a box changes its upper dir's own attributes
   * (they are its root's), and its bind-mounted /etc files. Made again, they are new. */
  char what[sizeof ENGINE_TRASH_DIR + BOX_ID_HEX_LENGTH + 2];
  snprintf (what, sizeof what, ENGINE_TRASH_DIR "/%s", id);
  _cleanup_close_ int box_fd
      = openat (trash_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (box_fd < 0)
    return box_err_errno (err, errno, "open %s", what);
  if (empty_to_spare_layout (box_fd, what, err) < 0)
    return box_err_code (err);

  char name[sizeof SPARE_LAYOUT_PREFIX + BOX_ID_HEX_LENGTH];
  char random[BOX_ID_HEX_LENGTH + 1];
  if (random_id (random, err) < 0)
    return box_err_code (err);
  snprintf (name, sizeof name, SPARE_LAYOUT_PREFIX "%.32s", random);
  _cleanup_close_ int spares_fd = open (spare_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (spares_fd < 0 || renameat (trash_fd, id, spares_fd, name) < 0)
    return box_err_errno (err, errno, "rename %s to %s/%s", what, spare_dir, name);
  return 0;
}

int
engine_trash_recycle (const char *root, const char *id, int lock_fd, box_error **err)
{
  _cleanup_free_ char *trash = NULL;
  if (asprintf (&trash, "%s/" ENGINE_TRASH_DIR, root) < 0)
    {
      close (lock_fd);
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  _cleanup_close_ int trash_fd = open (trash, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  box_error *not_kept = NULL;
  if (trash_fd >= 0 && make_spare (root, trash_fd, id, &not_kept) == 0)
    {
      close (lock_fd);
      return 0;
    }
  box_error_free (not_kept);
  return engine_trash_remove (root, id, lock_fd, err);
}

int
engine_box_remove_dir (const char *root, const char *id, box_error **err)
{
  int lock_fd;
  if (engine_box_retire_dir (root, id, &lock_fd, err) < 0)
    return box_err_code (err);
  if (lock_fd < 0)
    return 0;
  return engine_trash_remove (root, id, lock_fd, err);
}

/* Directory of the file that holds this function: libbox.so, or the program that linked the
 * library statically (box-monitor, the unit tests). */
static char *
library_dir (void)
{
  Dl_info info;
  if (!dladdr ((void *) library_dir, &info) || !info.dli_fname)
    return NULL;
  char *resolved = realpath (info.dli_fname, NULL);
  if (!resolved)
    return NULL;
  char *slash = strrchr (resolved, '/');
  if (slash)
    *slash = '\0';
  return resolved;
}

int
engine_find_helper (const char *name, char **out, box_error **err)
{
  /* an explicit override, e.g. for an embedding program that installs helpers elsewhere */
  const char *env_name = strcmp (name, "box-monitor") == 0 ? "BOX_MONITOR" : "BOX_INIT";
  const char *env = getenv (env_name);
  if (env && *env)
    {
      if (access (env, X_OK) < 0)
        return box_err_errno (err, errno, "%s=%s", env_name, env);
      *out = strdup (env);
      return *out ? 0 : box_err (err, BOX_E_INTERNAL, "out of memory");
    }

  _cleanup_free_ char *lib = library_dir ();
  _cleanup_free_ char *exe = realpath ("/proc/self/exe", NULL);
  char *slash = exe ? strrchr (exe, '/') : NULL;
  if (slash)
    *slash = '\0';
  const char *subdir = strcmp (name, "box-monitor") == 0 ? "monitor" : "init";
  char candidates[5][PATH_MAX];
  size_t n = 0;
  if (lib)
    {
      /* build tree: build/lib/libbox.so next to build/src/<helper>/ */
      snprintf (candidates[n++], PATH_MAX, "%s/../src/%s/%s", lib, subdir, name);
      snprintf (candidates[n++], PATH_MAX, "%s/%s", lib, name);
    }
  if (exe)
    {
      /* installed next to box; or the build tree's src/box/box */
      snprintf (candidates[n++], PATH_MAX, "%s/%s", exe, name);
      snprintf (candidates[n++], PATH_MAX, "%s/../%s/%s", exe, subdir, name);
    }
#ifdef BOX_HELPER_INSTALL_DIR
  snprintf (candidates[n++], PATH_MAX, "%s/%s", BOX_HELPER_INSTALL_DIR, name);
#endif
  for (size_t i = 0; i < n; i++)
    if (access (candidates[i], X_OK) == 0)
      {
        *out = realpath (candidates[i], NULL);
        return *out ? 0 : box_err_errno (err, errno, "resolve %s", candidates[i]);
      }
  return box_err (err, BOX_E_NOT_FOUND,
                  "cannot find the %s program next to libbox or the running program "
                  "(set $%s to its path)",
                  name, env_name);
}
