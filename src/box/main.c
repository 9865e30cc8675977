/* box: the command-line face of libbox. Parses the global options, finds the verb, runs it. */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "template.h"

static const cli_verb *const verbs[] = {
  &cli_verb_run,    &cli_verb_attach, &cli_verb_create, &cli_verb_start,   &cli_verb_stop,   &cli_verb_kill,
  &cli_verb_wait,   &cli_verb_rm,     &cli_verb_ps,      &cli_verb_inspect, &cli_verb_logs,
  &cli_verb_top,    &cli_verb_events, &cli_verb_rename,  &cli_verb_pull,   &cli_verb_push,
  &cli_verb_image,  &cli_verb_images, &cli_verb_rmi,     &cli_verb_tag,    &cli_verb_load,
  &cli_verb_save,   &cli_verb_info,   &cli_verb_version, &cli_verb_login,  &cli_verb_logout,
};

box_engine *
cli_engine (cli_context *ctx)
{
  if (ctx->engine)
    return ctx->engine;
  box_engine_options opts = BOX_ENGINE_OPTIONS_INIT;
  opts.root = ctx->root;
  opts.flags = ctx->engine_flags;
  box_error *err = NULL;
  if (box_engine_open (&opts, &ctx->engine, &err) < 0)
    {
      cli_report (err);
      return NULL;
    }
  return ctx->engine;
}

int
cli_report (box_error *err)
{
  int code = box_error_exit_code (box_error_code_of (err));
  fprintf (stderr, "box: %s\n", box_error_message (err));
  box_error_free (err);
  return code ? code : CLI_EXIT_ENGINE_ERROR;
}

int
cli_usage_error (const char *verb, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fputs ("box: ", stderr);
  if (verb)
    fprintf (stderr, "%s: ", verb);
  vfprintf (stderr, fmt, ap);
  fprintf (stderr, "\nSee 'box %s%s--help'.\n", verb ? verb : "", verb ? " " : "");
  va_end (ap);
  return CLI_EXIT_ENGINE_ERROR;
}

int
cli_check_filter (const char *verb, const char *filter, const char *const *keys)
{
  const char *eq = strchr (filter, '=');
  if (!eq)
    return cli_usage_error (verb, "invalid filter '%s' (KEY=VALUE)", filter);
  char known[256] = "";
  for (size_t i = 0; keys[i]; i++)
    {
      if (strlen (keys[i]) == (size_t) (eq - filter) && strncmp (filter, keys[i], eq - filter) == 0)
        return 0;
      size_t used = strlen (known);
      snprintf (known + used, sizeof known - used, "%s%s", i ? ", " : "", keys[i]);
    }
  return cli_usage_error (verb, "invalid filter '%.*s' (known: %s)", (int) (eq - filter), filter,
                          known);
}

bool
cli_wants_help (const cli_verb *verb, int argc, char **argv)
{
  bool takes_command = verb->usage_prefix != NULL;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        return false;
      if (takes_command)
        {
          if (argv[i][0] != '-')
            return false;
          if (strcmp (argv[i], "--help") == 0)
            return true;
          continue;
        }
      if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
        return true;
    }
  return false;
}

const char *
cli_short_id (const char *id, char buf[13])
{
  snprintf (buf, 13, "%.12s", id);
  return buf;
}

void
cli_format_ago (int64_t ns, char *buf, size_t size)
{
  struct timespec now;
  clock_gettime (CLOCK_REALTIME, &now);
  int64_t seconds = now.tv_sec - ns / 1000000000LL;
  if (seconds < 1)
    snprintf (buf, size, "Less than a second ago");
  else if (seconds < 60)
    snprintf (buf, size, "%lld second%s ago", (long long) seconds, seconds == 1 ? "" : "s");
  else if (seconds < 3600)
    snprintf (buf, size, "%lld minute%s ago", (long long) (seconds / 60), seconds < 120 ? "" : "s");
  else if (seconds < 86400)
    snprintf (buf, size, "%lld hour%s ago", (long long) (seconds / 3600), seconds < 7200 ? "" : "s");
  else
    snprintf (buf, size, "%lld day%s ago", (long long) (seconds / 86400),
              seconds < 2 * 86400 ? "" : "s");
}

void
cli_format_time (int64_t ns, char *buf, size_t size)
{
  time_t secs = (time_t) (ns / 1000000000LL);
  struct tm tm;
  gmtime_r (&secs, &tm);
  strftime (buf, size, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
}

void
cli_format_size (int64_t bytes, char *buf, size_t size)
{
  static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
  double value = (double) bytes;
  size_t unit = 0;
  while (value >= 1000.0 && unit + 1 < sizeof units / sizeof units[0])
    {
      value /= 1000.0;
      unit++;
    }
  snprintf (buf, size, "%.3g%s", value, units[unit]);
}

static void
print_main_usage (FILE *out)
{
  fprintf (out,
           "Usage: box [OPTIONS] COMMAND [ARG...]\n"
           "\n"
           "Run untrusted code from OCI images in isolated boxes.\n"
           "\n"
           "Options:\n"
           "      --root DIR   state directory (default: $BOX_ROOT, else %s)\n"
           "  -h, --help       print this help\n"
           "  -v, --version    print the version\n"
           "\n"
           "Commands:\n",
           BOX_DEFAULT_ROOT);
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    fprintf (out, "  %-10s %s\n", verbs[i]->name, verbs[i]->summary);
  fprintf (out, "\nRun 'box COMMAND --help' for more information on a command.\n");
}

int
main (int argc, char **argv)
{
  cli_context ctx = { 0 };
  static const struct option options[] = {
    { "root", required_argument, NULL, 'r' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'v' },
    { 0 },
  };
  /* '+': stop at the first non-option, which is the verb; its options are its own */
  int c;
  while ((c = getopt_long (argc, argv, "+hv", options, NULL)) != -1)
    {
      switch (c)
        {
        case 'r':
          ctx.root = optarg;
          break;
        case 'h':
          print_main_usage (stdout);
          return 0;
        case 'v':
          printf ("box version %s\n", BOX_VERSION);
          return 0;
        default:
          return cli_usage_error (NULL, "unknown option");
        }
    }
  if (optind >= argc)
    {
      print_main_usage (stderr);
      return CLI_EXIT_ENGINE_ERROR;
    }

  const char *name = argv[optind];
  const cli_verb *verb = NULL;
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    if (strcmp (verbs[i]->name, name) == 0)
      verb = verbs[i];
  if (!verb)
    {
      fprintf (stderr, "box: '%s' is not a box command.\nSee 'box --help'.\n", name);
      return CLI_EXIT_ENGINE_ERROR;
    }

  int verb_argc = argc - optind;
  char **verb_argv = argv + optind;
  int status;
  if (!verb->dispatches && cli_wants_help (verb, verb_argc, verb_argv))
    {
      if (verb->usage_prefix)
        fputs (verb->usage_prefix, stdout);
      fputs (verb->usage, stdout);
      status = 0;
    }
  else
    {
      optind = 0; /* reset getopt for the verb (0 also re-initialises GNU getopt) */
      status = verb->run (&ctx, verb_argc, verb_argv);
    }
  box_engine_close (ctx.engine);
  return status;
}

int
cli_for_each_ref (cli_context *ctx, const char *verb, int argc, char **argv, cli_ref_action act,
                  void *data)
{
  if (argc < 1)
    return cli_usage_error (verb, "requires at least 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  int status = 0;
  for (int i = 0; i < argc; i++)
    {
      box_error *err = NULL;
      if (act (eng, argv[i], data, &err) < 0)
        status = cli_report (err);
    }
  return status;
}

typedef struct inspect_each {
  int (*inspect_json) (box_engine *, const char *, char **, box_error **);
  json_t *out;
  bool ran; /* the references were looked up (usage and engine were fine) */
} inspect_each;

static int
inspect_one (box_engine *eng, const char *ref, void *data, box_error **err)
{
  inspect_each *each = data;
  each->ran = true;
  char *text = NULL;
  if (each->inspect_json (eng, ref, &text, err) < 0)
    return -1;
  json_array_append_new (each->out, json_loads (text, 0, NULL));
  free (text);
  return 0;
}

int
cli_inspect_each (cli_context *ctx, const char *verb, int argc, char **argv,
                  int (*inspect_json) (box_engine *, const char *, char **, box_error **))
{
  static const struct option options[] = {
    { "format", required_argument, NULL, 'f' },
    { 0 },
  };
  const char *format = NULL;
  int c;
  while ((c = getopt_long (argc, argv, "f:", options, NULL)) != -1)
    {
      if (c != 'f')
        return cli_usage_error (verb, "unknown option");
      format = optarg;
    }
  inspect_each each = { inspect_json, json_array (), false };
  int status = cli_for_each_ref (ctx, verb, argc - optind, argv + optind, inspect_one, &each);
  /* like docker: print what was found, even when some references failed */
  if (each.ran && format && strcmp (format, "json") != 0)
    {
      size_t i;
      json_t *item;
      json_array_foreach (each.out, i, item)
        {
          char *error = NULL;
          if (cli_template_render (format, item, stdout, &error) < 0)
            {
              fprintf (stderr, "box: %s: %s\n", verb, error ? error : "out of memory");
              free (error);
              status = CLI_EXIT_ENGINE_ERROR;
              break;
            }
          putchar ('\n');
        }
    }
  else if (each.ran)
    {
      char *text = json_dumps (each.out, JSON_INDENT (4) | JSON_PRESERVE_ORDER);
      if (text)
        printf ("%s\n", text);
      free (text);
    }
  json_decref (each.out);
  return status;
}
