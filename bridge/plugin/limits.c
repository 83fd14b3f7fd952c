/* limits: counters over the caller's clocks; see limits.h. */
#include "limits.h"

#include "jwt.h"

void limits_init(struct limits *l, const struct limits_cfg *cfg, int64_t exp, int64_t leeway_s, int64_t now_ms)
{
	bucket_init(&l->bucket, cfg->burst, now_ms);
	l->refused_since_ms = 0;
	l->refused = 0;
	l->exp = exp > 0 ? exp : 0;
	l->leeway_s = leeway_s;
}

bool limits_take(struct limits *l, const struct limits_cfg *cfg, int64_t now_ms)
{
	return bucket_take(&l->bucket, cfg->rate, cfg->burst, now_ms);
}

bool limits_refused(struct limits *l, int64_t now_ms)
{
	if (l->refused == 0 || now_ms - l->refused_since_ms > LIMITS_REFUSED_WINDOW_MS) {
		l->refused_since_ms = now_ms;
		l->refused = 0;
	}
	return ++l->refused >= LIMITS_REFUSED_MAX;
}

bool limits_expired(const struct limits *l, int64_t now_s)
{
	return l->exp > 0 && jwt_expired(l->exp, l->leeway_s, now_s);
}
