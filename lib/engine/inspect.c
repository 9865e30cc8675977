/* Owns the inspect document of a box (docker's container inspect shape). */
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
