/* box push */
#include <stdio.h>
#include <stdlib.h>

#include "transfer-command.h"

static int
run_push (cli_context *ctx, int argc, char **argv)
{
  transfer_command cmd;
  int status = transfer_command_parse (ctx, true, argc, argv, &cmd);
  if (status != 0)
    return status;
  box_push_options opts = BOX_PUSH_OPTIONS_INIT;
  opts.chunk_size = cmd.chunk_size;
  opts.progress = transfer_command_progress (&cmd);
  opts.progress_userdata = cmd.display;
  box_error *err = NULL;
  char *digest = NULL;
  if (box_image_push (cmd.eng, cmd.ref, &opts, &digest, &err) < 0)
    status = cli_report (err);
  else
    printf ("%s: digest: %s\n", cmd.ref, digest);
  free (digest);
  free (cmd.display);
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
