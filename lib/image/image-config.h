/* Image configs (the OCI image config blob): validation of what box reads from them, the
 * creation time, labels, and docker-import style changes ("ENV A=b", "CMD [\"sh\"]", ...)
 * applied to the runtime part ("config" object). */
#ifndef BOX_IMAGE_IMAGE_CONFIG_H
#define BOX_IMAGE_IMAGE_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "box/box.h"
#include "util/error.h"

/* Checks a config blob: a JSON object whose known fields have the types the spec gives them
 * (config.Env / Cmd / Entrypoint arrays of strings, WorkingDir / User / StopSignal strings,
 * ExposedPorts / Volumes objects, Labels an object of strings, Healthcheck an object,
 * history an array, rootfs {type "layers", diff_ids sha256 digests}). */
int image_config_validate (const json_t *blob, box_error **err);

/* The blob's "created" time in ns since the epoch (0 when absent). */
int image_config_created_ns (const json_t *blob, int64_t *out, box_error **err);

/* Parses an RFC 3339 time ("2026-11-22T13:01:13.5Z", "...+02:00"). */
int image_time_parse_rfc3339 (const char *text, int64_t *out_ns, box_error **err);

/* Applies one Dockerfile-style instruction to a "config" object: CMD, ENTRYPOINT (JSON array
 * or shell form), ENV and LABEL (key=value pairs with quoting, or ENV's legacy "key value"),
 * EXPOSE (port[/proto]...), VOLUME, WORKDIR, USER, STOPSIGNAL. Anything else is
 * BOX_E_INVALID naming the instruction. */
int image_config_apply_change (json_t *config, const char *change, box_error **err);

/* The labels of a config blob (config.Labels), as an array the caller frees with
 * image_labels_free. */
int image_config_labels (const json_t *blob, box_label **out, size_t *out_n, box_error **err);
void image_labels_free (box_label *labels, size_t n);

#endif
