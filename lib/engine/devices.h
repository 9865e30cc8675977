/* Host devices of a box (docker's --device): the spec's syntax, their HostConfig.Devices
 * entries, and the device nodes the bundle asks the runtime to create. */
#ifndef BOX_ENGINE_DEVICES_H
#define BOX_ENGINE_DEVICES_H

#include <jansson.h>
#include <stddef.h>

#include "box/box.h"
#include "runtime/spec.h"

/* Checks devices given through the API (paths, permissions, and that each host path is a
 * character or block device now, or a directory with at least one below it) and builds docker's HostConfig.Devices array:
 * [{"PathOnHost", "PathInContainer", "CgroupPermissions"}], paths cleaned. */
int engine_devices_config (const box_device *devices, size_t n, json_t **out, box_error **err);

/* The device nodes for the bundle from a stored HostConfig.Devices (NULL or an array), each
 * host node stat'ed again (its numbers may have changed since create) and each host directory
 * walked again: a node below it at the same relative path below its PathInContainer. The
 * paths live in *out's allocation, the access strings borrow from host_devices; free() *out. */
int engine_devices_resolve (const json_t *host_devices, spec_device **out, size_t *out_n,
                            box_error **err);

#endif
