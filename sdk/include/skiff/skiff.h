/* skiff plugin SDK v1: include this one header to write a plugin of any kind. */
#ifndef SKIFF_SKIFF_H
#define SKIFF_SKIFF_H

#include "skiff/abi.h"
#include "skiff/host.h"
#include "skiff/middleware.h"
#include "skiff/observer.h"
#include "skiff/resolver.h"
#include "skiff/transport.h"

#endif /* SKIFF_SKIFF_H */
