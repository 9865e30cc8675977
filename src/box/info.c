/* box info */
#include <stdlib.h>

#include "cli.h"

static int
run_info (cli_context *ctx, int argc, char **argv)
{
  if (argc > 1)
    return cli_usage_error ("info", "takes no arguments");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  char *json = NULL;
  if (box_engine_info_json (eng, &json, &err) < 0)
    return cli_report (err);
  printf ("%s\n", json);
  free (json);
  return 0;
}

const cli_verb cli_verb_info = {
  .name = "info",
  .summary = "Show engine facts as JSON",
  .usage = "Usage: box info\n\n"
           "Show engine facts as JSON: state directory, store schema version, kernel,\n"
           "cgroup mode (v1, hybrid or v2) and available isolation features.\n",
  .run = run_info,
};
