/* box push */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "transfer-progress.h"

static int
run_push (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "quiet", no_argument, NULL, 'q' },
    { "chunk-size", required_argument, NULL, 'c' },
    { 0 },
  };
  bool quiet = false;
  long long chunk_size = 0;
  int c;
  while ((c = getopt_long (argc, argv, "q", options, NULL)) != -1)
    switch (c)
      {
      case 'q':
        quiet = true;
        break;
      case 'c':
        {
          char *end = NULL;
          chunk_size = strtoll (optarg, &end, 10);
          if (!end || *end || chunk_size <= 0)
            return cli_usage_error ("push", "--chunk-size needs a positive number of bytes");
          break;
        }
      default:
        return cli_usage_error ("push", "unknown option");
      }
  if (argc - optind != 1)
    return cli_usage_error ("push", "requires exactly 1 argument");
  const char *ref = argv[optind];
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  transfer_display *display = calloc (1, sizeof *display);
  if (!display)
    return CLI_EXIT_ENGINE_ERROR;
  transfer_display_init (display, stdout, true);
  box_push_options opts = BOX_PUSH_OPTIONS_INIT;
  opts.chunk_size = chunk_size;
  if (!quiet)
    {
      opts.progress = transfer_display_event;
      opts.progress_userdata = display;
    }
  box_error *err = NULL;
  char *digest = NULL;
  int status = 0;
  if (box_image_push (eng, ref, &opts, &digest, &err) < 0)
    status = cli_report (err);
  else
    printf ("%s: digest: %s\n", ref, digest);
  free (digest);
  free (display);
  return status;
}

const cli_verb cli_verb_push = {
  .name = "push",
  .summary = "Upload an image to a registry",
  .usage = "Usage: box push [OPTIONS] NAME[:TAG]\n\n"
           "Upload an image to its registry. Blobs the registry has are skipped, blobs it has\n"
           "in another repository the image came from are mounted, the rest uploaded.\n\n"
           "Options:\n"
           "  -q, --quiet             print only the result\n"
           "      --chunk-size BYTES  upload blobs larger than this in chunks of it\n"
           "                          (default 64 MiB)\n",
  .run = run_push,
};
