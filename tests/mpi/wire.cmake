# The channel/spatial model split wired into the pipeline (helper wire,
# issue #5): every decomposition that fits 1-4 ranks against the 1-process
# run, on the tiny fixture model and on models/ldm-shapes; sweeps and a
# checkpoint written under a grid resumed by one process. Every mpirun in
# the scripts runs under `timeout`.
set(LDM_WIRE_MODELS tiny=${LDM_FIXTURES}/tiny-ldm shapes=${PROJECT_SOURCE_DIR}/models/ldm-shapes)
foreach(entry ${LDM_WIRE_MODELS})
  string(REPLACE "=" ";" parts ${entry})
  list(GET parts 0 tag)
  list(GET parts 1 dir)
  foreach(np 1 2 3 4)
    add_test(NAME wire_txt2img_${tag}_np${np}
             COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/wire_txt2img.sh $<TARGET_FILE:ldm>
                     ${MPIEXEC_EXECUTABLE} ${np} $<TARGET_FILE:mpirun_compare> ${dir} ${tag}
                     ${CMAKE_CURRENT_BINARY_DIR}/wire-${tag}-np${np})
    set_tests_properties(wire_txt2img_${tag}_np${np} PROPERTIES LABELS "mpi;cli"
                         PROCESSORS ${np} TIMEOUT 600 ENVIRONMENT "OMP_NUM_THREADS=1")
  endforeach()
endforeach()

foreach(np 2 4)
  add_test(NAME wire_sweep_np${np}
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/wire_sweep.sh $<TARGET_FILE:ldm>
                   ${MPIEXEC_EXECUTABLE} ${np} $<TARGET_FILE:mpirun_compare> ${LDM_FIXTURES}/tiny-ldm
                   ${CMAKE_CURRENT_BINARY_DIR}/wire-sweep-np${np})
  set_tests_properties(wire_sweep_np${np} PROPERTIES LABELS "mpi;cli" PROCESSORS ${np}
                       TIMEOUT 600 ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()

# ldm info --grid's per-rank weight rule against the split models' counter.
ldm_mpi_test(wire_info SOURCES ${CMAKE_CURRENT_LIST_DIR}/wire_info.c
             ${PROJECT_SOURCE_DIR}/src/cli/info_grid.c LIBS ldm_models ldm_io)
target_include_directories(wire_info PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR})
target_compile_definitions(wire_info PRIVATE LDM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
foreach(np 1 2 3 4)
  set_tests_properties(wire_info_np${np} PROPERTIES TIMEOUT 300)
endforeach()

# The strip cuts and gathers of the pipeline (src/sample/pipeline_strips.c).
ldm_mpi_test(wire_strips SOURCES ${CMAKE_CURRENT_LIST_DIR}/wire_strips.c LIBS ldm_sample)
foreach(np 1 2 3 4)
  set_tests_properties(wire_strips_np${np} PROPERTIES TIMEOUT 120)
endforeach()
