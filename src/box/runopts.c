/* Owns parsing docker's run/create options. */
#include "runopts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "attach.h"

const char cli_run_options_help[] =
    "Options:\n"
    "      --name NAME            assign a name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)\n"
    "      --external-ref REF     attach an orchestrator's opaque reference (unique)\n"
    "  -l, --label KEY=VALUE      set a label (repeatable)\n"
    "  -e, --env KEY[=VALUE]      set an environment variable (repeatable)\n"
    "      --env-file FILE        read environment variables from a file\n"
    "  -w, --workdir DIR          working directory inside the box\n"
    "  -u, --user USER[:GROUP]    user (name or uid) and group\n"
    "      --entrypoint CMD       override the image's entrypoint\n"
    "  -h, --hostname NAME        the box's hostname\n"
    "  -a, --attach STREAM        attach STDIN, STDOUT or STDERR only (repeatable; default\n"
    "                             STDOUT and STDERR, and STDIN with -i)\n"
    "  -i, --interactive          keep stdin open\n"
    "  -t, --tty                  allocate a pseudo-terminal\n"
    "  -m, --memory BYTES         memory limit (b, k, m, g suffixes)\n"
    "      --cpus N               number of CPUs (fractional)\n"
    "  -c, --cpu-shares N         CPU shares (relative weight)\n"
    "      --pids-limit N         maximum number of processes\n"
    "      --read-only            mount the root filesystem read-only\n"
    "      --cap-add CAP          add a capability (repeatable; ALL)\n"
    "      --cap-drop CAP         drop a capability (repeatable; ALL)\n"
    "      --privileged           every capability, no seccomp, no masked paths\n"
    "      --security-opt OPT     no-new-privileges, seccomp=unconfined|PROFILE.json\n"
    "      --ulimit NAME=SOFT[:HARD]  resource limit (repeatable)\n"
    "      --device HOST[:BOX][:PERMS]  add a host device, or each one below a host\n"
    "                             directory (repeatable; PERMS of rwm, default rwm)\n"
    "      --stop-signal SIG      signal that stops the box (default SIGTERM)\n"
    "      --stop-timeout SECS    seconds to wait before SIGKILL on stop (default 10; -1: no\n"
    "                             limit)\n"
    "      --runtime NAME         native (default), runc, or oci:/path/to/runtime\n"
    "      --init                 run box-init as pid 1 (reaps, forwards signals)\n"
    "      --log-opt max-size=SIZE|max-file=N  log rotation\n"
    "      --detach-keys KEYS     keys that detach from a tty box (default ctrl-p,ctrl-q)\n"
    "      --sig-proxy=BOOL       pass received signals to the box (default true; not with -t)\n";

enum
{
  OPT_NAME = 1000,
  OPT_EXTERNAL_REF,
  OPT_ENV_FILE,
  OPT_ENTRYPOINT,
  OPT_CPUS,
  OPT_PIDS_LIMIT,
  OPT_READ_ONLY,
  OPT_CAP_ADD,
  OPT_CAP_DROP,
  OPT_PRIVILEGED,
  OPT_SECURITY_OPT,
  OPT_ULIMIT,
  OPT_STOP_SIGNAL,
  OPT_STOP_TIMEOUT,
  OPT_RUNTIME,
  OPT_INIT,
  OPT_RM,
  OPT_LOG_OPT,
  OPT_DETACH_KEYS,
  OPT_SIG_PROXY,
  OPT_DEVICE,
};

static char *
keep (cli_run *r, char *s)
{
  if (!s)
    {
      fprintf (stderr, "box: out of memory\n");
      exit (CLI_EXIT_ENGINE_ERROR);
    }
  char **bigger = realloc (r->strings, (r->n_strings + 1) * sizeof *bigger);
  if (!bigger)
    {
      fprintf (stderr, "box: out of memory\n");
      exit (CLI_EXIT_ENGINE_ERROR);
    }
  r->strings = bigger;
  r->strings[r->n_strings++] = s;
  return s;
}

static void
push (const char ***list, size_t *n, const char *item)
{
  const char **bigger = realloc (*list, (*n + 2) * sizeof *bigger);
  if (!bigger)
    {
      fprintf (stderr, "box: out of memory\n");
      exit (CLI_EXIT_ENGINE_ERROR);
    }
  *list = bigger;
  (*list)[(*n)++] = item;
  (*list)[*n] = NULL;
}

/* docker's RAMInBytes: a number with an optional b/k/m/g/t/p suffix (binary units). */
static int
parse_bytes (const char *s, int64_t *out)
{
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (end == s || errno || v < 0)
    return -1;
  int64_t mult = 1;
  switch (tolower ((unsigned char) *end))
    {
    case '\0':
    case 'b':
      break;
    case 'k':
      mult = 1LL << 10;
      break;
    case 'm':
      mult = 1LL << 20;
      break;
    case 'g':
      mult = 1LL << 30;
      break;
    case 't':
      mult = 1LL << 40;
      break;
    case 'p':
      mult = 1LL << 50;
      break;
    default:
      return -1;
    }
  if (*end)
    {
      end++;
      if (tolower ((unsigned char) *end) == 'b' && mult > 1)
        end++;
      if (*end)
        return -1;
    }
  *out = (int64_t) (v * (double) mult);
  return 0;
}

static int
parse_int64 (const char *s, int64_t *out)
{
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (end == s || *end || errno)
    return -1;
  *out = v;
  return 0;
}

static int
parse_ulimit_value (const char *s, int64_t *out)
{
  if (strcmp (s, "unlimited") == 0 || strcmp (s, "-1") == 0)
    {
      *out = -1; /* RLIM_INFINITY */
      return 0;
    }
  return parse_int64 (s, out);
}

static void
add_env (cli_run *r, size_t *n_env, const char *item)
{
  if (strchr (item, '='))
    {
      push (&r->env, n_env, item);
      return;
    }
  /* "KEY" alone: the value from this environment, skipped when unset (docker) */
  const char *value = getenv (item);
  if (!value)
    return;
  char *full = NULL;
  if (asprintf (&full, "%s=%s", item, value) < 0)
    full = NULL;
  push (&r->env, n_env, keep (r, full));
}

/* docker's env file: KEY=VALUE or KEY (taken from this environment) per line; blank lines
 * and lines starting with # are skipped, leading blanks ignored; a name with blanks in it, or
 * none, is an error naming the line */
static int
read_env_file (cli_run *r, size_t *n_env, const char *verb, const char *path)
{
  FILE *f = fopen (path, "re");
  if (!f)
    return cli_usage_error (verb, "open env file %s: %s", path, strerror (errno));
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int status = 0;
  for (unsigned number = 1; status == 0 && (len = getline (&line, &cap, f)) >= 0; number++)
    {
      while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
      char *p = line;
      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == '\0' || *p == '#')
        continue;
      size_t name_len = strcspn (p, "=");
      if (name_len == 0)
        status = cli_usage_error (verb, "env file %s, line %u: no variable name", path, number);
      else if (strcspn (p, " \t") < name_len)
        status = cli_usage_error (verb, "env file %s, line %u: variable '%.*s' contains blanks",
                                  path, number, (int) name_len, p);
      else
        add_env (r, n_env, keep (r, strdup (p)));
    }
  if (status == 0 && ferror (f))
    status = cli_usage_error (verb, "read env file %s: %s", path, strerror (errno));
  free (line);
  fclose (f);
  return status;
}

/* -a STREAM, in any case (docker's); 0 for none of them */
static unsigned
attach_stream (const char *name)
{
  if (strcasecmp (name, "stdin") == 0)
    return BOX_ATTACH_STREAM_STDIN;
  if (strcasecmp (name, "stdout") == 0)
    return BOX_ATTACH_STREAM_STDOUT;
  if (strcasecmp (name, "stderr") == 0)
    return BOX_ATTACH_STREAM_STDERR;
  return 0;
}

int
cli_run_parse (const char *verb, int argc, char **argv, bool allow_detach, cli_run *r)
{
  static const struct option options[] = {
    { "detach", no_argument, NULL, 'd' },
    { "attach", required_argument, NULL, 'a' },
    { "rm", no_argument, NULL, OPT_RM },
    { "name", required_argument, NULL, OPT_NAME },
    { "external-ref", required_argument, NULL, OPT_EXTERNAL_REF },
    { "label", required_argument, NULL, 'l' },
    { "env", required_argument, NULL, 'e' },
    { "env-file", required_argument, NULL, OPT_ENV_FILE },
    { "workdir", required_argument, NULL, 'w' },
    { "user", required_argument, NULL, 'u' },
    { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
    { "hostname", required_argument, NULL, 'h' },
    { "interactive", no_argument, NULL, 'i' },
    { "tty", no_argument, NULL, 't' },
    { "memory", required_argument, NULL, 'm' },
    { "cpus", required_argument, NULL, OPT_CPUS },
    { "cpu-shares", required_argument, NULL, 'c' },
    { "pids-limit", required_argument, NULL, OPT_PIDS_LIMIT },
    { "read-only", no_argument, NULL, OPT_READ_ONLY },
    { "cap-add", required_argument, NULL, OPT_CAP_ADD },
    { "cap-drop", required_argument, NULL, OPT_CAP_DROP },
    { "privileged", no_argument, NULL, OPT_PRIVILEGED },
    { "security-opt", required_argument, NULL, OPT_SECURITY_OPT },
    { "ulimit", required_argument, NULL, OPT_ULIMIT },
    { "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
    { "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
    { "runtime", required_argument, NULL, OPT_RUNTIME },
    { "init", no_argument, NULL, OPT_INIT },
    { "log-opt", required_argument, NULL, OPT_LOG_OPT },
    { "detach-keys", required_argument, NULL, OPT_DETACH_KEYS },
    { "sig-proxy", optional_argument, NULL, OPT_SIG_PROXY },
    { "device", required_argument, NULL, OPT_DEVICE },
    { 0 },
  };
  memset (r, 0, sizeof *r);
  r->create = (box_box_create_options) BOX_BOX_CREATE_OPTIONS_INIT;
  r->run = (box_run_options) BOX_RUN_OPTIONS_INIT;
  r->sig_proxy = true;
  size_t n_env = 0, n_cap_add = 0, n_cap_drop = 0, n_sec = 0, n_labels = 0, n_ulimits = 0;
  r->labels = calloc ((size_t) argc + 1, sizeof *r->labels);
  r->ulimits = calloc ((size_t) argc + 1, sizeof *r->ulimits);
  r->devices = calloc ((size_t) argc + 1, sizeof *r->devices);
  r->parsed_devices = calloc ((size_t) argc + 1, sizeof *r->parsed_devices);
  if (!r->labels || !r->ulimits || !r->devices || !r->parsed_devices)
    return cli_usage_error (verb, "out of memory");

  int c;
  int64_t v;
  /* '+': options end at the image; what follows is the box's command */
  while ((c = getopt_long (argc, argv, allow_detach ? "+da:l:e:w:u:h:itm:c:" : "+a:l:e:w:u:h:itm:c:",
                           options, NULL))
         != -1)
    {
      switch (c)
        {
        case 'd':
          if (!allow_detach)
            return cli_usage_error (verb, "unknown option -d");
          r->detach = true;
          break;
        case 'a':
          {
            unsigned stream = attach_stream (optarg);
            if (!stream)
              return cli_usage_error (verb,
                                      "invalid argument \"%s\" for \"-a, --attach\": valid "
                                      "streams are STDIN, STDOUT and STDERR",
                                      optarg);
            r->run.attach_streams |= stream;
            break;
          }
        case OPT_RM:
          r->run.auto_remove = 1;
          break;
        case OPT_NAME:
          r->create.name = optarg;
          break;
        case OPT_EXTERNAL_REF:
          r->create.external_ref = optarg;
          break;
        case 'l':
          {
            char *eq = strchr (optarg, '=');
            r->labels[n_labels].key = optarg;
            r->labels[n_labels].value = eq ? eq + 1 : (char *) "";
            if (eq)
              *eq = '\0';
            n_labels++;
            break;
          }
        case 'e':
          add_env (r, &n_env, optarg);
          break;
        case OPT_ENV_FILE:
          {
            int rc = read_env_file (r, &n_env, verb, optarg);
            if (rc)
              return rc;
            break;
          }
        case 'w':
          r->run.workdir = optarg;
          break;
        case 'u':
          r->run.user = optarg;
          break;
        case OPT_ENTRYPOINT:
          {
            size_t n = 0;
            r->run.entrypoint_set = 1;
            if (*optarg)
              push (&r->entrypoint, &n, optarg);
            r->run.n_entrypoint = n;
            break;
          }
        case 'h':
          r->run.hostname = optarg;
          break;
        case 'i':
          r->run.open_stdin = 1;
          break;
        case 't':
          r->run.tty = 1;
          break;
        case 'm':
          if (parse_bytes (optarg, &r->run.memory_bytes) < 0)
            return cli_usage_error (verb, "invalid memory size: %s", optarg);
          break;
        case OPT_CPUS:
          {
            char *end;
            double cpus = strtod (optarg, &end);
            if (end == optarg || *end || cpus < 0 || !isfinite (cpus))
              return cli_usage_error (verb, "invalid --cpus: %s", optarg);
            r->run.nano_cpus = (int64_t) llround (cpus * 1e9);
            break;
          }
        case 'c':
          if (parse_int64 (optarg, &r->run.cpu_shares) < 0)
            return cli_usage_error (verb, "invalid --cpu-shares: %s", optarg);
          break;
        case OPT_PIDS_LIMIT:
          if (parse_int64 (optarg, &r->run.pids_limit) < 0)
            return cli_usage_error (verb, "invalid --pids-limit: %s", optarg);
          break;
        case OPT_READ_ONLY:
          r->run.read_only = 1;
          break;
        case OPT_CAP_ADD:
          push (&r->cap_add, &n_cap_add, optarg);
          break;
        case OPT_CAP_DROP:
          push (&r->cap_drop, &n_cap_drop, optarg);
          break;
        case OPT_PRIVILEGED:
          r->run.privileged = 1;
          break;
        case OPT_SECURITY_OPT:
          if ((strncmp (optarg, "seccomp=", 8) == 0 || strncmp (optarg, "seccomp:", 8) == 0)
              && strcmp (optarg + 8, "unconfined") != 0)
            {
              /* the box keeps the profile's absolute path: a later start from another
                 directory reads the same file (docker reads it once, at create) */
              char *absolute = realpath (optarg + 8, NULL);
              if (!absolute)
                return cli_usage_error (verb, "--security-opt seccomp profile %s: %s",
                                        optarg + 8, strerror (errno));
              char *option = NULL;
              if (asprintf (&option, "seccomp=%s", absolute) < 0)
                option = NULL;
              free (absolute);
              push (&r->security_opt, &n_sec, keep (r, option));
            }
          else
            push (&r->security_opt, &n_sec, optarg);
          break;
        case OPT_ULIMIT:
          {
            char *eq = strchr (optarg, '=');
            if (!eq)
              return cli_usage_error (verb, "invalid --ulimit %s: expected NAME=SOFT[:HARD]", optarg);
            *eq = '\0';
            char *colon = strchr (eq + 1, ':');
            if (colon)
              *colon = '\0';
            box_ulimit *u = &r->ulimits[n_ulimits];
            u->name = optarg;
            if (parse_ulimit_value (eq + 1, &u->soft) < 0
                || parse_ulimit_value (colon ? colon + 1 : eq + 1, &u->hard) < 0)
              return cli_usage_error (verb, "invalid --ulimit value for %s", optarg);
            n_ulimits++;
            break;
          }
        case OPT_STOP_SIGNAL:
          r->run.stop_signal = optarg;
          break;
        case OPT_STOP_TIMEOUT:
          if (parse_int64 (optarg, &v) < 0 || v > INT32_MAX)
            return cli_usage_error (verb, "invalid --stop-timeout: %s", optarg);
          r->run.stop_timeout = v < 0 ? BOX_STOP_TIMEOUT_FOREVER : (int) v; /* docker: no limit */
          break;
        case OPT_RUNTIME:
          r->run.runtime = optarg;
          break;
        case OPT_INIT:
          r->run.init = 1;
          break;
        case OPT_DETACH_KEYS:
          {
            int status = cli_parse_detach_keys (verb, optarg, &r->detach_keys);
            if (status != 0)
              return status;
            break;
          }
        case OPT_SIG_PROXY:
          {
            int status = cli_parse_sig_proxy (verb, optarg, &r->sig_proxy);
            if (status != 0)
              return status;
            break;
          }
        case OPT_DEVICE:
          {
            box_device *d = NULL;
            box_error *err = NULL;
            if (box_device_parse (optarg, &d, &err) < 0)
              {
                int status = cli_usage_error (verb, "%s", box_error_message (err));
                box_error_free (err);
                return status;
              }
            r->parsed_devices[r->n_devices] = d;
            r->devices[r->n_devices++] = *d;
            break;
          }
        case OPT_LOG_OPT:
          if (strncmp (optarg, "max-size=", 9) == 0)
            {
              if (parse_bytes (optarg + 9, &r->run.log_max_bytes) < 0 || r->run.log_max_bytes <= 0)
                return cli_usage_error (verb, "invalid --log-opt %s", optarg);
            }
          else if (strncmp (optarg, "max-file=", 9) == 0)
            {
              if (parse_int64 (optarg + 9, &v) < 0 || v < 1 || v > 16)
                return cli_usage_error (verb, "invalid --log-opt %s (1 to 16 files)", optarg);
              r->run.log_max_files = (int) v;
            }
          else
            return cli_usage_error (verb, "unknown --log-opt %s (max-size, max-file)", optarg);
          break;
        default:
          return cli_usage_error (verb, "unknown option");
        }
    }
  if (r->run.attach_streams && r->detach)
    return cli_usage_error (verb, "Conflicting options: -a and -d");
  if (optind >= argc)
    return cli_usage_error (verb, "requires at least 1 argument (the image)");
  r->create.image = argv[optind];
  size_t n_cmd = 0;
  for (int i = optind + 1; i < argc; i++)
    push (&r->cmd, &n_cmd, argv[i]);
  r->run.cmd = r->cmd;
  r->run.n_cmd = n_cmd;
  r->run.entrypoint = r->entrypoint;
  r->run.env = r->env;
  r->run.n_env = n_env;
  r->run.cap_add = r->cap_add;
  r->run.n_cap_add = n_cap_add;
  r->run.cap_drop = r->cap_drop;
  r->run.n_cap_drop = n_cap_drop;
  r->run.security_opt = r->security_opt;
  r->run.n_security_opt = n_sec;
  r->run.ulimits = r->ulimits;
  r->run.n_ulimits = n_ulimits;
  r->run.devices = r->devices;
  r->run.n_devices = r->n_devices;
  r->create.labels = r->labels;
  r->create.n_labels = n_labels;
  r->run.detach = r->detach;
  r->create.run = &r->run;
  return 0;
}

void
cli_run_clear (cli_run *r)
{
  for (size_t i = 0; i < r->n_strings; i++)
    free (r->strings[i]);
  free (r->strings);
  free (r->env);
  free (r->cap_add);
  free (r->cap_drop);
  free (r->security_opt);
  free (r->cmd);
  free (r->entrypoint);
  free (r->labels);
  free (r->ulimits);
  for (size_t i = 0; i < r->n_devices; i++)
    box_device_free (r->parsed_devices[i]);
  free (r->parsed_devices);
  free (r->devices);
  memset (r, 0, sizeof *r);
}

int
cli_run_create_box (cli_context *ctx, const char *verb, int argc, char **argv, bool allow_detach,
                    cli_run *r, box_engine **out_eng, box_box **out_box)
{
  *out_eng = NULL;
  *out_box = NULL;
  int status = cli_run_parse (verb, argc, argv, allow_detach, r);
  /* run without -d attaches: a tty box's input must be a terminal, checked before anything
   * is created, as docker does */
  if (!status && allow_detach && !r->detach)
    status = cli_check_input_terminal (r->run.tty, r->run.open_stdin);
  if (status)
    {
      cli_run_clear (r);
      return status;
    }
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    {
      cli_run_clear (r);
      return CLI_EXIT_ENGINE_ERROR;
    }
  box_error *err = NULL;
  if (box_box_create (eng, &r->create, out_box, &err) < 0)
    {
      cli_run_clear (r);
      return cli_report (err);
    }
  *out_eng = eng;
  return 0;
}

int
cli_start_error_exit_code (const box_error *err)
{
  const char *m = box_error_message (err);
  /* docker reads the runtime's words the same way */
  if (strstr (m, "executable file not found") || strstr (m, "command not found")
      || (strstr (m, "exec") && strstr (m, "No such file or directory"))
      || (strstr (m, "exec") && strstr (m, "no such file or directory")))
    return CLI_EXIT_NOT_FOUND;
  if ((strstr (m, "exec") && (strstr (m, "ermission denied") || strstr (m, "Is a directory")
                              || strstr (m, "is a directory")))
      || strstr (m, "cannot execute"))
    return CLI_EXIT_CANNOT_EXECUTE;
  return CLI_EXIT_ENGINE_ERROR;
}
