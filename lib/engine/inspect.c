/* Owns the inspect document of a box (docker's container inspect shape) and `top`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "linux/proc.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/timeutil.h"

static json_t *
time_string (int64_t ns)
{
  char buf[TIME_RFC3339_MAX];
  time_format_rfc3339 (ns, buf, sizeof buf);
  return json_string (buf);
}

static json_t *
box_path (const char *dir, const char *name)
{
  _cleanup_free_ char *p = NULL;
  if (asprintf (&p, "%s/%s", dir, name) < 0)
    return json_string ("");
  return json_string (p);
}

int
box_box_inspect_json (box_engine *eng, const char *ref, char **out_json, box_error **err)
{
  _cleanup_ (box_box_freep) box_box *b = NULL;
  if (engine_resolve_box (eng, ref, &b, err) < 0)
    return box_err_code (err);
  _cleanup_json_ json_t *stored = NULL;
  if (engine_box_config (b, &stored, err) < 0)
    return box_err_code (err);
  _cleanup_free_ char *dir = NULL;
  if (engine_box_dir (eng->root, b->id, &dir, err) < 0)
    return box_err_code (err);

  /* record-only boxes store their config flat ({"Cmd": [...]}) */
  json_t *config = json_object_get (stored, "Config");
  config = json_is_object (config) ? json_deep_copy (config) : json_deep_copy (stored);
  json_t *host_config = json_object_get (stored, "HostConfig");
  host_config = json_is_object (host_config) ? json_deep_copy (host_config) : json_object ();
  json_t *labels = json_object ();
  for (size_t i = 0; i < b->n_labels; i++)
    json_object_set_new (labels, b->labels[i].key, json_string (b->labels[i].value));
  json_t *image_labels = json_object_get (config, "Labels");
  if (json_is_object (image_labels))
    json_object_update_missing (labels, image_labels);
  json_object_set_new (config, "Labels", labels);
  json_object_set_new (config, "Image", json_string (b->image));

  char name[BOX_NAME_MAX + 2];
  snprintf (name, sizeof name, "/%s", b->name);
  bool running = b->state == BOX_STATE_RUNNING;
  json_t *state = json_pack (
      "{s:s,s:b,s:b,s:b,s:b,s:b,s:i,s:i,s:s,s:o,s:o}", "Status", box_state_name (b->state),
      "Running", running, "Paused", b->state == BOX_STATE_PAUSED, "Restarting",
      b->state == BOX_STATE_RESTARTING, "OOMKilled", b->oom_killed, "Dead",
      b->state == BOX_STATE_DEAD, "Pid", running ? b->pid : 0, "ExitCode", b->exit_code, "Error",
      b->error ? b->error : "", "StartedAt", time_string (b->started_ns), "FinishedAt",
      time_string (b->finished_ns));
  json_t *path = json_object_get (stored, "Path");
  json_t *args = json_object_get (stored, "Args");
  json_t *o = json_object ();
  json_object_set_new (o, "Id", json_string (b->id));
  json_object_set_new (o, "Created", time_string (b->created_ns));
  json_object_set_new (o, "Path", json_is_string (path) ? json_incref (path) : json_string (""));
  json_object_set_new (o, "Args", json_is_array (args) ? json_incref (args) : json_array ());
  json_object_set_new (o, "State", state);
  json_t *image_id = json_object_get (stored, "ImageID");
  json_object_set_new (o, "Image", json_is_string (image_id) ? json_incref (image_id)
                                                             : json_string (b->image));
  json_object_set_new (o, "ResolvConfPath", box_path (dir, "resolv.conf"));
  json_object_set_new (o, "HostnamePath", box_path (dir, "hostname"));
  json_object_set_new (o, "HostsPath", box_path (dir, "hosts"));
  json_object_set_new (o, "LogPath", box_path (dir, ENGINE_LOG_FILE));
  json_object_set_new (o, "Name", json_string (name));
  json_object_set_new (o, "RestartCount", json_integer (0));
  json_object_set_new (o, "Driver", json_string ("overlay"));
  json_object_set_new (o, "Platform", json_string ("linux"));
  json_object_set_new (o, "Runtime", json_string (b->runtime && *b->runtime ? b->runtime : ENGINE_DEFAULT_RUNTIME));
  json_object_set_new (o, "HostConfig", host_config);
  json_object_set_new (
      o, "GraphDriver",
      json_pack ("{s:s,s:{s:o,s:o,s:o}}", "Name", "overlay", "Data", "UpperDir",
                 box_path (dir, "upper"), "WorkDir", box_path (dir, "work"), "MergedDir",
                 box_path (dir, "rootfs")));
  json_object_set_new (o, "Mounts", json_array ());
  json_object_set_new (o, "Config", config);
  json_object_set_new (o, "NetworkSettings", json_pack ("{s:{}}", "Networks"));
  if (b->external_ref)
    json_object_set_new (o, "ExternalRef", json_string (b->external_ref));
  char *text = json_dumps (o, JSON_INDENT (4) | JSON_PRESERVE_ORDER);
  json_decref (o);
  if (!text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out_json = text;
  return 0;
}

/* ---- top -------------------------------------------------------------------------------- */

static int
read_small (const char *path, char *buf, size_t size)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read (fd, buf, size - 1);
  close (fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return (int) n;
}

static json_t *
process_row (pid_t pid)
{
  char path[64], stat_text[1024], cmd[4096], status[4096];
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  if (read_small (path, stat_text, sizeof stat_text) < 0)
    return NULL;
  char *close_paren = strrchr (stat_text, ')');
  int ppid = 0;
  char state = '?';
  if (close_paren)
    sscanf (close_paren + 2, "%c %d", &state, &ppid);
  snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
  unsigned uid = 0;
  if (read_small (path, status, sizeof status) > 0)
    {
      char *u = strstr (status, "\nUid:");
      if (u)
        sscanf (u + 5, "%u", &uid);
    }
  snprintf (path, sizeof path, "/proc/%d/cmdline", (int) pid);
  int n = read_small (path, cmd, sizeof cmd);
  if (n <= 0)
    {
      /* a kernel thread or zombie: its name in brackets */
      char *open_paren = strchr (stat_text, '(');
      snprintf (cmd, sizeof cmd, "[%.*s]",
                open_paren && close_paren ? (int) (close_paren - open_paren - 1) : 0,
                open_paren ? open_paren + 1 : "");
    }
  else
    {
      for (int i = 0; i < n - 1; i++)
        if (cmd[i] == '\0')
          cmd[i] = ' ';
    }
  char uid_text[16], pid_text[16], ppid_text[16], state_text[2] = { state, 0 };
  snprintf (uid_text, sizeof uid_text, "%u", uid);
  snprintf (pid_text, sizeof pid_text, "%d", (int) pid);
  snprintf (ppid_text, sizeof ppid_text, "%d", ppid);
  return json_pack ("[s,s,s,s,s]", uid_text, pid_text, ppid_text, state_text, cmd);
}

int
box_box_top_json (box_engine *eng, const char *ref, char **out_json, box_error **err)
{
  _cleanup_ (box_box_freep) box_box *b = NULL;
  if (engine_resolve_box (eng, ref, &b, err) < 0)
    return box_err_code (err);
  if (b->state != BOX_STATE_RUNNING || b->pid <= 0)
    return box_err (err, BOX_E_CONFLICT, "box %s is not running", ref);
  /* the box's processes: those in its init's pid namespace */
  char path[64], box_ns[64];
  snprintf (path, sizeof path, "/proc/%d/ns/pid", b->pid);
  ssize_t len = readlink (path, box_ns, sizeof box_ns - 1);
  if (len < 0)
    return box_err_errno (err, errno, "top %s: read %s", ref, path);
  box_ns[len] = '\0';
  _cleanup_closedir_ DIR *proc = opendir ("/proc");
  if (!proc)
    return box_err_errno (err, errno, "open /proc");
  json_t *rows = json_array ();
  struct dirent *de;
  while ((de = readdir (proc)) != NULL)
    {
      char *end;
      long pid = strtol (de->d_name, &end, 10);
      if (*end || pid <= 0)
        continue;
      char ns[64];
      snprintf (path, sizeof path, "/proc/%ld/ns/pid", pid);
      ssize_t n = readlink (path, ns, sizeof ns - 1);
      if (n < 0)
        continue;
      ns[n] = '\0';
      if (strcmp (ns, box_ns) != 0)
        continue;
      json_t *row = process_row ((pid_t) pid);
      if (row)
        json_array_append_new (rows, row);
    }
  json_t *o = json_pack ("{s:[s,s,s,s,s],s:o}", "Titles", "UID", "PID", "PPID", "STAT", "CMD",
                         "Processes", rows);
  char *text = o ? json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref (o);
  if (!text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out_json = text;
  return 0;
}
