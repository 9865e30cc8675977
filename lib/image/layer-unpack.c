/* Owns layer unpacking: tar entries parsed by libarchive and written by confined fd-relative
 * calls (path normalization and rejection, parent resolution without symlinks, whiteouts,
 * metadata, deferred directory times), and the threaded push adapter (layer_unpack_job). */
#include "image/layer-unpack.h"

#include "image/archive-dl.h"
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/digest.h"
#include "util/fs.h"
#include "util/strutil.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OVERLAY_XATTR_PREFIX "trusted.overlay."
#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"

/* Parents are resolved inside the layer only, never through a symlink (nor a magic link). */
#define LAYER_RESOLVE (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

typedef struct dir_time {
  char *path;
  struct timespec times[2];
} dir_time;

typedef struct unpacker {
  int root_fd; /* our own O_RDONLY descriptor of the layer root */
  layer_unpack_options opts;
  layer_unpack_stats stats;
  bool can_mknod;
  uid_t euid;
  gid_t egid;
  uint64_t total_bytes;
  /* the directory the last entry went into: tar streams list a directory's files together */
  char *cached_parent;
  int cached_parent_fd;
  bool cached_parent_plain; /* known not to be setgid: new files get our gid */
  dir_time *dir_times;
  size_t n_dir_times, cap_dir_times;
  const char *entry; /* the raw name of the entry being written, for errors */
} unpacker;

static int
sys_openat2 (int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
  struct open_how how = { .flags = (uint64_t) flags, .mode = mode, .resolve = resolve };
  int fd;
  do
    fd = (int) syscall (SYS_openat2, dirfd, path, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  return fd;
}

static bool
process_has_cap_mknod (void)
{
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  memset (data, 0, sizeof data);
  if (syscall (SYS_capget, &header, data) < 0)
    return false;
  return (data[CAP_MKNOD / 32].effective & (1u << (CAP_MKNOD % 32))) != 0;
}

/* Normalizes a tar path: leading "/" and "./", "." and empty components are dropped, ".." is
 * refused. "" is the layer root itself. */
static int
normalize_layer_path (const char *raw, const char *what, char **out, box_error **err)
{
  size_t len = strlen (raw);
  if (len >= PATH_MAX)
    return box_err (err, BOX_E_INVALID, "%s: path longer than %d bytes", what, PATH_MAX);
  char *result = malloc (len + 1);
  if (!result)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (!str_normalize_relative_path (raw, result))
    {
      free (result);
      return box_err (err, BOX_E_INVALID, "%s: path contains a \"..\" component", what);
    }
  *out = result;
  return 0;
}

static void
unpacker_drop_cache (unpacker *u)
{
  if (u->cached_parent_fd >= 0)
    close (u->cached_parent_fd);
  u->cached_parent_fd = -1;
  free (u->cached_parent);
  u->cached_parent = NULL;
}

/* Takes ownership of fd as the cached directory for path. */
static int
unpacker_set_cache (unpacker *u, const char *path, int fd, bool plain, box_error **err)
{
  char *copy = strdup (path);
  if (!copy)
    {
      close (fd);
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  unpacker_drop_cache (u);
  u->cached_parent = copy;
  u->cached_parent_fd = fd;
  u->cached_parent_plain = plain;
  return 0;
}

static int
reject_resolution (unpacker *u, int errno_value, const char *dir, box_error **err)
{
  if (errno_value == ELOOP)
    return box_err (err, BOX_E_INVALID, "entry %s: refusing to write through a symlink in %s",
                    u->entry, dir);
  if (errno_value == ENOTDIR)
    return box_err (err, BOX_E_INVALID, "entry %s: %s is not a directory", u->entry, dir);
  if (errno_value == EXDEV)
    return box_err (err, BOX_E_INVALID, "entry %s: %s leaves the layer", u->entry, dir);
  return box_err_errno (err, errno_value, "entry %s: open directory %s", u->entry, dir);
}

/* Creates the missing directories of dir (mode 0755, as docker does), one confined component
 * at a time. Returns an owned fd of dir. */
static int
create_parents (unpacker *u, const char *dir, box_error **err)
{
  _cleanup_free_ char *copy = strdup (dir);
  if (!copy)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_close_ int current = fcntl (u->root_fd, F_DUPFD_CLOEXEC, 3);
  if (current < 0)
    return box_err_errno (err, errno, "dup layer root");
  char *save = NULL;
  for (char *name = strtok_r (copy, "/", &save); name; name = strtok_r (NULL, "/", &save))
    {
      int next = sys_openat2 (current, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, LAYER_RESOLVE);
      if (next < 0 && errno == ENOENT)
        {
          if (mkdirat (current, name, 0755) < 0 && errno != EEXIST)
            return box_err_errno (err, errno, "entry %s: create parent %s", u->entry, dir);
          next = sys_openat2 (current, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, LAYER_RESOLVE);
        }
      if (next < 0)
        return reject_resolution (u, errno, dir, err);
      close (current);
      current = next;
    }
  return TAKE_FD (current);
}

/* The directory fd for parent path dir ("" = root), created when missing. The fd stays
 * owned by the unpacker. */
static int
open_parent (unpacker *u, const char *dir, int *out_fd, bool *out_plain, box_error **err)
{
  if (dir[0] == '\0')
    {
      *out_fd = u->root_fd;
      *out_plain = false;
      return 0;
    }
  if (u->cached_parent && strcmp (u->cached_parent, dir) == 0)
    {
      *out_fd = u->cached_parent_fd;
      *out_plain = u->cached_parent_plain;
      return 0;
    }
  int fd = sys_openat2 (u->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, LAYER_RESOLVE);
  if (fd < 0 && errno == ENOENT)
    {
      fd = create_parents (u, dir, err);
      if (fd < 0)
        return fd;
    }
  else if (fd < 0)
    return reject_resolution (u, errno, dir, err);
  if (unpacker_set_cache (u, dir, fd, false, err) < 0)
    return box_err_code (err);
  *out_fd = fd;
  *out_plain = false;
  return 0;
}

/* Removes whatever is at parent/name (a tree for a directory), so an entry can replace it. */
static int
remove_existing (unpacker *u, int parent_fd, const char *name, box_error **err)
{
  /* a cached directory may be the one removed, or inside it */
  unpacker_drop_cache (u);
  if (fs_remove_tree (parent_fd, name, err) < 0)
    return box_err_wrap (err, "entry %s: replace existing", u->entry);
  return 0;
}

static void
split_path (char *path, const char **dir, const char **name)
{
  char *slash = strrchr (path, '/');
  if (!slash)
    {
      *dir = "";
      *name = path;
      return;
    }
  *slash = '\0';
  *dir = path;
  *name = slash + 1;
}

static int
apply_xattrs (unpacker *u, struct archive_entry *entry, int fd, int parent_fd, const char *name,
              box_error **err)
{
  if (archive_entry_xattr_reset (entry) == 0)
    return 0;
  const char *key;
  const void *value;
  size_t size;
  while (archive_entry_xattr_next (entry, &key, &value, &size) == ARCHIVE_OK)
    {
      /* overlayfs reads its own xattrs from the layer (redirect, metacopy, origin...): only
       * the opaque marker may come from an image */
      if (str_has_prefix (key, OVERLAY_XATTR_PREFIX) && strcmp (key, OVERLAY_OPAQUE_XATTR) != 0)
        continue;
      int rc;
      if (fd >= 0)
        rc = fsetxattr (fd, key, value, size, 0);
      else
        {
          char proc_path[64 + NAME_MAX];
          snprintf (proc_path, sizeof proc_path, "/proc/self/fd/%d/%s", parent_fd, name);
          rc = lsetxattr (proc_path, key, value, size, 0);
        }
      if (rc < 0)
        return box_err_errno (err, errno, "entry %s: set xattr %s", u->entry, key);
    }
  return 0;
}

static bool
needs_chown (unpacker *u, struct archive_entry *entry, bool parent_plain)
{
  if (!u->opts.preserve_ownership)
    return false;
  return !parent_plain || (uid_t) archive_entry_uid (entry) != u->euid
         || (gid_t) archive_entry_gid (entry) != u->egid;
}

static void
entry_times (struct archive_entry *entry, struct timespec times[2])
{
  times[1].tv_sec = archive_entry_mtime (entry);
  times[1].tv_nsec = archive_entry_mtime_nsec (entry);
  if (archive_entry_atime_is_set (entry))
    {
      times[0].tv_sec = archive_entry_atime (entry);
      times[0].tv_nsec = archive_entry_atime_nsec (entry);
    }
  else
    times[0] = times[1];
}

/* Ownership, mode (after chown, which clears setuid), xattrs (after chown, which clears
 * security.capability), times. */
static int
apply_metadata_fd (unpacker *u, struct archive_entry *entry, int fd, bool chown_needed,
                   bool set_times, box_error **err)
{
  if (chown_needed
      && fchown (fd, (uid_t) archive_entry_uid (entry), (gid_t) archive_entry_gid (entry)) < 0)
    return box_err_errno (err, errno, "entry %s: chown", u->entry);
  if (fchmod (fd, archive_entry_perm (entry) & 07777) < 0)
    return box_err_errno (err, errno, "entry %s: chmod", u->entry);
  if (apply_xattrs (u, entry, fd, -1, NULL, err) < 0)
    return box_err_code (err);
  if (set_times)
    {
      struct timespec times[2];
      entry_times (entry, times);
      if (futimens (fd, times) < 0)
        return box_err_errno (err, errno, "entry %s: set times", u->entry);
    }
  return 0;
}

static int
remember_dir_time (unpacker *u, const char *path, struct archive_entry *entry, box_error **err)
{
  if (u->n_dir_times == u->cap_dir_times)
    {
      size_t cap = u->cap_dir_times ? 2 * u->cap_dir_times : 256;
      dir_time *grown = realloc (u->dir_times, cap * sizeof *grown);
      if (!grown)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      u->dir_times = grown;
      u->cap_dir_times = cap;
    }
  dir_time *t = &u->dir_times[u->n_dir_times];
  t->path = strdup (path);
  if (!t->path)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  entry_times (entry, t->times);
  u->n_dir_times++;
  return 0;
}

static int
write_directory (unpacker *u, struct archive_entry *entry, const char *path, int parent_fd,
                 const char *name, bool parent_plain, box_error **err)
{
  _cleanup_close_ int fd = -1;
  if (path[0] == '\0')
    fd = fcntl (u->root_fd, F_DUPFD_CLOEXEC, 3);
  else
    {
      if (mkdirat (parent_fd, name, 0700) < 0)
        {
          if (errno != EEXIST)
            return box_err_errno (err, errno, "entry %s: mkdir", u->entry);
          struct stat st;
          if (fstatat (parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return box_err_errno (err, errno, "entry %s: stat", u->entry);
          if (!S_ISDIR (st.st_mode))
            {
              if (remove_existing (u, parent_fd, name, err) < 0)
                return box_err_code (err);
              if (mkdirat (parent_fd, name, 0700) < 0)
                return box_err_errno (err, errno, "entry %s: mkdir", u->entry);
            }
        }
      fd = openat (parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
  if (fd < 0)
    return box_err_errno (err, errno, "entry %s: open directory", u->entry);
  if (apply_metadata_fd (u, entry, fd, needs_chown (u, entry, parent_plain), false, err) < 0)
    return box_err_code (err);
  if (remember_dir_time (u, path, entry, err) < 0)
    return box_err_code (err);
  u->stats.directories++;
  if (path[0] == '\0')
    return 0;
  /* the files of this directory usually follow: keep it open */
  bool plain = (archive_entry_perm (entry) & S_ISGID) == 0;
  return unpacker_set_cache (u, path, TAKE_FD (fd), plain, err);
}

static int
write_all_at (int fd, const char *data, size_t len, off_t offset)
{
  while (len > 0)
    {
      ssize_t n = pwrite (fd, data, len, offset);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      data += n;
      len -= (size_t) n;
      offset += n;
    }
  return 0;
}

static int
check_entry_size (unpacker *u, struct archive_entry *entry, uint64_t *out, box_error **err)
{
  if (!archive_entry_size_is_set (entry) || archive_entry_size (entry) < 0)
    return box_err (err, BOX_E_INVALID, "entry %s: invalid size", u->entry);
  uint64_t size = (uint64_t) archive_entry_size (entry);
  uint64_t max
      = u->opts.max_entry_size ? u->opts.max_entry_size : LAYER_UNPACK_DEFAULT_MAX_ENTRY_SIZE;
  if (size > max)
    return box_err (err, BOX_E_INVALID, "entry %s: size %llu exceeds the limit of %llu bytes",
                    u->entry, (unsigned long long) size, (unsigned long long) max);
  if (u->opts.max_total_size && size > u->opts.max_total_size - u->total_bytes)
    return box_err (err, BOX_E_INVALID,
                    "entry %s: the layer's file data exceeds the limit of %llu bytes", u->entry,
                    (unsigned long long) u->opts.max_total_size);
  *out = size;
  return 0;
}

static int
write_regular (unpacker *u, struct archive *a, struct archive_entry *entry, int parent_fd,
               const char *name, bool parent_plain, box_error **err)
{
  uint64_t size = 0;
  if (check_entry_size (u, entry, &size, err) < 0)
    return box_err_code (err);
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  _cleanup_close_ int fd = openat (parent_fd, name, flags, 0600);
  if (fd < 0 && errno == EEXIST)
    {
      if (remove_existing (u, parent_fd, name, err) < 0)
        return box_err_code (err);
      fd = openat (parent_fd, name, flags, 0600);
    }
  if (fd < 0)
    return box_err_errno (err, errno, "entry %s: create", u->entry);

  uint64_t end = 0;
  for (;;)
    {
      const void *block;
      size_t block_len;
      la_int64_t offset;
      int rc = archive_read_data_block (a, &block, &block_len, &offset);
      if (rc == ARCHIVE_EOF)
        break;
      if (rc < ARCHIVE_WARN)
        return box_err (err, BOX_E_INVALID, "entry %s: read data: %s", u->entry,
                        archive_error_string (a) ? archive_error_string (a) : "tar error");
      if (offset < 0 || (uint64_t) offset > size || block_len > size - (uint64_t) offset)
        return box_err (err, BOX_E_INVALID, "entry %s: data beyond the declared size", u->entry);
      if (block_len > 0 && write_all_at (fd, block, block_len, offset) < 0)
        return box_err_errno (err, errno, "entry %s: write", u->entry);
      if ((uint64_t) offset + block_len > end)
        end = (uint64_t) offset + block_len;
    }
  /* sparse files end in a hole */
  if (end < size && ftruncate (fd, (off_t) size) < 0)
    return box_err_errno (err, errno, "entry %s: truncate", u->entry);
  u->total_bytes += size;
  u->stats.file_bytes += end;
  if (apply_metadata_fd (u, entry, fd, needs_chown (u, entry, parent_plain), true, err) < 0)
    return box_err_code (err);
  u->stats.regular_files++;
  return 0;
}

/* Metadata of a node that cannot be opened for writing (symlink, device, fifo): through the
 * parent fd and the single name, never following it. */
static int
apply_metadata_at (unpacker *u, struct archive_entry *entry, int parent_fd, const char *name,
                   bool is_symlink, bool chown_needed, box_error **err)
{
  if (chown_needed
      && fchownat (parent_fd, name, (uid_t) archive_entry_uid (entry),
                   (gid_t) archive_entry_gid (entry), AT_SYMLINK_NOFOLLOW)
             < 0)
    return box_err_errno (err, errno, "entry %s: chown", u->entry);
  /* symlinks have no mode of their own; the node was just created by us, not a symlink */
  if (!is_symlink && fchmodat (parent_fd, name, archive_entry_perm (entry) & 07777, 0) < 0)
    return box_err_errno (err, errno, "entry %s: chmod", u->entry);
  if (apply_xattrs (u, entry, -1, parent_fd, name, err) < 0)
    return box_err_code (err);
  struct timespec times[2];
  entry_times (entry, times);
  if (utimensat (parent_fd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
    return box_err_errno (err, errno, "entry %s: set times", u->entry);
  return 0;
}

static int
write_symlink (unpacker *u, struct archive_entry *entry, int parent_fd, const char *name,
               bool parent_plain, box_error **err)
{
  const char *target = archive_entry_symlink (entry);
  if (!target || !*target)
    return box_err (err, BOX_E_INVALID, "entry %s: symlink without a target", u->entry);
  if (strlen (target) >= PATH_MAX)
    return box_err (err, BOX_E_INVALID, "entry %s: symlink target too long", u->entry);
  int rc = symlinkat (target, parent_fd, name);
  if (rc < 0 && errno == EEXIST)
    {
      if (remove_existing (u, parent_fd, name, err) < 0)
        return box_err_code (err);
      rc = symlinkat (target, parent_fd, name);
    }
  if (rc < 0)
    return box_err_errno (err, errno, "entry %s: symlink", u->entry);
  if (apply_metadata_at (u, entry, parent_fd, name, true, needs_chown (u, entry, parent_plain), err)
      < 0)
    return box_err_code (err);
  u->stats.symlinks++;
  return 0;
}

static int
write_hardlink (unpacker *u, struct archive_entry *entry, const char *path, int parent_fd,
                const char *name, box_error **err)
{
  _cleanup_free_ char *target = NULL;
  char what[64 + PATH_MAX];
  snprintf (what, sizeof what, "entry %s: hardlink target", u->entry);
  if (normalize_layer_path (archive_entry_hardlink (entry), what, &target, err) < 0)
    return box_err_code (err);
  if (target[0] == '\0')
    return box_err (err, BOX_E_INVALID, "entry %s: hardlink to the layer root", u->entry);
  if (strcmp (target, path) == 0)
    return box_err (err, BOX_E_INVALID, "entry %s: hardlink to itself", u->entry);

  const char *target_dir, *target_name;
  split_path (target, &target_dir, &target_name);
  _cleanup_close_ int target_parent = -1;
  int target_parent_fd = u->root_fd;
  if (target_dir[0] != '\0')
    {
      target_parent = sys_openat2 (u->root_fd, target_dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                                   LAYER_RESOLVE);
      if (target_parent < 0 && errno == ENOENT)
        return box_err (err, BOX_E_INVALID,
                        "entry %s: hardlink target %s does not exist in the layer", u->entry,
                        archive_entry_hardlink (entry));
      if (target_parent < 0)
        return reject_resolution (u, errno, target_dir, err);
      target_parent_fd = target_parent;
    }
  struct stat st;
  if (fstatat (target_parent_fd, target_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return box_err (err, BOX_E_INVALID,
                        "entry %s: hardlink target %s does not exist in the layer", u->entry,
                        archive_entry_hardlink (entry));
      return box_err_errno (err, errno, "entry %s: hardlink target", u->entry);
    }
  if (S_ISDIR (st.st_mode))
    return box_err (err, BOX_E_INVALID, "entry %s: hardlink to a directory", u->entry);

  /* flags 0: a symlink target is linked itself, never followed */
  int rc = linkat (target_parent_fd, target_name, parent_fd, name, 0);
  if (rc < 0 && errno == EEXIST)
    {
      if (remove_existing (u, parent_fd, name, err) < 0)
        return box_err_code (err);
      rc = linkat (target_parent_fd, target_name, parent_fd, name, 0);
    }
  if (rc < 0)
    return box_err_errno (err, errno, "entry %s: hardlink to %s", u->entry,
                          archive_entry_hardlink (entry));
  u->stats.hardlinks++;
  return 0;
}

static int
write_special (unpacker *u, struct archive_entry *entry, int parent_fd, const char *name,
               bool parent_plain, box_error **err)
{
  mode_t type = archive_entry_filetype (entry);
  dev_t dev = 0;
  if (type == AE_IFCHR || type == AE_IFBLK)
    {
      if (u->opts.devices == LAYER_DEVICES_REJECT || !u->can_mknod)
        return box_err (err, BOX_E_PERMISSION, "entry %s: device nodes are not allowed here%s",
                        u->entry, u->opts.devices == LAYER_DEVICES_REJECT ? "" : " (no CAP_MKNOD)");
      dev = makedev (archive_entry_rdevmajor (entry), archive_entry_rdevminor (entry));
    }
  int rc = mknodat (parent_fd, name, type | 0600, dev);
  if (rc < 0 && errno == EEXIST)
    {
      if (remove_existing (u, parent_fd, name, err) < 0)
        return box_err_code (err);
      rc = mknodat (parent_fd, name, type | 0600, dev);
    }
  if (rc < 0)
    return box_err_errno (err, errno, "entry %s: mknod", u->entry);
  if (apply_metadata_at (u, entry, parent_fd, name, false, needs_chown (u, entry, parent_plain),
                         err)
      < 0)
    return box_err_code (err);
  u->stats.devices++;
  return 0;
}

static int
write_whiteout (unpacker *u, int parent_fd, const char *name, box_error **err)
{
  const char *hidden = name + strlen (WHITEOUT_PREFIX);
  if (!*hidden || strcmp (hidden, ".") == 0 || strcmp (hidden, "..") == 0 || strchr (hidden, '/'))
    return box_err (err, BOX_E_INVALID, "entry %s: invalid whiteout name", u->entry);
  /* overlayfs: a 0/0 character device hides the lower file */
  int rc = mknodat (parent_fd, hidden, S_IFCHR | 0, makedev (0, 0));
  if (rc < 0 && errno == EEXIST)
    {
      if (remove_existing (u, parent_fd, hidden, err) < 0)
        return box_err_code (err);
      rc = mknodat (parent_fd, hidden, S_IFCHR | 0, makedev (0, 0));
    }
  if (rc < 0)
    return box_err_errno (err, errno, "entry %s: create whiteout", u->entry);
  u->stats.whiteouts++;
  return 0;
}

static int
write_opaque (unpacker *u, int parent_fd, box_error **err)
{
  static const char yes[] = "y";
  if (fsetxattr (parent_fd, OVERLAY_OPAQUE_XATTR, yes, 1, 0) < 0)
    return box_err_errno (err, errno, "entry %s: mark directory opaque", u->entry);
  u->stats.opaque_directories++;
  return 0;
}

static int
unpack_entry (unpacker *u, struct archive *a, struct archive_entry *entry, box_error **err)
{
  _cleanup_free_ char *path = NULL;
  char what[32 + PATH_MAX];
  snprintf (what, sizeof what, "entry %s", u->entry);
  if (normalize_layer_path (u->entry, what, &path, err) < 0)
    return box_err_code (err);

  const char *hardlink = archive_entry_hardlink (entry);
  mode_t type = archive_entry_filetype (entry);
  if (path[0] == '\0' && (hardlink || type != AE_IFDIR))
    return box_err (err, BOX_E_INVALID, "entry %s: only a directory may be the layer root",
                    u->entry);

  _cleanup_free_ char *parent_path = strdup (path);
  if (!parent_path)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  const char *dir, *name;
  split_path (parent_path, &dir, &name);
  int parent_fd = u->root_fd;
  bool parent_plain = false;
  if (path[0] != '\0' && open_parent (u, dir, &parent_fd, &parent_plain, err) < 0)
    return box_err_code (err);

  if (str_has_prefix (name, WHITEOUT_PREFIX))
    {
      if (strcmp (name, WHITEOUT_OPAQUE) == 0)
        return write_opaque (u, parent_fd, err);
      if (str_has_prefix (name, WHITEOUT_META_PREFIX))
        return 0; /* aufs metadata (.wh..wh.plnk, .wh..wh.aufs): nothing for overlayfs */
      return write_whiteout (u, parent_fd, name, err);
    }
  if (hardlink)
    return write_hardlink (u, entry, path, parent_fd, name, err);
  switch (type)
    {
    case AE_IFDIR:
      return write_directory (u, entry, path, parent_fd, name, parent_plain, err);
    case AE_IFREG:
      return write_regular (u, a, entry, parent_fd, name, parent_plain, err);
    case AE_IFLNK:
      return write_symlink (u, entry, parent_fd, name, parent_plain, err);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      return write_special (u, entry, parent_fd, name, parent_plain, err);
    case AE_IFSOCK:
      return 0; /* a socket cannot be restored from a tar; docker skips them too */
    default:
      return box_err (err, BOX_E_INVALID, "entry %s: unsupported type 0%o", u->entry,
                      (unsigned) type);
    }
}

static int
apply_dir_times (unpacker *u, box_error **err)
{
  for (size_t i = 0; i < u->n_dir_times; i++)
    {
      dir_time *t = &u->dir_times[i];
      int rc;
      if (t->path[0] == '\0')
        rc = futimens (u->root_fd, t->times);
      else
        {
          _cleanup_close_ int fd
              = sys_openat2 (u->root_fd, t->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                             0, LAYER_RESOLVE);
          if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
            continue; /* replaced by a later entry */
          if (fd < 0)
            return box_err_errno (err, errno, "directory %s: open to set times", t->path);
          rc = futimens (fd, t->times);
        }
      if (rc < 0)
        return box_err_errno (err, errno, "directory %s: set times", t->path);
    }
  return 0;
}

typedef struct read_context {
  image_stream_read_fn read;
  void *userdata;
  box_error *error;
} read_context;

static la_ssize_t
layer_tar_read_callback (struct archive *a, void *client_data, const void **buffer)
{
  read_context *ctx = client_data;
  ssize_t n = ctx->read (ctx->userdata, buffer, &ctx->error);
  if (n < 0)
    {
      archive_set_error (a, EIO, "layer stream read failed");
      return -1;
    }
  return n;
}

static void
unpacker_release (unpacker *u)
{
  unpacker_drop_cache (u);
  for (size_t i = 0; i < u->n_dir_times; i++)
    free (u->dir_times[i].path);
  free (u->dir_times);
  if (u->root_fd >= 0)
    close (u->root_fd);
}

DEFINE_POINTER_CLEANUP (struct archive, archive_read_free)

int
layer_unpack (int layer_dir_fd, image_stream_read_fn read, void *read_userdata,
              const layer_unpack_options *opts, layer_unpack_stats *stats, box_error **err)
{
  layer_unpack_options defaults = LAYER_UNPACK_OPTIONS_INIT;
  unpacker u = { 0 };
  u.opts = opts ? *opts : defaults;
  u.cached_parent_fd = -1;
  u.root_fd = openat (layer_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (u.root_fd < 0)
    return box_err_errno (err, errno, "open layer directory");
  u.can_mknod = process_has_cap_mknod ();
  u.euid = geteuid ();
  u.egid = getegid ();
  uint64_t max_entries = u.opts.max_entries ? u.opts.max_entries : LAYER_UNPACK_DEFAULT_MAX_ENTRIES;

  read_context ctx = { read, read_userdata, NULL };
  _cleanup_ (archive_read_freep) struct archive *a = archive_read_new ();
  int rc = 0;
  if (!a || archive_read_support_format_tar (a) != ARCHIVE_OK)
    {
      rc = box_err (err, BOX_E_INTERNAL, "libarchive: cannot set up a tar reader");
      goto out;
    }
  if (archive_read_open2 (a, &ctx, NULL, layer_tar_read_callback, NULL, NULL) != ARCHIVE_OK)
    {
      if (ctx.error)
        rc = box_err_propagate (err, &ctx.error);
      else
        rc = box_err (err, BOX_E_INVALID, "layer tar: %s", archive_error_string (a));
      goto out;
    }
  for (;;)
    {
      struct archive_entry *entry;
      int header = archive_read_next_header (a, &entry);
      if (header == ARCHIVE_EOF)
        break;
      if (header < ARCHIVE_WARN)
        {
          if (ctx.error)
            rc = box_err_propagate (err, &ctx.error);
          else
            rc = box_err (err, BOX_E_INVALID, "layer tar: after %llu entries: %s",
                          (unsigned long long) u.stats.entries,
                          archive_error_string (a) ? archive_error_string (a) : "read error");
          goto out;
        }
      if (++u.stats.entries > max_entries)
        {
          rc = box_err (err, BOX_E_INVALID, "layer tar: more than %llu entries",
                        (unsigned long long) max_entries);
          goto out;
        }
      u.entry = archive_entry_pathname (entry);
      if (!u.entry)
        {
          rc = box_err (err, BOX_E_INVALID, "layer tar: entry %llu has no usable name",
                        (unsigned long long) u.stats.entries);
          goto out;
        }
      if (unpack_entry (&u, a, entry, err) < 0)
        {
          /* a failed read inside the data of an entry */
          if (ctx.error && err)
            {
              box_error_freep (err);
              rc = box_err_propagate (err, &ctx.error);
            }
          else
            rc = box_err_code (err);
          goto out;
        }
    }
  u.entry = NULL;
  if (apply_dir_times (&u, err) < 0)
    {
      rc = box_err_code (err);
      goto out;
    }
  if (u.opts.sync && syncfs (u.root_fd) < 0)
    {
      rc = box_err_errno (err, errno, "sync layer filesystem");
      goto out;
    }
  if (stats)
    *stats = u.stats;
out:
  box_error_freep (&ctx.error);
  unpacker_release (&u);
  return rc;
}

/* ---- the push adapter ---- */

/* Four 1 MiB chunks in flight: enough to keep both threads busy, bounded memory per layer. */
#define JOB_CHUNKS 4
#define JOB_CHUNK_SIZE (1024 * 1024)

struct layer_unpack_job {
  int root_fd;
  layer_unpack_options opts;
  layer_unpack_stats stats;
  pthread_t thread;
  bool thread_started;
  bool joined;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  unsigned char *chunks[JOB_CHUNKS];
  size_t chunk_len[JOB_CHUNKS];
  size_t head;         /* the chunk the producer fills */
  size_t head_fill;    /* bytes in it so far */
  size_t tail;         /* the oldest chunk handed to (or waiting for) the consumer */
  size_t used;         /* chunks committed and not yet released by the consumer */
  bool consumer_holds; /* the consumer uses chunks[tail] */
  bool eof;            /* no more input */
  bool aborted;
  bool consumer_done;
  int result;
  box_error *error;
  digest_hasher *hasher; /* with opts.digest_stream */
  uint64_t hashed;
};

static ssize_t
job_read (void *userdata, const void **data, box_error **err)
{
  layer_unpack_job *job = userdata;
  pthread_mutex_lock (&job->lock);
  if (job->consumer_holds)
    {
      job->consumer_holds = false;
      job->tail = (job->tail + 1) % JOB_CHUNKS;
      job->used--;
      pthread_cond_broadcast (&job->changed);
    }
  while (job->used == 0 && !job->eof && !job->aborted)
    pthread_cond_wait (&job->changed, &job->lock);
  ssize_t n;
  if (job->aborted)
    n = box_err (err, BOX_E_IO, "layer stream aborted");
  else if (job->used == 0)
    n = 0;
  else
    {
      job->consumer_holds = true;
      *data = job->chunks[job->tail];
      n = (ssize_t) job->chunk_len[job->tail];
    }
  pthread_mutex_unlock (&job->lock);
  /* the chunk is the consumer's until its next read: hash it outside the lock */
  if (n > 0 && job->hasher)
    {
      if (digest_hasher_update (job->hasher, *data, (size_t) n, err) < 0)
        return box_err_code (err);
      job->hashed += (uint64_t) n;
    }
  return n;
}

static void *
job_thread (void *arg)
{
  layer_unpack_job *job = arg;
  box_error *error = NULL;
  int rc = layer_unpack (job->root_fd, job_read, job, &job->opts, &job->stats, &error);
  if (rc >= 0 && job->hasher)
    {
      /* the diff id covers the whole stream: read what follows the tar end marker too */
      const void *data;
      ssize_t n;
      while ((n = job_read (job, &data, &error)) > 0)
        ;
      rc = (int) n;
      if (rc >= 0)
        rc = digest_hasher_final (job->hasher, job->stats.stream_digest, &error);
      job->stats.stream_size = job->hashed;
    }
  pthread_mutex_lock (&job->lock);
  job->result = rc;
  job->error = error;
  job->consumer_done = true;
  pthread_cond_broadcast (&job->changed);
  pthread_mutex_unlock (&job->lock);
  return NULL;
}

int
layer_unpack_job_start (int layer_dir_fd, const layer_unpack_options *opts, layer_unpack_job **out,
                        box_error **err)
{
  layer_unpack_job *job = calloc (1, sizeof *job);
  if (!job)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  layer_unpack_options defaults = LAYER_UNPACK_OPTIONS_INIT;
  job->opts = opts ? *opts : defaults;
  job->root_fd = -1;
  pthread_mutex_init (&job->lock, NULL);
  pthread_cond_init (&job->changed, NULL);
  _cleanup_ (layer_unpack_job_freep) layer_unpack_job *owned = job;
  job->root_fd = fcntl (layer_dir_fd, F_DUPFD_CLOEXEC, 3);
  if (job->root_fd < 0)
    return box_err_errno (err, errno, "dup layer directory");
  if (job->opts.digest_stream && digest_hasher_new (&job->hasher, err) < 0)
    return box_err_code (err);
  for (size_t i = 0; i < JOB_CHUNKS; i++)
    {
      job->chunks[i] = malloc (JOB_CHUNK_SIZE);
      if (!job->chunks[i])
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  int rc = pthread_create (&job->thread, NULL, job_thread, job);
  if (rc != 0)
    return box_err_errno (err, rc, "start layer unpack thread");
  job->thread_started = true;
  *out = TAKE_PTR (owned);
  return 0;
}

/* Copies the consumer's error for the producer (the original stays for finish). */
static int
job_failure (layer_unpack_job *job, box_error **err)
{
  if (job->error)
    return box_err (err, box_error_code_of (job->error), "%s", box_error_message (job->error));
  return box_err (err, BOX_E_INTERNAL, "layer unpack failed");
}

/* Commits the chunk being filled; lock held. */
static void
job_commit (layer_unpack_job *job)
{
  job->chunk_len[job->head] = job->head_fill;
  job->head = (job->head + 1) % JOB_CHUNKS;
  job->head_fill = 0;
  job->used++;
  pthread_cond_broadcast (&job->changed);
}

int
layer_unpack_job_write (void *userdata, const void *data, size_t len, box_error **err)
{
  layer_unpack_job *job = userdata;
  const unsigned char *p = data;
  while (len > 0)
    {
      if (job->head_fill == 0)
        {
          /* a new chunk: wait for a free one */
          pthread_mutex_lock (&job->lock);
          while (job->used == JOB_CHUNKS && !job->consumer_done)
            pthread_cond_wait (&job->changed, &job->lock);
          bool done = job->consumer_done;
          int result = job->result;
          pthread_mutex_unlock (&job->lock);
          if (done)
            return result < 0 ? job_failure (job, err) : 0; /* after the tar end: dropped */
        }
      size_t room = JOB_CHUNK_SIZE - job->head_fill;
      size_t n = len < room ? len : room;
      memcpy (job->chunks[job->head] + job->head_fill, p, n);
      job->head_fill += n;
      p += n;
      len -= n;
      if (job->head_fill == JOB_CHUNK_SIZE)
        {
          pthread_mutex_lock (&job->lock);
          job_commit (job);
          pthread_mutex_unlock (&job->lock);
        }
    }
  return 0;
}

static void
job_join (layer_unpack_job *job)
{
  if (job->thread_started && !job->joined)
    {
      pthread_join (job->thread, NULL);
      job->joined = true;
    }
}

int
layer_unpack_job_finish (layer_unpack_job *job, layer_unpack_stats *stats, box_error **err)
{
  pthread_mutex_lock (&job->lock);
  if (job->head_fill > 0 && !job->consumer_done)
    job_commit (job);
  job->eof = true;
  pthread_cond_broadcast (&job->changed);
  pthread_mutex_unlock (&job->lock);
  job_join (job);
  if (job->result < 0)
    {
      if (job->error)
        return box_err_propagate (err, &job->error);
      return box_err (err, BOX_E_INTERNAL, "layer unpack failed");
    }
  if (stats)
    *stats = job->stats;
  return 0;
}

void
layer_unpack_job_free (layer_unpack_job *job)
{
  if (!job)
    return;
  pthread_mutex_lock (&job->lock);
  job->aborted = true;
  pthread_cond_broadcast (&job->changed);
  pthread_mutex_unlock (&job->lock);
  job_join (job);
  for (size_t i = 0; i < JOB_CHUNKS; i++)
    free (job->chunks[i]);
  box_error_freep (&job->error);
  digest_hasher_free (job->hasher);
  if (job->root_fd >= 0)
    close (job->root_fd);
  pthread_mutex_destroy (&job->lock);
  pthread_cond_destroy (&job->changed);
  free (job);
}
