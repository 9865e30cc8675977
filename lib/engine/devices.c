/* Owns the host devices of a box (docker's --device HOST[:BOX][:PERMISSIONS]): parsing the
 * spec, checking a device given through the API, its HostConfig.Devices entry, and turning
 * that entry into the device nodes (type, numbers, mode of the host nodes at start) and cgroup
 * permissions the bundle carries. A host directory stands for every device node below it. */
#include "engine/devices.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/json.h"

#define DEFAULT_PERMISSIONS "rwm"

/* docker's validDeviceMode: one to three of r, w, m, none twice. */
static bool
permissions_valid (const char *p)
{
  if (!p || !*p || strlen (p) > 3)
    return false;
  for (const char *c = p; *c; c++)
    if (!strchr ("rwm", *c) || strchr (c + 1, *c))
      return false;
  return true;
}

/* Writes the clean form of an absolute path to out (room for strlen (in) + 1): repeated slashes and "." components dropped, no trailing slash. A relative path, a
 * ".." component or the root itself is refused: a device node needs a name of its own, and
 * ".." could only mean something the path does not say. */
static bool
path_clean (const char *in, char *out)
{
  if (in[0] != '/')
    return false;
  size_t o = 0;
  const char *p = in;
  while (*p)
    {
      while (*p == '/')
        p++;
      const char *end = strchrnul (p, '/');
      size_t len = (size_t) (end - p);
      if (len == 2 && p[0] == '.' && p[1] == '.')
        return false;
      if (len > 0 && !(len == 1 && p[0] == '.'))
        {
          out[o++] = '/';
          memmove (out + o, p, len);
          o += len;
        }
      p = end;
    }
  out[o] = '\0';
  return o > 0;
}

int
box_device_parse (const char *spec, box_device **out, box_error **err)
{
  *out = NULL;
  if (!spec)
    return box_err (err, BOX_E_INVALID, "invalid device specification: none given");
  size_t len = strlen (spec);
  /* one allocation: the struct, the spec split into its words, the words' clean forms (at
     the same offsets: cleaning only shortens), the default permissions */
  box_device *d = calloc (1, sizeof *d + 2 * (len + 1) + sizeof DEFAULT_PERMISSIONS);
  if (!d)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_free_ box_device *owned = d;
  char *copy = (char *) (d + 1);
  memcpy (copy, spec, len + 1);
  char *clean = copy + len + 1;
  char *defaults = clean + len + 1;
  memcpy (defaults, DEFAULT_PERMISSIONS, sizeof DEFAULT_PERMISSIONS);

  char *parts[3] = { copy, NULL, NULL };
  size_t n = 1;
  for (char *c = copy; *c; c++)
    if (*c == ':')
      {
        if (n == 3)
          return box_err (err, BOX_E_INVALID,
                          "invalid device specification \"%s\": expected "
                          "HOST[:BOX][:PERMISSIONS]",
                          spec);
        *c = '\0';
        parts[n++] = c + 1;
      }
  char *host = parts[0], *in_box = NULL, *permissions = NULL;
  if (n == 3)
    {
      in_box = parts[1];
      permissions = parts[2];
    }
  else if (n == 2)
    {
      /* docker: the second word is the permissions when it reads as permissions */
      if (permissions_valid (parts[1]))
        permissions = parts[1];
      else
        in_box = parts[1];
    }
  if (!*host)
    return box_err (err, BOX_E_INVALID, "invalid device specification \"%s\": no host path", spec);
  char *host_clean = clean + (host - copy);
  char *in_box_clean = in_box ? clean + (in_box - copy) : NULL;
  if (!path_clean (host, host_clean))
    return box_err (err, BOX_E_INVALID,
                    "invalid device specification \"%s\": the host path \"%s\" is not an "
                    "absolute path of a file",
                    spec, host);
  if (in_box && !path_clean (in_box, in_box_clean))
    return box_err (err, BOX_E_INVALID,
                    "invalid device specification \"%s\": the path in the box \"%s\" is not an "
                    "absolute path of a file",
                    spec, in_box);
  if (permissions && !permissions_valid (permissions))
    return box_err (err, BOX_E_INVALID,
                    "invalid device specification \"%s\": bad permissions \"%s\" (one to "
                    "three of r, w, m)",
                    spec, permissions);
  d->path_on_host = host_clean;
  d->path_in_box = in_box ? in_box_clean : host_clean;
  d->permissions = permissions ? permissions : defaults;
  *out = TAKE_PTR (owned);
  return 0;
}

void
box_device_free (box_device *device)
{
  free (device);
}

/* A device node found for the bundle; path_in_box is owned until the list is packed. */
typedef struct device_list {
  spec_device *items;
  size_t n, capacity;
} device_list;

static void
device_list_clear (device_list *list)
{
  for (size_t i = 0; i < list->n; i++)
    free ((char *) list->items[i].path);
  free (list->items);
  *list = (device_list){ 0 };
}

static int
device_list_add (device_list *list, char *path_in_box, const struct stat *st, const char *access,
                 box_error **err)
{
  _cleanup_free_ char *owned = path_in_box;
  if (!owned)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (list->n == list->capacity)
    {
      size_t capacity = list->capacity ? 2 * list->capacity : 8;
      spec_device *items = reallocarray (list->items, capacity, sizeof *items);
      if (!items)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      list->items = items;
      list->capacity = capacity;
    }
  list->items[list->n++] = (spec_device){
    .path = TAKE_PTR (owned),
    .type = S_ISBLK (st->st_mode) ? 'b' : 'c',
    .major = major (st->st_rdev),
    .minor = minor (st->st_rdev),
    .file_mode = st->st_mode & 07777,
    .access = access,
  };
  return 0;
}

static const char *
file_kind (mode_t mode)
{
  return S_ISDIR (mode)    ? "directory"
         : S_ISREG (mode)  ? "regular file"
         : S_ISFIFO (mode) ? "fifo"
         : S_ISSOCK (mode) ? "socket"
                           : "file of another kind";
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The names in a directory, sorted, without "." and "..": read before anything below is
 * visited, so a deep tree never holds more than one directory open. */
static int
directory_names (const char *dir, bool follow_symlink, char ***out, size_t *out_n, box_error **err)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow_symlink ? 0 : O_NOFOLLOW));
  if (fd < 0)
    return box_err_errno (err, errno, "device directory %s", dir);
  _cleanup_closedir_ DIR *d = fdopendir (fd);
  if (!d)
    {
      int saved = errno;
      close (fd);
      return box_err_errno (err, saved, "device directory %s", dir);
    }
  _cleanup_strv_ char **names = calloc (1, sizeof *names);
  size_t n = 0;
  if (!names)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (;;)
    {
      errno = 0;
      struct dirent *entry = readdir (d);
      if (!entry)
        {
          if (errno)
            return box_err_errno (err, errno, "device directory %s", dir);
          break;
        }
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      char **grown = reallocarray (names, n + 2, sizeof *names);
      if (!grown)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      names = grown;
      names[n + 1] = NULL;
      if (!(names[n] = strdup (entry->d_name)))
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      n++;
    }
  qsort (names, n, sizeof *names, compare_names);
  *out = TAKE_PTR (names);
  *out_n = n;
  return 0;
}

/* docker's --device DIRECTORY: every character or block device below host_dir (in name order,
 * symlinks and other files skipped, subdirectories entered but never through a symlink), at
 * the same relative path below box_dir. */
static int
collect_directory (const char *host_dir, const char *box_dir, bool follow_symlink,
                   const char *access, device_list *list, box_error **err)
{
  _cleanup_strv_ char **names = NULL;
  size_t n = 0;
  if (directory_names (host_dir, follow_symlink, &names, &n, err) < 0)
    return box_err_code (err);
  for (size_t i = 0; i < n; i++)
    {
      _cleanup_free_ char *host = NULL, *in_box = NULL;
      if (asprintf (&host, "%s/%s", host_dir, names[i]) < 0
          || asprintf (&in_box, "%s/%s", box_dir, names[i]) < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      struct stat st;
      if (lstat (host, &st) < 0)
        {
          if (errno == ENOENT) /* gone since the directory was read */
            continue;
          return box_err_errno (err, errno, "device %s", host);
        }
      if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
        {
          if (device_list_add (list, TAKE_PTR (in_box), &st, access, err) < 0)
            return box_err_code (err);
        }
      else if (S_ISDIR (st.st_mode))
        {
          if (collect_directory (host, in_box, false, access, list, err) < 0)
            return box_err_code (err);
        }
    }
  return 0;
}

/* The device nodes one --device entry stands for: the host node itself (followed through
 * symlinks), or the nodes below a host directory. A file of another kind, or a directory
 * without a device below it, is refused (docker fails such a start). */
static int
collect_host_devices (const char *host, const char *in_box, const char *access, device_list *list,
                      box_error **err)
{
  struct stat st;
  if (stat (host, &st) < 0)
    return box_err_errno (err, errno, "device %s", host);
  if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
    return device_list_add (list, strdup (in_box), &st, access, err);
  if (!S_ISDIR (st.st_mode))
    return box_err (err, BOX_E_INVALID, "device %s: not a device node (it is a %s)", host,
                    file_kind (st.st_mode));
  size_t before = list->n;
  if (collect_directory (host, in_box, true, access, list, err) < 0)
    return box_err_code (err);
  if (list->n == before)
    return box_err (err, BOX_E_INVALID,
                    "device %s: not a device node, and no device node is below the directory",
                    host);
  return 0;
}

int
engine_devices_config (const box_device *devices, size_t n, json_t **out, box_error **err)
{
  _cleanup_json_ json_t *list = json_array ();
  if (!list)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (size_t i = 0; i < n; i++)
    {
      const box_device *d = &devices[i];
      if (!d->path_on_host || !*d->path_on_host)
        return box_err (err, BOX_E_INVALID, "device %zu: no host path", i);
      const char *in_box_given = d->path_in_box ? d->path_in_box : d->path_on_host;
      const char *permissions = d->permissions ? d->permissions : DEFAULT_PERMISSIONS;
      _cleanup_free_ char *host = malloc (strlen (d->path_on_host) + 1);
      _cleanup_free_ char *in_box = malloc (strlen (in_box_given) + 1);
      if (!host || !in_box)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      if (!path_clean (d->path_on_host, host))
        return box_err (err, BOX_E_INVALID,
                        "device %s: the host path is not an absolute path of a file",
                        d->path_on_host);
      if (!path_clean (in_box_given, in_box))
        return box_err (err, BOX_E_INVALID,
                        "device %s: the path in the box \"%s\" is not an absolute path of a "
                        "file",
                        d->path_on_host, in_box_given);
      if (!permissions_valid (permissions))
        return box_err (err, BOX_E_INVALID,
                        "device %s: bad permissions \"%s\" (one to three of r, w, m)",
                        d->path_on_host, permissions);
      /* checked now so that create refuses what start would; the nodes are found again at
         each start */
      _cleanup_ (device_list_clear) device_list found = { 0 };
      if (collect_host_devices (host, in_box, permissions, &found, err) < 0)
        return box_err_code (err);
      if (json_array_append_new (list, json_pack ("{s:s, s:s, s:s}", "PathOnHost", host,
                                                  "PathInContainer", in_box, "CgroupPermissions",
                                                  permissions))
          < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  *out = TAKE_PTR (list);
  return 0;
}

/* One allocation holding the devices and their paths, so that free() releases it all. */
static int
device_list_pack (const device_list *list, spec_device **out, box_error **err)
{
  size_t bytes = list->n * sizeof (spec_device);
  for (size_t i = 0; i < list->n; i++)
    bytes += strlen (list->items[i].path) + 1;
  spec_device *packed = malloc (bytes);
  if (!packed)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  char *strings = (char *) (packed + list->n);
  for (size_t i = 0; i < list->n; i++)
    {
      size_t len = strlen (list->items[i].path) + 1;
      packed[i] = list->items[i];
      packed[i].path = memcpy (strings, list->items[i].path, len);
      strings += len;
    }
  *out = packed;
  return 0;
}

int
engine_devices_resolve (const json_t *host_devices, spec_device **out, size_t *out_n,
                        box_error **err)
{
  *out = NULL;
  *out_n = 0;
  size_t n = json_is_array (host_devices) ? json_array_size (host_devices) : 0;
  if (n == 0)
    return 0;
  _cleanup_ (device_list_clear) device_list found = { 0 };
  for (size_t i = 0; i < n; i++)
    {
      const json_t *entry = json_array_get (host_devices, i);
      const char *host = json_string_value (json_object_get (entry, "PathOnHost"));
      const char *in_box = json_string_value (json_object_get (entry, "PathInContainer"));
      const char *permissions = json_string_value (json_object_get (entry, "CgroupPermissions"));
      if (!host || !in_box || in_box[0] != '/' || !permissions_valid (permissions))
        return box_err (err, BOX_E_INTERNAL, "HostConfig.Devices[%zu] of the box is malformed", i);
      if (collect_host_devices (host, in_box, permissions, &found, err) < 0)
        return box_err_code (err);
    }
  if (device_list_pack (&found, out, err) < 0)
    return box_err_code (err);
  *out_n = found.n;
  return 0;
}
