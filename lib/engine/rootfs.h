/* A box's root filesystem: an overlay of its image's layers (lowest first) under a per-box
 * upper and work directory, mounted at boxes/<id>/rootfs. */
#ifndef BOX_ENGINE_ROOTFS_H
#define BOX_ENGINE_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* Creates box_dir/{rootfs,upper,work} (existing ones are fine), with their modes. */
int rootfs_prepare_dirs (const char *box_dir, box_error **err);
/* The same in the directory at box_fd (what: its name for errors); must_be_new: one that is
 * there already is a failure. */
int rootfs_make_dirs_at (int box_fd, const char *what, bool must_be_new, box_error **err);

/* Mounts the overlay at box_dir/rootfs; a rootfs that is already mounted is left alone.
 * layer_dirs are absolute paths, lowest first; any number of them works. ephemeral: the
 * upper layer dies with the box (--rm), so the overlay is "volatile": it never syncs the
 * upper filesystem (unmounting a durable overlay syncs the whole filesystem under it:
 * tens of milliseconds on a busy host). */
int rootfs_mount (const char *box_dir, char *const *layer_dirs, size_t n_layers, bool ephemeral,
                  box_error **err);

/* Unmounts box_dir/rootfs if mounted (idempotent). */
int rootfs_unmount (const char *box_dir, box_error **err);

/* <root>/skeleton: the topmost lower layer of every box. It holds the mount points the
 * runtimes need (/proc, /dev, /sys and the files /etc/hosts, /etc/hostname,
 * /etc/resolv.conf), so they never have to be created in the box's upper layer: a box that
 * writes nothing leaves its upper layer empty. Creating them there at every start cost a
 * copy-up of /etc and seven inodes made and deleted per box. Like docker's init layer, but
 * one for all boxes (its content is the same for every box). Made once, atomically; *out is
 * its path. */
#define ROOTFS_SKELETON_DIR "skeleton"
int rootfs_skeleton (const char *root, char **out, box_error **err);

/* True when something is mounted at box_dir/rootfs. */
bool rootfs_is_mounted (const char *box_dir);

#endif
