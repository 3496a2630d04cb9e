ldm_mpi_test(test_mpi_agree SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_agree.c)
