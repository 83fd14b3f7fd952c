/* phones: MQTT devices' presence on a broker without ringmq's plugin
 * (--broker-acl topics), from what every broker does. The broker's topic
 * rules let only user U write users/U/outbox, so a frame there proves that
 * a live session of U sent it: each frame (a phone pings every
 * PHONES_PING_HINT_S, and once after its SUBACK) renews U's lease of
 * --phone-lease-s; U counts as online (source "mqtt") from its first frame
 * until a lease passes without one. Per user, as the plugin counts.
 * Pure: a table and the clock the caller gives; main.c turns the steps
 * into presence_handle events and the first one into the replay of the
 * calls ringing for U (what the plugin's subscription report asks). */
#ifndef RINGMQ_PHONES_H
#define RINGMQ_PHONES_H

#include <stdbool.h>
#include <stdint.h>

#define PHONES_LEASE_DEFAULT_MS 60000 /* --phone-lease-s 60 */
#define PHONES_PING_HINT_S 20         /* docs: a phone pings this often */
#define PHONES_MAX 1000000            /* users with a lease at once; beyond, new ones are not counted */

struct phones;

struct phones *phones_new(int64_t lease_ms);
void phones_free(struct phones *p); /* NULL-safe */

/* A frame of uid's outbox at now_ms. 1: uid went online (no lease
 * before), 0: renewed, -1: out of memory or PHONES_MAX (not counted). */
int phones_seen(struct phones *p, const char *uid, int64_t now_ms);

/* Removes every lease over at now_ms, calling gone(uid, arg) for each
 * (uid is borrowed for the call). Returns how many. */
int phones_expire(struct phones *p, int64_t now_ms, void (*gone)(const char *uid, void *arg), void *arg);

/* Milliseconds until the next lease ends (INT64_MAX: none). */
int64_t phones_next_ms(const struct phones *p, int64_t now_ms);

#endif
