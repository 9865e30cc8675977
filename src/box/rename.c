/* box rename */
#include "cli.h"

static int
run_rename (cli_context *ctx, int argc, char **argv)
{
  if (argc != 3)
    return cli_usage_error ("rename", "requires exactly 2 arguments (BOX NEW_NAME)");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  if (box_box_rename (eng, argv[1], argv[2], &err) < 0)
    return cli_report (err);
  return 0;
}

const cli_verb cli_verb_rename = {
  .name = "rename",
  .summary = "Rename a box",
  .usage = "Usage: box rename BOX NEW_NAME\n\n"
           "Rename a box. The id stays; the old name is free at once.\n",
  .run = run_rename,
};
