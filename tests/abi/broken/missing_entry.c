/* Exports the version symbol but no entry function. */
#include "common.h"
SKIFF_PLUGIN_DEFINE_ABI_VERSION();
