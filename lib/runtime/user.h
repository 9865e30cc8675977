/* Resolves a docker-style user ("name", "uid", "name:group", "uid:gid", ...) against the
 * image's own /etc/passwd and /etc/group, read through a directory fd of the rootfs with
 * RESOLVE_IN_ROOT so that no symlink in the image reaches the host's files. */
#ifndef BOX_RUNTIME_USER_H
#define BOX_RUNTIME_USER_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef struct user_ids {
  uint32_t uid;
  uint32_t gid;
  uint32_t *additional_gids; /* supplementary groups the user is a member of */
  size_t n_additional_gids;
  char *home; /* from passwd, "/" when unknown */
} user_ids;

/* user: NULL or "" means root. A numeric uid missing from passwd is fine (gid 0, home "/"), a
 * name missing from passwd is an error, as with docker. */
int user_resolve (int rootfs_dirfd, const char *user, user_ids *out, box_error **err);
void user_ids_clear (user_ids *ids);

#endif
