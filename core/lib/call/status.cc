#include "call/status.hpp"

namespace skiff {

unsigned http_status_for(skiff_status_t status) {
  switch (status) {
    case SKIFF_OK:
      return 200;
    case SKIFF_ERR_CANCELLED:
      return 408;
    case SKIFF_ERR_INVALID_ARGUMENT:
    case SKIFF_ERR_FAILED_PRECONDITION:
    case SKIFF_ERR_OUT_OF_RANGE:
      return 400;
    case SKIFF_ERR_DEADLINE_EXCEEDED:
      return 504;
    case SKIFF_ERR_NOT_FOUND:
      return 404;
    case SKIFF_ERR_ALREADY_EXISTS:
    case SKIFF_ERR_ABORTED:
      return 409;
    case SKIFF_ERR_PERMISSION_DENIED:
      return 403;
    case SKIFF_ERR_UNAUTHENTICATED:
      return 401;
    case SKIFF_ERR_RESOURCE_EXHAUSTED:
      return 429;
    case SKIFF_ERR_UNIMPLEMENTED:
      return 501;
    case SKIFF_ERR_UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

skiff_status_t status_for_http(unsigned s) {
  if (s >= 200 && s < 300) return SKIFF_OK;
  switch (s) {
    case 400:
      return SKIFF_ERR_INTERNAL;
    case 401:
      return SKIFF_ERR_UNAUTHENTICATED;
    case 403:
      return SKIFF_ERR_PERMISSION_DENIED;
    case 404:
      return SKIFF_ERR_NOT_FOUND;
    case 408:
      return SKIFF_ERR_CANCELLED;
    case 409:
      return SKIFF_ERR_ALREADY_EXISTS;
    case 429:
      return SKIFF_ERR_RESOURCE_EXHAUSTED;
    case 501:
      return SKIFF_ERR_UNIMPLEMENTED;
    case 503:
      return SKIFF_ERR_UNAVAILABLE;
    case 504:
      return SKIFF_ERR_DEADLINE_EXCEEDED;
    default:
      return SKIFF_ERR_UNKNOWN;
  }
}

}  // namespace skiff
