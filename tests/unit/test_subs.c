/* test_subs: counted subscriptions (bridge/edge/subs.c) over a fake broker
 * and fake members: one SUBSCRIBE per topic, ready only after its SUBACK,
 * fan-out of one shared message, the last member unsubscribes, refusals,
 * and the link going down and up. */
#include <string.h>

#include "check.h"
#include "subs.h"
#include "topics.h"

/* --- a broker that records what it was asked ----------------------------- */
struct fake_broker {
	bool up;
	int next_mid;
	char subscribed[8][64];
	int nsub;
	char unsubscribed[8][64];
	int nunsub;
};

static bool fb_up(void *user)
{
	return ((struct fake_broker *)user)->up;
}

static int fb_subscribe(void *user, const char *topic, int *mid)
{
	struct fake_broker *b = user;
	snprintf(b->subscribed[b->nsub++ % 8], 64, "%s", topic);
	*mid = ++b->next_mid;
	return 0;
}

static int fb_unsubscribe(void *user, const char *topic)
{
	struct fake_broker *b = user;
	snprintf(b->unsubscribed[b->nunsub++ % 8], 64, "%s", topic);
	return 0;
}

/* --- members that record what they were told ----------------------------- */
struct fake_member {
	struct subs_member m;
	int ready, refused, delivered;
	struct outmsg *last;
};

static void fm_ready(struct subs_member *m)
{
	((struct fake_member *)m)->ready++;
}

static void fm_refused(struct subs_member *m)
{
	((struct fake_member *)m)->refused++;
}

static void fm_deliver(struct subs_member *m, struct outmsg *msg)
{
	struct fake_member *f = (struct fake_member *)m;
	f->delivered++;
	f->last = msg;
}

static const struct subs_member_ops ops = {fm_ready, fm_refused, fm_deliver};

static int firsts, lasts;
static void on_first(void *user, const char *topic)
{
	firsts++;
}
static void on_last(void *user, const char *topic)
{
	lasts++;
}

static void topics_seen(const char *topic, void *arg)
{
	(*(int *)arg)++;
}

int main(void)
{
	struct fake_broker fb = {.up = true};
	struct subs_broker sb = {&fb, fb_up, fb_subscribe, fb_unsubscribe};
	struct subs_hooks hooks = {NULL, on_first, on_last};
	struct subs *s = subs_new(&sb, &hooks);
	CHECK(s != NULL);
	struct fake_member a = {.m.ops = &ops}, b = {.m.ops = &ops}, c = {.m.ops = &ops};

	/* first member: one SUBSCRIBE, ready only at its SUBACK */
	CHECK_EQ_INT(subs_join(s, &a.m, "users/u1/notifications"), 0);
	CHECK_EQ_INT(fb.nsub, 1);
	CHECK_EQ_STR(fb.subscribed[0], "users/u1/notifications");
	CHECK_EQ_INT(firsts, 1);
	CHECK_EQ_INT(a.ready, 0);
	CHECK_EQ_INT(subs_join(s, &b.m, "users/u1/notifications"), 0); /* before the SUBACK */
	CHECK_EQ_INT(fb.nsub, 1);
	subs_subscribed(s, 999, 1); /* someone else's mid */
	CHECK_EQ_INT(a.ready, 0);
	subs_subscribed(s, fb.next_mid, 1);
	CHECK_EQ_INT(a.ready, 1);
	CHECK_EQ_INT(b.ready, 1);
	/* a member joining an active subscription is ready at once */
	CHECK_EQ_INT(subs_join(s, &c.m, "users/u1/notifications"), 0);
	CHECK_EQ_INT(c.ready, 1);
	CHECK_EQ_INT(fb.nsub, 1);

	/* one shared message for every member */
	CHECK_EQ_INT(subs_deliver(s, "users/u1/notifications", "{}", 2), 3);
	CHECK(a.last == b.last && b.last == c.last && a.last != NULL);
	CHECK_EQ_INT(subs_deliver(s, "users/nobody/notifications", "{}", 2), 0);

	int n = 0;
	subs_each_topic(s, topics_seen, &n);
	CHECK_EQ_INT(n, 1);

	/* the last to leave unsubscribes */
	subs_leave(s, &b.m);
	subs_leave(s, &b.m); /* twice: no-op */
	subs_leave(s, &a.m);
	CHECK_EQ_INT(fb.nunsub, 0);
	subs_leave(s, &c.m);
	CHECK_EQ_INT(fb.nunsub, 1);
	CHECK_EQ_STR(fb.unsubscribed[0], "users/u1/notifications");
	CHECK_EQ_INT(lasts, 1);
	CHECK_EQ_INT(subs_deliver(s, "users/u1/notifications", "{}", 2), 0);

	/* a refused subscription tells its members */
	struct fake_member d = {.m.ops = &ops};
	CHECK_EQ_INT(subs_join(s, &d.m, "chats/c1/messages"), 0);
	subs_subscribed(s, fb.next_mid, 0x80);
	CHECK_EQ_INT(d.refused, 1);
	CHECK_EQ_INT(d.ready, 0);
	subs_leave(s, &d.m);

	/* the link down: no SUBSCRIBE until it is back, then one per topic */
	fb.up = false;
	int before = fb.nsub;
	struct fake_member e = {.m.ops = &ops}, f = {.m.ops = &ops};
	CHECK_EQ_INT(subs_join(s, &e.m, "users/u2/notifications"), 0);
	CHECK_EQ_INT(subs_join(s, &f.m, "users/u3/notifications"), 0);
	CHECK_EQ_INT(fb.nsub, before);
	/* a topic left while down is unsubscribed once the link is back */
	subs_leave(s, &f.m);
	int unsub_before = fb.nunsub;
	fb.up = true;
	subs_link_up(s);
	CHECK_EQ_INT(fb.nsub, before + 1);
	CHECK_EQ_STR(fb.subscribed[(fb.nsub - 1) % 8], "users/u2/notifications");
	CHECK_EQ_INT(fb.nunsub, unsub_before + 1);
	CHECK_EQ_STR(fb.unsubscribed[(fb.nunsub - 1) % 8], "users/u3/notifications");
	subs_subscribed(s, fb.next_mid, 1);
	CHECK_EQ_INT(e.ready, 1);
	/* down again: inactive, a late SUBACK of the old connection is ignored */
	subs_link_down(s);
	struct fake_member g = {.m.ops = &ops};
	CHECK_EQ_INT(subs_join(s, &g.m, "users/u2/notifications"), 0);
	CHECK_EQ_INT(g.ready, 0); /* not active any more */
	subs_link_up(s);
	subs_subscribed(s, fb.next_mid, 1);
	CHECK_EQ_INT(g.ready, 1);
	CHECK_EQ_INT(e.ready, 2); /* told again: a member ignores it */

	/* a topic too long for a subscription is refused */
	char huge[TOPICS_MAX + 8];
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	struct fake_member h = {.m.ops = &ops};
	CHECK_EQ_INT(subs_join(s, &h.m, huge), -1);
	CHECK(h.m.sub == NULL);

	subs_leave(s, &e.m);
	subs_leave(s, &g.m);
	subs_free(s);
	subs_free(NULL);
	return check_done("test_subs");
}
