/* The OCI bundle of a box, written at each start. */
#ifndef BOX_ENGINE_BUNDLE_H
#define BOX_ENGINE_BUNDLE_H

#include "engine/engine.h"

/* Mounts the box's rootfs and writes boxes/<id>/config.json from its stored config. On
 * failure the rootfs may stay mounted: the caller releases it. */
int engine_box_write_bundle (box_engine *eng, const box_box *box, box_error **err);

#endif
