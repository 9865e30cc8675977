/* The box CLI: a verb table over libbox. Each verb lives in its own file and only parses its
 * arguments, calls the library and prints the result. */
#ifndef BOX_CLI_H
#define BOX_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "box/box.h"

/* docker's exit statuses for failures of the engine itself, and for bad usage */
#define CLI_EXIT_ENGINE_ERROR 125

typedef struct cli_context {
  const char *root; /* --root, NULL for the library's default */
  box_engine *engine;
  unsigned engine_flags; /* box_engine_options.flags for the engine cli_engine opens */
} cli_context;

typedef struct cli_verb {
  const char *name;
  const char *summary;
  const char *usage; /* full help text printed by `box VERB --help` */
  const char *usage_prefix; /* printed before usage when set (verbs sharing option text) */
  int (*run) (cli_context *ctx, int argc, char **argv);
  bool dispatches; /* a verb group: its subverbs handle --help themselves */
} cli_verb;

/* Opens the engine on first use. On failure prints the error and returns NULL. */
box_engine *cli_engine (cli_context *ctx);

/* Prints "box: <message>" for err, frees it, and returns the CLI exit code for it. */
int cli_report (box_error *err);

/* Prints "box: <formatted>" and returns CLI_EXIT_ENGINE_ERROR (bad usage, like docker). */
int cli_usage_error (const char *verb, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* Checks one --filter argument of verb: KEY=VALUE with a KEY among keys (NULL-terminated).
 * Returns 0, or prints docker's "invalid filter" and returns the usage error's status. */
int cli_check_filter (const char *verb, const char *filter, const char *const *keys);

/* True when argv holds -h/--help before any "--"; the verb then prints its usage. For verbs
 * whose arguments end in a command (run, create), only a --help before the first non-option
 * counts: "-h" is their --hostname, and the command's own words are not ours. */
bool cli_wants_help (const cli_verb *verb, int argc, char **argv);

/* What a verb does to one reference (a box, an image): < 0 with *err on failure. */
typedef int (*cli_ref_action) (box_engine *eng, const char *ref, void *data, box_error **err);

/* Runs act on each of the argc references in argv (at least one, else a usage error of
 * verb). A failure is reported and the others still run (docker's habit); returns the exit
 * status of the last failure, 0 when every one succeeded. */
int cli_for_each_ref (cli_context *ctx, const char *verb, int argc, char **argv, cli_ref_action act,
                      void *data);

/* Prints one JSON array of inspect_json(ref) for every ref in argv[1..], reporting the refs
 * that fail (docker's inspect habit); returns the exit status. */
int cli_inspect_each (cli_context *ctx, const char *verb, int argc, char **argv,
                      int (*inspect_json) (box_engine *, const char *, char **, box_error **));

/* Shortens a 64-char id to docker's 12. */
const char *cli_short_id (const char *id, char buf[13]);

/* "3 seconds ago", "2 hours ago": docker's relative times for ps. */
void cli_format_ago (int64_t ns, char *buf, size_t size);

/* Docker's absolute times for ps and images: "2026-11-23 11:25:21 +0000 UTC". */
void cli_format_time (int64_t ns, char *buf, size_t size);

/* Docker's sizes: decimal units, three significant digits ("4.26MB", "512B"). */
void cli_format_size (int64_t bytes, char *buf, size_t size);

/* Every verb, defined in its own file. */
extern const cli_verb cli_verb_attach;
extern const cli_verb cli_verb_version, cli_verb_info, cli_verb_create, cli_verb_ps,
    cli_verb_inspect, cli_verb_rename, cli_verb_rm, cli_verb_run, cli_verb_start, cli_verb_stop,
    cli_verb_kill, cli_verb_wait, cli_verb_logs, cli_verb_top, cli_verb_events, cli_verb_login,
    cli_verb_logout, cli_verb_pull, cli_verb_push;
extern const cli_verb cli_verb_image, cli_verb_images, cli_verb_image_import,
    cli_verb_image_inspect, cli_verb_image_prune, cli_verb_rmi, cli_verb_tag;
extern const cli_verb cli_verb_load, cli_verb_save;

#endif
