# Plugin wing: the broker ACL decision and the live-session table.
ringmq_unit(test_acl ringmq_acl)
