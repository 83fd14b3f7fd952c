# Unit tests of the rules wing (bridge/rules): the pure core (calls, router)
# and the parts over an in-memory SQLite (store, requests, signaling,
# the webhook outbox), each store test on the store of storefix.h: SQLite
# in memory, or PostgreSQL with RINGMQ_TEST_PG (scripts/test, stage 4b).
add_library(ringmq_storefix STATIC storefix.c)
target_link_libraries(ringmq_storefix PUBLIC ringmq_rules_core)
ringmq_unit(test_calls ringmq_rules_core)
ringmq_unit(test_router ringmq_rules_core)
ringmq_unit(test_router_signaling ringmq_storefix)
ringmq_unit(test_store ringmq_storefix)
ringmq_unit(test_requests ringmq_storefix)
ringmq_unit(test_timers ringmq_storefix)
ringmq_unit(test_msgid ringmq_rules_core)
ringmq_unit(test_webhooks ringmq_storefix)
ringmq_unit(test_replay ringmq_storefix)
ringmq_unit(test_rules_metrics ringmq_rules_core)
ringmq_unit(test_health ringmq_rules_core)
ringmq_unit(test_phones ringmq_rules_core)
