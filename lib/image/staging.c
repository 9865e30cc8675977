/* Owns staging names, their locks and the sweep that removes abandoned ones. */
#include "image/staging.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/random.h"
#include "util/strutil.h"

/* Attempts before giving up on finding an unused random name (a collision of 64 random bits
 * means something else is wrong). */
#define STAGING_CREATE_ATTEMPTS 8

bool
staging_is_name (const char *name)
{
  return str_has_prefix (name, STAGING_PREFIX);
}

static int
random_name (char name[STAGING_NAME_MAX], box_error **err)
{
  unsigned char raw[8];
  if (random_bytes (raw, sizeof raw, err) < 0)
    return box_err_code (err);
  char hex[17];
  hex_encode (raw, sizeof raw, hex);
  snprintf (name, STAGING_NAME_MAX, STAGING_PREFIX "%s", hex);
  return 0;
}

static int
lock_exclusive (int fd, bool wait)
{
  for (;;)
    {
      if (flock (fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0)
        return 0;
      if (errno != EINTR)
        return -1;
    }
}

/* After locking: a sweep may have removed the entry between its creation and the lock; then
 * the name no longer refers to the locked inode and the creator starts over. */
static bool
still_named (int dirfd, const char *name, int fd)
{
  struct stat by_fd, by_name;
  if (fstat (fd, &by_fd) < 0 || fstatat (dirfd, name, &by_name, AT_SYMLINK_NOFOLLOW) < 0)
    return false;
  return by_fd.st_dev == by_name.st_dev && by_fd.st_ino == by_name.st_ino;
}

static int
create_entry (int dirfd, mode_t mode, bool directory, char name[STAGING_NAME_MAX], int *out_fd,
              box_error **err)
{
  for (int attempt = 0; attempt < STAGING_CREATE_ATTEMPTS; attempt++)
    {
      if (random_name (name, err) < 0)
        return box_err_code (err);
      _cleanup_close_ int fd = -1;
      if (directory)
        {
          if (mkdirat (dirfd, name, mode) < 0)
            {
              if (errno == EEXIST)
                continue;
              return box_err_errno (err, errno, "create staging directory %s", name);
            }
          fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      else
        fd = openat (dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
      if (fd < 0)
        {
          if (errno == EEXIST || errno == ENOENT)
            continue;
          return box_err_errno (err, errno, "create staging %s %s",
                                directory ? "directory" : "file", name);
        }
      if (lock_exclusive (fd, true) < 0)
        return box_err_errno (err, errno, "lock staging entry %s", name);
      if (!still_named (dirfd, name, fd))
        continue;
      *out_fd = TAKE_FD (fd);
      return 0;
    }
  return box_err (err, BOX_E_IO, "create staging entry: no unused name after %d attempts",
                  STAGING_CREATE_ATTEMPTS);
}

int
staging_create_file (int dirfd, mode_t mode, char name[STAGING_NAME_MAX], int *out_fd,
                     box_error **err)
{
  return create_entry (dirfd, mode, false, name, out_fd, err);
}

int
staging_create_directory (int dirfd, mode_t mode, char name[STAGING_NAME_MAX], int *out_fd,
                          box_error **err)
{
  return create_entry (dirfd, mode, true, name, out_fd, err);
}

int
staging_remove_directory (int dirfd, const char *name, box_error **err)
{
  char doomed[STAGING_NAME_MAX];
  if (random_name (doomed, err) < 0)
    return box_err_code (err);
  if (renameat (dirfd, name, dirfd, doomed) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return box_err_errno (err, errno, "rename %s out of the way", name);
    }
  /* locked like any staging entry, so a concurrent sweep leaves it to us */
  _cleanup_close_ int fd = openat (dirfd, doomed, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : box_err_errno (err, errno, "open %s", doomed);
  if (lock_exclusive (fd, false) < 0)
    return errno == EWOULDBLOCK ? 0 : box_err_errno (err, errno, "lock %s", doomed);
  if (fs_remove_tree (dirfd, doomed, err) < 0)
    return box_err_wrap (err, "remove %s", name);
  return 0;
}

int
staging_sweep (int dirfd, box_error **err)
{
  int dup_fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0)
    return box_err_errno (err, errno, "open directory to sweep");
  _cleanup_closedir_ DIR *dir = fdopendir (dup_fd);
  if (!dir)
    {
      close (dup_fd);
      return box_err_errno (err, errno, "opendir");
    }
  struct dirent *de;
  while ((errno = 0, de = readdir (dir)) != NULL)
    {
      if (!staging_is_name (de->d_name))
        continue;
      _cleanup_close_ int fd = openat (dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        {
          if (errno == ENOENT)
            continue;
          return box_err_errno (err, errno, "open %s", de->d_name);
        }
      if (lock_exclusive (fd, false) < 0)
        {
          if (errno == EWOULDBLOCK)
            continue; /* its writer is alive */
          return box_err_errno (err, errno, "lock %s", de->d_name);
        }
      /* while we hold the lock, the name can only be ours to remove: a creator that locks
       * after us sees the name gone and starts over */
      if (fs_remove_tree (dirfd, de->d_name, err) < 0)
        return box_err_wrap (err, "remove abandoned %s", de->d_name);
    }
  if (errno != 0)
    return box_err_errno (err, errno, "readdir");
  return 0;
}
