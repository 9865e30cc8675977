/* Owns the host devices of a box (docker's --device HOST[:BOX][:PERMISSIONS]): parsing the
 * spec, checking a device given through the API, its HostConfig.Devices entry, and turning
 * that entry into the device node (type, numbers, mode of the host node at start) and cgroup
 * permissions the bundle carries. */
#include "engine/devices.h"

#include <errno.h>
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

/* The host node of path: a character or block device, followed through symlinks. */
static int
stat_host_device (const char *path, struct stat *st, box_error **err)
{
  if (stat (path, st) < 0)
    return box_err_errno (err, errno, "device %s", path);
  if (!S_ISCHR (st->st_mode) && !S_ISBLK (st->st_mode))
    return box_err (err, BOX_E_INVALID, "device %s: not a device node (it is a %s)", path,
                    S_ISDIR (st->st_mode)    ? "directory"
                    : S_ISREG (st->st_mode)  ? "regular file"
                    : S_ISFIFO (st->st_mode) ? "fifo"
                    : S_ISSOCK (st->st_mode) ? "socket"
                                             : "file of another kind");
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
      struct stat st;
      if (stat_host_device (host, &st, err) < 0)
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

int
engine_devices_resolve (const json_t *host_devices, spec_device **out, size_t *out_n,
                        box_error **err)
{
  *out = NULL;
  *out_n = 0;
  size_t n = json_is_array (host_devices) ? json_array_size (host_devices) : 0;
  if (n == 0)
    return 0;
  _cleanup_free_ spec_device *devices = calloc (n, sizeof *devices);
  if (!devices)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (size_t i = 0; i < n; i++)
    {
      const json_t *entry = json_array_get (host_devices, i);
      const char *host = json_string_value (json_object_get (entry, "PathOnHost"));
      const char *in_box = json_string_value (json_object_get (entry, "PathInContainer"));
      const char *permissions = json_string_value (json_object_get (entry, "CgroupPermissions"));
      if (!host || !in_box || in_box[0] != '/' || !permissions_valid (permissions))
        return box_err (err, BOX_E_INTERNAL, "HostConfig.Devices[%zu] of the box is malformed", i);
      struct stat st;
      if (stat_host_device (host, &st, err) < 0)
        return box_err_code (err);
      devices[i] = (spec_device){
        .path = in_box,
        .type = S_ISBLK (st.st_mode) ? 'b' : 'c',
        .major = major (st.st_rdev),
        .minor = minor (st.st_rdev),
        .file_mode = st.st_mode & 07777,
        .access = permissions,
      };
    }
  *out = TAKE_PTR (devices);
  *out_n = n;
  return 0;
}
