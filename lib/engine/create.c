/* Owns creating a box from an image: merging the image's config with docker's run options
 * into the box's stored config, and laying out boxes/<id>/ (rootfs dirs, /etc files). The
 * OCI config.json is written at start, once the rootfs is mounted and the user resolvable. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/devices.h"
#include "engine/lifecycle.h"
#include "image/image.h"
#include "linux/caps.h"
#include "runtime/spec.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/random.h"
#include "util/strutil.h"

DEFINE_POINTER_CLEANUP (image_for_box, image_for_box_free)


static json_t *
string_array (const char *const *items, size_t n)
{
  json_t *a = json_array ();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new (a, json_string (items[i]));
  return a;
}

static json_t *
copy_or_empty_array (json_t *v)
{
  return json_is_array (v) ? json_deep_copy (v) : json_array ();
}

/* image Env, then run Env: a later KEY replaces an earlier one in place. */
static int
merge_env (json_t *image_env, const box_run_options *run, json_t **out, box_error **err)
{
  _cleanup_json_ json_t *env = copy_or_empty_array (image_env);
  for (size_t i = 0; i < run->n_env; i++)
    {
      const char *item = run->env[i];
      const char *eq = strchr (item, '=');
      if (!eq || eq == item)
        return box_err (err, BOX_E_INVALID, "invalid environment variable \"%s\": expected KEY=VALUE", item);
      size_t key_len = (size_t) (eq - item) + 1;
      size_t j;
      json_t *existing;
      bool replaced = false;
      json_array_foreach (env, j, existing)
      {
        const char *s = json_string_value (existing);
        if (s && strncmp (s, item, key_len) == 0)
          {
            json_array_set_new (env, j, json_string (item));
            replaced = true;
            break;
          }
      }
      if (!replaced)
        json_array_append_new (env, json_string (item));
    }
  *out = TAKE_PTR (env);
  return 0;
}

/* -d; an older caller's struct has no such field */
static bool
run_detached (const box_run_options *run)
{
  return run->version >= 3 && run->detach;
}

/* -a; likewise */
static unsigned
run_attach_streams (const box_run_options *run)
{
  return run->version >= 4 ? run->attach_streams : 0;
}

static int
validate_run_options (const box_run_options *run, box_error **err)
{
  if (run->version < 1 || run->version > BOX_RUN_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_run_options: unknown version %u", run->version);
  if (run->memory_bytes < 0)
    return box_err (err, BOX_E_INVALID, "--memory: a negative limit");
  if (run->cpu_shares < 0)
    return box_err (err, BOX_E_INVALID, "--cpu-shares: a negative weight");
  long cpus = sysconf (_SC_NPROCESSORS_ONLN);
  if (run->nano_cpus < 0 || (run->nano_cpus > 0 && run->nano_cpus < 10000000)
      || (cpus > 0 && run->nano_cpus > cpus * 1000000000LL))
    return box_err (err, BOX_E_INVALID,
                    "--cpus %g: the range of CPUs is from 0.01 to %ld.00, as there are only %ld "
                    "CPUs available",
                    (double) run->nano_cpus / 1e9, cpus, cpus);
  if (run->memory_bytes > 0 && run->memory_bytes < 6 * 1024 * 1024)
    return box_err (err, BOX_E_INVALID, "Minimum memory limit allowed is 6MB");
  if (run->log_max_bytes < 0 || run->log_max_files < 0)
    return box_err (err, BOX_E_INVALID, "negative log limit");
  unsigned streams = run_attach_streams (run);
  if (streams & ~(BOX_ATTACH_STREAM_STDIN | BOX_ATTACH_STREAM_STDOUT | BOX_ATTACH_STREAM_STDERR))
    return box_err (err, BOX_E_INVALID, "box_run_options: unknown attach streams 0x%x", streams);
  if (streams && run_detached (run))
    return box_err (err, BOX_E_INVALID, "Conflicting options: -a and -d");
  if (run->stop_signal && box_signal_parse (run->stop_signal, err) < 0)
    return box_err_wrap (err, "--stop-signal");
  for (size_t i = 0; i < run->n_ulimits; i++)
    {
      if (!run->ulimits[i].name || spec_rlimit_resource (run->ulimits[i].name) < 0)
        return box_err (err, BOX_E_INVALID, "--ulimit: unknown resource \"%s\"",
                        run->ulimits[i].name ? run->ulimits[i].name : "");
      if (run->ulimits[i].soft > run->ulimits[i].hard)
        return box_err (err, BOX_E_INVALID,
                        "ulimit %s: soft limit %lld is above the hard limit %lld",
                        run->ulimits[i].name, (long long) run->ulimits[i].soft,
                        (long long) run->ulimits[i].hard);
    }
  const char *const *cap_lists[] = { run->cap_add, run->cap_drop };
  const size_t cap_counts[] = { run->n_cap_add, run->n_cap_drop };
  for (size_t l = 0; l < 2; l++)
    for (size_t i = 0; i < cap_counts[l]; i++)
      {
        const char *cap = cap_lists[l][i];
        if (!cap || (!caps_name_is_all (cap) && caps_from_name (cap) < 0))
          return box_err (err, BOX_E_INVALID, "%s: unknown capability \"%s\"",
                          l == 0 ? "--cap-add" : "--cap-drop", cap ? cap : "");
      }
  for (size_t i = 0; i < run->n_security_opt; i++)
    {
      const char *o = run->security_opt[i];
      if (strcmp (o, "no-new-privileges") != 0 && strcmp (o, "no-new-privileges:true") != 0
          && strcmp (o, "no-new-privileges=true") != 0 && strcmp (o, "no-new-privileges:false") != 0
          && strcmp (o, "no-new-privileges=false") != 0 && !str_has_prefix (o, "seccomp=")
          && !str_has_prefix (o, "seccomp:"))
        return box_err (err, BOX_E_INVALID,
                        "invalid --security-opt \"%s\" (supported: no-new-privileges, "
                        "seccomp=unconfined|PROFILE.json)",
                        o);
    }
  if (run->hostname && *run->hostname && box_name_validate (run->hostname, NULL) < 0
      && strchr (run->hostname, '/'))
    return box_err (err, BOX_E_INVALID, "invalid hostname \"%s\"", run->hostname);
  return 0;
}

/* The box's stored config, in docker's inspect vocabulary: Path, Args, Config, HostConfig. */
static int
build_config (const image_for_box *image, const char *image_ref, const box_run_options *run,
              const char *id, const box_label *labels, size_t n_labels, json_t **out,
              box_error **err)
{
  json_t *ic = image->config; /* may be NULL */
  _cleanup_json_ json_t *entrypoint = NULL, *cmd = NULL, *env = NULL;
  if (run->entrypoint_set)
    entrypoint = string_array (run->entrypoint, run->n_entrypoint);
  else
    entrypoint = copy_or_empty_array (json_object_get (ic, "Entrypoint"));
  if (run->n_cmd > 0)
    cmd = string_array (run->cmd, run->n_cmd);
  else if (run->entrypoint_set)
    cmd = json_array (); /* docker: a new entrypoint drops the image's Cmd */
  else
    cmd = copy_or_empty_array (json_object_get (ic, "Cmd"));
  if (merge_env (json_object_get (ic, "Env"), run, &env, err) < 0)
    return box_err_code (err);

  _cleanup_json_ json_t *argv = json_array ();
  json_array_extend (argv, entrypoint);
  json_array_extend (argv, cmd);
  if (json_array_size (argv) == 0)
    return box_err (err, BOX_E_INVALID, "no command specified");
  const char *path = json_string_value (json_array_get (argv, 0));
  if (!path || !*path)
    return box_err (err, BOX_E_INVALID, "the command's first word is empty");
  _cleanup_json_ json_t *args = json_array ();
  for (size_t i = 1; i < json_array_size (argv); i++)
    json_array_append (args, json_array_get (argv, i));

  const char *workdir = run->workdir && *run->workdir ? run->workdir
                        : json_string_value (json_object_get (ic, "WorkingDir"));
  if (!workdir || !*workdir)
    workdir = "/";
  if (workdir[0] != '/')
    return box_err (err, BOX_E_INVALID, "the working directory \"%s\" is invalid: it needs to be an absolute path", workdir);
  const char *user = run->user ? run->user : json_string_value (json_object_get (ic, "User"));
  const char *stop_signal = run->stop_signal && *run->stop_signal
                                ? run->stop_signal
                                : json_string_value (json_object_get (ic, "StopSignal"));
  char short_id[BOX_SHORT_ID_LENGTH + 1];
  snprintf (short_id, sizeof short_id, "%.*s", BOX_SHORT_ID_LENGTH, id);
  const char *hostname = run->hostname && *run->hostname ? run->hostname : short_id;

  json_t *label_obj = json_object ();
  json_t *image_labels = json_object_get (ic, "Labels");
  if (json_is_object (image_labels))
    json_object_update (label_obj, image_labels);
  for (size_t i = 0; i < n_labels; i++)
    json_object_set_new (label_obj, labels[i].key, json_string (labels[i].value));

  /* one per resource, the last given (docker's) */
  json_t *ulimits = json_array ();
  for (size_t i = 0; i < run->n_ulimits; i++)
    {
      int resource = spec_rlimit_resource (run->ulimits[i].name);
      bool given_again = false;
      for (size_t later = i + 1; later < run->n_ulimits; later++)
        given_again |= spec_rlimit_resource (run->ulimits[later].name) == resource;
      if (!given_again)
        json_array_append_new (ulimits, json_pack ("{s:s,s:I,s:I}", "Name", run->ulimits[i].name,
                                                   "Soft", (json_int_t) run->ulimits[i].soft,
                                                   "Hard", (json_int_t) run->ulimits[i].hard));
    }

  /* what docker's CLI records: run -d attaches nothing; run and create attach the output
   * (the streams -a names, when given), and the input with -i or -a stdin; with -i, the end
   * of the client's input then ends the box's */
  bool attached = !run_detached (run);
  unsigned streams = run_attach_streams (run);
  bool attach_stdin = attached && (run->open_stdin || (streams & BOX_ATTACH_STREAM_STDIN));
  bool attach_stdout = attached && (!streams || (streams & BOX_ATTACH_STREAM_STDOUT));
  bool attach_stderr = attached && (!streams || (streams & BOX_ATTACH_STREAM_STDERR));
  bool stdin_once = attach_stdin && run->open_stdin;
  json_t *config = json_pack (
      "{s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:b,s:O,s:O,s:s,s:s,s:O,s:o,s:s}", "Hostname", hostname,
      "Domainname", "", "User", user ? user : "", "AttachStdin", attach_stdin, "AttachStdout",
      attach_stdout, "AttachStderr", attach_stderr, "Tty", run->tty, "OpenStdin", run->open_stdin,
      "StdinOnce", stdin_once, "Env", env, "Cmd", cmd, "Image", image_ref, "WorkingDir",
      run->workdir ? run->workdir : (json_string_value (json_object_get (ic, "WorkingDir")) ?: ""),
      "Entrypoint", entrypoint, "Labels", label_obj, "StopSignal",
      stop_signal ? stop_signal : "");
  if (!config)
    {
      json_decref (ulimits);
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  if (run->stop_timeout != BOX_STOP_TIMEOUT_DEFAULT)
    json_object_set_new (config, "StopTimeout",
                         json_integer (run->stop_timeout < 0 ? BOX_STOP_TIMEOUT_FOREVER
                                                             : run->stop_timeout));

  /* a version 1 struct ends before the devices */
  json_t *devices = NULL;
  if (engine_devices_config (run->version >= 2 ? run->devices : NULL,
                             run->version >= 2 ? run->n_devices : 0, &devices, err)
      < 0)
    {
      json_decref (config);
      json_decref (ulimits);
      return box_err_code (err);
    }
  json_t *host_config = json_pack (
      "{s:I,s:I,s:I,s:I,s:b,s:o,s:o,s:b,s:o,s:o,s:s,s:b,s:b,s:s}", "Memory",
      (json_int_t) run->memory_bytes, "NanoCpus", (json_int_t) run->nano_cpus, "CpuShares",
      (json_int_t) run->cpu_shares, "PidsLimit",
      (json_int_t) (run->pids_limit > 0 ? run->pids_limit : 0) /* negative: unlimited */,
      "ReadonlyRootfs",
      run->read_only, "CapAdd", string_array (run->cap_add, run->n_cap_add), "CapDrop",
      string_array (run->cap_drop, run->n_cap_drop), "Privileged", run->privileged,
      "SecurityOpt", string_array (run->security_opt, run->n_security_opt), "Ulimits", ulimits,
      "Runtime", run->runtime && *run->runtime ? run->runtime : ENGINE_DEFAULT_RUNTIME, "Init",
      run->init, "AutoRemove", run->auto_remove, "NetworkMode", "none");
  if (host_config)
    json_object_set_new (host_config, "Devices", devices);
  else
    json_decref (devices);
  /* docker's log options are strings ("10485760" is a size docker reads too) */
  char max_size[24], max_file[16];
  snprintf (max_size, sizeof max_size, "%lld",
            (long long) (run->log_max_bytes > 0 ? run->log_max_bytes
                                                : ENGINE_DEFAULT_LOG_MAX_BYTES));
  snprintf (max_file, sizeof max_file, "%d",
            run->log_max_files > 0 ? run->log_max_files : ENGINE_DEFAULT_LOG_MAX_FILES);
  if (host_config)
    json_object_set_new (host_config, "LogConfig",
                         json_pack ("{s:s,s:{s:s,s:s}}", "Type", "json-file", "Config",
                                    "max-size", max_size, "max-file", max_file));
  if (!host_config)
    {
      json_decref (config);
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  json_t *doc = json_pack ("{s:s,s:O,s:s,s:o,s:o}", "Path", path, "Args", args, "ImageID",
                           image->id, "Config", config, "HostConfig", host_config);
  if (!doc)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out = doc;
  return 0;
}

/* The host's resolv.conf without loopback nameservers (the box has its own loopback). */
static int
write_resolv_conf (int dir_fd, box_error **err)
{
  _cleanup_free_ char *host = NULL;
  box_error *ignored = NULL;
  if (fs_read_file (AT_FDCWD, "/etc/resolv.conf", &host, NULL, &ignored) < 0)
    {
      box_error_free (ignored);
      host = strdup ("");
      if (!host)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  size_t cap = strlen (host) + 1, used = 0;
  _cleanup_free_ char *out = malloc (cap);
  if (!out)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  out[0] = '\0';
  char *save = NULL;
  for (char *line = strtok_r (host, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      if (str_has_prefix (line, "nameserver")
          && (strstr (line, " 127.") || strstr (line, " ::1") || strstr (line, "\t127.")))
        continue;
      used += (size_t) snprintf (out + used, cap - used, "%s\n", line);
    }
  return fs_write_file_new (dir_fd, "resolv.conf", out, used, 0644, err);
}

static int
write_etc_files (const char *dir, const char *hostname, box_error **err)
{
  _cleanup_close_ int dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return box_err_errno (err, errno, "open %s", dir);
  _cleanup_free_ char *hostname_text = NULL, *hosts = NULL;
  if (asprintf (&hostname_text, "%s\n", hostname) < 0
      || asprintf (&hosts,
                   "127.0.0.1\tlocalhost\n"
                   "::1\tlocalhost ip6-localhost ip6-loopback\n"
                   "fe00::0\tip6-localnet\n"
                   "ff00::0\tip6-mcastprefix\n"
                   "ff02::1\tip6-allnodes\n"
                   "ff02::2\tip6-allrouters\n"
                   "127.0.1.1\t%s\n",
                   hostname)
             < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  /* the box's directory is new (under the create's intent lock): plain writes */
  if (fs_write_file_new (dir_fd, "hostname", hostname_text, strlen (hostname_text), 0644, err) < 0
      || fs_write_file_new (dir_fd, "hosts", hosts, strlen (hosts), 0644, err) < 0
      || write_resolv_conf (dir_fd, err) < 0)
    return box_err_wrap (err, "write /etc files of the box");
  return 0;
}

int
engine_box_create_from_image (box_engine *eng, const box_box_create_options *opts, box_box **out,
                              box_error **err)
{
  const box_run_options *run = opts->run;
  if (opts->config_json)
    return box_err (err, BOX_E_INVALID, "create box: config_json and run options are exclusive");
  if (!opts->image || !*opts->image)
    return box_err (err, BOX_E_INVALID, "create box: no image given");
  if (validate_run_options (run, err) < 0)
    return box_err_wrap (err, "create box");
  const char *runtime = run->runtime && *run->runtime ? run->runtime : ENGINE_DEFAULT_RUNTIME;
  engine_runtime rt;
  if (engine_runtime_open (eng->root, runtime, &rt, err) < 0)
    return box_err_wrap (err, "create box");
  engine_runtime_clear (&rt);

  _cleanup_ (image_for_box_freep) image_for_box *image = NULL;
  if (image_resolve_for_box (eng, opts->image, &image, err) < 0)
    return box_err_code (err);

  char id[BOX_ID_HEX_LENGTH + 1];
  if (random_id (id, err) < 0)
    return box_err_wrap (err, "create box");
  _cleanup_json_ json_t *config = NULL;
  if (build_config (image, opts->image, run, id, opts->labels, opts->n_labels, &config, err) < 0)
    return box_err_wrap (err, "create box");
  _cleanup_free_ char *config_text = json_dumps (config, JSON_COMPACT);
  if (!config_text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");

  /* the intent lock covers the window where boxes/<id> exists without its row */
  int intent_fd = -1;
  if (engine_intent_lock (eng->root, id, true, &intent_fd, err) < 0)
    return box_err_wrap (err, "create box");
  _cleanup_free_ char *dir = NULL;
  int rc = engine_box_make_dir (eng->root, id, &dir, err);
  if (rc >= 0)
    rc = write_etc_files (dir, json_string_value (json_object_get (json_object_get (config, "Config"), "Hostname")), err);
  bool said_create = false; /* the record's errors start with "create box" themselves */
  if (rc >= 0)
    {
      rc = engine_box_record (eng, opts, id, config_text, runtime, out, err);
      said_create = true;
    }
  if (rc < 0)
    {
      box_error *ignored = NULL;
      engine_box_remove_dir (eng->root, id, &ignored); /* made or half made */
      box_error_free (ignored);
      engine_intent_done (eng->root, id, intent_fd);
      return said_create ? rc : box_err_wrap (err, "create box");
    }
  engine_intent_done (eng->root, id, intent_fd);
  return 0;
}
