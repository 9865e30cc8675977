/* The part of Go's text/template that `docker inspect -f` is used with: text, {{.A.B}} (a
 * field path, {{.}} the whole value), {{json .A.B}}, and {{- / -}} trimming. */
#ifndef BOX_CLI_TEMPLATE_H
#define BOX_CLI_TEMPLATE_H

#include <jansson.h>
#include <stdio.h>

/* Writes template applied to doc on out. Returns 0, or -1 with *error (malloc'd) saying what
 * in the template could not be done. Values print as Go prints them: strings bare, null as
 * <nil>, objects as map[key:value ...] in key order, arrays as [a b]. */
int cli_template_render (const char *template, const json_t *doc, FILE *out, char **error);

#endif
