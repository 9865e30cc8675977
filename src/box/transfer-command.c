/* Owns the option parsing and setup box pull and box push share. */
#include "transfer-command.h"

#include <getopt.h>
#include <stdlib.h>

int
transfer_command_parse (cli_context *ctx, bool push, int argc, char **argv, transfer_command *out)
{
  static const struct option pull_options[] = {
    { "platform", required_argument, NULL, 'p' },
    { "quiet", no_argument, NULL, 'q' },
    { 0 },
  };
  static const struct option push_options[] = {
    { "quiet", no_argument, NULL, 'q' },
    { "chunk-size", required_argument, NULL, 'c' },
    { 0 },
  };
  const char *verb = push ? "push" : "pull";
  *out = (transfer_command){ .push = push };
  int c;
  while ((c = getopt_long (argc, argv, "q", push ? push_options : pull_options, NULL)) != -1)
    switch (c)
      {
      case 'p':
        out->platform = optarg;
        break;
      case 'q':
        out->quiet = true;
        break;
      case 'c':
        {
          char *end = NULL;
          out->chunk_size = strtoll (optarg, &end, 10);
          if (!end || *end || out->chunk_size <= 0)
            return cli_usage_error (verb, "--chunk-size needs a positive number of bytes");
          break;
        }
      default:
        return cli_usage_error (verb, "unknown option");
      }
  if (argc - optind != 1)
    return cli_usage_error (verb, "requires exactly 1 argument");
  out->ref = argv[optind];
  out->eng = cli_engine (ctx);
  if (!out->eng)
    return CLI_EXIT_ENGINE_ERROR;
  out->display = calloc (1, sizeof *out->display);
  if (!out->display)
    return CLI_EXIT_ENGINE_ERROR;
  transfer_display_init (out->display, stdout, push);
  return 0;
}

box_transfer_progress_fn
transfer_command_progress (const transfer_command *cmd)
{
  return cmd->quiet ? NULL : transfer_display_event;
}
