# ldm txt2img over MPI (helper mpirun, issue #5): every process layout that
# fits 1-4 ranks against the 1-process run of the same request, on the tiny
# fixture model and on the shipped model; CLI errors for bad layouts.
add_executable(mpirun_compare ${CMAKE_CURRENT_LIST_DIR}/mpirun_compare.c)
target_link_libraries(mpirun_compare PRIVATE ldm_io ldm_core m)

set(LDM_MPIRUN_MODELS tiny=${LDM_FIXTURES}/tiny-ldm shapes=${PROJECT_SOURCE_DIR}/models/ldm-shapes)
foreach(entry ${LDM_MPIRUN_MODELS})
  string(REPLACE "=" ";" parts ${entry})
  list(GET parts 0 tag)
  list(GET parts 1 dir)
  foreach(np 1 2 3 4)
    add_test(NAME mpirun_txt2img_${tag}_np${np}
             COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/mpirun_txt2img.sh $<TARGET_FILE:ldm>
                     ${MPIEXEC_EXECUTABLE} ${np} $<TARGET_FILE:mpirun_compare> ${dir}
                     ${CMAKE_CURRENT_BINARY_DIR}/mpirun-${tag}-np${np})
    set_tests_properties(mpirun_txt2img_${tag}_np${np} PROPERTIES LABELS "mpi;cli"
                         PROCESSORS ${np} TIMEOUT 600 ENVIRONMENT "OMP_NUM_THREADS=1")
  endforeach()
endforeach()

# Bad layouts and one-rank failures: exit 1, one message naming the flag/rank.
foreach(np 1 2 3 4)
  add_test(NAME mpirun_errors_np${np}
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/mpirun_errors.sh $<TARGET_FILE:ldm>
                   ${MPIEXEC_EXECUTABLE} ${np} ${LDM_FIXTURES}/tiny-ldm
                   ${CMAKE_CURRENT_BINARY_DIR}/mpirun-errors-np${np})
  set_tests_properties(mpirun_errors_np${np} PROPERTIES LABELS "mpi;cli" PROCESSORS ${np}
                       TIMEOUT 300 ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()

# ldm sweep with groups and CFG branches against a 1-process sweep.
foreach(np 1 2 3 4)
  add_test(NAME mpirun_sweep_np${np}
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/mpirun_sweep.sh $<TARGET_FILE:ldm>
                   ${MPIEXEC_EXECUTABLE} ${np} $<TARGET_FILE:mpirun_compare> ${LDM_FIXTURES}/tiny-ldm
                   ${CMAKE_CURRENT_BINARY_DIR}/mpirun-sweep-np${np})
  set_tests_properties(mpirun_sweep_np${np} PROPERTIES LABELS "mpi;cli" PROCESSORS ${np}
                       TIMEOUT 600 ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()

# core/timers.h and the timer calls in kernels and mpi/.
ldm_mpi_test(mpirun_timers SOURCES ${CMAKE_CURRENT_LIST_DIR}/mpirun_timers.c LIBS ldm_kernels)
