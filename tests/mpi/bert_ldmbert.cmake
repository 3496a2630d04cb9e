# The distributed text encoder (src/models/ldmbert*.c: head/FFN split and
# PBLAS) against the single-process one, at 1, 2, 3 and 4 ranks.
ldm_mpi_test(bert_test_ldmbert SOURCES ${CMAKE_CURRENT_LIST_DIR}/bert_test_ldmbert.c
             LIBS ldm_models)
