/* The native backend: box's own Linux runtime (see native.c). */
#ifndef BOX_RUNTIME_NATIVE_H
#define BOX_RUNTIME_NATIVE_H

#include "runtime/runtime.h"

extern const runtime_backend native_backend;

#endif
