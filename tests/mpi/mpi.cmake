# MPI tests run at 1, 2, 3 and 4 ranks with --oversubscribe.
set(LDM_MPIEXEC ${MPIEXEC_EXECUTABLE} --oversubscribe --allow-run-as-root)

# ldm_mpi_test(NAME SOURCES src... LIBS lib...): one ctest per rank count.
function(ldm_mpi_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;ARGS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE LDM_FIXTURES="${LDM_FIXTURES}")
  target_link_libraries(${name} PRIVATE ${T_LIBS} ldm_mpi ldm_core MPI::MPI_C)
  foreach(np 1 2 3 4)
    add_test(NAME ${name}_np${np}
             COMMAND ${LDM_MPIEXEC} -n ${np} $<TARGET_FILE:${name}> ${T_ARGS})
    set_tests_properties(${name}_np${np} PROPERTIES LABELS "mpi" SKIP_RETURN_CODE 77
                         PROCESSORS ${np} ENVIRONMENT "OMP_NUM_THREADS=1")
  endforeach()
endfunction()

ldm_mpi_test(test_mpi_agree SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_agree.c)
