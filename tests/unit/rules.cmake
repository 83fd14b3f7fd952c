# Unit tests of the rules wing (bridge/rules): the pure core (calls, router)
# and the parts over an in-memory SQLite (store, requests, signaling,
# the webhook outbox).
ringmq_unit(test_calls ringmq_rules_core)
ringmq_unit(test_router ringmq_rules_core)
ringmq_unit(test_router_signaling ringmq_rules_core)
ringmq_unit(test_store ringmq_rules_core)
ringmq_unit(test_requests ringmq_rules_core)
ringmq_unit(test_timers ringmq_rules_core)
ringmq_unit(test_msgid ringmq_rules_core)
ringmq_unit(test_webhooks ringmq_rules_core)
ringmq_unit(test_replay ringmq_rules_core)
ringmq_unit(test_rules_metrics ringmq_rules_core)
ringmq_unit(test_health ringmq_rules_core)
