# Ring self-attention over row strips (src/models/ring_attention.h): the ring
# against the single-rank attention, and the UNet with LDM_ATTENTION=ring
# against the unsplit UNet, at 1-4 ranks. As ldm_mpi_test, with every mpirun
# under `timeout` (a hung ring must not spin for the watchdog to kill).
find_program(LDM_TIMEOUT_EXECUTABLE timeout)
foreach(name test_ring_attention test_ring_unet)
  string(REPLACE "test_" "" src ${name})
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${src}.c)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE LDM_FIXTURES="${LDM_FIXTURES}"
                             LDM_TEST_TMP="${CMAKE_CURRENT_BINARY_DIR}/tmp-${name}")
  target_link_libraries(${name} PRIVATE ldm_models ldm_mpi ldm_core MPI::MPI_C m)
  foreach(np 1 2 3 4)
    if(LDM_TIMEOUT_EXECUTABLE)
      set(cmd ${LDM_TIMEOUT_EXECUTABLE} 150 ${LDM_MPIEXEC})
    else()
      set(cmd ${LDM_MPIEXEC})
    endif()
    add_test(NAME ${name}_np${np} COMMAND ${cmd} -n ${np} $<TARGET_FILE:${name}>)
    set_tests_properties(${name}_np${np} PROPERTIES LABELS "mpi" SKIP_RETURN_CODE 77
                         PROCESSORS ${np} TIMEOUT 180 ENVIRONMENT "OMP_NUM_THREADS=1")
  endforeach()
endforeach()

# tools/bench/bench_ring_attention.c: K/V allgather vs ring at real size
# (docs/parallelism.md §2.1); not a test. The
# smoke run keeps it working on a small latent.
add_executable(bench_ring_attention ${PROJECT_SOURCE_DIR}/tools/bench/bench_ring_attention.c)
target_link_libraries(bench_ring_attention PRIVATE ldm_models ldm_mpi ldm_core MPI::MPI_C m)
if(LDM_TIMEOUT_EXECUTABLE)
  add_test(NAME ring_bench_attention_smoke
           COMMAND ${LDM_TIMEOUT_EXECUTABLE} 150 ${LDM_MPIEXEC} -n 2
                   $<TARGET_FILE:bench_ring_attention> 8 8 32 4 2 1)
  set_tests_properties(ring_bench_attention_smoke PROPERTIES LABELS "mpi" PROCESSORS 2
                       TIMEOUT 180 ENVIRONMENT "OMP_NUM_THREADS=1")
endif()
