/* box save: images to a docker-archive or oci-archive (a file, or stdout). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int
run_save (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "output", required_argument, NULL, 'o' },
    { "format", required_argument, NULL, 'f' },
    { 0 },
  };
  box_image_save_options opts = BOX_IMAGE_SAVE_OPTIONS_INIT;
  int c;
  while ((c = getopt_long (argc, argv, "o:", options, NULL)) != -1)
    {
      switch (c)
        {
        case 'o':
          opts.output_path = optarg;
          break;
        case 'f':
          if (strcmp (optarg, "docker-archive") == 0)
            opts.format = BOX_IMAGE_ARCHIVE_DOCKER;
          else if (strcmp (optarg, "oci-archive") == 0)
            opts.format = BOX_IMAGE_ARCHIVE_OCI;
          else
            return cli_usage_error ("save", "unknown format \"%s\" (docker-archive, oci-archive)",
                                    optarg);
          break;
        default:
          return cli_usage_error ("save", "unknown option");
        }
    }
  if (optind >= argc)
    return cli_usage_error ("save", "requires at least 1 argument");
  if (opts.output_path && strcmp (opts.output_path, "-") == 0)
    opts.output_path = NULL;
  if (!opts.output_path)
    {
      if (isatty (STDOUT_FILENO))
        {
          fprintf (stderr, "box: cowardly refusing to save to a terminal. Use the -o flag or "
                           "redirect\n");
          return CLI_EXIT_ENGINE_ERROR;
        }
      opts.output_fd = STDOUT_FILENO;
    }
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  if (box_image_save (eng, (const char *const *) argv + optind, (size_t) (argc - optind), &opts,
                      &err)
      < 0)
    return cli_report (err);
  return 0;
}

const cli_verb cli_verb_save = {
  .name = "save",
  .summary = "Save one or more images to a tar archive (streamed to STDOUT by default)",
  .usage = "Usage: box save [OPTIONS] IMAGE [IMAGE...]\n\n"
           "Save one or more images to a tar archive (streamed to STDOUT by default).\n\n"
           "Options:\n"
           "  -o, --output FILE   write to FILE (created whole or not at all)\n"
           "      --format FORMAT docker-archive (default) or oci-archive\n",
  .run = run_save,
};
