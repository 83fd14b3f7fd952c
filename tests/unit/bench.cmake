# The generator's pure parts (bench/): per-pair sequence bookkeeping.
if(TARGET bench_util)
  ringmq_unit(test_seqcheck bench_util)
endif()
