# The distributed text encoder (src/models/ldmbert*.c: head/FFN split and
# PBLAS) against the single-process one, at 1, 2, 3 and 4 ranks.
ldm_mpi_test(bert_test_ldmbert SOURCES ${CMAKE_CURRENT_LIST_DIR}/bert_test_ldmbert.c
             LIBS ldm_models)

# tools/bench/bench_text_encoder.c: split vs PBLAS at real size (not a test:
# docs/parallelism.md §4 records its output); the smoke test runs it on the
# tiny config at 2 ranks.
add_executable(bench_text_encoder ${PROJECT_SOURCE_DIR}/tools/bench/bench_text_encoder.c)
target_link_libraries(bench_text_encoder PRIVATE ldm_models MPI::MPI_C m)
target_compile_definitions(bench_text_encoder PRIVATE LDM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_test(NAME bert_bench_text_encoder_smoke
         COMMAND ${LDM_MPIEXEC} -n 2 $<TARGET_FILE:bench_text_encoder>
                 ${LDM_FIXTURES}/tiny-ldm/bert both 1 2 8)
set_tests_properties(bert_bench_text_encoder_smoke PROPERTIES LABELS "mpi" PROCESSORS 2
                     ENVIRONMENT "OMP_NUM_THREADS=1")
