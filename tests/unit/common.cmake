# The common floor: JWT verification, frame decoding/encoding, ids, hmap, topics,
# the command line and the config file, the log,
# the token bucket.
ringmq_unit(test_jwt ringmq_common)
ringmq_unit(test_frames ringmq_common)
ringmq_unit(test_ids ringmq_common)
ringmq_unit(test_topics ringmq_common)
ringmq_unit(test_options ringmq_common)
ringmq_unit(test_config ringmq_common)
ringmq_unit(test_log ringmq_common)
ringmq_unit(test_bucket ringmq_common)
ringmq_unit(test_revoked ringmq_common)
