/* Owns box root filesystems: the overlay mount of image layers plus a per-box upper layer.
 * The mount goes through the new mount API, one "lowerdir+" per layer (kernel 6.8+), so the
 * number of layers is not bounded by the one-page option string of mount(2); older kernels
 * get mount(2) with the classic colon-joined lowerdir through short per-box symlinks (l/0,
 * l/1, ...). */
#include "engine/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/random.h"

#define BOX_DIR_MODE 0700

int
rootfs_make_dirs_at (int box_fd, const char *what, bool must_be_new, box_error **err)
{
  /* the mount point, and the upper dir whose mode the overlay's root takes, must be
   * traversable by the box's (possibly non-root) user; the modes are set whatever the umask
   * of the process that makes them */
  static const struct {
    const char *name;
    mode_t mode;
  } dirs[] = { { "rootfs", 0755 }, { "upper", 0755 }, { "work", BOX_DIR_MODE } };
  for (size_t i = 0; i < ARRAY_SIZE (dirs); i++)
    {
      if (mkdirat (box_fd, dirs[i].name, dirs[i].mode) < 0 && (must_be_new || errno != EEXIST))
        return box_err_errno (err, errno, "mkdir %s/%s", what, dirs[i].name);
      _cleanup_close_ int fd
          = openat (box_fd, dirs[i].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 || fchmod (fd, dirs[i].mode) < 0)
        return box_err_errno (err, errno, "chmod %s/%s", what, dirs[i].name);
    }
  return 0;
}

int
rootfs_prepare_dirs (const char *box_dir, box_error **err)
{
  _cleanup_close_ int box_fd = open (box_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (box_fd < 0)
    return box_err_errno (err, errno, "open %s", box_dir);
  return rootfs_make_dirs_at (box_fd, box_dir, false, err);
}

static int
fill_skeleton (int dirfd, const char *path, box_error **err)
{
  static const char *const dirs[] = { "proc", "dev", "sys", "etc" };
  static const char *const files[] = { "etc/hosts", "etc/hostname", "etc/resolv.conf" };
  for (size_t i = 0; i < ARRAY_SIZE (dirs); i++)
    if (mkdirat (dirfd, dirs[i], 0755) < 0)
      return box_err_errno (err, errno, "mkdir %s/%s", path, dirs[i]);
  for (size_t i = 0; i < ARRAY_SIZE (files); i++)
    {
      int fd = openat (dirfd, files[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0)
        return box_err_errno (err, errno, "create %s/%s", path, files[i]);
      close (fd);
    }
  return 0;
}

int
rootfs_skeleton (const char *root, char **out, box_error **err)
{
  _cleanup_free_ char *path = NULL;
  if (asprintf (&path, "%s/" ROOTFS_SKELETON_DIR, root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  struct stat st;
  if (stat (path, &st) == 0)
    {
      *out = TAKE_PTR (path);
      return 0;
    }
  /* made under a temporary name and renamed into place: a layer changes under no mount */
  char suffix[65];
  if (random_id (suffix, err) < 0)
    return box_err_code (err);
  _cleanup_free_ char *tmp_name = NULL;
  if (asprintf (&tmp_name, ROOTFS_SKELETON_DIR ".tmp-%.16s", suffix) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_close_ int root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return box_err_errno (err, errno, "open %s", root);
  if (mkdirat (root_fd, tmp_name, 0755) < 0)
    return box_err_errno (err, errno, "mkdir %s/%s", root, tmp_name);
  int rc;
  {
    _cleanup_close_ int tmp_fd = openat (root_fd, tmp_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rc = tmp_fd < 0 ? box_err_errno (err, errno, "open %s/%s", root, tmp_name)
                    : fill_skeleton (tmp_fd, tmp_name, err);
  }
  if (rc == 0 && renameat (root_fd, tmp_name, root_fd, ROOTFS_SKELETON_DIR) < 0 && errno != EEXIST
      && errno != ENOTEMPTY)
    rc = box_err_errno (err, errno, "rename %s/%s to %s", root, tmp_name, path);
  if (faccessat (root_fd, tmp_name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    {
      /* failed, or another process made the skeleton first */
      box_error *ignored = NULL;
      if (fs_remove_tree (root_fd, tmp_name, &ignored) < 0)
        box_error_free (ignored);
    }
  if (rc < 0)
    return box_err_wrap (err, "make the box skeleton layer");
  *out = TAKE_PTR (path);
  return 0;
}

bool
rootfs_is_mounted (const char *box_dir)
{
  _cleanup_free_ char *rootfs = NULL;
  if (asprintf (&rootfs, "%s/rootfs", box_dir) < 0)
    return false;
  struct stat dir_st, root_st;
  if (stat (box_dir, &dir_st) < 0 || lstat (rootfs, &root_st) < 0)
    return false;
  return dir_st.st_dev != root_st.st_dev;
}

static int
fsconfig_string (int fs_fd, const char *key, const char *value, box_error **err)
{
  if (fsconfig (fs_fd, FSCONFIG_SET_STRING, key, value, 0) < 0)
    return box_err_errno (err, errno, "overlay option %s=%s", key, value);
  return 0;
}

/* Older kernels: one mount(2) with a colon-joined "lowerdir" of short symlinks to the layers,
   topmost first. Not fsconfig: it takes strings of at most 256 bytes, which a second layer's
   path already passes; mount(2) takes a page. */
static int
mount_legacy (const char *box_dir, const char *rootfs, const char *upper, const char *work,
              char *const *layer_dirs, size_t n_layers, bool ephemeral, box_error **err)
{
  _cleanup_free_ char *link_dir = NULL;
  if (asprintf (&link_dir, "%s/l", box_dir) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (mkdir (link_dir, BOX_DIR_MODE) < 0 && errno != EEXIST)
    return box_err_errno (err, errno, "mkdir %s", link_dir);
  size_t cap = n_layers * (strlen (link_dir) + 24) + strlen (upper) + strlen (work) + 64, used = 0;
  _cleanup_free_ char *options = malloc (cap);
  if (!options)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  used += (size_t) snprintf (options, cap, "lowerdir=");
  for (size_t i = n_layers; i-- > 0;)
    {
      char link[PATH_MAX];
      snprintf (link, sizeof link, "%s/%zu", link_dir, i);
      unlink (link);
      if (symlink (layer_dirs[i], link) < 0)
        return box_err_errno (err, errno, "symlink %s", link);
      used += (size_t) snprintf (options + used, cap - used, "%s%s", i == n_layers - 1 ? "" : ":",
                                 link);
    }
  used += (size_t) snprintf (options + used, cap - used, ",upperdir=%s,workdir=%s", upper, work);
  if (used >= (size_t) sysconf (_SC_PAGESIZE))
    return box_err (err, BOX_E_UNSUPPORTED,
                    "mount rootfs %s: %zu layers make overlay options of %zu bytes, over the "
                    "page this kernel (before 6.8: no \"lowerdir+\") takes",
                    rootfs, n_layers, used);
  /* a kernel before 5.10 does not know "volatile": the overlay is then durable */
  if (ephemeral)
    {
      snprintf (options + used, cap - used, ",volatile");
      if (mount ("overlay", rootfs, "overlay", 0, options) == 0)
        return 0;
      if (errno != EINVAL)
        return box_err_errno (err, errno, "mount rootfs %s", rootfs);
      options[used] = '\0';
    }
  if (mount ("overlay", rootfs, "overlay", 0, options) < 0)
    return box_err_errno (err, errno, "mount rootfs %s (overlay %s)", rootfs, options);
  return 0;
}

int
rootfs_mount (const char *box_dir, char *const *layer_dirs, size_t n_layers, bool ephemeral,
              box_error **err)
{
  if (rootfs_is_mounted (box_dir))
    return 0;
  _cleanup_free_ char *rootfs = NULL, *upper = NULL, *work = NULL, *empty = NULL;
  if (asprintf (&rootfs, "%s/rootfs", box_dir) < 0 || asprintf (&upper, "%s/upper", box_dir) < 0
      || asprintf (&work, "%s/work", box_dir) < 0 || asprintf (&empty, "%s/empty", box_dir) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");

  /* overlay needs at least one lower: an image without layers gets an empty one */
  char *empty_list[1] = { empty };
  if (n_layers == 0)
    {
      if (mkdir (empty, 0755) < 0 && errno != EEXIST)
        return box_err_errno (err, errno, "mkdir %s", empty);
      layer_dirs = empty_list;
      n_layers = 1;
    }

  /* a volatile overlay leaves work/work/incompat/volatile, and refuses to mount again while
   * it exists (after a crash the upper layer may be torn). An ephemeral box's upper layer
   * is only mounted again after a start that failed (a crash removes the box): it is
   * whole, and the marker (incompat/volatile/dirty) goes */
  if (ephemeral)
    {
      _cleanup_free_ char *inner = NULL;
      if (asprintf (&inner, "%s/work", work) < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      _cleanup_close_ int inner_fd = open (inner, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (inner_fd >= 0 && fs_remove_tree (inner_fd, "incompat", err) < 0)
        return box_err_wrap (err, "mount rootfs %s", rootfs);
    }

  /* "lowerdir+" first; a kernel before 6.8 refuses it at fsconfig, and one before 6.5 (whose
     overlay still parses a legacy option string, where any key is accepted at fsconfig) only
     at create: either way, the legacy mount follows */
  _cleanup_close_ int fs_fd = fsopen ("overlay", FSOPEN_CLOEXEC);
  if (fs_fd < 0)
    return box_err_errno (err, errno, "mount rootfs %s: fsopen overlay", rootfs);
  for (size_t i = n_layers; i-- > 0;)
    {
      if (fsconfig (fs_fd, FSCONFIG_SET_STRING, "lowerdir+", layer_dirs[i], 0) == 0)
        continue;
      if (errno == EINVAL && i == n_layers - 1)
        return mount_legacy (box_dir, rootfs, upper, work, layer_dirs, n_layers, ephemeral, err);
      return box_err_errno (err, errno, "mount rootfs %s: layer %s", rootfs, layer_dirs[i]);
    }
  if (fsconfig_string (fs_fd, "upperdir", upper, err) < 0
      || fsconfig_string (fs_fd, "workdir", work, err) < 0)
    return box_err_wrap (err, "mount rootfs %s", rootfs);
  if (ephemeral && fsconfig (fs_fd, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0 && errno != EINVAL)
    return box_err_errno (err, errno, "mount rootfs %s: overlay option volatile", rootfs);
  if (fsconfig (fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    {
      if (errno == EINVAL)
        return mount_legacy (box_dir, rootfs, upper, work, layer_dirs, n_layers, ephemeral, err);
      return box_err_errno (err, errno, "mount rootfs %s: create overlay", rootfs);
    }
  _cleanup_close_ int mount_fd = fsmount (fs_fd, FSMOUNT_CLOEXEC, 0);
  if (mount_fd < 0)
    return box_err_errno (err, errno, "mount rootfs %s: fsmount", rootfs);
  if (move_mount (mount_fd, "", AT_FDCWD, rootfs, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return box_err_errno (err, errno, "mount rootfs %s: move_mount", rootfs);
  return 0;
}

int
rootfs_unmount (const char *box_dir, box_error **err)
{
  _cleanup_free_ char *rootfs = NULL;
  if (asprintf (&rootfs, "%s/rootfs", box_dir) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  /* stacked mounts (a crash between two starts) are all taken off */
  while (rootfs_is_mounted (box_dir))
    {
      if (umount2 (rootfs, UMOUNT_NOFOLLOW) == 0)
        continue;
      if (errno == EBUSY && umount2 (rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        continue;
      if (errno == EINVAL || errno == ENOENT)
        break;
      return box_err_errno (err, errno, "unmount %s", rootfs);
    }
  return 0;
}
