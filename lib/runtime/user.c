/* Owns user and group resolution from a rootfs's /etc/passwd and /etc/group. */
#include "runtime/user.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

#define MAX_GROUPS 65536

static FILE *
open_in_root (int rootfs_dirfd, const char *path)
{
  struct open_how how
      = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  int fd;
  do
    fd = (int) syscall (SYS_openat2, rootfs_dirfd, path, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return NULL;
  FILE *f = fdopen (fd, "re");
  if (!f)
    close (fd);
  return f;
}

static bool
parse_id (const char *s, uint32_t *out)
{
  if (!*s)
    return false;
  char *end;
  errno = 0;
  unsigned long v = strtoul (s, &end, 10);
  if (*end || errno || v >= UINT32_MAX || s[0] == '-' || s[0] == '+')
    return false;
  *out = (uint32_t) v;
  return true;
}

/* Splits a passwd/group line in place into up to max fields; returns the count. */
static size_t
split_fields (char *line, char **fields, size_t max)
{
  size_t n = 0;
  line[strcspn (line, "\n")] = '\0';
  while (n < max)
    {
      fields[n++] = line;
      char *colon = strchr (line, ':');
      if (!colon)
        break;
      *colon = '\0';
      line = colon + 1;
    }
  return n;
}

typedef struct passwd_entry {
  bool found;
  char *name;
  uint32_t uid, gid;
  char *home;
} passwd_entry;

static int
find_passwd (int rootfs_dirfd, const char *name, bool by_uid, uint32_t uid, passwd_entry *out,
             box_error **err)
{
  _cleanup_fclose_ FILE *f = open_in_root (rootfs_dirfd, "/etc/passwd");
  if (!f)
    {
      if (errno == ENOENT)
        return 0;
      return box_err_errno (err, errno, "open /etc/passwd of the image");
    }
  _cleanup_free_ char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, f) > 0)
    {
      /* a short line leaves the last fields NULL, not those of the line before */
      char *fields[7] = { NULL };
      if (line[0] == '#' || split_fields (line, fields, 7) < 4)
        continue;
      uint32_t entry_uid, entry_gid;
      if (!parse_id (fields[2], &entry_uid) || !parse_id (fields[3], &entry_gid))
        continue;
      if (by_uid ? entry_uid != uid : strcmp (fields[0], name) != 0)
        continue;
      out->found = true;
      out->uid = entry_uid;
      out->gid = entry_gid;
      out->name = strdup (fields[0]);
      out->home = strdup (fields[5] && *fields[5] ? fields[5] : "/");
      if (!out->name || !out->home)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      return 0;
    }
  return 0;
}

static bool
member_of (char *members, const char *name)
{
  for (char *save = NULL, *m = strtok_r (members, ",", &save); m; m = strtok_r (NULL, ",", &save))
    if (strcmp (m, name) == 0)
      return true;
  return false;
}

/* Finds a group by name (when group_name is set) and collects the groups user_name belongs to. */
static int
scan_groups (int rootfs_dirfd, const char *group_name, bool *group_found, uint32_t *group_gid,
             const char *user_name, user_ids *ids, box_error **err)
{
  _cleanup_fclose_ FILE *f = open_in_root (rootfs_dirfd, "/etc/group");
  if (!f)
    {
      if (errno == ENOENT)
        return 0;
      return box_err_errno (err, errno, "open /etc/group of the image");
    }
  _cleanup_free_ char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, f) > 0)
    {
      char *fields[4] = { NULL };
      if (line[0] == '#' || split_fields (line, fields, 4) < 3)
        continue;
      uint32_t gid;
      if (!parse_id (fields[2], &gid))
        continue;
      if (group_name && !*group_found && strcmp (fields[0], group_name) == 0)
        {
          *group_found = true;
          *group_gid = gid;
        }
      if (user_name && fields[3] && member_of (fields[3], user_name)
          && ids->n_additional_gids < MAX_GROUPS)
        {
          uint32_t *grown
              = realloc (ids->additional_gids, (ids->n_additional_gids + 1) * sizeof *grown);
          if (!grown)
            return box_err (err, BOX_E_INTERNAL, "out of memory");
          ids->additional_gids = grown;
          ids->additional_gids[ids->n_additional_gids++] = gid;
        }
    }
  return 0;
}

int
user_resolve (int rootfs_dirfd, const char *user, user_ids *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  _cleanup_free_ char *copy = strdup (user ? user : "");
  if (!copy)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  char *group = strchr (copy, ':');
  if (group)
    *group++ = '\0';
  const char *name = copy;

  passwd_entry pw = { 0 };
  uint32_t uid = 0;
  bool numeric = !*name || parse_id (name, &uid);
  int rc = find_passwd (rootfs_dirfd, name, numeric, uid, &pw, err);
  user_ids ids = { 0 };
  if (rc < 0)
    goto out;
  if (!numeric && !pw.found)
    {
      rc = box_err (err, BOX_E_NOT_FOUND,
                    "unable to find user %s: no matching entries in passwd file", name);
      goto out;
    }
  ids.uid = pw.found ? pw.uid : uid;
  ids.gid = pw.found ? pw.gid : 0;
  ids.home = strdup (pw.found ? pw.home : "/");
  if (!ids.home)
    {
      rc = box_err (err, BOX_E_INTERNAL, "out of memory");
      goto out;
    }
  uint32_t gid = 0;
  bool group_numeric = group && parse_id (group, &gid);
  bool group_found = false;
  rc = scan_groups (rootfs_dirfd, group && !group_numeric ? group : NULL, &group_found, &gid,
                    group ? NULL : pw.name, &ids, err);
  if (rc < 0)
    goto out;
  if (group)
    {
      if (!group_numeric && !group_found)
        {
          rc = box_err (err, BOX_E_NOT_FOUND,
                        "unable to find group %s: no matching entries in group file", group);
          goto out;
        }
      ids.gid = gid;
    }
  *out = ids;
  memset (&ids, 0, sizeof ids);
  rc = 0;
out:
  user_ids_clear (&ids);
  free (pw.name);
  free (pw.home);
  return rc;
}

void
user_ids_clear (user_ids *ids)
{
  free (ids->additional_gids);
  free (ids->home);
  memset (ids, 0, sizeof *ids);
}
