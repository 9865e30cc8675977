/* Owns `box info`: the facts about this engine and host that decide what boxes can do. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "engine/engine.h"
#include "linux/cgroup-mode.h"
#include "util/fs.h"
#include "util/json.h"

static bool
file_contains (const char *path, const char *needle)
{
  _cleanup_free_ char *text = NULL;
  if (fs_read_file (AT_FDCWD, path, &text, NULL, NULL) < 0)
    return false;
  return strstr (text, needle) != NULL;
}

static long
read_long (const char *path, long fallback)
{
  _cleanup_free_ char *text = NULL;
  if (fs_read_file (AT_FDCWD, path, &text, NULL, NULL) < 0)
    return fallback;
  return strtol (text, NULL, 10);
}

/* Controllers of the v2 tree at path (its cgroup.controllers), as a JSON array. */
static json_t *
v2_controllers (const char *path)
{
  json_t *list = json_array ();
  _cleanup_free_ char *text = NULL;
  if (!list || fs_read_file (AT_FDCWD, path, &text, NULL, NULL) < 0)
    return list;
  char *save = NULL;
  for (char *tok = strtok_r (text, " \n", &save); tok; tok = strtok_r (NULL, " \n", &save))
    json_array_append_new (list, json_string (tok));
  return list;
}

/* v1 controllers mounted under /sys/fs/cgroup, from /proc/self/cgroup. */
static json_t *
v1_controllers (void)
{
  json_t *list = json_array ();
  _cleanup_free_ char *text = NULL;
  if (!list || fs_read_file (AT_FDCWD, "/proc/self/cgroup", &text, NULL, NULL) < 0)
    return list;
  char *save = NULL;
  for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      /* "4:memory:/path" or "1:cpu,cpuacct:/path"; "0::/" is the v2 line, name= are not
       * resource controllers */
      char *first = strchr (line, ':');
      char *second = first ? strchr (first + 1, ':') : NULL;
      if (!second || second == first + 1)
        continue;
      *second = '\0';
      char *csave = NULL;
      for (char *c = strtok_r (first + 1, ",", &csave); c; c = strtok_r (NULL, ",", &csave))
        if (strncmp (c, "name=", 5) != 0)
          json_array_append_new (list, json_string (c));
    }
  return list;
}

int
box_engine_info_json (box_engine *eng, char **out_json, box_error **err)
{
  struct utsname uts;
  if (uname (&uts) < 0)
    return box_err_errno (err, errno, "uname");

  cgroup_mode mode = cgroup_mode_detect ("/sys/fs/cgroup");
  json_t *cgroup = json_pack ("{s:s}", "mode", cgroup_mode_name (mode));
  if (!cgroup)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (mode == CGROUP_MODE_V1 || mode == CGROUP_MODE_HYBRID)
    json_object_set_new (cgroup, "v1_controllers", v1_controllers ());
  if (mode == CGROUP_MODE_V2)
    json_object_set_new (cgroup, "v2_controllers",
                         v2_controllers ("/sys/fs/cgroup/cgroup.controllers"));
  if (mode == CGROUP_MODE_HYBRID)
    json_object_set_new (cgroup, "v2_controllers",
                         v2_controllers ("/sys/fs/cgroup/unified/cgroup.controllers"));

  json_t *features = json_pack (
      "{s:b,s:b,s:b,s:b,s:b}", "overlayfs", file_contains ("/proc/filesystems", "\toverlay\n"),
      "user_namespaces", read_long ("/proc/sys/user/max_user_namespaces", 0) > 0, "seccomp",
      access ("/proc/sys/kernel/seccomp/actions_avail", F_OK) == 0, "kvm",
      access ("/dev/kvm", R_OK | W_OK) == 0, "cgroup_namespaces",
      access ("/proc/self/ns/cgroup", F_OK) == 0);

  _cleanup_json_ json_t *info = json_pack (
      "{s:s,s:s,s:i,s:{s:s,s:s,s:s},s:o,s:o}", "version", BOX_VERSION, "root", eng->root,
      "store_schema_version", store_schema_version (eng->store), "kernel", "name", uts.sysname,
      "release", uts.release, "arch", uts.machine, "cgroup", cgroup, "features", features);
  if (!info || !features)
    return box_err (err, BOX_E_INTERNAL, "out of memory");

  *out_json = json_dumps (info, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  if (!*out_json)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}
