/* box run: create a box from an image and start it, attached (exit with its status) or
 * detached (-d: print its id). */
#include <stdio.h>
#include <string.h>

#include "attach.h"
#include "runopts.h"

static int
run_run (cli_context *ctx, int argc, char **argv)
{
  cli_run r;
  box_engine *eng;
  box_box *box;
  /* the box's monitor program starts while the box is created */
  ctx->engine_flags |= BOX_ENGINE_PREPARE_START;
  int status = cli_run_create_box (ctx, "run", argc, argv, true, &r, &eng, &box);
  if (status)
    return status;
  if (r.detach)
    {
      box_error *err = NULL;
      if (box_box_start (eng, box->id, NULL, &err) < 0)
        {
          status = cli_start_error_exit_code (err);
          cli_report (err);
          if (r.run.auto_remove)
            {
              box_error *rm_err = NULL;
              if (box_box_remove_force (eng, box->id, 1, &rm_err) < 0)
                box_error_free (rm_err);
            }
        }
      else
        {
          printf ("%s\n", box->id);
          status = 0;
        }
    }
  else
    {
      /* an attached --rm box's log could never be read: its output goes straight to us. Not
       * under an OCI runtime binary: the box would share that program's stderr, and a failed
       * start would print its error there besides box's own report of it */
      bool native = !r.run.runtime || strcmp (r.run.runtime, "native") == 0;
      /* -a: the streams not named stay the monitor's (and the log's) */
      unsigned streams = r.run.attach_streams;
      bool without_stdout = streams && !(streams & BOX_ATTACH_STREAM_STDOUT);
      bool without_stderr = streams && !(streams & BOX_ATTACH_STREAM_STDERR);
      cli_attach_options a = { .tty = r.run.tty,
                               .interactive = r.run.open_stdin,
                               .direct = r.run.auto_remove && !r.run.tty && native
                                         && !without_stdout && !without_stderr,
                               .sig_proxy = r.sig_proxy && !r.run.tty,
                               .detach_keys = r.detach_keys,
                               .without_stdout = without_stdout,
                               .without_stderr = without_stderr };
      int exit_code = 0;
      status = cli_attach_start (eng, box->id, &a, &exit_code);
      if (status == 0)
        status = exit_code;
      else if (r.run.auto_remove)
        {
          box_error *rm_err = NULL;
          if (box_box_remove_force (eng, box->id, 1, &rm_err) < 0)
            box_error_free (rm_err);
        }
    }
  box_box_free (box);
  cli_run_clear (&r);
  return status;
}

const cli_verb cli_verb_run = {
  .name = "run",
  .summary = "Create and start a new box from an image",
  .usage_prefix = "Usage: box run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                  "Create a box from IMAGE and run it. Attached (the default), box exits with the\n"
                  "box's exit status (125: engine error, 126: cannot execute, 127: not found).\n\n"
                  "  -d, --detach               run in the background and print the box's id\n"
                  "      --rm                   remove the box when it exits\n",
  .usage = cli_run_options_help,
  .run = run_run,
};
