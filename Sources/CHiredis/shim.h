#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

/// `redisReply.element[i]` without pointer arithmetic on an imported `**`.
static inline redisReply *chiredis_element(const redisReply *reply, size_t index) {
    return reply->element[index];
}
#endif
