# Unit tests of the edge wing (bridge/edge): each pure part alone (the send
# queue, paths and origins, TURN credentials (ice), counted subscriptions over a
# fake broker), then the parts that need the others (inbox, ask, presence,
# metrics, the protocol's dispatch) over a real, never-connected link.
ringmq_unit(test_sendq ringmq_edge)
ringmq_unit(test_paths ringmq_edge)
ringmq_unit(test_subs ringmq_edge)
ringmq_unit(test_edge ringmq_edge)
ringmq_unit(test_httphead ringmq_edge)
ringmq_unit(test_ratemap ringmq_edge)
ringmq_unit(test_ice ringmq_edge)
