/* box rm */
#include <getopt.h>

#include "cli.h"

static int
run_rm (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "force", no_argument, NULL, 'f' },
    { 0 },
  };
  int c, force = 0;
  while ((c = getopt_long (argc, argv, "f", options, NULL)) != -1)
    {
      if (c != 'f')
        return cli_usage_error ("rm", "unknown option");
      force = 1;
    }
  if (optind >= argc)
    return cli_usage_error ("rm", "requires at least 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  int status = 0;
  for (int i = optind; i < argc; i++)
    {
      box_error *err = NULL;
      if (box_box_remove_force (eng, argv[i], force, &err) < 0)
        status = cli_report (err);
      else
        printf ("%s\n", argv[i]);
    }
  return status;
}

const cli_verb cli_verb_rm = {
  .name = "rm",
  .summary = "Remove one or more boxes",
  .usage = "Usage: box rm [OPTIONS] BOX [BOX...]\n\n"
           "Remove boxes: record, root filesystem, logs.\n\n"
           "Options:\n"
           "  -f, --force   kill a running box first\n",
  .run = run_rm,
};
