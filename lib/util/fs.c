/* Owns host-side file operations on the state directory: mkdir -p, atomic writes, reads,
 * recursive removal. */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/random.h"

void
fs_spread_subdirectories (const char *dir)
{
  _cleanup_close_ int fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int flags;
  if (fd >= 0 && ioctl (fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL))
    {
      flags |= FS_TOPDIR_FL;
      ioctl (fd, FS_IOC_SETFLAGS, &flags);
    }
}

int
fs_mkdir_p (const char *path, mode_t mode, box_error **err)
{
  _cleanup_free_ char *copy = strdup (path);
  if (!copy)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (char *p = copy + 1;; p++)
    {
      if (*p != '/' && *p != '\0')
        continue;
      char saved = *p;
      *p = '\0';
      if (mkdir (copy, mode) < 0 && errno != EEXIST)
        return box_err_errno (err, errno, "mkdir %s", copy);
      *p = saved;
      if (saved == '\0')
        break;
    }
  struct stat st;
  if (stat (path, &st) < 0)
    return box_err_errno (err, errno, "stat %s", path);
  if (!S_ISDIR (st.st_mode))
    return box_err (err, BOX_E_INVALID, "%s: not a directory", path);
  return 0;
}

int
fs_write_all (int fd, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

static int write_file_replacing (int dirfd, const char *name, const void *data, size_t len,
                                 mode_t mode, bool durable, box_error **err);

int
fs_write_file_atomic (int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                      box_error **err)
{
  return write_file_replacing (dirfd, name, data, len, mode, true, err);
}

int
fs_write_file_replace (int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                       box_error **err)
{
  return write_file_replacing (dirfd, name, data, len, mode, false, err);
}

int
fs_write_file_new (int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                   box_error **err)
{
  _cleanup_close_ int fd
      = openat (dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return box_err_errno (err, errno, "create %s", name);
  if (fchmod (fd, mode) < 0) /* mode itself, whatever the umask */
    return box_err_errno (err, errno, "chmod %s", name);
  if (fs_write_all (fd, data, len) < 0)
    return box_err_errno (err, errno, "write %s", name);
  return 0;
}

static int
write_file_replacing (int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                      bool durable, box_error **err)
{
  char suffix[17];
  unsigned char raw[8];
  if (random_bytes (raw, sizeof raw, err) < 0)
    return box_err_code (err);
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof raw; i++)
    {
      suffix[2 * i] = digits[raw[i] >> 4];
      suffix[2 * i + 1] = digits[raw[i] & 0xf];
    }
  suffix[16] = '\0';

  _cleanup_free_ char *tmp = NULL;
  if (asprintf (&tmp, "%s.tmp-%s", name, suffix) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");

  _cleanup_close_ int fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return box_err_errno (err, errno, "create %s", tmp);
  if (fs_write_all (fd, data, len) < 0 || (durable && fsync (fd) < 0))
    {
      int saved = errno;
      unlinkat (dirfd, tmp, 0);
      return box_err_errno (err, saved, "write %s", tmp);
    }
  if (renameat (dirfd, tmp, dirfd, name) < 0)
    {
      int saved = errno;
      unlinkat (dirfd, tmp, 0);
      return box_err_errno (err, saved, "rename %s to %s", tmp, name);
    }
  if (durable)
    fsync (dirfd);
  return 0;
}

int
fs_read_file (int dirfd, const char *path, char **out, size_t *out_len, box_error **err)
{
  _cleanup_close_ int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return box_err_errno (err, errno, "open %s", path);
  return fs_read_fd (fd, path, out, out_len, err);
}

int
fs_read_fd (int fd, const char *what, char **out, size_t *out_len, box_error **err)
{
  size_t cap = 4096, len = 0;
  _cleanup_free_ char *buf = malloc (cap);
  if (!buf)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (;;)
    {
      if (len + 1 >= cap)
        {
          char *bigger = realloc (buf, cap * 2);
          if (!bigger)
            return box_err (err, BOX_E_INTERNAL, "out of memory");
          buf = bigger;
          cap *= 2;
        }
      ssize_t n = read (fd, buf + len, cap - len - 1);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return box_err_errno (err, errno, "read %s", what);
        }
      if (n == 0)
        break;
      len += (size_t) n;
    }
  buf[len] = '\0';
  if (out_len)
    *out_len = len;
  *out = TAKE_PTR (buf);
  return 0;
}

static int
remove_children (int fd, const char *what, box_error **err)
{
  int dup_fd = dup (fd);
  if (dup_fd < 0)
    return box_err_errno (err, errno, "dup");
  _cleanup_closedir_ DIR *dir = fdopendir (dup_fd);
  if (!dir)
    {
      close (dup_fd);
      return box_err_errno (err, errno, "opendir %s", what);
    }
  struct dirent *de;
  while ((errno = 0, de = readdir (dir)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (fs_remove_tree (fd, de->d_name, err) < 0)
        return box_err_code (err);
    }
  if (errno != 0)
    return box_err_errno (err, errno, "readdir %s", what);
  return 0;
}

int
fs_remove_tree (int dirfd, const char *name, box_error **err)
{
  if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return box_err_errno (err, errno, "remove %s", name);

  _cleanup_close_ int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return 0;
      return box_err_errno (err, errno, "open %s", name);
    }
  if (remove_children (fd, name, err) < 0)
    return box_err_wrap (err, "remove %s", name);
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return box_err_errno (err, errno, "rmdir %s", name);
  return 0;
}

void
fs_cloexec_from (int first)
{
  if (syscall (SYS_close_range, (unsigned) first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return;
  /* before Linux 5.11 */
  struct rlimit limit;
  int last = 65535;
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
      && limit.rlim_cur < (rlim_t) last)
    last = (int) limit.rlim_cur - 1;
  for (int fd = first; fd <= last; fd++)
    fcntl (fd, F_SETFD, FD_CLOEXEC); /* EBADF for most: fine */
}
