/* msgid: the msg_id stamped on every frame rules sends (de-duplication ids,
 * not secrets). A version 4 shaped UUID made from 16 random bytes drawn
 * once per process (RAND_bytes) with a counter added into its last 48 bits:
 * unique for 2^48 frames per process, distinct across restarts, and no
 * RAND_bytes per frame. Call ids stay ids_uuid4 (fully random). */
#ifndef RINGMQ_MSGID_H
#define RINGMQ_MSGID_H

#include "ids.h"

/* The next msg_id, lower case, NUL-terminated. Aborts only if the first
 * RAND_bytes fails (no entropy), as ids_uuid4 does. */
void msgid_next(char out[IDS_UUID_LEN + 1]);

#endif
