/* The options `run` and `create` share (docker's), parsed into libbox's create options. */
#ifndef BOX_CLI_RUNOPTS_H
#define BOX_CLI_RUNOPTS_H

#include <stdbool.h>

#include "cli.h"

typedef struct cli_run {
  box_box_create_options create;
  box_run_options run;
  bool detach;
  const char *detach_keys; /* NULL: the default */
  bool sig_proxy;          /* --sig-proxy (default true) */
  /* owned storage behind the pointers above */
  char **strings;
  size_t n_strings;
  const char **env, **cap_add, **cap_drop, **security_opt, **cmd, **entrypoint;
  box_label *labels;
  box_ulimit *ulimits;
  box_device *devices;         /* copies of the parsed ones */
  box_device **parsed_devices; /* what box_device_parse returned, freed at clear */
  size_t n_devices;
} cli_run;

/* Parses argv (argv[0] is the verb); returns 0 or the CLI exit code of a usage error. */
int cli_run_parse (const char *verb, int argc, char **argv, bool allow_detach, cli_run *out);
void cli_run_clear (cli_run *r);

/* What `create` and `run` begin with: parses argv (argv[0] is the verb) into *r and creates
 * the box (run -it without -d refuses a stdin that is no terminal first). Returns 0 with *out_eng and *out_box set (the caller frees the box and clears r),
 * else the exit status to return, with r already cleared. */
int cli_run_create_box (cli_context *ctx, const char *verb, int argc, char **argv,
                        bool allow_detach, cli_run *r, box_engine **out_eng, box_box **out_box);

/* The options' help text, shared by both verbs. */
extern const char cli_run_options_help[];

/* docker's exit statuses when the box's command could not run */
#define CLI_EXIT_CANNOT_EXECUTE 126
#define CLI_EXIT_NOT_FOUND 127

/* The exit status for an error starting a box: 127 when its command does not exist, 126
 * when it cannot be executed, else the engine error status. */
int cli_start_error_exit_code (const box_error *err);

#endif
