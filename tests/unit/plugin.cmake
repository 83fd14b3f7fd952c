# Plugin wing: the broker ACL decision, the live-session table, a phone's limits.
ringmq_unit(test_acl ringmq_acl)
