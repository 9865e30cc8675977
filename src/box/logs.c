/* box logs: what a box wrote, from its json-file log. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "timearg.h"

typedef struct logs_print {
  bool timestamps;
} logs_print;

static int
print_record (void *data, box_log_stream stream, int64_t time_ns, const char *bytes, size_t len)
{
  logs_print *p = data;
  FILE *out = stream == BOX_LOG_STDERR ? stderr : stdout;
  if (p->timestamps)
    {
      time_t secs = (time_t) (time_ns / 1000000000LL);
      struct tm tm;
      gmtime_r (&secs, &tm);
      char date[32];
      strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
      fprintf (out, "%s.%09lldZ ", date, (long long) (time_ns % 1000000000LL));
    }
  fwrite (bytes, 1, len, out);
  fflush (out);
  return 0;
}

static int
run_logs (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "follow", no_argument, NULL, 'f' },
    { "tail", required_argument, NULL, 'n' },
    { "timestamps", no_argument, NULL, 't' },
    { "since", required_argument, NULL, 's' },
    { "until", required_argument, NULL, 'u' },
    { 0 },
  };
  box_logs_options opts = BOX_LOGS_OPTIONS_INIT;
  logs_print p = { 0 };
  int c;
  while ((c = getopt_long (argc, argv, "fn:t", options, NULL)) != -1)
    switch (c)
      {
      case 'f':
        opts.follow = 1;
        break;
      case 'n':
        if (strcmp (optarg, "all") == 0)
          opts.tail = -1;
        else
          {
            char *end;
            long long v = strtoll (optarg, &end, 10);
            if (*end || end == optarg)
              return cli_usage_error ("logs", "invalid --tail: %s", optarg);
            opts.tail = v < 0 ? -1 : v;
          }
        break;
      case 't':
        p.timestamps = true;
        break;
      case 's':
        if (cli_parse_time (optarg, &opts.since_ns) < 0)
          return cli_usage_error ("logs", "invalid --since: %s", optarg);
        break;
      case 'u':
        if (cli_parse_time (optarg, &opts.until_ns) < 0)
          return cli_usage_error ("logs", "invalid --until: %s", optarg);
        break;
      default:
        return cli_usage_error ("logs", "unknown option");
      }
  if (optind != argc - 1)
    return cli_usage_error ("logs", "requires exactly 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  if (box_box_logs (eng, argv[optind], &opts, print_record, &p, &err) < 0)
    return cli_report (err);
  return 0;
}

const cli_verb cli_verb_logs = {
  .name = "logs",
  .summary = "Fetch the logs of a box",
  .usage = "Usage: box logs [OPTIONS] BOX\n\n"
           "Options:\n"
           "  -f, --follow         keep printing while the box runs\n"
           "  -n, --tail N         only the last N lines (default: all)\n"
           "  -t, --timestamps     prefix every line with its time\n"
           "      --since TIME     only lines since TIME (RFC 3339, Unix seconds, or 10m)\n"
           "      --until TIME     only lines before TIME\n",
  .run = run_logs,
};
