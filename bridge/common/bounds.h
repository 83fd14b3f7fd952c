/* bounds: the bounds that bridge and rules must agree on, in one place.
 * Each wing may have bounds of its own; these cross the broker. */
#ifndef RINGMQ_BOUNDS_H
#define RINGMQ_BOUNDS_H

#define BOUNDS_MEMBERS_MAX 1000     /* most members one conversation may have */
#define BOUNDS_HISTORY_DEFAULT 20   /* GET /calls/ without ?limit= */
#define BOUNDS_HISTORY_MAX 100      /* larger limits are taken as this */

#endif
