/* A registry's WWW-Authenticate challenge: `Basic realm="..."` or
 * `Bearer realm="...",service="...",scope="...",error="..."`. */
#ifndef BOX_REGISTRY_CHALLENGE_H
#define BOX_REGISTRY_CHALLENGE_H

#include "util/error.h"

typedef struct auth_challenge {
  char scheme[16];                       /* "basic" or "bearer", lowercased */
  char *realm, *service, *scope, *error; /* NULL when absent */
} auth_challenge;

/* Parses the first challenge of a header value; unknown parameters are ignored. Quoted
 * strings may hold backslash escapes; bare tokens end at ',' or ' '. */
int auth_challenge_parse (const char *header, auth_challenge *out, box_error **err);
void auth_challenge_clear (auth_challenge *c);

#endif
