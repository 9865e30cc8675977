/* box kill: sends a signal to running boxes. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static int
run_kill (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "signal", required_argument, NULL, 's' },
    { 0 },
  };
  const char *signal_name = "KILL";
  int c;
  while ((c = getopt_long (argc, argv, "s:", options, NULL)) != -1)
    switch (c)
      {
      case 's':
        signal_name = optarg;
        break;
      default:
        return cli_usage_error ("kill", "unknown option");
      }
  if (optind >= argc)
    return cli_usage_error ("kill", "requires at least 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  int status = 0;
  for (int i = optind; i < argc; i++)
    {
      box_error *err = NULL;
      if (box_box_kill (eng, argv[i], signal_name, &err) < 0)
        status = cli_report (err);
      else
        printf ("%s\n", argv[i]);
    }
  return status;
}

const cli_verb cli_verb_kill = {
  .name = "kill",
  .summary = "Send a signal to running boxes",
  .usage = "Usage: box kill [OPTIONS] BOX [BOX...]\n\n"
           "Options:\n"
           "  -s, --signal SIG   signal to send (name or number; default KILL)\n",
  .run = run_kill,
};
